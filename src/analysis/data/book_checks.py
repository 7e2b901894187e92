"""Checks across rows that no single contract rule catches, reported as warnings with counts and
examples: orders or contracts exported twice under new ids, contradictory renewal histories, and
ids stored as numbers. Each is portable SQL over the typed views (DuckDB and Spark)."""

from __future__ import annotations

from analysis.data.contract import TABLES
from analysis.data.io import Book, quote
from analysis.data.validate import MAX_EXAMPLES, WARNING, Problem, records

# Tables whose rows carry money: a row repeated under a new id counts its money twice.
REEXPORT_TABLES = ("orders", "contracts")


def book_warnings(book: Book) -> list[Problem]:
    problems = [p for table in REEXPORT_TABLES if book.has(table) for p in probable_duplicates(book, table)]
    return problems + contradictory_history(book)


def probable_duplicates(book: Book, table: str) -> list[Problem]:
    """Rows equal in every column but the key (same account, date, amount, ...): probably exported
    twice under new ids. A warning, since two equal purchases on one day can be real."""
    spec = TABLES[table]
    (key,) = spec.key
    same = [c for c in book.tables[table] if c != key]
    cols = ", ".join(quote(c) for c in same)
    groups = f"SELECT {cols}, count(*) AS n FROM {quote(table)} GROUP BY {cols} HAVING count(*) > 1"
    total, extra, n_groups = book.engine.rows(
        f"SELECT (SELECT count(*) FROM {quote(table)}), coalesce(sum(n - 1), 0), count(*) FROM ({groups}) AS g"
    )[0]
    if not extra:
        return []
    copies = f"SELECT *, count(*) OVER (PARTITION BY {cols}) AS copies FROM {quote(table)}"
    examples = records(
        book.sql(
            f"SELECT * EXCLUDE (copies) FROM ({copies}) AS c WHERE copies > 1 ORDER BY {cols}, {quote(key)} "
            f"LIMIT {MAX_EXAMPLES}"
        )
    )
    described = ", ".join(same)
    message = (
        f"{extra:,} {table} ({extra / total:.1%} of {total:,}) repeat another row's {described} under a different "
        f"{key} ({n_groups:,} groups of equal rows): probably exported twice. They count as separate "
        f"{table} in revenue and CLV; remove the copies if they are duplicates"
    )
    return [Problem(table, None, "probable duplicates", int(extra), message, examples, severity=WARNING)]


CONTRADICTIONS_SQL = """
SELECT k.contract_id, k.account_id, k.product_line, k."end",
  min(l.start) AS later_start, min(l.contract_id) AS later_contract
FROM contracts k JOIN contracts l
  ON l.account_id = k.account_id AND l.product_line = k.product_line AND l.start > k.start
  AND l.contract_id <> k.contract_id
WHERE k.renewal_outcome = 'not_renewed'
GROUP BY k.contract_id, k.account_id, k.product_line, k."end"
"""


def contradictory_history(book: Book) -> list[Problem]:
    """``not_renewed`` contracts followed by a later contract of the same account and product line.

    The features read them by one rule (docs/data_contract.md, "Contradictory histories"): the
    not_renewed term is a non-renewal at its end; the later contract is a return, and the account's
    churn follows its latest contract. Those that restart within a day look like renewals recorded
    as not_renewed."""
    (count, prompt, accounts) = book.engine.rows(
        f"""SELECT count(*), count(*) FILTER (WHERE later_start <= "end" + 1), count(DISTINCT account_id)
            FROM ({CONTRADICTIONS_SQL}) AS c"""
    )[0]
    if not count:
        return []
    examples = records(
        book.sql(f'SELECT * FROM ({CONTRADICTIONS_SQL}) AS c ORDER BY account_id, "end" LIMIT {MAX_EXAMPLES}')
    )
    message = (
        f"{count:,} not_renewed contracts ({accounts:,} accounts) are followed by a later contract of the same "
        f"account and product line. Read by one rule: a non-renewal at the end of that term, then a return "
        f"(the account is active again and has not churned; churn follows its latest contract). "
        f"{prompt:,} of them restart within a day of the end: renewals recorded as not_renewed? Correct "
        f"renewal_outcome in the export if so"
    )
    return [Problem("contracts", "renewal_outcome", "contradictory history", int(count), message, examples, WARNING)]


def stored_as_numbers(book: Book) -> list[str]:
    """Notes for ids stored as numbers (read as text; their leading zeros, if any, are already gone)."""
    notes = []
    for table, types in book.raw_types.items():
        for col in TABLES[table].columns:
            stored = types.get(col.name, "VARCHAR").upper()
            if col.is_identifier and stored != "VARCHAR":
                notes.append(
                    f"{table}.{col.name} is stored as numbers ({stored}); it is read as text (123, not 123.0). "
                    f"If your ids have leading zeros (00123), export them as text: numbers cannot keep them"
                )
    return notes
