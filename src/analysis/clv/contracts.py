"""The contract stream's input: subscription spells per term class, and their renewal decisions
counted by renewal number.

A contract's *term* is read from its dates (``end - start + 1`` days) and put in a class: monthly,
quarterly, semi-annual, annual or multi-year. A *spell* is one account's run of consecutive
contracts on one product line with the same term class: it starts with the first contract (or
after a non-renewal, or when the term class changes) and each renewal adds one period. The
retention models count periods in terms of the spell's own class, so a monthly subscription's
36 monthly renewals are not read as 36 years. Co-terminous contracts of one line (same end) are
one decision, renewed if any of them was. Only decisions taken before the as-of date are used.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.clv._inputs import require_columns
from analysis.data.asof import require_date

TERM_CLASSES = ("monthly", "quarterly", "semi-annual", "annual", "multi-year")
# Upper edges (in months) of the classes: a contract of up to 1.5 months is monthly, up to 4.5
# quarterly, up to 9 semi-annual, up to 18 annual, longer multi-year. The edges sit halfway
# between the usual terms (1, 3, 6, 12, 24 months), so calendar-month lengths (28-31 days) and
# calendar years (365/366 days) land in their class.
TERM_EDGES_MONTHS = (1.5, 4.5, 9.0, 18.0)
NOMINAL_MONTHS = {"monthly": 1.0, "quarterly": 3.0, "semi-annual": 6.0, "annual": 12.0}
DAYS_PER_MONTH = 365.25 / 12
SPELL_COLUMNS = ["account_id", "product_line", "term_class", "term_months", "renewals_past", "arr", "active"]


def term_class(months) -> pd.Categorical:
    """The term class of contracts lasting ``months`` (ordered shortest first)."""
    codes = np.searchsorted(np.asarray(TERM_EDGES_MONTHS), np.asarray(months, dtype=float), side="right")
    return pd.Categorical.from_codes(codes, categories=list(TERM_CLASSES), ordered=True)


def contract_months(contracts: pd.DataFrame) -> pd.Series:
    """Each contract's term in months, from its dates (``end`` is the last day covered)."""
    days = (pd.to_datetime(contracts["end"]) - pd.to_datetime(contracts["start"])).dt.days + 1
    return (days / DAYS_PER_MONTH).rename("term_months")


def nominal_months(classes: pd.Series, months: pd.Series) -> pd.Series:
    """The length used to convert periods to years: the usual term of the class (1, 3, 6, 12
    months), or for multi-year terms the class's median length in whole months."""
    out = classes.astype(object).map(NOMINAL_MONTHS).astype(float)
    multi = classes.astype(object).eq("multi-year")
    if multi.any():
        out[multi] = float(np.round(months[multi].median()))
    return out


def subscription_spells(contracts: pd.DataFrame, as_of: dt.date, segments: pd.Series | None = None) -> pd.DataFrame:
    """One row per spell with a contract started before ``as_of`` (index ``spell``).

    Columns: account_id, product_line, term_class, term_months (the length one period stands for),
    renewals_past (renewal decisions taken in the spell, all renewed), arr (annual value of its
    contracts running at ``as_of``), active (one is running), churned (its last decision was not
    to renew and nothing runs), periods (sBG input: the period churned in, or the renewals survived;
    0 = no decision yet), and ``segment`` when ``segments`` (by account) is given. Outcomes of
    contracts ending on or after ``as_of`` are not used, so a back-test sees only what was known;
    an ``open`` contract that ended before ``as_of`` (its decision not yet recorded) is censored.
    """
    require_columns(contracts, ("account_id", "start", "end", "annual_value", "renewal_outcome"), "Contract spells")
    as_of = pd.Timestamp(require_date(as_of))
    k = contracts[pd.to_datetime(contracts["start"]) < as_of].copy()
    k["start"], k["end"] = pd.to_datetime(k["start"]), pd.to_datetime(k["end"])
    k["product_line"] = k["product_line"].fillna("").astype(str) if "product_line" in k else ""
    k["months"] = contract_months(k)
    k["running"] = k["end"] >= as_of
    # An 'open' contract that ended before as-of has no recorded decision yet: neither renewed nor lost.
    k["decided"] = ~k["running"] & k["renewal_outcome"].isin(["renewed", "not_renewed"])
    k["renewed"] = k["decided"] & k["renewal_outcome"].eq("renewed")
    k["running_value"] = k["annual_value"].where(k["running"], 0.0).astype(float)
    terms = (
        k.groupby(["account_id", "product_line", "end"], sort=False)
        .agg(
            start=("start", "min"),
            months=("months", "median"),
            decided=("decided", "all"),
            running=("running", "any"),
            renewed=("renewed", "any"),
            running_value=("running_value", "sum"),
        )
        .reset_index()
        .sort_values(["account_id", "product_line", "start", "end"], kind="stable", ignore_index=True)
    )
    terms["term_class"] = term_class(terms["months"])
    same_line = terms["account_id"].eq(terms["account_id"].shift()) & terms["product_line"].eq(
        terms["product_line"].shift()
    )
    continues = (
        same_line & terms["term_class"].eq(terms["term_class"].shift()) & terms["renewed"].shift(fill_value=False)
    )
    terms["spell"] = (~continues).cumsum() - 1
    g = terms.groupby("spell", sort=True)
    last_decided = terms[terms["decided"]].groupby("spell")["renewed"].last()
    out = pd.DataFrame(
        {
            "account_id": g["account_id"].first(),
            "product_line": g["product_line"].first(),
            "term_class": pd.Categorical(g["term_class"].first(), categories=list(TERM_CLASSES), ordered=True),
            "months": g["months"].median(),
            "renewals_past": g["renewed"].sum().astype(int),
            "arr": g["running_value"].sum(),
            "active": g["running"].any(),
        }
    )
    out["churned"] = (~out["active"] & last_decided.reindex(out.index).eq(False)).astype(int)
    out["periods"] = out["renewals_past"] + out["churned"]
    out["term_months"] = nominal_months(out["term_class"], out.pop("months"))
    if segments is not None:
        out["segment"] = segments.reindex(out["account_id"]).fillna("unknown").astype(str).to_numpy()
    out.index.name = "spell"
    return out


def renewal_groups(spells: pd.DataFrame, min_decisions: int, max_renewal_number: int) -> int:
    """How many renewal numbers are shown one by one: renewal n gets its own rate while at least
    ``min_decisions`` spells reached it (and n <= ``max_renewal_number``); later ones are pooled
    into the last group."""
    reached = np.bincount(spells["periods"].to_numpy(dtype=np.int64))[::-1].cumsum()[::-1]  # reached[n] = periods >= n
    enough = np.flatnonzero(reached[1:] >= min_decisions) + 1
    last = int(enough.max()) if len(enough) else 1
    return max(1, min(last, int(max_renewal_number)))


def decision_matrices(spells: pd.DataFrame, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per spell and renewal group: decisions taken and churns (spells x groups).

    Group g < n_groups holds renewal number g (1-based); the last group pools every renewal from
    ``n_groups`` on. A spell with ``periods`` t reached renewals 1..t and churned at t if churned.
    """
    t = spells["periods"].to_numpy(dtype=np.int64)
    churned = spells["churned"].to_numpy(dtype=bool)
    g = np.arange(1, n_groups + 1)
    decisions = (t[:, None] >= g[None, :]).astype(float)
    decisions[:, -1] = np.maximum(t - n_groups + 1, 0)  # the pooled tail counts every decision from n_groups on
    churns = np.zeros_like(decisions)
    rows = np.flatnonzero(churned & (t >= 1))
    churns[rows, np.minimum(t[rows], n_groups) - 1] = 1.0
    return decisions, churns
