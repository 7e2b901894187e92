"""Which weights made these tiers: the weighting used and its weights, whether it changed since the
last run, and its back-test against the alternatives (renewal AUC and next-year margin captured by
the top 20%), with a plain verdict when it does worse than chance or than the baseline weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import formatting
from analysis.report.context import Context, NotAvailable, Section, Table, not_available_note, section
from analysis.report.sections.movement import weights_changed

AUC, MARGIN = "renewal_auc", "top20_margin_share"
CHANCE = 0.5


def chance_verdict(estimate: float, lower: float, upper: float) -> str:
    """``wrong_way`` (interval below 0.5), ``chance`` (interval holds 0.5) or ``better`` (above 0.5)."""
    if np.isfinite(upper) and upper < CHANCE:
        return "wrong_way"
    if np.isfinite(lower) and lower > CHANCE:
        return "better"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "better" if estimate > CHANCE else "wrong_way" if estimate < CHANCE else "chance"
    return "chance"


def baseline_verdict(difference: float, lower: float, upper: float) -> str:
    """``worse`` / ``better`` when the interval of the difference excludes 0, else ``same``."""
    if np.isfinite(upper) and upper < 0:
        return "worse"
    if np.isfinite(lower) and lower > 0:
        return "better"
    return "same"


def interval_text(ctx: Context, row: pd.Series, kind: str) -> str:
    fmt = (lambda v: f"{v:.2f}") if kind == "auc" else formatting.pct
    if not np.isfinite(row.get("lower_95", np.nan)):
        return fmt(row["estimate"])
    return f"{fmt(row['estimate'])} ({ctx.t('range', low=fmt(row['lower_95']), high=fmt(row['upper_95']))})"


@section("weights")
def weights_section(ctx: Context) -> Section:
    used = ctx.need("scoring_weights_used", ["weighting", "criterion", "weight"])
    method = str(used["weighting"].iloc[0])
    out = Section("weights", sources=["scoring_weights_used"])
    out.text.append(ctx.t("weights_used", weighting=ctx.t(f"weighting_{method}")))
    if ctx.previous is not None:
        note = weights_changed(ctx)
        if note:
            out.text.append(note)
    weights = pd.DataFrame(
        {
            "criterion": [ctx.component_label(c) for c in used["criterion"]],
            "weight": used["weight"].astype(float).to_numpy(),
        }
    )
    out.add(Table("weights", weights, ctx.t("weights_caption", weighting=ctx.t(f"weighting_{method}"))))
    bt = ctx.optional("scoring_backtest", ["weighting", "metric", "estimate", "lower_95", "upper_95"])
    if bt is None:
        out.notes.append(not_available_note(ctx, "scoring_backtest"))
        return out
    out.sources.append("scoring_backtest")
    bt = bt.assign(weighting=bt["weighting"].astype(str).str.lower())
    baseline = str(ctx.params.scoring.backtest.baseline).lower()
    diffs = ctx.optional("scoring_backtest_differences", ["weighting", "baseline", "metric", "difference"])
    if diffs is not None:
        out.sources.append("scoring_backtest_differences")
        diffs = diffs.assign(weighting=diffs["weighting"].astype(str).str.lower())
    rows = []
    for name, group in bt.groupby("weighting", sort=False):
        metrics = group.set_index("metric")
        if AUC not in metrics.index:
            continue
        auc = metrics.loc[AUC]
        versus = ""
        if diffs is not None and name != baseline:
            d = diffs[(diffs["weighting"] == name) & (diffs["metric"] == AUC)]
            if len(d):
                r = d.iloc[0]
                versus = ctx.t(f"versus_{baseline_verdict(r['difference'], r['lower_95'], r['upper_95'])}")
        rows.append(
            {
                "weighting": ctx.t(f"weighting_{name}") + (" ✓" if name == method.lower() else ""),
                "auc_text": interval_text(ctx, auc, "auc"),
                "top20_text": interval_text(ctx, metrics.loc[MARGIN], "share") if MARGIN in metrics.index else "",
                "versus_baseline": versus if name != baseline else ctx.t("is_baseline"),
                "_weighting": name,
                "_auc": float(auc["estimate"]),
            }
        )
    if not rows:
        raise NotAvailable(ctx.t("why_columns_missing", table="scoring_backtest", columns=AUC))
    out.add(
        Table(
            "backtest", pd.DataFrame(rows), ctx.t("weights_backtest_caption", baseline=ctx.t(f"weighting_{baseline}"))
        )
    )
    chosen = bt[(bt["weighting"] == method.lower()) & (bt["metric"] == AUC)]
    if len(chosen):
        r = chosen.iloc[0]
        verdict = chance_verdict(float(r["estimate"]), float(r["lower_95"]), float(r["upper_95"]))
        out.data["chance_verdict"] = verdict
        out.text.append(ctx.t(f"score_{verdict}", auc=interval_text(ctx, r, "auc")))
        if diffs is not None and method.lower() != baseline:
            out.text.extend(versus_sentences(ctx, diffs, method.lower(), baseline, out.data))
    return out


def versus_sentences(ctx: Context, diffs: pd.DataFrame, method: str, baseline: str, data: dict) -> list[str]:
    """The chosen weighting against the baseline on renewals and on next-year margin, each from the
    interval of the difference; "consider switching" only when it does worse on both."""
    verdicts = {}
    parts = []
    for metric, key, fmt in ((AUC, "auc", lambda v: f"{v:.3f}"), (MARGIN, "margin", formatting.pct)):
        d = diffs[(diffs["weighting"] == method) & (diffs["metric"] == metric)]
        if d.empty:
            continue
        r = d.iloc[0]
        verdict = baseline_verdict(float(r["difference"]), float(r["lower_95"]), float(r["upper_95"]))
        verdicts[key] = verdict
        parts.append(ctx.t(f"vs_{key}_{verdict}", difference=fmt(abs(float(r["difference"])))))
    data["baseline_verdict"] = verdicts.get("auc")
    data["baseline_verdicts"] = verdicts
    if not parts:
        return []
    out = [
        ctx.t("versus_intro", baseline=ctx.t(f"weighting_{baseline}"))
        + ctx.t("list_sep").join(parts)
        + ctx.t("full_stop")
    ]
    if verdicts and all(v == "worse" for v in verdicts.values()):
        out.append(ctx.t("vs_switch", baseline=ctx.t(f"weighting_{baseline}")))
    return out
