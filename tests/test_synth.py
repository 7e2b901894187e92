import hashlib
import json

import pandas as pd
import pytest

from analysis.data.synth import RENEWAL_BETA, generate_book
from analysis.errors import ConfigError


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_and_size_give_byte_identical_files(tmp_path, small_book_dir):
    again = tmp_path / "again"
    generate_book(again, n_accounts=1500, seed=7)
    assert _digests(again) == _digests(small_book_dir)


def test_another_seed_gives_another_book(tmp_path, small_book_dir):
    other = tmp_path / "other"
    generate_book(other, n_accounts=1500, seed=8)
    assert _digests(other)["accounts.parquet"] != _digests(small_book_dir)["accounts.parquet"]


def test_book_has_a_realistic_b2b_shape(small_book_dir):
    truth = json.loads((small_book_dir / "ground_truth.json").read_text())
    accounts = pd.read_parquet(small_book_dir / "accounts.parquet")
    contracts = pd.read_parquet(small_book_dir / "contracts.parquet")
    orders = pd.read_parquet(small_book_dir / "orders.parquet")
    assert 0.70 <= truth["revenue_share_top20"] <= 0.88  # default size lands in 0.75-0.85 (README)
    assert set(accounts["size_band"]) == {"enterprise", "mid-market", "small"}
    assert accounts["industry"].nunique() >= 5
    assert set(contracts["renewal_outcome"]) == {"renewed", "not_renewed", "open"}
    years = (contracts["end"].max() - contracts["start"].min()).days / 365
    assert years >= 3
    assert 0.8 <= truth["renewal"]["renewal_rate"] <= 0.95
    assert (orders["amount"] > orders["cost"]).mean() > 0.8
    assert truth["unprofitable_accounts"] > 0
    assert orders["paid_date"].isna().any()  # some invoices are still unpaid at the extract


def test_ground_truth_names_drivers_noise_purchase_process_and_segments(small_book_dir):
    truth = json.loads((small_book_dir / "ground_truth.json").read_text())
    assert truth["renewal"]["log_odds_per_unit"] == RENEWAL_BETA
    assert {"noise_1", "noise_2", "webinars_12m"} <= set(truth["renewal"]["noise_features"])
    assert set(truth["purchases"]["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(truth["purchases"]["gamma_gamma"]) == {"p", "q", "gamma"}
    labels = pd.read_csv(small_book_dir / "ground_truth_accounts.csv")
    assert set(labels["segment"]) == set(truth["segments"]["names"])


def test_csv_format(tmp_path):
    generate_book(tmp_path, n_accounts=50, seed=1, fmt="csv")
    assert (tmp_path / "usage.csv").exists() and (tmp_path / "accounts.csv").exists()


@pytest.mark.parametrize("kwargs", [{"n_accounts": 0}, {"fmt": "xml"}])
def test_bad_generator_arguments(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        generate_book(tmp_path, **{"n_accounts": 10, **kwargs})
