"""Segments by industry x size x lifecycle stage (the seed's three-dimension model): accounts and
annual value of today's customers per cell, and how many of the cell's customers of a year ago are
still customers (rates from today's cells would only count the ones who stayed).

Lifecycle stage of an existing customer: ``analysis.report.history.lifecycle_stage``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import formatting, plotting
from analysis.report.context import (
    Context,
    NotAvailable,
    Section,
    Table,
    add_listing,
    by_account,
    section,
)
from analysis.report.history import STAGES, lifecycle_stage

KEYS = ["industry", "size_band", "stage"]


def kept_rates(history: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """Customers a year ago and the share still customers, per cell of ``keys`` (empty without history)."""
    if history is None:
        return pd.DataFrame(columns=["customers_then", "kept_rate"])
    grouped = history.groupby(keys, sort=True)["kept"]
    return pd.DataFrame({"customers_then": grouped.size(), "kept_rate": grouped.mean()})


@section("segments")
def segments_section(ctx: Context) -> Section:
    feats = by_account(ctx.need("features_asof", ["account_id", "is_active", "industry", "size_band"]))
    feats = feats[feats["is_active"].astype(bool)]
    if feats.empty:
        raise NotAvailable(ctx.t("why_no_active"))
    out = Section("segments", sources=["features_asof"])
    history = ctx.optional("report_year_before", ["industry", "size_band", "stage", "kept"])
    if history is not None:
        out.sources.append("report_year_before")
    else:
        out.notes.append(ctx.t("record_missing"))
    arr = feats["arr"].astype(float) if "arr" in feats else pd.Series(np.nan, index=feats.index)
    cells = pd.DataFrame(
        {
            "industry": feats["industry"].astype(str),
            "size_band": feats["size_band"].astype(str),
            "stage": lifecycle_stage(feats, ctx.settings.lifecycle),
            "n": 1,
            "arr": arr,
        }
    )
    grouped = cells.groupby(KEYS, sort=True)[["n", "arr"]].sum()
    grouped = grouped.join(kept_rates(history, KEYS), how="outer").fillna({"n": 0, "arr": 0.0})
    total_arr = float(arr.sum())
    table = pd.DataFrame(
        {
            "industry": [ctx.level("industry", i) for i, _, _ in grouped.index],
            "size": [ctx.level("size_band", s) for _, s, _ in grouped.index],
            "stage": [ctx.t(f"stage_{s}") for _, _, s in grouped.index],
            "accounts": grouped["n"].astype(int).to_numpy(),
            "arr": grouped["arr"].to_numpy(),
            "share_value": (grouped["arr"] / total_arr).to_numpy() if total_arr > 0 else np.nan,
            "customers_then": grouped["customers_then"].fillna(0).astype(int).to_numpy(),
            "kept_rate": grouped["kept_rate"].to_numpy(),
        }
    )
    table = table.sort_values("arr", ascending=False, kind="stable").reset_index(drop=True)
    by_stage = cells.groupby("stage")[["n", "arr"]].sum().reindex(list(STAGES)).fillna(0)
    stage_kept = kept_rates(history, ["stage"]).reindex(list(STAGES))
    out.add(
        Table(
            "stages",
            pd.DataFrame(
                {
                    "stage": [ctx.t(f"stage_{s}") for s in STAGES],
                    "stage_rule": [ctx.t(f"stage_{s}_rule", **stage_values(ctx)) for s in STAGES],
                    "accounts": by_stage["n"].astype(int).to_numpy(),
                    "arr": by_stage["arr"].to_numpy(),
                    "kept_rate": stage_kept["kept_rate"].to_numpy(),
                }
            ),
            ctx.t("stages_caption"),
        )
    )
    caption, filters = ctx.t("segments_cells_caption", days=ctx.settings.lookback_days), ("industry", "size", "stage")
    add_listing(ctx, out, "cells", table, caption, "cells_all", filters, "rows_cut_cells", {"customers_then": "int"})
    if history is not None and len(history):
        rate = kept_rates(history, ["industry", "size_band"])["kept_rate"].unstack("size_band")
        rate = rate.rename(index=lambda i: ctx.level("industry", i), columns=lambda s: ctx.level("size_band", s))
        out.figures.append(
            plotting.embed(
                plotting.heatmap(
                    rate,
                    ctx.t("segments_figure_title", days=ctx.settings.lookback_days),
                    ctx.label("size_band"),
                    ctx.label("industry"),
                    fmt="pct",
                    cmap="RdYlGn",
                ),
                ctx.t("segments_figure_title", days=ctx.settings.lookback_days),
            )
        )
    out.text.append(
        ctx.t(
            "segments_sentence",
            cells=formatting.count(int((table["accounts"] > 0).sum())),
            n=formatting.count(len(feats)),
            industries=formatting.count(cells["industry"].nunique()),
            sizes=formatting.count(cells["size_band"].nunique()),
        )
    )
    judged = table[table["customers_then"] >= ctx.settings.verdicts.min_decisions].dropna(subset=["kept_rate"])
    if len(judged) >= 2:
        low = judged.sort_values("kept_rate", kind="stable").iloc[0]
        out.text.append(
            ctx.t(
                "segments_lowest",
                industry=low["industry"],
                size=low["size"],
                stage=low["stage"],
                rate=formatting.pct(low["kept_rate"]),
                customers=formatting.count(low["customers_then"]),
                min_customers=formatting.count(ctx.settings.verdicts.min_decisions),
                days=ctx.settings.lookback_days,
            )
        )
    out.data["cells"] = table
    return out


def stage_values(ctx: Context) -> dict[str, str]:
    cfg = ctx.settings.lifecycle
    return {
        "onboarding": formatting.days(cfg.onboarding_days, ctx.lang),
        "renewal": formatting.days(cfg.renewal_days, ctx.lang),
        "growth": formatting.pct(cfg.expansion_growth),
    }
