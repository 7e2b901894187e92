"""The churn analysis on the project's own sample: Kaplan-Meier by the tier each account had at the
previous snapshot (followed forward from then), and the calibration of the per-account risk on the
renewal clock in the time-ordered back-test. A tiny hand-made frame checks that no account's tier
comes from after the start of its follow-up."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import scoring
from analysis.data.io import default_as_of, load_book
from analysis.data.sources import BookInputs
from analysis.errors import DataContractError
from analysis.params import defaults
from analysis.survival import analyse, previous_tier_frame

START, END = dt.date(2024, 1, 1), dt.date(2025, 1, 1)  # follow-up of 366 days


def _outcomes(rows: dict) -> pd.DataFrame:
    """build_outcomes' shape at START: account -> (churned, days from START to churn or end of data)."""
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["churned", "duration_days"])
    return frame.rename_axis("account_id")


def test_previous_tiers_are_followed_from_their_own_date_and_never_from_after_it():
    previous = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "e"],
            "tier": ["key", "small", "small", "key"],
            "as_of": pd.Timestamp(START),
        }
    )
    outcomes = _outcomes(
        {
            "a": (False, 700),  # still a customer at the end of the data: censored at END
            "b": (True, 100),  # left 100 days after START
            "d": (True, 50),  # no tier at START (a new account): not followed
            "e": (True, 500),  # left after END: censored at END, no event
        }
    )  # c had left before START: not active then, not followed
    frame = previous_tier_frame(previous, outcomes, START, END)
    assert sorted(frame.index) == ["a", "b", "e"]
    assert (frame["tier_as_of"] <= START).all()  # no tier from after its account's follow-up start
    assert frame["duration_days"].to_dict() == {"a": 366, "b": 100, "e": 366}
    assert frame["event"].to_dict() == {"a": 0, "b": 1, "e": 0}
    assert frame["tier"].to_dict() == {"a": "key", "b": "small", "e": "key"}

    later = previous.assign(as_of=pd.Timestamp(START) + pd.Timedelta(days=30))  # scored after the start
    with pytest.raises(DataContractError, match="dated after the follow-up start 2024-01-01"):
        previous_tier_frame(later, outcomes, START, END)


@pytest.fixture(scope="module")
def sample(default_book_dir):
    """Scoring (for tiers_previous and scored_accounts, as notebook 03 writes them), then the churn
    analysis of the default sample with those run tables."""
    book = load_book(default_book_dir)
    run = BookInputs(book, default_as_of(book), defaults(), {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = scoring.analyse(run).tables()
        written = {name: tables[name].reset_index() for name in ("tiers_previous", "scored_accounts")}
        churn = analyse(BookInputs(book, run.as_of, defaults(), written))
    decisions = pd.read_csv(default_book_dir / "ground_truth_decisions.csv", parse_dates=["end"])
    return run, written["tiers_previous"], churn, decisions


def test_km_by_previous_tier_differs_in_the_planted_direction_on_the_sample(sample):
    run, previous, churn, decisions = sample
    then = dt.date(2025, 1, 1)  # as-of minus a year
    assert (pd.to_datetime(previous["as_of"]).dt.date == then).all()
    assert churn.tier_column == "tier" and str(then) in churn.tier_note
    km = churn.km["tier"]
    followed = previous_tier_frame(previous, run.outcomes_at(then), then, run.as_of)
    assert (followed["tier_as_of"] <= then).all()
    assert km.table["accounts"].sum() == len(followed)  # every account active then that had a tier

    # The planted churn of each tier: 1 - prod(planted renewal probability) over its decisions in
    # the follow-up year (ground truth, not outcomes); the synthetic book plants a lower churn for the
    # higher tiers (key accounts have higher adoption, NPS and product lines).
    window = decisions[(decisions["end"] >= pd.Timestamp(then)) & (decisions["end"] < pd.Timestamp(run.as_of))]
    planted_account = 1 - window.groupby("account_id")["p_renew"].prod().reindex(followed.index).fillna(1.0)
    planted = planted_account.groupby(followed["tier"]).mean()
    order = list(defaults().scoring.tiers.pyramid.codes)  # best tier first
    assert planted[order].is_monotonic_increasing and planted[order[-1]] > 3 * planted[order[1]]

    observed = 1 - km.table.loc[order, "survival_365d"]  # churn within the follow-up year
    assert observed.is_monotonic_increasing  # the curves are ordered as planted
    assert km.logrank["p"] < 1e-6
    # every pair of the three larger tiers differs (the top tier, 1% of accounts, is too small alone)
    pairs = {frozenset(pair): p for pair, p in km.pairwise["p_adjusted"].items()}
    assert all(pairs[frozenset(pair)] < 0.01 for pair in [order[1:3], order[2:4], order[1:4:2]])
    # and honest: each tier's planted churn lies in its Kaplan-Meier 95% interval (tiers with at least
    # 5 churns; with none the interval is a point)
    filled = km.table.loc[order][km.table.loc[order, "churned"] >= 5]
    lower, upper = 1 - filled["survival_365d_upper"], 1 - filled["survival_365d_lower"]
    assert len(filled) >= 3 and ((lower <= planted[filled.index]) & (planted[filled.index] <= upper)).all()


def test_renewal_risk_is_calibrated_in_the_sample_backtest(sample, default_book_dir):
    """Fitted with renewals decided before 2025-01-01, predicted then, judged in 2025. 305 accounts
    lost their next renewal: the count alone varies by +-5.7% (1 SD), so 0.9-1.1 is about 1.75 SD;
    the horizons hold fewer churns (84 within 90 days: +-11%), so they get 1 +- 2/sqrt(churns)."""
    _, _, churn, decisions = sample
    bt = churn.backtest
    assert bt.fit_as_of == dt.date(2025, 1, 1)
    rows = bt.metrics[bt.metrics["metric"].str.startswith("predicted / observed")].set_index(["group", "judged_on"])
    assert 0.9 <= rows.loc[("all accounts", "next renewal"), "value"] <= 1.1
    for h in defaults().survival.horizons:
        row = rows.loc[("all accounts", f"churn within {h} days")]
        assert abs(row["value"] - 1) <= 2 / np.sqrt(row["churned"]), h
    value = bt.metrics[bt.metrics["metric"] == "predicted / observed value at risk"].iloc[0]
    assert abs(value["value"] - 1) <= 2 / np.sqrt(value["churned"])

    # against the planted probabilities of the same renewals (no outcome noise): also 0.9-1.1
    accounts = bt.accounts[bt.accounts["lost_next"].notna()]
    planted = decisions.set_index(["account_id", "end"])["p_renew"]
    key = pd.MultiIndex.from_arrays([accounts.index, pd.to_datetime(accounts["next_renewal_date"])])
    expected = (1 - planted.reindex(key)).to_numpy()
    assert not np.isnan(expected).any()
    assert 0.9 <= accounts["p_churn_before_renewal"].sum() / expected.sum() <= 1.1
