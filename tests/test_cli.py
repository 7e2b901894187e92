"""Command line: bad input exits 2 and writes nothing; sample and validate work from the CLI."""

import shutil

import pandas as pd

from analysis.run.cli import main


def test_run_on_invalid_data_exits_2_and_writes_nothing(small_book_dir, tmp_path, capsys):
    book = tmp_path / "book"
    shutil.copytree(small_book_dir, book)
    orders = pd.read_parquet(book / "orders.parquet")
    orders.loc[orders.index[:3], "amount"] = -1.0
    orders.to_parquet(book / "orders.parquet", index=False)
    out = tmp_path / "reports"
    assert main(["run", "--data", str(book), "--out", str(out)]) == 2
    assert "orders.amount" in capsys.readouterr().err
    assert not out.exists()


def test_run_with_a_bad_as_of_exits_2(small_book_dir, tmp_path):
    assert main(["run", "--data", str(small_book_dir), "--out", str(tmp_path / "r"), "--as-of", "last tuesday"]) == 2
    assert not (tmp_path / "r").exists()


def test_sample_then_validate(tmp_path, capsys):
    assert main(["sample", "--accounts", "30", "--seed", "5", "--out", str(tmp_path / "b")]) == 0
    assert main(["validate", str(tmp_path / "b")]) == 0
    assert "OK" in capsys.readouterr().out


def test_set_overrides_are_parsed_as_yaml():
    from analysis.params import parse_overrides

    assert parse_overrides(["segments.k=4", "language=zh", "a.b.c=[1, 2]"]) == {
        "segments": {"k": 4},
        "language": "zh",
        "a": {"b": {"c": [1, 2]}},
    }
