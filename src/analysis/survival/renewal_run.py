"""The per-account churn risk of a run: the renewal-clock model fitted on the run's past renewals,
its risk at the as-of date, and its time-ordered back-test (fitted with the renewals decided one
``backtest_days`` before the as-of date, judged on what happened after it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.core.inputs import RunInputs
from analysis.core.problems import concat
from analysis.data.asof import require_date
from analysis.params import SurvivalParams
from analysis.survival.data import impute_median
from analysis.survival.evaluation import RiskBacktest, risk_calibration, risk_metrics
from analysis.survival.forecast import renewal_churn_risk
from analysis.survival.landmarks import TERM_GROUP, decided_before, landmark_frame, renewals, situation_at
from analysis.survival.renewal_risk import RenewalRiskModel, check_events


@dataclass
class RenewalInputs:
    """The run's renewals and the landmark rows of those decided before its as-of date (built once)."""

    units: pd.DataFrame
    landmarks: pd.DataFrame
    problems: pd.DataFrame


def renewal_inputs(run: RunInputs, numeric: Sequence[str], categorical: Sequence[str]) -> RenewalInputs:
    sv = run.params.survival
    units = renewals(run.book)
    rows = landmark_frame(
        run.book,
        decided_before(units, run.as_of),
        [*numeric, *categorical],
        per_term=sv.landmarks_per_term,
        max_rows=sv.max_landmark_rows,
        subscription_margin=run.params.features.subscription_margin,
        seed=run.params.seed,
    )
    rows, problems = impute_median(rows, numeric)
    return RenewalInputs(units, rows, problems)


def fit_risk_model(
    inputs: RenewalInputs, before: dt.date, numeric, categorical, sv: SurvivalParams, seed: int
) -> RenewalRiskModel:
    """The renewal-risk model on the landmark rows of renewals decided before ``before``."""
    rows = inputs.landmarks[inputs.landmarks["end"] < pd.Timestamp(before)]
    check_events(rows)
    return RenewalRiskModel.from_params(sv, seed).fit(rows, numeric=numeric, categorical=categorical)


def risk_at(model: RenewalRiskModel, inputs: RenewalInputs, snapshot: pd.DataFrame, date: dt.date, sv: SurvivalParams):
    """(per-account risk, per-renewal risk) of the accounts with a running renewal at ``date``."""
    covariates = [*model.encoder_.numeric, *model.encoder_.categorical]
    running = situation_at(inputs.units, snapshot, date, covariates)
    return renewal_churn_risk(model, running, sv.horizons, sv.top_risk_factors)


def risk_backtest(
    run: RunInputs, inputs: RenewalInputs, numeric, categorical, sv: SurvivalParams, seed: int
) -> RiskBacktest:
    """Fit with the renewals decided before ``as_of - backtest_days``, predict at that date, and judge
    the predictions on the next renewal (decided by the as-of date) and on churn within each horizon."""
    fit_as_of = require_date(run.as_of) - dt.timedelta(days=sv.backtest_days)
    model = fit_risk_model(inputs, fit_as_of, numeric, categorical, sv, seed)
    snapshot = run.features_at(fit_as_of)
    risk, _ = risk_at(model, inputs, snapshot, fit_as_of, sv)
    units = inputs.units.set_index(["account_id", "end"])
    key = pd.MultiIndex.from_arrays([risk.index, pd.to_datetime(risk["next_renewal_date"])])
    nxt = units.reindex(key)
    judged = nxt["decided"].fillna(False).to_numpy(bool) & (key.get_level_values(1) < pd.Timestamp(run.as_of))
    outcomes = run.outcomes_at(fit_as_of).reindex(risk.index)
    churned = outcomes["churned"].fillna(False).astype(bool)
    accounts = risk.assign(
        lost_next=np.where(judged, nxt[["not_renewed"]].to_numpy(float)[:, 0], np.nan),
        churned_days=outcomes["duration_days"].where(churned).astype(float),
        term_group=nxt[TERM_GROUP].to_numpy(),
        next_value=nxt["annual_value"].to_numpy(float),
    ).join(snapshot[[c for c in numeric if c in snapshot]])
    horizons = [h for h in sv.horizons if h <= sv.backtest_days]
    rows = inputs.landmarks
    later = rows[(rows["end"] >= pd.Timestamp(fit_as_of)) & (rows["end"] < pd.Timestamp(run.as_of))]
    later = later.assign(p_lost=model.predict_lost(later).to_numpy()) if len(later) else later.assign(p_lost=[])
    metrics = risk_metrics(accounts, later, horizons, sv.at_risk_window_days)
    problems = concat(
        model.problems_.assign(detail="training: " + model.problems_["detail"]) if len(model.problems_) else None
    )
    return RiskBacktest(model, metrics, risk_calibration(accounts), accounts, fit_as_of, model.n_, problems)
