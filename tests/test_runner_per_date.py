"""Per-date tables once per run: notebook 01 writes them, later notebooks read them back instead of
rebuilding, bit for bit what a fresh build gives; other dates, other parameters and notebooks that
did not declare a table build their own."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import worlds

from analysis import catalog
from analysis.data import features as feats
from analysis.data.sources import FeatureSource
from analysis.run import notebook as nb
from analysis.run.notebook import NotebookRun

QUALITY, SCORING, CLV = "01_data_quality", "03_scoring_and_weights", "02_clv"


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory):
    return worlds.calendar_terms(n_accounts=200, seed=21).write(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def run_dir(book_dir, tmp_path_factory):
    """A run folder after notebook 01: the snapshot and the per-date tables written."""
    folder = tmp_path_factory.mktemp("run")
    first = NotebookRun.open(QUALITY, book_dir, None, folder)
    first.snapshot()
    assert first.write_per_date_tables() == list(nb.PER_DATE_TABLES)
    return folder


def _keys(run: NotebookRun) -> dict[str, tuple]:
    return {
        nb.SNAPSHOT: ("features", run.as_of),
        "features_year_before": ("features", run.year_before),
        "outcomes_year_before": ("outcomes", run.year_before),
        "contract_features": ("contracts",),
    }


def _bit_identical(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_index_type=True, check_column_type=True)
    for column in expected.columns:  # NaN where NaN, and every float to the last bit
        if expected[column].dtype == np.float64:
            assert np.array_equal(got[column].to_numpy().view(np.int64), expected[column].to_numpy().view(np.int64))


def test_the_per_date_tables_are_declared_and_read_by_the_notebooks_that_use_them():
    for name in nb.PER_DATE_TABLES:
        assert catalog.writer_of(name) == QUALITY and not catalog.TABLES[name].csv
    readers = {
        name: {n for n, reads in catalog.READS.items() if name in reads} - {catalog.REPORT}
        for name in nb.PER_DATE_TABLES
    }
    assert readers == {
        "features_year_before": {SCORING, "04_churn_survival", "06_high_value_traits"},
        "outcomes_year_before": {SCORING, "04_churn_survival"},
        "contract_features": {SCORING, "04_churn_survival", "05_renewal_drivers"},
    }


def test_stored_tables_equal_a_fresh_build_bit_for_bit(book_dir, run_dir):
    later = NotebookRun.open(SCORING, book_dir, None, run_dir)
    f = later.params.features
    fresh = FeatureSource(
        later.book, later.as_of, f.subscription_margin, f.renewal_lead_days, f.renewal_lead_share_of_term
    )
    for name, key in _keys(later).items():
        stored = later.source.stored(key)
        assert stored is not None, name
        _bit_identical(stored, fresh.build(key))
    assert not list((run_dir / "tables").glob("features_year_before.csv"))  # inputs only: no CSV copy


def test_a_later_notebook_reads_and_does_not_rebuild(book_dir, run_dir, monkeypatch):
    later = NotebookRun.open(SCORING, book_dir, None, run_dir)

    def rebuilt(*args, **kwargs):
        raise AssertionError("rebuilt a per-date table that notebook 01 wrote")

    for builder in ("build_features", "build_outcomes", "build_contract_features"):
        monkeypatch.setattr(feats, builder, rebuilt)
    assert len(later.snapshot()) and len(later.features_at(later.year_before))
    assert len(later.outcomes_at(later.year_before))
    decided = later.contract_features(later.as_of)
    earlier = later.contract_features(later.year_before)  # filtered from the same table
    assert 0 < len(earlier) < len(decided) and (pd.to_datetime(earlier["end"]) < pd.Timestamp(later.year_before)).all()


def test_other_dates_parameters_and_undeclared_readers_build_their_own(book_dir, run_dir, monkeypatch):
    built: list[tuple] = []
    original = FeatureSource.build

    def counting(self, key):
        built.append(key)
        return original(self, key)

    monkeypatch.setattr(FeatureSource, "build", counting)
    later = NotebookRun.open(SCORING, book_dir, None, run_dir)
    other = later.as_of - dt.timedelta(days=200)
    later.features_at(other)
    assert built == [("features", other)]  # a date no notebook stored: built here ...
    later.features_at(other)
    assert len(built) == 1  # ... once
    changed = NotebookRun.open(SCORING, book_dir, None, run_dir, overrides={"features.subscription_margin": 0.5})
    changed.features_at(changed.year_before)
    assert built[-1] == ("features", changed.year_before)  # stored with another margin: not used
    clv = NotebookRun.open(CLV, book_dir, None, run_dir)  # 02 does not declare the table: no read
    clv.features_at(clv.year_before)
    assert built[-1] == ("features", clv.year_before)


def test_a_book_without_a_year_of_history_writes_what_it_can(tmp_path):
    young = worlds.calendar_terms(n_accounts=60, seed=3, data_start=dt.date(2025, 3, 1)).write(tmp_path / "book")
    first = NotebookRun.open(QUALITY, young, "2025-12-31", tmp_path / "run")
    written = first.write_per_date_tables()
    assert "features_year_before" not in written  # nobody was a customer a year before as-of
    later = NotebookRun.open(SCORING, young, "2025-12-31", tmp_path / "run")
    with pytest.raises(Exception, match="first seen before"):  # the reader gets the builder's own error
        later.features_at(later.year_before)


def test_a_notebook_process_runs_openblas_on_the_configured_threads(book_dir, tmp_path):
    import subprocess
    import sys

    # In a child process: the limit lasts for the rest of the notebook's process, so it would leak
    # into the other tests of this one.
    code = (
        "from threadpoolctl import threadpool_info\n"
        "from analysis.run.notebook import NotebookRun\n"
        f"NotebookRun.open('01_data_quality', {str(book_dir)!r}, None, {str(tmp_path)!r}, overrides={{OVERRIDE}})\n"
        "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n"
    )
    for threads in (1, 2):
        override = f"{{'pipeline': {{'blas_threads': {threads}}}}}"
        out = subprocess.run(
            [sys.executable, "-c", code.replace("{OVERRIDE}", override)], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == f"[{threads}]", out.stderr[-2000:]
