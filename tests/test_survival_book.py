"""Recovery of the planted churn truth on the synthetic book (the default sample, 5,000 accounts, seed 42,
for the recovery checks: a 1,500-account book leaves noise columns one chance false alarm away).

Estimand. The book plants a *logit* hazard at each renewal: P(leave | reached renewal, x at the
cut-off) = expit(-(intercept + beta'x)), and ground_truth.json gives the log hazard ratios as -beta.
The exact model for that is the discrete-time hazard model (Cox's logistic model for grouped
times), so the "planted effect inside the 95% interval" check is made with it, on one record per
renewal decision with covariates at the cut-off (the time-varying design). A Cox fit with Efron
ties estimates the grouped proportional-hazards (complementary log-log) coefficient, which is
smaller in magnitude: that is checked as a direction-and-attenuation property, not as coverage.
docs/survival.md reports a 20-book coverage study of both.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import catalog
from analysis.data import features
from analysis.data.io import default_as_of, load_book
from analysis.data.sources import BookInputs, FeatureSource
from analysis.errors import AssumptionWarning
from analysis.params import defaults
from analysis.survival import (
    ENTRY,
    ChurnAnalysis,
    CoxChurnModel,
    DiscreteHazardModel,
    analyse,
    backtest,
    churn_risk,
    renewal_episodes,
)

FEATURES = defaults().features  # renewal_lead_days 90, subscription_margin


@pytest.fixture(scope="module")
def truth(default_book_dir):
    return json.loads((default_book_dir / "ground_truth.json").read_text())["churn_hazard"]


@pytest.fixture(scope="module")
def episodes(default_book_dir, truth):
    covariates = [*truth["log_hazard_ratio_per_unit"], *truth["noise_features"]]
    contracts = features.build_contract_features(
        load_book(default_book_dir), FEATURES.renewal_lead_days, FEATURES.subscription_margin
    )
    return renewal_episodes(contracts, covariates, FEATURES.renewal_lead_days), covariates


def test_planted_hazard_effects_inside_95_intervals_and_noise_not_significant(episodes, truth):
    frame, covariates = episodes
    summary = DiscreteHazardModel(standardize=False).fit(frame, numeric=covariates).summary
    planted = pd.Series(truth["log_hazard_ratio_per_unit"])
    inside = (summary.loc[planted.index, "lower_95"] <= planted) & (planted <= summary.loc[planted.index, "upper_95"])
    assert inside.all(), summary.loc[planted.index, ["estimate", "lower_95", "upper_95"]].assign(truth=planted)
    assert (summary.loc[truth["noise_features"], "p_adjusted"] > 0.05).all()  # Holm-corrected


def test_cox_finds_every_planted_direction_attenuated_and_ignores_noise(episodes, truth):
    frame, covariates = episodes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        cox = CoxChurnModel(standardize=False, ph_remedy="none").fit(frame, numeric=covariates, entry_col=ENTRY)
    exact = DiscreteHazardModel(standardize=False).fit(frame, numeric=covariates).summary["estimate"]
    planted = pd.Series(truth["log_hazard_ratio_per_unit"])
    est = cox.summary["estimate"]
    assert (np.sign(est[planted.index]) == np.sign(planted)).all()
    strong = ["adoption_90d", "adoption_trend", "nps_latest", "payment_delay_days"]
    assert (est[strong].abs() < exact[strong].abs()).all()  # grouped-PH coefficient < logit coefficient
    assert (cox.summary.loc[truth["noise_features"], "p_adjusted"] > 0.05).all()


def test_backtest_is_time_ordered_discriminates_and_is_calibrated(small_book, truth):
    covariates = list(truth["log_hazard_ratio_per_unit"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        as_of = default_as_of(small_book)
        bt = backtest(
            FeatureSource(small_book, as_of, FEATURES.subscription_margin, FEATURES.renewal_lead_days),
            as_of,
            CoxChurnModel(cycle_days=365, clip_quantile=0.001),
            covariates,
            (),
            follow_up_days=365,
            lead_days=FEATURES.renewal_lead_days,
            horizons=(90, 180, 365),
        )
    assert bt.fit_as_of == dt.date(2025, 1, 1)  # one year before the default as-of 2026-01-01
    values = bt.metrics.set_index(["metric", "horizon_days"])["value"]
    assert values[("Harrell C", 365)] > 0.7 and values[("Uno C", 365)] > 0.7
    assert values[("integrated Brier score", 365)] < values[("integrated Brier score, no-covariate reference", 365)]
    assert 0.75 < values[("predicted / observed churn", 365)] < 1.33  # ~100 churns: +-20% is 2 SE


def test_churn_risk_before_renewal_equals_the_90_day_risk_when_the_renewal_is_that_close(small_book, episodes):
    frame, covariates = episodes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        model = CoxChurnModel(cycle_days=365).fit(frame, numeric=covariates, entry_col=ENTRY)
        snapshot = features.build_features(small_book, default_as_of(small_book), FEATURES.subscription_margin)
        risk = churn_risk(model, snapshot, (90, 180, 365), 3)
    assert len(risk) == int(snapshot["is_active"].sum())
    probs = risk[["p_churn_90d", "p_churn_180d", "p_churn_365d", "p_churn_before_renewal"]]
    assert probs.stack().between(0, 1).all() and (probs["p_churn_365d"] > 0).all()  # no account is risk-free
    soon = risk["days_to_next_renewal"] + 1 <= 90  # churn happens only at the renewal
    np.testing.assert_allclose(risk.loc[soon, "p_churn_90d"], risk.loc[soon, "p_churn_before_renewal"], atol=1e-12)


def test_notebook_says_what_cannot_be_estimated_on_a_book_without_churn(small_book_dir, tmp_path):
    """No account ever left: the notebook must finish and say which analyses were impossible and why."""
    import shutil

    import papermill

    from analysis.paths import KERNEL_NAME, NOTEBOOKS_DIR
    from analysis.run.pipeline import ensure_kernel

    book = tmp_path / "book"
    shutil.copytree(small_book_dir, book)
    contracts = pd.read_parquet(book / "contracts.parquet")
    contracts["renewal_outcome"] = contracts["renewal_outcome"].replace("not_renewed", "renewed")
    contracts.to_parquet(book / "contracts.parquet", index=False)
    ensure_kernel()
    out = tmp_path / "04.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / "04_churn_survival.ipynb"),
        str(out),
        kernel_name=KERNEL_NAME,
        parameters={"data_dir": str(book), "run_dir": str(tmp_path / "run")},
        cwd=str(NOTEBOOKS_DIR),
        progress_bar=False,
    )
    executed = json.loads(out.read_text())
    last = "".join("".join(o.get("text", "")) for o in executed["cells"][-1]["outputs"])
    assert "Cox model: InsufficientDataError: No churn events" in last
    assert "Parametric lifetime model" in last and "Back-test" in last
    assert not (tmp_path / "run" / "tables" / "churn_risk.parquet").exists()  # nothing half-estimated is written


def _Run(book, tables):
    """The RunInputs of analyse() without a run folder: the book, its default as-of date, the
    shipped parameters, and the tables given (scored_accounts or nothing)."""
    return BookInputs(book, default_as_of(book), defaults(), tables)


def test_analyse_gives_every_churn_table_with_tiers_and_health_from_scored_accounts(small_book):
    snapshot = _Run(small_book, {}).snapshot()
    current = snapshot[snapshot["is_active"]].reset_index()
    scored = current[["account_id"]].assign(
        tier=np.where(current["revenue_12m"] > current["revenue_12m"].median(), "key", "small"),
        health_band=np.where(current["adoption_90d"].fillna(0) > 0.5, "healthy", "at_risk"),
    )
    result = analyse(_Run(small_book, {"scored_accounts": scored}))
    assert isinstance(result, ChurnAnalysis) and result.tier_column == "tier"
    tables = result.tables()
    assert set(tables) == set(catalog.writes(catalog.CHURN))  # every table of notebook 04
    for name, table in tables.items():
        catalog.check_columns(table.reset_index() if table.index.name else table, name)
    km = tables["churn_km_by_group"]
    assert {"key", "small"} <= set(km.loc[km["grouping"] == "tier", "group"])
    assert set(km["grouping"]) == {"tier", "size_band", "industry"}
    due = tables["at_risk_renewals"]
    assert len(due) and due["health_band"].notna().all()  # health band from this run's scoring
    assert not result.problems["stage"].eq("At-risk renewals").any()
    # Churned accounts have no current tier: the tier curves say how many were left out.
    assert result.problems["detail"].str.contains("accounts without a tier are left out").any()

    fallback = analyse(_Run(small_book, {}))  # no scoring table: size bands, and the problems say so
    assert fallback.tier_column == "size_band" and fallback.at_risk["health_band"].isna().all()
    stages = set(fallback.problems["stage"])
    assert {"Kaplan-Meier by tier", "At-risk renewals"} <= stages
    pd.testing.assert_frame_equal(fallback.tables()["churn_risk"], tables["churn_risk"])
