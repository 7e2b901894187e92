"""Churn as a time-to-event question (docs/survival.md): data shaping, Kaplan-Meier by group, a Cox
model whose proportional-hazards assumption is checked (and remedied) on every fit, the exact
discrete-time model at renewals, a parametric model for extrapolation, time-ordered evaluation,
per-account risk, and :func:`analyse`, the whole churn analysis of a run (notebook 04).

Modules: ``data`` (designs, checks, imputation), ``design`` (the Encoder, units, sentences),
``efron`` (the late-entry Cox engine and baselines), ``cox``, ``discrete``, ``parametric``, ``km``,
``evaluation`` (metrics, back-tests), ``landmarks`` (renewals on their own clock and the landmark rows),
``renewal_risk`` (the per-account risk model), ``forecast`` (risk before the next renewal and per
horizon), ``renewal_run`` (that model in a run, with its back-test), ``risk`` (per-account tables and
reasons), ``plots``, ``analysis`` (facade).
"""

from analysis.survival.analysis import ChurnAnalysis, analyse, attempt
from analysis.survival.cox import CoxChurnModel
from analysis.survival.data import (
    ENTRY,
    EVENT,
    STOP,
    account_durations,
    check_design,
    check_durations,
    check_survival_data,
    evaluation_frame,
    impute_median,
    renewal_data,
    renewal_episodes,
    select_covariates,
    simulate_survival,
    snapshot_frame,
)
from analysis.survival.design import effect_sentence, make_encoder, unit_text
from analysis.survival.discrete import DiscreteHazardModel
from analysis.survival.efron import baseline_cumhaz, cyclic_cumhaz, schoenfeld_ph_test, step_at
from analysis.survival.evaluation import (
    Backtest,
    backtest,
    brier_score,
    calibration_table,
    censoring_survival,
    compare_effects,
    evaluate,
    harrell_c,
    integrated_brier_score,
    time_dependent_auc,
    uno_c,
)
from analysis.survival.forecast import horizon_churn, later_renewals, renewal_churn_risk
from analysis.survival.km import (
    KMResult,
    grouping_frame,
    km_by_group,
    km_summary,
    km_tables,
    logrank_table,
    previous_tier_frame,
)
from analysis.survival.landmarks import landmark_frame, renewals, situation_at
from analysis.survival.parametric import PARAMETRIC, ParametricChurnModel
from analysis.survival.plots import plot_calibration, plot_forest, plot_km
from analysis.survival.renewal_risk import RenewalRiskModel
from analysis.survival.renewal_run import fit_risk_model, renewal_inputs, risk_at, risk_backtest
from analysis.survival.risk import at_risk_renewals, churn_risk, name_risk_factors

__all__ = [
    "ENTRY",
    "EVENT",
    "PARAMETRIC",
    "STOP",
    "Backtest",
    "ChurnAnalysis",
    "CoxChurnModel",
    "DiscreteHazardModel",
    "KMResult",
    "ParametricChurnModel",
    "RenewalRiskModel",
    "account_durations",
    "analyse",
    "at_risk_renewals",
    "attempt",
    "backtest",
    "baseline_cumhaz",
    "brier_score",
    "calibration_table",
    "censoring_survival",
    "check_design",
    "check_durations",
    "check_survival_data",
    "churn_risk",
    "compare_effects",
    "cyclic_cumhaz",
    "effect_sentence",
    "evaluate",
    "evaluation_frame",
    "fit_risk_model",
    "grouping_frame",
    "harrell_c",
    "horizon_churn",
    "impute_median",
    "integrated_brier_score",
    "km_by_group",
    "km_summary",
    "km_tables",
    "landmark_frame",
    "later_renewals",
    "logrank_table",
    "make_encoder",
    "name_risk_factors",
    "plot_calibration",
    "plot_forest",
    "plot_km",
    "previous_tier_frame",
    "renewal_churn_risk",
    "renewal_data",
    "renewal_episodes",
    "renewal_inputs",
    "renewals",
    "risk_at",
    "risk_backtest",
    "schoenfeld_ph_test",
    "select_covariates",
    "simulate_survival",
    "situation_at",
    "snapshot_frame",
    "step_at",
    "time_dependent_auc",
    "unit_text",
    "uno_c",
]
