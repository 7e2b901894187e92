"""Early warnings: the configured rules (30 days without login and the others), how many current
customers each flags and their annual value, the play per tier, and each rule's record: of the
customers it would have flagged a year ago, how many have left since, against the unflagged."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.params import WarningRuleParams
from analysis.report import absent, formatting, plotting
from analysis.report.context import (
    Context,
    NotAvailable,
    Section,
    Table,
    account_columns,
    add_listing,
    by_account,
    section,
)
from analysis.report.history import RECORD_COLUMNS


def rule_label(ctx: Context, rule: WarningRuleParams) -> str:
    return getattr(rule, ctx.lang, None) or rule.en


@section("warnings")
def warnings_section(ctx: Context) -> Section:
    rules = list(ctx.params.scoring.warnings)
    if not rules:
        raise NotAvailable(ctx.t("why_no_rules"))
    coverage = ctx.optional("early_warning_coverage", ["rule", "not_evaluable", "accounts"])
    blind = blind_rules(coverage, rules)
    if len(blind) == len(rules):
        raise NotAvailable(ctx.t("why_no_rule_evaluable", lacks=absent.lacks_data(ctx, [r.column for r in rules])))
    alerts = ctx.tables.get("early_warnings")
    if coverage is None or alerts is None or not alerts.empty:  # no rows is an answer only with the coverage
        alerts = ctx.need("early_warnings", ["account_id", "rule", "value"])
    out = Section("warnings", sources=["early_warnings"])
    if coverage is not None:
        out.sources.append("early_warning_coverage")
    feats = ctx.optional("features_asof", ["account_id", "is_active"])
    if feats is not None:
        active = by_account(feats)["is_active"].astype(bool)
        alerts = alerts[alerts["account_id"].map(active).fillna(False).astype(bool)]
        out.sources.append("features_asof")
    scored = ctx.optional("scored_accounts", ["account_id", "tier"])
    tier = by_account(scored)["tier"].astype(object) if scored is not None else pd.Series(dtype=object)
    arr = by_account(feats)["arr"].astype(float) if feats is not None and "arr" in feats else pd.Series(dtype=float)
    record = ctx.optional("report_warnings_record", RECORD_COLUMNS)
    by_rule = {r.rule: r for r in rules}
    rows = []
    for r in rules:
        ids = alerts.loc[alerts["rule"] == r.rule, "account_id"].unique()
        rec = record.set_index("rule").loc[r.rule] if record is not None and r.rule in set(record["rule"]) else None
        rows.append(
            {
                "warning": rule_label(ctx, r),
                "accounts": len(ids),
                "annual_value": float(arr.reindex(ids).sum()) if len(arr) else np.nan,
                "flagged_then": int(rec["flagged"]) if rec is not None else np.nan,
                "churn_flagged": rec["churn_flagged"] if rec is not None else np.nan,
                "churn_unflagged": rec["churn_unflagged"] if rec is not None else np.nan,
                "record": record_sentence(ctx, rec) if rec is not None else ctx.t("record_missing"),
                "_rule": r.rule,
                "_verdict": rec["verdict"] if rec is not None else "",
                **(blind_row(ctx, r) if r.rule in blind else {}),
            }
        )
    rules_table = pd.DataFrame(rows)
    out.add(Table("rules", rules_table, ctx.t("warnings_rules_caption", days=ctx.settings.lookback_days)))
    flagged_ids = pd.Index(alerts["account_id"].unique())
    if len(flagged_ids) or coverage is None:
        out.text.append(
            ctx.t(
                "warnings_sentence",
                n=formatting.count(len(flagged_ids)),
                value=ctx.money(arr.reindex(flagged_ids).sum()) if len(arr) else "—",
                rules=formatting.count(len(rules)),
            )
        )
    else:
        active = int(coverage["accounts"].max())
        names = ctx.t("names_sep").join(rule_label(ctx, r) for r in rules if r.rule not in blind)
        out.text.append(ctx.t("warnings_none_fired", active=formatting.count(active), rules=names))
    if blind:
        names = ctx.t("names_sep").join(rule_label(ctx, by_rule[r]) for r in blind)
        out.text.append(ctx.t("warnings_blind", rules=names, lacks=absent.lacks_data(ctx, blind.values())))
    if record is not None:
        out.sources.append("report_warnings_record")
        trusted = [rule_label(ctx, by_rule[r]) for r, v in zip(record["rule"], record["verdict"]) if v == "trusted"]
        out.text.append(
            ctx.t("warnings_trusted", rules=ctx.t("names_sep").join(trusted))
            if trusted
            else ctx.t("warnings_none_trusted")
        )
        plotted = rules_table.dropna(subset=["churn_flagged"]).set_index("warning")[
            ["churn_flagged", "churn_unflagged"]
        ]
        if len(plotted):
            out.figures.append(
                plotting.embed(
                    plotting.rate_pairs(
                        plotted,
                        {"churn_flagged": ctx.t("churn_flagged"), "churn_unflagged": ctx.t("churn_unflagged")},
                        ctx.t("warnings_figure_title", days=ctx.settings.lookback_days),
                        ctx.t("left_axis"),
                    ),
                    ctx.t("warnings_figure_title", days=ctx.settings.lookback_days),
                )
            )
    else:
        out.notes.append(ctx.t("record_missing"))
    # the play per tier
    codes, names = ctx.tier_codes(), ctx.tier_names()
    per_tier = tier.reindex(flagged_ids).value_counts().reindex(codes).fillna(0).astype(int)
    plays = ctx.settings.warning_plays
    out.add(
        Table(
            "plays",
            pd.DataFrame(
                {
                    "tier": [names[c] for c in codes],
                    "accounts": per_tier.to_numpy(),
                    "play": [getattr(plays[c], ctx.lang) if c in plays else "" for c in codes],
                }
            ),
            ctx.t("warnings_plays_caption"),
        )
    )
    # the flagged accounts, most valuable first
    listing = account_listing(ctx, alerts, by_rule, tier, arr, scored)
    add_listing(ctx, out, "accounts", listing, ctx.t("warnings_accounts_caption"), "accounts_all")
    return out


def blind_rules(coverage: pd.DataFrame | None, rules: list[WarningRuleParams]) -> dict[str, str]:
    """Rules that could be evaluated on no current customer (their column is missing for all of
    them, ``early_warning_coverage``), rule -> column, in the configured order."""
    if coverage is None:
        return {}
    cov = coverage.set_index("rule")
    return {
        r.rule: r.column
        for r in rules
        if r.rule in cov.index
        and cov.at[r.rule, "accounts"] > 0
        and cov.at[r.rule, "not_evaluable"] >= cov.at[r.rule, "accounts"]
    }


def blind_row(ctx: Context, rule: WarningRuleParams) -> dict:
    """A rule without its data: no counts (nothing was evaluated, not "0 flagged"), and why."""
    empty = {"accounts": np.nan, "annual_value": np.nan, "flagged_then": np.nan}
    return {
        **empty,
        "churn_flagged": np.nan,
        "churn_unflagged": np.nan,
        "_verdict": "not_evaluable",
        "record": ctx.t("record_blind", lacks=absent.lacks_data(ctx, [rule.column])),
    }


def record_sentence(ctx: Context, rec: pd.Series) -> str:
    verdict = rec["verdict"]
    values = {
        "flagged": formatting.count(rec["flagged"]),
        "churn_flagged": formatting.pct(rec["churn_flagged"]),
        "churn_unflagged": formatting.pct(rec["churn_unflagged"]),
        "lift": f"{rec['lift']:.1f}" if np.isfinite(rec["lift"]) else "—",
        "min_flagged": formatting.count(ctx.settings.verdicts.min_flagged),
    }
    return ctx.t(f"record_{verdict}", **values)


def account_listing(ctx: Context, alerts, by_rule, tier: pd.Series, arr: pd.Series, scored) -> pd.DataFrame:
    """One row per flagged customer: its warnings in words (with the value that fired), tier, ARR."""
    words = [
        f"{rule_label(ctx, by_rule[r])} ({ctx.value(by_rule[r].column, v)})" if r in by_rule else str(r)
        for r, v in zip(alerts["rule"], alerts["value"])
    ]
    per_account = (
        pd.Series(words, index=alerts["account_id"].to_numpy()).groupby(level=0, sort=True).agg(ctx.t("list_sep").join)
    )
    frame = pd.DataFrame(
        {
            **account_columns(ctx, per_account.index, tier),
            "warnings": per_account.to_numpy(),
            "arr": arr.reindex(per_account.index).to_numpy() if len(arr) else np.nan,
        }
    )
    if scored is not None and "next_renewal_date" in scored.columns:
        frame["renewal_date"] = pd.to_datetime(
            by_account(scored)["next_renewal_date"].reindex(per_account.index)
        ).to_numpy()
    return frame.sort_values("arr", ascending=False, kind="stable").reset_index(drop=True)
