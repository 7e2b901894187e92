"""Choosing the number of clusters: silhouette (K-means) and BIC (Gaussian mixture) per k, how
stable the silhouette's choice is over bootstrap resamples, and the runner-up when the choice is
close (so that a finer split the silhouette narrowly passed over is shown, not hidden)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_chunked, silhouette_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from analysis.errors import InsufficientDataError

if TYPE_CHECKING:
    from analysis.segments.model import SegmentModel


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def fit_estimator(algorithm: str, k: int, X: np.ndarray, model: SegmentModel):
    """K-means, or a Gaussian mixture started from the K-means centres (options of ``model``).

    Starting the mixture from K-means (``means_init``) is deterministic and saves the mixture's
    own k-means initialisation, which dominates its cost on large books.
    """
    km = _kmeans(k, model.n_init, model.seed, X)
    return km if algorithm == "kmeans" else mixture_from(km, X, model)


_KMEANS_FITS: dict[tuple, KMeans] = {}
_KMEANS_KEPT = 16


def _kmeans(k: int, n_init: int, seed: int, X: np.ndarray) -> KMeans:
    """A K-means fit, remembered by its inputs: when the selection sample is every account, the
    final model of the chosen k and the runner-up's model are fits the k selection made already
    (the same data, k, starts and seed give the same fit), and are not computed again. The fitted
    models are only read afterwards; the few kept are small (k centres)."""
    key = (k, n_init, seed, X.shape, X.dtype.str, hashlib.sha1(np.ascontiguousarray(X).view(np.uint8)).hexdigest())
    if key not in _KMEANS_FITS:
        if len(_KMEANS_FITS) >= _KMEANS_KEPT:
            _KMEANS_FITS.pop(next(iter(_KMEANS_FITS)))
        _KMEANS_FITS[key] = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
    return _KMEANS_FITS[key]


def mixture_from(km: KMeans, X: np.ndarray, model: SegmentModel) -> GaussianMixture:
    # reg_covar above the default keeps one-hot columns (near-singular within a cluster) stable.
    return GaussianMixture(
        n_components=km.n_clusters,
        covariance_type=model.covariance_type,
        means_init=km.cluster_centers_,
        random_state=model.seed,
        reg_covar=1e-4,
    ).fit(X)


def check_enough_accounts(n: int, k_max: int) -> None:
    if n <= k_max:
        raise InsufficientDataError(
            f"{n} accounts cannot form {k_max} clusters (need more accounts than clusters); "
            f"lower segments.k / segments.k_range or cluster a larger book."
        )


def select_k(X: np.ndarray, model: SegmentModel) -> pd.DataFrame:
    """Silhouette (K-means) and BIC (Gaussian mixture) for every k in ``model.k_range``.

    Both are computed on one random sample of at most ``selection_sample`` accounts, and the
    silhouette on at most ``silhouette_sample`` of those (its cost is quadratic in rows); the
    final model is then fitted on every account. Returns one row per k, for the k-selection plot.
    """
    lo, hi = model.k_range
    check_enough_accounts(len(X), hi)
    rows = _sample_rows(len(X), model.selection_sample, model.seed)
    Xs = X[rows]
    sil_rows = _sample_rows(len(Xs), model.silhouette_sample, model.seed + 1)
    records, labels = [], []
    for k in range(lo, hi + 1):
        km = fit_estimator("kmeans", k, Xs, model)
        gm = mixture_from(km, Xs, model)
        records.append({"k": k, "kmeans_inertia": float(km.inertia_), "gmm_bic": float(gm.bic(Xs))})
        labels.append(km.labels_[sil_rows])
    table = pd.DataFrame.from_records(records).set_index("k")
    table.insert(1, "kmeans_silhouette", _silhouettes(Xs[sil_rows], labels))
    table["chosen_kmeans"] = table.index == table["kmeans_silhouette"].idxmax()
    table["chosen_gmm"] = table.index == table["gmm_bic"].idxmin()
    return with_stability(table, Xs, model)


def with_stability(table: pd.DataFrame, X: np.ndarray, model: SegmentModel) -> pd.DataFrame:
    """Add how stable the choice of k is and the runner-up:

    * ``bootstrap_share``: share of ``k_bootstrap`` resamples (of ``k_bootstrap_sample`` accounts,
      K-means refitted for every k, one start each) in which k has the highest silhouette;
    * ``runner_up``: the k with the next best criterion (silhouette, or BIC for the mixture);
    * ``margin``: how far the runner-up's silhouette falls short of the chosen k's, as a share of it;
    * ``close`` (same on every row): the choice is close when that margin is below
      ``k_close_margin`` or the chosen k wins fewer than ``k_stable_share`` of the resamples.
      Assessed for the silhouette; with the mixture only the runner-up is named.
    """
    ks = table.index.to_numpy()
    wins = np.zeros(len(ks))
    rng = np.random.default_rng(model.seed + 2)
    size = min(len(X), model.k_bootstrap_sample)
    # Small resamples: one thread each (thread start-up on a busy machine costs more than it saves),
    # one K-means start each (the resamples already vary the start; the silhouette dominates the cost).
    with threadpool_limits(limits=1):
        for b in range(model.k_bootstrap if len(ks) > 1 else 0):
            Xb = X[rng.integers(0, len(X), size)]
            sil = _silhouettes(Xb, [KMeans(k, n_init=1, random_state=model.seed + b).fit(Xb).labels_ for k in ks])
            if np.isfinite(sil).any():
                wins[int(np.nanargmax(sil))] += 1
    out = table.copy()
    out["bootstrap_share"] = wins / wins.sum() if wins.sum() else np.nan
    chosen = chosen_k(out, model.algorithm)
    ranked = (
        out["kmeans_silhouette"].sort_values(ascending=False)
        if model.algorithm == "kmeans"
        else out["gmm_bic"].sort_values()
    ).index
    runner = next((k for k in ranked if k != chosen), None)
    sil = out["kmeans_silhouette"]
    margin = float((sil[chosen] - sil[runner]) / abs(sil[chosen])) if runner is not None else np.nan
    share = float(out.loc[chosen, "bootstrap_share"])
    close = (
        model.algorithm == "kmeans"
        and runner is not None
        and (margin < model.k_close_margin or (np.isfinite(share) and share < model.k_stable_share))
    )
    out["runner_up"] = out.index == runner
    out["margin"] = margin
    out["close"] = bool(close)
    return out


def choice_sentence(table: pd.DataFrame, algorithm: str, close_margin: float, stable_share: float) -> str:
    """How k was chosen, how stable the choice is, and the runner-up (for the problems frame)."""
    chosen = chosen_k(table, algorithm)
    runner = table.index[table["runner_up"]]
    text = f"k = {chosen} chosen by the {'silhouette' if algorithm == 'kmeans' else 'BIC'}"
    if algorithm == "kmeans":
        text += f" ({table.loc[chosen, 'kmeans_silhouette']:.3f}"
        if np.isfinite(table.loc[chosen, "bootstrap_share"]):
            text += f"; best in {table.loc[chosen, 'bootstrap_share']:.0%} of bootstrap resamples"
        text += ")"
    if not len(runner):
        return text + "."
    r = runner[0]
    text += f"; runner-up k = {r}"
    if algorithm == "kmeans":
        text += f" ({table.loc[r, 'kmeans_silhouette']:.3f}, {table['margin'].iloc[0]:.1%} lower"
        if np.isfinite(table.loc[r, "bootstrap_share"]):
            text += f", best in {table.loc[r, 'bootstrap_share']:.0%} of resamples"
        text += ")"
    if table["close"].iloc[0]:
        text += (
            f". The choice is close (margin under {close_margin:.0%} or the chosen k best in fewer than "
            f"{stable_share:.0%} of resamples): the runner-up's clusters are shown in segment_runner_up; "
            "set segments.k to use them"
        )
    return text + "."


def _silhouettes(X: np.ndarray, labellings: list[np.ndarray]) -> list[float]:
    """The silhouette of each labelling of the rows ``X``, equal bit for bit to
    ``silhouette_score(X, labels)`` of each (tests/test_segments_selection.py). The distances
    between the rows do not depend on the labels, so they are computed once, in the very chunks
    ``silhouette_score`` would compute them in, instead of once per k (they were 60% of the
    traits notebook's k selection). A labelling with fewer than 2 clusters (a sample may miss a
    small one) has no silhouette: NaN."""
    usable = [len(np.unique(labels)) >= 2 for labels in labellings]
    if not any(usable):
        return [float("nan")] * len(labellings)
    distances = _distances(X)
    return [
        float(silhouette_score(distances, labels, metric="precomputed")) if ok else float("nan")
        for labels, ok in zip(labellings, usable, strict=True)
    ]


def _distances(X: np.ndarray) -> np.ndarray:
    """The rows' pairwise distances as ``silhouette_score`` computes them, chunk by chunk into one
    matrix (a single chunk, the usual case, is used as it is: no second copy)."""
    chunks = pairwise_distances_chunked(X, metric="euclidean")
    first = next(chunks)
    if len(first) == len(X):
        return first
    distances = np.empty((len(X), len(X)), dtype=first.dtype)
    distances[: len(first)] = first
    row = len(first)
    for chunk in chunks:
        distances[row : row + len(chunk)] = chunk
        row += len(chunk)
    return distances


def chosen_k(selection: pd.DataFrame, algorithm: str) -> int:
    """K-means: highest silhouette; Gaussian mixture: lowest BIC."""
    return int(selection.index[selection[f"chosen_{algorithm}"]][0])
