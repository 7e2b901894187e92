"""The churn analysis of a run in one call (notebook 04): Kaplan-Meier by tier and by the configured
groups, the parametric lifetime curve, the renewal-episode Cox model with its proportional-hazards
checks, the discrete-time and snapshot cross-checks, the time-ordered back-test, per-account churn
risk and the renewals at risk. Whatever cannot be estimated is a ``fatal`` row of ``problems`` (with
the reason), never a stop; the tables of what was estimated come from :meth:`ChurnAnalysis.tables`."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import pandas as pd

from analysis.core.inputs import RunInputs
from analysis.core.problems import PROBLEM_COLUMNS, note, problem, problems_frame
from analysis.data.asof import require_date
from analysis.errors import AnalysisError, AssumptionWarning
from analysis.params import SurvivalParams
from analysis.survival.cox import CoxChurnModel
from analysis.survival.data import (
    ENTRY,
    account_durations,
    impute_median,
    renewal_data,
    select_covariates,
    snapshot_frame,
)
from analysis.survival.discrete import DiscreteHazardModel
from analysis.survival.evaluation import RiskBacktest, compare_effects
from analysis.survival.km import (
    TIER,
    KMResult,
    grouping_frame,
    km_by_group,
    km_summary,
    km_tables,
    logrank_table,
    previous_tier_frame,
)
from analysis.survival.parametric import ParametricChurnModel
from analysis.survival.renewal_risk import RenewalRiskModel
from analysis.survival.renewal_run import fit_risk_model, renewal_inputs, risk_at, risk_backtest
from analysis.survival.risk import at_risk_renewals

LIFETIME_GRID = pd.Index(range(1, 3651, 10), name="tenure_days")  # the lifetime curve: ten years of tenure
SCORED = "scored_accounts"
PREVIOUS = "tiers_previous"


def attempt(func, *args, **kwargs):
    """(result, None) or (None, message) when the analysis cannot be estimated: lets a report say
    what could not be done and why instead of stopping."""
    try:
        return func(*args, **kwargs), None
    except AnalysisError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _fatal(message: str, action: str = "") -> pd.DataFrame:
    return problems_frame([problem("(model)", "not estimated", "fatal", message, action)])


@dataclass
class ChurnAnalysis:
    """Everything notebook 04 shows. A model is None where it could not be estimated; ``problems``
    (columns stage + the problems_ columns) says why, and lists every adjustment and note."""

    as_of: dt.date
    settings: SurvivalParams
    km: dict[str, KMResult]
    tier_column: str  # "tier", or "size_band" when the run has no scored_accounts
    tier_note: str
    lifetimes: pd.DataFrame
    km_all: KMResult  # every account in one curve (under the parametric extrapolation)
    parametric: ParametricChurnModel | None
    lifetime_curve: pd.Series | None  # parametric survival by tenure day: beyond the data, an extrapolation
    median_lifetime_days: float | None
    episodes: pd.DataFrame | None
    cox: CoxChurnModel | None
    discrete: DiscreteHazardModel | None
    snapshot_as_of: dt.date
    snapshot_cox: CoxChurnModel | None
    comparison: pd.DataFrame
    numeric: list[str]  # the configured covariates this book has (the others are problem rows)
    categorical: list[str]
    risk_model: RenewalRiskModel | None  # the renewal clock: per-account risk and its reasons
    backtest: RiskBacktest | None
    risk: pd.DataFrame | None
    at_risk: pd.DataFrame | None
    health_known: bool
    problems: pd.DataFrame

    @property
    def km_table(self) -> pd.DataFrame:
        return km_summary(self.km)

    @property
    def logrank(self) -> pd.DataFrame:
        return logrank_table(self.km)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run tables of what could be estimated, by catalog name."""
        out = {"churn_km_by_group": self.km_table}
        if self.cox is not None:
            out["churn_hazard_ratios"] = self.cox.summary
        out["churn_model_comparison"] = self.comparison
        if self.backtest is not None:
            out["churn_model_evaluation"] = self.backtest.metrics
            out["churn_calibration"] = self.backtest.calibration
        if self.risk is not None:
            horizons = [f"p_churn_{h}d" for h in self.settings.horizons]
            reasons = [c for c in self.risk.columns if c.startswith("reason_")]
            columns = [*horizons, "p_churn_before_renewal", "top_risk_factors", "risk_factors_note", *reasons]
            out["churn_risk"] = self.risk[columns].rename_axis("account_id")
        if self.at_risk is not None:
            out["at_risk_renewals"] = self.at_risk
        return out

    def notes(self) -> list[str]:
        """One line per problem: 'Cox model: InsufficientDataError: No churn events ...'."""
        return [
            f"{r.stage}: "
            + ("" if r.factor in ("", "(model)") or r.factor in r.detail else f"{r.factor}: ")
            + r.detail
            + (f" ({r.action})" if r.action and r.severity == "fatal" else "")
            for r in self.problems.itertuples()
        ]


def analyse(run: RunInputs) -> ChurnAnalysis:
    """The churn analysis of ``run`` (its book, as-of date, parameters, snapshot and scored_accounts)."""
    with warnings.catch_warnings():  # every AssumptionWarning is also a row of the problems
        warnings.simplefilter("ignore", AssumptionWarning)
        return _analyse(run)


def _analyse(run: RunInputs) -> ChurnAnalysis:
    params, book, as_of = run.params, run.book, require_date(run.as_of)
    sv, seed = params.survival, params.seed
    lead = params.features.renewal_lead_days
    stages: list[tuple[str, pd.DataFrame]] = []
    snapshot, scored = run.snapshot(), run.read(SCORED)

    # the covariates this book has: the others are problem rows, never a KeyError
    decided, fail = attempt(run.contract_features, as_of)
    numeric, categorical, chosen = select_covariates(
        decided if decided is not None else snapshot, sv.numeric, sv.categorical
    )
    stages.append(("Covariates", chosen))

    # Kaplan-Meier by tier (at the previous snapshot, followed forward) and by the configured groups
    lifetimes = account_durations(run.lifetimes(as_of))
    durations, tier_column, tier_problems = grouping_frame(lifetimes, snapshot, scored, sv.km_groups)
    tier_note = tier_problems["detail"].iloc[0] if len(tier_problems) else f"Tiers come from this run's {SCORED} table."
    stages.append(("Kaplan-Meier by tier", tier_problems))
    previous = run.read(PREVIOUS)
    if previous is not None and len(previous) and TIER in previous:
        then = require_date(pd.Timestamp(previous["as_of"].max()).date())  # the snapshot's date
        km = {TIER: km_by_group(previous_tier_frame(previous, run.outcomes_at(then), then, as_of), TIER)}
        km |= km_tables(durations, sv.km_groups)
        tier_column, tier_note = (
            TIER,
            (
                f"Tiers are those of {then} (the previous snapshot, {PREVIOUS}), each account followed from then "
                f"to {as_of}: today's tiers would condition on the future."
            ),
        )
        stages.append(("Kaplan-Meier by tier", problems_frame([note(tier_note, TIER, "tiers at a past date")])))
    else:
        km = km_tables(durations, [tier_column, *sv.km_groups])
    stages += [(f"Kaplan-Meier by {g}", r.problems) for g, r in km.items()]
    km_all = km_by_group(lifetimes.assign(all_accounts="all accounts"), "all_accounts")

    # the lifetime beyond the data
    parametric, fail = attempt(
        lambda: ParametricChurnModel.from_params(sv, seed).fit(lifetimes, "duration_days", "event")
    )
    stages.append(("Parametric lifetime model", parametric.problems_ if parametric else _fatal(fail)))
    curve = median = None
    if parametric is not None:
        first = lifetimes.head(1)
        curve = parametric.predict_survival_function(first, LIFETIME_GRID).iloc[:, 0].rename("survival")
        median = float(parametric.predict_median(first).iloc[0])

    # what drives churn: renewal episodes and the Cox model
    data, fail = attempt(renewal_data, run, as_of, numeric, categorical, lead)
    episodes = data[0] if data else None
    stages.append(("Renewal episodes", data[1] if data else _fatal(fail)))
    cox, fail = (
        attempt(
            CoxChurnModel.from_params(sv, seed).fit, episodes, numeric=numeric, categorical=categorical, entry_col=ENTRY
        )
        if episodes is not None
        else (None, "no renewal episodes (see above)")
    )
    stages.append(("Cox model", cox.problems_ if cox else _fatal(fail)))

    # cross-checks: the exact discrete-time model, and covariates frozen one period before as-of
    discrete, fail = (
        attempt(
            lambda: DiscreteHazardModel.from_params(sv, seed).fit(episodes, numeric=numeric, categorical=categorical)
        )
        if episodes is not None
        else (None, "no renewal episodes")
    )
    stages.append(("Discrete-time model", discrete.problems_ if discrete else _fatal(fail)))
    snap_as_of = as_of - dt.timedelta(days=sv.backtest_days)
    snap, snap_problems = _snapshot_design(run, snap_as_of, numeric, categorical, sv.backtest_days)
    snap_cox, fail = (
        attempt(
            CoxChurnModel.from_params(sv, seed).fit, snap, numeric=numeric, categorical=categorical, entry_col=ENTRY
        )
        if snap is not None
        else (None, None)
    )
    stages.append(("Snapshot Cox model", snap_cox.problems_ if snap_cox else (_fatal(fail) if fail else None)))
    stages.append(("Snapshot Cox model", snap_problems))
    models = {"Cox (renewal episodes)": cox, "discrete-time logit": discrete, f"Cox (snapshot {snap_as_of})": snap_cox}
    comparison = compare_effects({k: m.summary for k, m in models.items() if m is not None})

    # the per-account risk on the renewal clock, its time-ordered back-test, the renewals at risk
    inputs, fail = attempt(renewal_inputs, run, numeric, categorical)
    stages.append(("Renewal risk: landmarks", inputs.problems if inputs else _fatal(fail)))
    bt = risk_model = risk = due = None
    if inputs is not None:
        bt, fail = attempt(risk_backtest, run, inputs, numeric, categorical, sv, seed)
        stages.append(("Back-test", bt.problems if bt else _fatal(fail)))
        risk_model, fail = attempt(fit_risk_model, inputs, as_of, numeric, categorical, sv, seed)
    if risk_model is None:
        stages.append(("Churn risk", _fatal(fail or "no landmark rows (see above)")))
    else:
        health = (
            scored.set_index("account_id")["health_band"] if scored is not None and "health_band" in scored else None
        )
        risk, units = risk_at(risk_model, inputs, snapshot, as_of, sv)
        stages.append(("Churn risk", risk_model.problems_))
        due = at_risk_renewals(risk, book.df("contracts"), as_of, sv.at_risk_window_days, health, units)
        if health is None:
            stages.append(("At-risk renewals", problems_frame([_no_health()])))

    return ChurnAnalysis(
        as_of=as_of,
        settings=sv,
        km=km,
        tier_column=tier_column,
        tier_note=tier_note,
        lifetimes=lifetimes,
        km_all=km_all,
        parametric=parametric,
        lifetime_curve=curve,
        median_lifetime_days=median,
        episodes=episodes,
        cox=cox,
        discrete=discrete,
        snapshot_as_of=snap_as_of,
        snapshot_cox=snap_cox,
        comparison=comparison,
        numeric=numeric,
        categorical=categorical,
        risk_model=risk_model,
        backtest=bt,
        risk=risk,
        at_risk=due,
        health_known=scored is not None and "health_band" in scored,
        problems=_stage_frame(stages),
    )


def _snapshot_design(run: RunInputs, snap_as_of: dt.date, numeric, categorical, follow_up_days: int):
    """The snapshot design at ``snap_as_of`` (missing numbers set to the median) and its problems;
    None where it cannot be built, with the fatal problem."""
    then, fail = attempt(lambda: (run.features_at(snap_as_of), run.outcomes_at(snap_as_of)))
    if then is None:
        return None, _fatal(fail)
    frame, fail = attempt(snapshot_frame, *then, [*numeric, *categorical], follow_up_days)
    if frame is None:
        return None, _fatal(fail)
    return impute_median(frame, numeric)


def _no_health() -> dict:
    return note(
        f"health_band is empty: this run has no {SCORED} table with health bands.",
        "health_band",
        "no health bands",
        "run 03_scoring_and_weights before this notebook",
    )


def _stage_frame(stages: list[tuple[str, pd.DataFrame | None]]) -> pd.DataFrame:
    parts = [f[PROBLEM_COLUMNS].assign(stage=stage) for stage, f in stages if f is not None and len(f)]
    columns = ["stage", *PROBLEM_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
