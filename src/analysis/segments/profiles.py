"""Cluster profiles: means, differences from the whole book, readable names, and the size,
value, CLV, renewal-rate and top-tier share of each cluster."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.core.inputs import RunInputs
from analysis.data.asof import require_date
from analysis.data.history import renewal_history
from analysis.errors import InsufficientDataError
from analysis.segments.features import as_float, clustering_population, is_numeric

if TYPE_CHECKING:
    from analysis.segments.model import SegmentModel

TRAILING_WINDOW_DAYS = 365  # the renewal rate looks forward from this many days before as-of


def cluster_means(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Per cluster: mean of numeric columns and most common level of categories (original units)."""
    numeric = [c for c in frame.columns if is_numeric(frame[c])]
    cats = [c for c in frame.columns if c not in numeric]
    grouped = frame.groupby(labels)
    out = pd.DataFrame({c: as_float(frame[c]).groupby(labels).mean() for c in numeric}, index=grouped.size().index)
    for c in cats:
        out[c] = grouped[c].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
    out.insert(0, "n_accounts", grouped.size())
    out.index.name = "cluster"
    return out


def cluster_differences(model: SegmentModel, features: pd.DataFrame, labels: pd.Series | None = None) -> pd.DataFrame:
    """Long table: each cluster and feature, how far the cluster sits from the whole book.

    ``std_diff`` is the difference of means in the model's standard units (money on the log
    scale); for a category level it is (share in cluster - share in book) / sd of the indicator.
    ``lift`` is cluster mean / book mean in original units (share ratio for category levels).
    """
    labels = model.predict(features) if labels is None else labels
    X = model.transform(features)
    rows = []
    book_sd = X.std(ddof=0).replace(0, np.nan)
    z = (X - X.mean()) / book_sd
    by_cluster = z.groupby(labels).mean()
    for col in model.log_features_ + model.numeric_features_:
        raw = as_float(features[col])
        book_mean = raw.mean()
        for c, m in raw.groupby(labels).mean().items():
            rows.append(
                (c, col, m, book_mean, by_cluster.loc[c, col], m / book_mean if book_mean and book_mean > 0 else np.nan)
            )
    onehot = [n for n in model.feature_names_ if n not in model.log_features_ + model.numeric_features_]
    for name in onehot:
        book_share = X[name].mean()
        for c, share in X[name].groupby(labels).mean().items():
            rows.append(
                (
                    c,
                    _level_name(model, name),
                    share,
                    book_share,
                    by_cluster.loc[c, name],
                    share / book_share if book_share > 0 else np.nan,
                )
            )
    table = pd.DataFrame(rows, columns=["cluster", "feature", "cluster_value", "book_value", "std_diff", "lift"])
    table["abs_std_diff"] = table["std_diff"].abs()
    return table.sort_values(["cluster", "abs_std_diff"], ascending=[True, False]).reset_index(drop=True)


def _level_name(model: SegmentModel, onehot_name: str) -> str:
    """OneHotEncoder names 'industry_manufacturing'; render 'industry = manufacturing'."""
    for col in sorted(model.categorical_features_, key=len, reverse=True):
        if onehot_name.startswith(col + "_"):
            return f"{col} = {onehot_name[len(col) + 1 :]}"
    return onehot_name


def top_differences(differences: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` features where each cluster differs most from the book."""
    return differences.groupby("cluster", group_keys=False).head(n).drop(columns="abs_std_diff")


def cluster_names(differences: pd.DataFrame, n_traits: int = 2) -> pd.Series:
    """Readable names from each cluster's strongest traits, e.g. 'S1: arr high, size_band = enterprise'.

    The strongest number and the strongest over-represented category level come first, so a name
    does not spend both words on two measures of the same thing (users and logins).
    """
    names = {}
    for c, part in differences.groupby("cluster"):
        is_level = part["feature"].str.contains(" = ")
        numbers = [
            f"{f} {'high' if d > 0 else 'low'}"
            for f, d in zip(part.loc[~is_level, "feature"], part.loc[~is_level, "std_diff"])
        ]
        levels = part.loc[is_level & (part["std_diff"] > 0), "feature"].tolist()
        ordered = numbers[:1] + levels[:1] + numbers[1:] + levels[1:]
        names[c] = f"S{c}: " + ", ".join(ordered[:n_traits])
    return pd.Series(names, name="cluster_name").rename_axis("cluster")


def heatmap_frame(differences: pd.DataFrame, n_per_cluster: int = 4, clip: float = 3.0) -> pd.DataFrame:
    """Cluster x feature matrix of std_diff for the features that matter most to any cluster."""
    keep = top_differences(differences, n_per_cluster)["feature"].unique()
    mat = differences[differences["feature"].isin(keep)].pivot(index="cluster", columns="feature", values="std_diff")
    return mat[list(keep)].clip(-clip, clip)


def plot_profile_heatmap(differences: pd.DataFrame, n_per_cluster: int = 4, ax=None):
    """Seaborn heatmap of :func:`heatmap_frame` (red above the book, blue below)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    mat = heatmap_frame(differences, n_per_cluster)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(max(7.0, 1.0 + 0.8 * mat.shape[1]), 16), max(3.0, 1.2 + 0.6 * mat.shape[0])))
    sns.heatmap(mat, cmap="RdBu_r", center=0, annot=True, fmt=".1f", cbar_kws={"label": "difference (SD)"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("cluster")
    ax.tick_params(axis="x", rotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


def trailing_renewals(source: RunInputs, model: SegmentModel, as_of: dt.date, active_only: bool, window_days: int):
    """Clusters of ``window_days`` before as-of (saved model, no refit) and the renewal decisions since.

    Today's active customers have renewed every past contract by construction (those who did not
    are gone), so a cluster's renewal rate is measured forward: of the customers it held a year
    ago, the share of contracts decided since then that renewed. The features of that earlier date
    come from ``source`` (built once per run). Returns (labels, renewals, note); labels and renewals
    are None when the book does not reach back that far.
    """
    start = require_date(as_of) - dt.timedelta(days=int(window_days))
    try:
        earlier = clustering_population(source.features_at(start), active_only)
    except InsufficientDataError:
        return None, None, f"No renewal rate: no customer was active on {start}, {window_days} days before as-of."
    labels = model.predict(earlier)
    renewals = renewal_history(source.book.df("contracts"), as_of, window_days)
    note = (
        f"Renewal rate: customers of each cluster on {start} (assigned with the same model), contracts "
        f"decided from then to as-of ({int(renewals['decided'].sum()):,} decisions)."
    )
    return labels, renewals, note


def cluster_renewal_rate(labels: pd.Series, renewals: pd.DataFrame) -> pd.DataFrame:
    """Renewed / decided contracts pooled over each cluster's accounts."""
    sums = renewals.reindex(labels.index).fillna(0).groupby(labels).sum()
    return pd.DataFrame(
        {
            "renewal_rate": sums["renewed"] / sums["decided"].replace(0, np.nan),
            "decided_contracts": sums["decided"].astype(int),
        }
    )


def profile_clusters(
    labels: pd.Series,
    value: pd.Series,
    clv: pd.Series | None = None,
    renewals: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    top_tiers: Iterable[str] = (),
    renewal_labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Size, share of value / CLV, renewal rate and top-tier share per cluster.

    ``renewals`` is :func:`renewal_history`, pooled over ``renewal_labels`` (default ``labels``;
    see :func:`trailing_renewals` for why the clusters of a year ago are the right ones).
    Optional inputs that are None give no column rather than a made-up one.
    """
    frame = pd.DataFrame({"cluster": labels, "value": value.reindex(labels.index)})
    g = frame.groupby("cluster")
    out = pd.DataFrame({"n_accounts": g.size()})
    out["share_accounts"] = out["n_accounts"] / out["n_accounts"].sum()
    out["mean_value"] = g["value"].mean()
    out["share_value"] = g["value"].sum() / frame["value"].sum()
    if clv is not None:
        c = clv.reindex(labels.index)
        out["share_clv"] = c.groupby(labels).sum() / c.sum()
    if renewals is not None:
        out = out.join(cluster_renewal_rate(labels if renewal_labels is None else renewal_labels, renewals))
    if tiers is not None:
        top = tiers.reindex(labels.index).isin(list(top_tiers))
        out["top_tier_share"] = top.groupby(labels).mean()
    return out
