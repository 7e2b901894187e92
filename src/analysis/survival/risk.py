"""Per-account churn risk: probabilities before the next renewal and within the horizons, the
factors that raise each account's hazard most, and the renewals due soon ranked by value at risk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from analysis.data.asof import require_date

MIN_SHOWN_EFFECT = np.log(1.01)  # a risk factor is named only if it raises the hazard by 1% or more
RISK_WORDS = ["", " yes", " no", " high", " low"]


def name_risk_factors(contrib: pd.DataFrame, values: np.ndarray, binary: Sequence[str], top_n: int) -> pd.Series:
    """Per row the ``top_n`` columns of ``contrib`` (beta * (x - mean)) that raise the log hazard
    most, as text: 'adoption_90d low (x1.45), size_band=mid-market (x1.20)'. ``values`` are the
    encoded covariates (dummies name only the level an account has, flags say yes / no)."""
    columns = np.array(contrib.columns, dtype=object)
    dummy = np.array(["=" in c for c in columns])
    is_binary = np.isin(columns, list(binary))
    c = np.where(dummy & (values == 0), 0.0, contrib.to_numpy())  # name levels the account has, not lacks
    top = np.argsort(-c, axis=1)[:, :top_n]
    rows = np.arange(len(c))[:, None]
    value, effect = values[rows, top], c[rows, top]
    # Word: 0 as is (a level), 1 yes, 2 no, 3 high, 4 low. Each (column, word, multiplier) is
    # formatted once: a million rows share a few thousand texts.
    word = np.where(dummy[top], 0, np.where(is_binary[top], np.where(value > 0.5, 1, 2), np.where(value > 0, 3, 4)))
    mult = np.minimum(np.round(np.exp(effect) * 100), 99_999).astype(np.int64)
    key = np.where(effect > MIN_SHOWN_EFFECT, (top * 5 + word) * 100_000 + mult, -1)
    pieces, code = np.unique(key, return_inverse=True)
    text = np.array(
        [
            "" if k < 0 else f"{columns[k // 500_000]}{RISK_WORDS[k // 100_000 % 5]} (x{k % 100_000 / 100:.2f})"
            for k in pieces
        ],
        dtype=StringDType(),
    )[code.reshape(len(c), -1)]
    joined = text[:, 0]
    for j in range(1, text.shape[1]):  # numpy's vectorised string add, at most top_n - 1 times
        shown = np.strings.str_len(text[:, j]) > 0
        joined = np.strings.add(joined, np.where(shown, np.strings.add(", ", text[:, j]), ""))
    return pd.Series(joined.astype(object), index=contrib.index, name="top_risk_factors")


def churn_risk(
    model,
    features: pd.DataFrame,
    horizons: Sequence[int],
    top_n: int,
    tenure_col: str = "tenure_days",
    renewal_col: str = "days_to_next_renewal",
) -> pd.DataFrame:
    """Per active account: P(churn within each horizon | tenure survived) and before the next renewal
    (the churn date is the day after the contract end), with its ``top_n`` risk factors."""
    active = features[features["is_active"].astype(bool)] if "is_active" in features else features
    horizons_days = {f"p_churn_{h}d": h for h in horizons}
    # The churn date is the day after the contract end; no renewal date known gives NaN.
    horizons_days["p_churn_before_renewal"] = active[renewal_col].astype(float).to_numpy() + 1
    out = model.predict_churn_probabilities(active, horizons_days, tenure_col)
    out["days_to_next_renewal"] = active[renewal_col]
    if "next_renewal_date" in active:
        out["next_renewal_date"] = active["next_renewal_date"]
    out["top_risk_factors"] = model.risk_factors(active, top_n) if hasattr(model, "risk_factors") else ""
    return out


def at_risk_renewals(
    risk: pd.DataFrame,
    contracts: pd.DataFrame,
    as_of: dt.date,
    window_days: int,
    health: pd.Series | None = None,
) -> pd.DataFrame:
    """Contracts ending in the next ``window_days`` with churn risk, annual value at risk, health band
    (when the scoring table is present) and the account's top risk factors; largest value at risk first."""
    as_of = pd.Timestamp(require_date(as_of))
    end, start = pd.to_datetime(contracts["end"]), pd.to_datetime(contracts["start"])
    due = contracts[(start < as_of) & (end >= as_of) & (end < as_of + pd.Timedelta(days=window_days))]
    cols = ["contract_id", "account_id", "end", "product_line", "annual_value"]
    out = due[[c for c in cols if c in due]].join(risk[["p_churn_before_renewal", "top_risk_factors"]], on="account_id")
    out["value_at_risk"] = out["annual_value"] * out["p_churn_before_renewal"]
    out["health_band"] = health.reindex(out["account_id"]).to_numpy() if health is not None else None
    return out.sort_values("value_at_risk", ascending=False).set_index("contract_id")
