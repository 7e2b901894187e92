"""Customer health score 0-100, health bands and early-warning rules.

The health score is a composite like the customer score (same YAML criteria, same
normalisation and missing-value policy: see ``analysis.scoring``), declared under
``scoring.health.components``. Defaults from practice: feature usage 40%, meeting time 30%,
support tickets 20%, NPS 10%, each on a fixed range so that a band means the same thing from
one run to the next (a percentile would always put a share of the book "at risk"). Bands:
>= 80 healthy, 60-80 watch, < 60 at risk.

Fixed ranges can fail a book they were not written for (usage that never reaches the top of the
range puts everyone "at risk"), so the bands are checked: ``health_bands`` says when a band holds
(nearly) everyone or no one, ``health_distribution`` shows where the book's scores and components
actually lie, and ``ranges: book_quantiles`` takes each range from the book's own quantiles
instead (bands then rank accounts within this book and no longer mean the same thing across runs).
A component missing for more than ``max_missing_share`` of the accounts (its table absent, say)
is left out and the other weights rescaled, as in the customer score.

Early warnings are rules ``column op value`` from ``scoring.warnings``; the alert list names
the rule that fired, the value and the threshold.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import DataContractError
from analysis.params import HealthParams, WarningRuleParams
from analysis.scoring.score import (
    CONTRIB,
    ScoringSpec,
    _numeric,
    score_accounts,
    sparse_criteria,
    sparse_notes,
    without,
)
from analysis.scoring.tiers import threshold_tiers

OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
QUANTILES = (0.0, 0.10, 0.25, 0.50, 0.75, 0.90, 1.0)  # the distribution shown in health_distribution


NO_HEALTH_NOTE = (
    "No health score: every component ({components}) is missing for most accounts (the tables that feed "
    "them are absent or nearly empty), so no account has a health band."
)


def health_spec(features: pd.DataFrame, cfg: HealthParams) -> tuple[ScoringSpec, pd.Series, pd.DataFrame, list[str]]:
    """The health score's spec and weights for this snapshot, the ranges used, and notes.

    Components missing for more than ``cfg.max_missing_share`` get weight 0 (the others rescaled);
    with ``cfg.ranges == "book_quantiles"`` each ``range`` component's bounds are the
    ``cfg.quantile_range`` quantiles of its values in ``features`` (kept fixed when those are equal).
    """
    notes, components = [], dict(cfg.components)
    ranges = []
    for name, comp in cfg.components.items():
        values = _numeric(features, comp.column or name)
        low, high, source = *(comp.bounds or (np.nan, np.nan)), "fixed"
        known = values[~np.isnan(values)]
        if comp.normalise == "range" and cfg.ranges == "book_quantiles" and len(known):
            q_low, q_high = np.quantile(known, cfg.quantile_range)
            if q_high > q_low:
                low, high, source = float(q_low), float(q_high), "book quantiles"
                components[name] = comp.updated(bounds=[low, high])
            else:
                notes.append(f"{name}: the book's quantiles are equal ({q_low:g}); its fixed range is kept.")
        ranges.append({"variable": name, "range_low": low, "range_high": high, "range_source": source})
    spec = ScoringSpec.from_criteria(
        components,
        missing=cfg.missing,
        neutral_value=cfg.neutral_value,
        zscore_clip=cfg.zscore_clip,
        normalise_weights=cfg.normalise_weights,
    )
    dropped = sparse_criteria(features, spec, cfg.max_missing_share)
    notes += sparse_notes(dropped, cfg.max_missing_share, "the health score")
    table = pd.DataFrame(ranges).set_index("variable")
    table["dropped"] = table.index.isin(list(dropped))
    if len(dropped) == len(components):  # nothing to score on: health is unknown, not a crash
        notes.append(NO_HEALTH_NOTE.format(components=", ".join(components)))
        return spec, None, table, notes
    return spec, without(spec.config_weights(), dropped), table, notes


def health_score(features: pd.DataFrame, cfg: HealthParams, language: str) -> pd.DataFrame:
    """``health_score`` 0-100, ``health_band`` (code), ``health_band_label`` and component points.

    ``cfg`` is ``params.scoring.health`` (components, missing-value policy, ranges and bands, best
    first). ``.attrs``: ``notes`` and ``ranges`` (the bounds used per component, and which were
    left out for being missing for most accounts).
    """
    spec, weights, ranges, notes = health_spec(features, cfg)
    bands = cfg.bands
    scored = score_accounts(features, spec, spec.config_weights() if weights is None else weights)
    if weights is None:  # every component missing for most accounts: no score, no band
        scored[["score", *(c for c in scored.columns if c.startswith(CONTRIB))]] = np.nan
    out = scored.rename(columns={"score": "health_score"})
    out = out.rename(columns=lambda c: "health_" + c if c.startswith(CONTRIB) else c)
    codes = [b.code for b in bands]
    out.insert(1, "health_band", threshold_tiers(out["health_score"], [b.min for b in bands[:-1]], codes))
    labels = {b.code: getattr(b, language, None) or b.en or b.code for b in bands}
    out.insert(2, "health_band_label", out["health_band"].astype(object).map(labels))
    out = out.rename(
        columns={
            "n_missing": "health_n_missing",
            "missing_criteria": "health_missing",
            "missing_policy": "health_missing_policy",
        }
    )
    out.attrs = {**scored.attrs, "notes": [*notes, *scored.attrs.get("notes", [])], "ranges": ranges}
    return out


BAND_STATUSES = ("holds_nearly_all", "nearly_empty", "empty", "ok")


def health_bands(health: pd.DataFrame, cfg: HealthParams, language: str) -> pd.DataFrame:
    """One row per band (best first): its score range, accounts, share and ``status``:
    ``holds_nearly_all`` (more than ``cfg.band_max_share`` of the scored accounts), ``empty``,
    ``nearly_empty`` (fewer than ``cfg.band_min_share``) or ``ok``; ``discriminates`` is false on
    every row when any band holds nearly all or two or more bands are empty."""
    scored = health["health_score"].notna()
    counts = health.loc[scored, "health_band"].astype(object).value_counts()
    rows = []
    for i, band in enumerate(cfg.bands):
        accounts = int(counts.get(band.code, 0))
        share = accounts / max(int(scored.sum()), 1)
        if share > cfg.band_max_share:
            status = "holds_nearly_all"
        elif accounts == 0:
            status = "empty"
        elif share < cfg.band_min_share:
            status = "nearly_empty"
        else:
            status = "ok"
        rows.append(
            {
                "health_band": band.code,
                "label": getattr(band, language, None) or band.en,
                "min_score": band.min,
                "max_score": cfg.bands[i - 1].min if i else 100.0,
                "accounts": accounts,
                "share": share,
                "status": status,
            }
        )
    table = pd.DataFrame(rows)
    table["discriminates"] = not (
        table["status"].eq("holds_nearly_all").any() or table["status"].eq("empty").sum() >= 2
    )
    table["ranges"] = cfg.ranges
    return table


def band_note(bands: pd.DataFrame, health: pd.DataFrame) -> str | None:
    """A sentence for the problems frame when the bands cannot tell accounts apart (None otherwise)."""
    flagged = bands[bands["status"] != "ok"]
    if flagged.empty:
        return None
    score = health["health_score"].dropna()
    parts = [f"band '{r.health_band}' {r.status.replace('_', ' ')} ({r.share:.1%})" for r in flagged.itertuples()]
    text = (
        f"Health bands: {'; '.join(parts)}. The book's health scores run from {score.min():.1f} to "
        f"{score.max():.1f} (median {score.median():.1f})."
    )
    if not bands["discriminates"].iloc[0] and bands["ranges"].iloc[0] == "fixed":
        text += (
            " The fixed ranges do not fit this book: see health_distribution, or set "
            "scoring.health.ranges: book_quantiles."
        )
    return text


def health_distribution(features: pd.DataFrame, health: pd.DataFrame) -> pd.DataFrame:
    """Quantiles of the health score and of each component in the book, with the range each
    component was scored on (fixed or from the book's quantiles) and whether it was left out."""
    ranges = health.attrs["ranges"]
    rows = {"health_score": health["health_score"].to_numpy(dtype=float)}
    rows |= {name: _numeric(features, name) for name in ranges.index}
    table = []
    for name, values in rows.items():
        known = values[~np.isnan(values)]
        qs = np.quantile(known, QUANTILES) if len(known) else np.full(len(QUANTILES), np.nan)
        table.append(
            {
                "variable": name,
                **{f"p{round(q * 100):02d}": v for q, v in zip(QUANTILES, qs)},
                "missing_share": 1 - len(known) / max(len(values), 1),
            }
        )
    out = pd.DataFrame(table).set_index("variable").join(ranges)
    out.loc["health_score", ["range_low", "range_high", "range_source"]] = [0.0, 100.0, "score"]
    out["dropped"] = out["dropped"].eq(True)  # the score's own row has no "dropped"
    return out.reset_index()


def _rules(rules: Sequence[WarningRuleParams], features: pd.DataFrame) -> list[WarningRuleParams]:
    """The rules (``params.scoring.warnings``), each checked against the columns of the features."""
    for r in rules:
        if r.column not in features.columns:
            raise DataContractError(
                f"Warning rule {r.rule!r} uses column {r.column!r}, which is not in the "
                f"features; available: {sorted(map(str, features.columns))}."
            )
    return list(rules)


def _threshold(r: WarningRuleParams) -> str:
    value = int(r.value) if float(r.value).is_integer() else r.value  # ">= 30" as written, not ">= 30.0"
    return f"{r.op} {value}"


def early_warnings(features: pd.DataFrame, rules: Sequence[WarningRuleParams], language: str) -> pd.DataFrame:
    """One row per (account, rule that fired): rule, label, severity, column, value, threshold.

    An account whose value is missing for a rule does not fire it; ``warning_coverage`` counts them.
    """
    rows = []
    for r in _rules(rules, features):
        values = pd.to_numeric(features[r.column], errors="coerce")
        fired = OPERATORS[r.op](values, float(r.value)) & values.notna()
        label = getattr(r, language, None) or r.en or r.rule
        rows.append(
            pd.DataFrame(
                {
                    "rule": r.rule,
                    "label": label,
                    "severity": r.severity,
                    "column": r.column,
                    "value": values[fired],
                    "threshold": _threshold(r),
                },
                index=values.index[fired],
            )
        )
    cols = ["rule", "label", "severity", "column", "value", "threshold"]
    alerts = pd.concat(rows) if rows else pd.DataFrame(columns=cols)
    alerts.index.name = features.index.name
    return alerts.reset_index()


def warning_coverage(features: pd.DataFrame, rules: Sequence[WarningRuleParams]) -> pd.DataFrame:
    """Per rule: accounts that fired it, and accounts it could not be evaluated on (missing value)."""
    out = []
    for r in _rules(rules, features):
        values = pd.to_numeric(features[r.column], errors="coerce")
        out.append(
            {
                "rule": r.rule,
                "condition": f"{r.column} {_threshold(r)}",
                "fired": int((OPERATORS[r.op](values, float(r.value)) & values.notna()).sum()),
                "not_evaluable": int(values.isna().sum()),
                "accounts": len(values),
            }
        )
    return pd.DataFrame(out)


def alerts_per_account(alerts: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Alert count and the rules that fired, one row per account (for the scored accounts table)."""
    key = index.name or "account_id"
    if alerts.empty:
        return pd.DataFrame({"n_alerts": 0, "alerts": ""}, index=index)
    grouped = alerts.groupby(key)["rule"]
    out = pd.DataFrame({"n_alerts": grouped.size(), "alerts": grouped.agg(";".join)}).reindex(index)
    out["n_alerts"] = out["n_alerts"].fillna(0).astype(np.int64)
    out["alerts"] = out["alerts"].fillna("")
    return out
