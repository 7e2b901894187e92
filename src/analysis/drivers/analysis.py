"""The renewal-drivers facade: ``analyse(run) -> DriverAnalysis`` with the run tables it writes.

``analyse(run)`` loads the contracts decided before the run's as-of date (features
``features.renewal_lead_days`` before each end, or ``features.renewal_lead_share_of_term`` of a
shorter term), fits the logit, the boosting check, their agreement and the segment refits, turns
them into findings (status confirmed / possible, unconfirmed / depends on segment / no clear
effect; ``findings.py``), states the renewal rate per term class, and gives the open accounts of
the run's snapshot reasons from the confirmed findings. ``analyse_contracts(contracts, section,
seed=...)`` does the same on a contract table (tests, benchmarks). Neither raises on data that
cannot be estimated: the parts that could not be are None / empty, with the reason in ``problems``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.core.problems import PROBLEM_COLUMNS, concat, fatal_message, problem, problems_frame
from analysis.data.asof import require_date
from analysis.drivers.findings import (
    CONFIRMED,
    DRIVERS_TABLE_COLUMNS,
    POSSIBLE,
    findings_table,
    reason_factors,
    roles_by_factor,
)
from analysis.drivers.logit import RenewalDrivers
from analysis.drivers.nonlinear import NonlinearCheck, compare_models, empty_agreement
from analysis.drivers.outcome import ACCOUNT, ANALYSIS, END, MODEL, OUTCOME
from analysis.drivers.reasons import REASON_COLUMNS, open_account_reasons
from analysis.drivers.stability import (
    FLIP_COLUMNS,
    SIGN_FLIP_RULE,
    STABILITY_COLUMNS,
    sign_flips,
    stability,
    stability_table,
)
from analysis.drivers.terms import RATES_COLUMNS, decided_by_term, renewal_rates_by_term, with_open_terms
from analysis.errors import DataContractError, InsufficientDataError

if TYPE_CHECKING:
    from analysis.core.inputs import RunInputs
    from analysis.params import DriversParams

MODEL_CHECK_COLUMNS = ["metric", "value", "lower_95", "upper_95", "verdict"]
AUC_DIFFERENCE = "held-out AUC difference, boosting minus logit"


def drivers_table(model: RenewalDrivers | None, section: DriversParams | None = None) -> pd.DataFrame:
    """The ``drivers`` table of a fitted model without the held-out check (every clear finding is then
    'possible, unconfirmed'; ``analyse`` builds it with the check and the stability refits); the
    empty table with its columns when there is no model."""
    if model is None:
        return pd.DataFrame(columns=DRIVERS_TABLE_COLUMNS)
    if section is None:
        raise TypeError("drivers_table(model, section) needs the drivers section (params.drivers) for a fitted model.")
    return findings_table(model, None, pd.DataFrame(columns=FLIP_COLUMNS), section)


def _check_row(metric: str, value: float, lower: float = np.nan, upper: float = np.nan, verdict: str = "") -> tuple:
    return metric, float(value), float(lower), float(upper), verdict


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
    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DRIVERS_TABLE_COLUMNS))
    reasons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REASON_COLUMNS))
    rates_by_term: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATES_COLUMNS))
    lead_days: int | None = None  # features taken this many days before each contract end (at most)
    lead_share_of_term: float | None = None  # ... or this share of a shorter term
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
            "renewal_rates_by_term": self.rates_by_term,
        }

    @property
    def table(self) -> pd.DataFrame:
        """The findings (``drivers`` table), ranked: confirmed first."""
        return self.findings

    @property
    def lead_note(self) -> str:
        """When each decision's features were taken, and how many decisions there are."""
        share = f", or {self.lead_share_of_term:.0%} of a shorter term" if self.lead_share_of_term else ""
        lead = f"Features taken {self.lead_days} days before each contract end{share}." if self.lead_days else ""
        return f"{lead} Decided contracts before the as-of date: {self.n_decided}.".strip()

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
            return "No stability refits: " + (
                "the main model could not be estimated." if self.model is None else "no factor has a clear effect."
            )
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
        """metric / value rows for the report's method notes; the comparison of the two held-out AUCs
        also has its 95% interval and a verdict code (nonlinear / same / logit better)."""
        rows = []
        if self.model is not None:
            rows += [
                _check_row("contracts", self.model.n_contracts_),
                _check_row("accounts", self.model.n_accounts_),
                _check_row("renewal rate", self.model.renewal_rate_),
            ]
        if self.check is not None:
            auc = self.check.auc_comparison_
            rows += [
                _check_row("held-out AUC, logit", self.check.logit_holdout_auc_),
                _check_row("held-out AUC, gradient boosting", self.check.holdout_auc_),
                _check_row(AUC_DIFFERENCE, auc.difference, auc.lower_95, auc.upper_95, auc.verdict),
                _check_row("held-out contracts", self.check.n_holdout_),
            ]
        if not self.flips.empty:
            rows.append(_check_row("sign flips between segments", int(self.flips["sign_flip"].sum())))
        if not self.findings.empty:
            status = self.findings["status"]
            rows += [
                _check_row("confirmed findings", int((status == CONFIRMED).sum())),
                _check_row("possible, unconfirmed findings", int((status == POSSIBLE).sum())),
                _check_row("accounts with reasons", self.reasons[ACCOUNT].nunique() if len(self.reasons) else 0),
            ]
        return pd.DataFrame(rows, columns=MODEL_CHECK_COLUMNS).astype(
            {"value": float, "lower_95": float, "upper_95": float, "verdict": str}
        )

    @property
    def not_estimable(self) -> pd.DataFrame:
        """What could not be estimated (or was estimated differently) and why, and the parts skipped."""
        if self.problems.empty:
            return problems_frame()
        keep = (self.problems["severity"] != "note") | (self.problems["factor"] == ANALYSIS)
        return self.problems.loc[keep, PROBLEM_COLUMNS].reset_index(drop=True)


def _skipped(what: str, exc: Exception) -> pd.DataFrame:
    return problems_frame([problem(ANALYSIS, "skipped", "note", f"{what} skipped: {exc}")])


def _unusable(exc: DataContractError) -> pd.DataFrame:
    return problems_frame(
        [
            problem(
                MODEL,
                "unusable contract table",
                "fatal",
                str(exc),
                "build the table with analysis.data.features.build_contract_features",
            )
        ]
    )


def analyse_contracts(
    contracts: pd.DataFrame, section: DriversParams, *, seed: int, check: bool = True, segments: bool = True
) -> DriverAnalysis:
    """Logit, boosting check, agreement, stability and findings on a contract table; never raises on
    data that cannot be estimated. ``section`` is ``params.drivers``; ``seed`` the run's seed."""
    rates = renewal_rates_by_term(contracts)
    try:
        model = RenewalDrivers.from_params(section).fit(contracts)
    except InsufficientDataError as exc:
        problems = getattr(exc, "problems", None)
        problems = (
            problems if problems is not None else problems_frame([problem(MODEL, "no estimate", "fatal", str(exc))])
        )
        return DriverAnalysis(problems=problems, pd_top=section.pd_top, rates_by_term=rates)
    except DataContractError as exc:
        return DriverAnalysis(problems=_unusable(exc), pd_top=section.pd_top, rates_by_term=rates)
    result = DriverAnalysis(problems=model.problems_, pd_top=section.pd_top, model=model, rates_by_term=rates)
    if check:
        try:
            result.check = NonlinearCheck.from_params(section, seed=seed).fit(contracts, design=model.design_)
            result.agreement = compare_models(model, result.check)
        except (InsufficientDataError, DataContractError) as exc:
            result.problems = concat(result.problems, _skipped("Non-linear check", exc))
    if segments:
        clear = model.summary.loc[model.summary["direction"] != "no clear effect", "variable"].unique().tolist()
        if section.stability_factors == "all" or clear:
            chosen = clear if section.stability_factors == "clear" else None
            result.stability = stability(contracts, section, design=model.design_, factors=chosen)
            result.flips = sign_flips(result.stability)
    result.findings = findings_table(model, result.check, result.flips, section)
    return result


def load_contracts(source: RunInputs, as_of: dt.date) -> pd.DataFrame:
    """The contract-level table: decisions before ``as_of``, features ``features.renewal_lead_days``
    (or ``renewal_lead_share_of_term`` of a shorter term) before each end (from ``source``, built
    once per run).

    Returns an empty table (which ``analyse_contracts`` reports as 'no decided contracts') instead
    of raising when no contract has been decided yet.
    """
    try:
        return source.contract_features(require_date(as_of))
    except InsufficientDataError:
        return pd.DataFrame(columns=[ACCOUNT, END, OUTCOME])


def _give_reasons(result: DriverAnalysis, run: RunInputs, section: DriversParams) -> None:
    """Reasons for the open accounts from the factors that may give them, or a note saying why none."""
    factors = reason_factors(result.findings, section)
    if not factors:
        which = "confirmed" if section.reasons_from == "confirmed" else "clear"
        why = problem(
            ANALYSIS,
            "no reasons",
            "note",
            f"No account gets reasons: no factor is {which} (drivers.reasons_from = {section.reasons_from}) "
            "without flipping direction between segments, and a factor that may be noise is not a reason.",
        )
        result.problems = concat(result.problems, problems_frame([why]))
        return
    try:
        snapshot = with_open_terms(run.snapshot(), run.book, run.as_of)
        result.reasons = open_account_reasons(result.model, snapshot, factors, roles_by_factor(result.findings))
    except DataContractError as exc:
        result.problems = concat(result.problems, _skipped("Per-account reasons", exc))


def analyse(run: RunInputs, *, check: bool = True, segments: bool = True) -> DriverAnalysis:
    """The renewal drivers of a run: contracts decided before ``run.as_of``, the models and checks of
    the ``drivers`` section, renewal rates per term class, and reasons for the open accounts of
    ``run.snapshot()``."""
    features, section = run.params.features, run.params.drivers
    contracts = load_contracts(run, run.as_of)
    result = analyse_contracts(contracts, section, seed=run.params.seed, check=check, segments=segments)
    result.lead_days, result.lead_share_of_term = features.renewal_lead_days, features.renewal_lead_share_of_term
    result.n_decided = len(contracts)
    if run.book.has("contracts"):
        result.rates_by_term = renewal_rates_by_term(contracts, decided_by_term(run.book, run.as_of))
    if result.model is not None:
        _give_reasons(result, run, section)
    return result
