"""Customer tiers: value pyramid, A/B/C/D, Pareto ABC, flags, playbooks and tier migration.

Tier names, cut points and the service playbook per tier come from ``scoring.tiers`` in the
config (typed by ``analysis.params.TiersParams``; the functions take those sections). Tiers
are stored as stable codes (``key_important``, ``A``...) in ordered categoricals (best first);
labels in English or Chinese are looked up from the config.
Ties in value are broken by the order of the input rows, so a run is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import DataContractError, InsufficientDataError
from analysis.params import PotentialFlagParams, TierSchemeParams, TiersParams, UnprofitableFlagParams
from analysis.scoring.score import CONTRIB

NEW, GONE = "(new)", "(gone)"


def _categorical(idx: np.ndarray, codes: Sequence[str], index: pd.Index, valid: np.ndarray) -> pd.Series:
    out = pd.Categorical.from_codes(np.where(valid, idx, -1), categories=list(codes), ordered=True)
    return pd.Series(out, index=index)


def _values(value: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    v = pd.to_numeric(value, errors="coerce").to_numpy(dtype=float)
    return v, np.isfinite(v)


def quantile_tiers(value: pd.Series, shares: Sequence[float], codes: Sequence[str]) -> pd.Series:
    """Top ``shares[0]`` of accounts by value get ``codes[0]``, the next ``shares[1]`` the next...

    Accounts without a value get no tier (NaN) and are not counted in the shares.
    """
    v, valid = _values(value)
    order = np.argsort(-np.where(valid, v, -np.inf), kind="stable")
    position = np.empty(len(v), dtype=np.int64)
    position[order] = np.arange(len(v))
    # Cut at ceil(share x n) so that the top tier is never empty; rounding guards float noise.
    bounds = np.ceil(np.round(np.cumsum(shares)[:-1] * valid.sum(), 9))
    return _categorical(np.searchsorted(bounds, position, side="right"), codes, value.index, valid)


def threshold_tiers(score: pd.Series, thresholds: Sequence[float], codes: Sequence[str]) -> pd.Series:
    """``codes[0]`` for score >= thresholds[0], ``codes[1]`` for score >= thresholds[1], ..."""
    v, valid = _values(score)
    idx = np.searchsorted(-np.asarray(thresholds, dtype=float), -np.where(valid, v, 0), side="left")
    return _categorical(idx, codes, score.index, valid)


def pareto_classes(
    value: pd.Series, shares: Sequence[float] = (0.80, 0.15, 0.05), codes: Sequence[str] = ("A", "B", "C")
) -> pd.Series:
    """ABC by cumulative share of value: A holds the first 80% of value (the account that
    crosses 80% included), B the next 15%, C the rest. Negative values count as 0."""
    v, valid = _values(value)
    positive = np.where(valid, np.clip(v, 0, None), 0.0)
    total = positive.sum()
    if total <= 0:
        raise InsufficientDataError(f"Pareto ABC needs a positive total of '{value.name}'; the total is {total}.")
    order = np.argsort(-positive, kind="stable")
    before = np.empty(len(v))
    before[order] = (np.cumsum(positive[order]) - positive[order]) / total
    bounds = np.round(np.cumsum(shares)[:-1], 12)  # 0.8 + 0.15 is 0.9500000000000001 in floats
    idx = np.searchsorted(bounds, np.round(before, 12), side="right")  # exactly 80% before: A is full
    idx[positive == 0] = len(codes) - 1  # nothing to contribute: last class, not a tie on the boundary
    return _categorical(idx, codes, value.index, valid)


def tiers_for(scheme: TierSchemeParams, value: pd.Series) -> pd.Series:
    """Apply a tier scheme (``params.scoring.tiers.pyramid``, ``.abcd``...) to a value (or score) column."""
    if scheme.method == "thresholds":
        return threshold_tiers(value, scheme.thresholds, scheme.codes)
    return quantile_tiers(value, scheme.shares, scheme.codes)


# --- flags ------------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str, what: str) -> pd.Series:
    if name not in frame.columns:
        raise DataContractError(
            f"{what} uses column {name!r}, which is not in the table; available: {sorted(map(str, frame.columns))}."
        )
    return pd.to_numeric(frame[name], errors="coerce")


def potential_flag(frame: pd.DataFrame, cfg: PotentialFlagParams) -> pd.Series:
    """Low value now (below a quantile of ``value``) and high ``predictor`` (growth or CLV)."""
    value = _column(frame, cfg.value, "The potential flag")
    pred = _column(frame, cfg.predictor, "The potential flag")
    low = value <= value.quantile(cfg.value_below_quantile)
    # and above the lowest value: a predictor equal for everyone (e.g. CLV proportional to revenue)
    # marks no one
    high = (pred >= pred.quantile(cfg.predictor_above_quantile)) & (pred > pred.min())
    return (low & high).rename("flag_potential")


def unprofitable_flag(frame: pd.DataFrame, cfg: UnprofitableFlagParams) -> tuple[pd.Series, pd.Series]:
    """Negative margin after cost to serve, or chronically late payment; returns (flag, reason)."""
    margin = _column(frame, cfg.margin, "The unprofitable flag")
    cost = float(cfg.cost_to_serve_fixed)
    per_ticket = float(cfg.cost_to_serve_per_ticket)
    if per_ticket:
        cost = cost + per_ticket * _column(frame, "tickets_12m", "Cost to serve").fillna(0)
    loss = (margin - cost) < 0
    late = pd.Series(False, index=frame.index)
    if "payment_delay_days" in frame.columns:
        late |= _column(frame, "payment_delay_days", "Late payment") >= float(cfg.late_days)
    if "late_payment_share" in frame.columns:
        late |= _column(frame, "late_payment_share", "Late payment") >= float(cfg.late_share)
    text = np.array(
        [
            "",
            "negative margin after cost to serve",
            "chronically late payment",
            "negative margin after cost to serve; chronically late payment",
        ],
        dtype=object,
    )
    reason = text[loss.to_numpy(dtype=np.int8) + 2 * late.to_numpy(dtype=np.int8)]
    return (loss | late).rename("flag_unprofitable"), pd.Series(reason, index=frame.index, name="unprofitable_reason")


# --- everything at once -----------------------------------------------------------------------


def map_codes(codes: pd.Series, mapping: Mapping, missing=None) -> pd.Series:
    """Map a categorical of tier codes to text through its categories (a million rows, a few lookups)."""
    cats = list(codes.cat.categories)
    lookup = np.array([mapping.get(c, missing) for c in cats] + [missing], dtype=object)
    return pd.Series(lookup[codes.cat.codes.to_numpy()], index=codes.index)  # code -1 (no tier) -> missing


def playbook(codes: pd.Series, playbooks: Mapping[str, Mapping[str, str]], language: str) -> pd.Series:
    """The recommended service playbook per tier code (``params.scoring.tiers.playbooks``), in ``language``."""
    text = {code: entry.get(language) or entry.get("en", "") for code, entry in playbooks.items()}
    return map_codes(codes, text, "").rename("playbook")


def assign_tiers(
    scored: pd.DataFrame,
    features: pd.DataFrame,
    params: TiersParams,
    language: str,
    predictor: pd.Series | None = None,
) -> pd.DataFrame:
    """Pyramid tier, A/B/C/D, Pareto ABC, flags and playbook for every scored account.

    ``params`` is ``params.scoring.tiers``. ``predictor`` (for example CLV) replaces the
    configured potential predictor when given.
    """
    pyramid, abcd, abc = params.pyramid, params.abcd, params.abc
    potential, unprofitable = params.flags.potential, params.flags.unprofitable
    table = _needed_columns(
        scored,
        features,
        [
            pyramid.value,
            abcd.value,
            abc.value,
            potential.value,
            potential.predictor,
            unprofitable.margin,
            "tickets_12m",
            "payment_delay_days",
            "late_payment_share",
        ],
    )
    out = pd.DataFrame(index=scored.index)
    for name, sch in (("tier", pyramid), ("abcd", abcd)):
        out[name] = tiers_for(sch, _column(table, sch.value, f"Tiering '{name}'"))
        out[f"{name}_label"] = map_codes(out[name], sch.labels(language))
    out["abc"] = pareto_classes(_column(table, abc.value, "Pareto ABC"), abc.shares, abc.codes)
    if predictor is not None:
        # CLV per unit of today's value: lifetime value grows with revenue, so CLV itself would mark
        # only accounts that are already large; its multiple of today's value marks the ones whose
        # expected future is large for what they pay now (long expected life, growth).
        today = _column(table, potential.value, "The potential flag")
        # (rounded: CLV exactly proportional to revenue must give one multiple, not float noise)
        table["_predictor"] = (predictor.reindex(table.index) / today.where(today > 0)).round(9)
        potential = potential.updated(predictor="_predictor")
    out["flag_potential"] = potential_flag(table, potential)
    out["flag_unprofitable"], out["unprofitable_reason"] = unprofitable_flag(table, unprofitable)
    out["playbook"] = playbook(out["tier"], params.playbooks, language)
    return out


def _needed_columns(scored: pd.DataFrame, features: pd.DataFrame, names) -> pd.DataFrame:
    """Just the columns the tiering uses, from the scores first, else the features (aligned on the
    scored accounts): joining all 50 feature columns of a million accounts would cost more than tiering."""
    aligned = features if features.index.equals(scored.index) else None
    cols = {}
    for name in dict.fromkeys(n for n in names if isinstance(n, str)):
        if name in scored.columns:
            cols[name] = scored[name]
        elif name in features.columns:
            if aligned is None:
                aligned = features.reindex(scored.index)
            cols[name] = aligned[name]
    return pd.DataFrame(cols, index=scored.index)


def tier_summary(tiers: pd.Series, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Accounts per tier and, for each value column, its total and share of the book."""
    frame = pd.DataFrame({"tier": tiers})
    out = frame.groupby("tier", observed=False, dropna=False).size().rename("accounts").to_frame()
    out["share_accounts"] = out["accounts"] / out["accounts"].sum()
    for col in [] if values is None else values.columns:
        sums = values[col].groupby(tiers, observed=False, dropna=False).sum()
        out[col] = sums
        out[f"share_{col}"] = sums / values[col].sum()
    return out


# --- migration --------------------------------------------------------------------------------


@dataclass
class Migration:
    counts: pd.DataFrame  # rows: tier before (plus "(new)"), columns: tier after (plus "(gone)")
    shares: pd.DataFrame  # each row divided by its total
    moves: pd.DataFrame  # one row per account that changed tier, with component changes

    @property
    def upgrades(self) -> pd.DataFrame:
        return self.moves[self.moves["direction"] == "up"]

    @property
    def downgrades(self) -> pd.DataFrame:
        return self.moves[self.moves["direction"] == "down"]


def _reasons(deltas: pd.DataFrame, sign: np.ndarray, top: int, min_points: float = 0.05) -> list[str]:
    """The components that pushed each account in the direction it moved, largest first."""
    names = np.array([c[len(CONTRIB) :] for c in deltas.columns], dtype=object)
    values = deltas.to_numpy(dtype=float)
    out = []
    for row, s in zip(values, sign):
        push = np.nan_to_num(row * s, nan=0.0)
        order = [j for j in np.argsort(-push)[:top] if push[j] >= min_points]
        out.append(
            ", ".join(f"{names[j]} {row[j]:+.1f}" for j in order)
            or "none of its own components: other accounts' scores moved past it (tiers are relative)"
        )
    return out


def migration(
    before: pd.DataFrame, after: pd.DataFrame, codes: Sequence[str], tier_col: str = "tier", top: int = 3
) -> Migration:
    """Transition matrix between two snapshots and, for every account that moved, the score
    components (``contrib_`` points) that moved it, largest push in the direction of the move first.

    Accounts in only one snapshot appear as ``(new)`` / ``(gone)``; nobody is dropped.
    """
    for name, frame in (("before", before), ("after", after)):
        if tier_col not in frame.columns:
            raise DataContractError(f"The {name} snapshot has no {tier_col!r} column.")
    codes = list(codes)
    b = before[tier_col].astype(object).reindex(before.index.union(after.index)).fillna(NEW)
    a = after[tier_col].astype(object).reindex(b.index).fillna(GONE)
    counts = pd.crosstab(
        pd.Categorical(b, categories=codes + [NEW]),
        pd.Categorical(a, categories=codes + [GONE]),
        dropna=False,
        rownames=["tier_before"],
        colnames=["tier_after"],
    )
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    rank = {c: i for i, c in enumerate(codes)}
    both = b.index[b.isin(codes) & a.isin(codes)]
    moved = both[b[both].map(rank).to_numpy() != a[both].map(rank).to_numpy()]
    step = a[moved].map(rank).to_numpy() - b[moved].map(rank).to_numpy()
    moves = pd.DataFrame(
        {"tier_before": b[moved], "tier_after": a[moved], "direction": np.where(step < 0, "up", "down")}, index=moved
    )
    if "score" in before.columns and "score" in after.columns:
        moves["score_before"] = before.loc[moved, "score"]
        moves["score_after"] = after.loc[moved, "score"]
        moves["score_change"] = moves["score_after"] - moves["score_before"]
    comps = [c for c in before.columns if c.startswith(CONTRIB) and c in after.columns]
    if comps:
        deltas = after.loc[moved, comps] - before.loc[moved, comps]
        moves = moves.join(deltas.rename(columns=lambda c: "change_" + c[len(CONTRIB) :]))
        moves["moved_by"] = _reasons(deltas, np.where(step < 0, 1.0, -1.0), top)
    moves.index.name = before.index.name
    return Migration(counts, shares, moves)


def join_optional(
    frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame | None], key: str = "account_id"
) -> tuple[pd.DataFrame, list[str]]:
    """Join tables written by earlier notebooks of the run when present, saying which were absent.

    Columns that ``frame`` already has get the table name as a suffix; nothing is overwritten.
    """
    notes = []
    for name, table in tables.items():  # a handful of optional tables, not a computation
        if table is None:
            notes.append(f"Table '{name}' is not in this run: its columns are left out.")
            continue
        other = table.set_index(key) if key in table.columns else table
        frame = frame.join(other, how="left", rsuffix=f"_{name}")
        notes.append(f"Joined '{name}': {other.index.isin(frame.index).sum()} of {len(frame)} accounts matched.")
    return frame, notes


def predictor_from(table: pd.DataFrame | None, column: str, key: str = "account_id") -> pd.Series | None:
    """A column of an earlier notebook's table (for example CLV) indexed by account, or None."""
    if table is None or column not in table.columns:
        return None
    return (table.set_index(key) if key in table.columns else table)[column]
