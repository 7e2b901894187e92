"""Which ready notebook starts first: the longest expected path to the end of the run, from the
last run's seconds; without history, the catalog's order."""

from __future__ import annotations

import json

from analysis import catalog
from analysis.run import runs
from analysis.run.schedule import critical_path_order

NOTEBOOKS = sorted(catalog.READS)
# Seconds of a default run on the 2-core machine (two notebooks side by side).
LAST_RUN = {
    "01_data_quality": 7.2,
    "02_clv": 4.1,
    "03_scoring_and_weights": 9.0,
    "04_churn_survival": 10.4,
    "05_renewal_drivers": 15.1,
    "06_high_value_traits": 15.2,
    "07_manager_report": 5.6,
}


def test_without_history_the_catalog_order_is_kept():
    deps = catalog.dependencies(NOTEBOOKS)
    assert critical_path_order(NOTEBOOKS, deps, {}) == NOTEBOOKS


def test_the_slower_of_two_ready_notebooks_starts_first():
    deps = catalog.dependencies(NOTEBOOKS)
    order = critical_path_order(NOTEBOOKS, deps, LAST_RUN)
    # 04 and 06 both wait for 03; 06 took longer, so it must not wait for a slot behind 04.
    assert order.index("06_high_value_traits") < order.index("04_churn_survival")
    # A notebook always comes after every notebook it reads from (its path includes theirs).
    for name, needs in deps.items():
        assert all(order.index(d) < order.index(name) for d in needs), name
    swapped = {**LAST_RUN, "04_churn_survival": 20.0}
    order = critical_path_order(NOTEBOOKS, deps, swapped)
    assert order.index("04_churn_survival") < order.index("06_high_value_traits")


def test_the_expected_seconds_come_from_the_last_runs_manifest(tmp_path):
    run = tmp_path / "2026-01-01T000000_asof-2026-01-01"
    run.mkdir()
    notebooks = [{"name": n, "status": "ok", "seconds": s} for n, s in LAST_RUN.items()]
    notebooks[0]["status"] = "failed"
    (run / runs.MANIFEST).write_text(json.dumps({"notebooks": notebooks}), encoding="utf-8")
    seconds = runs.notebook_seconds(run)
    assert seconds == {n: s for n, s in LAST_RUN.items() if n != "01_data_quality"}
    (run / runs.MANIFEST).write_text("{not json", encoding="utf-8")
    assert runs.notebook_seconds(run) == {} and runs.notebook_seconds(None) == {}
