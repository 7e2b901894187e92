"""Outcome-calibrated weights (renewal: logistic fit with non-negative slopes; margin: NNLS) with
cluster-bootstrap intervals, and the blend of expert and calibrated weights."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from analysis.errors import ConfigError, ConvergenceError, DataContractError, InsufficientDataError
from analysis.scoring.weights.data import _constant_notes
from analysis.scoring.weights.result import WeightResult


def _bounded_quadratic(h: np.ndarray, r: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """argmin 1/2 z'Hz - r'z subject to z >= lower, as bounded least squares on the Cholesky factor."""
    jitter = 1e-12 * np.trace(h) * np.eye(len(h))  # keeps a near-singular Hessian factorable
    chol = np.linalg.cholesky(h + jitter)
    target = np.linalg.solve(chol, r)
    return optimize.lsq_linear(chol.T, target, bounds=(lower, np.inf), method="bvls", tol=1e-12).x


def _fit_bounded(
    x1: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray | None,
    start: np.ndarray,
    binary: bool,
    l2: float,
    max_iter: int = 50,
) -> tuple[np.ndarray, bool]:
    """Regression with a free intercept (column 0 of ``x1``) and non-negative slopes.

    Continuous: one bounded least-squares solve. Binary: projected Newton (IRLS) for the
    logistic log-likelihood, each step a bounded quadratic on k x k sufficient statistics,
    halved while the loss rises; ~50x faster than L-BFGS-B for the bootstrap loop.
    ``counts`` are bootstrap multiplicities: rows drawn zero times are skipped.
    """
    if counts is None:
        c = np.ones(len(y))
    else:
        drawn = np.flatnonzero(counts)
        x1, y, c = x1[drawn], y[drawn], counts[drawn].astype(float)
    lower = np.r_[-np.inf, np.zeros(x1.shape[1] - 1)]
    pen = l2 * c.sum() * np.diag(np.r_[0.0, np.ones(x1.shape[1] - 1)])
    if not binary:
        xc = x1 * c[:, None]
        return _bounded_quadratic(xc.T @ x1 + pen, xc.T @ y, lower), True

    def loss(eta, theta):
        return c @ (np.logaddexp(0.0, eta) - y * eta) + 0.5 * theta @ pen @ theta

    theta = start.copy()
    eta = x1 @ theta
    current = loss(eta, theta)
    for _ in range(max_iter):
        p = special.expit(eta)
        h = (x1 * (c * p * (1 - p))[:, None]).T @ x1 + pen
        grad = x1.T @ (c * (p - y)) + pen @ theta
        step = _bounded_quadratic(h, h @ theta - grad, lower) - theta
        if np.max(np.abs(step)) < 1e-8:
            return theta, True
        for _halving in range(30):  # damped Newton: halve while the loss rises beyond round-off
            eta_new = x1 @ (theta + step)
            new = loss(eta_new, theta + step)
            if new <= current + 1e-10 * abs(current):
                break
            step = step / 2
        theta, eta, current = theta + step, eta_new, new
    return theta, False


def _outcome_vector(y: pd.Series, outcome_type: str | None, transform: str | None) -> tuple[np.ndarray, str]:
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    distinct = np.unique(values)
    if len(distinct) < 2:
        raise InsufficientDataError(
            f"Outcome '{y.name}' has a single value ({distinct.tolist()}) among the rows "
            "used: weights cannot be calibrated to it. Use a longer window, an earlier "
            "as-of date, or the other outcome."
        )
    if outcome_type is None:
        outcome_type = "binary" if set(distinct) <= {0.0, 1.0} else "continuous"
    if outcome_type == "binary":
        if not set(distinct) <= {0.0, 1.0}:
            raise DataContractError(f"Binary outcome '{y.name}' must hold 0/1; found {distinct[:5].tolist()}...")
    elif outcome_type == "continuous":
        if transform == "rank":
            values = pd.Series(values).rank(pct=True).to_numpy()
        elif transform not in (None, "none"):
            raise ConfigError(f"Unknown outcome transform {transform!r}; use 'rank' or 'none'.")
    else:
        raise ConfigError(f"outcome_type must be 'binary' or 'continuous', not {outcome_type!r}.")
    return values, outcome_type


def _bootstrap(
    fit,
    theta: np.ndarray,
    y: np.ndarray,
    outcome_type: str,
    constant: np.ndarray,
    reps: np.ndarray,
    rng: np.random.Generator,
    groups: np.ndarray,
) -> None:
    """Fill ``reps`` (resamples x criteria) with normalised weights refitted on multinomial counts.

    ``groups`` (integer codes 0..G-1): whole groups (accounts) are drawn, so that rows of one
    account (its contracts) stay together and the interval reflects that they are not independent.
    """
    n_groups = int(groups.max()) + 1
    for b in range(len(reps)):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[groups]
        if outcome_type == "binary" and counts @ y in (0, counts.sum()):
            continue  # a resample with one class carries no information
        s = fit(counts, theta)[1:]
        if np.isfinite(s).all() and s.sum() > 0:
            reps[b, ~constant] = s / s.sum()
            reps[b, constant] = 0.0


def calibrated_weights(
    matrix: pd.DataFrame,
    outcome: pd.Series,
    outcome_type: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    transform: str | None = "rank",
    l2: float = 0.0,
    groups: pd.Series | None = None,
) -> WeightResult:
    """Non-negative weights fitted to an outcome, with bootstrap percentile intervals.

    ``matrix``: normalised criteria (0-1, higher is better; ``analysis.scoring.criteria_matrix``)
    indexed like ``outcome``. Binary outcomes (renewal) get a logistic fit with slopes >= 0;
    continuous ones (next-12-month margin; ranked first by default so a few huge accounts do
    not decide the weights) get non-negative least squares. Weights are the slopes divided by
    their sum, so the score is the fitted linear predictor up to scale. Bootstrap resamples
    reuse the data with multinomial counts (no copies) and start from the full-sample fit;
    with ``groups`` (for example the account of each contract) whole groups are resampled.
    """
    matrix, outcome = matrix.align(outcome, join="inner", axis=0)
    keep = outcome.notna() & matrix.notna().all(axis=1)
    notes = []
    if not keep.all():
        notes.append(
            f"{int((~keep).sum())} of {len(keep)} rows without an outcome or with a missing criterion "
            "were left out of the calibration."
        )
    x = matrix[keep].to_numpy(dtype=float)
    y, outcome_type = _outcome_vector(outcome[keep], outcome_type, transform)
    cols = pd.Index(matrix.columns, name="factor")
    constant = np.ptp(x, axis=0) == 0
    if constant.all():
        raise InsufficientDataError("Every criterion is constant among the calibration rows; nothing to calibrate.")
    notes += _constant_notes(cols, constant, "calibration")
    x1 = np.column_stack([np.ones(len(y)), x[:, ~constant]])
    started = time.perf_counter()

    def fit(counts, start):
        theta, ok = _fit_bounded(x1, y, counts, start, outcome_type == "binary", l2)
        if not ok and counts is None:
            raise ConvergenceError(
                f"Calibration to '{outcome.name}' did not converge: a criterion may separate "
                "the outcome perfectly. Drop it, or set scoring.weights.calibration.l2 to a small "
                "penalty such as 1e-4."
            )
        return theta if ok else np.full(len(theta), np.nan)

    theta = fit(None, np.zeros(x1.shape[1]))
    slopes = np.zeros(x.shape[1])
    slopes[~constant] = theta[1:]
    if slopes.sum() <= 0:
        raise InsufficientDataError(
            f"No criterion is positively related to '{outcome.name}', so every calibrated "
            "weight is 0. Check each criterion's direction (benefit/cost)."
        )
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, x.shape[1]), np.nan)
    codes = np.arange(len(y)) if groups is None else pd.factorize(groups.reindex(matrix.index)[keep])[0]
    with threadpool_limits(limits=1, user_api="blas"):
        # Tall-thin products (n x k, k < 20): BLAS threads only add overhead, and cost 4x on a busy machine.
        _bootstrap(fit, theta, y, outcome_type, constant, reps, rng, codes)
    failed = int(np.isnan(reps[:, 0]).sum())
    if failed:
        notes.append(f"{failed} of {n_boot} bootstrap resamples gave no usable fit and were left out.")
    zero = [c for c, s, k in zip(cols, slopes, constant) if s == 0 and not k]
    if zero:
        notes.append(f"{zero} add nothing to predicting '{outcome.name}' once the others are known: weight 0.")
    model = "logistic regression" if outcome_type == "binary" else "least squares"
    unit = "rows" if groups is None else f"{codes.max() + 1} accounts (resampled whole)"
    desc = (
        f"Calibrated to '{outcome.name}' by {model} with non-negative slopes on {len(y)} rows; "
        f"{n_boot} bootstrap resamples of {unit}."
    )
    details = {
        "outcome": outcome.name,
        "outcome_type": outcome_type,
        "intercept": float(theta[0]),
        "slopes": dict(zip(cols, slopes.tolist())),
        "n_rows": len(y),
        "n_boot": n_boot,
        "seconds": time.perf_counter() - started,
    }
    draws = pd.DataFrame(reps, columns=cols).dropna() if n_boot else None
    return WeightResult(
        pd.Series(slopes / slopes.sum(), index=cols, name="weight"),
        "calibrated",
        desc,
        notes,
        details,
        draws=draws,
        ci=ci,
    )


def blend_weights(expert: WeightResult, calibrated: WeightResult, mix: float) -> WeightResult:
    """(1 - mix) x expert + mix x calibrated; the calibrated bootstrap carries over to the interval."""
    if not 0 <= mix <= 1:
        raise ConfigError(f"Blend mix must lie in [0, 1] (0 = all expert, 1 = all calibrated); got {mix}.")
    if set(expert.weights.index) != set(calibrated.weights.index):
        raise ConfigError(
            "Expert and calibrated weights cover different criteria: "
            f"{sorted(expert.weights.index)} vs {sorted(calibrated.weights.index)}."
        )
    e = expert.weights
    c = calibrated.weights.reindex(e.index)
    draws = None if calibrated.draws is None else (1 - mix) * e + mix * calibrated.draws[e.index]
    desc = f"Blend: {1 - mix:.0%} expert + {mix:.0%} calibrated ({calibrated.description})"
    return WeightResult(
        ((1 - mix) * e + mix * c).rename("weight"),
        "blend",
        desc,
        expert.notes + calibrated.notes,
        {"mix": mix},
        draws,
        calibrated.ci,
    )
