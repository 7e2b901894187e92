"""Per-account reasons, as one plain sentence: "feature usage (90 days) 4%, typical 51%".

Reasons come only from effects that are clear after correction for testing many factors, and never
from a factor whose direction flips between segments: the renewal drivers' per-account reasons
(``renewal_reasons``, notebook 05: factor, the account's value, the book's typical value), kept to
the factors the drivers section shows as confirmed or possible; else the churn model's risk factors
(``churn_risk.top_risk_factors``, notebook 04), kept to those whose corrected p is below the
survival ``alpha``. An account with no such reason gets an empty text; the sections say why.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from analysis.report import labels

CLEAR_STATUSES = ("confirmed", "possible")
FLAG_TYPICAL = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%")  # "29% have it" (notebook 05's typical of a yes/no factor)
RISK_FACTOR = re.compile(r"^\s*(?P<factor>[^()]+?)\s+(?P<level>low|high|yes|no|[^()\s]+)\s*(\(x[0-9.]+\))?\s*$")


def clear_factors(findings: pd.DataFrame | None) -> set[str]:
    """Factor and variable names of the findings clear after correction and not flipping."""
    if findings is None or findings.empty:
        return set()
    keep = findings[findings["_status"].isin(CLEAR_STATUSES)]
    return set(keep["_factor"]) | set(keep["_variable"])


def _as_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def from_renewal_reasons(
    reasons: pd.DataFrame,
    clear: set[str],
    label: Callable[[str], str],
    value: Callable[[str, object], str],
    t: Callable[..., str],
    level: Callable[[str, object], str] | None = None,
) -> pd.Series:
    """account_id -> "feature usage (90 days) 4%, typical 51%; ..." from the clear factors pushing renewal down
    (a category factor: "contract term: half-yearly", its level in the report language by ``level``)."""
    down = reasons
    if "side" in down.columns:
        down = down[down["side"] == "down"]
    down = down[down["factor"].astype(str).isin(clear)]
    down = down.sort_values([c for c in ("account_id", "rank") if c in down.columns], kind="stable")
    if down.empty:
        return pd.Series(dtype=object)
    typical = down["typical"] if "typical" in down.columns else pd.Series(None, index=down.index)
    # A category factor (e.g. the contract term) carries its level, not a value.
    levels = down["level"] if "level" in down.columns else pd.Series(None, index=down.index)
    text = [
        labels.capitalised(
            t("reason_level", factor=label(str(f)), level=level(str(f), lv))
            if level is not None and pd.isna(v) and pd.notna(lv)
            else reason_text(str(f), v, ty, label, value, t)
        )
        for f, v, ty, lv in zip(down["factor"], down["value"], typical, levels)
    ]
    return pd.Series(text, index=down["account_id"].to_numpy()).groupby(level=0, sort=True).agg(t("reason_sep").join)


def reason_text(factor: str, value_, typical, label, value, t) -> str:
    """ "feature usage 4%, typical 51%"; a yes/no factor: "attended a seminar: no, 29% of customers have"."""
    if labels.kind_of(factor) == "flag":
        words = {
            "yes": t("level_yes"),
            "no": t("level_no"),
            "true": t("level_yes"),
            "false": t("level_no"),
            "1": t("level_yes"),
            "0": t("level_no"),
        }
        shown = words.get(str(value_).strip().lower(), str(value_))
        share = FLAG_TYPICAL.search(str(typical)) if typical is not None else None
        if share:
            return t("reason_flag", factor=label(factor), value=shown, share=f"{share.group(1)}%")
        return t("reason_level", factor=label(factor), level=shown)
    return t(
        "reason_value",
        factor=label(factor),
        value=value(factor, _as_number(value_)),
        typical=value(factor, _as_number(typical)),
    )


def from_churn_factors(
    churn: pd.DataFrame, hazard: pd.DataFrame | None, alpha: float, label: Callable[[str], str], t: Callable[..., str]
) -> pd.Series:
    """account_id -> "change in feature usage: low; ..." from the churn model's clear risk factors."""
    if hazard is None or not {"factor", "p_adjusted"} <= set(hazard.columns):
        return pd.Series(dtype=object)
    clear = set(hazard.loc[hazard["p_adjusted"].astype(float) <= alpha, "factor"].astype(str))
    out = {}
    for account, text in zip(churn["account_id"], churn["top_risk_factors"].fillna("")):
        parts = []
        for piece in str(text).split(","):
            m = RISK_FACTOR.match(piece)
            if m and m.group("factor") in clear:
                level = (
                    t(f"level_{m.group('level')}")
                    if m.group("level") in ("low", "high", "yes", "no")
                    else m.group("level")
                )
                parts.append(t("reason_level", factor=label(m.group("factor")), level=level))
        if parts:
            out[account] = t("reason_sep").join(parts)
    return pd.Series(out, dtype=object)


def from_structured_churn(churn: pd.DataFrame, label, value, level, t) -> pd.Series:
    """account_id -> reasons from ``churn_risk``'s structured columns (``reason_<i>_factor``, ``_level``,
    ``_value``, ``_typical``, ``_direction``; notebook 04 writes only effects clear after correction)."""
    slots = sorted(int(m.group(1)) for c in churn.columns if (m := re.match(r"^reason_(\d+)_factor$", c)))
    out = {}
    for _, row in churn.iterrows():
        parts = []
        for i in slots:
            factor = row.get(f"reason_{i}_factor")
            if not isinstance(factor, str) or not factor:
                continue
            lvl = row.get(f"reason_{i}_level")
            if isinstance(lvl, str) and lvl:
                parts.append(t("reason_level", factor=label(factor), level=level(factor, lvl)))
            else:
                direction = str(row.get(f"reason_{i}_direction") or "")
                parts.append(
                    reason_text(
                        factor,
                        direction if direction in ("yes", "no") else row.get(f"reason_{i}_value"),
                        row.get(f"reason_{i}_typical"),
                        label,
                        value,
                        t,
                    )
                )
        if parts:
            out[row["account_id"]] = t("reason_sep").join(labels.capitalised(p) for p in parts)
    return pd.Series(out, dtype=object)


def account_reasons(ctx, findings: pd.DataFrame | None) -> tuple[pd.Series, str | None, str]:
    """(account_id -> reason sentence, why there are none (or None), source table)."""
    reasons = ctx.optional("renewal_reasons", ["account_id", "factor", "value"])
    t = ctx.t
    if reasons is not None and findings is not None:
        clear = clear_factors(findings)
        if not clear:
            return pd.Series(dtype=object), t("reasons_none_clear"), "renewal_reasons"
        return from_renewal_reasons(reasons, clear, ctx.label, ctx.value, t, ctx.level), None, "renewal_reasons"
    churn = ctx.optional("churn_risk", ["account_id", "top_risk_factors"])
    if churn is not None and "reason_1_factor" in churn.columns:
        found = from_structured_churn(churn, ctx.label, ctx.value, ctx.level, t)
        return found, None if len(found) else t("reasons_none_clear"), "churn_risk"
    if churn is not None:
        hazard = ctx.optional("churn_hazard_ratios", ["factor", "p_adjusted"])
        found = from_churn_factors(churn, hazard, float(ctx.params.survival.alpha), ctx.label, t)
        return found, None if len(found) else t("reasons_none_clear"), "churn_risk"
    return pd.Series(dtype=object), t("reasons_missing"), ""
