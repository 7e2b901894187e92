"""What a notebook needs from its parameters cell, checked once: typed parameters, the book, the
as-of date as a ``datetime.date`` and the run's tables (reads and writes checked against the
catalog). The first code cell of every notebook is::

    run = NotebookRun.open("04_churn_survival", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)

``overrides`` (dotted keys, e.g. ``{"scoring.weights.method": "entropy"}``) lets an analyst try a
setting in JupyterLab; the runner never sets it, so every notebook of a run uses the same parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.catalog import RunTables, writer_of
from analysis.data import asof as asof_
from analysis.data.io import Book, default_as_of, earliest_date, load_book
from analysis.data.sources import FeatureSource
from analysis.params import Params, load_params

SNAPSHOT = "features_asof"
SNAPSHOT_WRITER = writer_of(SNAPSHOT)


@dataclass
class NotebookRun:
    name: str
    params: Params
    as_of: dt.date
    book: Book
    tables: RunTables
    as_of_source: str = "argument"

    def __post_init__(self):
        features = self.params.features
        self.source = FeatureSource(
            self.book,
            self.as_of,
            features.subscription_margin,
            features.renewal_lead_days,
            features.renewal_lead_share_of_term,
        )

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
        book = load_book(data_dir, engine=params.engine)
        parsed = asof_.parse_optional_date(as_of)
        date = parsed if parsed is not None else default_as_of(book)
        asof_.check_in_range(date, earliest_date(book), book.extract_date)
        tables = RunTables(run_dir, name, previous_run_dir)
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
        notebook; later notebooks read it back (at 100,000 accounts a build costs ~17 s). Outside a
        run (or for another date) it is built here and not written."""
        from analysis.data.features import build_features

        if self.name != SNAPSHOT_WRITER:
            cached = self.tables.read(SNAPSHOT)
            if (
                cached is not None
                and len(cached)
                and (pd.to_datetime(cached["as_of"]) == pd.Timestamp(self.as_of)).all()
            ):
                return cached.set_index("account_id")
        frame = build_features(self.book, self.as_of, self.params.features.subscription_margin)
        if self.name == SNAPSHOT_WRITER:
            self.tables.write(frame, SNAPSHOT)
        return frame

    def features_at(self, as_of: dt.date) -> pd.DataFrame:
        return self.snapshot() if as_of == self.as_of else self.source.features_at(as_of)

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
