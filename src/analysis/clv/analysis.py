"""The CLV step of a run in one call: ``analyse(run)`` values every account and returns the run
tables of notebook 02 (holdout check with its verdict, fitted models, retention per term class and
segment, retention by renewal number, concentration, the CLV pyramid, ``clv_accounts`` and what
could not be estimated, ``clv_problems``).

Tiers are cut after CLV in a run (notebook 03 reads ``clv_accounts``), so CLV is not broken down
by scored tier here; the report joins ``clv_accounts`` to this run's ``scored_accounts``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analysis.clv.account import AccountClv, account_clv, clv_by_group, clv_concentration, clv_tier, model_summaries
from analysis.clv.bgnbd import BetaGeoModel
from analysis.clv.orders import holdout_report
from analysis.clv.retention import retention_curves
from analysis.core import problems as problems_
from analysis.core.inputs import RunInputs
from analysis.errors import InsufficientDataError
from analysis.params import ClvParams

RETENTION_YEARS = 10  # years shown in the projected retention curves
# Columns of the clv_accounts run table (after the segment column), in this order.
ACCOUNT_COLUMNS = [
    "clv",
    "clv_orders",
    "clv_contracts",
    "p_alive",
    "churn_probability",
    "value_at_risk",
    "risk_source",
    "expected_purchases",
    "expected_spend",
    "renewal_probability",
    "derl",
    "arr",
    "main_term",
    "clv_tier",
]


@dataclass
class ClvAnalysis:
    """What notebook 02 shows and writes. Models that could not be fitted are None in ``accounts``
    (with the reason in ``problems``)."""

    params: ClvParams
    as_of: dt.date
    accounts: AccountClv  # the per-account table, the fitted models and the assumptions
    holdout: pd.DataFrame | None  # actual vs predicted holdout purchases (None: not made)
    holdout_model: BetaGeoModel | None  # the BG/NBD fitted on the calibration period
    holdout_note: str  # what the holdout check did, or why it could not be made
    model_summary: pd.DataFrame  # every fitted model's summary, stacked
    retention_curves: pd.DataFrame  # projected retention and survival per term class and segment
    concentration: pd.Series | None  # share of CLV held by the top 1 / 20 / 50 % (None: total CLV is 0)
    by_tier: pd.DataFrame  # CLV per CLV-pyramid tier
    by_segment: pd.DataFrame | None  # CLV per value of clv.segment (None: no such column)
    clv_accounts: pd.DataFrame  # the run table, index account_id
    problems: pd.DataFrame  # analysis.core.problems frame

    @property
    def retention_table(self) -> pd.DataFrame | None:
        return self.accounts.retention_table

    @property
    def retention_by_renewal(self) -> pd.DataFrame | None:
        """Observed retention per term class and renewal number, next to the sBG's."""
        retention = self.accounts.retention
        return None if retention is None else retention.by_renewal

    @property
    def assumptions(self) -> dict:
        return self.accounts.assumptions

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run tables of notebook 02 by catalog name (a table that could not be made is absent)."""
        out = {}
        if self.holdout is not None:
            out["clv_holdout_check"] = self.holdout
        out["clv_model_summary"] = self.model_summary
        if len(self.retention_curves):
            out["clv_retention_segments"] = self.retention_table
            out["clv_retention_curves"] = self.retention_curves
            out["clv_retention_by_renewal"] = self.retention_by_renewal
        if self.concentration is not None:
            out["clv_concentration"] = self.concentration.rename_axis("accounts").to_frame()
        out["clv_by_tier"] = self.by_tier
        out["clv_accounts"] = self.clv_accounts
        out["clv_problems"] = self.problems
        return out


def analyse(run: RunInputs) -> ClvAnalysis:
    """CLV of every account first seen before the run's as-of date, from ``run.params.clv``."""
    clv_params = run.params.clv
    book = run.book
    orders = book.df("orders") if book.has("orders") else None
    holdout, holdout_model, holdout_note = holdout_report(orders, run.as_of, clv_params, run.params.seed)
    problems = []
    if holdout is None:
        problems.append(problems_.problem("clv_holdout_check", "not_made", "fatal", holdout_note))
    result = account_clv(book, run.as_of, clv_params)
    table = result.table.assign(clv_tier=clv_tier(result.table["clv"]))
    try:
        concentration = clv_concentration(table["clv"])
    except InsufficientDataError as exc:
        concentration = None
        problems.append(problems_.problem("clv_concentration", "not_made", "fatal", str(exc)))
    segment = clv_params.segment
    has_segment = segment is not None and segment in table
    return ClvAnalysis(
        params=clv_params,
        as_of=run.as_of,
        accounts=result,
        holdout=holdout,
        holdout_model=holdout_model,
        holdout_note=holdout_note,
        model_summary=model_summaries(result),
        retention_curves=retention_curves(result.retention, RETENTION_YEARS),
        concentration=concentration,
        by_tier=clv_by_group(table, "clv_tier"),
        by_segment=clv_by_group(table, segment) if has_segment else None,
        clv_accounts=table[[c for c in [*([segment] if has_segment else []), *ACCOUNT_COLUMNS] if c in table]],
        problems=problems_.concat(problems_.problems_frame(problems), result.problems),
    )
