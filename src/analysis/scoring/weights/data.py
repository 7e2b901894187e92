"""Data-driven weights: the entropy weight method and CRITIC (Diakoulaki, Mavrotas & Papayannakis
1995) on the normalised criteria matrix, with optional bootstrap intervals. Both are a few lines
of linear algebra that no library in the pinned stack implements."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from analysis.errors import DataContractError, InsufficientDataError
from analysis.scoring.weights.result import WeightResult


def _complete_rows(matrix: pd.DataFrame, method: str) -> tuple[np.ndarray, list[str]]:
    if not isinstance(matrix, pd.DataFrame):
        raise DataContractError(f"{method} needs a DataFrame of criteria (one column per criterion).")
    values = matrix.apply(pd.to_numeric, errors="coerce")
    notes = []
    keep = values.notna().all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} of {len(values)} rows with a missing value were left out of {method}.")
    x = values[keep].to_numpy(dtype=float)
    if len(x) < 2:
        raise InsufficientDataError(f"{method} needs at least 2 complete rows; got {len(x)}.")
    if not np.all(np.isfinite(x)):
        raise DataContractError(f"{method} got infinite values; clean the criteria first.")
    return x, notes


def _constant_notes(cols: Sequence[str], constant: np.ndarray, method: str) -> list[str]:
    return [
        f"Criterion {c} is constant (every row has the same value): it cannot tell accounts apart, "
        f"so {method} gives it weight 0."
        for c, flag in zip(cols, constant)
        if flag
    ]


def _entropy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    constant = np.ptp(x, axis=0) == 0
    totals = x.sum(axis=0)
    p = np.divide(x, totals, out=np.zeros_like(x), where=totals != 0)
    e = -special.xlogy(p, p).sum(axis=0) / np.log(len(x))
    d = np.where(constant, 0.0, 1.0 - e)
    return d, constant


def _critic(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = x.min(axis=0), x.max(axis=0)
    constant = hi == lo
    z = np.divide(x - lo, hi - lo, out=np.zeros_like(x), where=~constant)
    sd = z.std(axis=0, ddof=1)
    info = np.zeros(x.shape[1])
    live = np.flatnonzero(~constant)
    if len(live):
        r = np.atleast_2d(np.corrcoef(z[:, live], rowvar=False))
        info[live] = sd[live] * (1 - r).sum(axis=1)
    return info, constant


def _data_weights(
    matrix: pd.DataFrame, method: str, kernel, n_boot: int, seed: int, ci: float, description: str
) -> WeightResult:
    x, notes = _complete_rows(matrix, method)
    raw, constant = kernel(x)
    if raw.sum() <= 0:
        raise InsufficientDataError(f"{method}: every criterion is constant, so there is nothing to weight.")
    notes += _constant_notes(matrix.columns, constant, method)
    cols = pd.Index(matrix.columns, name="factor")
    draws = None
    if n_boot:
        rng = np.random.default_rng(seed)
        reps = []
        for _ in range(n_boot):
            r, _c = kernel(x[rng.integers(0, len(x), len(x))])
            reps.append(r / r.sum() if r.sum() > 0 else np.full(len(r), np.nan))
        draws = pd.DataFrame(reps, columns=cols)
    return WeightResult(
        pd.Series(raw / raw.sum(), index=cols, name="weight"),
        method,
        description,
        notes,
        details={"n_rows": len(x)},
        draws=draws,
        ci=ci,
    )


def entropy_weights(matrix: pd.DataFrame, n_boot: int = 0, seed: int = 0, ci: float = 0.95) -> WeightResult:
    """Entropy weight method: criteria whose values are spread unevenly across rows weigh more.

    p_ij = x_ij / sum_i x_ij, e_j = -sum_i p_ij ln p_ij / ln m, w_j = (1 - e_j) / sum(1 - e).
    Values must be non-negative (pass the normalised criteria matrix from
    ``analysis.scoring.criteria_matrix``).
    """
    if (matrix.apply(pd.to_numeric, errors="coerce") < 0).any().any():
        raise DataContractError(
            "The entropy method needs non-negative values; pass the normalised criteria "
            "matrix (analysis.scoring.criteria_matrix) instead of raw values."
        )
    return _data_weights(
        matrix,
        "entropy",
        _entropy,
        n_boot,
        seed,
        ci,
        "Entropy weight method: more weight to criteria that differ more between accounts.",
    )


def critic_weights(matrix: pd.DataFrame, n_boot: int = 0, seed: int = 0, ci: float = 0.95) -> WeightResult:
    """CRITIC (Diakoulaki, Mavrotas & Papayannakis 1995): contrast (SD of min-max scaled values)
    times conflict (sum of 1 - correlation with the other criteria).

    Columns must be oriented so that higher is better (as in the normalised criteria matrix).
    """
    return _data_weights(
        matrix,
        "CRITIC",
        _critic,
        n_boot,
        seed,
        ci,
        "CRITIC: more weight to criteria that vary more and agree less with the others.",
    )
