"""Scoring on books as companies have them (tests/worlds.py): a subscription-only book without
orders, sparse columns left out with a note (never fatal), health bands that cannot discriminate
said so (and book quantiles as the documented option), former customers kept out of tiers,
playbooks and alerts, and a score that predicts renewal the wrong way said plainly."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from worlds import rising_churn_silent_leavers, subscription_only, value_predicts_churn

from analysis import clv, scoring
from analysis.data.io import load_book
from analysis.data.sources import BookInputs
from analysis.params import defaults
from analysis.scoring import backtest

AS_OF = dt.date(2026, 1, 1)
pytestmark = pytest.mark.slow  # each builds a book's features at three dates (a few seconds)


def _scored(world, folder, params=None):
    book = load_book(world.write(folder))
    params = params or defaults()
    values = clv.analyse(BookInputs(book, AS_OF, params)).clv_accounts.reset_index()
    return scoring.analyse(BookInputs(book, AS_OF, params, {"clv_accounts": values}))


@pytest.fixture(scope="module")
def saas(tmp_path_factory):
    return _scored(subscription_only(n_accounts=1000, seed=5), tmp_path_factory.mktemp("saas"))


def test_subscription_only_book_fills_every_scoring_table(saas):
    tables = saas.tables()
    for name, table in tables.items():
        if name not in ("tier_moves", "early_warnings"):
            assert len(table), name
    # No warning fired, and the coverage says which rules this book cannot evaluate (no surveys, no tickets).
    coverage = tables["early_warning_coverage"].set_index("rule")
    assert tables["early_warnings"].empty and (coverage["fired"] == 0).all()
    assert (coverage.loc[["nps_drop", "severe_ticket_open"], "not_evaluable"] == coverage["accounts"].iloc[0]).all()
    assert coverage.loc["no_login_30d", "not_evaluable"] < coverage.loc["no_login_30d", "accounts"]
    # Payment behaviour (orders) and market influence (not in this extract) are left out with a note.
    dropped = saas.problems[saas.problems["problem"] == "sparse"].set_index("factor")
    assert {"payment_delay_days", "market_influence"} <= set(dropped.index)
    assert "missing for 100% of accounts" in dropped.loc["payment_delay_days", "detail"]
    weights = saas.weight_table.pivot(index="factor", columns="weighting", values="estimate")
    assert (weights.loc[["payment_delay_days", "market_influence"]] == 0).all().all()
    np.testing.assert_allclose(weights.sum(), 1.0)
    report = saas.missing_report().set_index("criterion")
    assert report.loc["payment_delay_days", "dropped"] and not report.loc["revenue_12m", "dropped"]


def test_a_sparse_column_is_left_out_with_a_note_and_a_filled_one_kept(tmp_path):
    # 39% of accounts have a one-off invoice: payment delay is missing for about 61% of them.
    sparse = _scored(subscription_only(n_accounts=800, seed=5, sparse_orders_share=0.39), tmp_path / "a")
    share = sparse.features["payment_delay_days"].isna().mean()
    assert 0.5 < share < 0.75
    assert "payment_delay_days" in sparse.dropped and f"{share:.0%}" in sparse.dropped["payment_delay_days"]
    assert sparse.weights_used().set_index("criterion").loc["payment_delay_days", "weight"] == 0
    # With most accounts invoiced it stays in the score, handled account by account (neutral value).
    filled = _scored(subscription_only(n_accounts=800, seed=5, sparse_orders_share=0.8), tmp_path / "b")
    assert "payment_delay_days" not in filled.dropped
    assert filled.weights_used().set_index("criterion").loc["payment_delay_days", "weight"] > 0
    report = filled.missing_report().set_index("criterion").loc["payment_delay_days"]
    assert report["n_missing"] > 0 and "neutral value" in report["what_happened"]


def test_former_customers_get_no_tier_playbook_or_alert(tmp_path):
    result = _scored(rising_churn_silent_leavers(n_accounts=1000, seed=4), tmp_path)
    snapshot = result.features
    scored = result.scored_accounts
    assert snapshot.loc[scored.index, "is_active"].all()  # this book has no order-only customers
    alerted = result.alerts["account_id"].unique()
    assert len(alerted) and snapshot.loc[alerted, "is_active"].all()
    lapsed = result.lapsed
    assert len(lapsed) and not lapsed.index.isin(scored.index).any()
    everyone = load_book(tmp_path).sql("SELECT account_id FROM accounts")["account_id"]
    assert lapsed.index.isin(everyone).all()
    assert (lapsed["days_since_lapse"].between(1, 366)).all() and (lapsed["revenue_12m"] > 0).all()


def test_health_bands_that_cannot_discriminate_are_said_so_and_book_quantiles_fix_them(tmp_path):
    world = subscription_only(n_accounts=800, seed=5)
    world.tables["usage"]["feature_adoption"] *= 0.6  # usage that never reaches the top of the fixed range
    fixed = _scored(world, tmp_path / "fixed")
    bands = fixed.health_bands.set_index("health_band")
    assert bands.loc["at_risk", "status"] == "holds_nearly_all" and not bands["discriminates"].any()
    assert bands.loc["healthy", "status"] == "empty" and bands["share"].sum() == pytest.approx(1.0)
    warning = fixed.problems.set_index("problem").loc["bands_do_not_discriminate", "detail"]
    assert "fixed ranges do not fit this book" in warning and "book_quantiles" in warning
    dist = fixed.health_distribution.set_index("variable")
    assert dist.loc["health_score", "p100"] < 60 and dist.loc["adoption_90d", "range_source"] == "fixed"
    params = defaults().updated(scoring={"health": {"ranges": "book_quantiles"}})
    relative = _scored(world, tmp_path / "quantiles", params)
    bands = relative.health_bands.set_index("health_band")
    assert bands["discriminates"].all() and (bands["status"] == "ok").all()
    dist = relative.health_distribution.set_index("variable")
    assert dist.loc["adoption_90d", "range_source"] == "book quantiles"
    q05, q95 = np.nanquantile(relative.features["adoption_90d"], [0.05, 0.95])
    assert dist.loc["adoption_90d", ["range_low", "range_high"]].tolist() == pytest.approx([q05, q95])


def test_a_score_that_predicts_renewal_the_wrong_way_is_said_plainly(tmp_path):
    result = _scored(value_predicts_churn(n_accounts=1500, seed=9), tmp_path)
    m = result.backtest.metrics.set_index(["weighting", "metric"])
    expert = m.loc[("expert", "renewal_auc")]
    assert expert["chosen"] and expert["upper_95"] < 0.5 and expert["verdict"] == "worse_than_chance"
    assert "ranks the wrong way" in expert["sentence"]
    row = result.problems.set_index("problem").loc["worse_than_chance"]
    assert row["factor"] == "expert" and "does worse than a random order" in row["detail"]
    # The baseline itself is judged against chance only.
    assert m.loc[("equal", "renewal_auc"), "vs_baseline"] == "baseline"


def test_health_bands_discriminate_on_the_sample(small_book):
    result = scoring.analyse(BookInputs(small_book, dt.date(2025, 1, 1), defaults()))
    bands = result.health_bands
    assert bands["discriminates"].all() and (bands["status"] == "ok").all()
    assert not (result.problems["problem"] == "bands_do_not_discriminate").any()


@pytest.mark.parametrize("direction", [1, -1])
def test_backtest_verdicts_both_ways(direction):
    rng = np.random.default_rng(0)
    n = 1500
    renewed = (rng.random(n) < 0.8).astype(float)
    index = pd.Index([f"A{i}" for i in range(n)], name="account_id")
    signal = pd.Series(direction * renewed + rng.normal(0, 1.0, n), index=index)
    scores = {"model": signal, "noise": pd.Series(rng.normal(0, 1, n), index=index)}
    outcomes = pd.DataFrame(
        {"renewed_next": renewed, "margin_next_12m": rng.gamma(2, 500, n), "revenue_next_12m": rng.gamma(2, 800, n)},
        index=index,
    )
    bt = backtest.backtest(scores, outcomes, defaults().scoring.tiers.pyramid, n_boot=200, baseline="noise")
    row = bt.metrics.set_index(["weighting", "metric"]).loc[("model", "renewal_auc")]
    if direction > 0:
        assert row["verdict"] == "better_than_baseline" and row["vs_chance"] == "better"
    else:
        assert row["verdict"] == "worse_than_chance" and row["vs_baseline"] == "worse"
    noise = bt.metrics.set_index(["weighting", "metric"]).loc[("noise", "renewal_auc")]
    assert noise["verdict"] == "no_better_than_chance" and noise["vs_baseline"] == "baseline"
