"""Why each open account may or may not renew: its factors pushing renewal down and up.

The contribution of factor *j* is ``beta_j x (x_j - mean_j)`` on the log-odds scale (category
dummies summed into their factor); contributions plus ``baseline_log_odds_`` equal the model's
log-odds. Only factors with a clear effect give reasons (the facade passes the confirmed ones that
do not flip between segments): a noise factor is not a reason.

Each reason is structured so that a report can word it without parsing: the account's ``value``
and the ``typical`` value at which the factor contributes nothing (for a category, the account's
``level`` is compared with the book's mix of levels; ``typical_level`` is the most common one), the
``direction``, the odds multiplier and ``renewal_change``, the change in the account's renewal
probability against the typical value (natural units: 0.06 = 6 points).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.drivers.outcome import ACCOUNT

if TYPE_CHECKING:
    from analysis.drivers.design import Factor
    from analysis.drivers.logit import RenewalDrivers

REASON_COLUMNS = [
    "account_id",
    "next_renewal_date",
    "renewal_probability",
    "side",
    "rank",
    "factor",
    "role",
    "value",
    "typical",
    "level",
    "typical_level",
    "direction",
    "contribution",
    "odds_multiplier",
    "renewal_change",
    "sentence",
]


def account_reasons(
    model: RenewalDrivers,
    features: pd.DataFrame,
    n: int,
    significant_only: bool,
    factors: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The top ``n`` factors pushing each row's renewal down and up, with contributions (long table).

    ``factors`` names the factors allowed to give reasons; without it, the factors with a clear
    effect (BH-corrected p < alpha), or every factor when ``significant_only`` is False.
    ``roles``: factor -> lever / symptom / trait (``drivers.factor_roles``).
    """
    contrib = model.contributions(features)
    if factors is not None:
        contrib = contrib[[c for c in contrib.columns if c in set(factors)]]
    elif significant_only:
        clear = model.summary_.groupby("variable")["direction"].apply(lambda d: (d != "no clear effect").any())
        contrib = contrib[[c for c in contrib.columns if clear.get(c, False)]]
    proba = model.predict_proba(features).to_numpy()
    index_name = features.index.name or "row"
    long = _top_per_row(contrib, n)
    positions = long["_pos"].to_numpy(int)
    long.insert(0, index_name, features.index[positions])
    long["renewal_probability"] = proba[positions]
    contribution = long["contribution"].astype(float).to_numpy()
    long["odds_multiplier"] = np.exp(contribution)
    eta = np.log(proba[positions]) - np.log1p(-proba[positions])
    long["renewal_change"] = proba[positions] - expit(eta - contribution)
    long["direction"] = np.where(long["side"] == "down", "lowers renewal", "raises renewal")
    long["role"] = [(roles or {}).get(f, "trait") for f in long["factor"]]
    for column in ("value", "typical"):
        long[column] = np.nan
    for column in ("level", "typical_level"):
        long[column] = None
    for name, part in long.groupby("factor", sort=False):  # one lookup per factor, not per row
        factor = model.design_.factors_[name]
        value, level = _values(model, features, factor, part["_pos"].to_numpy(int))
        long.loc[part.index, "value"], long.loc[part.index, "level"] = value, level
        long.loc[part.index, "typical"] = _typical(factor)
        long.loc[part.index, "typical_level"] = _most_common(model, factor)
    long["sentence"] = [_sentence(model, row) for row in long.itertuples()]
    cols = [index_name, *REASON_COLUMNS[2:]]
    return long.sort_values(["_pos", "side", "rank"])[cols].reset_index(drop=True)


def _top_per_row(contrib: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` most negative (side down) and most positive (up) contributions of each row."""
    values = contrib.to_numpy()
    names = np.asarray(contrib.columns)
    parts = []
    for side, order in (("down", np.argsort(values, axis=1)), ("up", np.argsort(-values, axis=1))):
        for rank in range(min(n, values.shape[1])):
            col = order[:, rank]
            c = values[np.arange(len(values)), col]
            keep = np.flatnonzero(c < 0 if side == "down" else c > 0)
            parts.append(
                pd.DataFrame(
                    {"_pos": keep, "side": side, "rank": rank + 1, "factor": names[col[keep]], "contribution": c[keep]}
                )
            )
    empty = {"_pos": np.array([], dtype=int), "side": [], "rank": [], "factor": [], "contribution": []}
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(empty)


def _values(
    model: RenewalDrivers, features: pd.DataFrame, factor: Factor, positions: np.ndarray
) -> tuple[np.ndarray, list]:
    """The account's raw value (NaN for a category or a missing value) and its level (categories)."""
    if factor.kind == "category":
        levels = model.design_.value(features.iloc[positions], factor).astype(str).to_numpy()
        return np.full(len(positions), np.nan), list(levels)
    if factor.kind == "group":
        values = model.design_.value(features.iloc[positions], factor).to_numpy(float)
    else:
        values = pd.to_numeric(features[factor.name].iloc[positions].astype("float64"), errors="coerce").to_numpy()
    return values, [None] * len(positions)


def _typical(factor: Factor) -> float:
    """The raw value at which a factor contributes nothing: the fitting mean of its model scale
    (for a logged count ``expm1`` of the mean log, for a 0/1 factor the share that has it)."""
    if factor.kind == "category":
        return np.nan
    return float(np.expm1(factor.center)) if factor.log else float(factor.center)


def _most_common(model: RenewalDrivers, factor: Factor) -> str | None:
    """A category's most common level in the fitting data (the reference holds what the dummies do not)."""
    if factor.kind != "category":
        return None
    shares = {factor.level_of(c): float(model.column_means_[c]) for c in factor.columns}
    shares[factor.levels[0]] = 1 - sum(shares.values())
    return max(shares, key=shares.get)


def _number(value: float, factor: Factor) -> str:
    if pd.isna(value):
        return "missing"
    if factor.kind == "binary":
        return "yes" if value == 1 else "no"
    return f"{value:.3g}"


def _sentence(model: RenewalDrivers, row) -> str:
    factor = model.design_.factors_[row.factor]
    if factor.kind == "category":
        value, typical = row.level, f"the book's mix, mostly {row.typical_level}"
    else:
        value = _number(row.value, factor)
        typical = f"{row.typical:.0%} have it" if factor.kind == "binary" else f"{row.typical:.3g}"
    way = "lowers" if row.side == "down" else "raises"
    return (
        f"{model.label_of(row.factor)} is {value} (typical {typical}): {way} the chance of renewal by "
        f"{abs(row.renewal_change) * 100:.1f} points (odds of renewal x{row.odds_multiplier:.2f})"
    )


def open_account_reasons(
    model: RenewalDrivers | None,
    snapshot: pd.DataFrame,
    factors: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Top reasons for every account with an open contract in an as-of snapshot
    (``analysis.data.features.build_features``; index account_id), from ``factors`` (default: the
    clear ones). Empty when there is no model or no factor may give reasons."""
    if model is None or snapshot.empty or (factors is not None and not factors):
        return pd.DataFrame(columns=REASON_COLUMNS)
    open_ = snapshot[snapshot["next_renewal_date"].notna()] if "next_renewal_date" in snapshot else snapshot
    if open_.index.name != ACCOUNT:
        open_ = open_.rename_axis(ACCOUNT)
    reasons = account_reasons(model, open_, model.n_reasons, True, factors, roles)
    if "next_renewal_date" in open_:
        reasons.insert(1, "next_renewal_date", open_["next_renewal_date"].reindex(reasons[ACCOUNT]).to_numpy())
    return reasons.reindex(columns=REASON_COLUMNS)
