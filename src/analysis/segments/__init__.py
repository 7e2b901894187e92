"""High-value segments: clusters of current customers, their profiles, readable rules for the top
tier and lookalike upgrade candidates (see docs/segments.md). ``analyse(run)`` is the step of a run."""

from analysis.segments.analysis import SegmentAnalysis, analyse, run_tiers
from analysis.segments.candidates import gap_traits, high_value_clusters, trait_gaps, upgrade_candidates
from analysis.segments.features import (
    MISSING_LEVEL,
    as_float,
    build_preprocessor,
    check_features,
    clustering_population,
    is_numeric,
    signed_log1p,
    split_columns,
)
from analysis.segments.model import ALGORITHMS, CENTROIDS_FILE, CLUSTER_MEANS_FILE, META_FILE, MODEL_FILE, SegmentModel
from analysis.segments.profiles import (
    TRAILING_WINDOW_DAYS,
    cluster_differences,
    cluster_means,
    cluster_names,
    cluster_renewal_rate,
    heatmap_frame,
    plot_profile_heatmap,
    profile_clusters,
    renewal_history,
    top_differences,
    trailing_renewals,
)
from analysis.segments.rules import Condition, Rule, TraitRules
from analysis.segments.selection import choice_sentence, chosen_k, select_k, with_stability
from analysis.segments.simulate import SIM_FEATURES, SIM_LOG, SIM_SIGNAL_FEATURES, simulate_segment_features
from analysis.segments.top_tier import fallback_tiers, present_columns, resolve_tiers, top_flag

__all__ = [
    "ALGORITHMS",
    "CENTROIDS_FILE",
    "CLUSTER_MEANS_FILE",
    "META_FILE",
    "MISSING_LEVEL",
    "MODEL_FILE",
    "SIM_FEATURES",
    "SIM_LOG",
    "SIM_SIGNAL_FEATURES",
    "TRAILING_WINDOW_DAYS",
    "Condition",
    "Rule",
    "SegmentAnalysis",
    "SegmentModel",
    "TraitRules",
    "analyse",
    "as_float",
    "build_preprocessor",
    "check_features",
    "choice_sentence",
    "chosen_k",
    "cluster_differences",
    "cluster_means",
    "cluster_names",
    "cluster_renewal_rate",
    "clustering_population",
    "fallback_tiers",
    "gap_traits",
    "heatmap_frame",
    "high_value_clusters",
    "is_numeric",
    "plot_profile_heatmap",
    "present_columns",
    "profile_clusters",
    "renewal_history",
    "resolve_tiers",
    "run_tiers",
    "select_k",
    "signed_log1p",
    "simulate_segment_features",
    "split_columns",
    "top_differences",
    "top_flag",
    "trailing_renewals",
    "trait_gaps",
    "upgrade_candidates",
    "with_stability",
]
