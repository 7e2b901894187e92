"""The renewal clock: renewals, their terms, and the landmark rows the per-account risk is fitted on.

A *renewal* is one account's contracts ending on one day (co-terminous contracts are decided
together: the renewal is kept if any of them renews). Churn happens only there, so the risk of
losing a renewal is counted per renewal, not per day of tenure: with calendar-year terms (365 or
366 days) a tenure-day clock puts two baseline jumps on every anniversary and each account
collects both, whereas here a renewal is one decision whatever its length.

Each renewal carries its **term** (``end - start + 1`` of its contracts, or the contract features'
``term_days`` when present), its term group in months (1, 6, 12 ...), and its **renewal year**:
the account's contract year in which it falls (1 = within a year of the account's first day).

*Landmark rows*: the situation of an account some days before a past renewal and whether that
renewal was lost. ``landmarks_per_term`` dates per renewal, one in each equal part of the term
(a seeded random day within it), so the model sees the account at every distance from the
renewal, including the last weeks when a leaver may already have gone quiet. Features at each
date use only data before it (``analysis.data.features.build_cut_features``), the outcome is the
decision at the end: no leakage, and a renewal decided after a date is never used to fit a model
of that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.data.features import build_cut_features
from analysis.data.io import Book
from analysis.errors import InsufficientDataError

YEAR_DAYS = 365.25
MONTH_DAYS = YEAR_DAYS / 12
LEAD, SHARE, TERM, TERM_GROUP, YEAR, LOST = (
    "lead_days",
    "lead_share",
    "term_days",
    "term_group",
    "renewal_year",
    "not_renewed",
)


def term_group(term_days) -> np.ndarray:
    """'1 month', '6 months', '12 months', '24 months' ...: the term rounded to whole months."""
    months = np.maximum(1, np.round(np.asarray(term_days, float) / MONTH_DAYS)).astype(int)
    return np.array([f"{m} month" + ("s" if m > 1 else "") for m in months], dtype=object)


def renewal_year(days_since_first_seen) -> np.ndarray:
    """The account's contract year in which a churn date falls (1 = its first year). The small
    tolerance keeps a 365-day and a 366-day anniversary in the same year."""
    years = np.ceil(np.asarray(days_since_first_seen, float) / YEAR_DAYS - 0.02)
    return np.maximum(1, years).astype(int)


def renewals(book: Book) -> pd.DataFrame:
    """One row per account and contract end: start (earliest), term_days (longest term), term_group,
    annual_value (sum), contracts (how many end that day), decided (no contract ending that day is
    open), not_renewed (1 when none renewed), renewal_year, first_seen."""
    contracts = book.df("contracts")
    start, end = pd.to_datetime(contracts["start"]), pd.to_datetime(contracts["end"])
    frame = pd.DataFrame(
        {
            "account_id": contracts["account_id"].astype(str),
            "start": start,
            "end": end,
            TERM: contracts[TERM] if TERM in contracts else (end - start).dt.days + 1,
            "annual_value": contracts["annual_value"].astype(float),
            "renewed": contracts["renewal_outcome"].eq("renewed"),
            "open": contracts["renewal_outcome"].eq("open"),
        }
    )
    grouped = frame.groupby(["account_id", "end"], sort=True)
    units = grouped.agg(
        start=("start", "min"),
        term_days=(TERM, "max"),
        annual_value=("annual_value", "sum"),
        renewed=("renewed", "any"),
        open=("open", "any"),
        contracts=("renewed", "size"),
    ).reset_index()
    accounts = book.df("accounts").set_index("account_id")
    units["first_seen"] = pd.to_datetime(accounts["first_seen"]).reindex(units["account_id"]).to_numpy()
    units["decided"] = ~units.pop("open")
    units[LOST] = (~units.pop("renewed")).astype(int)
    units[TERM_GROUP] = term_group(units[TERM])
    units[YEAR] = renewal_year((units["end"] + pd.Timedelta(days=1) - units["first_seen"]).dt.days)
    return units


def decided_before(units: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    """Renewals decided before ``date`` (their end is before it and none is open)."""
    return units[units["decided"] & (units["end"] < pd.Timestamp(date))]


def open_at(units: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The renewals running at ``as_of`` (started before it, ending on or after it), with the days
    to each end (lead_days) and the share of its term still ahead (lead_share)."""
    t = pd.Timestamp(as_of)
    running = units[(units["start"] < t) & (units["end"] >= t)].copy()
    running[LEAD] = (running["end"] - t).dt.days
    running[SHARE] = running[LEAD] / running[TERM]
    return running.reset_index(drop=True)


def landmark_cuts(units: pd.DataFrame, per_term: int, seed: int) -> pd.DataFrame:
    """``per_term`` dates before each renewal, one in each equal part of its term (seeded): rows of
    the renewal with as_of (the date), lead_days and lead_share. Dates on or before the start of
    the renewal's term or the account's first day are left out."""
    rng = np.random.default_rng(seed)
    span = units[TERM].to_numpy(float) - 1
    parts = []
    for j in range(per_term):  # a few parts per term
        lead = np.floor(span * (j + rng.random(len(units))) / per_term).astype(int)
        parts.append(units.assign(**{LEAD: lead, "as_of": units["end"] - pd.to_timedelta(lead, "D")}))
    cuts = pd.concat(parts, ignore_index=True)
    cuts = cuts[(cuts["as_of"] > cuts["start"]) & (cuts["as_of"] > cuts["first_seen"])]
    cuts[SHARE] = cuts[LEAD] / cuts[TERM]
    return cuts.sort_values(["account_id", "end", LEAD], kind="stable").reset_index(drop=True)


def landmark_frame(
    book: Book,
    units: pd.DataFrame,
    covariates: Sequence[str],
    *,
    per_term: int,
    max_rows: int,
    subscription_margin: float,
    seed: int,
) -> pd.DataFrame:
    """Landmark rows of the decided ``units`` with the ``covariates`` measured at each date. Above
    ``max_rows`` rows, a fixed random sample of renewals (seeded) keeps the fit's cost bounded."""
    decided = units[units["decided"]]
    if decided.empty:
        raise InsufficientDataError("No renewal has been decided yet: the churn risk needs past renewals.")
    if len(decided) * per_term > max_rows:
        keep = np.random.default_rng(seed).choice(len(decided), max_rows // per_term, replace=False)
        decided = decided.iloc[np.sort(keep)]
    cuts = landmark_cuts(decided, per_term, seed)
    if cuts.empty:
        raise InsufficientDataError("No renewal has a date inside its term to measure the account at.")
    features = build_cut_features(book, cuts, subscription_margin)
    wanted = [c for c in dict.fromkeys(covariates) if c in features.columns and c not in cuts.columns]
    return pd.concat([cuts, features[wanted]], axis=1)


def situation_at(
    units: pd.DataFrame, snapshot: pd.DataFrame, as_of: dt.date, covariates: Sequence[str]
) -> pd.DataFrame:
    """The renewals running at ``as_of`` with their accounts' features then (for prediction)."""
    running = open_at(units, as_of)
    wanted = [c for c in dict.fromkeys(covariates) if c in snapshot.columns and c not in running.columns]
    return running.join(snapshot[wanted], on="account_id")
