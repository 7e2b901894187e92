"""Describing and judging churn risk: Kaplan-Meier by group with log-rank tests, time-ordered
evaluation (Harrell and Uno concordance, time-dependent AUC, Brier scores, calibration by risk
decile), per-account risk tables and the plots the notebook shows.

The censoring-weighted (IPCW) estimators are written here with numpy because scikit-survival is
not in the pinned stack and lifelines has only Harrell's concordance. They follow Uno et al.
(2011) for the truncated C, Uno et al. (2007) / Hung & Chiang (2010) for the cumulative/dynamic
AUC and Graf et al. (1999) for the Brier score, with the censoring distribution G estimated by
Kaplan-Meier on the evaluation period (censoring there is administrative: the end of the data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test, pairwise_logrank_test
from lifelines.utils import concordance_index
from scipy import stats

from analysis.data import features as feats
from analysis.data.io import Book
from analysis.errors import AnalysisError, DataContractError, InsufficientDataError
from analysis.survival.models import (
    ENTRY,
    EVENT,
    HORIZONS,
    STOP,
    CoxChurnModel,
    check_durations,
    renewal_episodes,
    snapshot_frame,
)

SURVIVAL_TIMES = (365, 730)  # survival at 12 and 24 months of tenure


# --- Kaplan-Meier by group ----------------------------------------------------------------------


@dataclass
class KMResult:
    """Kaplan-Meier curves of one grouping, their table, log-rank tests and what could not be done."""

    group: str
    table: pd.DataFrame
    curves: dict[str, KaplanMeierFitter]
    logrank: dict | None = None
    pairwise: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _at(frame: pd.DataFrame, t: float) -> pd.Series:
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
    notes = [f"{dropped} accounts without a {group} are left out."] if dropped else []
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
            est, ci = _at(km.survival_function_, t), _at(km.confidence_interval_survival_function_, t)
            observed = part[duration_col].max() >= t
            row[f"survival_{t}d"] = float(est.iloc[0]) if observed else np.nan
            row[f"survival_{t}d_lower"], row[f"survival_{t}d_upper"] = (
                (float(ci.iloc[0]), float(ci.iloc[1])) if observed else (np.nan, np.nan)
            )
        rows.append(row)
    table = pd.DataFrame(rows).set_index(group)
    for t in times:
        if longest < t:
            notes.append(f"Survival at {t} days cannot be estimated: the longest follow-up is {longest:.0f} days.")
    if table["median_days"].isin([np.inf]).any():
        notes.append("A median of 'inf' means fewer than half of that group's accounts have churned so far.")
    result = KMResult(group, table, curves, notes=notes)
    if len(curves) < 2:
        result.notes.append(f"Only one {group} is present: the log-rank test needs two or more groups.")
        return result
    if frame[event_col].sum() == 0:
        result.notes.append("No churn events: the curves are flat and the log-rank test is not defined.")
        return result
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
    return result


def grouping_frame(
    lifetimes: pd.DataFrame,
    features: pd.DataFrame,
    scored: pd.DataFrame | None = None,
    attributes: Sequence[str] = ("size_band", "industry"),
) -> tuple[pd.DataFrame, str, str]:
    """Account durations with the groups to compare: the run's tier when the scoring table has one,
    else the size band. Returns (frame, tier column, note saying which was used)."""
    frame = lifetimes[["duration_days", "event"]].join(features[[a for a in attributes if a in features]], how="left")
    if scored is not None and "tier" in scored.columns:
        tiers = scored.set_index("account_id")["tier"] if "account_id" in scored.columns else scored["tier"]
        frame["tier"] = tiers.reindex(frame.index).astype("object")
        return frame, "tier", "Tiers come from this run's scored_accounts table."
    return (
        frame,
        "size_band",
        (
            "No scored_accounts table with a tier in this run (scoring runs later or was skipped): "
            "the curves compare size bands instead of tiers."
        ),
    )


def km_tables(durations: pd.DataFrame, groups: Sequence[str]) -> dict[str, KMResult]:
    """Kaplan-Meier results for several groupings (duplicates dropped)."""
    return {g: km_by_group(durations, g) for g in dict.fromkeys(groups)}


def attempt(func, *args, **kwargs):
    """(result, None) or (None, message) when the analysis cannot be estimated: lets a report say
    what could not be done and why instead of stopping."""
    try:
        return func(*args, **kwargs), None
    except AnalysisError as exc:
        return None, f"{type(exc).__name__}: {exc}"


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
        est, ci = _at(km.survival_function_, horizon), _at(km.confidence_interval_survival_function_, horizon)
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
    horizons: Sequence[int] = HORIZONS,
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


# --- per-account risk ---------------------------------------------------------------------------


def churn_risk(
    model,
    features: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    tenure_col: str = "tenure_days",
    renewal_col: str = "days_to_next_renewal",
    top_n: int = 3,
) -> pd.DataFrame:
    """Per active account: P(churn within each horizon | tenure survived) and before the next renewal
    (the churn date is the day after the contract end), with its top risk factors."""
    active = features[features["is_active"].astype(bool)] if "is_active" in features else features
    horizons_days = {f"p_churn_{h}d": h for h in horizons}
    # The churn date is the day after the contract end; no renewal date known gives NaN.
    horizons_days["p_churn_before_renewal"] = active[renewal_col].astype(float).to_numpy() + 1
    out = model.predict_churn_probabilities(active, horizons_days, tenure_col)
    out["days_to_next_renewal"] = active[renewal_col]
    if "next_renewal_date" in active:
        out["next_renewal_date"] = active["next_renewal_date"]
    out["top_risk_factors"] = model.risk_factors(active, top_n) if hasattr(model, "risk_factors") else ""
    return out


def at_risk_renewals(
    risk: pd.DataFrame, contracts: pd.DataFrame, as_of, window_days: int = 90, health: pd.Series | None = None
) -> pd.DataFrame:
    """Contracts ending in the next ``window_days`` with churn risk, annual value at risk, health band
    (when the scoring table is present) and the account's top risk factors; largest value at risk first."""
    as_of = pd.Timestamp(as_of)
    end, start = pd.to_datetime(contracts["end"]), pd.to_datetime(contracts["start"])
    due = contracts[(start < as_of) & (end >= as_of) & (end < as_of + pd.Timedelta(days=window_days))]
    cols = ["contract_id", "account_id", "end", "product_line", "annual_value"]
    out = due[[c for c in cols if c in due]].join(risk[["p_churn_before_renewal", "top_risk_factors"]], on="account_id")
    out["value_at_risk"] = out["annual_value"] * out["p_churn_before_renewal"]
    out["health_band"] = health.reindex(out["account_id"]).to_numpy() if health is not None else None
    return out.sort_values("value_at_risk", ascending=False).set_index("contract_id")


def simulate_survival(
    n: int,
    beta: dict[str, float],
    seed: int = 0,
    shape: float = 1.2,
    scale_days: float = 900.0,
    censor_days: int = 1500,
    max_entry_days: int = 0,
) -> pd.DataFrame:
    """Accounts with standard-normal covariates and a Weibull proportional-hazards churn time in whole
    days (log hazard ratio per SD = ``beta``), entering at a random tenure below ``max_entry_days``
    (left truncation) and censored up to ``censor_days`` later. For tests and benchmarks."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(beta))), columns=list(beta))
    lp = X.to_numpy() @ np.array(list(beta.values()))
    entry = rng.integers(0, max_entry_days + 1, n) if max_entry_days else np.zeros(n, dtype=int)
    cumhaz = (entry / scale_days) ** shape + rng.exponential(size=n) / np.exp(lp)
    churn = np.ceil(scale_days * cumhaz ** (1 / shape)).astype(int)
    censor = entry + rng.integers(1, censor_days + 1, n)
    X[ENTRY], X[STOP], X[EVENT] = entry, np.minimum(churn, censor), (churn <= censor).astype(int)
    return X


# --- time-ordered back-test ---------------------------------------------------------------------


@dataclass
class Backtest:
    """A model fitted on renewals decided before ``fit_as_of`` and judged on what happened after it."""

    model: CoxChurnModel
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    fit_as_of: pd.Timestamp
    episodes: int
    notes: list[str] = field(default_factory=list)


def renewal_data(
    book: Book, as_of, numeric: Sequence[str], categorical: Sequence[str] = (), lead_days: int = 90
) -> tuple[pd.DataFrame, list[str]]:
    """Renewal episodes decided before ``as_of`` (missing numbers set to the median, with notes)."""
    decided = feats.build_contract_features(book, lead_days, decided_before=feats.resolve_as_of(book, as_of))
    return impute_median(renewal_episodes(decided, [*numeric, *categorical], lead_days), numeric)


def snapshot_data(
    book: Book, as_of, numeric: Sequence[str], categorical: Sequence[str] = (), follow_up_days: int = 365
) -> tuple[pd.DataFrame, list[str]]:
    """Snapshot design at ``as_of``, followed for ``follow_up_days`` (missing numbers set to the median)."""
    frame = snapshot_frame(
        feats.build_features(book, as_of), feats.build_outcomes(book, as_of), [*numeric, *categorical], follow_up_days
    )
    return impute_median(frame, numeric)


def evaluation_frame(features: pd.DataFrame, outcomes: pd.DataFrame, follow_up_days: int) -> pd.DataFrame:
    """Accounts active at the as-of date: covariates then, days to churn (censored at ``follow_up_days``
    or the end of the data) and the event."""
    active = outcomes.index.intersection(features.index)
    frame = features.loc[active].copy()
    duration = outcomes.loc[active, "duration_days"].astype(int)
    frame["event"] = (outcomes.loc[active, "churned"].astype(bool) & (duration <= follow_up_days)).astype(int)
    frame["duration_days"] = duration.clip(upper=follow_up_days)
    return frame[frame["duration_days"] > 0]


def backtest(
    book: Book,
    as_of,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    model_options: dict | None = None,
    follow_up_days: int = 365,
    lead_days: int = 90,
    horizons: Sequence[int] = HORIZONS,
) -> Backtest:
    """Fit the renewal-episode Cox model with data up to ``as_of - follow_up_days`` only, then evaluate
    its predictions made at that date on the next ``follow_up_days``."""
    fit_as_of = pd.Timestamp(feats.resolve_as_of(book, as_of)) - pd.Timedelta(days=follow_up_days)
    episodes, notes = renewal_data(book, fit_as_of.date(), numeric, categorical, lead_days)
    model = CoxChurnModel.from_params(model_options or {}).fit(
        episodes, numeric=numeric, categorical=categorical, entry_col=ENTRY
    )
    later = evaluation_frame(
        feats.build_features(book, fit_as_of.date()), feats.build_outcomes(book, fit_as_of.date()), follow_up_days
    )
    frame, eval_notes = impute_median(later, numeric)
    metrics, calibration = evaluate(model, frame, horizons=[h for h in horizons if h <= follow_up_days])
    notes = [f"training: {n}" for n in notes + model.notes_]
    notes += [f"evaluation at {fit_as_of.date()}: {n}" for n in eval_notes]
    return Backtest(model, metrics, calibration, fit_as_of, len(episodes), notes)


def impute_median(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Missing numeric covariates set to the column median, each one named in a note (never silent)."""
    out, notes = frame.copy(), []
    for col in columns:
        missing = int(out[col].isna().sum())
        if missing:
            out[col] = out[col].fillna(out[col].median())
            notes.append(f"{col}: {missing} missing values ({missing / len(out):.1%}) set to the median")
    return out, notes


# --- plots --------------------------------------------------------------------------------------


def plot_km(result: KMResult, ax=None, max_days: float | None = None):
    """Kaplan-Meier curves of one grouping with 95% bands."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for km in result.curves.values():  # one line per group
        km.plot_survival_function(ax=ax, ci_show=True)
    title = f"Account survival by {result.group}"
    if result.logrank:
        title += f" (log-rank p = {result.logrank['p']:.2g})"
    ax.set(xlabel="tenure (days)", ylabel="share of accounts still customers", title=title, ylim=(0, 1.02))
    if max_days:
        ax.set_xlim(0, max_days)
    return ax


def plot_forest(summary: pd.DataFrame, ratio: str = "hazard_ratio", ax=None):
    """Ratios with 95% intervals on a log axis, largest effect at the top."""
    import matplotlib.pyplot as plt

    lower, upper = ("hr_lower_95", "hr_upper_95") if ratio == "hazard_ratio" else ("or_lower_95", "or_upper_95")
    table = summary.sort_values(ratio)
    ax = ax or plt.subplots(figsize=(7, 0.35 * len(table) + 1))[1]
    y = np.arange(len(table))
    ax.errorbar(table[ratio], y, xerr=[table[ratio] - table[lower], table[upper] - table[ratio]], fmt="o", capsize=3)
    ax.axvline(1, color="grey", linestyle="--")
    ax.set_xscale("log")
    ax.set_yticks(y, table.index)
    ax.set(xlabel=ratio.replace("_", " ") + " (95% CI, log scale)")
    return ax


def plot_calibration(calibration: pd.DataFrame, horizon: int, ax=None):
    """Predicted against observed churn by risk decile, with the observed 95% interval."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 5))[1]
    observed = calibration["observed"]
    err = [observed - calibration["observed_lower"], calibration["observed_upper"] - observed]
    ax.errorbar(calibration["predicted"], calibration["observed"], yerr=err, fmt="o", capsize=3)
    top = float(max(calibration["predicted"].max(), calibration["observed_upper"].max())) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle="--")
    ax.set(
        xlabel=f"predicted churn within {horizon} days",
        ylabel="observed churn (Kaplan-Meier)",
        title="Calibration by risk decile",
        xlim=(0, top),
        ylim=(0, top),
    )
    return ax
