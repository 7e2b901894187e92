"""Grades and the customer pyramid: the A/B/C/D grades (D = potential), the 1/19/30/50 pyramid and
the ABC Pareto classes, each with counts, value shares and renewal rates, and the 80/20 check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data import quality
from analysis.params import TierSchemeParams
from analysis.report import formatting, plotting
from analysis.report.context import Context, Section, Table, by_account, not_available_note, section


def share(values: pd.Series | None, groups: pd.Series, codes: list[str]) -> pd.Series:
    """Each group's share of the total of ``values`` (negative values count as 0)."""
    if values is None:
        return pd.Series(np.nan, index=codes)
    v = values.reindex(groups.index).astype(float).fillna(0).clip(lower=0)
    total = v.sum()
    if total <= 0:
        return pd.Series(np.nan, index=codes)
    return v.groupby(groups, observed=False).sum().reindex(codes) / total


def kept_rates(then: pd.Series | None, kept: pd.Series | None, codes: list[str]) -> pd.Series:
    """Per tier (or grade, class) a year ago: the share of its customers still customers now.

    Taken forward from a year ago: the customers in a tier today are the ones who stayed, so a rate
    of today's tiers would read close to 100% whatever happened.
    """
    if then is None or kept is None:
        return pd.Series(np.nan, index=codes)
    stayed = kept.reindex(then.index).fillna(False).astype(float)
    return stayed.groupby(then.astype(object)).mean().reindex(codes)


def scheme_names(scheme, lang: str) -> dict[str, str]:
    names = scheme.names.get(lang) or scheme.names.get("en") or scheme.codes
    return dict(zip(scheme.codes, names))


def class_table(
    ctx: Context, groups: pd.Series, codes: list[str], names: dict[str, str], column: str, revenue, clv, kept
) -> pd.DataFrame:
    by = groups.groupby(groups, observed=False)
    table = pd.DataFrame(index=pd.Index(codes, name=f"_{column}_code"))
    table[column] = [names.get(c, c) for c in codes]
    table["accounts"] = by.size().reindex(codes).fillna(0).astype(int)
    table["share_accounts"] = table["accounts"] / max(len(groups), 1)
    table["share_revenue"] = share(revenue, groups, codes)
    if clv is not None:
        table["share_clv"] = share(clv, groups, codes)
    table["kept_rate"] = kept.reindex(codes).to_numpy() if kept is not None else np.nan
    return table


@section("grades")
def grades_section(ctx: Context) -> Section:
    scored = by_account(ctx.need("scored_accounts", ["account_id", "tier"]))
    out = Section("grades", sources=["scored_accounts"])
    tiers = ctx.params.scoring.tiers
    feats = ctx.optional("features_asof", ["account_id", "revenue_12m"])
    clv_table = ctx.optional("clv_accounts", ["account_id", "clv"])
    previous = ctx.optional("tiers_previous", ["account_id", "tier", "abcd"])
    year = ctx.optional("report_year_before", ["account_id", "abc", "kept"])
    revenue = by_account(feats)["revenue_12m"] if feats is not None else scored.get("revenue_12m")
    clv = by_account(clv_table)["clv"] if clv_table is not None else None
    for name, frame in (("features_asof", feats), ("clv_accounts", clv_table), ("tiers_previous", previous)):
        if frame is None:
            out.notes.append(not_available_note(ctx, name))
        else:
            out.sources.append(name)
    kept = by_account(feats)["is_active"].astype(bool) if feats is not None and "is_active" in feats else None
    then = by_account(previous) if previous is not None else None

    pyramid = class_table(
        ctx,
        scored["tier"].astype(object),
        ctx.tier_codes(),
        ctx.tier_names(),
        "tier",
        revenue,
        clv,
        kept_rates(then["tier"] if then is not None else None, kept, ctx.tier_codes()),
    )
    if clv is None:
        pyramid["share_clv"] = np.nan
    if "health_score" in scored.columns:
        groups = scored["tier"].astype(object)
        pyramid["health_mean"] = scored["health_score"].astype(float).groupby(groups).mean().reindex(pyramid.index)
    if "health_band" in scored.columns:
        worst = list(ctx.band_names())[-1]
        at_risk = (scored["health_band"].astype(object) == worst).astype(float)
        pyramid["share_health_risk"] = at_risk.groupby(scored["tier"].astype(object)).mean().reindex(pyramid.index)
    out.add(Table("pyramid", pyramid.reset_index(), ctx.t("pyramid_caption", shares=pyramid_shares(tiers.pyramid))))
    panels = [(shares_of(ctx, pyramid, "tier"), ctx.t("pyramid_figure_title"))]

    if "abcd" in scored.columns:
        grades = class_table(
            ctx,
            scored["abcd"].astype(object),
            list(tiers.abcd.codes),
            grade_names(tiers.abcd, ctx.lang),
            "grade",
            revenue,
            clv,
            kept_rates(then["abcd"] if then is not None else None, kept, list(tiers.abcd.codes)),
        )
        if "flag_potential" in scored.columns:
            flagged = scored["flag_potential"].fillna(False).astype(bool)
            grades["potential"] = flagged.groupby(scored["abcd"].astype(object)).sum().reindex(grades.index)
            grades["potential"] = grades["potential"].fillna(0).astype(int)
            out.text.append(potential_sentence(ctx, grades, flagged))
        out.add(Table("abcd", grades.reset_index(), ctx.t("abcd_caption"), kinds={"potential": "int"}))
        panels.append((shares_of(ctx, grades, "grade"), ctx.t("abcd_figure_title")))
    if "abc" in scored.columns:
        names = scheme_names(tiers.abc, ctx.lang)
        abc_then = by_account(year)["abc"] if year is not None else None
        abc_kept = by_account(year)["kept"] if year is not None else None
        abc = class_table(
            ctx,
            scored["abc"].astype(object),
            list(tiers.abc.codes),
            names,
            "abc_class",
            revenue,
            None,
            kept_rates(abc_then, abc_kept, list(tiers.abc.codes)),
        )
        if year is not None:
            out.sources.append("report_year_before")
        out.add(Table("abc", abc.reset_index(), ctx.t("abc_caption")))

    if then is not None and kept is not None:
        since = formatting.date(previous["as_of"].iloc[0]) if "as_of" in previous.columns else "?"
        out.text.append(ctx.t("kept_definition", since=since))
    out.data["figure"] = pyramid.set_index("tier")[
        [c for c in ("share_accounts", "share_revenue", "share_clv") if pyramid[c].notna().any()]
    ]
    out.figures.append(plotting.embed(plotting.share_bars(panels, ctx.t("share_axis")), ctx.t("pyramid_figure_title")))
    if revenue is not None:
        top = float(quality.concentration(revenue, tops=(ctx.settings.top_share,))["value_share"].iloc[0])
        out.data["pareto_top_share"] = top
        verdict = "pareto_strong" if top >= ctx.settings.pareto_strong else "pareto_weak"
        out.text.insert(
            0,
            ctx.t("pareto_sentence", top=formatting.pct(ctx.settings.top_share), share=formatting.pct(top))
            + " "
            + ctx.t(verdict, threshold=formatting.pct(ctx.settings.pareto_strong)),
        )
    top_codes = [c for c in ctx.params.segments.top_tiers if c in pyramid.index]
    if top_codes:
        rows = pyramid.loc[top_codes]
        out.text.insert(
            1,
            ctx.t(
                "top_tiers_sentence",
                tiers="、".join(rows["tier"]) if ctx.lang == "zh" else ", ".join(rows["tier"]),
                accounts=formatting.pct(rows["share_accounts"].sum()),
                revenue=formatting.pct(rows["share_revenue"].sum(min_count=1)),
                clv=formatting.pct(rows["share_clv"].sum(min_count=1)) if clv is not None else "—",
            ),
        )
    return out


def pyramid_shares(scheme: TierSchemeParams) -> str:
    return "/".join(f"{s * 100:g}" for s in scheme.shares or [])


def grade_names(scheme: TierSchemeParams, lang: str) -> dict[str, str]:
    """ "A (Top)", "D (Potential)": the grade letter with its name."""
    return {code: f"{code} ({name})" if code != name else code for code, name in scheme_names(scheme, lang).items()}


def shares_of(ctx: Context, table: pd.DataFrame, column: str) -> pd.DataFrame:
    cols = [c for c in ("share_accounts", "share_revenue", "share_clv") if c in table and table[c].notna().any()]
    return table.set_index(column)[cols].rename(columns={c: ctx.t(c) for c in cols})


def potential_sentence(ctx: Context, grades: pd.DataFrame, flagged: pd.Series) -> str:
    """How many accounts of the lowest grade show potential (the scoring step's flag, as configured)."""
    flag = ctx.params.scoring.tiers.flags.potential
    # the scoring step flags potential by CLV instead of the configured predictor when the run has CLV
    if ctx.optional("clv_accounts", ["account_id", "clv"]) is not None:
        predictor = ctx.t("m_clv")
        predictor = predictor[0].lower() + predictor[1:] if ctx.lang == "en" else predictor
    else:
        predictor = ctx.component_label(flag.predictor)
    last = grades.iloc[-1]
    return ctx.t(
        "potential_sentence",
        grade=last["grade"],
        n=formatting.count(last["accounts"]),
        potential=formatting.count(last.get("potential", 0)),
        total=formatting.count(flagged.sum()),
        value=ctx.component_label(flag.value),
        value_share=formatting.pct(flag.value_below_quantile),
        predictor=predictor,
        predictor_share=formatting.pct(1 - flag.predictor_above_quantile),
    )
