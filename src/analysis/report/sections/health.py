"""Health: the book over the health bands (80/60 by default) per tier, whether the bands mean what
they claim (renewal rate per band a year later, from the scoring notebook's back-test), and the
retention play of the at-risk band."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import formatting, plotting
from analysis.report.context import Context, NotAvailable, Section, Table, by_account, not_available_note, section

BAND_COLOURS = (plotting.GOOD, "#f0b323", plotting.BAD, "#7f8c8d")


def band_verdict(rates: pd.DataFrame, dominant_share: float) -> tuple[str, dict]:
    """Do the bands order renewals? ``rates``: rate, lower_95, upper_95, accounts per band, best first.

    Returns a verdict code and the values its sentence names:
    ``empty`` (a band held no account), ``dominant`` (one band holds nearly everyone), ``separate``
    (each better band renews more, intervals apart), ``overlap`` (in order, but two neighbouring
    bands' intervals overlap), ``not_ordered`` (a worse band renews as often or more).
    """
    accounts = rates["accounts"].fillna(0).astype(float)
    if (accounts <= 0).any() or rates["rate"].isna().any():
        return "empty", {"band": str(rates.index[(accounts <= 0) | rates["rate"].isna()][0])}
    top = accounts / accounts.sum()
    if top.max() >= dominant_share:
        return "dominant", {"band": str(top.idxmax()), "share": float(top.max())}
    values = rates["rate"].to_numpy(float)
    for i in range(len(values) - 1):
        if not values[i] > values[i + 1]:
            return "not_ordered", {"better": str(rates.index[i]), "worse": str(rates.index[i + 1])}
    for i in range(len(values) - 1):
        if rates["lower_95"].iloc[i] <= rates["upper_95"].iloc[i + 1]:
            return "overlap", {"better": str(rates.index[i]), "worse": str(rates.index[i + 1])}
    return "separate", {}


def band_ranges(ctx: Context) -> dict[str, str]:
    """Band name -> its score range ("80-100", "60-79", "below 60")."""
    bands = ctx.params.scoring.health.bands
    out = {}
    for i, b in enumerate(bands):
        name = b.zh if ctx.lang == "zh" else b.en
        upper = bands[i - 1].min if i else None
        if b.min <= 0:
            out[name] = ctx.t("band_below", value=f"{upper:g}") if upper is not None else "0-100"
        else:
            out[name] = f"{b.min:g}-{upper - 1:g}" if upper is not None else f"{b.min:g}-100"
    return out


@section("health")
def health_section(ctx: Context) -> Section:
    scored = by_account(ctx.need("scored_accounts", ["account_id", "tier", "health_band"]))
    out = Section("health", sources=["scored_accounts"])
    feats = ctx.optional("features_asof", ["account_id", "is_active"])
    if feats is not None:
        active = by_account(feats)["is_active"].astype(bool).reindex(scored.index).fillna(False)
        scored = scored[active.to_numpy()]
        out.sources.append("features_asof")
    if scored.empty:
        raise NotAvailable(ctx.t("why_no_active"))
    if scored["health_band"].isna().all():
        raise NotAvailable(ctx.t("why_no_health"))
    bands = ctx.band_names()
    codes, tier_names = ctx.tier_codes(), ctx.tier_names()
    band = scored["health_band"].astype(object).map(bands)
    counts = pd.crosstab(scored["tier"].astype(object).map(tier_names), band)
    counts = counts.reindex(index=[tier_names[c] for c in codes], columns=list(bands.values()), fill_value=0)
    ranges = band_ranges(ctx)
    shares = band.value_counts(normalize=True).reindex(list(bands.values())).fillna(0)
    parts = [ctx.t("band_share", band=b, range=ranges[b], share=formatting.pct(s)) for b, s in shares.items()]
    out.text.append(ctx.t("health_sentence", n=formatting.count(len(scored)), parts=ctx.t("list_sep").join(parts)))

    table = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    table.insert(0, "accounts", counts.sum(axis=1))
    table = table.rename_axis("tier").reset_index()
    out.add(
        Table("by_tier", table, ctx.t("health_by_tier_caption"), kinds=dict.fromkeys(bands.values(), "pct")),
    )
    out.figures.append(
        plotting.embed(
            plotting.stacked_shares(counts, ctx.t("health_figure_title"), ctx.t("share_axis"), BAND_COLOURS),
            ctx.t("health_figure_title"),
        )
    )
    history = ctx.optional("health_band_renewal", ["health_band", "accounts", "rate", "lower_95", "upper_95"])
    if history is not None:
        out.sources.append("health_band_renewal")
        rates = history.assign(band=history["health_band"].map(bands)).set_index("band")
        rates = rates.reindex(list(bands.values()))
        verdict, values = band_verdict(rates, ctx.settings.verdicts.band_dominant_share)
        names = {
            k: formatting.pct(v) if k == "share" else v for k, v in values.items()
        }  # the band names are already in the report language
        out.text.append(ctx.t(f"bands_{verdict}", **names))
        shown = pd.DataFrame(
            {
                "health_band": rates.index,
                "accounts": rates["accounts"].fillna(0).astype(int).to_numpy(),
                "renewal_rate": rates["rate"].to_numpy(),
                "interval": [
                    ctx.t("range", low=formatting.pct(lo), high=formatting.pct(hi)) if pd.notna(lo) else ""
                    for lo, hi in zip(rates["lower_95"], rates["upper_95"])
                ],
            }
        )
        out.add(Table("renewal_by_band", shown, ctx.t("health_history_caption")))
        plotted = rates.dropna(subset=["rate"])
        if len(plotted):
            out.figures.append(
                plotting.embed(
                    plotting.rates_with_intervals(plotted, ctx.t("health_history_title"), ctx.t("renewal_axis")),
                    ctx.t("health_history_title"),
                )
            )
        out.data["verdict"] = verdict
    else:
        out.notes.append(not_available_note(ctx, "health_band_renewal"))
    worst_code = list(bands)[-1]
    at_risk = scored[scored["health_band"].astype(object) == worst_code]
    arr = at_risk["arr"].astype(float).sum() if "arr" in at_risk.columns else np.nan
    out.text.append(
        ctx.t(
            "retention_play",
            band=bands[worst_code],
            n=formatting.count(len(at_risk)),
            arr=ctx.money(arr),
            play=getattr(ctx.settings.retention_play, ctx.lang),
        )
    )
    return out
