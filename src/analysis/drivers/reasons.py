"""Why each open account may or may not renew: its factors pushing renewal down and up.

The contribution of factor *j* is ``beta_j x (x_j - mean_j)`` on the log-odds scale (category
dummies summed into their factor); contributions plus ``baseline_log_odds_`` equal the model's
log-odds. Only factors with a clear effect give reasons: a noise factor is not a reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.drivers.outcome import ACCOUNT

if TYPE_CHECKING:
    from analysis.drivers.logit import RenewalDrivers

REASON_COLUMNS = [
    "account_id",
    "next_renewal_date",
    "renewal_probability",
    "side",
    "rank",
    "factor",
    "value",
    "typical",
    "contribution",
    "odds_multiplier",
    "sentence",
]


def account_reasons(model: RenewalDrivers, features: pd.DataFrame, n: int, significant_only: bool) -> pd.DataFrame:
    """The top ``n`` factors pushing each row's renewal down and up, with contributions (long table).

    Only factors with a clear effect (BH-corrected p < alpha) give reasons unless
    ``significant_only`` is False.
    """
    contrib = model.contributions(features)
    if significant_only:
        clear = model.summary_.groupby("variable")["direction"].apply(lambda d: (d != "no clear effect").any())
        contrib = contrib[[c for c in contrib.columns if clear.get(c, False)]]
    proba = model.predict_proba(features).to_numpy()
    index_name = features.index.name or "row"
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
    long = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"_pos": [], "side": [], "rank": [], "factor": [], "contribution": []})
    )
    long.insert(0, index_name, features.index[long["_pos"].to_numpy(int)])
    long["renewal_probability"] = proba[long["_pos"].to_numpy(int)]
    long["odds_multiplier"] = np.exp(long["contribution"].astype(float))
    long["value"] = ""
    for name, part in long.groupby("factor", sort=False):  # one lookup per factor, not per row
        long.loc[part.index, "value"] = _value_texts(model, features, name, part["_pos"].to_numpy(int))
    long["typical"] = [_typical_text(model, f) for f in long["factor"]]
    long["sentence"] = [
        f"{model.label_of(f)} is {v} (typical {t}): {'lowers' if s == 'down' else 'raises'} the odds of "
        f"renewal x{m:.2f}"
        for f, v, t, s, m in zip(long["factor"], long["value"], long["typical"], long["side"], long["odds_multiplier"])
    ]
    cols = [index_name, *REASON_COLUMNS[2:]]
    return long.sort_values(["_pos", "side", "rank"])[cols].reset_index(drop=True)


def _value_texts(model: RenewalDrivers, features: pd.DataFrame, name: str, positions: np.ndarray) -> list[str]:
    """The raw values shown next to each reason (yes/no for 0/1 factors, the level for categories)."""
    f = model.design_.factors_[name]
    if f.kind == "group":
        values = model.design_.value(features.iloc[positions], f).to_numpy()
    else:
        values = features[name].to_numpy()[positions]
    if f.kind == "category":
        return [str(v) for v in values]
    numbers = pd.to_numeric(pd.Series(values).astype("float64"), errors="coerce")
    if f.kind == "binary":
        return ["missing" if pd.isna(v) else "yes" if v == 1 else "no" for v in numbers]
    return ["missing" if pd.isna(v) else f"{v:.3g}" for v in numbers]


def _typical_text(model: RenewalDrivers, name: str) -> str:
    f = model.design_.factors_[name]
    if f.kind == "category":
        return f"reference {f.levels[0]}"
    if f.kind == "binary":
        return f"{f.raw_mean:.0%} have it"
    return f"{f.raw_mean:.3g}"


def open_account_reasons(model: RenewalDrivers | None, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Top reasons for every account with an open contract in an as-of snapshot
    (``analysis.data.features.build_features``; index account_id). Empty when there is no model."""
    if model is None or snapshot.empty:
        return pd.DataFrame(columns=REASON_COLUMNS)
    open_ = snapshot[snapshot["next_renewal_date"].notna()] if "next_renewal_date" in snapshot else snapshot
    if open_.index.name != ACCOUNT:
        open_ = open_.rename_axis(ACCOUNT)
    reasons = model.reasons(open_)
    if "next_renewal_date" in open_:
        reasons.insert(1, "next_renewal_date", open_["next_renewal_date"].reindex(reasons[ACCOUNT]).to_numpy())
    return reasons.reindex(columns=REASON_COLUMNS)
