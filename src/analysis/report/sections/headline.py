"""Headline figures: accounts, ARR, renewal rate, churned value, revenue, CLV and value at risk,
with the change since the previous run (``headline.json`` of that run)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import io
from analysis.report import formatting
from analysis.report.context import HEADLINE_FILE, Context, NotAvailable, Section, Table, missing_why, section

HEADLINE_KEYS = (
    "accounts",
    "accounts_total",
    "arr",
    "renewal_rate",
    "churned_value",
    "revenue_12m",
    "clv_total",
    "value_at_risk_90d",
)
HEADLINE_KINDS = {"accounts": "int", "accounts_total": "int", "renewal_rate": "pct"}  # others: money
UNCHANGED_POINTS = 0.0005  # a renewal rate that moved less than 0.05 points reads as unchanged


def within_window(ctx: Context, risk: pd.DataFrame) -> pd.DataFrame:
    """At-risk renewals whose contract ends within ``report.at_risk_days`` of the as-of date."""
    if "end" not in risk.columns:
        return risk
    end = pd.to_datetime(risk["end"])
    as_of = pd.Timestamp(ctx.as_of)
    return risk[(end >= as_of) & (end < as_of + pd.Timedelta(days=int(ctx.settings.at_risk_days)))]


def headline_figures(ctx: Context) -> dict[str, Any]:
    """The run's headline numbers (None where the table behind one is absent)."""
    figures: dict[str, Any] = dict.fromkeys(HEADLINE_KEYS)
    figures["as_of"] = ctx.as_of.isoformat()
    feats = ctx.optional("features_asof", ["account_id"])
    if feats is not None:
        active = feats["is_active"].astype(bool) if "is_active" in feats else pd.Series(True, index=feats.index)
        figures["accounts_total"] = len(feats)
        figures["accounts"] = int(active.sum())
        if "arr" in feats:
            figures["arr"] = float(feats.loc[active, "arr"].sum())
        if "revenue_12m" in feats:
            figures["revenue_12m"] = float(feats["revenue_12m"].sum())
    renewals = ctx.tables.get("report_renewals_12m")
    if renewals is not None and len(renewals):
        decided = renewals["decided"].sum()
        figures["renewal_rate"] = float(renewals["renewed"].sum() / decided) if decided else None
        figures["churned_value"] = float(renewals["churned_value"].sum())
    clv = ctx.optional("clv_accounts", ["clv"])
    if clv is not None:
        figures["clv_total"] = float(clv["clv"].sum())
    risk = ctx.optional("at_risk_renewals", ["value_at_risk"])
    if risk is not None:
        figures["value_at_risk_90d"] = float(within_window(ctx, risk)["value_at_risk"].sum())
    return figures


def write_headline(figures: Mapping[str, Any], run_dir: str | Path) -> Path:
    """``tables/headline.json`` for the run index (sorted keys: identical runs give identical bytes)."""
    path = io.tables_dir(run_dir) / HEADLINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in figures.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def show_value(ctx: Context, value: Any, kind: str) -> str:
    if kind == "int":
        return formatting.count(value)
    if kind == "pct":
        return formatting.pct(value, 1)
    return ctx.money(value)


def show_change(ctx: Context, now: float | None, before: float | None, kind: str) -> str:
    """Change since the previous run: counts and money with the relative change, rates in points."""
    if now is None or before is None:
        return ""
    diff = float(now) - float(before)
    if kind == "pct":
        return formatting.points(diff, ctx.lang)
    rel = f" ({diff / before:+.1%})" if before else ""
    if kind == "int":
        return f"{diff:+,.0f}{rel}"
    return f"{ctx.money(diff, signed=True)}{rel}"


@section("headline")
def headline_section(ctx: Context, figures: Mapping[str, Any]) -> Section:
    out = Section(
        "headline",
        sources=["headline.json", "features_asof", "report_renewals_12m", "clv_accounts", "at_risk_renewals"],
    )
    if all(figures.get(k) is None for k in ("accounts", "arr", "renewal_rate", "churned_value")):
        raise NotAvailable(missing_why(ctx, "features_asof"))
    previous = ctx.previous.json("headline") if ctx.previous else None
    rows = []
    for key in HEADLINE_KEYS:
        now = figures.get(key)
        if now is None:
            continue
        before = (previous or {}).get(key)
        kind = HEADLINE_KINDS.get(key, "money")
        rows.append(
            {
                "metric": ctx.t(f"m_{key}", days=ctx.settings.at_risk_days),
                "now": show_value(ctx, now, kind),
                "previous_value": show_value(ctx, before, kind) if before is not None else "",
                "change": show_change(ctx, now, before, kind) if before is not None else "",
                "_key": key,
                "_now": now,
                "_previous": before,
            }
        )
    out.add(Table("headline", pd.DataFrame(rows)))
    rate, before_rate = figures.get("renewal_rate"), (previous or {}).get("renewal_rate")
    if rate is not None:
        out.text.append(renewal_sentence(ctx, rate, before_rate, previous))
    by_term = term_sentence(ctx)
    if by_term:
        out.text.append(by_term)
        out.sources.append("renewal_rates_by_term")
    if previous:
        out.text.append(ctx.t("headline_previous", previous_as_of=previous.get("as_of", "?")))
    else:
        out.text.append(ctx.previous_note or ctx.t("headline_no_previous"))
    out.text.append(ctx.t("headline_definitions", days=ctx.settings.at_risk_days))
    out.data = {"figures": dict(figures), "previous": previous}
    return out


def term_sentence(ctx: Context) -> str | None:
    """With contracts of several terms, the renewal rate of each (the pooled rate mixes a monthly
    plan's decision with a multi-year one's): "monthly 91% (77% of decisions), annual 95% (23%)"."""
    rates = ctx.tables.get("renewal_rates_by_term")
    if rates is None or not {"term_class", "decided", "renewal_rate", "share_of_contracts"} <= set(rates.columns):
        return None
    rates = rates[(rates["decided"] > 0) & rates["renewal_rate"].notna()]
    if len(rates) < 2:
        return None
    parts = [
        ctx.t(
            "term_rate",
            term=ctx.level("term_class", row["term_class"]),
            rate=formatting.pct(row["renewal_rate"]),
            share=formatting.pct(row["share_of_contracts"]),
        )
        for _, row in rates.sort_values("share_of_contracts", ascending=False).iterrows()
    ]
    return ctx.t("headline_by_term", parts=ctx.t("list_sep").join(parts))


def renewal_sentence(ctx: Context, rate: float, before: float | None, previous: Mapping | None) -> str:
    """ "Renewal rate 92.1% over the last 12 months, up 1.2 points since the run as of ..." (chosen by the sign)."""
    text = ctx.t("headline_renewal", rate=formatting.pct(rate, 1))
    if before is None or previous is None:
        return text
    diff = float(rate) - float(before)
    if abs(diff) < UNCHANGED_POINTS:
        return text + " " + ctx.t("headline_renewal_same", previous_as_of=previous.get("as_of", "?"))
    key = "headline_renewal_up" if diff > 0 else "headline_renewal_down"
    return (
        text
        + " "
        + ctx.t(key, points=formatting.points(abs(diff), ctx.lang).lstrip("+"), previous_as_of=previous["as_of"])
    )
