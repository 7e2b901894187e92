"""Judging churn risk honestly: time-ordered evaluation (Harrell and Uno concordance,
time-dependent AUC, Brier scores, calibration by risk decile), the back-test that fits with data up
to one period before the as-of date, and the side-by-side comparison of model effects.

The censoring-weighted (IPCW) estimators are written here with numpy because scikit-survival is
not in the pinned stack and lifelines has only Harrell's concordance. They follow Uno et al.
(2011) for the truncated C, Uno et al. (2007) / Hung & Chiang (2010) for the cumulative/dynamic
AUC and Graf et al. (1999) for the Brier score, with the censoring distribution G estimated by
Kaplan-Meier on the evaluation period (censoring there is administrative: the end of the data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index

from analysis.core.inputs import RunInputs
from analysis.core.problems import concat, problems_frame
from analysis.data.asof import require_date
from analysis.errors import InsufficientDataError
from analysis.survival.data import ENTRY, check_durations, evaluation_frame, impute_median, renewal_data
from analysis.survival.km import step_value


def compare_effects(summaries: dict[str, pd.DataFrame], column: str = "estimate") -> pd.DataFrame:
    """One column per model with ``column`` and its 95% interval, for side-by-side reading."""
    if not summaries:
        return pd.DataFrame(index=pd.Index([], name="factor"))
    parts = [s[[column, "lower_95", "upper_95"]].add_prefix(f"{name}: ") for name, s in summaries.items()]
    return pd.concat(parts, axis=1)


# --- censoring-weighted evaluation -----------------------------------------------------------


def censoring_survival(time, event):
    """G(t-) = P(censored after t-), the Kaplan-Meier of the censoring times, as a function."""
    km = KaplanMeierFitter().fit(np.asarray(time, float), 1 - np.asarray(event, int))
    grid, values = km.survival_function_.index.to_numpy(float), km.survival_function_.iloc[:, 0].to_numpy()

    def G(t, left: bool = True):
        idx = np.searchsorted(grid, np.asarray(t, float), side="left" if left else "right") - 1
        return np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)

    return G


def harrell_c(time, event, risk) -> float:
    """Harrell's concordance: higher risk should churn earlier (lifelines)."""
    return float(concordance_index(np.asarray(time, float), -np.asarray(risk, float), np.asarray(event, int)))


def uno_c(time, event, risk, tau: float | None = None, G=None) -> float:
    """Uno's concordance truncated at ``tau``: Harrell's, with comparable pairs weighted by G(T_i-)^-2
    so that heavy censoring does not bias it."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    G = G or censoring_survival(time, event)
    tau = np.inf if tau is None else tau
    cases = np.flatnonzero(event & (time < tau))
    weight = 1.0 / np.maximum(G(time[cases]), 1e-12) ** 2
    num = den = 0.0
    step = max(1, int(2e7 // max(len(time), 1)))
    for s in range(0, len(cases), step):  # chunks keep the case x subject matrix small
        i = cases[s : s + step]
        comparable = time[None, :] > time[i, None]
        score = (risk[None, :] < risk[i, None]) + 0.5 * (risk[None, :] == risk[i, None])
        num += float(weight[s : s + step] @ (comparable * score).sum(axis=1))
        den += float(weight[s : s + step] @ comparable.sum(axis=1))
    return num / den if den else np.nan


def time_dependent_auc(time, event, risk, t: float, G=None) -> float:
    """Cumulative/dynamic AUC at t: churned by t (weighted 1/G(T-)) against still there after t."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    G = G or censoring_survival(time, event)
    cases = event & (time <= t)
    controls = np.sort(risk[(time > t) | ((time >= t) & ~event)])  # still a customer at t
    if not cases.any() or not len(controls):
        return np.nan
    w = 1.0 / np.maximum(G(time[cases]), 1e-12)
    below = np.searchsorted(controls, risk[cases], side="left")
    ties = np.searchsorted(controls, risk[cases], side="right") - below
    return float(w @ (below + 0.5 * ties) / (w.sum() * len(controls)))


def brier_score(time, event, survival_at_t, t: float, G=None) -> float:
    """Graf's censoring-weighted Brier score of predicted survival at t."""
    time, event, s = np.asarray(time, float), np.asarray(event, bool), np.asarray(survival_at_t, float)
    G = G or censoring_survival(time, event)
    died = event & (time <= t)
    alive = ~died & (time >= t)
    loss = np.where(died, s**2 / np.maximum(G(time), 1e-12), 0.0)
    loss += np.where(alive, (1 - s) ** 2 / max(float(G(t)), 1e-12), 0.0)  # G(t-): still observed at t
    return float(loss.mean())


def integrated_brier_score(time, event, survival: pd.DataFrame, G=None) -> float:
    """Brier score averaged over the times of ``survival`` (rows: times, columns: subjects)."""
    G = G or censoring_survival(time, event)
    grid = survival.index.to_numpy(float)
    scores = [brier_score(time, event, survival.loc[t].to_numpy(), t, G) for t in survival.index]
    return float(np.trapezoid(scores, grid) / (grid[-1] - grid[0]))


def calibration_table(time, event, p_churn, horizon: float, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed churn by ``horizon`` per risk decile (observed = 1 - Kaplan-Meier)."""
    frame = pd.DataFrame(
        {"time": np.asarray(time, float), "event": np.asarray(event, int), "predicted": np.asarray(p_churn, float)}
    )
    frame["decile"] = pd.qcut(frame["predicted"].rank(method="first"), bins, labels=False) + 1
    rows = []
    for decile, part in frame.groupby("decile"):  # ten groups
        km = KaplanMeierFitter().fit(part["time"], part["event"])
        est, ci = (
            step_value(km.survival_function_, horizon),
            step_value(km.confidence_interval_survival_function_, horizon),
        )
        rows.append(
            {
                "decile": int(decile),
                "accounts": len(part),
                "predicted": part["predicted"].mean(),
                "observed": 1 - float(est.iloc[0]),
                "observed_lower": 1 - float(ci.iloc[1]),
                "observed_upper": 1 - float(ci.iloc[0]),
            }
        )
    return pd.DataFrame(rows).set_index("decile")


def evaluate(
    model,
    frame: pd.DataFrame,
    duration_col: str = "duration_days",
    event_col: str = "event",
    tenure_col: str = "tenure_days",
    *,
    horizons: Sequence[int],
    grid_points: int = 24,
):
    """Metrics of ``model`` on accounts followed forward from a later as-of date than its training.

    ``frame``: covariates at that as-of, ``tenure_col`` (tenure then), ``duration_col`` (days from
    the as-of to churn or the end of the data) and ``event_col``. Returns (metrics, calibration at
    the longest horizon)."""
    check_durations(frame, duration_col)
    time, event = frame[duration_col].to_numpy(float), frame[event_col].to_numpy(bool)
    if not event.any():
        raise InsufficientDataError(
            "No churn after the evaluation date: concordance, AUC and calibration are undefined."
        )
    G = censoring_survival(time, event)
    longest = min(max(horizons), float(time.max()))
    p = {h: model.predict_churn_probability(frame, h, tenure_col).to_numpy() for h in horizons}
    top = max(horizons)
    rows = [
        {"metric": "Harrell C", "horizon_days": top, "value": harrell_c(time, event, p[top])},
        {"metric": "Uno C", "horizon_days": top, "value": uno_c(time, event, p[top], top, G)},
    ]
    rows += [
        {"metric": "time-dependent AUC", "horizon_days": t, "value": time_dependent_auc(time, event, p[t], t, G)}
        for t in horizons
    ]
    grid = np.unique(np.linspace(longest / grid_points, longest, grid_points).round())
    survival = model.predict_survival_function(frame, grid, tenure_col)
    null = pd.DataFrame(np.repeat(_at_many(time, event, grid)[:, None], len(frame), axis=1), index=grid)
    rows += [
        {
            "metric": "integrated Brier score",
            "horizon_days": longest,
            "value": integrated_brier_score(time, event, survival, G),
        },
        {
            "metric": "integrated Brier score, no-covariate reference",
            "horizon_days": longest,
            "value": integrated_brier_score(time, event, null, G),
        },
    ]
    calibration = calibration_table(time, event, p[top], top)
    observed = 1 - _at_many(time, event, [top])[0]
    rows.append({"metric": "predicted / observed churn", "horizon_days": top, "value": p[top].mean() / observed})
    metrics = pd.DataFrame(rows)
    metrics["accounts"], metrics["churned"] = len(frame), int(event.sum())
    return metrics, calibration


def _at_many(time, event, times) -> np.ndarray:
    """Kaplan-Meier survival of the whole evaluation set at several times."""
    km = KaplanMeierFitter().fit(time, event)
    return km.survival_function_at_times(list(times)).to_numpy()


# --- time-ordered back-test ---------------------------------------------------------------------


@dataclass
class Backtest:
    """A model fitted on renewals decided before ``fit_as_of`` and judged on what happened after it."""

    model: object
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    fit_as_of: dt.date
    episodes: int
    problems: pd.DataFrame = field(default_factory=problems_frame)


def _prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return frame.assign(detail=prefix + frame["detail"]) if len(frame) else frame


def backtest(
    source: RunInputs,
    as_of: dt.date,
    model,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    follow_up_days: int,
    lead_days: int,
    horizons: Sequence[int],
) -> Backtest:
    """Fit ``model`` (unfitted; a renewal-episode Cox model) with data up to ``as_of - follow_up_days``
    only, then evaluate its predictions made at that date on the next ``follow_up_days``. The
    features and outcomes at that date come from ``source`` (built once per run)."""
    fit_as_of = require_date(as_of) - dt.timedelta(days=follow_up_days)
    episodes, train_problems = renewal_data(source, fit_as_of, numeric, categorical, lead_days)
    model.fit(episodes, numeric=numeric, categorical=categorical, entry_col=ENTRY)
    snapshot = (source.features_at(fit_as_of), source.outcomes_at(fit_as_of))
    frame, eval_problems = impute_median(evaluation_frame(*snapshot, follow_up_days), numeric)
    metrics, calibration = evaluate(model, frame, horizons=[h for h in horizons if h <= follow_up_days])
    problems = concat(
        _prefixed(train_problems, "training: "),
        _prefixed(model.problems_, "training: "),
        _prefixed(eval_problems, f"evaluation at {fit_as_of}: "),
    )
    return Backtest(model, metrics, calibration, fit_as_of, len(episodes), problems)


# --- the back-test of the per-account risk (renewal clock) -------------------------------------


@dataclass
class RiskBacktest:
    """The renewal-risk model fitted on renewals decided before ``fit_as_of``, its per-account risk
    at that date, and what happened next. ``accounts``: one row per account active then, with the
    predicted risk, its covariates, ``lost_next`` (its next renewal was lost; NaN while undecided),
    ``churned_days`` (days to churn, NaN if it stayed) and ``term_group``."""

    model: object
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    accounts: pd.DataFrame
    fit_as_of: dt.date
    landmarks: int
    problems: pd.DataFrame = field(default_factory=problems_frame)


def ratio_rows(frame: pd.DataFrame, predicted: str, observed: str, group: str, horizon) -> dict:
    """One 'predicted / observed' row of ``frame`` (rows with an observed outcome). ``horizon``: days,
    or the words of what is judged (horizon_days is then empty)."""
    known = frame[frame[observed].notna()]
    events = float(known[observed].sum())
    value = float(known[predicted].sum()) / events if events else np.nan
    return {
        "metric": "predicted / observed churn",
        "group": group,
        "horizon_days": float(horizon) if not isinstance(horizon, str) else np.nan,
        "judged_on": horizon if isinstance(horizon, str) else f"churn within {horizon} days",
        "value": value,
        "accounts": len(known),
        "churned": int(events),
        "predicted": float(known[predicted].sum()),
    }


def risk_metrics(accounts: pd.DataFrame, later: pd.DataFrame, horizons: Sequence[int], due_days: int) -> pd.DataFrame:
    """Calibration (predicted / observed) before the next renewal, per term group and within each
    horizon, the value at risk of renewals due within ``due_days``, and discrimination (Harrell C,
    time-dependent AUC) of the longest horizon's risk. ``later``: landmark rows of the renewals
    decided in the follow-up period with the model's ``p_lost`` (each renewal judged from the
    situation before it, with the model fitted before the period): calibration per term group
    with every renewal of the year, not only each account's next one."""
    rows = [ratio_rows(accounts, "p_churn_before_renewal", "lost_next", "all accounts", "next renewal")]
    # one row per renewal: its landmark rows' mean risk, so that churned counts renewals, not rows
    per_renewal = later.groupby(["account_id", "end"], sort=False).agg(
        term_group=("term_group", "first"), p_lost=("p_lost", "mean"), not_renewed=("not_renewed", "first")
    )
    for group, part in per_renewal.groupby("term_group", sort=True):  # a few term groups
        rows.append(ratio_rows(part, "p_lost", "not_renewed", f"term {group}", "each renewal in the follow-up"))
    for group, part in accounts.groupby("term_group", sort=True):  # a few term groups
        rows.append(ratio_rows(part, "p_churn_before_renewal", "lost_next", f"term {group}", "next renewal"))
    for h in horizons:
        churned = (accounts["churned_days"] <= h).astype(float)
        rows.append(ratio_rows(accounts.assign(_y=churned), f"p_churn_{h}d", "_y", "all accounts", h))
    due = accounts[accounts["days_to_next_renewal"] + 1 <= due_days]
    due = due.assign(_p=due["p_churn_before_renewal"] * due["next_value"], _y=due["lost_next"] * due["next_value"])
    value = ratio_rows(due, "_p", "_y", f"renewals due within {due_days} days", due_days)
    value.update(metric="predicted / observed value at risk", churned=int(due["lost_next"].sum()))
    rows.append(value)
    top = max(horizons)
    time = accounts["churned_days"].fillna(np.inf).clip(upper=top + 1).to_numpy(float)
    event = accounts["churned_days"].le(top).to_numpy()
    if event.any() and (~event).any():
        risk = accounts[f"p_churn_{top}d"].to_numpy(float)
        rows.append(
            {"metric": "Harrell C", "group": "all accounts", "horizon_days": top, "value": harrell_c(time, event, risk)}
        )
        rows += [
            {
                "metric": "time-dependent AUC",
                "group": "all accounts",
                "horizon_days": h,
                "value": time_dependent_auc(time, event, accounts[f"p_churn_{h}d"].to_numpy(float), h),
            }
            for h in horizons
        ]
    return pd.DataFrame(rows)


def risk_calibration(accounts: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed loss of the next renewal per risk decile (decided renewals)."""
    known = accounts[accounts["lost_next"].notna()]
    decile = pd.qcut(known["p_churn_before_renewal"].rank(method="first"), min(bins, len(known)), labels=False) + 1
    g = known.groupby(decile.to_numpy())
    out = pd.DataFrame(
        {"accounts": g.size(), "predicted": g["p_churn_before_renewal"].mean(), "observed": g["lost_next"].mean()}
    )
    se = np.sqrt(out["observed"] * (1 - out["observed"]) / out["accounts"])
    out["observed_lower"], out["observed_upper"] = (
        (out["observed"] - 1.96 * se).clip(0),
        (out["observed"] + 1.96 * se).clip(upper=1),
    )
    return out.rename_axis("decile")
