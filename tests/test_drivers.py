"""Renewal drivers logit on simulated contract tables with known log-odds (analysis.drivers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logit
from statsmodels.stats.multitest import multipletests

from analysis import drivers as d
from analysis.core.summary import SUMMARY_COLUMNS
from analysis.errors import ConfigError, DataContractError, NotFittedError
from analysis.params import defaults

PLANTED = list(d.SIM_BETA)
NOISE = list(d.SIM_NOISE)
CONFIG = {"factors": PLANTED + NOISE, "categorical": ["industry"], "reference_levels": {"industry": "manufacturing"}}


def drivers(config: dict) -> d.RenewalDrivers:
    """The model from the shipped drivers section with ``config`` changed (validated)."""
    return d.RenewalDrivers.from_params(defaults().drivers.updated(**config))


@pytest.fixture(scope="module")
def sim():
    return d.simulate_contracts(6000, seed=11)


@pytest.fixture(scope="module")
def fitted(sim):
    table, _ = sim
    return drivers(CONFIG).fit(table)


def true_per_sd(table: pd.DataFrame, truth: dict) -> pd.Series:
    """Planted effect on the model's scale: per +1 SD for numeric factors, per unit for 0/1 ones."""
    return pd.Series(
        {
            k: b * (1.0 if set(table[k].unique()) <= {0, 1} else table[k].std())
            for k, b in truth["log_odds_per_unit"].items()
        }
    )


def test_summary_has_the_common_shape(fitted):
    s = fitted.summary
    assert s.index.name == "factor"
    assert list(s.columns[:6]) == SUMMARY_COLUMNS
    for column in ("odds_ratio", "p_adjusted", "direction", "sentence"):
        assert column in s.columns
    assert np.allclose(s["odds_ratio"], np.exp(s["estimate"]))
    assert s[["estimate", "std_error", "p", "p_adjusted"]].notna().all().all()
    assert fitted.method_ == "maximum likelihood"


def simultaneous_z(k: int, level: float = 0.95) -> float:
    """Bonferroni multiplier: k intervals that hold their truths *jointly* with probability >= level.

    Asserting that k separate 95% intervals all hold would fail about 1 - 0.95**k of the time
    (34% for k = 8) on a correct model; the individual 95% level is checked by coverage instead."""
    return float(stats.norm.ppf(1 - (1 - level) / (2 * k)))


def test_planted_effects_recovered(sim, fitted):
    """Right sign, truth inside the (jointly 95%) interval, planted ranked above every noise column."""
    table, truth = sim
    s = fitted.summary
    expected = true_per_sd(table, truth)
    expected["industry=retail"], expected["industry=finance"] = -0.5, 0.3  # vs manufacturing (stated reference)
    z = simultaneous_z(len(expected))
    for name, value in expected.items():
        est, se = s.loc[name, "estimate"], s.loc[name, "std_error"]
        assert np.sign(est) == np.sign(value), name
        assert abs(est - value) <= z * se, (name, value, est, se)
        assert s.loc[name, "direction"] == ("raises renewal" if value > 0 else "lowers renewal")
    assert s.loc[expected.index, "rank"].max() < s.loc[NOISE, "rank"].min()
    assert (s.loc[NOISE, "direction"] == "no clear effect").all()
    assert "industry=manufacturing" not in s.index
    assert s.loc["industry=retail", "unit"] == "vs manufacturing"


def test_interval_coverage_is_nominal():
    """Across 60 fresh simulations the 95% intervals hold the planted per-SD effect ~95% of the time
    (360 intervals: binomial SE 1.1 points, so 91-99% is a 3.5-SE band)."""
    hits, z = [], []
    for seed in range(60):
        table, truth = d.simulate_contracts(1500, seed=1000 + seed)
        s = drivers({"factors": PLANTED, "categorical": []}).fit(table).summary
        expected = true_per_sd(table, truth)
        hits += [(s.loc[expected.index, "lower_95"] <= expected) & (expected <= s.loc[expected.index, "upper_95"])]
        z += [(s.loc[expected.index, "estimate"] - expected) / s.loc[expected.index, "std_error"]]
    coverage = pd.concat(hits).mean()
    assert 0.91 <= coverage <= 0.99, coverage
    assert abs(pd.concat(z).mean()) < 0.2  # no systematic bias (SE of the mean z ~ 0.05)


def test_standard_errors_are_clustered_by_account(sim):
    """Copying every contract three times inside its account adds no information: clustered errors
    stay put (up to the small-sample factor), while an account per copy would shrink them by sqrt(3)."""
    table, _ = sim
    cfg = {"factors": PLANTED, "categorical": []}
    once = drivers(cfg).fit(table).summary["std_error"]
    tripled = pd.concat([table] * 3)
    thrice = drivers(cfg).fit(tripled).summary["std_error"]
    assert np.allclose(thrice[once.index], once, rtol=0.01)
    naive = tripled.assign(account_id=[f"{a}-{i}" for i, a in enumerate(tripled["account_id"])])
    split = drivers(cfg).fit(naive).summary["std_error"]
    assert np.allclose(split[once.index] * np.sqrt(3), once, rtol=0.1)


def test_benjamini_hochberg_correction(fitted):
    s = fitted.summary
    expected = multipletests(s["p"], method="fdr_bh")[1]
    assert np.allclose(s["p_adjusted"], expected)
    assert (s["p_adjusted"] >= s["p"] - 1e-15).all()


def test_renewal_rate_with_and_without_a_binary_factor(sim, fitted):
    table, _ = sim
    row = fitted.summary.loc["seminar"]
    assert row["rate_with"] == pytest.approx(table.loc[table["seminar"] == 1, "renewed"].mean())
    assert row["rate_without"] == pytest.approx(table.loc[table["seminar"] == 0, "renewed"].mean())
    assert f"renewed {row['rate_with']:.0%} vs {row['rate_without']:.0%} without" in row["sentence"]
    assert row["unit"] == "yes vs no"
    level = fitted.summary.loc["industry=retail"]
    assert level["rate_without"] == pytest.approx(table.loc[table["industry"] == "manufacturing", "renewed"].mean())


def test_sentences_state_effect_interval_and_corrected_p(fitted):
    s = fitted.summary
    adoption = s.loc["adoption", "sentence"]
    assert adoption.startswith("+1 SD in adoption (")
    assert "higher odds of renewal (95% CI +" in adoption and "corrected p < 0.001" in adoption
    assert "lower odds of renewal" in s.loc["payment_delay", "sentence"]
    noise = s.loc[NOISE, "sentence"]
    assert noise.str.startswith("No clear link between").all()


def test_log1p_is_applied_where_configured(sim):
    table, _ = sim
    model = drivers({**CONFIG, "log1p": ["open_tickets", "webinars"]}).fit(table)
    X = model.design_.transform(table)
    logged = np.log1p(table["open_tickets"])
    assert np.allclose(X["open_tickets"], (logged - logged.mean()) / logged.std())
    assert model.summary.loc["open_tickets", "unit"].startswith("+1 SD of log(1 + x)")
    assert "log(1 + open tickets)" in model.summary.loc["open_tickets", "sentence"]


def test_correlated_metrics_are_grouped_when_asked(sim):
    table, _ = sim
    rng = np.random.default_rng(0)
    twin = table.assign(adoption_copy=table["adoption"] + rng.normal(0, 0.01, len(table)))
    cfg = {"factors": ["adoption", "adoption_copy", "nps", "noise_a"], "categorical": [], "group_correlated": 0.9}
    model = drivers(cfg).fit(twin)
    assert "adoption + adoption_copy" in model.summary.index
    assert {"nps", "noise_a"} <= set(model.summary.index)
    grouped = model.problems_[model.problems_["problem"] == "correlated metrics grouped"]
    assert grouped["factor"].tolist() == ["adoption + adoption_copy"]


def test_exactly_collinear_columns_are_dropped(sim):
    table, _ = sim
    cfg = {"factors": ["adoption", "nps", "nps_twice"], "categorical": []}
    model = drivers(cfg).fit(table.assign(nps_twice=2 * table["nps"] + 1))
    collinear = model.problems_[model.problems_["problem"] == "collinear"]
    assert len(collinear) == 1 and collinear["factor"].iloc[0] in ("nps", "nps_twice")
    assert np.isfinite(model.summary["std_error"]).all()


def test_reasons_decompose_the_log_odds(sim, fitted):
    table, _ = sim
    open_ = table.head(50)
    contrib = fitted.contributions(open_)
    log_odds = logit(fitted.predict_proba(open_))
    assert np.allclose(log_odds - contrib.sum(axis=1), fitted.baseline_log_odds_)
    reasons = fitted.reasons(open_)
    assert set(reasons["factor"]) <= set(PLANTED) | {"industry"}  # noise factors are never a reason
    for (idx, side), part in reasons.groupby(["contract_id", "side"]):
        clear = contrib.loc[idx, [c for c in contrib.columns if c not in NOISE]]
        expected = clear[clear < 0].nsmallest(3) if side == "down" else clear[clear > 0].nlargest(3)
        assert part.sort_values("rank")["factor"].tolist() == expected.index.tolist()
        assert np.allclose(part.sort_values("rank")["contribution"], expected.to_numpy())
    assert reasons["sentence"].str.contains("odds of renewal x").all()


def test_predictions_are_indexed_like_the_input_and_handle_new_levels(fitted, sim):
    table, _ = sim
    new = table.head(5).copy()
    new.loc[new.index[0], "industry"] = "a level never seen"
    proba = fitted.predict_proba(new)
    assert proba.index.equals(new.index) and proba.between(0, 1).all()
    with pytest.raises(DataContractError, match="adoption"):
        fitted.predict_proba(new.drop(columns="adoption"))


def test_config_is_validated():
    with pytest.raises(ConfigError, match="drivers.factors"):
        defaults().updated(drivers={"factors": "everything"})
    with pytest.raises(ConfigError, match="holdout_share"):
        defaults().updated(drivers={"holdout_share": 0.9})
    with pytest.raises(ConfigError, match="group_correlated"):
        defaults().updated(drivers={"group_correlated": 0.2})
    assert defaults().drivers.min_events_per_factor == 10


def test_models_are_built_from_the_drivers_section_and_refuse_before_fit():
    section = defaults().drivers.updated(alpha=0.01, gbm={"max_iter": 7})
    model = d.RenewalDrivers.from_params(section)
    assert model.alpha == 0.01 and model.factors == section.factors and model.n_reasons == section.n_reasons
    check = d.NonlinearCheck.from_params(section, seed=5)
    assert check.seed == 5 and check.gbm["max_iter"] == 7 and check.holdout_share == section.holdout_share
    with pytest.raises(TypeError, match="seed"):
        d.NonlinearCheck.from_params(section)
    for attribute in ("params_", "summary", "baseline_log_odds_"):
        with pytest.raises(NotFittedError):
            _ = getattr(model, attribute)
    with pytest.raises(NotFittedError):
        model.predict_proba(pd.DataFrame())
    with pytest.raises(NotFittedError):
        _ = check.importance_
    with pytest.raises(NotFittedError):
        d.DriverDesign.from_params(section).transform(pd.DataFrame())


def test_wald_p_matches_the_normal_reference(fitted):
    s = fitted.summary
    assert np.allclose(s["p"], 2 * stats.norm.sf(np.abs(s["estimate"] / s["std_error"])))
