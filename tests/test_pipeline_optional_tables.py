"""A book with only the required tables runs the whole pipeline: analyses that need an absent
optional table say so in the report instead of crashing the run."""

import shutil

import pytest

from analysis.data.synth import generate_book
from analysis.report import i18n
from analysis.run.cli import main

REQUIRED_ONLY = ("accounts.parquet", "contracts.parquet", "orders.parquet", "extract.json")


@pytest.mark.slow
def test_pipeline_runs_without_optional_tables(tmp_path, capsys):
    full, book = tmp_path / "full", tmp_path / "book"
    generate_book(full, n_accounts=800, seed=5)
    book.mkdir()
    for name in REQUIRED_ONLY:
        shutil.copy(full / name, book / name)
    out = tmp_path / "reports"
    assert main(["run", "--data", str(book), "--out", str(out)]) == 0, capsys.readouterr().err
    runs = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    assert len(runs) == 1
    html = {p.stem: p.read_text(encoding="utf-8") for p in (runs[0] / "html").glob("*.html")}
    assert len(html) == len(list((runs[0] / "notebooks").glob("*.ipynb")))
    # The data-quality notebook names each absent optional table.
    for table in ("usage", "tickets", "surveys", "engagements"):
        assert (
            f"optional table &#x27;{table}&#x27; is absent" in html["01_data_quality"]
            or f"optional table '{table}' is absent" in html["01_data_quality"]
        ), table
    # No health inputs at all: the report says there is no health score instead of showing 0% bands.
    report = html["07_manager_report"]
    assert i18n.t("why_no_health") in report.replace("&#x27;", "'")
