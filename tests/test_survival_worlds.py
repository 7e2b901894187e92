"""The churn risk a manager reads, checked on books the project did not generate (tests/worlds.py).

Calibration is judged in the time-ordered back-test (fitted with renewals decided a year before the
as-of date, predicted at that date, compared with what happened): predicted / observed within
0.9-1.1. One 1,500-account book holds ~150 churns at the next renewal, whose count alone varies by
+-8% (1 SD), so each world pools three seeds (~450 churns, +-5%).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import worlds

from analysis.data.io import default_as_of, load_book
from analysis.data.sources import BookInputs
from analysis.params import defaults
from analysis.survival import analyse, renewal_inputs, risk_backtest, select_covariates

SV = defaults().survival


def _backtest(world, tmp_path):
    book = load_book(world.write(tmp_path / f"{world.name}_{world.truth['seed']}"))
    run = BookInputs(book, default_as_of(book), defaults(), {})
    numeric, categorical, _ = select_covariates(run.contract_features(run.as_of), SV.numeric, SV.categorical)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return risk_backtest(run, renewal_inputs(run, numeric, categorical), numeric, categorical, SV, 0)


def _pooled(results, group="all accounts", judged="next renewal"):
    rows = pd.concat([r.metrics for r in results])
    rows = rows[(rows["metric"] == "predicted / observed churn") & (rows["group"] == group)]
    rows = rows[rows["judged_on"] == judged]
    return rows["predicted"].sum() / rows["churned"].sum()


@pytest.mark.slow
@pytest.mark.parametrize("fixed_365", [False, True], ids=["365-366 day terms", "365-day terms"])
def test_risk_before_renewal_is_calibrated_on_calendar_year_terms(fixed_365, tmp_path):
    results = [
        _backtest(worlds.calendar_terms(n_accounts=1500, seed=s, fixed_365=fixed_365), tmp_path) for s in (1, 2, 3)
    ]
    assert 0.9 <= _pooled(results) <= 1.1
    for h in SV.horizons:  # the horizon probabilities too (churn within h days)
        assert 0.85 <= _pooled(results, judged=f"churn within {h} days") <= 1.15
    value = pd.concat([r.metrics for r in results])
    value = value[value["metric"] == "predicted / observed value at risk"]
    assert 0.85 <= value["predicted"].sum() / np.nansum(value["predicted"] / value["value"]) <= 1.15


@pytest.mark.slow
def test_silent_leavers_flagged_and_unflagged_groups_are_calibrated(tmp_path):
    results = [_backtest(worlds.rising_churn_silent_leavers(n_accounts=1500, seed=s), tmp_path) for s in (4, 5, 6)]
    accounts = pd.concat([r.accounts for r in results])
    accounts = accounts[accounts["lost_next"].notna()]
    flagged = accounts["days_since_last_login"] >= 30  # the no_login_30d early warning
    assert flagged.sum() >= 30
    for group in (accounts[flagged], accounts[~flagged]):
        assert 0.9 <= group["p_churn_before_renewal"].mean() / group["lost_next"].mean() <= 1.1
    assert accounts.loc[flagged, "p_churn_before_renewal"].mean() > 0.9  # they all left
    assert 0.9 <= _pooled(results) <= 1.1


@pytest.mark.slow
def test_subscription_only_book_runs_and_is_calibrated_per_term(tmp_path):
    """Mixed 1/6/12-month terms, no tickets, surveys or engagements (a sparse orders table so the
    book validates until orders become optional)."""
    results = [
        _backtest(worlds.subscription_only(n_accounts=1500, seed=s, sparse_orders_share=0.1), tmp_path)
        for s in (5, 6, 7)
    ]
    for group in ("term 1 month", "term 6 months", "term 12 months"):
        assert 0.9 <= _pooled(results, group, "each renewal in the follow-up") <= 1.1, group
    assert 0.9 <= _pooled(results) <= 1.1


@pytest.mark.slow
def test_subscription_only_analysis_drops_empty_covariates_and_bounds_isolated_cancellations(tmp_path):
    world = worlds.subscription_only(n_accounts=800, seed=5, sparse_orders_share=0.1, midterm_cancellations=3)
    book = load_book(world.write(tmp_path / "sub"))
    result = analyse(BookInputs(book, default_as_of(book), defaults(), {}))
    dropped = result.problems[result.problems["stage"] == "Covariates"]
    assert {"tickets_12m", "nps_latest", "attended_seminar_12m"} <= set(dropped["factor"])
    assert not result.problems["detail"].str.contains(r"\(100\.0%\) set to the median").any()
    assert result.cox is not None and result.risk_model is not None and result.backtest is not None
    risk = result.risk
    assert risk.filter(like="p_churn_").stack().between(0, 1).all()
    assert risk["p_churn_365d"].median() < 0.5  # observed about 0.2 a year, not 100%
    # the Cox baseline: no jump explodes where an isolated cancellation is alone in its risk set
    _times, cumhaz, _ = result.cox.pooled_baseline_
    assert np.diff(np.concatenate([[0], cumhaz])).max() < 5


def test_null_world_gives_no_reasons_and_a_planted_world_names_planted_factors(tmp_path):
    for world, planted in (
        (worlds.null_world(n_accounts=700, seed=2), set()),
        (
            worlds.calendar_terms(n_accounts=700, seed=1),
            {"adoption_90d", "attended_seminar_12m", "open_severe_tickets"},
        ),
    ):
        book = load_book(world.write(tmp_path / world.name))
        run = BookInputs(book, default_as_of(book), defaults(), {})
        numeric, categorical, _ = select_covariates(run.contract_features(run.as_of), SV.numeric, SV.categorical)
        from analysis.survival import fit_risk_model, risk_at

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inputs = renewal_inputs(run, numeric, categorical)
            model = fit_risk_model(inputs, run.as_of, numeric, categorical, SV, 0)
            risk, _ = risk_at(model, inputs, run.snapshot(), run.as_of, SV)
        named = set(risk.filter(regex=r"reason_\d_factor").stack()) - {""}
        if not planted:
            assert (risk["top_risk_factors"] == "").all() and not named
            assert risk["risk_factors_note"].str.contains("no effect is clear after the holm correction").all()
        else:
            assert named and named <= planted | {"adoption_trend"}  # trend of a planted level
            shown = risk[risk["top_risk_factors"] != ""]
            assert len(shown) and (shown["risk_factors_note"] == "").all()
            assert shown["reason_1_ratio"].gt(1).all()
            high = shown["reason_1_direction"].isin(["high", "low", "yes", "no", "level"])
            assert high.all()
