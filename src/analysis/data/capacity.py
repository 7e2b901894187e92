"""What the book is large enough for: per analysis, what it needs (``params.validation``) and what
the book has. Below ``min_accounts`` no model section can give a meaningful result and the run
stops before any notebook (exit 2, saying which sections would still run); an analysis short of
its own minimum gets a warning (too little for a reliable estimate)."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.data.io import Book
from analysis.data.validate import ERROR, WARNING, Problem

COUNTS_SQL = """
WITH latest AS (
  SELECT account_id, max("end") AS last_end FROM contracts GROUP BY account_id
), lapsed AS (
  SELECT k.account_id, bool_and(k.renewal_outcome = 'not_renewed') AS lapsed
  FROM contracts k JOIN latest m ON m.account_id = k.account_id AND m.last_end = k."end"
  GROUP BY k.account_id
)
SELECT
  (SELECT count(*) FROM accounts) AS accounts,
  (SELECT count(DISTINCT account_id) FROM contracts WHERE start <= {ext} AND "end" >= {ext}) AS active_accounts,
  (SELECT coalesce(sum(annual_value), 0) FROM contracts WHERE start <= {ext} AND "end" >= {ext}) AS arr,
  (SELECT count(*) FROM contracts WHERE renewal_outcome = 'renewed') AS renewed,
  (SELECT count(*) FROM contracts WHERE renewal_outcome = 'not_renewed') AS not_renewed,
  (SELECT count(*) FROM lapsed WHERE lapsed) AS churned,
  {repeat_buyers} AS repeat_buyers
"""
REPEAT_BUYERS_SQL = (
    "(SELECT count(*) FROM (SELECT account_id FROM orders GROUP BY account_id HAVING count(DISTINCT date) >= 2) AS r)"
)


@dataclass(frozen=True)
class Need:
    analysis: str
    notebook: str
    table: str  # the table the count comes from (named in the warning)
    has: str  # the count compared, a key of book_counts()
    minimum: str  # the threshold's name in params.validation
    what: str  # the count in words


def _renewals(analysis: str, notebook: str) -> list[Need]:
    return [
        Need(analysis, notebook, "contracts", "decisions", "min_decisions", "renewal decisions"),
        Need(analysis, notebook, "contracts", "fewer_outcome", "min_each_outcome", "decisions of the rarer outcome"),
    ]


REPEAT_ORDERS = Need(
    "customer value of repeat orders", "02_clv", "orders", "repeat_buyers", "min_repeat_buyers", "repeat buyers"
)


def needs(orders: bool) -> list[Need]:
    """What each analysis needs, in the order of the report's sections (repeat orders only with orders)."""
    return [
        *([REPEAT_ORDERS] if orders else []),
        *_renewals("customer value of contract renewals", "02_clv"),
        Need("scores and tiers", "03_scoring_and_weights", "accounts", "accounts", "min_accounts", "accounts"),
        *_renewals("score weights calibrated on renewals", "03_scoring_and_weights"),
        Need("churn survival", "04_churn_survival", "contracts", "churned", "min_churned_accounts", "churned accounts"),
        *_renewals("renewal drivers", "05_renewal_drivers"),
        Need("high-value segments", "06_high_value_traits", "accounts", "accounts", "min_accounts", "accounts"),
    ]


def book_counts(book: Book) -> dict[str, float]:
    ext = f"DATE '{book.extract_date.isoformat()}'"
    repeat = REPEAT_BUYERS_SQL if book.has("orders") else "0"
    row = book.sql(COUNTS_SQL.format(ext=ext, repeat_buyers=repeat)).iloc[0]
    counts = {k: float(v) for k, v in row.items()}
    counts["decisions"] = counts["renewed"] + counts["not_renewed"]
    counts["fewer_outcome"] = min(counts["renewed"], counts["not_renewed"])
    return counts


def assess(book: Book, section) -> tuple[list[dict], list[Problem]]:
    """(one row per analysis: supported, has, needs; the problems: an error when the book is too
    small for every model, else a warning per analysis short of its minimum)."""
    counts = book_counts(book)
    floor = section.min_accounts
    too_small = counts["accounts"] < floor
    rows: dict[str, dict] = {
        "data quality": {
            "analysis": "data quality",
            "notebook": "01_data_quality",
            "supported": True,
            "has": f"{counts['accounts']:,.0f} accounts",
            "needs": "any rows",
        }
    }
    short: dict[str, list[str]] = {}
    table_of: dict[str, str] = {}
    for need in needs(book.has("orders")):
        minimum = getattr(section, need.minimum)
        has = counts[need.has]
        row = rows.setdefault(
            need.analysis,
            {"analysis": need.analysis, "notebook": need.notebook, "supported": True, "has": [], "needs": []},
        )
        row["has"].append(f"{has:,.0f} {need.what}")
        row["needs"].append(f"{minimum:,} {need.what} (validation.{need.minimum})")
        if has < minimum or too_small:
            row["supported"] = False
            short.setdefault(need.analysis, []).append(f"{has:,.0f} {need.what}, needs {minimum:,}")
            table_of.setdefault(need.analysis, need.table)
    for row in rows.values():
        for key in ("has", "needs"):
            if isinstance(row[key], list):
                row[key] = "; ".join(dict.fromkeys(row[key]))
    if too_small:
        return list(rows.values()), [_too_small(counts, floor, rows)]
    problems = [
        Problem(
            table_of[analysis],
            None,
            "capacity",
            len(reasons),
            f"{analysis} ({rows[analysis]['notebook']}): {'; '.join(reasons)}. Too little for a reliable estimate: "
            f"read that section with care (it may report the model as not estimated)",
            severity=WARNING,
        )
        for analysis, reasons in short.items()
    ]
    return list(rows.values()), problems


def _too_small(counts: dict[str, float], floor: int, rows: dict[str, dict]) -> Problem:
    runs = [r["analysis"] for r in rows.values() if r["supported"]]
    cannot = [f"{r['analysis']} ({r['notebook']})" for r in rows.values() if not r["supported"]]
    message = (
        f"the book is too small for the models: {counts['accounts']:,.0f} account(s) "
        f"({counts['active_accounts']:,.0f} with a contract active at the extract date, ARR {counts['arr']:,.0f}), "
        f"{counts['decisions']:,.0f} renewal decisions, {counts['churned']:,.0f} churned accounts; every model "
        f"needs at least {floor:,} accounts (validation.min_accounts). The run stops before any notebook. "
        f"What still runs on this book: {', '.join(runs)} (analysis validate; notebook 01 in JupyterLab). "
        f"What needs more history: {', '.join(cannot)}. Add the other accounts' history to the extract, or "
        f"lower validation.min_accounts to try the models anyway"
    )
    return Problem("accounts", None, "book too small", int(counts["accounts"]), message, severity=ERROR)
