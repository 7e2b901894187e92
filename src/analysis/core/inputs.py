"""What a domain's ``analyse(...)`` facade needs from a run, as a protocol.

:class:`analysis.run.notebook.NotebookRun` provides it in a notebook; in tests,
:class:`analysis.data.sources.BookInputs` (a book and parameters) does. Domains depend on this
protocol, not on the run layer above them. Per-date tables (``features_at`` ...) come from here so
that a run builds each of them once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

import pandas as pd

if TYPE_CHECKING:
    from analysis.data.io import Book
    from analysis.params import Params


class RunInputs(Protocol):
    book: Book
    as_of: dt.date
    params: Params

    def read(self, name: str) -> pd.DataFrame | None:
        """A table of this run written by an earlier notebook (None when absent)."""

    def snapshot(self) -> pd.DataFrame:
        """The as-of feature snapshot, index account_id."""

    def features_at(self, as_of: dt.date) -> pd.DataFrame:
        """The feature snapshot at an earlier date (back-tests, migration), index account_id."""

    def outcomes_at(self, as_of: dt.date) -> pd.DataFrame:
        """What happened from ``as_of`` on (``analysis.data.features.build_outcomes``)."""

    def contract_features(self, decided_before: dt.date) -> pd.DataFrame:
        """Decided contracts before a date, features ``features.renewal_lead_days`` before each end."""

    def lifetimes(self, as_of: dt.date) -> pd.DataFrame:
        """Account lifetimes known at ``as_of`` (``analysis.data.features.account_lifetimes``)."""
