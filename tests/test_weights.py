"""Weights: published AHP and entropy examples, recovery of calibrated weights, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml

from analysis import params as config
from analysis.errors import ConfigError, DataContractError, InsufficientDataError
from analysis.scoring import weights
from analysis.scoring.score import ScoringSpec

# Saaty's relative consumption of drinks in the US (Saaty 1980; rows/columns coffee, wine,
# tea, beer, soda, milk, water), as given in the issue.
DRINKS = ["coffee", "wine", "tea", "beer", "soda", "milk", "water"]
DRINKS_MATRIX = [
    [1, 9, 5, 2, 1, 1, "1/2"],
    ["1/9", 1, "1/3", "1/9", "1/9", "1/9", "1/9"],
    ["1/5", 3, 1, "1/3", "1/4", "1/3", "1/9"],
    ["1/2", 9, 3, 1, "1/2", 1, "1/3"],
    [1, 9, 4, 2, 1, 2, "1/2"],
    [1, 9, 3, 1, "1/2", 1, "1/3"],
    [2, 9, 9, 3, 2, 3, 1],
]
# Xu (2004), decision matrix for the entropy weight method.
XU_2004 = [[30, 30, 38, 29], [19, 54, 86, 29], [19, 15, 85, 28.9], [68, 70, 60, 29]]


def consistent_matrix(w):
    w = np.asarray(w, dtype=float)
    return w[:, None] / w[None, :]


# --- published figures --------------------------------------------------------------------


def test_ahp_reproduces_saaty_drinks_priorities_and_cr():
    res = weights.ahp_weights(DRINKS_MATRIX, DRINKS)
    assert res.weights.round(4).tolist() == [0.1775, 0.0191, 0.0418, 0.1164, 0.1896, 0.1288, 0.3268]
    assert round(res.details["consistency_ratio"], 4) == 0.0223
    assert res.details["random_index"] == 1.32 and res.details["random_index_table"] == "saaty_1980"
    assert res.weights.sum() == pytest.approx(1.0)


def test_entropy_reproduces_xu_2004():
    res = weights.entropy_weights(pd.DataFrame(XU_2004, columns=["c1", "c2", "c3", "c4"]))
    assert res.weights.round(4).tolist() == [0.4630, 0.3992, 0.1378, 0.0000]
    assert res.weights.sum() == pytest.approx(1.0)


def test_saaty_1980_random_index_table_is_the_published_one():
    assert [weights.SAATY_1980_RANDOM_INDEX[n] for n in range(3, 11)] == [
        0.58,
        0.90,
        1.12,
        1.24,
        1.32,
        1.41,
        1.45,
        1.49,
    ]


# --- AHP -----------------------------------------------------------------------------------


def test_ahp_consistent_matrix_recovers_weights_exactly():
    true = np.array([0.4, 0.3, 0.2, 0.1])
    res = weights.ahp_weights(consistent_matrix(true), list("abcd"))
    np.testing.assert_allclose(res.weights.to_numpy(), true, atol=1e-12)
    assert res.details["consistency_ratio"] == pytest.approx(0.0, abs=1e-12)


def test_ahp_refuses_inconsistent_matrix_naming_the_bad_judgement():
    mat = consistent_matrix([0.4, 0.3, 0.2, 0.1])
    mat[0, 3], mat[3, 0] = 1 / 9, 9  # a judges 9x less important than d, the rest says 4x more
    with pytest.raises(ConfigError, match=r"CR = .* >= 0.1") as err:
        weights.ahp_weights(mat, list("abcd"))
    assert "revisit the most inconsistent judgements: a vs d judged 0.111" in str(err.value).lower()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.__setitem__((0, 1), 3.0), "not reciprocal"),
        (lambda m: (m.__setitem__((0, 1), 0.0), m.__setitem__((1, 0), 0.0)), "positive finite"),
        (lambda m: (m.__setitem__((0, 1), -2.0), m.__setitem__((1, 0), -0.5)), "positive finite"),
        (lambda m: m.__setitem__((0, 0), 2.0), "1 on the diagonal"),
    ],
)
def test_ahp_bad_matrices(mutate, message):
    mat = consistent_matrix([0.5, 0.3, 0.2])
    mutate(mat)
    with pytest.raises(ConfigError, match=message):
        weights.ahp_weights(mat, list("abc"))


def test_ahp_non_square_and_too_large():
    with pytest.raises(ConfigError, match="square"):
        weights.ahp_weights(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="n = 1..10, not 11"):
        weights.ahp_weights(np.ones((11, 11)))


def test_ahp_pairs_with_fractions_and_missing_pairs():
    pairs = [["a", "b", 2], ["a", "c", 4], ["b", "c", "2"]]
    mat = weights.ahp_matrix_from_pairs(pairs, list("abc"))
    assert mat.loc["b", "a"] == 0.5 and mat.loc["c", "a"] == 0.25
    res = weights.ahp_weights(mat)
    np.testing.assert_allclose(res.weights.to_numpy(), [4 / 7, 2 / 7, 1 / 7])
    with pytest.raises(ConfigError, match=r"missing \[\('b', 'c'\)\]"):
        weights.ahp_matrix_from_pairs(pairs[:2], list("abc"))
    with pytest.raises(ConfigError, match="unknown criteria"):
        weights.ahp_matrix_from_pairs([["a", "zz", 2]], list("abc"))
    with pytest.raises(ConfigError, match="not a number or fraction"):
        weights.ahp_matrix_from_pairs([["a", "b", "two"]], list("ab"))


# --- expert weights ------------------------------------------------------------------------


def test_expert_weights_bad_inputs():
    crit = ["revenue_12m", "margin_12m"]
    with pytest.raises(ConfigError, match="non-negative"):
        weights.expert_weights({"revenue_12m": 1.2, "margin_12m": -0.2}, crit)
    with pytest.raises(
        ConfigError,
        match=r"unknown criteria \['revenu_12m'\]; valid criteria are "
        r"\['revenue_12m', 'margin_12m'\]",
    ):
        weights.expert_weights({"revenu_12m": 0.5, "margin_12m": 0.5}, crit)
    with pytest.raises(ConfigError, match="sum to 120, not 1"):
        weights.expert_weights({"revenue_12m": 60, "margin_12m": 60}, crit)
    with pytest.raises(ConfigError, match="must be numbers"):
        weights.expert_weights({"revenue_12m": "high", "margin_12m": 0.5}, crit)


def test_expert_weights_normalised_only_when_asked_and_said_so():
    res = weights.expert_weights({"revenue_12m": 60, "margin_12m": 40}, ["revenue_12m", "margin_12m"], normalise=True)
    assert res.weights.tolist() == [0.6, 0.4]
    assert any("summed to 100; rescaled" in n for n in res.notes)


def test_expert_weights_missing_criterion_gets_zero_with_note():
    res = weights.expert_weights({"a": 1.0}, ["a", "b"])
    assert res.weights["b"] == 0 and any("'b'" in n for n in res.notes)


# --- entropy and CRITIC --------------------------------------------------------------------


def test_constant_criterion_gets_zero_weight_and_a_reason():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(50), "y": rng.random(50), "flat": 0.7})
    for func, name in ((weights.entropy_weights, "entropy"), (weights.critic_weights, "CRITIC")):
        res = func(frame)
        assert res.weights["flat"] == 0.0
        assert res.weights.sum() == pytest.approx(1.0)
        assert any("flat is constant" in n and f"so {name} gives it weight 0" in n for n in res.notes)


def test_all_constant_and_negative_inputs():
    with pytest.raises(InsufficientDataError, match="every criterion is constant"):
        weights.critic_weights(pd.DataFrame({"a": [1.0] * 5, "b": [2.0] * 5}))
    with pytest.raises(DataContractError, match="non-negative"):
        weights.entropy_weights(pd.DataFrame({"a": [-1.0, 2.0], "b": [1.0, 2.0]}))


def test_critic_rewards_conflict_and_ignores_scale():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    frame = pd.DataFrame({"a": a, "a_again": a + 0.01 * rng.random(500), "independent": rng.random(500)})
    res = weights.critic_weights(frame)
    # Two near-duplicates conflict with nothing between them: the independent criterion weighs more.
    assert res.weights["independent"] > res.weights["a"] + 0.1
    scaled = weights.critic_weights(frame.assign(independent=frame["independent"] * 1000 + 5))
    np.testing.assert_allclose(scaled.weights, res.weights)


def test_data_weights_rows_with_missing_values_are_reported():
    frame = pd.DataFrame({"a": [0.1, 0.5, np.nan, 0.9], "b": [0.2, 0.1, 0.4, 0.8]})
    res = weights.entropy_weights(frame)
    assert any("1 of 4 rows" in n for n in res.notes)


def test_data_weights_bootstrap_interval_contains_estimate():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.random((300, 3)) ** [1, 2, 4], columns=list("abc"))
    res = weights.entropy_weights(frame, n_boot=100, seed=3)
    s = res.summary
    assert ((s["lower_95"] <= s["estimate"]) & (s["estimate"] <= s["upper_95"])).all()


# --- outcome-calibrated --------------------------------------------------------------------


def simulate(n, beta, seed, binary=True):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, len(beta))), columns=[f"x{i}" for i in range(len(beta))])
    eta = -1.0 + x.to_numpy() @ np.asarray(beta)
    if binary:
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = eta + rng.normal(0, 0.5, n)
    return x, pd.Series(y, name="renewed" if binary else "margin")


def test_calibrated_logistic_equals_unconstrained_mle_when_slopes_are_positive():
    x, y = simulate(3000, [2.0, 1.0, 0.5], seed=4)
    res = weights.calibrated_weights(x, y, n_boot=0)
    mle = sm.Logit(y, sm.add_constant(x)).fit(disp=0).params
    assert (mle.iloc[1:] > 0).all()  # so the bound is inactive and the two fits must agree
    np.testing.assert_allclose(list(res.details["slopes"].values()), mle.iloc[1:], rtol=1e-5)
    np.testing.assert_allclose(res.details["intercept"], mle.iloc[0], rtol=1e-5)


def test_calibrated_nnls_equals_least_squares_when_slopes_are_positive():
    x, y = simulate(2000, [2.0, 1.0, 0.5], seed=5, binary=False)
    res = weights.calibrated_weights(x, y, n_boot=0, transform="none")
    ols = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x]), y, rcond=None)[0]
    np.testing.assert_allclose(list(res.details["slopes"].values()), ols[1:], rtol=1e-8)


@pytest.mark.parametrize("binary", [True, False])
def test_calibrated_weights_recover_planted_weights_and_ignore_noise(binary):
    beta = [2.0, 1.0, 0.5, 0.0, 0.0]  # true weights 4/7, 2/7, 1/7, 0, 0
    x, y = simulate(6000, beta, seed=6, binary=binary)
    res = weights.calibrated_weights(x, y, n_boot=200, seed=7, transform="none")
    s = res.summary
    true = np.array(beta) / sum(beta)
    assert ((s["lower_95"].to_numpy() <= true) & (true <= s["upper_95"].to_numpy())).all(), s
    assert s.loc[["x0", "x1", "x2"], "estimate"].min() > s.loc[["x3", "x4"], "estimate"].max()
    assert res.weights.sum() == pytest.approx(1.0) and (res.weights >= 0).all()
    assert list(s.columns[:6]) == ["estimate", "std_error", "lower_95", "upper_95", "z", "p"]
    assert s.index.name == "factor"


def test_calibration_single_class_outcome_is_refused():
    x, _ = simulate(100, [1.0, 1.0], seed=8)
    with pytest.raises(InsufficientDataError, match="single value"):
        weights.calibrated_weights(x, pd.Series(1.0, index=x.index, name="renewed_next"), n_boot=0)


def test_calibration_with_no_positive_relation_and_constant_columns():
    x, y = simulate(2000, [-2.0, -1.0], seed=9)
    with pytest.raises(InsufficientDataError, match="Check each criterion's direction"):
        weights.calibrated_weights(x, y, n_boot=0)
    x2, y2 = simulate(2000, [2.0, 1.0], seed=10)
    res = weights.calibrated_weights(x2.assign(flat=0.5), y2, n_boot=20)
    assert res.weights["flat"] == 0 and any("flat is constant" in n for n in res.notes)


def test_calibration_reports_rows_left_out():
    x, y = simulate(500, [2.0, 1.0], seed=11)
    y.iloc[:50] = np.nan
    res = weights.calibrated_weights(x, y, n_boot=0)
    assert any("50 of 500 rows" in n for n in res.notes)


# --- blend, perturbation, config -----------------------------------------------------------


def test_blend_weights():
    x, y = simulate(2000, [2.0, 1.0], seed=12)
    cal = weights.calibrated_weights(x, y, n_boot=50)
    exp = weights.expert_weights({"x0": 0.2, "x1": 0.8}, ["x0", "x1"])
    pd.testing.assert_series_equal(weights.blend_weights(exp, cal, 0).weights, exp.weights)
    np.testing.assert_allclose(weights.blend_weights(exp, cal, 1).weights, cal.weights)
    half = weights.blend_weights(exp, cal, 0.5)
    np.testing.assert_allclose(half.weights, (exp.weights + cal.weights) / 2)
    assert half.lower.notna().all()
    with pytest.raises(ConfigError, match=r"mix must lie in \[0, 1\]"):
        weights.blend_weights(exp, cal, 1.5)


def test_perturb_keeps_sum_and_moves_one_weight():
    w = pd.Series({"a": 0.5, "b": 0.3, "c": 0.2})
    moved = weights.perturb(w, "b", 0.05)
    assert moved["b"] == pytest.approx(0.35) and moved.sum() == pytest.approx(1.0)
    assert moved["a"] / moved["c"] == pytest.approx(2.5)
    assert weights.perturb(w, "c", -0.5)["c"] == 0.0


def test_compare_weightings_from_default_config_skips_with_reasons(tmp_path):
    section = config.defaults().scoring
    spec = ScoringSpec.from_params(section)
    results, skipped = weights.compare_weightings(spec, section.weights)
    assert {"expert", "equal", "ahp"} <= set(results)
    assert "outcome" in skipped["calibrated"] and "criteria matrix" in skipped["entropy"]
    for res in results.values():
        assert res.weights.sum() == pytest.approx(1.0)
    assert results["ahp"].details["consistency_ratio"] < 0.10
    bad = section.weights.updated(method="calibrated")
    with pytest.raises(InsufficientDataError, match="need an outcome"):
        weights.compare_weightings(spec, bad)
    path = weights.write_weights_yaml(results["ahp"], tmp_path / "weights.yaml")
    saved = yaml.safe_load(path.read_text(encoding="utf-8"))["scoring_weights"]
    assert saved["method"] == "AHP" and sum(saved["weights"].values()) == pytest.approx(1.0, abs=1e-5)


def test_weights_table_is_side_by_side():
    a = weights.equal_weights(["x", "y"])
    b = weights.expert_weights({"x": 0.7, "y": 0.3}, ["x", "y"])
    table = weights.weights_table({"equal": a, "expert": b})
    assert len(table) == 4 and set(table["weighting"]) == {"equal", "expert"}


def test_cluster_bootstrap_widens_intervals_for_repeated_rows():
    """Rows repeated per account carry no new information: resampling accounts whole must show it."""
    x, y = simulate(800, [2.0, 1.0, 0.0], seed=13)
    copies = 4
    xr = pd.concat([x] * copies, ignore_index=True)
    yr = pd.concat([y] * copies, ignore_index=True)
    account = pd.Series(np.tile(np.arange(len(x)), copies))
    rows = weights.calibrated_weights(xr, yr, n_boot=100, seed=14)
    accounts = weights.calibrated_weights(xr, yr, n_boot=100, seed=14, groups=account)
    np.testing.assert_allclose(rows.weights, accounts.weights)  # same point estimate
    ratio = accounts.summary["std_error"]["x0"] / rows.summary["std_error"]["x0"]
    assert 1.5 < ratio < 2.7  # about sqrt(4) = 2 wider
    assert "800 accounts (resampled whole)" in accounts.description
