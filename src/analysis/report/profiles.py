"""One-page account profiles, one per account listed anywhere in the report: the score and its
components, health and its components, churn risk before the next renewal, CLV, the reasons, the
warnings that fired, the suggested review action and the playbook of its tier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis.report import formatting, i18n
from analysis.report.context import Context, Section, by_account

CONTRIB, HEALTH_CONTRIB = "contrib_", "health_contrib_"


@dataclass
class Bar:
    label: str
    points: float
    most: float  # the points the component can give at most (its weight x 100)

    @property
    def width(self) -> float:
        """Share of the bar filled, 0-100 (for the page's CSS)."""
        return max(0.0, min(100.0, 100 * self.points / self.most)) if self.most > 0 else 0.0


@dataclass
class Profile:
    id: str
    name: str
    facts: list[str]
    kpis: list[tuple[str, str]]
    score_parts: list[Bar] = field(default_factory=list)
    health_parts: list[Bar] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    action: str = ""
    playbook: str = ""


def _bars(ctx: Context, row: pd.Series, prefix: str, specs: Mapping) -> list[Bar]:
    return [
        Bar(ctx.component_label(name), float(row[f"{prefix}{name}"]), 100.0 * float(spec.weight))
        for name, spec in specs.items()
        if f"{prefix}{name}" in row.index and pd.notna(row[f"{prefix}{name}"])
    ]


def build_profiles(
    ctx: Context,
    ids: Iterable[str],
    sections: Mapping[str, Section],
    reasons: pd.Series,
) -> list[Profile]:
    """Profiles of ``ids`` (each once, in the order first listed)."""
    scored = ctx.optional("scored_accounts", ["account_id"])
    scored = by_account(scored) if scored is not None else pd.DataFrame()
    churn = ctx.optional("churn_risk", ["account_id", "p_churn_before_renewal"])
    churn = by_account(churn)["p_churn_before_renewal"] if churn is not None else pd.Series(dtype=float)
    clv = ctx.optional("clv_accounts", ["account_id", "clv"])
    clv = by_account(clv)["clv"] if clv is not None else pd.Series(dtype=float)
    warnings = _listed(sections.get("warnings"), "accounts_all", "warnings")
    review = _listed(sections.get("review"), "accounts_all", "suggested_action")
    books = i18n.playbooks(ctx.params.scoring, ctx.lang)
    tiers, bands = ctx.tier_names(), ctx.band_names()
    grades = ctx.params.scoring.tiers.abcd
    grade_names = dict(zip(grades.codes, grades.names.get(ctx.lang) or grades.codes))
    out = []
    for account in dict.fromkeys(str(i) for i in ids):
        row = scored.loc[account] if account in scored.index else pd.Series(dtype=object)
        tier = row.get("tier")
        facts = [
            tiers.get(tier, "") if tier is not None else "",
            ctx.t("grade_of", grade=f"{row.get('abcd')} ({grade_names.get(row.get('abcd'), '')})")
            if pd.notna(row.get("abcd"))
            else "",
            *(ctx.level(c, v) for c in ("industry", "size_band", "region") if (v := _account(ctx, account, c))),
            ctx.t("owner_is", owner=_account(ctx, account, "owner")) if ctx.has_owner else "",
        ]
        kpis = [
            (ctx.t("score"), formatting.number(row.get("score"), 0)),
            (ctx.t("health_score"), _health(row, bands)),
            (ctx.t("churn_probability"), formatting.pct(churn.get(account))),
            (ctx.t("m_clv"), ctx.money(clv.get(account))),
            (ctx.t("arr"), ctx.money(row.get("arr"))),
            (ctx.t("renewal_date"), formatting.date(row.get("next_renewal_date"))),
        ]
        out.append(
            Profile(
                id=account,
                name=_account(ctx, account, "name") or account,
                facts=[f for f in facts if f],
                kpis=[(label, value or "—") for label, value in kpis],
                score_parts=_bars(ctx, row, CONTRIB, ctx.params.scoring.criteria),
                health_parts=_bars(ctx, row, HEALTH_CONTRIB, ctx.params.scoring.health.components),
                reasons=[r for r in str(reasons.get(account, "") or "").split(ctx.t("reason_sep")) if r],
                warnings=[w for w in str(warnings.get(account, "") or "").split(ctx.t("list_sep")) if w],
                action=str(review.get(account, "") or ""),
                playbook=books.get(tier, "") if tier is not None else "",
            )
        )
    return out


def _listed(sec: Section | None, table: str, column: str) -> pd.Series:
    if sec is None or table not in sec.full or column not in sec.full[table].columns:
        return pd.Series(dtype=object)
    frame = sec.full[table]
    return pd.Series(frame[column].to_numpy(), index=frame["account"].astype(str).to_numpy())


def _account(ctx: Context, account: str, column: str) -> str:
    if ctx.accounts is None or column not in ctx.accounts.columns or account not in ctx.accounts.index:
        return ""
    value = ctx.accounts.at[account, column]
    return "" if formatting.missing(value) else str(value)


def _health(row: pd.Series, bands: Mapping[str, str]) -> str:
    score = formatting.number(row.get("health_score"), 0)
    band = bands.get(row.get("health_band"), "")
    return f"{score} ({band})" if score and band else score
