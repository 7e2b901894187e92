"""Renewal drivers on data that cannot (fully) be estimated: clear messages and a problems table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import drivers as d
from analysis.core.problems import fatal_message
from analysis.errors import DataContractError, InsufficientDataError
from analysis.params import defaults

PLANTED = list(d.SIM_BETA)
CFG = {"factors": PLANTED, "categorical": []}


def section(config: dict):
    """The shipped drivers section with ``config`` changed (validated)."""
    return defaults().drivers.updated(**config)


def drivers(config: dict) -> d.RenewalDrivers:
    return d.RenewalDrivers.from_params(section(config))


def analyse(table: pd.DataFrame, config: dict, **kwargs) -> d.DriverAnalysis:
    return d.analyse_contracts(table, section(config), seed=defaults().seed, **kwargs)


@pytest.fixture(scope="module")
def table():
    return d.simulate_contracts(3000, seed=21)[0]


def problems_of(model_or_error) -> pd.DataFrame:
    return model_or_error.problems_ if hasattr(model_or_error, "problems_") else model_or_error.problems


@pytest.mark.parametrize("value, words", [(1, "All 3000 contracts renewed"), (0, "None of the 3000 contracts renewed")])
def test_one_outcome_only(table, value, words):
    with pytest.raises(InsufficientDataError, match=words) as info:
        drivers(CFG).fit(table.assign(renewed=value))
    problems = info.value.problems
    assert problems.loc[problems["severity"] == "fatal", "problem"].tolist() == ["one outcome only"]
    result = analyse(table.assign(renewed=value), CFG)
    assert result.model is None and result.table.empty and words in fatal_message(result.problems, "Renewal drivers")
    assert words in result.not_estimable["detail"].str.cat(sep=" ")  # what the notebook shows
    assert d.open_account_reasons(result.model, table).columns.tolist() == d.REASON_COLUMNS
    assert result.importance.empty and result.top_factors() == [] and result.stability_wide.empty


def test_binary_factor_that_predicts_the_outcome_perfectly(table):
    model = drivers({**CFG, "factors": PLANTED + ["oracle"]}).fit(table.assign(oracle=table["renewed"]))
    problems = model.problems_
    row = problems[(problems["factor"] == "oracle") & (problems["problem"] == "separation")]
    assert len(row) == 1 and "renewed" in row["detail"].iloc[0] and "ridge penalty" in row["action"].iloc[0]
    s = model.summary
    assert model.method_ == "ridge-penalised" and (s["method"] == "ridge-penalised").all()
    assert np.isfinite(s[["estimate", "std_error", "odds_ratio", "or_upper_95"]].to_numpy()).all()
    assert s.loc["oracle", "estimate"] > 0 and s.loc["oracle", "separated"]
    assert "separates renewals perfectly" in s.loc["oracle", "sentence"]
    assert s.loc["oracle", "lower_95"] > 0  # the direction is clear even though the size is not
    assert set(PLANTED) <= set(s.index)  # the others are still reported (with nothing left to explain)


def test_numeric_factor_that_splits_the_outcome(table):
    split = np.where(table["renewed"] == 1, 10.0, 0.0) + np.random.default_rng(0).uniform(0, 1, len(table))
    model = drivers({**CFG, "factors": PLANTED + ["split"]}).fit(table.assign(split=split))
    assert "separation" in model.problems_.loc[model.problems_["factor"] == "split", "problem"].tolist()
    assert model.method_ == "ridge-penalised"
    assert np.isfinite(model.summary["odds_ratio"]).all()


def test_joint_separation_is_caught_after_the_fit():
    """No single factor separates, but together they do: maximum likelihood diverges and is replaced."""
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=400), rng.normal(size=400)
    frame = pd.DataFrame(
        {"x1": x1, "x2": x2, "renewed": (x1 + x2 > 0).astype(int), "account_id": [f"A{i}" for i in range(400)]}
    )
    model = drivers({"factors": ["x1", "x2"], "categorical": [], "min_events_per_factor": 5}).fit(frame)
    assert not (model.problems_["factor"].isin(["x1", "x2"]) & (model.problems_["problem"] == "separation")).any()
    joint = model.problems_[(model.problems_["factor"] == "(model)") & (model.problems_["problem"] == "separation")]
    assert len(joint) == 1 and "together (nearly) separate" in joint["detail"].iloc[0]
    assert model.method_ == "ridge-penalised" and np.isfinite(model.summary["odds_ratio"]).all()


def test_factor_with_one_value_is_dropped_and_said(table):
    model = drivers({**CFG, "factors": PLANTED + ["flat"]}).fit(table.assign(flat=3.0))
    row = model.problems_.set_index("factor").loc["flat"]
    assert row["problem"] == "one value" and row["severity"] == "dropped" and "= 3" in row["detail"]
    assert "flat" not in model.summary.index and set(PLANTED) <= set(model.summary.index)


def test_no_usable_factor_is_fatal(table):
    with pytest.raises(InsufficientDataError, match="every factor was dropped") as info:
        drivers({"factors": ["flat"], "categorical": []}).fit(table.assign(flat=1.0))
    assert "one value" in info.value.problems["problem"].tolist()


def test_too_few_events_per_factor(table):
    small = table.head(120)
    events = int(min(small["renewed"].sum(), (1 - small["renewed"]).sum()))
    with pytest.raises(InsufficientDataError, match=rf"{events} non-renewals for 6 model terms .* minimum is 10"):
        drivers(CFG).fit(small)
    result = analyse(small, CFG)
    fatal = result.problems[result.problems["severity"] == "fatal"]
    assert fatal["problem"].tolist() == ["too few events per factor"]
    assert "list fewer factors" in fatal["action"].iloc[0]


def test_tiny_binary_class_is_dropped_and_rare_level_merged(table):
    rare_flag = np.zeros(len(table), dtype=int)
    rare_flag[:5] = 1
    industry = table["industry"].where(np.arange(len(table)) >= 7, "space")
    model = drivers({"factors": PLANTED + ["rare_flag"], "categorical": ["industry"]}).fit(
        table.assign(rare_flag=rare_flag, industry=industry)
    )
    by_factor = model.problems_.set_index("factor")
    assert (
        by_factor.loc["rare_flag", "problem"] == "tiny class"
        and "only 5 contracts" in by_factor.loc["rare_flag", "detail"]
    )
    assert by_factor.loc["industry", "problem"] == "rare levels" and "space" in by_factor.loc["industry", "detail"]
    assert not model.summary.index.str.contains("space").any()
    assert "industry=other" in model.summary.index or model.design_.factors_["industry"].levels[0] == "other"


def test_absent_mostly_missing_and_partly_missing_factors(table):
    partly = table["nps"].where(np.arange(len(table)) % 10 != 0)
    mostly = table["nps"].where(np.arange(len(table)) % 10 == 0)
    model = drivers({"factors": PLANTED + ["ghost", "mostly"], "categorical": []}).fit(
        table.assign(nps=partly, mostly=mostly)
    )
    by_factor = model.problems_.set_index("factor")
    assert by_factor.loc["ghost", "problem"] == "absent"
    assert by_factor.loc["mostly", "problem"] == "mostly missing" and by_factor.loc["mostly", "severity"] == "dropped"
    assert by_factor.loc["nps", "problem"] == "missing values" and "median" in by_factor.loc["nps", "action"]
    assert "nps" in model.summary.index


def test_negative_values_are_not_logged(table):
    model = drivers({**CFG, "factors": PLANTED + ["noise_a"], "log1p": ["noise_a"]}).fit(table)
    row = model.problems_.set_index("factor").loc["noise_a"]
    assert row["problem"] == "negative values" and "not logged" in row["action"]
    assert not model.design_.factors_["noise_a"].log


def test_bad_outcome_and_missing_columns(table):
    with pytest.raises(DataContractError, match="'renewed' must be 1"):
        drivers(CFG).fit(table.assign(renewed=np.where(table["renewed"] == 1, "yes", "no")))
    with pytest.raises(DataContractError, match="account_id"):
        drivers(CFG).fit(table.drop(columns="account_id"))
    with pytest.raises(DataContractError, match="'end'"):
        d.NonlinearCheck.from_params(section(CFG), seed=defaults().seed).fit(table.drop(columns="end"))


def test_open_contracts_are_set_aside(table):
    with_open = table.assign(renewed=table["renewed"].astype(float).where(np.arange(len(table)) >= 100))
    model = drivers(CFG).fit(with_open)
    assert model.n_contracts_ == len(table) - 100
    assert "100 contracts have no outcome yet" in model.problems_["detail"].tolist()


def test_check_needs_both_outcomes_in_the_later_contracts(table):
    late = table["end"] > table["end"].quantile(0.75)
    skewed = table.assign(renewed=np.where(late, 1, table["renewed"]))
    with pytest.raises(InsufficientDataError, match="held-out .* one outcome only"):
        d.NonlinearCheck.from_params(section(CFG), seed=defaults().seed).fit(skewed)
    result = analyse(skewed, CFG, segments=False)
    assert result.model is not None and result.check is None
    skipped = result.problems[result.problems["factor"] == "(analysis)"]
    assert skipped["detail"].iloc[0].startswith("Non-linear check skipped")
    assert skipped["detail"].iloc[0] in result.not_estimable["detail"].tolist()  # what the notebook shows
