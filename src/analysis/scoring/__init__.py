"""Customer score, weights, tiers, health and early warnings, back-test (see docs/scoring.md).

``analyse(run)`` runs the whole step for a run (notebook 03); the modules hold the pieces:
``score`` (criteria and the 0-100 score), ``weights`` (expert, equal, AHP, entropy, CRITIC,
calibrated, blend), ``tiers`` (pyramid, A/B/C/D, Pareto ABC, flags, migration), ``health``
(health score, bands, early warnings) and ``backtest`` (weightings judged on what happened next).
"""

from analysis.scoring.analysis import ScoringAnalysis, analyse
from analysis.scoring.backtest import (
    METRICS,
    Backtest,
    calibration_set,
    group_rates,
    score_weightings,
    tier_stability,
    weightings,
)
from analysis.scoring.health import alerts_per_account, early_warnings, health_score, warning_coverage
from analysis.scoring.score import (
    CONTRIB,
    Criterion,
    ScoringSpec,
    combine,
    contributions,
    criteria_matrix,
    missing_report,
    score_accounts,
    scoring_population,
)
from analysis.scoring.tiers import (
    GONE,
    NEW,
    Migration,
    assign_tiers,
    join_optional,
    map_codes,
    migration,
    pareto_classes,
    playbook,
    potential_flag,
    predictor_from,
    quantile_tiers,
    threshold_tiers,
    tier_summary,
    tiers_for,
    unprofitable_flag,
)
from analysis.scoring.weights import WeightResult, compare_weightings, weights_table, write_weights_yaml

__all__ = [
    "CONTRIB",
    "GONE",
    "METRICS",
    "NEW",
    "Backtest",
    "Criterion",
    "Migration",
    "ScoringAnalysis",
    "ScoringSpec",
    "WeightResult",
    "alerts_per_account",
    "analyse",
    "assign_tiers",
    "calibration_set",
    "combine",
    "compare_weightings",
    "contributions",
    "criteria_matrix",
    "early_warnings",
    "group_rates",
    "health_score",
    "join_optional",
    "map_codes",
    "migration",
    "missing_report",
    "pareto_classes",
    "playbook",
    "potential_flag",
    "predictor_from",
    "quantile_tiers",
    "score_accounts",
    "score_weightings",
    "scoring_population",
    "threshold_tiers",
    "tier_stability",
    "tier_summary",
    "tiers_for",
    "unprofitable_flag",
    "warning_coverage",
    "weightings",
    "weights_table",
    "write_weights_yaml",
]
