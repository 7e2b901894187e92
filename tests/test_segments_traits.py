"""analysis.segments (top tier, rules, candidates): fallback tiers, readable top-tier rules with
held-out precision/coverage, and lookalike upgrade candidates; bad inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import segments as sg
from analysis import segments as tr
from analysis.errors import ConfigError, DataContractError, InsufficientDataError, NotFittedError
from analysis.params import defaults

PYRAMID = defaults().scoring.tiers.pyramid  # the fallback cut is the scoring step's pyramid
TOP_TIERS = defaults().segments.top_tiers
MIN_TOP_SHARE = defaults().segments.high_value_min_top_share
N_GAP_TRAITS = defaults().segments.n_gap_traits

RULE_FEATURES = [
    "industry",
    "size_band",
    "region",
    "employees",
    "product_lines",
    "adoption_90d",
    "payment_delay_days",
    "noise_1",
]


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return sg.simulate_segment_features(3000, seed=21, missing_share=0.02)


@pytest.fixture(scope="module")
def model(book) -> sg.SegmentModel:
    return sg.SegmentModel(features=sg.SIM_SIGNAL_FEATURES, log_features=sg.SIM_LOG, k=4).fit(book)


@pytest.fixture(scope="module")
def independent() -> pd.DataFrame:
    """Independent columns (no proxies of each other), so only the planted rule can explain the top."""
    rng = np.random.default_rng(0)
    n = 3000
    return pd.DataFrame(
        {
            "industry": rng.choice(["manufacturing", "retail", "technology", "services"], n),
            "size_band": rng.choice(["enterprise", "mid-market", "small"], n),
            "region": rng.choice(["north", "south"], n),
            "employees": np.round(np.exp(rng.normal(5, 1, n))).astype(int),
            "product_lines": rng.integers(1, 6, n),
            "adoption_90d": rng.uniform(0, 1, n),
            "payment_delay_days": rng.gamma(2, 10, n),
            "noise_1": rng.normal(0, 1, n),
        },
        index=pd.Index([f"B{i:05d}" for i in range(n)], name="account_id"),
    )


@pytest.fixture(scope="module")
def planted_top(independent) -> pd.Series:
    """Top tier planted as a readable rule: manufacturing AND >= 3 product lines (plus 3% label noise)."""
    rule = (independent["industry"] == "manufacturing") & (independent["product_lines"] >= 3)
    flip = np.random.default_rng(1).random(len(independent)) < 0.03
    return (rule ^ flip).rename("is_top")


@pytest.fixture(scope="module")
def rules(independent, planted_top) -> tr.TraitRules:
    return tr.TraitRules(max_depth=3, seed=1).fit(independent, planted_top, RULE_FEATURES)


# --- tiers -----------------------------------------------------------------------------


def test_fallback_pyramid_cuts_at_the_configured_shares_best_first():
    value = pd.Series(np.arange(1000, 0, -1, dtype=float), index=[f"a{i:04d}" for i in range(1000)])
    tiers = tr.fallback_tiers(value, PYRAMID.shares, PYRAMID.codes)
    assert tiers.value_counts().to_dict() == {"small": 500, "ordinary": 300, "key_secondary": 190, "key_important": 10}
    assert (tiers.iloc[:10] == "key_important").all() and tiers.iloc[-1] == "small"
    shuffled = tr.fallback_tiers(value.sample(frac=1, random_state=1), PYRAMID.shares, PYRAMID.codes)
    assert tiers.equals(shuffled.reindex(value.index))


def test_resolve_tiers_prefers_the_scored_table_and_says_where_tiers_came_from():
    value = pd.Series([5.0, 4.0, 3.0, 2.0], index=pd.Index(list("abcd"), name="account_id"), name="revenue_12m")
    scored = pd.DataFrame({"account_id": list("abc"), "tier": ["small", "key_important", "small"]})
    tiers, note = tr.resolve_tiers(scored, value, PYRAMID.shares, PYRAMID.codes)
    assert tiers.tolist()[:3] == ["small", "key_important", "small"] and pd.isna(tiers["d"])
    assert "scored_accounts" in note and "1 accounts without a scored tier" in note
    tiers, note = tr.resolve_tiers(None, value, [0.5, 0.5], ["top", "rest"])
    assert tiers.tolist() == ["top", "top", "rest", "rest"] and "fallback pyramid on revenue_12m" in note


def _run(pyramid, scored=None):
    """What the facade reads of a run: its parameters and the run's scored_accounts table."""
    params = SimpleNamespace(scoring=SimpleNamespace(tiers=SimpleNamespace(pyramid=pyramid)))
    return SimpleNamespace(params=params, read=lambda name: scored if name == "scored_accounts" else None)


def test_fallback_cut_comes_from_the_scoring_config():
    # pyramid_cut(params) is gone: the facade (run_tiers) cuts the fallback with scoring.tiers.pyramid,
    # the one place of the pyramid; the segments section no longer has tier_shares / tier_codes.
    assert (tuple(PYRAMID.shares), tuple(PYRAMID.codes)) == (
        (0.01, 0.19, 0.30, 0.50),
        ("key_important", "key_secondary", "ordinary", "small"),
    )
    value = pd.Series(np.arange(10, 0, -1, dtype=float), index=pd.Index(list("abcdefghij"), name="account_id"))
    tiers, note = tr.run_tiers(_run(SimpleNamespace(shares=[0.2, 0.8], codes=["a", "b"])), value)
    assert tiers.tolist() == ["a"] * 2 + ["b"] * 8 and "fallback pyramid" in note
    scored = pd.DataFrame({"account_id": list("abcdefghij"), "tier": ["x"] * 5 + ["y"] * 5})
    tiers, note = tr.run_tiers(_run(PYRAMID, scored), value)
    assert tiers.tolist() == ["x"] * 5 + ["y"] * 5 and "scored_accounts" in note
    with pytest.raises(ConfigError, match="tier_shares: unknown key"):
        defaults().segments.updated(tier_shares=[0.5, 0.5])


def test_a_single_tier_or_unknown_top_tiers_give_clear_messages():
    with pytest.raises(InsufficientDataError, match="Every account is in tier 'small'"):
        tr.top_flag(pd.Series(["small"] * 5), ["key_important"])
    with pytest.raises(InsufficientDataError, match="Every account is in a top tier"):
        tr.top_flag(pd.Series(["key_important", "key_secondary"]), TOP_TIERS)
    with pytest.raises(ConfigError, match=r"tiers present are \['A', 'B'\]"):
        tr.top_flag(pd.Series(["A", "B"]), ["key_important"])
    with pytest.raises(ConfigError, match="sum to 1"):
        tr.fallback_tiers(pd.Series([1.0, 2.0]), shares=(0.5, 0.6), names=("a", "b"))


# --- rules -----------------------------------------------------------------------------


def test_rules_recover_the_planted_rule_and_ignore_noise(rules):
    best = rules.rules_.iloc[0]
    assert best["rule"] == "industry = manufacturing AND product_lines >= 3"
    assert best["precision_test"] > 0.85 and best["coverage_test"] > 0.85
    assert "noise_1" not in rules.features_used_ and "region" not in rules.features_used_


def test_precision_and_coverage_are_measured_on_held_out_accounts(rules, independent, planted_top):
    book = independent
    row = rules.rules_.iloc[0]
    n_all = int(rules.rule_objects_[row["rule_id"]].mask(book, rules.medians_).sum())
    assert row["n_train"] + row["n_test"] == n_all  # the two sets partition the book
    assert row["n_test"] == pytest.approx(0.3 * n_all, rel=0.15)
    held_out = book.index.difference(rules.tree_train_index_)
    matched = rules.match(book.loc[held_out])[row["rule_id"]]
    y = planted_top.loc[held_out]
    assert row["precision_test"] == pytest.approx(y[matched].mean())
    assert row["coverage_test"] == pytest.approx(matched[y].mean())
    summary = rules.summary
    assert list(summary.columns[:6]) == ["estimate", "std_error", "lower_95", "upper_95", "z", "p"]
    assert (summary["lower_95"] <= summary["estimate"]).all() and (summary["upper_95"] <= 1).all()
    assert summary["sentence"].iloc[0].startswith("industry = manufacturing AND product_lines >= 3: ")


def test_integer_thresholds_are_rendered_exactly_and_floats_rounded(rules):
    fitted = rules
    cond = fitted._bound("product_lines", ">", 2.5)
    assert cond == tr.Condition("product_lines", ">=", 3.0) and cond.text() == "product_lines >= 3"
    assert fitted._bound("product_lines", "<=", 2.5).text() == "product_lines <= 2"
    assert fitted._bound("adoption_90d", ">", 0.612345).value == 0.612
    x = pd.DataFrame({"product_lines": [2, 3, np.nan]})
    assert cond.mask(x, {"product_lines": 3.0}).tolist() == [False, True, True]  # missing -> training median


def test_boolean_and_category_conditions_read_plainly():
    frame = pd.DataFrame({"flag": [True, False, None], "industry": ["retail", None, "tech"]})
    assert tr.Condition("flag", "=", True).text() == "flag"
    assert tr.Condition("flag", "=", False).text() == "not flag"
    assert tr.Condition("flag", "=", True).mask(frame, {"flag": 0.0}).tolist() == [True, False, False]
    assert tr.Condition("industry", "not in", ("missing", "retail")).mask(frame, {}).tolist() == [False, False, True]
    assert tr.Condition("industry", "not in", ("retail", "missing")).text() == "industry not in {missing, retail}"


def test_too_few_top_accounts_or_one_class_is_refused(book):
    few = pd.Series(False, index=book.index)
    few.iloc[:10] = True
    with pytest.raises(InsufficientDataError, match="Only 10 top-tier"):
        tr.TraitRules().fit(book, few, RULE_FEATURES)
    with pytest.raises(InsufficientDataError, match="same tier group"):
        tr.TraitRules().fit(book, pd.Series(True, index=book.index), RULE_FEATURES)
    with pytest.raises(DataContractError, match=r"\['nps'\]"):
        tr.TraitRules().fit(book, few, ["nps"])
    with pytest.raises(ConfigError, match="rule_max_depth"):
        tr.TraitRules(max_depth=9)
    with pytest.raises(NotFittedError, match="not fitted"):
        tr.TraitRules().match(book)


# --- lookalikes --------------------------------------------------------------------------


def test_upgrade_candidates_are_lookalikes_outside_the_top_with_their_gaps(book, model):
    tiers = tr.fallback_tiers(book["revenue_12m"], PYRAMID.shares, PYRAMID.codes)
    top = tr.top_flag(tiers, TOP_TIERS)
    rules = tr.TraitRules(seed=2).fit(book, top, RULE_FEATURES)
    hv = tr.high_value_clusters(model.labels_, top, MIN_TOP_SHARE)
    assert hv == [1]  # the enterprise-manufacturing cluster holds the top of the pyramid
    cands = tr.upgrade_candidates(
        book, tiers, top, model, rules, n=40, n_traits=N_GAP_TRAITS, min_top_share=MIN_TOP_SHARE
    )
    assert len(cands) == 40 and not top.reindex(cands.index).any()
    assert set(cands["tier"]) <= {"ordinary", "small"}
    # In a high-value cluster or matching a rule first, then nearest first.
    prio = cands["in_high_value_cluster"] | cands["matched_rule"].notna()
    assert prio.is_monotonic_decreasing
    for _, part in cands.groupby(prio):
        assert part["distance"].is_monotonic_increasing
    # Gaps: the median of cluster 1's top-tier accounts minus the account's own value.
    ref = book.loc[(model.labels_ == 1) & top, "product_lines"].median()
    assert np.allclose(cands["gap_product_lines"], ref - book.loc[cands.index, "product_lines"])
    assert cands["gap_summary"].str.len().gt(0).all()


def test_no_one_to_upgrade_is_a_clear_message(book, model):
    everyone = pd.Series(True, index=book.index)
    with pytest.raises(InsufficientDataError, match="nobody to upgrade"):
        tr.upgrade_candidates(
            book,
            pd.Series("key_important", index=book.index),
            everyone,
            model,
            n=100,
            n_traits=N_GAP_TRAITS,
            min_top_share=MIN_TOP_SHARE,
        )
