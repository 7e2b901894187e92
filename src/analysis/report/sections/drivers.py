"""What goes with renewal: the renewal drivers of notebook 05, confirmed ones first, each in natural
units with its role (lever / warning sign / trait) and the association caveat."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import findings as F
from analysis.report import plotting
from analysis.report.context import Context, NotAvailable, Section, Table, section

STATUS_ORDER = {s: i for i, s in enumerate(F.STATUSES)}
STATUS_COLOURS = {"confirmed": plotting.GOOD, "possible": "#f0b323"}


def rank_findings(drivers: pd.DataFrame, status: pd.Series) -> pd.DataFrame:
    """Driver rows in the order the report lists them: confirmed, possible, depends on segment, then
    the rest; clear effects before unclear ones; within a group by the drivers' own comparable
    ``rank`` when present, else by |log odds ratio| (clear) or by the evidence, p (unclear: a wide
    interval can hold a large estimate the data cannot pin down)."""
    d = drivers.assign(_status=status.to_numpy())
    clear = d["direction"].astype(str) != F.NO_CLEAR
    strength = np.abs(np.log(d["effect"].astype(float).clip(lower=1e-12)))
    if "rank" in d.columns and d["rank"].notna().all():
        within = -d["rank"].astype(float)
    else:
        within = pd.Series(np.where(clear, strength, -d["p"].astype(float) if "p" in d else strength), index=d.index)
    key = pd.DataFrame({"status": -d["_status"].map(STATUS_ORDER), "clear": clear, "within": within})
    order = key.sort_values(["status", "clear", "within"], ascending=False, kind="stable").index
    return d.loc[order].reset_index(drop=True)


@section("drivers")
def drivers_section(ctx: Context) -> Section:
    drivers = ctx.need("drivers", ["factor", "effect", "lower_95", "upper_95", "direction"]).dropna(subset=["effect"])
    if drivers.empty:
        raise NotAvailable(ctx.t("why_nothing_estimated"))
    out = Section("drivers", sources=["drivers"])
    agreement = ctx.optional("drivers_agreement", ["factor", "verdict"])
    stability = ctx.optional("drivers_stability", ["factor", "segment", "lower_95", "upper_95"])
    out.sources += [n for n, f in (("drivers_agreement", agreement), ("drivers_stability", stability)) if f is not None]
    flips = F.flipping_factors(stability)
    ranked = rank_findings(drivers, F.statuses(drivers, agreement, flips))
    if "variable" not in ranked.columns:
        ranked["variable"] = ranked["factor"]
    role = F.roles(ranked)
    status = ranked["_status"]
    findings = pd.DataFrame(
        {
            "factor": [ctx.label(v if "=" not in str(f) else f) for f, v in zip(ranked["factor"], ranked["variable"])],
            "role": [ctx.t(f"role_{r}") for r in role],
            "status": [ctx.t(f"status_{s}") for s in status],
            "finding": [
                F.finding_sentence(row, s, ctx.lang, ctx.t, ctx.label) + depends_detail(ctx, row, s, flips)
                for (_, row), s in zip(ranked.iterrows(), status)
            ],
            "_factor": ranked["factor"].astype(str),
            "_variable": ranked["variable"].astype(str),
            "_direction": ranked["direction"].astype(str),
            "_status": status.to_numpy(),
            "_role": role.to_numpy(),
            "_kind": ranked.get("kind", pd.Series("", index=ranked.index)).astype(str),
            "_unit": ranked.get("effect_unit", pd.Series("", index=ranked.index)).astype(str),
            "_effect": ranked["effect"].astype(float),
            "_lower_95": ranked["lower_95"].astype(float),
            "_upper_95": ranked["upper_95"].astype(float),
            "_p_adjusted": ranked.get("p_adjusted", pd.Series(np.nan, index=ranked.index)).astype(float),
        }
    )
    names = {s: [n for n, st in zip(findings["factor"], status) if st == s] for s in F.STATUSES}
    sep = ctx.t("names_sep")
    out.text.append(
        ctx.t("drivers_confirmed", factors=sep.join(names["confirmed"]))
        if names["confirmed"]
        else ctx.t("drivers_none_confirmed")
    )
    if names["possible"]:
        out.text.append(ctx.t("drivers_possible", factors=sep.join(names["possible"])))
    if names["depends"]:
        out.text.append(ctx.t("drivers_depends", factors=sep.join(names["depends"])))
    out.text.append(ctx.t("drivers_caveat"))
    out.text.append(ctx.t("drivers_roles"))
    n_lead = int((status != "no_clear").sum())
    shown = findings.head(max(int(ctx.settings.n_findings), n_lead))
    out.add(Table("findings", shown, ctx.t("drivers_caption")))
    out.full["findings_all"] = findings
    forest = F.forest_rows(findings)
    if len(forest):
        forest["group"] = forest["group"].map(lambda s: ctx.t(f"status_{s}"))
        colours = {ctx.t(f"status_{s}"): c for s, c in STATUS_COLOURS.items()}
        out.figures.append(
            plotting.embed(
                plotting.forest(forest, ctx.t("forest_title"), ctx.t("forest_xlabel"), colours), ctx.t("forest_title")
            )
        )
    out.data["findings"] = findings
    out.data["forest"] = forest
    return out


def depends_detail(ctx: Context, row: pd.Series, status: str, flips: dict) -> str:
    """For a factor whose direction flips: where it raises and where it lowers renewal."""
    if status != "depends":
        return ""
    pair = flips.get(str(row.get("variable") or row["factor"])) or flips.get(str(row["factor"]))
    if not pair:
        return ""
    up, down = pair
    return " " + ctx.t("depends_where", up=segment_name(ctx, up), down=segment_name(ctx, down))


def segment_name(ctx: Context, segment: str) -> str:
    """A stability segment (a size band, industry or year) in the report language."""
    for column in ("size_band", "industry", "region"):
        label = ctx.level(column, segment)
        if label != segment:
            return label
    return segment
