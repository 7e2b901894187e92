"""What a domain's ``analyse(...)`` facade needs from a run, as a protocol.

:class:`analysis.run.notebook.NotebookRun` provides it in a notebook; a test can pass any object
with these members. Domains depend on this protocol, not on the run layer above them.
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
