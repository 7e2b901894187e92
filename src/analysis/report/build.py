"""The manager report: sections assembled from the tables of one run (and of the previous run).

Each ``*_section`` function takes a :class:`Context` and returns a :class:`Section` holding its
sentences and tables, or, when a table or column it needs is absent, a section marked not
available with a note saying why ("Not available: this run has no table 'drivers' (written by
notebook 05_renewal_drivers)"). Nothing here raises on a missing analysis.

Rendering is HTML built here, with every text that comes from data or config escaped
(``html.escape``; tables through ``DataFrame.to_html(escape=True)``), so account names such as
``<script>...`` appear as text. Figures are drawn by the notebook with ``analysis.plotting``.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import catalog
from analysis.data import io, quality
from analysis.data.history import renewal_history
from analysis.params import Params, ReportParams
from analysis.report import i18n
from analysis.scoring.tiers import GONE, NEW, migration

HEADLINE_FILE = "headline.json"
HEADLINE_KEYS = (
    "accounts",
    "accounts_total",
    "arr",
    "renewal_rate",
    "churned_value",
    "revenue_12m",
    "clv_total",
    "value_at_risk_90d",
)
HEADLINE_KINDS = {"accounts": "int", "accounts_total": "int", "renewal_rate": "pct"}  # others: money

# Short text columns kept on one line (Chinese would otherwise wrap after every character).
NOWRAP = frozenset({"account", "tier", "tier_from", "tier_to", "health_band", "direction", "tier_before", "segment"})
# Display format of table columns (named after i18n keys); other columns are shown as text.
FORMATS: dict[str, str] = {
    "accounts": "int",
    "share_accounts": "pct",
    "share_revenue": "pct",
    "share_clv": "pct",
    "renewal_rate": "pct",
    "health_mean": "num1",
    "share_health_risk": "pct",
    "annual_value": "money",
    "value_at_risk": "money",
    "churn_probability": "pct",
    "effect": "ratio",
    "p_adjusted": "p",
    "score_change": "num1",
    "renewal_date": "date",
    "revenue_12m": "money",
    "precision": "pct",
    "coverage": "pct",
    "missing_share": "pct",
    "rows": "int",
    "top_tier_share": "pct",
}


# --- reading the run ----------------------------------------------------------------------


class NotAvailable(Exception):
    """A section cannot be built; ``why`` is the reader-facing reason."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class RunTables:
    """Tables of one run folder (``tables/*.parquet`` and ``*.json``), read once; None when absent.

    ``frames`` supplies tables directly (tests, or tables made in the notebook).
    """

    def __init__(self, run_dir: str | Path | None = None, frames: Mapping[str, Any] | None = None):
        self.run_dir = Path(run_dir) if run_dir else None
        self._cache: dict[str, Any] = dict(frames or {})

    @property
    def label(self) -> str:
        """How the report names this run: its folder name."""
        return self.run_dir.name if self.run_dir else "-"

    def get(self, name: str) -> pd.DataFrame | None:
        catalog.writer_of(name)  # a name outside the catalog is a typo, not a missing section
        if name not in self._cache:
            self._cache[name] = io.read_table(self.run_dir, name) if self.run_dir else None
        value = self._cache[name]
        return value if value is None or isinstance(value, pd.DataFrame) else None

    def json(self, name: str) -> dict | None:
        key = f"{name}.json"
        if key not in self._cache:
            path = io.tables_dir(self.run_dir) / key if self.run_dir else None
            self._cache[key] = json.loads(path.read_text(encoding="utf-8")) if path and path.exists() else None
        return self._cache[key]


@dataclass
class Context:
    """Everything a section needs: this run's tables, the previous run's, parameters, language."""

    tables: RunTables
    previous: RunTables | None
    params: Params
    as_of: str
    run_id: str = ""
    names: pd.Series | None = None  # account_id -> display name (from the accounts table)

    @classmethod
    def for_run(
        cls, run_dir, previous_run_dir, params: Params, as_of, run_id: str = "", accounts: pd.DataFrame | None = None
    ) -> Context:
        names = None
        if accounts is not None and {"account_id", "name"} <= set(accounts.columns):
            names = accounts.set_index("account_id")["name"]
        previous = RunTables(previous_run_dir) if previous_run_dir else None
        return cls(RunTables(run_dir), previous, params, str(as_of), run_id or "", names)

    @property
    def lang(self) -> str:
        return self.params.language

    @property
    def settings(self) -> ReportParams:
        return self.params.report

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    def need(self, name: str, columns: Iterable[str] = (), previous: bool = False) -> pd.DataFrame:
        """Table ``name`` with ``columns``, or NotAvailable saying what is missing."""
        source = self.previous if previous else self.tables
        if source is None:
            raise NotAvailable(self.t("why_no_previous"))
        frame = source.get(name)
        if frame is None:
            if previous:
                raise NotAvailable(self.t("why_previous_missing", previous=source.label, table=name))
            raise NotAvailable(self.t("why_table_missing", table=name, notebook=catalog.writer_of(name)))
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise NotAvailable(self.t("why_columns_missing", table=name, columns=", ".join(missing)))
        if frame.empty:
            raise NotAvailable(self.t("why_empty", table=name))
        return frame

    def optional(self, name: str, columns: Iterable[str] = (), previous: bool = False) -> pd.DataFrame | None:
        try:
            return self.need(name, columns, previous)
        except NotAvailable:
            return None

    def tier_names(self) -> dict[str, str]:
        return i18n.tier_names(self.params.scoring, self.lang)

    def name_of(self, ids: pd.Series) -> pd.Series:
        if self.names is None:
            return pd.Series("", index=ids.index)
        return ids.map(self.names).fillna("").astype(str)


@dataclass
class Section:
    """One part of the report: sentences, tables (columns named after i18n keys) and notes."""

    key: str
    title: str
    available: bool = True
    text: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw figures for plots and checks
    full: dict[str, pd.DataFrame] = field(
        default_factory=dict
    )  # complete lists behind shortened tables (written, not shown)

    @property
    def note(self) -> str | None:
        return self.notes[0] if not self.available and self.notes else None


def section(key: str, title_key: str | None = None, **title_values: Any):
    """Decorator: a builder that raises NotAvailable yields a section with the reason as its note."""

    def wrap(builder: Callable[..., Section]) -> Callable[..., Section]:
        @functools.wraps(builder)
        def build(ctx: Context, *args: Any, **kwargs: Any) -> Section:
            values = {k: getattr(ctx.settings, v) for k, v in title_values.items()}
            title = ctx.t(title_key or f"h_{key}", **values)
            try:
                out = builder(ctx, *args, **kwargs)
            except NotAvailable as exc:
                return Section(key, title, available=False, notes=[ctx.t("not_available", why=exc.why)])
            out.key, out.title = key, title
            return out

        return build

    return wrap


# --- pure helpers on tables ---------------------------------------------------------------


def _by_account(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("account_id") if "account_id" in frame.columns else frame


def headline_figures(ctx: Context) -> dict[str, Any]:
    """The run's headline numbers (None where the table behind one is absent)."""
    figures: dict[str, Any] = dict.fromkeys(HEADLINE_KEYS)
    figures["as_of"] = ctx.as_of
    feats = ctx.optional("features_asof", ["account_id"])
    if feats is not None:
        active = feats["is_active"].astype(bool) if "is_active" in feats else pd.Series(True, index=feats.index)
        figures["accounts_total"] = len(feats)
        figures["accounts"] = int(active.sum())
        if "arr" in feats:
            figures["arr"] = float(feats.loc[active, "arr"].sum())
        if "revenue_12m" in feats:
            figures["revenue_12m"] = float(feats["revenue_12m"].sum())
    renewals = ctx.tables.get("report_renewals_12m")
    if renewals is not None and len(renewals):
        decided = renewals["decided"].sum()
        figures["renewal_rate"] = float(renewals["renewed"].sum() / decided) if decided else None
        figures["churned_value"] = float(renewals["churned_value"].sum())
    clv = ctx.optional("clv_accounts", ["clv"])
    if clv is not None:
        figures["clv_total"] = float(clv["clv"].sum())
    risk = ctx.optional("at_risk_renewals", ["value_at_risk"])
    if risk is not None:
        figures["value_at_risk_90d"] = float(_within_window(ctx, risk)["value_at_risk"].sum())
    return figures


def write_headline(figures: Mapping[str, Any], run_dir: str | Path) -> Path:
    """``tables/headline.json`` for the run index (sorted keys: identical runs give identical bytes)."""
    path = io.tables_dir(run_dir) / HEADLINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in figures.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _within_window(ctx: Context, risk: pd.DataFrame) -> pd.DataFrame:
    if "end" not in risk.columns:
        return risk
    end = pd.to_datetime(risk["end"])
    as_of = pd.Timestamp(ctx.as_of)
    return risk[(end >= as_of) & (end < as_of + pd.Timedelta(days=int(ctx.settings.at_risk_days)))]


def at_risk_flags(
    scored: pd.DataFrame | None, churn: pd.DataFrame | None, worst_band: str | None, threshold: float
) -> pd.Series:
    """Accounts at risk (index account_id -> reason key): worst health band, or churn risk >= threshold."""
    reasons: dict[str, str] = {}
    if churn is not None and "p_churn_before_renewal" in churn.columns:
        c = _by_account(churn)["p_churn_before_renewal"].astype(float)
        reasons.update({a: f"p:{p:.2f}" for a, p in c[c >= threshold].items()})
    if scored is not None and worst_band and "health_band" in scored.columns:
        s = _by_account(scored)["health_band"].astype(object)
        for a in s.index[s == worst_band]:
            reasons[a] = "band" if a not in reasons else reasons[a] + ";band"
    return pd.Series(reasons, dtype=object, name="reason").sort_index()


# --- sections -----------------------------------------------------------------------------


@section("headline")
def headline_section(ctx: Context, figures: Mapping[str, Any]) -> Section:
    out = Section(
        "headline",
        "",
        sources=["headline.json", "features_asof", "report_renewals_12m", "clv_accounts", "at_risk_renewals"],
    )
    if all(figures.get(k) is None for k in ("accounts", "arr", "renewal_rate", "churned_value")):
        raise NotAvailable(
            ctx.t("why_table_missing", table="features_asof", notebook=catalog.writer_of("features_asof"))
        )
    previous = ctx.previous.json("headline") if ctx.previous else None
    rows = []
    for key in HEADLINE_KEYS:
        now = figures.get(key)
        if now is None:
            continue
        before = (previous or {}).get(key)
        kind = HEADLINE_KINDS.get(key, "money")
        rows.append(
            {
                "metric": ctx.t(f"m_{key}"),
                "now": fmt(now, kind),
                "previous_value": fmt(before, kind) if before is not None else "",
                "change": fmt_change(now, before, kind, ctx.lang) if before is not None else "",
                "_key": key,
                "_now": now,
                "_previous": before,
            }
        )
    out.tables["headline"] = pd.DataFrame(rows)
    out.text.append(
        ctx.t("headline_previous", previous_as_of=previous.get("as_of", "?"))
        if previous
        else ctx.t("headline_no_previous")
    )
    out.text.append(ctx.t("headline_definitions"))
    out.data = {"figures": dict(figures), "previous": previous}
    return out


@section("pyramid")
def pyramid_section(ctx: Context) -> Section:
    scored = _by_account(ctx.need("scored_accounts", ["account_id", "tier"]))
    out = Section("pyramid", "", sources=["scored_accounts"])
    codes = i18n.tier_codes(ctx.params.scoring) or list(pd.unique(scored["tier"].astype(object)))
    names = ctx.tier_names()
    frame = pd.DataFrame({"tier": scored["tier"].astype(object)})
    feats = ctx.optional("features_asof", ["account_id", "revenue_12m"])
    clv = ctx.optional("clv_accounts", ["account_id", "clv"])
    renewals = ctx.optional("report_renewals_12m", ["account_id", "decided", "renewed"])
    revenue = _by_account(feats)["revenue_12m"] if feats is not None else scored.get("revenue_12m")
    by_tier = frame.groupby("tier", observed=False)
    table = pd.DataFrame(index=pd.Index(codes, name="_tier_code"))
    table["tier"] = [names.get(c, c) for c in codes]
    table["accounts"] = by_tier.size().reindex(codes).fillna(0).astype(int)
    table["share_accounts"] = table["accounts"] / max(len(frame), 1)
    table["share_revenue"] = _share(revenue, frame["tier"], codes)
    table["share_clv"] = _share(_by_account(clv)["clv"] if clv is not None else None, frame["tier"], codes)
    if renewals is not None:
        r = _by_account(renewals).reindex(frame.index)
        sums = r[["decided", "renewed"]].groupby(frame["tier"], observed=False).sum().reindex(codes)
        table["renewal_rate"] = sums["renewed"] / sums["decided"].replace(0, np.nan)
        out.sources.append("report_renewals_12m")
    else:
        table["renewal_rate"] = np.nan
    if "health_score" in scored.columns:
        table["health_mean"] = scored["health_score"].astype(float).groupby(frame["tier"]).mean().reindex(codes)
    if "health_band" in scored.columns:
        worst = list(i18n.band_names(ctx.params.scoring))[-1:] or [None]
        at_risk = (scored["health_band"].astype(object) == worst[0]).astype(float)
        table["share_health_risk"] = at_risk.groupby(frame["tier"]).mean().reindex(codes)
    for name, missing in (
        ("features_asof", feats is None),
        ("clv_accounts", clv is None),
        ("report_renewals_12m", renewals is None),
    ):
        if missing:
            out.notes.append(
                ctx.t("not_available", why=ctx.t("why_table_missing", table=name, notebook=catalog.writer_of(name)))
            )
        elif name != "report_renewals_12m":
            out.sources.append(name)
    out.tables["pyramid"] = table.reset_index()
    share_cols = [c for c in ("share_accounts", "share_revenue", "share_clv") if table[c].notna().any()]
    out.data["figure"] = table.set_index("tier")[share_cols]
    out.data["figure_labels"] = {c: ctx.t(c) for c in share_cols}
    if revenue is not None:
        shares = quality.concentration(revenue, tops=(ctx.settings.top_share,))
        top = float(shares["value_share"].iloc[0])
        out.data["pareto_top_share"] = top
        out.text.append(
            ctx.t("pareto_sentence", share=fmt(top, "pct"))
            + " "
            + ctx.t("pareto_strong" if top >= ctx.settings.pareto_strong else "pareto_weak")
        )
    top_codes = [c for c in ctx.params.segments.top_tiers if c in codes]
    if top_codes:
        top_rows = table.loc[top_codes]
        out.text.append(
            ctx.t(
                "top_tiers_sentence",
                tiers=", ".join(names.get(c, c) for c in top_codes),
                accounts=fmt(top_rows["share_accounts"].sum(), "pct"),
                revenue=fmt(top_rows["share_revenue"].sum(min_count=1), "pct"),
                clv=fmt(top_rows["share_clv"].sum(min_count=1), "pct"),
            )
        )
    return out


def _share(values: pd.Series | None, tiers: pd.Series, codes: list[str]) -> pd.Series:
    if values is None:
        return pd.Series(np.nan, index=codes)
    v = values.reindex(tiers.index).astype(float).fillna(0).clip(lower=0)
    total = v.sum()
    return (
        v.groupby(tiers, observed=False).sum().reindex(codes) / total if total > 0 else pd.Series(np.nan, index=codes)
    )


@section("changes")
def changes_section(ctx: Context) -> Section:
    before = _by_account(ctx.need("scored_accounts", ["account_id", "tier"], previous=True))
    now = _by_account(ctx.need("scored_accounts", ["account_id", "tier"]))
    previous_as_of = (ctx.previous.json("headline") or {}).get("as_of") or ctx.previous.label
    codes = i18n.tier_codes(ctx.params.scoring) or list(pd.unique(now["tier"].astype(object)))
    names = {**ctx.tier_names(), NEW: ctx.t("new_accounts"), GONE: ctx.t("gone_accounts")}
    move = migration(before, now, codes)
    out = Section("changes", "", sources=["scored_accounts", f"scored_accounts ({ctx.previous.label})"])
    counts = move.counts.copy()
    out.data["migration"] = counts
    out.data["previous_as_of"] = previous_as_of
    labelled = counts.rename(index=names, columns=names)
    labelled.index.name, labelled.columns.name = ctx.t("tier_before"), ctx.t("tier_after")
    out.data["migration_labelled"] = labelled
    out.tables["migration"] = labelled.reset_index().rename(columns={ctx.t("tier_before"): "tier_before"})
    out.captions["migration"] = ctx.t("migration_title")
    new, gone = int(counts.loc[NEW].sum()), int(counts[GONE].sum())
    out.text.append(
        ctx.t(
            "changes_sentence",
            previous_as_of=previous_as_of,
            up=len(move.upgrades),
            down=len(move.downgrades),
            new=new,
            gone=gone,
        )
    )
    for key, moves in (("upgrades", move.upgrades), ("downgrades", move.downgrades)):
        out.tables[key] = _moves_table(ctx, moves, names)
        out.captions[key] = ctx.t(key)
    out.data["moves"] = move.moves
    worst = list(i18n.band_names(ctx.params.scoring))[-1:] or [None]
    threshold = float(ctx.settings.at_risk_threshold)
    flags_now = at_risk_flags(now.reset_index(), ctx.optional("churn_risk"), worst[0], threshold)
    flags_before = at_risk_flags(before.reset_index(), ctx.optional("churn_risk", previous=True), worst[0], threshold)
    new_risk = flags_now[~flags_now.index.isin(flags_before.index)]
    out.data["new_at_risk"] = new_risk
    out.text.append(ctx.t("new_at_risk_sentence", n=len(new_risk)))
    rank = {c: i for i, c in enumerate(codes)}
    order = pd.DataFrame(
        {
            "tier": now["tier"].astype(object).reindex(new_risk.index).map(rank).fillna(len(codes)),
            "score": -now["score"].reindex(new_risk.index) if "score" in now.columns else 0.0,
        }
    )
    shown = new_risk.loc[order.sort_values(["tier", "score"], kind="stable").index].head(int(ctx.settings.n_moves))
    out.tables["new_at_risk"] = _new_risk_table(ctx, shown, now, names)
    out.full["new_at_risk_all"] = _new_risk_table(
        ctx, new_risk.loc[order.sort_values(["tier", "score"], kind="stable").index], now, names
    )
    out.captions["new_at_risk"] = ctx.t("new_at_risk")
    return out


def _moves_table(ctx: Context, moves: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    n = int(ctx.settings.n_moves)
    if "score_change" in moves.columns:
        moves = moves.reindex(moves["score_change"].abs().sort_values(ascending=False, kind="stable").index)
    moves = moves.head(n)
    ids = pd.Series(moves.index, index=moves.index)
    table = pd.DataFrame(
        {
            "account": moves.index,
            "name": ctx.name_of(ids).to_numpy(),
            "tier_from": moves["tier_before"].map(names).to_numpy(),
            "tier_to": moves["tier_after"].map(names).to_numpy(),
        }
    )
    if "score_change" in moves.columns:
        table["score_change"] = moves["score_change"].to_numpy()
    if "moved_by" in moves.columns:
        table["moved_by"] = moves["moved_by"].to_numpy()
    return table


def _new_risk_table(ctx: Context, flags: pd.Series, now: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    bands = i18n.band_names(ctx.params.scoring, ctx.lang)
    worst = list(bands)[-1] if bands else ""

    def why(reason: str) -> str:  # a handful of reason codes per account, not a computation over data
        parts = []
        for part in reason.split(";"):
            if part == "band":
                parts.append(ctx.t("risk_band", band=bands.get(worst, worst)))
            elif part.startswith("p:"):
                parts.append(ctx.t("risk_probability", p=fmt(float(part[2:]), "pct")))
        return "; ".join(parts)

    ids = pd.Series(flags.index, index=flags.index)
    return pd.DataFrame(
        {
            "account": flags.index,
            "name": ctx.name_of(ids).to_numpy(),
            "tier": now["tier"].reindex(flags.index).astype(object).map(names).to_numpy(),
            "at_risk_why": [why(r) for r in flags],
        }
    )


def unit_text(unit: str, lang: str) -> str:
    """The drivers table's unit ("+1 SD = 0.21", "yes vs no", "vs retail") in the report language."""
    if lang != "zh" or not isinstance(unit, str):
        return "" if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
    text = unit.replace("+1 SD of the group score", "组合得分 +1 个标准差")
    text = re.sub(r"^\+1 SD of (.+?) = ", r"\1 的 +1 个标准差 = ", text)
    text = text.replace("+1 SD", "+1 个标准差").replace("yes vs no", "有 vs 无")
    return re.sub(r"^vs (.+)$", r"相对于 \1", text)


def rank_findings(drivers: pd.DataFrame) -> pd.DataFrame:
    """Driver rows ordered as the report lists them: clear effects first, then by |log odds ratio|."""
    d = drivers.copy()
    clear = d["direction"].astype(str) != "no clear effect"
    strength = np.abs(np.log(d["effect"].astype(float).clip(lower=1e-12)))
    # Among factors without a clear effect, a wide interval can hold a large estimate: order those by
    # the evidence (p), not by a size the data cannot pin down.
    evidence = -d["p"].astype(float) if "p" in d.columns else strength
    key = pd.DataFrame({"clear": clear, "rank": np.where(clear, strength, evidence)})
    order = key.sort_values(["clear", "rank"], ascending=False, kind="stable").index
    return d.loc[order].reset_index(drop=True)


@section("drivers")
def drivers_section(ctx: Context) -> Section:
    drivers = ctx.need("drivers", ["factor", "effect", "lower_95", "upper_95", "direction"])
    lang = ctx.lang
    ranked = rank_findings(drivers.dropna(subset=["effect"]))
    if ranked.empty:
        raise NotAvailable(ctx.t("why_nothing_estimated"))
    variable = ranked["variable"] if "variable" in ranked.columns else ranked["factor"]
    factor_names = [i18n.feature_label(f, lang, ctx.params.scoring) for f in ranked["factor"]]
    units = [
        unit_text(u, lang) for u in (ranked["effect_unit"] if "effect_unit" in ranked.columns else [""] * len(ranked))
    ]
    findings = pd.DataFrame(
        {
            "factor": factor_names,
            "unit": units,
            "effect": ranked["effect"].astype(float),
            "interval": [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(ranked["lower_95"], ranked["upper_95"])],
            "p_adjusted": ranked["p_adjusted"] if "p_adjusted" in ranked.columns else np.nan,
            "direction": [ctx.t(d) if d in i18n.TEXT[lang] else d for d in ranked["direction"].astype(str)],
            "_factor": ranked["factor"].astype(str),
            "_variable": variable.astype(str),
            "_direction": ranked["direction"].astype(str),
            "_lower_95": ranked["lower_95"].astype(float),
            "_upper_95": ranked["upper_95"].astype(float),
        }
    )
    template = [
        ctx.t("finding_template", factor=f, unit=u, effect=f"{e:.2f}", lower=f"{lo:.2f}", upper=f"{hi:.2f}")
        for f, u, e, lo, hi in zip(
            findings["factor"], findings["unit"], findings["effect"], findings["_lower_95"], findings["_upper_95"]
        )
    ]
    own = ranked["sentence"] if lang == "en" and "sentence" in ranked.columns else pd.Series([None] * len(ranked))
    findings["finding"] = [s if isinstance(s, str) and s else tpl for s, tpl in zip(own, template)]
    n_clear = int((findings["_direction"] != "no clear effect").sum())
    out = Section("drivers", "", sources=["drivers"])
    out.text.append(ctx.t("drivers_sentence", n_clear=n_clear, n=len(findings)))
    out.data["findings"] = findings
    out.data["forest"] = findings.head(max(int(ctx.settings.n_findings), n_clear)).assign(
        label=lambda f: f["factor"],
        lower_95=lambda f: f["_lower_95"],
        upper_95=lambda f: f["_upper_95"],
        direction=lambda f: f["_direction"],
    )
    out.tables["findings"] = findings.head(int(ctx.settings.n_findings))
    out.full["findings_all"] = findings
    return out


def renewals_by_account(risk: pd.DataFrame) -> pd.DataFrame:
    """At-risk renewals (one row per contract) summed per account: annual value and value at risk
    added up, earliest end date, product lines listed; largest value at risk first."""
    agg: dict[str, Any] = {"annual_value": "sum", "value_at_risk": "sum"}
    agg.update({c: "min" for c in ("end",) if c in risk.columns})
    agg.update({c: "first" for c in ("p_churn_before_renewal", "health_band", "top_risk_factors") if c in risk.columns})
    if "product_line" in risk.columns:
        agg["product_line"] = lambda s: ", ".join(sorted(set(map(str, s))))
    out = risk.groupby("account_id", sort=True).agg(agg)
    return out.sort_values("value_at_risk", ascending=False, kind="stable").reset_index()


@section("at_risk", "h_at_risk", days="at_risk_days")
def at_risk_section(ctx: Context) -> Section:
    risk = _within_window(ctx, ctx.need("at_risk_renewals", ["account_id", "annual_value", "value_at_risk"]))
    if risk.empty:
        raise NotAvailable(ctx.t("why_empty", table="at_risk_renewals"))
    accounts = renewals_by_account(risk)
    out = Section("at_risk", "", sources=["at_risk_renewals"])
    scored = ctx.optional("scored_accounts", ["account_id", "tier"])
    names = ctx.tier_names()
    bands = i18n.band_names(ctx.params.scoring, ctx.lang)
    reasons = _top_reasons(ctx, out)
    top = accounts.head(int(ctx.settings.n_at_risk))
    ids = top["account_id"]
    table = pd.DataFrame({"account": ids.to_numpy(), "name": ctx.name_of(ids).to_numpy()})
    if scored is not None:
        table["tier"] = ids.map(_by_account(scored)["tier"].astype(object)).map(names).to_numpy()
        out.sources.append("scored_accounts")
    if "end" in top.columns:
        table["renewal_date"] = pd.to_datetime(top["end"]).to_numpy()
    if "product_line" in top.columns:
        table["product_line"] = top["product_line"].to_numpy()
    table["annual_value"] = top["annual_value"].to_numpy()
    if "p_churn_before_renewal" in top.columns:
        table["churn_probability"] = top["p_churn_before_renewal"].to_numpy()
    table["value_at_risk"] = top["value_at_risk"].to_numpy()
    band = top["health_band"] if "health_band" in top.columns else pd.Series(np.nan, index=top.index)
    if band.isna().all() and scored is not None and "health_band" in scored.columns:
        band = ids.map(_by_account(scored)["health_band"].astype(object))
    if band.notna().any():
        table["health_band"] = band.astype(object).map(lambda b: bands.get(b, b)).to_numpy()
    table["top_reasons"] = ids.map(reasons).fillna("").to_numpy() if reasons is not None else ""
    out.tables["at_risk"] = table
    out.data["accounts"] = accounts
    out.full["at_risk_accounts"] = accounts
    out.text.append(
        ctx.t(
            "at_risk_sentence",
            n=len(accounts),
            days=ctx.settings.at_risk_days,
            value=fmt(accounts["annual_value"].sum(), "money"),
            at_risk=fmt(accounts["value_at_risk"].sum(), "money"),
        )
    )
    return out


def _top_reasons(ctx: Context, out: Section) -> pd.Series | None:
    """Per account, the renewal drivers pushing its renewal down (notebook 05), else churn risk factors (04)."""
    from analysis.report.exports import top_reasons

    reasons = ctx.optional("renewal_reasons", ["account_id", "sentence"])
    out.sources.append("renewal_reasons" if reasons is not None else "churn_risk")
    return top_reasons(
        reasons, ctx.optional("churn_risk", ["account_id", "top_risk_factors"]), ctx.lang, ctx.params.scoring
    )


@section("traits")
def traits_section(ctx: Context) -> Section:
    candidates = ctx.need("upgrade_candidates", ["account_id"])
    out = Section("traits", "", sources=[])
    names = ctx.tier_names()
    profiles = ctx.optional("segment_profiles")
    if profiles is not None:
        keep = {
            "cluster_name": "segment",
            "n_accounts": "accounts",
            "share_accounts": "share_accounts",
            "share_value": "share_revenue",
            "share_clv": "share_clv",
            "renewal_rate": "renewal_rate",
            "top_tier_share": "top_tier_share",
        }
        out.tables["segments"] = profiles[[c for c in keep if c in profiles.columns]].rename(columns=keep)
        out.captions["segments"] = ctx.t("segments_title")
        out.sources.append("segment_profiles")
    rules = ctx.optional("segment_rules", ["rule"])
    if rules is not None:
        keep = {"rule": "rule", "precision_test": "precision", "coverage_test": "coverage"}
        out.tables["rules"] = rules[[c for c in keep if c in rules.columns]].rename(columns=keep)
        out.captions["rules"] = ctx.t("rules_title")
        out.sources.append("segment_rules")
    shown = candidates.head(int(ctx.settings.n_candidates))
    ids = shown["account_id"]
    table = pd.DataFrame({"account": ids.to_numpy(), "name": ctx.name_of(ids).to_numpy()})
    if "tier" in shown.columns:
        table["tier"] = shown["tier"].astype(object).map(lambda c: names.get(c, c)).to_numpy()
    for src, dst in (("revenue_12m", "revenue_12m"), ("reason", "candidate_reason"), ("gap_summary", "gaps")):
        if src in shown.columns:
            table[dst] = shown[src].to_numpy()
    out.tables["candidates"] = table
    out.captions["candidates"] = ctx.t("candidates_title")
    out.sources.append("upgrade_candidates")
    out.text.append(ctx.t("traits_sentence", n=len(candidates), shown=len(shown)))
    if ctx.lang != "en":
        out.notes.append(ctx.t("note_names_from_module"))
    return out


@section("playbook")
def playbook_section(ctx: Context) -> Section:
    books = i18n.playbooks(ctx.params.scoring, ctx.lang)
    if not books:
        raise NotAvailable(ctx.t("why_columns_missing", table="config scoring.tiers", columns="playbooks"))
    codes = i18n.tier_codes(ctx.params.scoring) or list(books)
    names = ctx.tier_names()
    table = pd.DataFrame({"tier": [names.get(c, c) for c in codes], "playbook": [books.get(c, "") for c in codes]})
    scored = ctx.optional("scored_accounts", ["tier"])
    out = Section("playbook", "", sources=["config/params.yaml: scoring.tiers.playbooks"])
    if scored is not None:
        table.insert(
            1, "accounts", scored["tier"].astype(object).value_counts().reindex(codes).fillna(0).astype(int).to_numpy()
        )
        out.sources.append("scored_accounts")
    out.tables["playbook"] = table
    return out


@section("quality")
def quality_section(ctx: Context, methods: pd.DataFrame | None = None) -> Section:
    """Validation result and data coverage (notebook 01) and the model checks in ``methods``."""
    out = Section("quality", "")
    problems = ctx.tables.get("validation_problems")
    overview = ctx.tables.get("table_overview")
    found = methods is not None and (methods.get("_key", pd.Series(dtype=str)) != "chk_missing").any()
    if problems is None and overview is None and not found:
        raise NotAvailable(
            ctx.t("why_table_missing", table="validation_problems", notebook=catalog.writer_of("validation_problems"))
        )
    if problems is not None:
        out.sources.append("validation_problems")
        out.text.append(ctx.t("validation_ok") if problems.empty else ctx.t("validation_problems", n=len(problems)))
        if not problems.empty:
            out.tables["problems"] = problems.astype(str)
    if overview is not None:
        o = overview.reset_index() if "table" not in overview.columns else overview
        cols = {"table": "table", "present": "present", "rows": "rows", "accounts": "accounts"}
        shown = o[[c for c in cols if c in o.columns]].rename(columns=cols)
        if "present" in shown.columns:
            shown["present"] = shown["present"].map({True: ctx.t("yes"), False: ctx.t("no")})
        out.tables["overview"] = shown
        out.captions["overview"] = ctx.t("data_tables")
        out.sources.append("table_overview")
    if methods is not None and not methods.empty:
        out.text.append(ctx.t("method_notes_intro"))
        out.tables["methods"] = methods
        shown = methods[methods["_key"] != "chk_missing"] if "_key" in methods.columns else methods
        out.sources.extend(dict.fromkeys(shown.get("_source", pd.Series(dtype=str)).dropna()))
    return out


# --- method checks -----------------------------------------------------------------------


def _ci(row: Mapping[str, Any], digits: int = 2) -> str:
    est, lo, hi = row.get("estimate"), row.get("lower_95"), row.get("upper_95")
    text = f"{est:.{digits}f}"
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        text += f" ({lo:.{digits}f}-{hi:.{digits}f})"
    return text


def _check_clv(ctx: Context) -> list[tuple[str, str]]:
    h = ctx.need("clv_holdout_check", ["customers", "actual", "predicted"])
    w = h["customers"].astype(float)
    return [
        ("chk_clv_holdout", f"{(h['predicted'] * w).sum() / w.sum():.2f} / {(h['actual'] * w).sum() / w.sum():.2f}")
    ]


def _check_churn(ctx: Context) -> list[tuple[str, str]]:
    m = ctx.need("churn_model_evaluation", ["metric", "value"]).drop_duplicates("metric", keep="last")
    values = m.set_index("metric")["value"].astype(float)
    rows = [
        (key, f"{values[name]:.2f}")
        for key, name in (("chk_churn_c", "Harrell C"), ("chk_churn_uno", "Uno C"))
        if name in values
    ]
    auc = m[m["metric"] == "time-dependent AUC"]
    if len(auc) and "horizon_days" in auc.columns:
        last = auc.sort_values("horizon_days").iloc[-1]
        rows.append(("chk_churn_auc", f"{last['value']:.2f} ({int(last['horizon_days'])} d)"))
    if "predicted / observed churn" in values:
        rows.append(("chk_churn_ratio", f"{values['predicted / observed churn']:.2f}"))
    calib = ctx.optional("churn_calibration", ["predicted", "observed"])
    if calib is not None:
        gap = (calib["predicted"] - calib["observed"]).abs().max()
        rows.append(("chk_churn_calibration", f"{gap * 100:.1f} pts"))
    return rows


DRIVER_CHECKS = {
    "held-out AUC, logit": ("chk_drivers_auc_logit", "{:.2f}"),
    "held-out AUC, gradient boosting": ("chk_drivers_auc_gbm", "{:.2f}"),
    "contracts": ("chk_drivers_contracts", "{:,.0f}"),
    "sign flips between segments": ("chk_drivers_flips", "{:,.0f}"),
}


def _check_drivers(ctx: Context) -> list[tuple[str, str]]:
    d = ctx.need("drivers", ["direction"])
    rows = [("chk_drivers_clear", f"{int((d['direction'] != 'no clear effect').sum())} / {len(d)}")]
    check = ctx.optional("drivers_model_check", ["metric", "value"])
    if check is not None:
        values = check.drop_duplicates("metric", keep="last").set_index("metric")["value"].astype(float)
        rows += [
            (key, form.format(values[name]))
            for name, (key, form) in DRIVER_CHECKS.items()
            if name in values and np.isfinite(values[name])
        ]
    if "method" in d.columns and len(d):
        rows.append(("chk_drivers_method", str(d["method"].iloc[0])))
    return rows


def _check_scoring(ctx: Context) -> list[tuple[str, str]]:
    bt = ctx.need("scoring_backtest", ["weighting", "metric", "estimate"])
    # the weighting that cut this run's tiers, as the scoring notebook recorded it (not the params)
    used = ctx.need("scoring_weights_used", ["weighting"])
    method = str(used["weighting"].iloc[0])
    rows = bt[bt["weighting"].astype(str).str.lower() == method.lower()].set_index("metric")
    if rows.empty:
        raise NotAvailable(ctx.t("why_columns_missing", table="scoring_backtest", columns=f"weighting = {method}"))
    out = []
    for key, metric in (
        ("chk_scoring_auc", "renewal_auc"),
        ("chk_scoring_top20", "top20_margin_share"),
        ("chk_scoring_lift", "top_tier_renewal_lift"),
    ):
        if metric in rows.index:
            out.append((key, f"{_ci(rows.loc[metric].to_dict())} [{method}]"))
    return out


def _check_segments(ctx: Context) -> list[tuple[str, str]]:
    rules = ctx.need("segment_rules", ["precision_test", "coverage_test"])
    best = rules.sort_values("precision_test", ascending=False).iloc[0]
    return [("chk_rules", f"{best['precision_test']:.0%} / {best['coverage_test']:.0%}")]


METHOD_CHECKS: tuple[tuple[str, Callable[[Context], list[tuple[str, str]]], str], ...] = (
    ("model_clv", _check_clv, "clv_holdout_check"),
    ("model_churn", _check_churn, "churn_model_evaluation"),
    ("model_drivers", _check_drivers, "drivers"),
    ("model_scoring", _check_scoring, "scoring_backtest"),
    ("model_segments", _check_segments, "segment_rules"),
)


def method_checks(ctx: Context) -> pd.DataFrame:
    """One row per validation figure of the models behind the report (or why it is missing)."""
    rows = []
    for model_key, extract, source in METHOD_CHECKS:  # five models, each read from its own table
        try:
            found = extract(ctx)
        except NotAvailable as exc:
            found = [("chk_missing", ctx.t("not_available", why=exc.why))]
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            found = [("chk_missing", ctx.t("not_available", why=f"{source}: {type(exc).__name__}: {exc}"))]
        rows += [
            {
                "method_model": ctx.t(model_key),
                "check": ctx.t(key),
                "value": value,
                "meaning": ctx.t(key + "_meaning") if key != "chk_missing" else "",
                "_source": source,
                "_key": key,
            }
            for key, value in found
        ]
    return pd.DataFrame(rows, columns=["method_model", "check", "value", "meaning", "_source", "_key"])


# --- formatting and HTML ------------------------------------------------------------------


def fmt(value: Any, kind: str) -> str:
    """A number as the report prints it (blank for missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        return ""
    if kind in ("date",):
        return pd.Timestamp(value).date().isoformat() if not pd.isna(value) else ""
    if isinstance(value, (str, bool)):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return ""
    return {
        "int": f"{v:,.0f}",
        "money": f"{v:,.0f}",
        "pct": f"{v:.1%}",
        "num1": f"{v:,.1f}",
        "ratio": f"{v:.2f}",
        "p": "<0.001" if v < 0.001 else f"{v:.3f}",
    }.get(kind, f"{v:,.2f}")


def fmt_change(now: float, before: float, kind: str, lang: str = "en") -> str:
    """Change since the previous run: counts and money with the relative change, rates in points."""
    if now is None or before is None:
        return ""
    diff = float(now) - float(before)
    if kind == "pct":
        return f"{diff * 100:+.1f} {i18n.t('points', lang)}"
    rel = f" ({diff / before:+.1%})" if before else ""
    return f"{diff:+,.0f}{rel}"


def format_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Visible columns formatted to text and renamed to the report language (columns '_x' hidden)."""
    visible = frame[[c for c in frame.columns if not str(c).startswith("_")]].copy()
    for col in visible.columns:
        kind = FORMATS.get(str(col))
        if kind:
            visible[col] = [fmt(v, kind) for v in visible[col]]
        else:
            visible[col] = [
                "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in visible[col]
            ]
    return visible.rename(columns=lambda c: i18n.TEXT[lang].get(str(c), str(c)))


def table_html(frame: pd.DataFrame, lang: str, caption: str | None = None) -> str:
    """An HTML table of a section table; every header and cell is escaped (account names stay text)."""
    esc = html.escape
    shown = format_table(frame, lang)
    kinds = [FORMATS.get(str(c)) for c in frame.columns if not str(c).startswith("_")]
    cls = [
        ' class="nw"' if str(c) in NOWRAP else "" if k is None else ' class="date"' if k == "date" else ' class="num"'
        for c, k in zip([c for c in frame.columns if not str(c).startswith("_")], kinds)
    ]
    head = "".join(f"<th{c}>{esc(str(col))}</th>" for c, col in zip(cls, shown.columns))
    rows = "".join(
        "<tr>" + "".join(f"<td{c}>{esc(v)}</td>" for c, v in zip(cls, row)) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    title = f'<p class="report-caption">{esc(caption)}</p>' if caption else ""
    return f'{title}<table class="report-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


# The embedded CJK subset comes first: text laid out before a later-listed web font loads keeps a
# local font's empty boxes in Chromium. Its unicode-range leaves Latin text to the system fonts.
FONT_STACK = (
    '"ReportCJK", system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
STYLE = """<style>
/* Prefixed with .jp-RenderedHTMLCommon to outrank the notebook template's right-aligned cells. */
table.report-table{border-collapse:collapse;margin:.4em 0 1.2em 0;font-size:13px;table-layout:auto}
.jp-RenderedHTMLCommon table.report-table th,.jp-RenderedHTMLCommon table.report-table td,
table.report-table th,table.report-table td{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;
  vertical-align:top;max-width:34em}
.jp-RenderedHTMLCommon table.report-table th,table.report-table th{font-weight:600;border-bottom:2px solid #999}
.jp-RenderedHTMLCommon table.report-table .num,table.report-table .num{text-align:right;
  font-variant-numeric:tabular-nums}
.jp-RenderedHTMLCommon table.report-table td.num,table.report-table td.num,
.jp-RenderedHTMLCommon table.report-table td.date,table.report-table td.date,
.jp-RenderedHTMLCommon table.report-table td.nw,table.report-table td.nw{white-space:nowrap}
table.report-table tbody tr:nth-child(odd){background:#f7f7f7}
.report-note{background:#fff6e5;border-left:4px solid #e69500;padding:.5em .9em;margin:.5em 0}
.report-caption{font-weight:600;margin:1em 0 .2em 0}
.report-sources{color:#666;font-size:12px}
.report-kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:.6em 0 1em 0}
.report-kpi{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:11em}
.report-kpi .v{font-size:22px;font-weight:600}.report-kpi .l{color:#555;font-size:12px}
.report-kpi .c{font-size:12px;color:#1f4e79}
body,.jp-RenderedHTMLCommon,table.report-table,.report-kpi{font-family:FONT_STACK}
</style>""".replace("FONT_STACK", FONT_STACK)


def embedded_font_css(text: str) -> str:
    """``@font-face`` with the CJK characters of ``text`` cut from the bundled Noto Sans CJK SC.

    Readers without a Chinese font (many Linux servers, some intranet PCs) would otherwise see empty
    boxes. Only the glyphs the page uses are embedded (about 130 KB for the Chinese report), so the
    page stays one self-contained file. Empty when the text has no CJK character or no font is installed.
    """
    import base64
    import io as bytes_io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    from analysis.report.plotting import cjk_font_path

    chars = "".join(sorted({c for c in text if ord(c) >= 0x2E80}))
    path = cjk_font_path()
    if not chars or path is None:
        return ""
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(subset.Options())
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buffer = bytes_io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<style>@font-face{{font-family:"ReportCJK";unicode-range:U+2E80-FFFF;'
        f'src:url(data:font/otf;base64,{data}) format("opentype");}}</style>'
    )


def header_html(ctx: Context, sections: list[Section]) -> str:
    """Title, run, introduction, contents (links to the section anchors) and the page's styles."""
    esc = html.escape
    links = "".join(f'<li><a href="#{esc(s.key)}">{esc(s.title)}</a></li>' for s in sections)
    head = (
        f"<h1>{esc(ctx.t('report_title'))}</h1>"
        f"<p>{esc(ctx.t('report_subtitle', as_of=ctx.as_of, run_id=ctx.run_id))}</p>"
        f"<p>{esc(ctx.t('report_intro'))}</p><p><b>{esc(ctx.t('contents'))}</b></p><ol>{links}</ol>"
    )
    page = (
        head
        + "".join(section_html(s, ctx.lang, with_tables=True) for s in sections)
        + "".join(i18n.TEXT[ctx.lang].values())
    )
    return STYLE + embedded_font_css(page) + head


def section_html(sec: Section, lang: str, with_tables: bool = True) -> str:
    """Heading, note or sentences, and (``with_tables``) the tables of a section, all escaped."""
    esc = html.escape
    parts = [f'<h2 id="{esc(sec.key)}">{esc(sec.title)}</h2>']
    parts += [f'<div class="report-note">{esc(n)}</div>' for n in sec.notes]
    parts += [f"<p>{esc(s)}</p>" for s in sec.text]
    if sec.available and sec.key == "headline" and "headline" in sec.tables:
        parts.append(_kpi_html(sec.tables["headline"], lang))
    if with_tables:
        parts.append(tables_html(sec, lang))
    return "".join(parts)


def tables_html(sec: Section, lang: str) -> str:
    esc = html.escape
    parts = [
        table_html(frame, lang, sec.captions.get(name))
        for name, frame in sec.tables.items()
        if sec.key != "headline" or name != "headline"
    ]
    if sec.sources:
        parts.append(f'<p class="report-sources">{esc(i18n.t("source", lang, tables=", ".join(sec.sources)))}</p>')
    return "".join(parts)


def _kpi_html(table: pd.DataFrame, lang: str) -> str:
    esc = html.escape
    cards = []
    for row in table.itertuples(index=False):  # at most eight headline figures
        change = f'<div class="c">{esc(i18n.t("change", lang))}: {esc(row.change)}</div>' if row.change else ""
        cards.append(
            f'<div class="report-kpi"><div class="l">{esc(row.metric)}</div>'
            f'<div class="v">{esc(row.now)}</div>{change}</div>'
        )
    return f'<div class="report-kpis">{"".join(cards)}</div>' + table_html(
        table[["metric", "now", "previous_value", "change"]], lang
    )


def write_tables(sections: Iterable[Section], run_dir: str | Path) -> list[str]:
    """Every table shown in the report, and the complete lists behind shortened ones, as
    ``report_<section>_<table>`` in the run (so every number can be traced)."""
    names = []
    for sec in sections:  # eight sections, a few tables each
        for name, frame in {**sec.tables, **sec.full}.items():
            table = f"report_{sec.key}" if name == sec.key else f"report_{sec.key}_{name}"
            clean = frame.copy()
            clean.columns = [str(c) for c in clean.columns]
            io.write_table(clean.astype({c: str for c in clean.columns if clean[c].dtype == object}), run_dir, table)
            names.append(table)
    return names


def show_notes(notes: Iterable[str], written: Iterable[Path], run_dir: str | Path, lang: str) -> None:
    """Where the CRM exports are and what was left out of them."""
    esc = html.escape
    files = ", ".join(sorted(p.relative_to(Path(run_dir)).as_posix() for p in written)) or "-"
    parts = [f'<p class="report-sources">{esc(i18n.t("exports_written", lang, files=files))}</p>']
    parts += [f'<p class="report-sources">{esc(n)}</p>' for n in notes]
    show_html("".join(parts))


def show(sec: Section, lang: str, with_tables: bool = False) -> None:
    """Display a section's heading and text in the notebook (tables separately with ``show_tables``)."""
    from IPython.display import HTML, display

    display(HTML(section_html(sec, lang, with_tables)))


def show_tables(sec: Section, lang: str) -> None:
    from IPython.display import HTML, display

    if sec.available:
        display(HTML(tables_html(sec, lang)))


def show_html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(text))


@dataclass
class ManagerReport:
    """The sections of one run's manager report, and the CRM exports written beside it."""

    ctx: Context
    figures: dict[str, Any]
    sections: dict[str, Section]
    exports: list[Path]
    export_notes: list[str]

    def __getitem__(self, key: str) -> Section:
        return self.sections[key]

    @property
    def lang(self) -> str:
        return self.ctx.lang


def compose(run, run_id: str = "") -> ManagerReport:
    """Build every section from the run's tables (``run``: RunInputs with ``run_dir`` and
    ``previous_run_dir``), write the report tables, the headline and the CRM exports."""
    from analysis.report import exports

    book = run.book
    accounts = book.df("accounts", ["account_id", "name"])
    contracts = book.df("contracts", ["account_id", "end", "annual_value", "renewal_outcome"])
    run_dir = run.tables.run_dir
    io.write_table(renewal_history(contracts, run.as_of, 365).reset_index(), run_dir, "report_renewals_12m")
    ctx = Context.for_run(run_dir, run.tables.previous_run_dir, run.params, run.as_of.isoformat(), run_id, accounts)
    figures = headline_figures(ctx)
    write_headline(figures, run_dir)
    sections = {
        "headline": headline_section(ctx, figures),
        "pyramid": pyramid_section(ctx),
        "changes": changes_section(ctx),
        "drivers": drivers_section(ctx),
        "at_risk": at_risk_section(ctx),
        "traits": traits_section(ctx),
        "playbook": playbook_section(ctx),
        "quality": quality_section(ctx, method_checks(ctx)),
    }
    write_tables(sections.values(), run_dir)
    written, notes = exports.write_exports(
        run_dir, {n: ctx.tables.get(n) for n in exports.INPUTS}, run.params, ctx.names
    )
    return ManagerReport(ctx, figures, sections, written, notes)
