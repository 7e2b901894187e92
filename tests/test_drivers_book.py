"""Renewal drivers recover the planted truth of the synthetic book (ground_truth.json "renewal").

The contract table comes from ``analysis.features.build_contract_features(book, lead_days=90)``.
Planted effects are linear in raw units, so the recovery runs on the raw scale (no log1p): the
true effect per +1 SD is ``beta * sd(feature)`` in the table (per yes-vs-no for the 0/1 seminar flag).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from analysis import drivers as d
from analysis.data.features import build_contract_features, build_features
from analysis.data.io import default_as_of, load_book
from analysis.params import defaults

POWER_Z = 3.3  # a driver whose expected |z| is at least this is found (BH, 5%) with >90% probability


@pytest.fixture(scope="module")
def book_dir(default_book_dir):
    return default_book_dir


@pytest.fixture(scope="module")
def truth(book_dir):
    return json.loads((book_dir / "ground_truth.json").read_text())["renewal"]


@pytest.fixture(scope="module")
def contracts(book_dir, truth):
    margin = defaults().features.subscription_margin
    return build_contract_features(load_book(book_dir), truth["lead_days"], margin)


def spec(truth: dict) -> d.RenewalDrivers:
    section = defaults().drivers.updated(
        factors=list(truth["log_odds_per_unit"]) + truth["noise_features"], categorical=[], log1p=[]
    )
    return d.RenewalDrivers.from_params(section)


def per_sd(contracts: pd.DataFrame, truth: dict) -> pd.Series:
    return pd.Series(
        {
            k: b * (1.0 if set(contracts[k].unique()) <= {0, 1} else contracts[k].std())
            for k, b in truth["log_odds_per_unit"].items()
        }
    )


def test_planted_drivers_recovered(contracts, truth):
    s = spec(truth).fit(contracts).summary
    true = per_sd(contracts, truth)
    noise = truth["noise_features"]
    # Seven intervals that must hold together: Bonferroni keeps the joint level at 95%
    # (seven separate 95% intervals all hold only ~70% of the time; coverage is tested below).
    z_joint = stats.norm.ppf(1 - 0.05 / (2 * len(true)))
    expected_z = true.abs() / s.loc[true.index, "std_error"]
    powered = expected_z[expected_z >= POWER_Z].index
    for name, value in true.items():
        est, se = s.loc[name, "estimate"], s.loc[name, "std_error"]
        assert np.sign(est) == np.sign(value), (name, est, value)
        assert abs(est - value) <= z_joint * se, (name, est, value, se)
    for name in powered:
        assert s.loc[name, "direction"] == ("raises renewal" if true[name] > 0 else "lowers renewal"), name
        assert s.loc[name, "rank"] < s.loc[noise, "rank"].min(), name
    assert (s.loc[noise, "p_adjusted"] >= 0.05).all(), s.loc[noise, ["estimate", "p_adjusted"]]
    # At this size all but the weakest planted driver are well powered; say which one is not.
    assert len(powered) >= len(true) - 1, expected_z.round(2).to_dict()


def test_intervals_cover_the_truth_on_this_books_features(contracts, truth):
    """Redraw the outcomes from the planted model on the book's own features 30 times: the 95%
    intervals (clustered by account) hold the truth ~95% of the time and noise is rarely flagged."""
    beta = truth["log_odds_per_unit"]
    eta = truth["intercept"] + sum(b * contracts[k].to_numpy() for k, b in beta.items())
    decision = contracts.groupby(["account_id", "end"]).ngroup().to_numpy()  # product lines share a decision
    true = pd.concat([per_sd(contracts, truth), pd.Series(0.0, index=truth["noise_features"])])
    rng = np.random.default_rng(0)
    z, false_alarm = [], 0
    for _ in range(30):
        u = rng.random(decision.max() + 1)[decision]
        s = spec(truth).fit(contracts.assign(renewed=(u < expit(eta)).astype(int))).summary
        z.append((s.loc[true.index, "estimate"] - true) / s.loc[true.index, "std_error"])
        false_alarm += int((s.loc[truth["noise_features"], "p_adjusted"] < 0.05).any())
    z = pd.DataFrame(z)
    coverage = float((z.abs() <= stats.norm.ppf(0.975)).to_numpy().mean())
    assert 0.91 <= coverage <= 0.99, coverage  # 300 intervals: binomial SE 1.3 points
    assert (z.mean().abs() < 0.6).all(), z.mean().round(2).to_dict()  # SE of a mean z over 30 ~ 0.18
    assert false_alarm <= 6  # BH at 5% on three null columns: expect ~1-2 of 30


def test_default_configuration_tells_the_planted_story(book_dir, contracts, truth):
    """The shipped drivers config (logged counts, categories, engagement factors) runs end to end on the
    book: strongly planted drivers lead the findings in the planted direction, noise does not, and every
    open account gets reasons."""
    section = defaults().drivers.updated(
        gbm={"max_iter": 60, "early_stopping": False}, permutation_repeats=3, pd_max_rows=500
    )
    result = d.analyse_contracts(contracts, section, seed=defaults().seed)
    assert result.model is not None and not (result.problems["severity"] == "fatal").any()
    s = result.model.summary
    clear = s[s["direction"] != "no clear effect"].sort_values("rank")
    for name in ("adoption_90d", "adoption_trend", "nps_latest", "payment_delay_days", "attended_seminar_12m"):
        want = "raises renewal" if truth["log_odds_per_unit"][name] > 0 else "lowers renewal"
        assert s.loc[name, "direction"] == want, (name, s.loc[name].to_dict())
        assert name in clear.index[:8]
    assert s.loc["webinars_12m", "direction"] == "no clear effect"
    assert result.agreement.loc["adoption_90d", "verdict"] == "agree"
    assert not result.stability.empty and {"size_band", "industry", "period"} <= set(result.stability["split"])
    fitted = result.stability[result.stability["status"] == "fitted"]
    assert set(fitted["factor"]) <= set(clear.index)  # segments refit the clear drivers only (stability_factors)
    assert not result.flips["sign_flip"].any()  # the planted effects are the same in every segment

    book = load_book(book_dir)
    snapshot = build_features(book, default_as_of(book), defaults().features.subscription_margin)
    reasons = d.open_account_reasons(result.model, snapshot)
    open_ = snapshot[snapshot["next_renewal_date"].notna()]
    assert list(reasons.columns) == d.REASON_COLUMNS
    assert reasons["account_id"].nunique() > 0.9 * len(open_) and set(reasons["account_id"]) <= set(open_.index)
    assert (
        reasons["next_renewal_date"].to_numpy() == open_.loc[reasons["account_id"], "next_renewal_date"].to_numpy()
    ).all()
    assert reasons.groupby(["account_id", "side"]).size().max() <= 3
    assert reasons["renewal_probability"].between(0, 1).all()
    assert set(reasons["factor"]) <= set(clear["variable"])


def test_facade_gives_the_catalog_tables_of_the_notebook(small_book):
    """``analyse(run)``: contracts decided before the run's as-of date with the one lead time, every
    table the catalog gives the notebook (with its promised columns), dummies named column=level."""

    from analysis import catalog

    params = defaults().updated(drivers={"gbm": {"max_iter": 40, "early_stopping": False}, "permutation_repeats": 2})

    from analysis.data.sources import BookInputs

    run = BookInputs(small_book, default_as_of(small_book), params)  # the RunInputs protocol, no run folder
    result = d.analyse(run)
    assert result.model is not None and result.lead_days == params.features.renewal_lead_days
    contracts = d.load_contracts(run, run.as_of)
    assert result.n_decided == len(contracts) == result.model.n_contracts_
    assert (contracts["end"] < pd.Timestamp(run.as_of)).all()
    tables = result.tables()
    assert sorted(tables) == sorted(catalog.writes(catalog.DRIVERS))
    for name, table in tables.items():
        catalog.check_columns(table, name)
    drivers = tables["drivers"]
    levels = drivers[drivers["kind"] == "category"]
    assert len(levels) and all(f.startswith(f"{v}=") for f, v in zip(levels["factor"], levels["variable"]))
    assert tables["renewal_reasons"]["account_id"].nunique() > 0
