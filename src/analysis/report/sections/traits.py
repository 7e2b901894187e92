"""What top customers look like, and who could become one: the segments of notebook 06 named by
their most distinctive traits, the held-out rules describing the top tier (in words), and the upgrade
candidates with the gap to the top customers they resemble."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.report import formatting
from analysis.report.context import (
    Context,
    Section,
    Table,
    account_columns,
    add_listing,
    by_account,
    section,
)

CONDITION = re.compile(r"^(?P<feature>[A-Za-z_][\w]*) (?P<op>not in|in|<=|>=|!=|=|<|>) (?P<value>.+)$")
LEVEL_FEATURE = re.compile(r"^(?P<feature>[A-Za-z_]\w*) = (?P<level>.+)$")
OPS = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "=": "=", "!=": "≠"}
N_TRAITS = 2


def _number(text: str):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def condition_words(ctx: Context, text: str) -> str:
    """``tenure_days >= 1,262`` -> "years of cooperation ≥ 3.5 years"."""
    text = text.strip()
    if text.startswith("not ") and " " not in text[4:]:
        return ctx.t("rule_not", factor=ctx.label(text[4:]))
    m = CONDITION.match(text)
    if not m:
        return ctx.label(text) if re.fullmatch(r"[A-Za-z_]\w*", text) else text
    feature, op, value = m.group("feature"), m.group("op"), m.group("value")
    if op in ("in", "not in"):
        levels = [ctx.level(feature, v.strip()) for v in value.strip("{}").split(",")]
        return ctx.t(
            "rule_in" if op == "in" else "rule_not_in",
            factor=ctx.label(feature),
            levels=ctx.t("names_sep").join(levels),
        )
    number = _number(value)
    shown = ctx.value(feature, number) if number is not None else ctx.level(feature, value)
    return f"{ctx.label(feature)} {OPS[op]} {shown}"


def rule_words(ctx: Context, rule: str) -> str:
    return ctx.t("rule_and").join(condition_words(ctx, c) for c in str(rule).split(" AND "))


def segment_names(ctx: Context, differences: pd.DataFrame | None, clusters) -> dict:
    """Cluster -> "Segment 1: active users (90 days) high, mostly mid-market" from its largest differences."""
    out = {}
    for cluster in clusters:
        traits = []
        if differences is not None:
            rows = differences[differences["cluster"] == cluster]
            rows = rows.reindex(rows["std_diff"].abs().sort_values(ascending=False).index).head(N_TRAITS)
            for feature, diff in zip(rows["feature"], rows["std_diff"]):
                level = LEVEL_FEATURE.match(str(feature))
                if level:
                    key = "trait_mostly" if diff > 0 else "trait_few"
                    traits.append(ctx.t(key, level=ctx.level(level.group("feature"), level.group("level"))))
                else:
                    traits.append(ctx.t("trait_high" if diff > 0 else "trait_low", factor=ctx.label(str(feature))))
        name = ctx.t("segment_n", n=cluster)
        out[cluster] = f"{name}: {ctx.t('names_sep').join(traits)}" if traits else name
    return out


def gap_sentence(ctx: Context, row: pd.Series, columns: list[str]) -> str:
    parts = []
    for col in columns:
        feature, value = col[len("gap_") :], row[col]
        if formatting.missing(value):
            continue
        number = value if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) else None
        if number is not None:
            if abs(float(number)) < 1e-12:
                continue
            parts.append(
                f"{ctx.label(feature)} {formatting.change_of(feature, number, ctx.lang, ctx.settings.currency)}"
            )
        elif " -> " in str(value):  # a category to change: "small -> mid-market"
            before, after = (ctx.level(feature, v.strip()) for v in str(value).split(" -> ", 1))
            parts.append(ctx.t("gap_level", factor=ctx.label(feature), before=before, after=after))
        else:
            parts.append(ctx.t("reason_level", factor=ctx.label(feature), level=ctx.level(feature, value)))
    return ctx.t("list_sep").join(parts)


@section("traits")
def traits_section(ctx: Context) -> Section:
    candidates = ctx.need("upgrade_candidates", ["account_id"])
    out = Section("traits", sources=["upgrade_candidates"])
    profiles = ctx.optional("segment_profiles", ["cluster"])
    differences = ctx.optional("segment_differences", ["cluster", "feature", "std_diff"])
    clusters = (
        list(profiles["cluster"])
        if profiles is not None
        else sorted(candidates.get("cluster", pd.Series()).dropna().unique())
    )
    names = segment_names(ctx, differences, clusters)
    if profiles is not None:
        keep = {
            "n_accounts": "accounts",
            "share_accounts": "share_accounts",
            "share_value": "share_revenue",
            "share_clv": "share_clv",
            "renewal_rate": "renewal_rate",
            "top_tier_share": "top_tier_share",
        }
        table = profiles[[c for c in keep if c in profiles.columns]].rename(columns=keep)
        table.insert(0, "segment", profiles["cluster"].map(names).to_numpy())
        out.add(Table("segments", table, ctx.t("segments_title")))
        out.sources.append("segment_profiles")
    rules = ctx.optional("segment_rules", ["rule", "precision_test", "coverage_test"])
    if rules is not None:
        good = ctx.settings.verdicts.rule_precision_good
        table = pd.DataFrame(
            {
                "rule": [rule_words(ctx, r) for r in rules["rule"]],
                "precision": rules["precision_test"].astype(float).to_numpy(),
                "coverage": rules["coverage_test"].astype(float).to_numpy(),
                "reliable": [ctx.t("yes") if p >= good else ctx.t("no") for p in rules["precision_test"]],
                "_rule_id": rules.get("rule_id", pd.Series(range(len(rules)))).astype(str).to_numpy(),
            }
        )
        out.add(Table("rules", table, ctx.t("rules_title", good=formatting.pct(good))))
        out.sources.append("segment_rules")
    gap_cols = [c for c in candidates.columns if c.startswith("gap_") and c != "gap_summary"]
    scored = ctx.optional("scored_accounts", ["account_id", "tier"])
    rule_text = (
        dict(zip(out.table("rules").frame["_rule_id"], out.table("rules").frame["rule"])) if out.has("rules") else {}
    )
    ids = candidates["account_id"]
    if "tier" in candidates.columns:
        tiers = candidates.set_index("account_id")["tier"]
    else:
        tiers = by_account(scored)["tier"] if scored is not None else None
    listing = pd.DataFrame(
        {
            **account_columns(ctx, ids, tiers),
            "revenue_12m": candidates["revenue_12m"].to_numpy() if "revenue_12m" in candidates else np.nan,
            "candidate_reason": [candidate_reason(ctx, r, names, rule_text) for _, r in candidates.iterrows()],
            "gaps": [gap_sentence(ctx, r, gap_cols) for _, r in candidates.iterrows()],
        }
    )
    add_listing(ctx, out, "candidates", listing, ctx.t("candidates_title"), "candidates_all")
    out.text.append(ctx.t("traits_sentence", n=formatting.count(len(candidates))))
    return out


def candidate_reason(ctx: Context, row: pd.Series, names: dict, rules: dict) -> str:
    parts = []
    cluster = row.get("target_cluster", row.get("cluster"))
    if bool(row.get("in_high_value_cluster", True)) and not formatting.missing(cluster):
        parts.append(ctx.t("candidate_in_segment", segment=names.get(cluster, ctx.t("segment_n", n=cluster))))
    rule = row.get("matched_rule")
    if not formatting.missing(rule) and str(rule) in rules:
        parts.append(ctx.t("candidate_rule", rule=rules[str(rule)]))
    return ctx.t("list_sep").join(parts) or ctx.t("candidate_close")
