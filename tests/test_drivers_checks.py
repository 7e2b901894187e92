"""The second opinions on renewal drivers: gradient-boosting check, model agreement, stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis import drivers as d
from analysis.params import defaults

PLANTED = list(d.SIM_BETA)
FAST = {
    "gbm": {
        "max_iter": 80,
        "learning_rate": 0.15,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "early_stopping": False,
    },
    "permutation_repeats": 4,
    "pd_grid": 12,
    "pd_max_rows": 800,
}


def section(config: dict):
    """The shipped drivers section with ``config`` changed (validated)."""
    return defaults().drivers.updated(**config)


def resample_outcome(table: pd.DataFrame, eta: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return table.assign(renewed=(rng.random(len(table)) < expit(eta)).astype(int))


def linear_eta(table: pd.DataFrame) -> np.ndarray:
    return (
        -1.4
        + sum(b * table[k].to_numpy() for k, b in d.SIM_BETA.items())
        + table["industry"].map(d.SIM_INDUSTRY).to_numpy()
    )


@pytest.fixture(scope="module")
def curved():
    """Planted linear effects plus a U-shaped one: 'bend' matters but has no linear trend."""
    table, _ = d.simulate_contracts(8000, seed=5)
    bend = np.random.default_rng(1).uniform(-2, 2, len(table))
    table = table.assign(bend=bend)
    return resample_outcome(table, linear_eta(table) + 1.5 * (bend**2 - 4 / 3), seed=2)


@pytest.fixture(scope="module")
def analysis(curved):
    cfg = {
        **FAST,
        "factors": PLANTED + ["bend", "noise_a", "noise_b"],
        "categorical": ["industry"],
        "stability_by": ["size_band"],
    }
    return d.analyse_contracts(curved, section(cfg), seed=defaults().seed)


def test_holdout_is_the_later_contracts(analysis, curved):
    check = analysis.check
    assert check.n_holdout_ + check.n_train_ == len(curved)
    assert 0.2 <= check.n_holdout_ / len(curved) <= 0.3
    train_end = curved["end"].sort_values().iloc[check.n_train_ - 1]
    assert train_end < check.holdout_end_
    assert 0.6 < check.holdout_auc_ < 1 and 0.5 < check.logit_holdout_auc_ < 1


def test_boosting_finds_the_bend_the_logit_misses(analysis):
    agreement = analysis.agreement
    assert agreement.loc["bend", "verdict"] == "boosting only"
    assert agreement.loc["bend", "gbm_shape"] == "non-monotone"
    assert agreement.loc["bend", "gbm_rank"] <= 3
    for name in ("adoption", "open_tickets", "payment_delay", "nps"):
        assert agreement.loc[name, "verdict"] == "agree", (name, agreement.loc[name].to_dict())
    for name in ("noise_a", "noise_b"):
        assert agreement.loc[name, "verdict"] == "agree: no clear effect"
        assert not agreement.loc[name, "gbm_important"]


def test_partial_dependence_follows_the_planted_direction(analysis):
    pdp = analysis.check.partial_dependence_
    assert set(pdp["factor"]) == set(analysis.check.importance_.index)
    assert analysis.check.pd_direction_["adoption"] == "rises"
    assert analysis.check.pd_direction_["payment_delay"] == "falls"
    industry = pdp[pdp["factor"] == "industry"].set_index("level")["renewal_probability"]
    assert industry["retail"] < industry["manufacturing"]  # planted -0.5 for retail


def flipped_table() -> pd.DataFrame:
    """noise_a helps renewal in enterprise and hurts it in small accounts; adoption helps everywhere."""
    table, _ = d.simulate_contracts(9000, seed=8)
    effect = table["size_band"].map({"enterprise": 1.0, "mid-market": 0.0, "small": -1.0}).to_numpy()
    return resample_outcome(table, linear_eta(table) + effect * table["noise_a"].to_numpy(), seed=3)


def test_sign_flip_between_segments_is_flagged():
    table = flipped_table()
    cfg = {
        "factors": PLANTED + ["noise_a"],
        "categorical": ["size_band"],
        "stability_by": ["size_band"],
        "stability_period": "half",
    }
    stab = d.stability(table, section(cfg))
    assert set(stab["split"]) == {"size_band", "period"}
    assert (stab["status"] == "fitted").all()
    assert not stab.loc[stab["split"] == "size_band", "factor"].str.startswith("size_band").any()
    flips = d.sign_flips(stab).set_index(["factor", "split"])
    assert flips.loc[("noise_a", "size_band"), "sign_flip"]
    assert flips.loc[("noise_a", "size_band"), "clearly_positive"] == "enterprise"
    assert flips.loc[("noise_a", "size_band"), "clearly_negative"] == "small"
    assert not flips.loc[("adoption", "size_band"), "sign_flip"]
    assert not flips.loc[("noise_a", "period"), "sign_flip"]  # the periods mix the segments alike
    wide = d.stability_table(stab)
    assert wide.loc["noise_a", "sign_flip"] and not wide.loc["adoption", "sign_flip"]
    assert wide.loc["adoption", "size_band: small"].endswith("*")


def test_small_segment_is_skipped_with_its_reason():
    table, _ = d.simulate_contracts(3000, seed=4)
    table = table.assign(region=np.where(np.arange(len(table)) < 60, "tiny", "big"))
    stab = d.stability(
        table, section({"factors": PLANTED, "categorical": [], "stability_by": ["region"], "stability_period": None})
    )
    tiny = stab[stab["segment"] == "tiny"]
    assert len(tiny) == 1 and tiny["status"].iloc[0].startswith("skipped: ")
    assert "per term" in tiny["status"].iloc[0] or "one outcome" in tiny["status"].iloc[0]
    assert (stab.loc[stab["segment"] == "big", "status"] == "fitted").all()


def test_drivers_table_has_the_report_columns(analysis):
    table = analysis.table
    assert list(table.columns) == d.DRIVERS_TABLE_COLUMNS
    assert np.allclose(table["effect"], np.exp(table["log_odds"]))
    assert (table["lower_95"] <= table["effect"]).all() and (table["effect"] <= table["upper_95"]).all()
    assert d.drivers_table(None).columns.tolist() == d.DRIVERS_TABLE_COLUMNS
