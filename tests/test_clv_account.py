"""Account CLV on the synthetic book: planted purchase truth recovered, the table's arithmetic,
no leakage from after the as-of date, and the stated fallbacks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.clv import BetaGeoModel, GammaGammaModel, rfm_summary
from analysis.clv.account import (
    account_clv,
    add_value_at_risk,
    clv_by_group,
    clv_concentration,
)
from analysis.clv.contracts import subscription_spells
from analysis.clv.orders import holdout_report
from analysis.data.features import build_features
from analysis.data.io import default_as_of, load_book, write_book
from analysis.errors import ConfigError
from analysis.params import defaults, load_params


@pytest.fixture(scope="module")
def truth(small_book_dir):
    return json.loads((small_book_dir / "ground_truth.json").read_text())["purchases"]


@pytest.fixture(scope="module")
def rfm_weeks(small_book, truth):
    assert truth["time_unit"] == "weeks"
    return rfm_summary(small_book.df("orders"), default_as_of(small_book), "weeks")


@pytest.fixture(scope="module")
def result(small_book):
    return account_clv(small_book, default_as_of(small_book), defaults().clv)


def _inside(summary: pd.DataFrame, planted: dict) -> pd.Series:
    planted = pd.Series(planted).reindex(summary.index)
    return (summary["lower_95"] <= planted) & (planted <= summary["upper_95"])


def test_rfm_helper_matches_the_feature_snapshot(small_book, rfm_weeks):
    feats = build_features(small_book, default_as_of(small_book), defaults().features.subscription_margin)
    both = feats.join(rfm_weeks, how="inner", rsuffix="_clv")
    assert len(both) == len(rfm_weeks)
    np.testing.assert_array_equal(both["frequency"].astype(int), both["frequency_clv"])
    np.testing.assert_allclose(both["recency_days"].astype(float) / 7, both["recency"])
    np.testing.assert_allclose(both["T_days"].astype(float) / 7, both["T"])
    np.testing.assert_allclose(both["monetary_value"], both["monetary_value_clv"])


def test_planted_spend_parameters_inside_fitted_intervals(rfm_weeks, truth):
    summary = GammaGammaModel().fit(rfm_weeks).summary
    inside = _inside(summary, truth["gamma_gamma"])
    assert inside.all(), summary.assign(planted=pd.Series(truth["gamma_gamma"]))


def test_planted_purchase_parameters_inside_fitted_intervals(rfm_weeks, truth):
    summary = BetaGeoModel().fit(rfm_weeks, time_unit="weeks").summary
    inside = _inside(summary, truth["bgnbd"])
    assert inside.all(), summary.assign(planted=pd.Series(truth["bgnbd"]))


def test_clv_table_arithmetic(result):
    t = result.table
    expected = {
        "clv_orders",
        "clv_contracts",
        "clv",
        "p_alive",
        "value_at_risk",
        "churn_probability",
        "risk_source",
        "renewal_probability",
        "derl",
        "arr",
        "size_band",
    }
    assert expected <= set(t.columns)
    assert t.index.name == "account_id" and t.index.is_unique
    np.testing.assert_allclose(t["clv"], t["clv_orders"] + t["clv_contracts"])
    assert (t[["clv", "clv_orders", "clv_contracts", "value_at_risk"]] >= 0).all().all()
    assert (t["value_at_risk"] <= t["clv"] + 1e-9).all()
    assert (t.loc[t["churned"] == 1, "clv_contracts"] == 0).all()
    assert (t.loc[~t["active"].fillna(False).astype(bool), "clv_contracts"] == 0).all()
    # Accounts with a running contract are valued by renewals to come.
    active = t[t["active"].fillna(False).astype(bool)]
    assert (active["clv_contracts"] > 0).all()
    assert set(t["risk_source"]) <= {"1 - p_alive (orders)", "1 - renewal probability (contracts)", "none"}
    assert result.assumptions["time_unit"] == "weeks" and "as_of" in result.assumptions


def test_concentration_and_groups(result):
    shares = clv_concentration(result.table["clv"])
    assert shares.index.tolist() == ["top_1%", "top_20%", "top_50%"]
    assert 0 < shares.iloc[0] < shares.iloc[1] < shares.iloc[2] <= 1
    groups = clv_by_group(result.table, "size_band")
    assert groups["accounts"].sum() == len(result.table)
    assert groups["clv_total"].sum() == pytest.approx(result.table["clv"].sum())
    assert groups["clv_share"].sum() == pytest.approx(1.0)


def test_no_leakage_from_after_as_of(small_book_dir, tmp_path):
    """Deleting every row dated on or after as-of (and hiding later outcomes) changes nothing."""
    as_of = pd.Timestamp("2024-07-01")
    full = load_book(small_book_dir)
    acc, k, o = full.df("accounts"), full.df("contracts"), full.df("orders")
    k = k[k["start"] < as_of].copy()
    k.loc[k["end"] >= as_of, "renewal_outcome"] = "open"
    write_book({"accounts": acc[acc["first_seen"] < as_of], "contracts": k, "orders": o[o["date"] < as_of]}, tmp_path)
    shutil.copy(small_book_dir / "extract.json", tmp_path / "extract.json")
    clv_params = defaults().clv
    before = account_clv(full, as_of.date(), clv_params).table
    masked = account_clv(load_book(tmp_path), as_of.date(), clv_params).table
    pd.testing.assert_frame_equal(before, masked, check_exact=False, rtol=1e-7)


def test_contract_spells_by_hand():
    # Was test_contract_histories_by_hand: the per-account history became one row per subscription
    # spell (account x product line x term class); the same three accounts give the same figures.
    contracts = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B", "B", "C"],
            "start": pd.to_datetime(
                ["2021-01-01", "2022-01-01", "2023-01-01", "2021-06-01", "2022-06-01", "2023-03-01"]
            ),
            "end": pd.to_datetime(["2021-12-31", "2022-12-31", "2023-12-31", "2022-05-31", "2023-05-31", "2024-02-28"]),
            "annual_value": [100.0, 110.0, 120.0, 50.0, 50.0, 70.0],
            "renewal_outcome": ["renewed", "renewed", "not_renewed", "renewed", "not_renewed", "renewed"],
        }
    )
    h = subscription_spells(contracts, dt.date(2023, 7, 1)).set_index("account_id")
    keys = ["renewals_past", "arr", "active", "churned", "periods"]
    assert (h["term_class"] == "annual").all() and (h["term_months"] == 12).all()
    # A: renewed twice, term 3 running; the outcome of term 3 (ends after as-of) is not used.
    assert h.loc["A", keys].to_dict() == {"renewals_past": 2, "arr": 120.0, "active": True, "churned": 0, "periods": 2}
    # B: renewed once, then left at the end of term 2.
    assert h.loc["B", keys].to_dict() == {"renewals_past": 1, "arr": 0.0, "active": False, "churned": 1, "periods": 2}
    # C: first term running, no decision yet.
    assert h.loc["C", keys].to_dict() == {"renewals_past": 0, "arr": 70.0, "active": True, "churned": 0, "periods": 0}


def test_value_at_risk_prefers_a_supplied_churn_risk():
    table = pd.DataFrame(
        {"clv": [100.0, 100.0, 100.0], "p_alive": [0.9, 0.9, np.nan], "renewal_probability": [np.nan, 0.8, 0.8]},
        index=["x", "y", "z"],
    )
    out = add_value_at_risk(table)
    assert out["value_at_risk"].tolist() == pytest.approx([10.0, 20.0, 20.0])
    out = add_value_at_risk(table, churn_risk=pd.Series({"z": 0.5}))
    assert out.loc["z", "value_at_risk"] == pytest.approx(50.0)
    assert out.loc["z", "risk_source"] == "churn risk supplied"


def _stub_book(accounts, orders=None, contracts=None):
    tables = {"accounts": accounts, "orders": orders, "contracts": contracts}
    return SimpleNamespace(has=lambda name: tables.get(name) is not None, df=lambda name: tables[name].copy())


def test_nobody_repeating_and_no_contracts_fall_back_with_a_note():
    accounts = pd.DataFrame(
        {"account_id": ["A", "B"], "first_seen": pd.to_datetime(["2024-01-01"] * 2), "size_band": ["small", "small"]}
    )
    orders = pd.DataFrame(
        {
            "account_id": ["A", "B"],
            "date": pd.to_datetime(["2024-01-05", "2024-02-01"]),
            "amount": [10.0, 20.0],
            "cost": [5.0, 5.0],
        }
    )
    res = account_clv(_stub_book(accounts, orders), dt.date(2024, 6, 1), defaults().clv)
    assert (res.table["clv"] == 0).all()
    notes = res.problems["detail"]  # the problems_ frame replaced the notes list
    assert any("Order-stream CLV not estimated" in n and "repeat purchase" in n for n in notes)
    assert any("contracts table is absent" in n for n in notes)


def test_settings_are_checked():
    # The clv section is validated by the typed parameter model (analysis.params.ClvParams).
    with pytest.raises(ConfigError, match="horizon: unknown key"):
        defaults().clv.updated(horizon=3)
    with pytest.raises(ConfigError, match="annual_discount_rate"):
        defaults().clv.updated(annual_discount_rate=2)
    assert load_params(overrides={"features.subscription_margin": 0.7}).clv.contract_margin == 0.7


def test_holdout_report_on_the_book_and_its_fallbacks(small_book):
    as_of = default_as_of(small_book)
    table, model, note = holdout_report(small_book.df("orders"), as_of, defaults().clv, seed=0)
    assert "holdout of 26 weeks" in note and model is not None
    assert table.loc["all", "predicted"] == pytest.approx(table.loc["all", "actual"], rel=0.10)
    assert holdout_report(None, as_of, defaults().clv, seed=0)[2].startswith("No orders table")
    single = pd.DataFrame(
        {"account_id": ["A", "B"], "date": pd.to_datetime(["2024-01-05", "2024-02-01"]), "amount": [10.0, 20.0]}
    )
    table, model, note = holdout_report(single, dt.date(2024, 12, 1), defaults().clv, seed=0)
    assert table is None and "could not be made" in note and "repeat purchase" in note
