"""Customer health score 0-100, health bands and early-warning rules.

The health score is a composite like the customer score (same YAML criteria, same
normalisation and missing-value policy: see ``analysis.scoring``), declared under
``scoring.health.components``. Defaults from practice: feature usage 40%, meeting time 30%,
support tickets 20%, NPS 10%, each on a fixed range so that a band means the same thing from
one run to the next (a percentile would always put a share of the book "at risk"). Bands:
>= 80 healthy, 60-80 watch, < 60 at risk.

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
from analysis.scoring.score import CONTRIB, ScoringSpec, score_accounts
from analysis.scoring.tiers import threshold_tiers

OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def health_score(features: pd.DataFrame, cfg: HealthParams, language: str) -> pd.DataFrame:
    """``health_score`` 0-100, ``health_band`` (code), ``health_band_label`` and component points.

    ``cfg`` is ``params.scoring.health`` (components, missing-value policy and bands, best first).
    """
    spec = ScoringSpec.from_params(cfg)
    bands = cfg.bands
    scored = score_accounts(features, spec)
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
    out.attrs = scored.attrs
    return out


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
