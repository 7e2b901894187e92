"""Kaplan-Meier survival by group, with log-rank tests, and the frame of groups to compare."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test, pairwise_logrank_test
from scipy import stats

from analysis.core.problems import note, problem, problems_frame
from analysis.data.asof import require_date
from analysis.errors import DataContractError
from analysis.survival.data import check_durations

SURVIVAL_TIMES = (365, 730)  # survival at 12 and 24 months of tenure
TIER, FALLBACK_GROUP = "tier", "size_band"  # KM "by tier" compares size bands when the run has no tiers


@dataclass
class KMResult:
    """Kaplan-Meier curves of one grouping, their table, log-rank tests and what could not be done."""

    group: str
    table: pd.DataFrame
    curves: dict[str, KaplanMeierFitter]
    logrank: dict | None = None
    pairwise: pd.DataFrame | None = None
    problems: pd.DataFrame = field(default_factory=problems_frame)


def step_value(frame: pd.DataFrame, t: float) -> pd.Series:
    """Row of a step function (index = time) in force at t."""
    before = frame[frame.index <= t]
    return before.iloc[-1] if len(before) else frame.iloc[0] * np.nan


def km_by_group(
    durations: pd.DataFrame,
    group: str,
    duration_col: str = "duration_days",
    event_col: str = "event",
    times: Sequence[int] = SURVIVAL_TIMES,
) -> KMResult:
    """Per group: accounts, churns, median survival and survival at ``times`` with 95% intervals;
    a multivariate log-rank test and Benjamini-Hochberg-adjusted pairwise tests."""
    if group not in durations.columns:
        raise DataContractError(
            f"Column '{group}' is not in the durations table; join it (e.g. tier or size_band) first."
        )
    check_durations(durations, duration_col)
    frame = durations.dropna(subset=[group])
    dropped = len(durations) - len(frame)
    found = []
    if dropped:
        found.append(problem(group, "missing group", "dropped", f"{dropped} accounts without a {group} are left out."))
    rows, curves = [], {}
    longest = frame[duration_col].max()
    for level, part in frame.groupby(group, sort=True):  # one curve per group
        km = KaplanMeierFitter(label=str(level)).fit(part[duration_col], part[event_col])
        curves[str(level)] = km
        row = {
            group: str(level),
            "accounts": len(part),
            "churned": int(part[event_col].sum()),
            "median_days": float(km.median_survival_time_),
        }
        for t in times:
            est, ci = step_value(km.survival_function_, t), step_value(km.confidence_interval_survival_function_, t)
            observed = part[duration_col].max() >= t
            row[f"survival_{t}d"] = float(est.iloc[0]) if observed else np.nan
            row[f"survival_{t}d_lower"], row[f"survival_{t}d_upper"] = (
                (float(ci.iloc[0]), float(ci.iloc[1])) if observed else (np.nan, np.nan)
            )
        rows.append(row)
    table = pd.DataFrame(rows).set_index(group)
    for t in times:
        if longest < t:
            found.append(
                note(
                    f"Survival at {t} days cannot be estimated: the longest follow-up is {longest:.0f} days.",
                    group,
                    "short follow-up",
                )
            )
    if table["median_days"].isin([np.inf]).any():
        found.append(
            note("A median of 'inf' means fewer than half of that group's accounts have churned so far.", group)
        )
    result = KMResult(group, table, curves)
    if len(curves) < 2:
        found.append(
            note(f"Only one {group} is present: the log-rank test needs two or more groups.", group, "no test")
        )
    elif frame[event_col].sum() == 0:
        found.append(
            note("No churn events: the curves are flat and the log-rank test is not defined.", group, "no test")
        )
    else:
        test = multivariate_logrank_test(frame[duration_col], frame[group].astype(str), frame[event_col])
        result.logrank = {
            "test_statistic": float(test.test_statistic),
            "degrees_of_freedom": len(curves) - 1,
            "p": float(test.p_value),
        }
        pairs = pairwise_logrank_test(frame[duration_col], frame[group].astype(str), frame[event_col]).summary
        pairs = pairs[["test_statistic", "p"]].copy()
        pairs["p_adjusted"] = stats.false_discovery_control(pairs["p"].to_numpy())
        result.pairwise = pairs
    result.problems = problems_frame(found)
    return result


def grouping_frame(
    lifetimes: pd.DataFrame,
    features: pd.DataFrame,
    scored: pd.DataFrame | None,
    attributes: Sequence[str],
) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """Account durations with the groups to compare: the run's tier from ``scored_accounts``, else
    (the table absent) the size band. Returns (frame, tier column, problems saying which was used)."""
    wanted = list(dict.fromkeys([*attributes, FALLBACK_GROUP]))
    frame = lifetimes[["duration_days", "event"]].join(features[[a for a in wanted if a in features]], how="left")
    if scored is not None and TIER in scored.columns:
        tiers = scored.set_index("account_id")[TIER] if "account_id" in scored.columns else scored[TIER]
        frame[TIER] = tiers.reindex(frame.index).astype("object")
        return frame, TIER, problems_frame()
    row = problem(
        TIER,
        "no tiers",
        "adjusted",
        "No scored_accounts table with a tier in this run (the scoring notebook did not run or failed): "
        f"the curves compare {FALLBACK_GROUP.replace('_', ' ')}s instead of tiers.",
        "run 03_scoring_and_weights before this notebook",
    )
    return frame, FALLBACK_GROUP, problems_frame([row])


def km_tables(durations: pd.DataFrame, groups: Sequence[str]) -> dict[str, KMResult]:
    """Kaplan-Meier results for several groupings (duplicates dropped)."""
    return {g: km_by_group(durations, g) for g in dict.fromkeys(groups)}


def km_summary(results: dict[str, KMResult]) -> pd.DataFrame:
    """One table of every grouping's rows (columns grouping, group, accounts, churned, median_days, ...)."""
    return pd.concat({g: r.table for g, r in results.items()}, names=["grouping", "group"]).reset_index()


def logrank_table(results: dict[str, KMResult]) -> pd.DataFrame:
    """The multivariate log-rank test of each grouping (empty where it is not defined)."""
    return pd.DataFrame({g: r.logrank or {} for g, r in results.items()}).T


def previous_tier_frame(previous: pd.DataFrame, outcomes: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Accounts by the tier they had at the previous snapshot (``tiers_previous``), followed forward
    from ``start`` (that snapshot's date) to ``end`` (the run's as-of date): days to churn, censored
    at ``end``. A tier scored today conditions on the future (today's customers survived by
    construction, and accounts gone before today have none); a tier from the start of the follow-up
    does not. Only accounts active at ``start`` are followed (``outcomes``: build_outcomes at
    ``start``). Columns duration_days, event, tier, tier_as_of; a tier dated after ``start`` is refused."""
    start, end = require_date(start, "start"), require_date(end, "end")
    dated = pd.to_datetime(previous["as_of"]).dt.date
    if (dated > start).any():
        raise DataContractError(
            f"{int((dated > start).sum())} tiers in tiers_previous are dated after the follow-up start {start} "
            f"(latest {max(dated)}): they would condition on the future. Rerun 03_scoring_and_weights."
        )
    tiers = previous.assign(tier_as_of=dated).set_index("account_id")[[TIER, "tier_as_of"]]
    known = outcomes.index.intersection(tiers.index)
    follow_up = (end - start).days
    duration = outcomes.loc[known, "duration_days"].astype(float)
    churned = outcomes.loc[known, "churned"].astype(bool) & (duration <= follow_up)
    frame = pd.DataFrame(
        {"duration_days": duration.clip(upper=follow_up), "event": churned.astype(int)}, index=known
    ).join(tiers.astype({TIER: "object"}))
    return frame[frame["duration_days"] > 0]
