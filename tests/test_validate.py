"""Every bad-input class of the data contract gives a clear problem, all reported at once."""

import shutil

import pandas as pd
import pytest

from analysis.data.io import load_book
from analysis.data.synth import generate_book
from analysis.data.validate import validate_book
from analysis.errors import ValidationFailed
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
    report = validate_book(load_book(folder))
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
        validate_book(load_book(book_copy)).raise_if_failed()
