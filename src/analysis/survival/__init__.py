"""Churn as a time-to-event question (docs/survival.md): data shaping, Kaplan-Meier by group, a Cox
model whose proportional-hazards assumption is checked (and remedied) on every fit, the exact
discrete-time model at renewals, a parametric model for extrapolation, time-ordered evaluation,
per-account risk, and :func:`analyse`, the whole churn analysis of a run (notebook 04).

Modules: ``data`` (designs, checks, imputation), ``design`` (the Encoder, units, sentences),
``efron`` (the late-entry Cox engine and baselines), ``cox``, ``discrete``, ``parametric``, ``km``,
``evaluation`` (metrics, back-test), ``risk`` (per-account tables), ``plots``, ``analysis`` (facade).
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
from analysis.survival.km import KMResult, grouping_frame, km_by_group, km_summary, km_tables, logrank_table
from analysis.survival.parametric import PARAMETRIC, ParametricChurnModel
from analysis.survival.plots import plot_calibration, plot_forest, plot_km
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
    "grouping_frame",
    "harrell_c",
    "impute_median",
    "integrated_brier_score",
    "km_by_group",
    "km_summary",
    "km_tables",
    "logrank_table",
    "make_encoder",
    "name_risk_factors",
    "plot_calibration",
    "plot_forest",
    "plot_km",
    "renewal_data",
    "renewal_episodes",
    "schoenfeld_ph_test",
    "simulate_survival",
    "snapshot_frame",
    "step_at",
    "time_dependent_auc",
    "unit_text",
    "uno_c",
]
