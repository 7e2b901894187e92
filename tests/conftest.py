"""Shared fixtures: small synthetic books generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.data.synth import generate_book

SMALL_ACCOUNTS = 1500
SMALL_SEED = 7
# Tests that need a generated book, a notebook kernel or the end-to-end scenario are the slow tier;
# `python3 tasks.py test --fast` (pytest -m "not slow") runs the rest in under a minute.
SLOW_FIXTURES = {"small_book_dir", "small_book", "default_book_dir", "e2e"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_book_dir(tmp_path_factory):
    """A 1,500-account synthetic book (Parquet) with its ground_truth.json. Treat as read-only."""
    path = tmp_path_factory.mktemp("small_book")
    generate_book(path, n_accounts=SMALL_ACCOUNTS, seed=SMALL_SEED)
    return path


@pytest.fixture(scope="session")
def small_book(small_book_dir):
    from analysis.data.io import load_book

    return load_book(small_book_dir)


@pytest.fixture(scope="session")
def default_book_dir(tmp_path_factory):
    """The default sample book (5,000 accounts, seed 42): what the pipeline shows managers.

    Recovery tests whose power needs more than 1,500 accounts use it. Treat as read-only."""
    from analysis.paths import DEFAULT_SAMPLE_ACCOUNTS, DEFAULT_SEED

    path = tmp_path_factory.mktemp("default_book")
    generate_book(path, n_accounts=DEFAULT_SAMPLE_ACCOUNTS, seed=DEFAULT_SEED)
    return path


CDNOW = Path(__file__).parent / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="session")
def cdnow():
    """The CDNOW 2,357-customer summary (frequency, recency, T, monetary_value; tests/data/README.md)."""
    import pandas as pd

    return pd.read_csv(CDNOW, index_col="customer_id")


# The end-to-end scenario (two monthly runs, a failed run, XSS names) runs once per session and is
# shared by test_end_to_end.py and test_browser.py; it lives in _e2e.py with its helpers.
from _e2e import e2e  # noqa: E402, F401
