"""No shipped default names a column outside the data contract (issue 13.1).

Every column named by the shipped parameters (survival, drivers, segments, scoring criteria,
health components and warning rules) must be a contract column (analysis.data.contract) or a
feature the package derives (built here on a small contract-valid book from tests/worlds.py, which
has no synthetic-only column). The synthetic book's own extras (noise_1, noise_2) belong to tests
that pass them explicitly. A whole pipeline run on such a book exits 0 (slow tier).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
import worlds

from analysis.data import contract
from analysis.data import features as feats
from analysis.data.io import load_book
from analysis.params import defaults


@pytest.fixture(scope="module")
def known_columns(tmp_path_factory):
    book = load_book(worlds.calendar_terms(n_accounts=60, seed=1).write(tmp_path_factory.mktemp("world")))
    as_of = dt.date(2025, 6, 1)
    derived = set(feats.build_features(book, as_of, 0.8).reset_index().columns)
    derived |= set(feats.build_contract_features(book, 90, 0.8).reset_index().columns)
    return derived | {c.name for t in contract.TABLES.values() for c in t.columns}


def _named_by_defaults() -> dict[str, set[str]]:
    p = defaults()
    sv, dr, sg, sc = p.survival, p.drivers, p.segments, p.scoring
    return {
        "survival": {*sv.numeric, *sv.categorical, *sv.reference_levels, *sv.log_columns, *sv.km_groups},
        "drivers": {*(dr.factors if dr.factors != "auto" else []), *dr.categorical, *dr.reference_levels, *dr.log1p}
        | set(dr.stability_by),
        "segments": {*sg.features, *sg.log_features, *sg.rule_features, sg.value_column},
        "scoring.criteria": set(sc.criteria),
        "scoring.health": set(sc.health.components),
        "scoring.warnings": {rule.column for rule in sc.warnings},
    }


@pytest.mark.parametrize("section", list(_named_by_defaults()))
def test_every_shipped_column_name_is_in_the_contract_or_derived(section, known_columns):
    unknown = sorted(_named_by_defaults()[section] - known_columns)
    assert not unknown, f"{section} names columns outside the data contract and the derived features: {unknown}"


@pytest.mark.slow
def test_whole_pipeline_runs_on_an_independent_book(tmp_path):
    book = worlds.calendar_terms(n_accounts=400, seed=1).write(tmp_path / "book")
    done = subprocess.run(
        [sys.executable, "-m", "analysis.run.cli", "run", "--data", str(book), "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
