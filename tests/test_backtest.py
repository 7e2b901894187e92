"""Back-test metrics against reference implementations, intervals, stability, degenerate outcomes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from analysis import params as config
from analysis.errors import ConfigError, DataContractError
from analysis.params import CriterionParams, WeightsParams
from analysis.scoring import backtest, tiers
from analysis.scoring import score as scoring

PYRAMID = ["key_important", "key_secondary", "ordinary", "small"]


def spec_of(criteria: dict) -> scoring.ScoringSpec:
    """A score over these criteria with the shipped missing-value and weight policies."""
    sc = config.defaults().scoring
    return scoring.ScoringSpec.from_criteria(
        {name: CriterionParams(**c) for name, c in criteria.items()},
        missing=sc.missing,
        neutral_value=sc.neutral_value,
        zscore_clip=sc.zscore_clip,
        normalise_weights=sc.normalise_weights,
    )


@pytest.fixture(scope="module")
def section():
    return config.defaults().scoring


@pytest.fixture(scope="module")
def book():
    """3,000 accounts; renewal and margin depend on ``signal`` only, ``noise`` is pure noise."""
    rng = np.random.default_rng(0)
    n = 3000
    idx = pd.Index([f"A{i:05d}" for i in range(n)], name="account_id")
    signal = rng.normal(size=n)
    renewed = (rng.random(n) < 1 / (1 + np.exp(-(0.5 + 1.2 * signal)))).astype(float)
    renewed[rng.random(n) < 0.5] = np.nan  # half have no renewal decision in the window
    outcomes = pd.DataFrame(
        {
            "renewed_next": renewed,
            "margin_next_12m": np.exp(signal + rng.normal(0, 1, n)),
            "revenue_next_12m": np.exp(signal + rng.normal(0, 0.5, n)),
        },
        index=idx,
    )
    scores = {"signal": pd.Series(50 + 10 * signal, index=idx), "noise": pd.Series(rng.random(n) * 100, index=idx)}
    return scores, outcomes


def test_vectorised_auc_and_spearman_match_reference_implementations():
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=(3, 400)), 1)  # rounding makes ties
    y = (rng.random((3, 400)) < 0.4).astype(float)
    m = rng.normal(size=(3, 400))
    # The helpers take ranks (the back-test ranks its resamples with resample_ranks, which
    # tests/test_scoring_backtest_ranks.py checks against rankdata).
    rank_s, rank_m = stats.rankdata(s, axis=-1), stats.rankdata(m, axis=-1)
    for row in range(3):
        assert backtest._auc(rank_s, y)[row] == pytest.approx(roc_auc_score(y[row], s[row]), rel=1e-12)
        spearman = backtest._spearman(rank_s.copy(), rank_m.copy())[row]
        assert spearman == pytest.approx(stats.spearmanr(s[row], m[row])[0], rel=1e-12)


def test_backtest_metrics_match_direct_computation(book, section):
    scores, outcomes = book
    scheme = section.tiers.pyramid
    bt = backtest.backtest(scores, outcomes, scheme, n_boot=100, seed=2, baseline="noise")
    m = bt.metrics.set_index(["weighting", "metric"])["estimate"]
    lab = outcomes["renewed_next"].notna()
    s = scores["signal"]
    assert m["signal", "renewal_auc"] == pytest.approx(roc_auc_score(outcomes["renewed_next"][lab], s[lab]))
    assert m["signal", "spearman_margin"] == pytest.approx(stats.spearmanr(s, outcomes["margin_next_12m"])[0])
    top = s >= s.quantile(0.8)
    margin = outcomes["margin_next_12m"]
    assert m["signal", "top20_margin_share"] == pytest.approx(margin[top].sum() / margin.sum())
    tier = tiers.tiers_for(scheme, s)
    rate = outcomes["renewed_next"].groupby(tier, observed=False).mean()
    per = bt.per_tier.set_index(["weighting", "tier"])
    np.testing.assert_allclose(per.loc["signal", "renewal_rate"].reindex(PYRAMID), rate.reindex(PYRAMID))
    assert per.loc["signal", "accounts"].tolist() == [30, 570, 900, 1500]
    assert per.loc["signal", "revenue_share"].sum() == pytest.approx(1.0)
    overall = outcomes["renewed_next"].mean()
    assert m["signal", "top_tier_renewal_lift"] == pytest.approx(rate["key_important"] / overall)
    assert m["signal", "top20_renewal_lift"] == pytest.approx(outcomes["renewed_next"][top].mean() / overall)


def test_backtest_intervals_separate_signal_from_noise(book, section):
    scores, outcomes = book
    bt = backtest.backtest(scores, outcomes, section.tiers.pyramid, n_boot=200, seed=3, baseline="noise")
    m = bt.metrics.set_index(["weighting", "metric"])
    noise_auc = m.loc[("noise", "renewal_auc")]
    assert noise_auc["lower_95"] < 0.5 < noise_auc["upper_95"]
    signal_auc = m.loc[("signal", "renewal_auc")]
    assert signal_auc["lower_95"] > 0.65  # 1.2 logit units per SD gives a true AUC of about 0.77
    diff = bt.differences.set_index(["weighting", "metric"])
    assert diff.loc[("signal", "renewal_auc"), "better"]
    assert diff.loc[("signal", "spearman_margin"), "lower_95"] > 0.3
    assert set(bt.table().columns) == set(backtest.METRICS)


def test_single_class_outcome_gives_a_note_not_a_crash(book, section):
    scores, outcomes = book
    all_renewed = outcomes.assign(renewed_next=outcomes["renewed_next"].where(outcomes["renewed_next"].isna(), 1.0))
    bt = backtest.backtest(scores, all_renewed, section.tiers.pyramid, n_boot=20)
    auc = bt.metrics.set_index(["weighting", "metric"]).loc[("signal", "renewal_auc")]
    assert np.isnan(auc["estimate"]) and np.isnan(auc["lower_95"])
    assert any("same outcome" in n for n in bt.notes)


def test_missing_outcome_columns_are_named(book, section):
    scores, outcomes = book
    with pytest.raises(DataContractError, match=r"\['margin_next_12m'\]"):
        backtest.backtest(scores, outcomes.drop(columns="margin_next_12m"), section.tiers.pyramid)


def test_group_rates_match_groupby_and_report_left_out():
    g = pd.Series(pd.Categorical(["a", "b", "a", "b", "a", None], categories=["a", "b"]), name="band")
    y = pd.Series([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    out = backtest.group_rates(g, y, n_boot=50)
    assert out["rate"].tolist() == pytest.approx([2 / 3, 0.5]) and out["accounts"].tolist() == [3, 2]
    assert out.attrs["left_out"] == 1


def test_stability_counts_tier_changes(section):
    rng = np.random.default_rng(4)
    matrix = pd.DataFrame(rng.random((1000, 3)), columns=["a", "b", "c"])
    scheme = section.tiers.pyramid
    stab = backtest.tier_stability(matrix, pd.Series({"a": 0.5, "b": 0.3, "c": 0.2}), scheme)
    assert len(stab) == 6 and set(stab["shift_points"]) == {5.0, -5.0}
    assert (stab["accounts_changed"] > 0).all() and (stab["share_changed"] < 0.5).all()
    still = backtest.tier_stability(matrix, pd.Series({"a": 0.5, "b": 0.3, "c": 0.2}), scheme, delta=0.0)
    assert (still["accounts_changed"] == 0).all()
    # A criterion with all the weight: only that one's ranking matters, so moving it barely matters
    clones = matrix.assign(b=matrix["a"], c=matrix["a"])
    solo = backtest.tier_stability(clones, pd.Series({"a": 1.0, "b": 0.0, "c": 0.0}), scheme)
    assert (solo["accounts_changed"] == 0).all()


def test_scores_from_different_weightings_feed_the_backtest(book, section):
    """The scoring module's output plugs straight into the back-test."""
    scores, outcomes = book
    features = pd.DataFrame({"x": scores["signal"], "y": scores["noise"]})
    spec = spec_of(
        {
            "x": {"direction": "benefit", "normalise": "percentile", "weight": 0.5},
            "y": {"direction": "benefit", "normalise": "percentile", "weight": 0.5},
        }
    )
    scored = scoring.score_accounts(features, spec)
    bt = backtest.backtest({"half": scored["score"]}, outcomes, section.tiers.pyramid, n_boot=20)
    assert bt.differences.empty and len(bt.metrics) == len(backtest.METRICS)


# --- recovery on the synthetic book --------------------------------------------------------
# Seed study behind these assertions (2,000 accounts, seeds 1-8, as-of 2025-01-01, contracts
# bootstrapped by account; docs/scoring.md): the five largest calibrated weights were planted
# drivers in 8/8 books, the drivers held >= 0.92 of the weight, every noise column stayed below
# the median driver, and calibrated beat equal weights on back-tested renewal AUC in 8/8
# (interval above 0 in 5/8). All seven drivers cleared every noise column in 6/8 books only
# (product_lines is confounded with the planted segments), so that is not asserted at this size.

AS_OF = dt.date(2025, 1, 1)
FEATURES = config.defaults().features


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    import json

    from analysis.data import features, io, synth

    path = tmp_path_factory.mktemp("book2000")
    synth.generate_book(path, n_accounts=2000, seed=1)
    truth = json.loads((path / "ground_truth.json").read_text(encoding="utf-8"))["renewal"]
    book = io.load_book(path)
    margin = FEATURES.subscription_margin
    feats, _note = scoring.scoring_population(features.build_features(book, AS_OF, margin))
    rows, renewed = backtest.calibration_set(_source(book), AS_OF, "renewal")
    return truth, feats, rows, renewed, features.build_outcomes(book, AS_OF, margin), book


def _source(book):
    from analysis.data.sources import FeatureSource

    return FeatureSource(book, AS_OF, FEATURES.subscription_margin, FEATURES.renewal_lead_days)


def driver_section(truth: dict, **weights) -> tuple[scoring.ScoringSpec, WeightsParams]:
    """Criteria = the planted drivers (cost when the planted effect is negative) plus the noise columns."""
    crit = {
        name: {"direction": "cost" if beta < 0 else "benefit", "normalise": "zscore"}
        for name, beta in truth["log_odds_per_unit"].items()
    }
    crit.update({name: {"direction": "benefit", "normalise": "zscore"} for name in truth["noise_features"]})
    changes = weights or {"method": "calibrated", "compare": ["equal", "calibrated"], "calibration": {"n_boot": 100}}
    return spec_of(crit), config.defaults().scoring.weights.updated(**changes)


def test_calibrated_weights_put_planted_drivers_above_noise(synthetic):
    truth, feats, rows, renewed, *_ = synthetic
    assert renewed.index.equals(rows.index) and rows["end"].max() < pd.Timestamp(AS_OF)  # no leakage
    results, skipped = backtest.weightings(*driver_section(truth), feats, rows, renewed, seed=1)
    assert not skipped
    w = results["calibrated"].weights
    drivers, noise = list(truth["log_odds_per_unit"]), truth["noise_features"]
    assert set(w.nlargest(5).index) <= set(drivers), w
    assert w[drivers].sum() >= 0.85, w
    assert w[noise].max() < w[drivers].median(), w


def test_calibrated_weights_beat_equal_weights_on_backtested_auc(synthetic, section):
    truth, feats, rows, renewed, outcomes, _book = synthetic
    spec, weights = driver_section(truth)
    results, _ = backtest.weightings(spec, weights, feats, rows, renewed, seed=1)
    scores = backtest.score_weightings(feats, spec, results)
    bt = backtest.backtest(scores, outcomes, section.tiers.pyramid, n_boot=200, seed=2, baseline="equal")
    diff = bt.differences.set_index("metric").loc["renewal_auc"]
    assert diff["difference"] > 0, bt.differences
    auc = bt.metrics.set_index(["weighting", "metric"])["estimate"]
    assert auc["calibrated", "renewal_auc"] > 0.7  # the planted logit is strong; far from a coin flip


def test_margin_calibration_uses_the_year_before_the_as_of_date(synthetic):
    from analysis.data import features

    truth, feats, _rows, _renewed, _outcomes, book = synthetic
    rows, margin = backtest.calibration_set(_source(book), AS_OF, "margin")
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=365)
    expected = features.build_outcomes(book, start.date(), FEATURES.subscription_margin)["margin_next_12m"]
    pd.testing.assert_series_equal(margin.dropna(), expected.reindex(rows.index).dropna(), check_names=False)
    assert margin.notna().sum() > 1000
    res = backtest.weightings(
        *driver_section(truth, method="calibrated", compare=[], calibration={"n_boot": 20}),
        feats,
        rows,
        margin,
        seed=3,
    )[0]["calibrated"]
    assert res.details["outcome_type"] == "continuous" and res.weights.sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="'renewal' or 'margin'"):
        backtest.calibration_set(_source(book), AS_OF, "churn")


# --- the facade: the whole step of a run -----------------------------------------------------


def Inputs(book, as_of, params, tables):
    """What analyse() needs from a run (analysis.core.inputs.RunInputs), without a run folder."""
    from analysis.data.sources import BookInputs

    return BookInputs(book, as_of, params, tables)


FAST = {
    "scoring.weights.data_n_boot": 10,
    "scoring.weights.calibration.n_boot": 10,
    "scoring.backtest.n_boot": 10,
}


def test_analyse_writes_every_scoring_table_with_the_weights_that_cut_the_tiers(synthetic):
    from analysis import catalog
    from analysis.scoring import analyse

    *_, book = synthetic
    params = config.load_params(overrides={**FAST, "scoring.weights.method": "entropy"})
    result = analyse(Inputs(book, AS_OF, params, {}))
    tables = result.tables()
    assert set(tables) == set(catalog.writes(catalog.SCORING))
    for name, frame in tables.items():
        catalog.check_columns(frame, name)
    used = tables["scoring_weights_used"]
    assert set(used["weighting"]) == {"entropy"} and used["weight"].sum() == pytest.approx(1.0)
    assert used["criterion"].tolist() == list(params.scoring.criteria)
    pd.testing.assert_series_equal(
        used.set_index("criterion")["weight"], result.weightings["entropy"].weights, check_names=False
    )
    assert result.backtest_as_of == AS_OF - dt.timedelta(days=365) == result.previous_as_of
    accounts = tables["scored_accounts"]
    assert not any(c.startswith("p_churn") for c in accounts.columns)  # churn risk is joined by its readers
    assert accounts.index.name == "account_id" and len(accounts) == len(result.features)
    assert not result.uses_clv and "revenue growth" in " ".join(result.problems["detail"])
    assert list(result.problems.columns) == ["factor", "problem", "severity", "detail", "action"]
    clv = pd.DataFrame({"account_id": accounts.index, "clv": np.arange(len(accounts), dtype=float)})
    with_clv = analyse(Inputs(book, AS_OF, params, {"clv_accounts": clv}))
    assert with_clv.uses_clv and "clv" in with_clv.scored_accounts.columns
