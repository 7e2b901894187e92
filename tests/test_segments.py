"""analysis.segments: preprocessing, k selection, stable reusable clusters, profiles, bad inputs.

All on ``simulate_segment_features``: 4 planted segments that differ by several standard
deviations in the signal columns, plus two pure-noise columns (region, noise_1).
"""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from analysis import segments as sg
from analysis.errors import ConfigError, DataContractError, InsufficientDataError, NotFittedError
from analysis.params import defaults


def settings(**kw) -> dict:
    """Keyword arguments of a SegmentModel (flat, scikit-learn style)."""
    base = {"features": sg.SIM_SIGNAL_FEATURES, "log_features": sg.SIM_LOG, "k_range": (2, 6), "seed": 3}
    return {**base, **kw}


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return sg.simulate_segment_features(2000, seed=11, missing_share=0.03)


@pytest.fixture(scope="module")
def model(book) -> sg.SegmentModel:
    return sg.SegmentModel(**settings()).fit(book)


# --- preprocessing ---------------------------------------------------------------------------


def test_preprocessing_logs_money_standardises_numbers_and_one_hot_encodes_categories(model, book):
    X = model.transform(book)
    assert list(X.index) == list(book.index)
    # Money columns are standardised on the signed-log scale, so their spread is 1 there, not in currency.
    logged = sg.signed_log1p(book["revenue_12m"])
    assert np.corrcoef(X["revenue_12m"], logged)[0, 1] == pytest.approx(1.0, abs=1e-12)
    for col in ["revenue_12m", "adoption_90d", "product_lines"]:
        assert X[col].mean() == pytest.approx(0, abs=1e-9) and X[col].std(ddof=0) == pytest.approx(1, abs=1e-9)
    onehot = [c for c in X.columns if c.startswith("industry_")]
    assert "industry_missing" in onehot  # missing industry is its own level, by the stated policy
    assert np.allclose(X[onehot].sum(axis=1), 1.0)


def test_signed_log_keeps_the_sign_of_negative_margins():
    assert sg.signed_log1p(np.array([-np.e + 1, 0.0, np.e - 1])) == pytest.approx([-1.0, 0.0, 1.0])


def test_missing_values_are_imputed_with_training_medians(model, book):
    row = book.iloc[[0]].copy()
    row["adoption_90d"] = np.nan
    X = model.transform(row)
    imputer = model.preprocessor_.named_transformers_["num"].named_steps["impute"]
    scaler = model.preprocessor_.named_transformers_["num"].named_steps["scale"]
    j = model.numeric_features_.index("adoption_90d")
    median = book["adoption_90d"].median()
    assert imputer.statistics_[j] == pytest.approx(median)
    assert X["adoption_90d"].iloc[0] == pytest.approx((median - scaler.mean_[j]) / scaler.scale_[j])


# --- k selection and recovery ------------------------------------------------------------


def test_k_selection_table_covers_the_range_and_marks_one_k_per_criterion(model):
    table = model.selection_
    assert list(table.index) == list(range(2, 7))
    assert set(table.columns) >= {"kmeans_inertia", "kmeans_silhouette", "gmm_bic"}
    assert table["chosen_kmeans"].sum() == 1 and table["chosen_gmm"].sum() == 1
    assert table.loc[table["chosen_kmeans"], "kmeans_silhouette"].item() == table["kmeans_silhouette"].max()
    assert table.loc[table["chosen_gmm"], "gmm_bic"].item() == table["gmm_bic"].min()
    assert table["kmeans_inertia"].is_monotonic_decreasing


def test_kmeans_with_silhouette_recovers_the_planted_segments(model, book):
    assert model.k_ == 4
    assert adjusted_rand_score(book["segment"], model.labels_) >= 0.95


def test_noise_columns_blur_the_silhouette_choice(model, book):
    # With two noise columns in the features the silhouette prefers a coarser split: the reason
    # docs/segments.md asks analysts to cluster on chosen behaviour, not on every column.
    noisy = sg.SegmentModel(**settings(features=sg.SIM_FEATURES)).fit(book)
    assert noisy.selection_["kmeans_silhouette"].max() < model.selection_["kmeans_silhouette"].max()


def test_gaussian_mixture_path_recovers_the_segments_at_a_given_k(book):
    gmm = sg.SegmentModel(**settings(algorithm="gmm", k=4, covariance_type="diag")).fit(book)
    assert gmm.selection_ is None and gmm.k_ == 4
    assert adjusted_rand_score(book["segment"], gmm.labels_) >= 0.9
    proba = gmm.predict_proba(book.head(50))
    assert np.allclose(proba.sum(axis=1), 1) and list(proba.columns) == [1, 2, 3, 4]
    assert (proba.idxmax(axis=1) == gmm.predict(book.head(50))).all()


# --- stable, reusable labels -----------------------------------------------------------


def test_clusters_are_numbered_by_mean_value_highest_first(model):
    means = model.cluster_means_["revenue_12m"]
    assert list(means.index) == [1, 2, 3, 4] and means.is_monotonic_decreasing


def test_refit_gives_identical_labels_whatever_the_row_order(model, book):
    shuffled = book.sample(frac=1.0, random_state=5)
    again = sg.SegmentModel(**settings()).fit(shuffled)
    pd.testing.assert_series_equal(again.labels_, model.labels_)


def test_a_different_seed_cannot_swap_cluster_numbers(model, book):
    other = sg.SegmentModel(**settings(seed=99)).fit(book)
    # Raw K-means component ids depend on the seed; the stable numbering must not.
    assert adjusted_rand_score(other.labels_, model.labels_) > 0.99
    assert (other.labels_ == model.labels_).mean() > 0.99


def test_saved_model_assigns_a_later_snapshot_without_refitting(model, book, tmp_path):
    model.save(tmp_path)
    meta = json.loads((tmp_path / sg.META_FILE).read_text())
    assert meta["k"] == 4 and meta["feature_names"] == model.feature_names_
    centroids = pd.read_csv(tmp_path / sg.CENTROIDS_FILE, index_col="cluster")
    assert np.allclose(centroids.to_numpy(), model.centroids_.to_numpy())
    loaded = sg.SegmentModel.load(tmp_path)
    later = sg.simulate_segment_features(500, seed=12)  # a new snapshot: other accounts, same columns
    later.loc[later.index[:5], "industry"] = "aerospace"  # a level never seen at fit time
    with (
        mock.patch.object(KMeans, "fit", side_effect=AssertionError("refit")),
        mock.patch.object(sg.SegmentModel, "fit", side_effect=AssertionError("refit")),
    ):
        labels = loaded.predict(later)
    pd.testing.assert_series_equal(labels, model.predict(later))
    assert adjusted_rand_score(later["segment"], labels) >= 0.95
    # The same planted segment lands in the same numbered cluster as in the fitted book.
    fitted_map = pd.crosstab(book["segment"], model.labels_).idxmax(axis=1)
    later_map = pd.crosstab(later["segment"], labels).idxmax(axis=1)
    pd.testing.assert_series_equal(fitted_map, later_map)


def test_distances_are_zero_at_the_centroids(model):
    centroid_as_row = model.centroids_.iloc[[1]]
    d = np.sqrt(((model.centroids_.to_numpy() - centroid_as_row.to_numpy()) ** 2).sum(axis=1))
    assert d[1] == 0 and (np.delete(d, 1) > 0).all()


def test_summary_has_the_project_shape(model):
    summary = model.summary
    assert list(summary.columns[:6]) == ["estimate", "std_error", "lower_95", "upper_95", "z", "p"]
    assert summary.index.name == "factor" and summary["estimate"].sum() == pytest.approx(1.0)
    assert summary["sentence"].str.startswith("Cluster").all()


# --- profiles ---------------------------------------------------------------------------


def test_differences_name_the_planted_traits_of_the_top_cluster(model, book):
    diffs = sg.cluster_differences(model, book)
    top = sg.top_differences(diffs, 4)
    top1 = top[top["cluster"] == 1].set_index("feature")
    # Cluster 1 is the enterprise-manufacturing segment with many product lines.
    assert {"size_band = enterprise", "industry = manufacturing"} & set(top1.index)
    assert (top1["std_diff"] > 1).all()
    row = diffs[(diffs["cluster"] == 1) & (diffs["feature"] == "product_lines")].iloc[0]
    members = model.labels_ == 1
    assert row["cluster_value"] == pytest.approx(book.loc[members, "product_lines"].mean())
    assert row["lift"] == pytest.approx(row["cluster_value"] / book["product_lines"].mean())
    names = sg.cluster_names(diffs)
    assert names.loc[1].startswith("S1: ")
    heat = sg.heatmap_frame(diffs)
    assert list(heat.index) == [1, 2, 3, 4] and heat.abs().max().max() <= 3.0


def test_profile_shares_add_up_and_renewal_rate_pools_contracts(model, book):
    contracts = pd.DataFrame(
        {
            "account_id": [book.index[0], book.index[0], book.index[1], book.index[2]],
            "end": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-03-01", "2026-01-01"]),
            "renewal_outcome": ["renewed", "not_renewed", "renewed", "open"],
        }
    )
    history = sg.renewal_history(contracts, dt.date(2025, 1, 1), None)  # None: every decision before as-of
    assert history.loc[book.index[0]].tolist() == [2, 1] and book.index[2] not in history.index
    since = sg.renewal_history(contracts, dt.date(2025, 1, 1), (dt.date(2025, 1, 1) - dt.date(2024, 2, 1)).days)
    assert since["decided"].to_dict() == {book.index[0]: 1, book.index[1]: 1}
    profile = sg.profile_clusters(model.labels_, book["revenue_12m"], clv=book["margin_12m"], renewals=history)
    assert profile["share_accounts"].sum() == pytest.approx(1) and profile["share_value"].sum() == pytest.approx(1)
    assert profile["share_clv"].sum() == pytest.approx(1)
    assert profile["decided_contracts"].sum() == 3
    assert profile["share_value"].iloc[0] == profile["share_value"].max()


# --- bad inputs --------------------------------------------------------------------------


def test_fewer_accounts_than_clusters_is_refused(book):
    with pytest.raises(InsufficientDataError, match="3 accounts cannot form 4 clusters"):
        sg.SegmentModel(**settings(k=4)).fit(book.head(3))
    with pytest.raises(InsufficientDataError, match="cannot form 6 clusters"):
        sg.SegmentModel(**settings()).fit(book.head(6))


def test_a_constant_feature_is_named_or_dropped_with_a_warning(book):
    frame = book.assign(product_lines=2)
    with pytest.raises(InsufficientDataError, match=r"\['product_lines'\] take a single value"):
        sg.SegmentModel(**settings(k=4)).fit(frame)
    with pytest.warns(UserWarning, match="Dropping constant segment features"):
        dropped = sg.SegmentModel(**settings(k=4, drop_constant=True)).fit(frame)
    assert dropped.dropped_features_ == ["product_lines"] and "product_lines" not in dropped.feature_names_


def test_a_mostly_missing_feature_is_dropped_with_a_note(book):
    # Was "refused" (InsufficientDataError): one sparse column stopped notebook 06 and the whole run
    # (issue 16.6). It is now dropped with a warning and a problems_ row, never fatal.
    frame = book.copy()
    frame["adoption_90d"] = np.where(np.arange(len(frame)) % 10 < 6, np.nan, frame["adoption_90d"])
    with pytest.warns(UserWarning, match=r"adoption_90d \(6\d%\)"):
        model = sg.SegmentModel(**settings(k=4)).fit(frame)
    assert "adoption_90d" in model.dropped_features_ and "adoption_90d" not in model.feature_names_
    row = model.problems_.set_index("factor").loc["adoption_90d"]
    assert row["problem"] == "sparse" and row["severity"] == "dropped" and "missing for 6" in row["detail"]


def test_missing_columns_duplicates_and_empty_input_have_clear_messages(model, book):
    with pytest.raises(DataContractError, match=r"\['arr'\], absent from this snapshot"):
        model.predict(book.drop(columns="arr"))
    with pytest.raises(DataContractError, match="duplicated accounts"):
        sg.SegmentModel(**settings(k=4)).fit(pd.concat([book, book.head(2)]))
    with pytest.raises(InsufficientDataError, match="empty"):
        sg.SegmentModel(**settings(k=4)).fit(book.head(0))
    with pytest.raises(DataContractError, match="Value column 'clv'"):
        sg.SegmentModel(**settings(k=4, value_column="clv")).fit(book)
    with pytest.raises(DataContractError, match="declared numeric but hold text"):
        sg.SegmentModel(**settings(k=4, categorical_features=[])).fit(book)
    with pytest.raises(NotFittedError, match="not fitted"):
        sg.SegmentModel(**settings()).predict(book)
    with pytest.raises(ConfigError, match="predict_proba needs"):
        model.predict_proba(book)


def test_config_is_checked(tmp_path):
    # The segments section is validated by the typed parameter model (analysis.params.SegmentsParams).
    section = defaults().segments
    with pytest.raises(ConfigError, match="n_clusters: unknown key"):
        section.updated(n_clusters=4)
    with pytest.raises(ConfigError, match="k_range"):
        section.updated(k_range=[1, 5])
    with pytest.raises(ConfigError, match="algorithm"):
        section.updated(algorithm="dbscan")
    # ... and a model built by hand is checked when it is fitted.
    with pytest.raises(ConfigError, match="k_range"):
        sg.SegmentModel(k_range=(1, 5)).fit(pd.DataFrame({"revenue_12m": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match="algorithm"):
        sg.SegmentModel(algorithm="dbscan").fit(pd.DataFrame({"revenue_12m": [1.0, 2.0]}))
    with pytest.raises(DataContractError, match="No saved segment model"):
        sg.SegmentModel.load(tmp_path)
    changed = section.updated(k=3)
    assert sg.SegmentModel.from_params(changed, seed=1).k == 3 and section.k is None  # overrides do not leak
    with pytest.raises(ConfigError, match="clusters: unknown key"):
        sg.SegmentModel.from_params(section.updated(clusters=3), seed=1)


def test_project_config_section_parses():
    s = sg.SegmentModel.from_params(defaults().segments, seed=42)
    assert s.k_range == (3, 8) and s.seed == 42 and set(s.log_features) <= set(s.features)


def test_population_keeps_active_accounts():
    frame = pd.DataFrame({"is_active": [True, False, True]}, index=pd.Index(["a", "b", "c"], name="account_id"))
    assert list(sg.clustering_population(frame, active_only=True).index) == ["a", "c"]
    assert len(sg.clustering_population(frame, active_only=False)) == 3
    with pytest.raises(InsufficientDataError, match="No account is active"):
        sg.clustering_population(frame.assign(is_active=False), active_only=True)


def test_a_feature_empty_for_every_account_is_dropped_with_a_warning(book):
    """An optional table (usage, tickets, ...) absent from the book empties its features: the
    clustering runs on what exists and says which columns it dropped."""
    frame = book.assign(adoption_90d=np.nan)
    with pytest.warns(UserWarning, match=r"adoption_90d.*empty for every account"):
        model = sg.SegmentModel(**settings(k=4)).fit(frame)
    assert "adoption_90d" in model.dropped_features_ and "adoption_90d" not in model.numeric_features_
