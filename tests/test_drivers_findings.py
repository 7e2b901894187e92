"""From estimates to findings (analysis.drivers.findings, holdout, text): status, roles, ranks, the
AUC verdict, p-values as printed, and a facade that never raises on a table it cannot use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from analysis import drivers as d
from analysis.errors import ConfigError
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
    "permutation_repeats": 5,  # the shipped value
    "pd_grid": 8,
    "pd_max_rows": 300,
    "auc_n_boot": 200,
}
SEED = defaults().seed


def section(**config):
    return defaults().drivers.updated(**{**FAST, **config})


def linear_eta(table: pd.DataFrame) -> np.ndarray:
    return -1.4 + sum(b * table[k].to_numpy() for k, b in d.SIM_BETA.items())


def redraw(table: pd.DataFrame, eta: np.ndarray, seed: int) -> pd.DataFrame:
    return table.assign(renewed=(np.random.default_rng(seed).random(len(table)) < expit(eta)).astype(int))


# --- p-values as printed (#13.8d) --------------------------------------------------------------


@pytest.mark.parametrize(
    "p, text", [(0.0458, "0.046"), (0.0499, "0.0499"), (0.051, "0.051"), (0.0004, "< 0.001"), (0.5, "0.5")]
)
def test_p_values_keep_two_digits_and_never_round_across_alpha(p, text):
    assert d.format_p(p, 0.05) == text


def test_printed_p_is_on_the_same_side_of_alpha_as_the_value():
    for p in np.random.default_rng(0).uniform(0.001, 0.2, 5000):
        for alpha in (0.01, 0.05, 0.1):
            assert (float(d.format_p(p, alpha)) < alpha) == (p < alpha), (p, alpha)


def test_sentences_print_the_corrected_p_without_rounding_across_alpha():
    """A finding whose corrected p is 0.0458 reads 'corrected p = 0.046', never 'p = 0.05'."""
    table, _ = d.simulate_contracts(3000, seed=3)
    model = d.RenewalDrivers.from_params(section(factors=PLANTED, categorical=[])).fit(table)
    s = model.summary
    for name, row in s.iterrows():
        printed = d.format_p(row["p_adjusted"], model.alpha)
        assert f"corrected p {'= ' if printed[0] != '<' else ''}{printed}" in row["sentence"], name
    assert not s["sentence"].str.contains(r"p = 0\.05\b").any()


# --- the held-out AUC comparison (#13.7) -------------------------------------------------------


def test_weighted_auc_equals_scikit_learn_with_weights_and_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    score = np.round(rng.normal(size=400) + y, 1)  # rounded: many ties
    weights = rng.integers(0, 4, (5, 400)).astype(float)
    ours = d.weighted_auc(y, score, weights)
    for w, value in zip(weights, ours):
        assert value == pytest.approx(roc_auc_score(y, score, sample_weight=w))


def test_auc_difference_interval_covers_the_truth_with_copies_of_one_decision():
    """Two rows per account with the same decision (product lines): resampling accounts keeps the
    95% interval of the AUC difference honest (coverage ~95% over 200 simulated books)."""
    rng = np.random.default_rng(7)

    def book(n):
        x = rng.normal(size=n)
        y = (rng.random(n) < expit(0.5 + x)).astype(int)
        return y, x + rng.normal(0, 0.6, n), x + rng.normal(0, 1.2, n)

    y, a, b = book(400_000)
    ones = np.ones((1, len(y)))
    truth = float(d.weighted_auc(y, a, ones)[0] - d.weighted_auc(y, b, ones)[0])
    hits = []
    for _ in range(200):
        y, a, b = book(300)
        y, a, b, accounts = (np.repeat(v, 2) for v in (y, a, b, np.arange(300)))
        result = d.compare_auc(y, a, b, accounts, margin=0.02, n_boot=300, seed=int(rng.integers(1e9)))
        hits.append(result.lower_95 <= truth <= result.upper_95)
    assert 0.90 <= np.mean(hits) <= 0.99, np.mean(hits)


@pytest.mark.parametrize(
    "difference, lower, upper, verdict",
    [
        (0.05, 0.01, 0.09, "nonlinear"),
        (0.05, -0.01, 0.11, "same"),  # large but not clear
        (0.01, 0.002, 0.018, "same"),  # clear but below the margin
        (-0.03, -0.05, -0.01, "logit better"),
        (-0.03, -0.07, 0.01, "same"),
    ],
)
def test_auc_verdict_follows_the_numbers(difference, lower, upper, verdict):
    assert d.auc_verdict(difference, lower, upper, margin=0.02) == verdict


def test_model_check_says_nonlinear_when_boosting_is_clearly_better():
    table, _ = d.simulate_contracts(4000, seed=5)
    bend = np.random.default_rng(1).uniform(-2, 2, len(table))
    curved = redraw(table.assign(bend=bend), linear_eta(table) + 2.0 * (bend**2 - 4 / 3), seed=2)
    result = d.analyse_contracts(curved, section(factors=[*PLANTED, "bend"], categorical=[]), seed=SEED, segments=False)
    row = result.model_check.set_index("metric").loc[d.AUC_DIFFERENCE]
    check = result.check
    assert row["value"] == pytest.approx(check.holdout_auc_ - check.logit_holdout_auc_)
    assert row["lower_95"] > 0 and row["value"] >= defaults().drivers.auc_margin
    assert row["verdict"] == "nonlinear"


def test_model_check_says_logit_better_when_effects_are_linear_and_boosting_overfits():
    table, _ = d.simulate_contracts(2000, seed=9)
    rng = np.random.default_rng(3)
    noise = [f"z{i}" for i in range(20)]
    table = table.assign(**{c: rng.normal(size=len(table)) for c in noise})
    config = section(factors=[*PLANTED, *noise], categorical=[], min_events_per_factor=5)
    result = d.analyse_contracts(table, config, seed=SEED, segments=False)
    row = result.model_check.set_index("metric").loc[d.AUC_DIFFERENCE]
    assert row["upper_95"] < 0 and row["value"] <= -config.auc_margin
    assert row["verdict"] == "logit better"


# --- status, role, rank (#13.5, #13.6) --------------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    """Planted linear effects plus pure noise, with the boosting check."""
    table, _ = d.simulate_contracts(5000, seed=11)
    config = section(factors=[*PLANTED, "noise_a", "noise_b"], categorical=["industry"], stability_by=["size_band"])
    return d.analyse_contracts(table, config, seed=SEED), config


def test_confirmed_needs_the_regression_and_the_held_out_check(planted):
    result, config = planted
    table = result.table.set_index("factor")
    importance = result.check.importance_
    for name in ("adoption", "payment_delay", "open_tickets"):
        assert table.loc[name, "status"] == "confirmed", table.loc[name].to_dict()
        assert importance.loc[name, "importance"] >= config.confirm_min_importance
        assert "Confirmed on later contracts" in table.loc[name, "sentence"]
    for name in ("noise_a", "noise_b"):
        assert table.loc[name, "status"] == "no clear effect"
    confirmed = table[table["status"] == "confirmed"]
    assert (confirmed["p_adjusted"] < config.alpha).all()
    assert set(confirmed["variable"]) <= set(importance.index[importance["important"]])


def test_without_the_check_a_clear_finding_is_only_possible(planted):
    table_, _ = d.simulate_contracts(5000, seed=11)
    result = d.analyse_contracts(table_, section(factors=PLANTED, categorical=[]), seed=SEED, check=False)
    table = result.table
    clear = table["p_adjusted"] < defaults().drivers.alpha
    assert clear.any() and (table.loc[clear, "status"] == "possible, unconfirmed").all()
    assert table.loc[clear, "sentence"].str.startswith("Possible, unconfirmed: ").all()
    assert table.loc[clear, "status_reason"].str.contains("could not run").all()
    assert result.reasons.empty  # reasons_from: confirmed


def test_findings_rank_by_status_then_standardised_strength(planted):
    result, _ = planted
    table = result.table
    order = table["status"].map({s: i for i, s in enumerate(d.STATUSES)})
    assert order.is_monotonic_increasing and (table["rank"] == np.arange(1, len(table) + 1)).all()
    for _, part in table.groupby("status", sort=False):
        assert part["strength"].is_monotonic_decreasing
    # the standardised effect is log-odds per SD of the design column, for 0/1 and numeric alike
    sd = result.model.column_sd_
    std = table.set_index("factor")
    assert np.allclose(std["std_effect"], std["log_odds"] * sd[std.index])
    conservative = np.maximum(std["std_lower_95"], -std["std_upper_95"]).clip(lower=0)
    assert np.allclose(std["strength"], conservative)


def test_a_rare_flag_with_a_large_odds_ratio_ranks_below_a_common_strong_driver():
    """Issue #13.5: a rare 0/1 factor's big odds ratio moves few accounts; per SD it is small."""
    table, _ = d.simulate_contracts(6000, seed=21)
    rng = np.random.default_rng(4)
    rare = (rng.random(len(table)) < 0.03).astype(int)
    table = redraw(table.assign(rare=rare), linear_eta(table) - 1.0 * rare, seed=5)
    result = d.analyse_contracts(table, section(factors=[*PLANTED, "rare"], categorical=[]), seed=SEED, segments=False)
    ranks = result.table.set_index("factor")["rank"]
    s = result.model.summary
    assert abs(s.loc["rare", "estimate"]) > abs(s.loc["nps", "estimate"])  # bigger per unit ...
    assert ranks["adoption"] < ranks["rare"] and ranks["payment_delay"] < ranks["rare"]  # ... smaller per SD


def test_roles_come_from_the_config_and_unknown_factors_are_traits(planted):
    roles = defaults().drivers.factor_roles
    assert d.role_of("attended_seminar_12m", roles) == "lever"
    assert d.role_of("days_since_last_login", roles) == "symptom"
    assert d.role_of("open_severe_tickets", roles) == "symptom"
    assert d.role_of("something_new", roles) == "trait"
    assert d.role_of("qbrs_12m + executive_visits_12m", roles) == "lever"
    assert d.role_of("qbrs_12m + tickets_12m", roles) == "trait"  # mixed group: no lever claimed
    custom = section(factor_roles={"lever": ["seminar"], "symptom": ["open_tickets"], "trait": []}, factors=PLANTED)
    table, _ = d.simulate_contracts(3000, seed=2)
    roles_of = d.analyse_contracts(table, custom, seed=SEED, check=False, segments=False).table.set_index("factor")
    assert roles_of.loc["seminar", "role"] == "lever" and roles_of.loc["open_tickets", "role"] == "symptom"
    assert roles_of.loc["adoption", "role"] == "trait"
    with pytest.raises(ConfigError, match="both lever and symptom"):
        section(factor_roles={"lever": ["x"], "symptom": ["x"], "trait": []})


def test_a_factor_whose_direction_flips_between_segments_has_no_pooled_effect_and_gives_no_reasons():
    table, _ = d.simulate_contracts(9000, seed=8)
    flip = table["size_band"].map({"enterprise": 2.0, "mid-market": 0.8, "small": -0.6}).to_numpy()
    table = redraw(table, linear_eta(table) + flip * table["noise_a"].to_numpy(), seed=3)
    config = section(factors=[*PLANTED, "noise_a"], categorical=["size_band"], stability_by=["size_band"])
    result = d.analyse_contracts(table, config, seed=SEED)
    row = result.table.set_index("factor").loc["noise_a"]
    assert row["p_adjusted"] < config.alpha  # clear when pooled ...
    assert row["status"] == "depends on segment" and row["sign_flip"]  # ... but it flips
    assert "enterprise" in row["flip_detail"] and "small" in row["flip_detail"]
    assert row["sentence"].startswith("Depends on segment") and "odds" not in row["sentence"]
    assert "noise_a" not in d.reason_factors(result.table, config)
    assert "adoption" in d.reason_factors(result.table, config)


def test_a_flipping_category_level_is_named_with_its_level(planted):
    result, config = planted
    flips = pd.DataFrame(
        [
            {
                "factor": "industry=retail",
                "split": "size_band",
                "segments": 3,
                "clearly_positive": "small",
                "clearly_negative": "enterprise",
                "sign_flip": True,
            }
        ]
    )
    table = d.findings_table(result.model, result.check, flips, config).set_index("factor")
    row = table.loc["industry=retail"]
    assert row["status"] == "depends on segment"
    assert row["sentence"].startswith("Depends on segment: the link between industry = retail and renewal")
    assert "size_band: higher renewal in small, lower in enterprise" in row["sentence"]
    assert "industry" not in d.reason_factors(table.reset_index(), config)  # no factor with a flipping level


# --- term classes (#16.2) ---------------------------------------------------------------------


def test_renewal_rates_by_term_class_with_wilson_intervals_and_left_out_decisions():
    contracts = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c", "c", "d"],
            "renewed": [1, 1, 0, 1, 0, 1],
            "term_class": ["monthly", "monthly", "monthly", "annual", "annual", "annual"],
            "term_days": [31, 30, 31, 365, 366, 365],
            "lead_days": [8, 8, 8, 90, 90, 90],
        }
    )
    decided = pd.Series({"monthly": 5, "annual": 3})
    rates = d.renewal_rates_by_term(contracts, decided).set_index("term_class")
    assert list(rates.index) == ["monthly", "annual"]  # shortest term first
    assert rates.loc["monthly", "renewal_rate"] == pytest.approx(2 / 3)
    assert rates.loc["monthly", "left_out"] == 2 and rates.loc["annual", "left_out"] == 0
    assert rates.loc["annual", "lower_95"] < 2 / 3 < rates.loc["annual", "upper_95"]
    assert rates["share_of_contracts"].sum() == pytest.approx(1)
    assert rates.loc["monthly", "lead_days_median"] == 8


# --- the facade never raises on a table it cannot use (#13.8c) ----------------------------------


class TableRun:
    """The RunInputs protocol around a ready contract table (no book behind it)."""

    def __init__(self, contracts: pd.DataFrame):
        from analysis.data.asof import parse_date

        self.contracts = contracts
        self.params = defaults().updated(drivers=FAST)
        self.as_of = parse_date("2024-06-30")
        self.book = type("NoBook", (), {"has": staticmethod(lambda table: False)})()

    def contract_features(self, decided_before):
        return self.contracts

    def snapshot(self):
        return pd.DataFrame()


@pytest.fixture(scope="module")
def table():
    return d.simulate_contracts(2500, seed=31)[0]


def test_analyse_returns_problems_for_a_table_without_end(table):
    run = TableRun(table.drop(columns="end"))
    run.params = defaults().updated(drivers={**FAST, "factors": PLANTED, "categorical": []})
    result = d.analyse(run)  # used to raise DataContractError
    assert result.model is not None and result.check is None
    skipped = result.not_estimable[result.not_estimable["factor"] == "(analysis)"]["detail"].str.cat(sep=" ")
    assert "Non-linear check skipped" in skipped and "'end'" in skipped
    assert not (result.table["status"] == "confirmed").any()  # nothing confirmed without the check


@pytest.mark.parametrize("column", ["account_id", "renewed"])
def test_analyse_returns_a_fatal_problem_for_a_table_without_a_key_column(table, column):
    result = d.analyse(TableRun(table.drop(columns=column)))
    assert result.model is None and result.table.empty and result.reasons.empty
    fatal = result.not_estimable[result.not_estimable["severity"] == "fatal"]
    assert fatal["problem"].tolist() == ["unusable contract table"] and column in fatal["detail"].iloc[0]
    assert all(isinstance(frame, pd.DataFrame) for frame in result.tables().values())
