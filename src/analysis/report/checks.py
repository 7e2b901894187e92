"""How far to trust the models behind the report: one row per validation figure, each read from the
table its notebook wrote, with a verdict chosen from the value and a threshold of
``report.verdicts`` (never fixed text). Verdict codes a domain writes into its own table (e.g. a
``verdict`` column of ``drivers_model_check``) are used when present."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.report import formatting
from analysis.report.context import Context, NotAvailable

Row = tuple[str, str, str]  # (check key, value shown, verdict key)


def ranking_verdict(value: float, useful: float) -> str:
    """AUC or concordance: ``useful`` from the threshold up, ``weak`` above 0.5, ``chance`` otherwise."""
    if value >= useful:
        return "v_rank_useful"
    return "v_rank_weak" if value > 0.5 else "v_rank_chance"


def ratio_verdict(ratio: float, tolerance: float, over: str, under: str, close: str) -> str:
    """Predicted / actual: ``close`` within 1 +- tolerance, else over- or under-predicting."""
    if abs(ratio - 1) <= tolerance:
        return close
    return over if ratio > 1 else under


def nonlinear_verdict(gbm: float, logit: float, gap: float) -> str:
    """Boosting minus logit held-out AUC: ``nonlinear`` above +gap, ``logit_better`` below -gap, else ``same``."""
    diff = round(gbm - logit, 6)  # 0.87 - 0.89 is -0.020000000000000018 in floats
    if diff > gap:
        return "v_gbm_nonlinear"
    if diff < -gap:
        return "v_gbm_logit_better"
    return "v_gbm_same"


DRIVER_VERDICT_CODES = {"nonlinear": "v_gbm_nonlinear", "same": "v_gbm_same", "logit better": "v_gbm_logit_better"}


def check_clv(ctx: Context) -> list[Row]:
    h = ctx.need("clv_holdout_check", ["customers", "actual", "predicted"])
    w = h["customers"].astype(float)
    predicted, actual = (h["predicted"] * w).sum() / w.sum(), (h["actual"] * w).sum() / w.sum()
    ratio = predicted / actual if actual else np.nan
    tol = ctx.settings.verdicts.calibration_tolerance
    if "verdict" in h.columns and h["verdict"].notna().any():
        code = {"close": "v_clv_close", "over": "v_clv_over", "under": "v_clv_under"}.get(str(h["verdict"].iloc[0]))
    else:
        code = None
    code = code or ratio_verdict(ratio, tol, "v_clv_over", "v_clv_under", "v_clv_close")
    return [("chk_clv_holdout", f"{predicted:.2f} / {actual:.2f}", code), *check_contract_retention(ctx)]


SBG_VERDICTS = {"fits": "v_sbg_fits", "misfit": "v_sbg_misfit", "not tested": "v_sbg_untested"}


def check_contract_retention(ctx: Context) -> list[Row]:
    """Per contract term: does the renewal model (sBG) describe the observed retention by renewal
    number (``clv_retention_segments.fit_check``)? Where it does not, the value of those contracts
    uses the observed rate per renewal number (``model``), and the row says so."""
    table = ctx.tables.get("clv_retention_segments")
    if table is None or not {"segment", "term_class", "fit_check", "renewal_rate_observed"} <= set(table.columns):
        return []
    rows = []
    for _, row in table[table["segment"] == "all"].iterrows():
        verdict = SBG_VERDICTS.get(str(row["fit_check"]))
        if verdict is None:
            continue
        term = ctx.t(f"term_{str(row['term_class']).replace('-', '_')}")
        value = ctx.t("sbg_value", term=term, rate=formatting.pct(row["renewal_rate_observed"]))
        rows.append(("chk_sbg_fit", value, verdict))
    return rows


def check_churn(ctx: Context) -> list[Row]:
    m = ctx.need("churn_model_evaluation", ["metric", "value"]).drop_duplicates("metric", keep="last")
    values = m.set_index("metric")["value"].astype(float)
    v = ctx.settings.verdicts
    rows = [
        (key, f"{values[name]:.2f}", ranking_verdict(values[name], v.auc_useful))
        for key, name in (("chk_churn_c", "Harrell C"), ("chk_churn_uno", "Uno C"))
        if name in values
    ]
    full = ctx.tables.get("churn_model_evaluation")
    auc = full[full["metric"] == "time-dependent AUC"] if full is not None else pd.DataFrame()
    if len(auc) and "horizon_days" in auc.columns:
        last = auc.sort_values("horizon_days").iloc[-1]
        rows.append(
            (
                "chk_churn_auc",
                ctx.t(
                    "value_at_horizon",
                    value=f"{last['value']:.2f}",
                    horizon=formatting.days(last["horizon_days"], ctx.lang),
                ),
                ranking_verdict(float(last["value"]), v.auc_useful),
            )
        )
    if "predicted / observed churn" in values:
        ratio = values["predicted / observed churn"]
        rows.append(
            (
                "chk_churn_ratio",
                f"{ratio:.2f}",
                ratio_verdict(ratio, v.calibration_tolerance, "v_churn_over", "v_churn_under", "v_churn_close"),
            )
        )
    calib = ctx.optional("churn_calibration", ["predicted", "observed"])
    if calib is not None:
        gap = float((calib["predicted"] - calib["observed"]).abs().max())
        rows.append(
            (
                "chk_churn_calibration",
                formatting.points(gap, ctx.lang).lstrip("+"),
                "v_gap_small" if gap <= v.calibration_gap_points else "v_gap_large",
            )
        )
    return rows


def check_drivers(ctx: Context) -> list[Row]:
    d = ctx.need("drivers", ["direction"])
    n_clear = int((d["direction"] != "no clear effect").sum())
    rows = [("chk_drivers_clear", f"{n_clear} / {len(d)}", "v_clear_some" if n_clear else "v_clear_none")]
    check = ctx.optional("drivers_model_check", ["metric", "value"])
    if check is not None:
        values = check.drop_duplicates("metric", keep="last").set_index("metric")["value"]
        numbers = pd.to_numeric(values, errors="coerce")
        v = ctx.settings.verdicts
        logit = numbers.get("held-out AUC, logit", np.nan)
        gbm = numbers.get("held-out AUC, gradient boosting", np.nan)
        if np.isfinite(logit):
            rows.append(("chk_drivers_auc_logit", f"{logit:.2f}", ranking_verdict(logit, v.auc_useful)))
        if np.isfinite(gbm) and np.isfinite(logit):
            code = DRIVER_VERDICT_CODES.get(
                str(check.set_index("metric").get("verdict", pd.Series()).get("held-out AUC, gradient boosting", ""))
            )
            rows.append(("chk_drivers_auc_gbm", f"{gbm:.2f}", code or nonlinear_verdict(gbm, logit, v.auc_gap)))
        if np.isfinite(numbers.get("contracts", np.nan)):
            rows.append(("chk_drivers_contracts", formatting.count(numbers["contracts"]), "v_more_is_better"))
        flips = numbers.get("sign flips between segments", np.nan)
        if np.isfinite(flips):
            rows.append(
                ("chk_drivers_flips", formatting.count(flips), "v_flips_none" if flips == 0 else "v_flips_some")
            )
    if "method" in d.columns and len(d):
        penalised = d["method"].astype(str).str.contains("ridge|penal", case=False).any()
        rows.append(
            (
                "chk_drivers_method",
                ctx.t("method_penalised" if penalised else "method_standard"),
                "v_method_penalised" if penalised else "v_method_standard",
            )
        )
    return rows


def check_scoring(ctx: Context) -> list[Row]:
    from analysis.report.sections.weights import chance_verdict, interval_text

    bt = ctx.need("scoring_backtest", ["weighting", "metric", "estimate"])
    used = ctx.need("scoring_weights_used", ["weighting"])  # what cut this run's tiers, not the params
    method = str(used["weighting"].iloc[0])
    rows = bt[bt["weighting"].astype(str).str.lower() == method.lower()].set_index("metric")
    if rows.empty:
        raise NotAvailable(ctx.t("why_columns_missing", table="scoring_backtest", columns=ctx.t(f"weighting_{method}")))
    out = []
    if "renewal_auc" in rows.index:
        r = rows.loc["renewal_auc"]
        verdict = chance_verdict(
            float(r["estimate"]), float(r.get("lower_95", np.nan)), float(r.get("upper_95", np.nan))
        )
        out.append(("chk_scoring_auc", interval_text(ctx, r, "auc"), f"v_score_{verdict}"))
    if "top20_margin_share" in rows.index:
        r = rows.loc["top20_margin_share"]
        share = float(r["estimate"])
        out.append(
            (
                "chk_scoring_top20",
                interval_text(ctx, r, "share"),
                "v_top20_more" if share > ctx.params.scoring.backtest.top_share else "v_top20_none",
            )
        )
    if "top_tier_renewal_lift" in rows.index:
        r = rows.loc["top_tier_renewal_lift"]
        lower = float(r.get("lower_95", np.nan))
        out.append(
            (
                "chk_scoring_lift",
                interval_text(ctx, r, "auc"),
                "v_lift_above" if np.isfinite(lower) and lower > 1 else "v_lift_not_above",
            )
        )
    return out


def check_segments(ctx: Context) -> list[Row]:
    rules = ctx.need("segment_rules", ["precision_test", "coverage_test"])
    best = rules.sort_values("precision_test", ascending=False).iloc[0]
    good = ctx.settings.verdicts.rule_precision_good
    return [
        (
            "chk_rules",
            f"{formatting.pct(best['precision_test'])} / {formatting.pct(best['coverage_test'])}",
            "v_rule_reliable" if best["precision_test"] >= good else "v_rule_rough",
        ),
        *check_segment_count(ctx),
    ]


def check_segment_count(ctx: Context) -> list[Row]:
    """Is the number of segments a clear choice (``segment_k_selection.close``, from the silhouette
    margin to the runner-up and the share of bootstrap resamples the chosen number wins)?"""
    table = ctx.tables.get("segment_k_selection")
    needed = {"k", "chosen_kmeans", "chosen_gmm", "bootstrap_share", "runner_up", "close"}
    if table is None or not needed <= set(table.columns) or not table["runner_up"].any():
        return []
    algorithm = ctx.params.segments.algorithm
    chosen = table[table["chosen_kmeans" if algorithm == "kmeans" else "chosen_gmm"].astype(bool)]
    if chosen.empty:
        return []
    k, runner = int(chosen["k"].iloc[0]), int(table.loc[table["runner_up"].astype(bool), "k"].iloc[0])
    share = chosen["bootstrap_share"].iloc[0]
    value = ctx.t("k_value", k=k, runner=runner)
    if pd.notna(share):
        value += ctx.t("k_share", share=formatting.pct(share))
    return [("chk_segment_count", value, "v_k_close" if bool(table["close"].iloc[0]) else "v_k_clear")]


METHOD_CHECKS: tuple[tuple[str, Callable[[Context], list[Row]], str], ...] = (
    ("model_clv", check_clv, "clv_holdout_check"),
    ("model_churn", check_churn, "churn_model_evaluation"),
    ("model_drivers", check_drivers, "drivers"),
    ("model_scoring", check_scoring, "scoring_backtest"),
    ("model_segments", check_segments, "segment_rules"),
)


def method_checks(ctx: Context) -> pd.DataFrame:
    """One row per validation figure of the models behind the report (or why it is missing)."""
    rows = []
    for model_key, extract, source in METHOD_CHECKS:  # five models, each read from its own table
        try:
            found = extract(ctx)
        except NotAvailable as exc:
            found = [("chk_missing", ctx.t("not_available", why=exc.why), "")]
        rows += [
            {
                "method_model": ctx.t(model_key),
                "check": ctx.t(key),
                "value": value,
                "meaning": ctx.t(verdict, threshold=threshold(ctx, verdict)) if verdict else "",
                "_source": source,
                "_key": key,
                "_verdict": verdict,
            }
            for key, value, verdict in found
        ]
    return pd.DataFrame(rows, columns=["method_model", "check", "value", "meaning", "_source", "_key", "_verdict"])


def threshold(ctx: Context, verdict: str) -> str:
    """The threshold a verdict sentence names (so the reader sees the rule, not only the word)."""
    v = ctx.settings.verdicts
    if verdict.startswith("v_rank"):
        return f"{v.auc_useful:.2f}"
    if verdict.startswith(("v_clv", "v_churn")):
        return formatting.pct(v.calibration_tolerance)
    if verdict.startswith("v_gap"):
        return formatting.points(v.calibration_gap_points, ctx.lang).lstrip("+")
    if verdict.startswith("v_gbm"):
        return f"{v.auc_gap:.2f}"
    if verdict.startswith("v_rule"):
        return formatting.pct(v.rule_precision_good)
    if verdict.startswith("v_k_"):
        return formatting.pct(ctx.params.segments.k_stable_share)
    if verdict.startswith("v_top20"):
        return formatting.pct(ctx.params.scoring.backtest.top_share)
    return ""
