"""What the report computes from the book itself: the renewals of the last 12 months, and the book
``report.lookback_days`` earlier, followed to the as-of date (who is still a customer, and the record
of each early-warning rule: of the customers it would have flagged then, how many have left).

Rates per tier or segment are taken forward from a year ago ("of the customers in this cell a year
ago, 91% are still customers"), not from the accounts in the cell today: today's customers are the
ones who stayed, so a trailing renewal rate of today's cells reads close to 100% whatever happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.data.history import renewal_history
from analysis.errors import InsufficientDataError
from analysis.params import ReportParams, WarningRuleParams
from analysis.scoring.health import early_warnings
from analysis.scoring.tiers import pareto_classes

YEAR_BEFORE_COLUMNS = ["account_id", "industry", "size_band", "stage", "abc", "kept"]
STAGES = ("onboarding", "adoption", "renewal", "expansion")


def lifecycle_stage(features: pd.DataFrame, cfg) -> pd.Series:
    """Stage per account, first match wins (``report.lifecycle``): onboarding (a customer for less
    than ``onboarding_days``), renewal (next renewal within ``renewal_days``), expansion (revenue
    growth of at least ``expansion_growth``), otherwise adoption."""
    nothing = pd.Series(np.nan, index=features.index)
    tenure = features.get("tenure_days", nothing).astype(float)
    to_renewal = features.get("days_to_next_renewal", nothing).astype(float)
    growth = features.get("revenue_growth", nothing).astype(float)
    stage = np.full(len(features), "adoption", dtype=object)
    stage[(growth >= cfg.expansion_growth).to_numpy()] = "expansion"
    stage[(to_renewal <= cfg.renewal_days).to_numpy()] = "renewal"
    stage[(tenure < cfg.onboarding_days).to_numpy()] = "onboarding"
    return pd.Series(stage, index=features.index, name="stage")


def year_before(before: pd.DataFrame, active_now: pd.Series, params) -> pd.DataFrame:
    """The customers of the book ``before`` (index account_id): industry, size, lifecycle stage and
    Pareto class then, and whether each is still a customer (``kept``: a contract covering the as-of)."""
    then = before[before["is_active"].astype(bool)] if "is_active" in before.columns else before
    out = pd.DataFrame(index=then.index)
    for col in ("industry", "size_band"):
        out[col] = then[col].astype(str) if col in then.columns else ""
    out["stage"] = lifecycle_stage(then, params.report.lifecycle)
    abc = params.scoring.tiers.abc
    try:
        out["abc"] = pareto_classes(then[abc.value], abc.shares, abc.codes).astype(object)
    except (KeyError, InsufficientDataError):  # no such column, or no positive value a year ago
        out["abc"] = None
    out["kept"] = active_now.reindex(then.index).fillna(False).astype(bool)
    return out.rename_axis("account_id").reset_index()[YEAR_BEFORE_COLUMNS]


RECORD_COLUMNS = [
    "rule",
    "flagged",
    "left_flagged",
    "unflagged",
    "left_unflagged",
    "churn_flagged",
    "churn_unflagged",
    "lift",
    "lower_95",
    "upper_95",
    "verdict",
]


def rule_verdict(flagged: int, left_f: int, unflagged: int, left_u: int, verdicts) -> tuple[str, float, float, float]:
    """How far to trust an alarm, from its record: (verdict, lift, lower, upper of the churn difference).

    ``too_few``: fewer than ``min_flagged`` accounts flagged a year ago; ``trusted``: the flagged left
    at least ``warning_lift_trusted`` times as often and the 95% interval of the difference (Newcombe)
    lies above 0; ``weak``: more often beyond chance but below that ratio; ``no_signal``: otherwise.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    rate_f = left_f / flagged if flagged else np.nan
    rate_u = left_u / unflagged if unflagged else np.nan
    lift = rate_f / rate_u if unflagged and rate_u > 0 else (np.inf if rate_f > 0 else np.nan)
    if flagged < verdicts.min_flagged or not unflagged:
        return "too_few", lift, np.nan, np.nan
    low, high = confint_proportions_2indep(left_f, flagged, left_u, unflagged, method="newcombe", compare="diff")
    if low > 0 and lift >= verdicts.warning_lift_trusted:
        return "trusted", lift, float(low), float(high)
    if low > 0:
        return "weak", lift, float(low), float(high)
    return "no_signal", lift, float(low), float(high)


def warning_record(
    before: pd.DataFrame, active_now: pd.Series, rules: Sequence[WarningRuleParams], settings: ReportParams
) -> pd.DataFrame:
    """Each rule applied to the book ``report.lookback_days`` earlier (``before``, index account_id,
    with ``is_active``): of the customers then, how many flagged and unflagged have left by now
    (no contract covering the as-of date: ``active_now`` false or the account gone)."""
    then = before[before["is_active"].astype(bool)] if "is_active" in before.columns else before
    left = ~active_now.reindex(then.index).fillna(False).astype(bool)
    usable = [r for r in rules if r.column in then.columns]
    fired = early_warnings(then, usable, "en") if usable else pd.DataFrame(columns=["account_id", "rule"])
    rows = []
    for r in usable:
        ids = pd.Index(fired.loc[fired["rule"] == r.rule, "account_id"])
        flagged = then.index.isin(ids)
        n_f, n_u = int(flagged.sum()), int((~flagged).sum())
        l_f, l_u = int(left[flagged].sum()), int(left[~flagged].sum())
        verdict, lift, low, high = rule_verdict(n_f, l_f, n_u, l_u, settings.verdicts)
        rows.append(
            {
                "rule": r.rule,
                "flagged": n_f,
                "left_flagged": l_f,
                "unflagged": n_u,
                "left_unflagged": l_u,
                "churn_flagged": l_f / n_f if n_f else np.nan,
                "churn_unflagged": l_u / n_u if n_u else np.nan,
                "lift": lift,
                "lower_95": low,
                "upper_95": high,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def report_inputs(run) -> dict[str, pd.DataFrame]:
    """``report_renewals_12m``, ``report_year_before`` and ``report_warnings_record`` of a run."""
    params = run.params
    contracts = run.book.df("contracts", ["account_id", "end", "annual_value", "renewal_outcome"])
    frames = {"report_renewals_12m": renewal_history(contracts, run.as_of, 365).reset_index()}
    now = run.snapshot()
    if "is_active" not in now.columns:
        return frames
    active = now["is_active"].astype(bool)
    before = run.features_at(run.as_of - dt.timedelta(days=int(params.report.lookback_days)))
    if before.empty:
        return frames
    frames["report_year_before"] = year_before(before, active, params)
    rules = list(params.scoring.warnings)
    if rules:
        frames["report_warnings_record"] = warning_record(before, active, rules, params.report)
    return frames
