"""Lookalike upgrade candidates: accounts outside the top tiers that sit in or near a high-value
cluster or match a top-tier rule, with the gap in each trait."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import InsufficientDataError
from analysis.segments.features import as_float, is_numeric
from analysis.segments.model import SegmentModel
from analysis.segments.profiles import cluster_differences
from analysis.segments.rules import TraitRules, format_number


def high_value_clusters(labels: pd.Series, is_top: pd.Series, min_top_share: float) -> list[int]:
    """Clusters where at least ``min_top_share`` of accounts are top-tier (else the best one)."""
    share = is_top.reindex(labels.index, fill_value=False).astype(bool).groupby(labels).mean()
    chosen = share[share >= min_top_share].index.tolist()
    return sorted(chosen) if chosen else [int(share.idxmax())]


def upgrade_candidates(
    features: pd.DataFrame,
    tiers: pd.Series,
    is_top: pd.Series,
    model: SegmentModel,
    rules: TraitRules | None = None,
    high_value: Sequence[int] | None = None,
    *,
    n: int,
    n_traits: int,
    min_top_share: float,
) -> pd.DataFrame:
    """Accounts outside the top tiers that sit in or near a high-value cluster or match a rule:
    at most ``n`` (``segments.n_candidates``), gaps on ``n_traits`` traits (``segments.n_gap_traits``);
    ``high_value`` None: the clusters at least ``min_top_share`` top-tier (:func:`high_value_clusters`).

    Ranked: in a high-value cluster or matching a rule first, then by distance (standard units)
    to the nearest high-value centroid. ``gap_<trait>`` = what the top-tier accounts of that
    cluster typically have (median) minus the account's value, in the trait's own units.
    """
    labels = model.predict(features)
    is_top = is_top.reindex(features.index, fill_value=False).astype(bool)
    others = features.index[~is_top]
    if len(others) == 0:
        raise InsufficientDataError("Every account is already top-tier; there is nobody to upgrade.")
    hv = list(high_value) if high_value is not None else high_value_clusters(labels, is_top, min_top_share)
    dist = model.distances(features.loc[others])[hv]
    out = pd.DataFrame(index=others)
    out["tier"] = tiers.reindex(others)
    out[model.value_column] = features.loc[others, model.value_column]
    out["cluster"] = labels.loc[others]
    out["target_cluster"] = dist.idxmin(axis=1).astype(int)
    out["distance"] = dist.min(axis=1)
    out["in_high_value_cluster"] = out["cluster"].isin(hv)
    out["matched_rule"] = rules.first_match(features.loc[others]) if rules is not None else None
    out["reason"] = np.where(
        out["in_high_value_cluster"],
        "in high-value cluster S" + out["cluster"].astype(str),
        np.where(
            out["matched_rule"].notna(),
            "matches rule " + out["matched_rule"].astype(str),
            "near cluster S" + out["target_cluster"].astype(str),
        ),
    )
    out["priority"] = (out["in_high_value_cluster"] | out["matched_rule"].notna()).astype(int)
    out = out.sort_values(["priority", "distance"], ascending=[False, True], kind="stable").head(n)
    traits = gap_traits(model, features, labels, hv, rules, n_traits)
    gaps = trait_gaps(features, labels, is_top, out, traits)
    return pd.concat([out.drop(columns="priority"), gaps], axis=1).rename_axis(features.index.name or "account_id")


def gap_traits(
    model: SegmentModel,
    features: pd.DataFrame,
    labels: pd.Series,
    high_value: Sequence[int],
    rules: TraitRules | None,
    n_traits: int,
) -> list[str]:
    """Traits to report gaps on: those the rules use, then the high-value clusters' strongest ones."""
    diffs = cluster_differences(model, features, labels)
    ranked = diffs[diffs["cluster"].isin(high_value)].sort_values("abs_std_diff", ascending=False)["feature"]
    from_rules = rules.features_used_ if rules is not None else []
    base = [f.split(" = ")[0] for f in ranked]
    return list(dict.fromkeys(from_rules + base))[: max(n_traits, len(from_rules))]


def trait_gaps(
    features: pd.DataFrame, labels: pd.Series, is_top: pd.Series, candidates: pd.DataFrame, traits: Sequence[str]
) -> pd.DataFrame:
    """Per candidate and trait: target-cluster top-tier median (or mode) against the account's value."""
    rows = {}
    for target, idx in candidates.groupby("target_cluster").groups.items():
        members = labels.index[(labels == target) & is_top.reindex(labels.index, fill_value=False)]
        if len(members) == 0:
            members = labels.index[labels == target]
        ref = features.loc[members]
        for t in traits:
            col = features.loc[idx, t]
            if is_numeric(features[t]):
                rows.setdefault(f"gap_{t}", {}).update((as_float(ref[t]).median() - as_float(col)).to_dict())
            else:
                mode = ref[t].mode()
                target_level = mode.iloc[0] if len(mode) else None
                rows.setdefault(f"gap_{t}", {}).update(
                    {i: (None if v == target_level else f"{v} -> {target_level}") for i, v in col.items()}
                )
    gaps = pd.DataFrame(rows).reindex(candidates.index)
    gaps["gap_summary"] = [_gap_text(row) for _, row in gaps.iterrows()]
    return gaps


def _gap_text(row: pd.Series) -> str:
    parts = []
    for name, v in row.items():
        trait = name[len("gap_") :]
        if isinstance(v, str):
            parts.append(f"{trait}: {v}")
        elif v is not None and pd.notna(v) and v != 0:
            parts.append(f"{trait} {'+' if v > 0 else '-'}{format_number(abs(float(v)))}")
    return "; ".join(parts) if parts else "no gap on the listed traits"
