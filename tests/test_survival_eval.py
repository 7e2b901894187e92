"""Kaplan-Meier by group, the censoring-weighted metrics, calibration and the risk tables
(analysis.survival.km, .evaluation, .risk).

The IPCW estimators are checked three ways: they reduce to the plain statistics when nothing is
censored (Harrell's C, scikit-learn's ROC AUC, the mean squared error); under censoring they agree
with scikit-survival 0.24.1 on the same data (reference values computed once in a separate
environment, since scikit-survival is not a project dependency); and they stay close to the
uncensored truth when heavy censoring is added.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from sklearn.metrics import roc_auc_score

from analysis.errors import DataContractError, InsufficientDataError
from analysis.survival import (
    CoxChurnModel,
    at_risk_renewals,
    attempt,
    brier_score,
    calibration_table,
    churn_risk,
    evaluate,
    harrell_c,
    integrated_brier_score,
    km_by_group,
    simulate_survival,
    time_dependent_auc,
    uno_c,
)

GRID = np.array([50.0, 100, 150, 200, 250, 300])


def _censored(seed=3, n=3000):
    """Exponential churn times with a noisy risk score, uniform censoring (the scikit-survival check data)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    churn = np.ceil(rng.exponential(300 * np.exp(-0.7 * x)))
    censor = np.ceil(rng.uniform(1, 700, n))
    risk = x + rng.normal(0, 0.5, n)
    surv = np.exp(-(GRID[:, None] / 300) * np.exp(0.7 * risk[None, :]))
    return churn, censor, risk, surv


# --- Kaplan-Meier by group --------------------------------------------------------------------


@pytest.fixture(scope="module")
def durations():
    data = simulate_survival(3000, {"a": 0.6}, seed=2, censor_days=900)
    data["band"] = np.where(data["a"] > 0.5, "high", np.where(data["a"] < -0.5, "low", "mid"))
    return data.rename(columns={"stop_days": "duration_days"})


def test_km_table_and_logrank_equal_lifelines(durations):
    result = km_by_group(durations, "band")
    high = durations[durations["band"] == "high"]
    km = KaplanMeierFitter().fit(high["duration_days"], high["event"])
    assert result.table.loc["high", "median_days"] == km.median_survival_time_
    assert result.table.loc["high", "survival_365d"] == pytest.approx(float(km.survival_function_at_times(365).iloc[0]))
    lo, hi = result.table.loc["high", ["survival_365d_lower", "survival_365d_upper"]]
    assert lo < result.table.loc["high", "survival_365d"] < hi
    test = multivariate_logrank_test(durations["duration_days"], durations["band"], durations["event"])
    assert result.logrank["p"] == pytest.approx(test.p_value) and result.logrank["degrees_of_freedom"] == 2
    assert len(result.pairwise) == 3 and (result.pairwise["p_adjusted"] >= result.pairwise["p"]).all()
    assert result.table.loc["high", "survival_365d"] < result.table.loc["low", "survival_365d"]


def test_km_says_what_cannot_be_estimated(durations):
    one = km_by_group(durations.assign(band="only"), "band")
    assert one.logrank is None and any("needs two or more groups" in n for n in one.problems["detail"])
    short = km_by_group(durations.assign(duration_days=durations["duration_days"].clip(upper=500)), "band")
    assert short.table["survival_730d"].isna().all() and any(
        "longest follow-up is 500" in n for n in short.problems["detail"]
    )
    none = km_by_group(durations.assign(event=0), "band")
    assert none.logrank is None and any("No churn events" in n for n in none.problems["detail"])
    with pytest.raises(DataContractError, match="'tier' is not in the durations"):
        km_by_group(durations, "tier")


# --- IPCW metrics -----------------------------------------------------------------------------


def test_metrics_reduce_to_plain_statistics_without_censoring():
    churn, _, risk, surv = _censored()
    event = np.ones_like(churn, dtype=bool)
    assert uno_c(churn, event, risk) == pytest.approx(harrell_c(churn, event, risk), abs=1e-12)
    for t in (100.0, 250.0):
        labels = churn <= t
        assert time_dependent_auc(churn, event, risk, t) == pytest.approx(roc_auc_score(labels, risk), abs=1e-12)
    s = surv[3]
    assert brier_score(churn, event, s, 200.0) == pytest.approx(np.mean(((churn > 200) - s) ** 2), abs=1e-12)


def test_metrics_agree_with_scikit_survival_under_censoring():
    churn, censor, risk, surv = _censored()
    time, event = np.minimum(churn, censor), churn <= censor
    # scikit-survival 0.24.1: concordance_index_ipcw(tau=300), cumulative_dynamic_auc, brier_score,
    # integrated_brier_score on this data (survival_train = survival_test). Differences below 5e-4
    # come from the left/right limit of the censoring curve at tied whole-day times.
    assert uno_c(time, event, risk, tau=300) == pytest.approx(0.65707, abs=5e-4)
    auc = [time_dependent_auc(time, event, risk, t) for t in GRID]
    np.testing.assert_allclose(auc, [0.65743, 0.67477, 0.70913, 0.73173, 0.74326, 0.74983], atol=5e-4)
    brier = [brier_score(time, event, surv[i], t) for i, t in enumerate(GRID)]
    np.testing.assert_allclose(brier, [0.14872, 0.20596, 0.21747, 0.21125, 0.20229, 0.19230], atol=5e-4)
    ibs = integrated_brier_score(time, event, pd.DataFrame(surv, index=GRID))
    assert ibs == pytest.approx(0.20150, abs=5e-4)


def test_censoring_weights_remove_the_bias_of_heavy_censoring():
    churn, censor, risk, _ = _censored(seed=8, n=20000)
    censor = np.ceil(censor / 3)  # two thirds censored
    time, event = np.minimum(churn, censor), churn <= censor
    full = time_dependent_auc(churn, np.ones_like(churn, bool), risk, 150.0)
    assert time_dependent_auc(time, event, risk, 150.0) == pytest.approx(full, abs=0.01)
    assert uno_c(time, event, risk, tau=200) == pytest.approx(
        uno_c(churn, np.ones_like(churn, bool), risk, tau=200), abs=0.01
    )


# --- evaluation of a fitted model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    beta = {"a": 0.6, "b": -0.4}
    train = simulate_survival(4000, beta, seed=21, max_entry_days=400)
    model = CoxChurnModel(ph_remedy="none").fit(train, numeric=list(beta), entry_col="entry_days")
    later = simulate_survival(3000, beta, seed=22, max_entry_days=400, censor_days=365)
    later = later.assign(tenure_days=later["entry_days"], duration_days=later["stop_days"] - later["entry_days"])
    return model, later


def test_evaluate_on_later_data_reports_every_metric_and_is_calibrated(fitted):
    model, later = fitted
    metrics, calibration = evaluate(model, later, horizons=(90, 180, 365))
    values = metrics.set_index(["metric", "horizon_days"])["value"]
    assert set(metrics["metric"]) >= {"Harrell C", "Uno C", "time-dependent AUC", "integrated Brier score"}
    assert 0.6 < values[("Harrell C", 365)] < 0.8 and 0.6 < values[("time-dependent AUC", 90)] < 0.85
    assert values[("integrated Brier score", 365)] < values[("integrated Brier score, no-covariate reference", 365)]
    assert values[("predicted / observed churn", 365)] == pytest.approx(1.0, abs=0.08)
    inside = (calibration["observed_lower"] <= calibration["predicted"]) & (
        calibration["predicted"] <= calibration["observed_upper"]
    )
    assert inside.sum() >= 8


def test_calibration_table_by_decile():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.6, 5000)
    churned = rng.random(5000) < p
    table = calibration_table(np.where(churned, 100.0, 365.0), churned, p, 365)
    assert len(table) == 10 and table["accounts"].sum() == 5000
    np.testing.assert_allclose(table["observed"], table["predicted"], atol=0.05)


def test_evaluation_without_churn_is_refused_and_attempt_turns_it_into_a_note(fitted):
    model, later = fitted
    with pytest.raises(InsufficientDataError, match="No churn after the evaluation date"):
        evaluate(model, later.assign(event=0), horizons=(90, 180, 365))
    result, note = attempt(evaluate, model, later.assign(event=0), horizons=(90, 180, 365))
    assert result is None and note.startswith("InsufficientDataError: No churn")


# --- per-account risk tables (three-row frames) -----------------------------------------------


def test_churn_risk_and_at_risk_renewals(fitted):
    model, _ = fitted
    features = pd.DataFrame(
        {
            "a": [2.0, 0.0, -2.0],
            "b": [-1.0, 0.0, 1.0],
            "tenure_days": [100, 100, 100],
            "days_to_next_renewal": [30.0, 200.0, np.nan],
            "is_active": [True, True, True],
        },
        index=pd.Index(["A1", "A2", "A3"], name="account_id"),
    )
    risk = churn_risk(model, features, (90, 180, 365), 3)
    assert risk.index.tolist() == ["A1", "A2", "A3"]
    assert (risk["p_churn_90d"] <= risk["p_churn_180d"]).all() and (risk["p_churn_180d"] <= risk["p_churn_365d"]).all()
    assert risk.loc["A1", "p_churn_365d"] > risk.loc["A2", "p_churn_365d"] > risk.loc["A3", "p_churn_365d"]
    assert risk.loc["A1", "p_churn_before_renewal"] == pytest.approx(
        float(model.predict_churn_probability(features.head(1), 31, "tenure_days").iloc[0])
    )
    assert np.isnan(risk.loc["A3", "p_churn_before_renewal"]) and risk.loc["A1", "top_risk_factors"].startswith(
        "a high"
    )
    contracts = pd.DataFrame(
        {
            "contract_id": ["K1", "K2", "K3"],
            "account_id": ["A1", "A2", "A1"],
            "start": pd.to_datetime(["2025-01-01", "2025-06-01", "2024-01-01"]),
            "end": pd.to_datetime(["2025-12-31", "2026-05-31", "2024-12-31"]),
            "product_line": ["Core", "Core", "Core"],
            "annual_value": [1000.0, 500.0, 800.0],
        }
    )
    due = at_risk_renewals(risk, contracts, dt.date(2025, 12, 1), 90, health=pd.Series({"A1": "red"}))
    assert due.index.tolist() == ["K1"]  # K2 ends after the window, K3 already ended
    assert due.loc["K1", "value_at_risk"] == pytest.approx(1000 * risk.loc["A1", "p_churn_before_renewal"])
    assert due.loc["K1", "health_band"] == "red"
    with pytest.raises(KeyError):
        at_risk_renewals(risk, contracts.drop(columns=["end"]), dt.date(2025, 12, 1), 90)
    with pytest.raises(TypeError, match="datetime.date"):  # dates are parsed once, at the edge
        at_risk_renewals(risk, contracts, "2025-12-01", 90)


def test_risk_metrics_count_each_renewal_once_whatever_its_landmark_rows():
    """The per-term calibration judges every renewal of the follow-up from its landmark rows: a
    renewal with four rows is one renewal (its rows' mean risk), not four churns."""
    from analysis.survival.evaluation import risk_metrics

    accounts = pd.DataFrame(
        {
            "p_churn_before_renewal": [0.5, 0.1],
            "lost_next": [1.0, 0.0],
            "term_group": ["12 months", "12 months"],
            "churned_days": [30.0, np.nan],
            "p_churn_90d": [0.5, 0.1],
            "days_to_next_renewal": [29, 200],
            "next_value": [100.0, 50.0],
        },
        index=pd.Index(["a", "b"], name="account_id"),
    )
    later = pd.DataFrame(
        {
            "account_id": ["a"] * 4 + ["b"] * 2,
            "end": pd.to_datetime(["2025-02-01"] * 4 + ["2025-08-01"] * 2),
            "term_group": "12 months",
            "p_lost": [0.2, 0.4, 0.6, 0.8, 0.1, 0.3],
            "not_renewed": [1] * 4 + [0] * 2,
        }
    )
    rows = risk_metrics(accounts, later, [90], 90)
    rows = rows[rows["judged_on"].notna()].set_index(["group", "judged_on"]).sort_index()
    each = rows.loc[("term 12 months", "each renewal in the follow-up")]
    assert each["accounts"] == 2 and each["churned"] == 1  # two renewals, one lost
    assert each["predicted"] == pytest.approx(0.5 + 0.2) and each["value"] == pytest.approx(0.7)
    nxt = rows.loc[("all accounts", "next renewal")]
    assert nxt["churned"] == 1 and nxt["value"] == pytest.approx(0.6)
    value = rows.loc[("renewals due within 90 days", "churn within 90 days")]
    assert value["predicted"] == pytest.approx(50.0) and value["value"] == pytest.approx(0.5)  # only a is due


def test_calibration_plot_is_labelled_with_what_it_plots():
    """The back-test calibrates the risk of losing the next renewal (not churn within N days)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.survival import plot_calibration
    from analysis.survival.evaluation import risk_calibration

    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.6, 400)
    accounts = pd.DataFrame({"p_churn_before_renewal": p, "lost_next": (rng.random(400) < p).astype(float)})
    table = risk_calibration(accounts)
    ax = plot_calibration(table)
    assert "losing the next renewal" in ax.get_xlabel() and "within" not in ax.get_xlabel()
    assert "next renewals lost" in ax.get_ylabel() and "Kaplan-Meier" not in ax.get_ylabel()
    points = ax.lines[0].get_xydata()  # the decile means, as in the table
    np.testing.assert_allclose(points, table[["predicted", "observed"]].to_numpy())
    plt.close(ax.figure)
