"""What a notebook needs from its parameters cell, checked once: typed parameters, the book, the
as-of date as a ``datetime.date`` and the run's tables (reads and writes checked against the
catalog). The first code cell of every notebook is::

    run = NotebookRun.open("04_churn_survival", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)

``overrides`` (dotted keys, e.g. ``{"scoring.weights.method": "entropy"}``) lets an analyst try a
setting in JupyterLab; the runner never sets it, so every notebook of a run uses the same parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.catalog import READS, RunTables, writer_of
from analysis.data import asof as asof_
from analysis.data.io import Book, default_as_of, earliest_date, load_book
from analysis.data.sources import FeatureSource
from analysis.errors import AnalysisError
from analysis.params import Params, load_params

SNAPSHOT = "features_asof"
SNAPSHOT_WRITER = writer_of(SNAPSHOT)
# The back-tests (scoring, churn), the tier migration and the segments' trailing renewals all look
# one year back with the shipped parameters; that date's tables are built once per run. Another
# date (a changed survival.backtest_days, scoring's backtest_as_of) is built where it is asked for.
YEAR_BEFORE_DAYS = 365
# Per-date tables a run builds once (notebook 01) and the later notebooks read back.
PER_DATE_TABLES = ("features_year_before", "outcomes_year_before", "contract_features")
BUILT_WITH = "analysis.built_with"  # what a stored per-date table was built from (checked on reading)


@dataclass
class NotebookRun:
    name: str
    params: Params
    as_of: dt.date
    book: Book
    tables: RunTables
    as_of_source: str = "argument"
    _snapshot_written: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self):
        features = self.params.features
        self.source = FeatureSource(
            self.book,
            self.as_of,
            features.subscription_margin,
            features.renewal_lead_days,
            features.renewal_lead_share_of_term,
            stored=self._stored,
        )

    @property
    def year_before(self) -> dt.date:
        return self.as_of - dt.timedelta(days=YEAR_BEFORE_DAYS)

    def _table_of(self, key: tuple) -> str | None:
        """The run table that holds the per-date table ``key`` (None: not stored in a run)."""
        kind, *date = key
        if kind == "contracts":
            return "contract_features"
        if kind == "features" and date[0] == self.as_of:
            return SNAPSHOT
        if kind in ("features", "outcomes") and date[0] == self.year_before:
            return f"{kind}_year_before"
        return None

    def _built_with(self, key: tuple) -> dict[str, Any]:
        features = self.params.features
        return {
            "table": [str(part) for part in key],
            "as_of": self.as_of.isoformat(),
            "subscription_margin": features.subscription_margin,
            "renewal_lead_days": features.renewal_lead_days,
            "renewal_lead_share_of_term": features.renewal_lead_share_of_term,
        }

    def _stored(self, key: tuple) -> pd.DataFrame | None:
        """A per-date table an earlier notebook of this run built, if this notebook declared it and
        it was built from the same date and parameters; else None (the caller builds it)."""
        name = self._table_of(key)
        if name is None or writer_of(name) == self.name or name not in READS.get(self.name, ()):
            return None
        stored = self.tables.read(name)
        if stored is None or not len(stored):
            return None
        attrs = dict(stored.attrs)
        if attrs.pop(BUILT_WITH, None) != self._built_with(key):
            # Written by a run with other parameters (an analyst's overrides) or an older version.
            return None
        frame = stored.set_index(attrs.pop(BUILT_WITH + ".index")) if BUILT_WITH + ".index" in attrs else stored.copy()
        frame.attrs = attrs
        return frame

    def _store(self, key: tuple, frame: pd.DataFrame) -> None:
        stamped = frame.copy(deep=False)
        stamped.attrs = {**frame.attrs, BUILT_WITH: self._built_with(key)}
        if frame.index.name is not None:
            stamped.attrs[BUILT_WITH + ".index"] = frame.index.name
        self.tables.write(stamped, self._table_of(key))

    def write_per_date_tables(self) -> list[str]:
        """(Notebook 01) Build the per-date tables the later notebooks need, once for the run, and
        write them: the features and outcomes a year before the as-of date and the features of
        every decided contract. A table the book cannot give (no account a year back, no decided
        contract) is left out; the notebooks that need it build it and report why. Returns the
        names written."""
        written = []
        for key in (("features", self.year_before), ("outcomes", self.year_before), ("contracts",)):
            try:
                frame = self.source.get(key)
            except AnalysisError:
                continue
            self._store(key, frame)
            written.append(self._table_of(key))
        return written

    @classmethod
    def open(
        cls,
        name: str,
        data_dir,
        as_of=None,
        run_dir=None,
        config_path=None,
        seed: int | None = None,
        previous_run_dir=None,
        overrides: dict[str, Any] | None = None,
    ) -> NotebookRun:
        extra = dict(overrides or {})
        if seed is not None:
            extra["seed"] = int(seed)
        params = load_params(config_path, extra)
        if params.pipeline.blas_threads is not None:  # for the rest of this notebook's process
            threadpool_limits(limits=params.pipeline.blas_threads, user_api="blas")
        book = load_book(data_dir, engine=params.engine)
        parsed = asof_.parse_optional_date(as_of)
        date = parsed if parsed is not None else default_as_of(book)
        asof_.check_in_range(date, earliest_date(book), book.extract_date)
        tables = RunTables(run_dir, name, previous_run_dir, params)
        return cls(name, params, date, book, tables, "argument" if parsed is not None else "data")

    @property
    def seed(self) -> int:
        return self.params.seed

    @property
    def language(self) -> str:
        return self.params.language

    @property
    def run_dir(self) -> Path | None:
        return self.tables.run_dir

    def read(self, name: str) -> pd.DataFrame | None:
        return self.tables.read(name)

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        return self.tables.write(frame, name)

    def snapshot(self) -> pd.DataFrame:
        """The as-of feature snapshot (index account_id): built once per run by the data-quality
        notebook, which writes it; later notebooks read it back (at 100,000 accounts a build costs
        ~17 s). Outside a run (or for another date) it is built here and not written."""
        frame = self.source.features_at(self.as_of)
        if self.name == SNAPSHOT_WRITER and self.run_dir is not None and SNAPSHOT not in self._snapshot_written:
            self._store(("features", self.as_of), frame)
            self._snapshot_written.add(SNAPSHOT)
        return frame

    def features_at(self, as_of: dt.date) -> pd.DataFrame:
        return self.source.features_at(as_of)

    def outcomes_at(self, as_of: dt.date) -> pd.DataFrame:
        return self.source.outcomes_at(as_of)

    def contract_features(self, decided_before: dt.date) -> pd.DataFrame:
        return self.source.contract_features(decided_before)

    def lifetimes(self, as_of: dt.date) -> pd.DataFrame:
        return self.source.lifetimes(as_of)

    def years_before(self, days: int) -> dt.date:
        """The as-of date ``days`` earlier (back-tests, the previous snapshot)."""
        return self.as_of - dt.timedelta(days=int(days))

    def describe(self) -> str:
        return (
            f"Data: {self.book.source}\nExtract date: {self.book.extract_date}   As-of date: {self.as_of}"
            f"{' (the day after the latest date in the data)' if self.as_of_source == 'data' else ''}"
        )
