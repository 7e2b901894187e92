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


REASON_FIELDS = ("factor", "level", "value", "typical", "direction", "ratio")


def clear_reasons(
    contrib: pd.DataFrame,
    factors: Sequence[str],
    frame: pd.DataFrame,
    typical: pd.Series,
    encoder,
    top_n: int,
    why_none: str,
) -> pd.DataFrame:
    """Per row the ``top_n`` columns of ``contrib`` (beta * (x - mean) of the effects clear after
    correction; ``factors`` names each column's design column) that raise the risk most, as
    ``top_risk_factors`` text ('days_since_last_login high (x4.10)') and as structured columns
    ``reason_<i>_factor`` (the covariate), ``_level`` (a category's level, else empty), ``_value``
    (the account's value), ``_typical`` (the training median), ``_direction`` (high / low / yes / no
    / level) and ``_ratio`` (the multiplier of the odds). ``risk_factors_note`` says why a row has
    no reason (``why_none``, or that no clear effect raises its risk)."""
    n = len(contrib)
    C = contrib.to_numpy(float).copy() if contrib.shape[1] else np.zeros((n, 0))
    feature = [encoder.factor_of_.get(c, c) for c in factors]
    level = [c.split("=", 1)[1] if "=" in c else "" for c in factors]
    for j, (feat, lvl) in enumerate(zip(feature, level)):
        if lvl:  # name the levels an account has, not those it lacks
            C[:, j] = np.where(frame[feat].astype(str).to_numpy() == lvl, C[:, j], 0.0)
    C = np.where(C > MIN_SHOWN_EFFECT, C, -np.inf)
    order = np.argsort(-C, axis=1)[:, :top_n] if C.shape[1] else np.zeros((n, 0), int)
    rows = np.arange(n)
    out = pd.DataFrame(index=contrib.index)
    texts = np.full(n, "", dtype=object)
    for i in range(top_n):
        prefix = f"reason_{i + 1}_"
        if i >= order.shape[1]:
            for name in REASON_FIELDS:
                out[prefix + name] = "" if name in ("factor", "level", "direction") else np.nan
            continue
        j = order[:, i]
        shown = np.isfinite(C[rows, j])
        feat = np.array(feature, dtype=object)[j]
        lvl = np.array(level, dtype=object)[j]
        value = np.full(n, np.nan)
        for col in set(feat[shown]) - {f for f, lv in zip(feature, level) if lv}:
            take = shown & (feat == col)
            value[take] = frame.loc[take, col].to_numpy(float)
        usual = typical.reindex(feat).to_numpy(float)
        binary = np.isin(feat, encoder.binary_)
        direction = np.where(
            lvl != "",
            "level",
            np.where(binary, np.where(value > 0.5, "yes", "no"), np.where(value > usual, "high", "low")),
        )
        ratio = np.exp(np.where(shown, C[rows, j], np.nan))
        out[prefix + "factor"] = np.where(shown, feat, "")
        out[prefix + "level"] = np.where(shown, lvl, "")
        out[prefix + "value"] = np.where(shown, value, np.nan)
        out[prefix + "typical"] = np.where(shown & (lvl == ""), usual, np.nan)
        out[prefix + "direction"] = np.where(shown, direction, "")
        out[prefix + "ratio"] = ratio
        words = [
            f"{f}={lv} (x{r:.2f})" if lv else f"{f} {d} (x{r:.2f})"
            for f, lv, d, r in zip(feat[shown], lvl[shown], direction[shown], ratio[shown])
        ]
        piece = np.full(n, "", dtype=object)
        piece[shown] = words
        texts = np.where(shown & (texts != ""), texts + ", " + piece, np.where(shown, piece, texts))
    out.insert(0, "top_risk_factors", texts)
    has_clear = contrib.shape[1] > 0
    out.insert(
        1,
        "risk_factors_note",
        np.where(
            texts != "", "", why_none if not has_clear else "none of the clear effects raises this account's risk"
        ),
    )
    return out


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
    unit_risk: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Contracts ending in the next ``window_days`` with churn risk, annual value at risk, health band
    (when the scoring table is present) and the account's top risk factors; largest value at risk first.
    With ``unit_risk`` (account_id, end, p_lost: the renewal-clock model), each contract's
    p_churn_before_renewal is the probability that its own renewal is lost (an account whose
    contracts end on different days has one per end date)."""
    as_of = pd.Timestamp(require_date(as_of))
    end, start = pd.to_datetime(contracts["end"]), pd.to_datetime(contracts["start"])
    due = contracts[(start < as_of) & (end >= as_of) & (end < as_of + pd.Timedelta(days=window_days))]
    cols = ["contract_id", "account_id", "end", "product_line", "annual_value"]
    out = due[[c for c in cols if c in due]].join(risk[["p_churn_before_renewal", "top_risk_factors"]], on="account_id")
    if unit_risk is not None:
        lost = unit_risk.assign(end=pd.to_datetime(unit_risk["end"])).set_index(["account_id", "end"])["p_lost"]
        key = pd.MultiIndex.from_arrays([out["account_id"], pd.to_datetime(out["end"])])
        out["p_churn_before_renewal"] = lost.reindex(key).to_numpy()
    out["value_at_risk"] = out["annual_value"] * out["p_churn_before_renewal"]
    out["health_band"] = health.reindex(out["account_id"]).to_numpy() if health is not None else None
    return out.sort_values("value_at_risk", ascending=False).set_index("contract_id")
