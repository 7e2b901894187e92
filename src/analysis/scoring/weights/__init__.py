"""Weights of the composite customer score: set, derive, calibrate and blend them.

Every method returns a :class:`WeightResult`: weights summing to 1 plus how they were
obtained (method, a plain sentence, notes on anything excluded or adjusted, and intervals
where the method has them), with ``summary`` in the project's common shape.

- ``expert``: expert weights from the config (validated, never silently normalised), equal
  weights, and AHP (Saaty): principal eigenvector of a pairwise comparison matrix and its
  consistency ratio against the Saaty (1980) random-index table;
- ``data``: entropy weight method and CRITIC (Diakoulaki et al. 1995) on the criteria matrix;
- ``calibrated``: outcome-calibrated non-negative weights (renewal: bounded logistic fit;
  margin: NNLS) with bootstrap intervals, and the blend of expert and calibrated weights;
- ``methods``: every weighting ``scoring.weights`` asks for, side by side;
- ``result``: :class:`WeightResult`, the side-by-side table, the YAML and the plot.

Optimisation uses scipy.optimize.
"""

from analysis.scoring.weights.calibrated import blend_weights, calibrated_weights
from analysis.scoring.weights.data import critic_weights, entropy_weights
from analysis.scoring.weights.expert import (
    CR_LIMIT,
    RANDOM_INDEX_TABLES,
    RECIPROCAL_TOLERANCE,
    SAATY_1980_RANDOM_INDEX,
    ahp_matrix_from_pairs,
    ahp_weights,
    equal_weights,
    expert_weights,
    validate_weights,
)
from analysis.scoring.weights.methods import METHODS, compare_weightings, perturb
from analysis.scoring.weights.result import WeightResult, describe, plot_weights, weights_table, write_weights_yaml

__all__ = [
    "CR_LIMIT",
    "METHODS",
    "RANDOM_INDEX_TABLES",
    "RECIPROCAL_TOLERANCE",
    "SAATY_1980_RANDOM_INDEX",
    "WeightResult",
    "ahp_matrix_from_pairs",
    "ahp_weights",
    "blend_weights",
    "calibrated_weights",
    "compare_weightings",
    "critic_weights",
    "describe",
    "entropy_weights",
    "equal_weights",
    "expert_weights",
    "perturb",
    "plot_weights",
    "validate_weights",
    "weights_table",
    "write_weights_yaml",
]
