"""The contract table's outcome and the checks that stop a fit (one outcome only, too few events)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.core.problems import problem
from analysis.errors import DataContractError

OUTCOME = "renewed"
ACCOUNT = "account_id"
END = "end"
MODEL = "(model)"  # the factor of a problem row about the whole model
ANALYSIS = "(analysis)"  # the factor of a problem row about a part of the analysis that was skipped


def label_of(name: str, labels: Mapping[str, str] | None) -> str:
    """The words used for a column in sentences (``drivers.labels``, else the name with spaces)."""
    return (labels or {}).get(name, name.replace("_", " "))


def decided_contracts(contracts: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The rows with a 0/1 outcome, checked; open rows (missing outcome) are set aside with a note."""
    missing = [c for c in (OUTCOME, ACCOUNT) if c not in contracts.columns]
    if missing:
        raise DataContractError(
            f"The contract table lacks column(s) {missing}; build it with "
            "analysis.data.features.build_contract_features(book, lead_days, subscription_margin)."
        )
    raw = contracts[OUTCOME]
    outcome = pd.to_numeric(raw.astype("object").where(raw.notna(), np.nan), errors="coerce").astype("float64")
    bad = raw.notna() & ~outcome.isin([0, 1])
    if bad.any():
        raise DataContractError(
            f"Column '{OUTCOME}' must be 1 (renewed) or 0 (not renewed); {int(bad.sum())} rows hold other values, "
            f"e.g. {contracts.loc[bad, OUTCOME].head(3).tolist()}."
        )
    notes = []
    if outcome.isna().any():
        notes.append(
            problem(
                OUTCOME,
                "undecided contracts",
                "note",
                f"{int(outcome.isna().sum())} contracts have no outcome yet",
                "left out of the fit; they get reasons, not a place in the estimates",
            )
        )
    table = contracts.loc[outcome.notna()].copy()
    table[OUTCOME] = outcome[outcome.notna()].astype(int)
    return table, notes


def outcome_problems(y: pd.Series) -> list[dict]:
    """A fatal row when the outcome has one class (or no rows)."""
    n, renewed = len(y), int(y.sum())
    if n == 0:
        return [
            problem(
                OUTCOME,
                "no decided contracts",
                "fatal",
                "no contract has reached its end date",
                "use a later as-of date or a longer history",
            )
        ]
    if renewed in (0, n):
        what = f"all {n} contracts renewed" if renewed == n else f"none of the {n} contracts renewed"
        return [
            problem(
                OUTCOME,
                "one outcome only",
                "fatal",
                f"{what[0].upper()}{what[1:]}: with one outcome nothing separates renewers from leavers",
                "use a longer history (an earlier start or a later as-of date) so that both outcomes occur",
            )
        ]
    return []


def events_problem(y: pd.Series, n_terms: int, min_events_per_factor: float) -> list[dict]:
    """A fatal row when the rarer outcome gives fewer than ``min_events_per_factor`` per model term."""
    events = int(min(y.sum(), len(y) - y.sum()))
    need = min_events_per_factor * n_terms
    if n_terms and events < need:
        rarer = "non-renewals" if y.sum() >= len(y) - y.sum() else "renewals"
        return [
            problem(
                MODEL,
                "too few events per factor",
                "fatal",
                f"{events} {rarer} for {n_terms} model terms ({events / n_terms:.1f} per term; "
                f"the minimum is {min_events_per_factor:g})",
                "use more contracts (a longer history), list fewer factors in drivers.factors, "
                "or lower drivers.min_events_per_factor knowingly",
            )
        ]
    return []
