"""Segments on the synthetic book (conftest ``small_book``: 1,500 accounts, seed 7).

Planted truth: ground_truth_accounts.csv ``segment`` (key_strategic, growth_midmarket, core_small,
low_touch_risky) and ground_truth.json "segments" traits. Clustering uses the project config
(``segments`` section) on accounts active at as-of.
"""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from analysis import segments as sg
from analysis.data.features import build_features
from analysis.data.io import default_as_of, load_book
from analysis.params import SegmentsParams, defaults

PLANTED_K = 4
# Traits ground_truth.json names for key_strategic / growth_midmarket (seats ~ active users).
PLANTED_TOP_TRAITS = {
    "size_band",
    "industry",
    "product_lines",
    "employees",
    "active_users_90d",
    "adoption_90d",
    "qbrs_12m",
    "executive_visits_12m",
    "market_influence",
    "strategic_flag",
    "trainings_12m",
}
# Independent of everything. (webinars_12m is planted as noise for renewal, but like revenue_12m it
# counts only the months an account was a customer in the last year, so it can mark the accounts
# whose trailing revenue is complete; it may appear in a rule, as tenure_days may.)
NOISE = {"noise_1", "noise_2", "region"}
MARGIN = defaults().features.subscription_margin
PYRAMID = defaults().scoring.tiers.pyramid


def snapshot(book, as_of: dt.date | None = None) -> pd.DataFrame:
    return build_features(book, as_of or default_as_of(book), MARGIN)


@pytest.fixture(scope="module")
def section() -> SegmentsParams:
    return defaults().segments


@pytest.fixture(scope="module")
def truth(small_book_dir) -> pd.Series:
    return pd.read_csv(small_book_dir / "ground_truth_accounts.csv", index_col="account_id")["segment"]


@pytest.fixture(scope="module")
def active(small_book, section) -> pd.DataFrame:
    return sg.clustering_population(snapshot(small_book), section.active_only)


@pytest.fixture(scope="module")
def fitted(section, active) -> sg.SegmentModel:
    return sg.SegmentModel.from_params(section.updated(k=PLANTED_K), seed=42).fit(active)


def test_ground_truth_describes_the_planted_segments(small_book_dir):
    segments = json.loads((small_book_dir / "ground_truth.json").read_text())["segments"]
    assert set(segments["traits"]) == {"key_strategic", "growth_midmarket", "core_small", "low_touch_risky"}


def test_kmeans_recovers_the_planted_segments_at_the_planted_k(fitted, active, truth):
    ari = adjusted_rand_score(truth.reindex(active.index), fitted.labels_)
    assert ari >= 0.8, f"adjusted Rand index {ari:.3f}"
    # Cluster 1 (highest mean revenue) is the key-strategic segment.
    assert pd.crosstab(fitted.labels_, truth.reindex(active.index)).loc[1].idxmax() == "key_strategic"


def test_auto_k_selection_table_covers_the_configured_range(section, active):
    model = sg.SegmentModel.from_params(section, seed=42).fit(active)
    lo, hi = section.k_range
    assert list(model.selection_.index) == list(range(lo, hi + 1))
    assert model.k_ == model.selection_["kmeans_silhouette"].idxmax()


def test_rerun_gives_identical_labels(fitted, section, active):
    again = sg.SegmentModel.from_params(section.updated(k=PLANTED_K), seed=42).fit(active)
    pd.testing.assert_series_equal(again.labels_, fitted.labels_)


def test_later_snapshot_is_assigned_to_saved_centroids_without_refit(section, small_book, truth, tmp_path):
    earlier = sg.clustering_population(snapshot(small_book, dt.date(2025, 1, 1)), section.active_only)
    model = sg.SegmentModel.from_params(section.updated(k=PLANTED_K), seed=42).fit(earlier)
    model.save(tmp_path / "segments")
    later = sg.clustering_population(snapshot(small_book), section.active_only)
    loaded = sg.SegmentModel.load(tmp_path / "segments")
    with mock.patch.object(KMeans, "fit", side_effect=AssertionError("refit")):
        labels = loaded.predict(later)
    assert adjusted_rand_score(truth.reindex(later.index), labels) >= 0.8
    both = earlier.index.intersection(later.index)
    assert (labels.loc[both] == model.labels_.loc[both]).mean() >= 0.9  # accounts keep their cluster a year on


def test_trailing_renewal_rate_is_lowest_in_the_risky_cluster(fitted, small_book, section, truth):
    from analysis.data.sources import FeatureSource

    as_of = default_as_of(small_book)
    source = FeatureSource(small_book, as_of, MARGIN, defaults().features.renewal_lead_days)
    labels, renewals, note = sg.trailing_renewals(source, fitted, as_of, section.active_only, sg.TRAILING_WINDOW_DAYS)
    assert "decisions" in note
    rates = sg.cluster_renewal_rate(labels, renewals)["renewal_rate"]
    assert rates.between(0, 1).all() and rates.min() < 0.8 < rates.max()
    risky = pd.crosstab(labels, truth.reindex(labels.index))["low_touch_risky"].idxmax()
    assert rates.idxmin() == risky


def test_top_tier_rules_name_planted_traits_and_no_noise(section, active):
    tiers = sg.fallback_tiers(active["revenue_12m"], PYRAMID.shares, PYRAMID.codes)
    top = sg.top_flag(tiers, section.top_tiers)
    columns = section.rule_features + ["noise_1", "noise_2"]
    rules = sg.TraitRules.from_params(section, seed=42).fit(active, top, columns)
    best = rules.rules_.iloc[0]
    assert set(rules.rule_objects_[best["rule_id"]].features) & PLANTED_TOP_TRAITS, best["rule"]
    assert not set(rules.features_used_) & NOISE, rules.rules_["rule"].tolist()
    # Key accounts hold 2-4 product lines, so no single readable rule is near-pure; the issue's own
    # example ("71% are top-tier") sets the bar for a useful rule, and lift shows it beats the base rate.
    assert best["precision_test"] >= 0.7 and best["lift_test"] >= 3


def test_rules_for_the_key_strategic_segment_name_its_traits(section, active, truth):
    is_key = truth.reindex(active.index).eq("key_strategic")
    columns = section.rule_features + ["noise_1", "noise_2"]
    rules = sg.TraitRules.from_params(section, seed=42).fit(active, is_key, columns)
    assert not set(rules.features_used_) & NOISE, rules.rules_["rule"].tolist()
    assert set(rules.rule_objects_[rules.rules_["rule_id"].iloc[0]].features) <= PLANTED_TOP_TRAITS
    assert rules.overall_["precision_test"] >= 0.8 and rules.overall_["coverage_test"] >= 0.7


def test_upgrade_candidates_come_from_outside_the_top(section, fitted, active):
    tiers = sg.fallback_tiers(active["revenue_12m"], PYRAMID.shares, PYRAMID.codes)
    top = sg.top_flag(tiers, section.top_tiers)
    share = section.high_value_min_top_share
    cands = sg.upgrade_candidates(active, tiers, top, fitted, n=30, n_traits=section.n_gap_traits, min_top_share=share)
    assert len(cands) == 30 and not top.reindex(cands.index).any()
    assert cands["target_cluster"].isin(sg.high_value_clusters(fitted.labels_, top, share)).all()


def test_shipped_configuration_recovers_the_planted_segments_on_the_default_book(default_book_dir, section):
    """The must-show of issue 7 with nothing fixed by hand: k chosen by silhouette over the shipped
    k_range on the default sample book, scored against the planted segment labels."""
    book = load_book(default_book_dir)
    population = sg.clustering_population(snapshot(book), True)
    model = sg.SegmentModel.from_params(section, seed=42).fit(population)
    planted = pd.read_csv(default_book_dir / "ground_truth_accounts.csv", index_col="account_id")["segment"]
    ari = adjusted_rand_score(planted.reindex(model.labels_.index), model.labels_)
    assert ari >= 0.8, f"k={model.k_}, adjusted Rand index {ari:.3f}"
