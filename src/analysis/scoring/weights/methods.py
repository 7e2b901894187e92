"""Every weighting the parameters ask for (``scoring.weights``), computed side by side, and the
perturbation of one weight used by the stability check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError, ConfigError, InsufficientDataError
from analysis.params import WEIGHT_METHODS, WeightsParams
from analysis.scoring.weights.calibrated import blend_weights, calibrated_weights
from analysis.scoring.weights.data import critic_weights, entropy_weights
from analysis.scoring.weights.expert import ahp_matrix_from_pairs, ahp_weights, equal_weights, expert_weights
from analysis.scoring.weights.result import WeightResult

if TYPE_CHECKING:
    from analysis.scoring.score import ScoringSpec

METHODS = WEIGHT_METHODS


def perturb(weights: pd.Series, criterion: str, delta: float) -> pd.Series:
    """Move one weight by ``delta`` (clipped to [0, 1]); the others absorb the change in proportion."""
    w = weights.astype(float).copy()
    new = float(np.clip(w[criterion] + delta, 0.0, 1.0))
    rest = w.drop(criterion)
    if rest.sum() > 0:
        rest = rest * (1 - new) / rest.sum()
    else:
        rest[:] = (1 - new) / max(len(rest), 1)
    out = pd.concat([rest, pd.Series({criterion: new})]).reindex(w.index)
    return out


def _ahp(spec: ScoringSpec, params: WeightsParams) -> WeightResult:
    ahp, criteria = params.ahp, spec.names
    if ahp.pairs is not None:
        mat = ahp_matrix_from_pairs(ahp.pairs, criteria)
    else:
        if len(ahp.matrix) != len(criteria):
            raise ConfigError(
                f"scoring.weights.ahp.matrix has {len(ahp.matrix)} rows for {len(criteria)} criteria {criteria}; "
                "give one row and column per criterion, in the order of scoring.criteria."
            )
        mat = pd.DataFrame(ahp.matrix, index=criteria, columns=criteria)
    return ahp_weights(mat, random_index=ahp.random_index)


def _one_weighting(
    method: str,
    spec: ScoringSpec,
    params: WeightsParams,
    done: dict,
    matrix,
    calib_matrix,
    outcome,
    seed: int,
    groups=None,
) -> WeightResult:
    criteria = spec.names
    if method == "expert":
        return expert_weights(spec.expert_weights(), criteria, spec.normalise_weights)
    if method == "equal":
        return equal_weights(criteria)
    if method == "ahp":
        return _ahp(spec, params)
    # The data-driven weightings see only the criteria the matrices kept (those left out for being
    # missing for most accounts are not columns); their weight is 0.
    if method in ("entropy", "critic"):
        if matrix is None:
            raise InsufficientDataError(f"{method} needs the criteria matrix of the book.")
        func = entropy_weights if method == "entropy" else critic_weights
        kept = [c for c in criteria if c in matrix.columns]
        return func(matrix[kept], n_boot=params.data_n_boot, seed=seed).expanded(criteria)
    if method == "calibrated":
        if calib_matrix is None or outcome is None:
            raise InsufficientDataError("calibrated weights need an outcome (renewal or next-12-month margin).")
        cal = params.calibration
        kept = [c for c in criteria if c in calib_matrix.columns]
        return calibrated_weights(
            calib_matrix[kept],
            outcome,
            n_boot=cal.n_boot,
            seed=seed,
            ci=cal.ci,
            transform=cal.margin_transform,
            l2=cal.l2,
            groups=groups,
        ).expanded(criteria)
    if method == "blend":
        for need in ("expert", "calibrated"):
            if need not in done:
                done[need] = _one_weighting(need, spec, params, done, matrix, calib_matrix, outcome, seed, groups)
        return blend_weights(done["expert"], done["calibrated"], params.blend_mix)
    raise ConfigError(f"Unknown weighting method {method!r}; use one of {list(METHODS)}.")


def compare_weightings(
    spec: ScoringSpec,
    params: WeightsParams,
    matrix: pd.DataFrame | None = None,
    calibration_matrix: pd.DataFrame | None = None,
    outcome: pd.Series | None = None,
    seed: int = 0,
    strict: bool = True,
    groups: pd.Series | None = None,
    dropped: Mapping[str, str] | None = None,
) -> tuple[dict[str, WeightResult], dict[str, str]]:
    """Every weighting in ``params.compare`` (plus the chosen ``params.method``) for the criteria of ``spec``.

    ``matrix``: normalised criteria of the book (entropy, CRITIC); ``calibration_matrix`` and
    ``outcome``: rows with a known outcome (calibrated, blend), ``groups`` their account when
    several rows belong to one account (resampled together). Returns (results, skipped):
    a method that cannot be computed is skipped with its reason, except the chosen one,
    whose error is raised when ``strict`` (a back-test passes ``strict=False``). ``dropped``
    (criterion -> why, e.g. missing for most accounts) are set to weight 0 in every weighting, the
    other weights rescaled in proportion.
    """
    chosen = params.method
    methods = list(dict.fromkeys([*params.compare, chosen]))
    gone = list(dropped or {})
    matrix = None if matrix is None else matrix.drop(columns=gone, errors="ignore")
    calibration_matrix = None if calibration_matrix is None else calibration_matrix.drop(columns=gone, errors="ignore")
    done: dict[str, WeightResult] = {}
    skipped: dict[str, str] = {}
    for method in methods:
        if method in done:
            continue
        try:
            done[method] = _one_weighting(method, spec, params, done, matrix, calibration_matrix, outcome, seed, groups)
        except AnalysisError as exc:
            if method == chosen and strict:
                raise
            skipped[method] = str(exc)
    return {m: done[m].without(dropped or {}) for m in methods if m in done}, skipped
