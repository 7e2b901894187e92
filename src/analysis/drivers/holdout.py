"""Is the boosting check better than the logit on the later contracts? The AUC difference and its verdict.

The difference (boosting minus logit) is measured on the same held-out contracts, with a 95%
interval from a bootstrap that resamples **accounts** (the co-terminous contracts of one account
are one decision, and copies of it are not independent evidence). Written by hand because DeLong's
test, the usual paired AUC comparison, assumes independent rows, and no well-kept library offers a
clustered paired comparison; the bootstrap below is a weighted Mann-Whitney count, vectorised over
resamples so that it stays fast at 50,000 held-out contracts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERDICTS = ("nonlinear", "same", "logit better")
CHUNK = 50  # resamples per vectorised block (bounds the memory of the weight matrix)


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of ``score`` for 0/1 ``y`` under each row of ``weights`` (resamples x rows); ties count 1/2.

    Equals ``sklearn.metrics.roc_auc_score(y, score, sample_weight=w)`` for each row ``w``.
    """
    order = np.argsort(score, kind="mergesort")
    s, positive = score[order], y[order].astype(bool)
    w = np.atleast_2d(weights)[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # blocks of tied scores
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


@dataclass(frozen=True)
class AucComparison:
    gbm: float
    logit: float
    difference: float  # gbm - logit
    lower_95: float
    upper_95: float
    n_boot: int
    verdict: str  # one of VERDICTS


def compare_auc(
    y: np.ndarray,
    gbm_score: np.ndarray,
    logit_score: np.ndarray,
    groups: np.ndarray,
    *,
    margin: float,
    n_boot: int,
    seed: int,
) -> AucComparison:
    """Paired AUC difference with a 95% percentile interval (accounts resampled) and its verdict.

    ``nonlinear``: boosting is better by at least ``margin`` and the interval lies above 0;
    ``logit better``: the logit is better by at least ``margin`` and the interval lies below 0;
    ``same`` otherwise (no difference that is both clear and large enough to matter).
    """
    y = np.asarray(y, dtype=int)
    codes, _ = _codes(groups)
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    ones = np.ones((1, len(y)))
    gbm_auc, logit_auc = float(weighted_auc(y, gbm_score, ones)[0]), float(weighted_auc(y, logit_score, ones)[0])
    differences = []
    for start in range(0, n_boot, CHUNK):
        size = min(CHUNK, n_boot - start)
        counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=size)
        weights = counts[:, codes].astype(float)
        differences.append(weighted_auc(y, gbm_score, weights) - weighted_auc(y, logit_score, weights))
    boot = np.concatenate(differences)
    boot = boot[np.isfinite(boot)]  # a resample with one outcome only has no AUC
    lower, upper = np.quantile(boot, [0.025, 0.975]) if len(boot) else (np.nan, np.nan)
    difference = gbm_auc - logit_auc
    return AucComparison(
        gbm_auc,
        logit_auc,
        difference,
        float(lower),
        float(upper),
        len(boot),
        auc_verdict(difference, float(lower), float(upper), margin),
    )


def auc_verdict(difference: float, lower: float, upper: float, margin: float) -> str:
    """The verdict code of :func:`compare_auc` from the difference, its interval and ``drivers.auc_margin``."""
    if difference >= margin and lower > 0:
        return "nonlinear"
    if difference <= -margin and upper < 0:
        return "logit better"
    return "same"


def _codes(groups) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(groups)
    uniques, codes = np.unique(values.astype(str), return_inverse=True)
    return codes, uniques
