"""The renewal-drivers facade: ``analyse(run) -> DriverAnalysis`` with the run tables it writes.

``analyse(run)`` loads the contracts decided before the run's as-of date (features
``features.renewal_lead_days`` before each end), fits the logit, the boosting check, their
agreement and the segment refits, and gives the open accounts of the run's snapshot their
reasons. ``analyse_contracts(contracts, section, seed=...)`` does the same on a contract table
(tests, benchmarks). Neither raises on data that cannot be estimated: the parts that could not
be are None / empty, with the reason in ``problems``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from analysis.core.problems import PROBLEM_COLUMNS, concat, fatal_message, problem, problems_frame
from analysis.data.asof import require_date
from analysis.drivers.logit import RenewalDrivers
from analysis.drivers.nonlinear import NonlinearCheck, compare_models, empty_agreement
from analysis.drivers.outcome import ACCOUNT, ANALYSIS, END, OUTCOME
from analysis.drivers.reasons import REASON_COLUMNS, open_account_reasons
from analysis.drivers.stability import (
    FLIP_COLUMNS,
    SIGN_FLIP_RULE,
    STABILITY_COLUMNS,
    sign_flips,
    stability,
    stability_table,
)
from analysis.errors import InsufficientDataError

if TYPE_CHECKING:
    from analysis.core.inputs import RunInputs
    from analysis.params import DriversParams

DRIVERS_TABLE_COLUMNS = [
    "factor",
    "variable",
    "kind",
    "effect",
    "effect_unit",
    "lower_95",
    "upper_95",
    "log_odds",
    "std_error",
    "p",
    "p_adjusted",
    "direction",
    "rank",
    "rate_with",
    "rate_without",
    "method",
    "sentence",
]


def drivers_table(model: RenewalDrivers | None) -> pd.DataFrame:
    """The table written for a run: effect = odds ratio (per +1 SD or per level), interval, p, corrected p."""
    if model is None:
        return pd.DataFrame(columns=DRIVERS_TABLE_COLUMNS)
    s = model.summary.reset_index()
    out = s.rename(columns={"odds_ratio": "effect", "unit": "effect_unit", "estimate": "log_odds"})
    out["lower_95"], out["upper_95"] = s["or_lower_95"], s["or_upper_95"]
    return out[DRIVERS_TABLE_COLUMNS]


@dataclass
class DriverAnalysis:
    """Everything the notebook shows; parts that could not be estimated are None / empty, with the
    reason in ``problems`` (a skipped part is a row with factor ``(analysis)``)."""

    problems: pd.DataFrame
    pd_top: int  # partial-dependence curves drawn (drivers.pd_top)
    model: RenewalDrivers | None = None
    check: NonlinearCheck | None = None
    agreement: pd.DataFrame = field(default_factory=empty_agreement)
    stability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STABILITY_COLUMNS))
    flips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FLIP_COLUMNS))
    reasons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REASON_COLUMNS))
    lead_days: int | None = None  # features taken this many days before each contract end
    n_decided: int = 0  # rows of the contract table (decided contracts before the as-of date)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run tables of the renewal-drivers notebook, by catalog name."""
        return {
            "drivers": self.table,
            "drivers_model_check": self.model_check,
            "drivers_problems": self.not_estimable,
            "drivers_agreement": self.agreement.reset_index(),
            "drivers_stability": self.stability,
            "renewal_reasons": self.reasons,
        }

    @property
    def table(self) -> pd.DataFrame:
        return drivers_table(self.model)

    @property
    def summary(self) -> pd.DataFrame:
        return self.model.summary if self.model is not None else pd.DataFrame(columns=["odds_ratio", "rank"])

    @property
    def importance(self) -> pd.DataFrame:
        return (
            self.check.importance_
            if self.check is not None
            else pd.DataFrame(columns=["importance", "importance_std", "important", "gbm_rank"])
        )

    @property
    def partial_dependence(self) -> pd.DataFrame:
        return (
            self.check.partial_dependence_
            if self.check is not None
            else pd.DataFrame(columns=["factor", "value", "level", "renewal_probability"])
        )

    def top_factors(self, n: int | None = None) -> list[str]:
        """The factors the boosting check found most important (``pd_top`` of them, for partial-dependence plots)."""
        return self.importance.sort_values("gbm_rank").index[: self.pd_top if n is None else n].tolist()

    @property
    def stability_wide(self) -> pd.DataFrame:
        return stability_table(self.stability) if not self.stability.empty else pd.DataFrame()

    @property
    def stability_note(self) -> str:
        """The flip rule, the flagged factors and the segments that could not be refitted, in words."""
        if self.stability.empty:
            return "No stability refits: the main model could not be estimated."
        flagged = sorted(set(self.flips.loc[self.flips["sign_flip"], "factor"])) if not self.flips.empty else []
        skipped = self.stability[self.stability["status"] != "fitted"]
        return "\n".join(
            [
                SIGN_FLIP_RULE,
                f"Flagged sign flips: {', '.join(flagged) or 'none'}",
                "Segments not refitted: "
                + ("; ".join(f"{r.split} = {r.segment}: {r.status}" for r in skipped.itertuples()) or "none"),
            ]
        )

    @property
    def status(self) -> str:
        """One line for the notebook: why nothing was estimated, which parts were skipped, or that all ran."""
        if self.model is None:
            return fatal_message(self.problems, "Renewal drivers")
        skipped = self.problems.loc[self.problems["factor"] == ANALYSIS, "detail"]
        return "\n".join(skipped) or "The main model was fitted."

    @property
    def model_check(self) -> pd.DataFrame:
        """metric / value rows for the report's method notes."""
        rows = []
        if self.model is not None:
            rows += [
                ("contracts", self.model.n_contracts_),
                ("accounts", self.model.n_accounts_),
                ("renewal rate", self.model.renewal_rate_),
            ]
        if self.check is not None:
            rows += [
                ("held-out AUC, logit", self.check.logit_holdout_auc_),
                ("held-out AUC, gradient boosting", self.check.holdout_auc_),
                ("held-out contracts", self.check.n_holdout_),
            ]
        if not self.flips.empty:
            rows.append(("sign flips between segments", int(self.flips["sign_flip"].sum())))
        return pd.DataFrame(rows, columns=["metric", "value"]).astype({"value": float})

    @property
    def not_estimable(self) -> pd.DataFrame:
        """What could not be estimated (or was estimated differently) and why, and the parts skipped."""
        if self.problems.empty:
            return problems_frame()
        keep = (self.problems["severity"] != "note") | (self.problems["factor"] == ANALYSIS)
        return self.problems.loc[keep, PROBLEM_COLUMNS].reset_index(drop=True)


def _skipped(what: str, exc: Exception) -> pd.DataFrame:
    return problems_frame([problem(ANALYSIS, "skipped", "note", f"{what} skipped: {exc}")])


def analyse_contracts(
    contracts: pd.DataFrame, section: DriversParams, *, seed: int, check: bool = True, segments: bool = True
) -> DriverAnalysis:
    """Logit, boosting check, agreement and stability on a contract table; never raises on data
    that cannot be estimated. ``section`` is ``params.drivers``; ``seed`` the run's seed."""
    try:
        model = RenewalDrivers.from_params(section).fit(contracts)
    except InsufficientDataError as exc:
        problems = getattr(exc, "problems", None)
        return DriverAnalysis(problems=problems if problems is not None else problems_frame(), pd_top=section.pd_top)
    result = DriverAnalysis(problems=model.problems_, pd_top=section.pd_top, model=model)
    if check:
        try:
            result.check = NonlinearCheck.from_params(section, seed=seed).fit(contracts, design=model.design_)
            result.agreement = compare_models(model, result.check)
        except InsufficientDataError as exc:
            result.problems = concat(result.problems, _skipped("Non-linear check", exc))
    if segments:
        clear = model.summary.loc[model.summary["direction"] != "no clear effect", "variable"].unique().tolist()
        chosen = clear if section.stability_factors == "clear" and clear else None
        result.stability = stability(contracts, section, design=model.design_, factors=chosen)
        result.flips = sign_flips(result.stability)
    return result


def load_contracts(source: RunInputs, as_of: dt.date) -> pd.DataFrame:
    """The contract-level table: decisions before ``as_of``, features ``features.renewal_lead_days``
    before each end (from ``source``, built once per run).

    Returns an empty table (which ``analyse_contracts`` reports as 'no decided contracts') instead
    of raising when no contract has been decided yet.
    """
    try:
        return source.contract_features(require_date(as_of))
    except InsufficientDataError:
        return pd.DataFrame(columns=[ACCOUNT, END, OUTCOME])


def analyse(run: RunInputs, *, check: bool = True, segments: bool = True) -> DriverAnalysis:
    """The renewal drivers of a run: contracts decided before ``run.as_of`` (features
    ``params.features.renewal_lead_days`` before each end), the models and checks of the ``drivers``
    section, and reasons for the open accounts of ``run.snapshot()``."""
    features = run.params.features
    contracts = load_contracts(run, run.as_of)
    result = analyse_contracts(contracts, run.params.drivers, seed=run.params.seed, check=check, segments=segments)
    result.lead_days, result.n_decided = features.renewal_lead_days, len(contracts)
    if result.model is not None:
        result.reasons = open_account_reasons(result.model, run.snapshot())
    return result
