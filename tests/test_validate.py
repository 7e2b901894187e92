"""Every bad-input class of the data contract gives a clear problem, all reported at once."""

import shutil

import pandas as pd
import pytest

from analysis.data.contract import TABLES
from analysis.data.io import load_book
from analysis.data.synth import generate_book
from analysis.data.validate import validate_book
from analysis.errors import ValidationFailed
from analysis.params import defaults
from analysis.run.cli import main


@pytest.fixture(scope="module")
def tiny_csv_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    generate_book(path, n_accounts=40, seed=3, fmt="csv")
    return path


@pytest.fixture
def book_copy(tiny_csv_book, tmp_path):
    target = tmp_path / "book"
    shutil.copytree(tiny_csv_book, target)
    return target


def edit(folder, table, change):
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = change(frame)
    frame.to_csv(path, index=False)


def checks(folder):
    report = validate_book(load_book(folder), defaults().validation)
    return report, {(p.table, p.column, p.check) for p in report.problems}


def test_clean_book_passes(tiny_csv_book):
    report, _found = checks(tiny_csv_book)
    assert report.ok, report.to_text()
    assert "OK" in report.to_text()


def test_missing_required_table(book_copy):
    (book_copy / "contracts.csv").unlink()
    _, found = checks(book_copy)
    assert ("contracts", None, "missing table") in found


def test_missing_optional_table_is_a_note_not_a_problem(book_copy):
    (book_copy / "usage.csv").unlink()
    report, _ = checks(book_copy)
    assert report.ok
    assert any("usage" in note for note in report.notes)


def test_missing_column(book_copy):
    edit(book_copy, "orders", lambda f: f.drop(columns=["amount"]))
    report, found = checks(book_copy)
    assert ("orders", "amount", "missing column") in found
    assert "columns found" in report.to_text()


def test_wrong_type_with_examples(book_copy):
    edit(book_copy, "orders", lambda f: f.assign(amount=f["amount"].where(f.index % 5 != 0, "twelve")))
    report, _found = checks(book_copy)
    problem = next(p for p in report.problems if p.check == "wrong type")
    assert (problem.table, problem.column) == ("orders", "amount")
    assert problem.count == len(range(0, len(pd.read_csv(book_copy / "orders.csv")), 5))
    assert problem.examples and problem.examples[0]["amount"] == "twelve"


def test_duplicate_keys(book_copy):
    edit(book_copy, "accounts", lambda f: pd.concat([f, f.iloc[:2]]))
    report, _found = checks(book_copy)
    problem = next(p for p in report.problems if p.check == "duplicate key")
    assert problem.table == "accounts" and problem.count == 4


def test_unknown_account_in_child_rows(book_copy):
    edit(book_copy, "tickets", lambda f: f.assign(account_id=f["account_id"].where(f.index > 2, "NOPE")))
    report, _found = checks(book_copy)
    problem = next(p for p in report.problems if p.check == "unknown account")
    assert problem.table == "tickets" and problem.count == 3


def test_end_before_start(book_copy):
    edit(book_copy, "contracts", lambda f: f.assign(end=f["end"].where(f.index != 0, "2000-01-01")))
    _report, found = checks(book_copy)
    assert ("contracts", None, "end not before start") in found


def test_negative_amounts(book_copy):
    edit(book_copy, "orders", lambda f: f.assign(amount=f["amount"].where(f.index != 1, "-5")))
    report, _found = checks(book_copy)
    problem = next(p for p in report.problems if p.table == "orders" and p.column == "amount")
    assert problem.count == 1 and "negative" in problem.message


def test_dates_after_the_extract(book_copy):
    edit(book_copy, "surveys", lambda f: f.assign(date=f["date"].where(f.index != 0, "2030-01-01")))
    _report, found = checks(book_copy)
    assert ("surveys", "date", "not after the extract date") in found


def test_empty_required_table(book_copy):
    edit(book_copy, "orders", lambda f: f.iloc[:0])
    _, found = checks(book_copy)
    assert ("orders", None, "empty table") in found


def test_all_problems_reported_at_once_and_cli_exits_2_writing_nothing(book_copy, tmp_path, capsys):
    edit(book_copy, "orders", lambda f: f.assign(amount=f["amount"].where(f.index != 1, "-5")))
    edit(book_copy, "tickets", lambda f: f.assign(account_id="NOPE"))
    (book_copy / "contracts.csv").unlink()
    before = sorted(p.name for p in book_copy.rglob("*"))
    assert main(["validate", str(book_copy)]) == 2
    out = capsys.readouterr().out
    assert "orders.amount" in out and "tickets.account_id" in out and "contracts" in out
    assert sorted(p.name for p in book_copy.rglob("*")) == before
    with pytest.raises(ValidationFailed, match="problem"):
        validate_book(load_book(book_copy), defaults().validation).raise_if_failed()


# --- warnings, capacity and the SQL checks (tiny books from tests/worlds.py) ------------------------


def _validate(folder, **section):
    params = defaults().validation
    return validate_book(load_book(folder), params.updated(**section) if section else params)


def test_warnings_do_not_fail_validation_and_keep_their_severity(tmp_path):
    import worlds
    from bad_inputs import world, write

    from analysis.data.validate import ValidationReport

    book = worlds.with_reexported_orders(world(), share=0.2, seed=1)
    report = _validate(write(tmp_path / "book", book))
    assert report.ok and not report.errors
    (warning,) = report.warnings
    assert (warning.table, warning.check, warning.severity) == ("orders", "probable duplicates", "warning")
    assert warning.count == len(book.truth["reexported_orders"])  # every copy, and only the copies
    assert {e["order_id"] for e in warning.examples} & set(book.truth["reexported_orders"])
    frame = report.to_frame()
    assert frame.loc[0, "severity"] == "warning" and frame.loc[0, "count"] == warning.count
    report.save(tmp_path / "run")
    assert ValidationReport.load(tmp_path / "run").warnings[0].severity == "warning"


def test_contradictory_histories_are_counted_with_examples(tmp_path):
    import worlds
    from bad_inputs import world, write

    book = worlds.with_contradictory_history(world(), n=3)
    (warning,) = _validate(write(tmp_path / "book", book)).warnings
    planted = {c["not_renewed_contract"] for c in book.truth["contradictions"]}
    assert warning.check == "contradictory history" and warning.count == len(planted) == 3
    assert {e["contract_id"] for e in warning.examples} == planted
    assert {e["later_contract"] for e in warning.examples} == {
        c["later_contract"] for c in book.truth["contradictions"]
    }


def test_a_clean_world_has_no_warnings(tmp_path):
    from bad_inputs import write

    report = _validate(write(tmp_path / "book"))
    assert report.ok and not report.warnings, report.to_text()
    assert report.capacity_frame()["supported"].all()


def test_capacity_states_what_each_analysis_needs_and_has(tmp_path):
    from bad_inputs import write

    folder = write(tmp_path / "book")
    report = _validate(folder, min_churned_accounts=10_000)
    assert report.ok
    (warning,) = report.warnings
    assert warning.check == "capacity" and warning.message.startswith("churn survival (04_churn_survival)")
    capacity = report.capacity_frame().set_index("analysis")
    assert not capacity.loc["churn survival", "supported"]
    assert capacity.drop(index="churn survival")["supported"].all()
    assert "10,000 churned accounts (validation.min_churned_accounts)" in capacity.loc["churn survival", "needs"]
    small = _validate(folder, min_accounts=31)  # the book has 30 accounts
    (error,) = small.errors
    assert error.check == "book too small" and "at least 31 accounts" in error.message
    assert small.capacity_frame().set_index("analysis")["supported"].to_dict() == {
        name: name == "data quality" for name in capacity.index
    }


def test_padding_is_blamed_on_the_table_that_has_it(tmp_path):
    from bad_inputs import edit_csv, write

    folder = write(tmp_path / "book", fmt="csv")
    edit_csv(
        folder, "tickets", lambda f: f.assign(account_id=f["account_id"].where(f.index > 1, f["account_id"] + " "))
    )
    found = {(p.table, p.column, p.check): p for p in _validate(folder).problems}
    assert set(found) == {("tickets", "account_id", "padded id")}
    assert found[("tickets", "account_id", "padded id")].count == 2


def test_value_rules_on_typed_parquet_columns(tmp_path):
    from bad_inputs import write

    folder = write(tmp_path / "book")
    usage = pd.read_parquet(folder / "usage.parquet")
    usage.loc[usage.index[:2], "feature_adoption"] = [1.5, float("nan")]
    usage.loc[usage.index[2], "meeting_minutes"] = float("-inf")
    usage.loc[usage.index[3], "logins"] = -3
    import pyarrow as pa
    import pyarrow.parquet as pq

    # NaN written as a value (not a null), as exports from numeric tools do
    columns = {c: pa.array(usage[c], from_pandas=c != "feature_adoption") for c in usage.columns}
    pq.write_table(pa.table(columns), folder / "usage.parquet")
    found = {(p.column, p.check): p.count for p in _validate(folder).problems}
    assert found == {
        ("feature_adoption", "<= 1"): 1,
        ("feature_adoption", "not finite"): 1,
        ("meeting_minutes", "not finite"): 1,
        ("logins", ">= 0"): 1,
    }


def test_an_empty_required_table_is_an_error_an_empty_optional_one_a_warning(tmp_path):
    from bad_inputs import edit_csv, write

    folder = write(tmp_path / "book", fmt="csv")
    edit_csv(folder, "contracts", lambda f: f.iloc[:0])
    edit_csv(folder, "surveys", lambda f: f.iloc[:0])
    problems = {(p.table, p.check): p.severity for p in _validate(folder).problems}
    assert problems[("contracts", "empty table")] == "error" and problems[("surveys", "empty table")] == "warning"


def test_a_file_that_breaks_while_scanned_is_named(tmp_path):
    from bad_inputs import write

    from analysis.errors import DataContractError

    folder = write(tmp_path / "book")
    path = folder / "usage.parquet"
    data = bytearray(path.read_bytes())
    data[200:3000] = b"\x00" * 2800  # page data destroyed, footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(DataContractError, match="usage.*usage.parquet.*Export the file again"):
        _validate(folder)


def _sent_queries(book) -> list[str]:
    """The queries validation sends from now on (the DuckDB engine's connection, counted)."""
    queries = []

    class Counting:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            attr = getattr(self._con, name)
            if name in ("execute", "sql"):
                return lambda query, *a, **k: (queries.append(query), attr(query, *a, **k))[1]
            return attr

    book.engine.con = Counting(book.engine.con)  # the DuckDB engine's connection
    return queries


def test_validation_is_a_few_scans_per_table(tmp_path):
    """Every rule of a table is counted in one query (plus one for its key): no query per rule."""
    from bad_inputs import write

    book = load_book(write(tmp_path / "book"))
    queries = _sent_queries(book)
    validate_book(book, defaults().validation)
    on_usage = [q for q in queries if "raw_usage" in q or '"usage"' in q]
    assert len(on_usage) <= 2, on_usage
    assert len(queries) <= 4 * len(book.tables), len(queries)


# Queries over several tables, whatever the book: probable duplicates of orders and of contracts,
# contradictory histories, and the capacity counts.
CROSS_TABLE_QUERIES = 4


def test_a_clean_book_is_one_scan_per_table_and_one_per_key(tmp_path):
    """On a clean book each table is read by one query counting every rule (unknown accounts
    included) and, if it has a key, one grouping by the key; examples and hints are fetched only
    for a check that found rows."""
    from bad_inputs import write

    book = load_book(write(tmp_path / "book"))
    queries = _sent_queries(book)
    report = validate_book(book, defaults().validation)
    assert report.ok and not report.problems, report.to_text()
    keyed = [table for table in book.tables if TABLES[table].key]
    for table in book.tables:
        reading = [q for q in queries if f'"raw_{table}"' in q]
        assert len(reading) == 1 + (table in keyed), (table, reading)
    assert len(queries) == len(book.tables) + len(keyed) + CROSS_TABLE_QUERIES, queries


def test_follow_up_queries_only_for_the_checks_that_found_rows(tmp_path):
    from bad_inputs import edit_csv, write

    folder = write(tmp_path / "book", fmt="csv")
    edit_csv(folder, "orders", lambda f: f.assign(amount=f["amount"].where(f.index != 1, "-5")))
    edit_csv(folder, "usage", lambda f: pd.concat([f, f.iloc[:2]]))  # two rows repeat a key
    book = load_book(folder)
    queries = _sent_queries(book)
    report = validate_book(book, defaults().validation)
    found = {(p.table, p.check): p for p in report.problems}
    assert set(found) == {("orders", ">= 0"), ("usage", "duplicate key")}, report.to_text()
    assert found["orders", ">= 0"].count == 1 and found["usage", "duplicate key"].count == 4
    assert [e["account_id"] for e in found["usage", "duplicate key"].examples][:1] == [
        pd.read_csv(folder / "usage.csv", dtype=str)["account_id"][0]
    ]
    keyed = [table for table in book.tables if TABLES[table].key]
    assert len(queries) == len(book.tables) + len(keyed) + CROSS_TABLE_QUERIES + 2  # examples of each failing check


def test_missing_child_ids_are_not_unknown_accounts(book_copy):
    """A missing account_id is a missing value, not an unknown account (NOT IN semantics: the
    join that counts unknown ids in the one scan also finds the missing ones; the follow-up that
    counts exactly drops them again)."""
    edit(book_copy, "tickets", lambda f: f.assign(account_id=f["account_id"].where(f.index > 1, "")))
    edit(book_copy, "surveys", lambda f: f.assign(account_id=f["account_id"].where(f.index > 1, "")))
    edit(book_copy, "surveys", lambda f: f.assign(account_id=f["account_id"].where(f.index != 2, "NOPE")))
    report, _found = checks(book_copy)
    counts = {(p.table, p.check): p.count for p in report.problems}
    assert counts[("tickets", "missing value")] == 2 and ("tickets", "unknown account") not in counts
    assert counts[("surveys", "missing value")] == 2 and counts[("surveys", "unknown account")] == 1
