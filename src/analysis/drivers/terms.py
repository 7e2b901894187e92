"""Contract term lengths in the renewal drivers: renewal rates per term class, and today's terms.

A monthly plan decides twelve times a year and an annual one once, so one headline renewal rate
over all decisions mostly counts the monthly ones, and a factor that goes with short terms (more
product lines, say) can look like a driver. The drivers model therefore takes ``term_class``
(``analysis.data.features.term_class``) as a factor, and the run states the renewal rate of each
term class (``renewal_rates_by_term``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis.data.features import TERM_CLASSES, term_class
from analysis.data.io import Book
from analysis.drivers.outcome import ACCOUNT, OUTCOME

TERM = "term_class"
RATES_COLUMNS = [
    "term_class",
    "decided",
    "contracts",
    "left_out",
    "accounts",
    "renewed",
    "renewal_rate",
    "lower_95",
    "upper_95",
    "share_of_contracts",
    "term_days_median",
    "lead_days_median",
]
ORDER = [name for name, _ in TERM_CLASSES] + ["unknown"]


def renewal_rates_by_term(contracts: pd.DataFrame, decided: pd.Series | None = None) -> pd.DataFrame:
    """Per term class: contracts analysed, renewed, the renewal rate with its 95% Wilson interval,
    the share of all analysed contracts, the median term and lead in days; ``decided`` (contracts
    decided before the as-of date per term class, from :func:`decided_by_term`) gives ``left_out``,
    the decisions whose cut-off fell on or before the account's first day (0 when the lead is
    scaled to the term)."""
    if contracts.empty or TERM not in contracts.columns or OUTCOME not in contracts.columns:
        return pd.DataFrame(columns=RATES_COLUMNS)
    table = contracts[contracts[OUTCOME].notna()]
    groups = table.groupby(TERM, sort=False)
    out = pd.DataFrame(
        {
            "contracts": groups.size(),
            "accounts": groups[ACCOUNT].nunique(),
            "renewed": groups[OUTCOME].sum().astype(int),
            "term_days_median": groups["term_days"].median() if "term_days" in table else np.nan,
            "lead_days_median": groups["lead_days"].median() if "lead_days" in table else np.nan,
        }
    )
    out["renewal_rate"] = out["renewed"] / out["contracts"]
    out["lower_95"], out["upper_95"] = proportion_confint(out["renewed"], out["contracts"], method="wilson")
    out["share_of_contracts"] = out["contracts"] / out["contracts"].sum()
    if decided is not None:
        out = out.reindex(out.index.union(decided.index))
        out["decided"] = decided.reindex(out.index).fillna(0).astype(int)
        out["contracts"] = out["contracts"].fillna(0).astype(int)
        out["left_out"] = out["decided"] - out["contracts"]
    else:
        out["decided"], out["left_out"] = out["contracts"], np.nan
    out = out.reindex([t for t in ORDER if t in out.index] + [t for t in out.index if t not in ORDER])
    return out.rename_axis(TERM).reset_index()[RATES_COLUMNS]


def decided_by_term(book: Book, as_of: dt.date) -> pd.Series:
    """Contracts with a renewal decision (renewed / not renewed) ending before ``as_of``, per term class."""
    contracts = book.df("contracts", ["start", "end", "renewal_outcome"])
    ends = pd.to_datetime(contracts["end"])
    decided = contracts[contracts["renewal_outcome"].isin(["renewed", "not_renewed"]) & (ends < pd.Timestamp(as_of))]
    days = (pd.to_datetime(decided["end"]) - pd.to_datetime(decided["start"])).dt.days + 1
    return term_class(days).value_counts().rename("decided")


def with_open_terms(snapshot: pd.DataFrame, book: Book, as_of: dt.date) -> pd.DataFrame:
    """The snapshot with ``term_days`` and ``term_class`` of each account's next renewal (its open
    contract ending first; the longest of them when several end that day), so the model can score it."""
    contracts = book.df("contracts", [ACCOUNT, "start", "end"])
    start, end = pd.to_datetime(contracts["start"]), pd.to_datetime(contracts["end"])
    stamp = pd.Timestamp(as_of)
    active = contracts.assign(end=end, term_days=(end - start).dt.days + 1)[(start < stamp) & (end >= stamp)]
    first_end = active.groupby(ACCOUNT)["end"].transform("min")
    terms = active[active["end"] == first_end].groupby(ACCOUNT)["term_days"].max()
    out = snapshot.copy()
    out["term_days"] = terms.reindex(out.index)
    out[TERM] = term_class(out["term_days"]).where(out["term_days"].notna(), None)
    return out
