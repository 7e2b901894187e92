"""Renewals at risk in the next N days: contracts ending within ``report.at_risk_days`` summed per
account, with the churn risk before renewal, value at risk, health and the reasons in plain words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.report import formatting, plotting
from analysis.report.context import (
    Context,
    NotAvailable,
    Section,
    account_columns,
    add_listing,
    by_account,
    section,
)
from analysis.report.sections.headline import within_window


def renewals_by_account(risk: pd.DataFrame) -> pd.DataFrame:
    """At-risk renewals (one row per contract) summed per account: annual value and value at risk
    added up, earliest end date, product lines listed; largest value at risk first."""
    agg: dict[str, Any] = {"annual_value": "sum", "value_at_risk": "sum"}
    agg.update({c: "min" for c in ("end",) if c in risk.columns})
    agg.update({c: "first" for c in ("p_churn_before_renewal", "health_band") if c in risk.columns})
    if "product_line" in risk.columns:
        agg["product_line"] = lambda s: sorted(set(map(str, s)))
    out = risk.groupby("account_id", sort=True).agg(agg)
    return out.sort_values("value_at_risk", ascending=False, kind="stable").reset_index()


@section("at_risk", "h_at_risk", days="at_risk_days")
def at_risk_section(ctx: Context, reasons: pd.Series, reasons_note: str | None, reasons_source: str) -> Section:
    risk = within_window(ctx, ctx.need("at_risk_renewals", ["account_id", "annual_value", "value_at_risk"]))
    if risk.empty:
        raise NotAvailable(ctx.t("why_empty_window", days=ctx.settings.at_risk_days))
    accounts = renewals_by_account(risk)
    out = Section("at_risk", sources=["at_risk_renewals"])
    scored = ctx.optional("scored_accounts", ["account_id", "tier"])
    bands = ctx.band_names()
    ids = accounts["account_id"]
    table = pd.DataFrame(account_columns(ctx, ids, by_account(scored)["tier"] if scored is not None else None))
    if scored is not None:
        out.sources.append("scored_accounts")
    if "end" in accounts.columns:
        table["renewal_date"] = pd.to_datetime(accounts["end"]).to_numpy()
    if "product_line" in accounts.columns:
        table["product_line"] = [
            ctx.t("names_sep").join(ctx.level("product_line", p) for p in ps) for ps in accounts["product_line"]
        ]
    table["annual_value"] = accounts["annual_value"].to_numpy()
    if "p_churn_before_renewal" in accounts.columns:
        table["churn_probability"] = accounts["p_churn_before_renewal"].to_numpy()
    table["value_at_risk"] = accounts["value_at_risk"].to_numpy()
    band = accounts["health_band"] if "health_band" in accounts.columns else pd.Series(np.nan, index=accounts.index)
    if band.isna().all() and scored is not None and "health_band" in scored.columns:
        band = ids.map(by_account(scored)["health_band"].astype(object))
    if band.notna().any():
        table["health_band"] = band.astype(object).map(lambda b: bands.get(b, b)).to_numpy()
    table["top_reasons"] = ids.map(reasons).fillna("").to_numpy() if len(reasons) else ""
    if reasons_source:
        out.sources.append(reasons_source)
    if reasons_note:
        out.notes.append(reasons_note)
    filters = ("tier", "region", "health_band")  # and the owner, when the book names one
    add_listing(ctx, out, "at_risk", table, ctx.t("at_risk_caption"), "accounts", filters)
    out.data["accounts"] = accounts
    top = table.head(int(ctx.settings.n_at_risk))
    if len(top):
        values = pd.Series(
            top["value_at_risk"].to_numpy(),
            index=[f"{n} ({a})" if n else a for n, a in zip(top["name"], top["account"])],
        )
        out.figures.append(
            plotting.embed(
                plotting.value_bars(
                    values, ctx.t("at_risk_figure_title", n=len(top)), ctx.t("value_at_risk"), formatter=ctx.money
                ),
                ctx.t("at_risk_figure_title", n=len(top)),
            )
        )
    out.text.append(
        ctx.t(
            "at_risk_sentence",
            n=formatting.count(len(accounts)),
            days=ctx.settings.at_risk_days,
            value=ctx.money(accounts["annual_value"].sum()),
            at_risk=ctx.money(accounts["value_at_risk"].sum()),
        )
    )
    return out
