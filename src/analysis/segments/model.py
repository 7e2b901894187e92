"""The clustering: k selection, and a reusable model with stable cluster numbers.

Cluster numbers are stable: 1 is the cluster with the highest mean value (e.g. revenue), then
descending, so refitting with another seed or row order cannot swap labels, and a saved model
assigns a later snapshot to the same clusters without refitting. Preprocessing: see
``analysis.segments.features``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import euclidean_distances
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from analysis.core import problems as problems_
from analysis.core.summary import summary_frame
from analysis.errors import ConfigError, DataContractError, InsufficientDataError, NotFittedError
from analysis.params import SegmentsParams
from analysis.segments.features import build_preprocessor, check_features, model_input, split_columns
from analysis.segments.profiles import cluster_means
from analysis.segments.selection import check_enough_accounts, chosen_k, fit_estimator, select_k

ALGORITHMS = ("kmeans", "gmm")
MODEL_FILE = "segment_model.joblib"
META_FILE = "segment_model.json"
CENTROIDS_FILE = "centroids.csv"
CLUSTER_MEANS_FILE = "cluster_means.csv"


# --- the model ---------------------------------------------------------------------------


class SegmentModel:
    """Preprocessing + K-means or Gaussian mixture with stable cluster numbers.

    ``SegmentModel.from_params(params.segments, seed=params.seed)`` builds it from the typed
    ``segments`` section; the keyword arguments are the section's clustering settings (their
    defaults are the estimator's, as in scikit-learn). ``fit(features)`` returns self;
    ``predict(features)`` assigns any later snapshot to the saved clusters without refitting;
    ``save(folder)`` / ``SegmentModel.load(folder)`` keep the fitted preprocessing and centroids
    with the run. Features dropped at fit (empty or constant) are rows of ``problems_``.
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        log_features: Sequence[str] = (),
        categorical_features: Sequence[str] | None = None,
        value_column: str = "revenue_12m",
        algorithm: str = "kmeans",
        k: int | None = None,
        k_range: tuple[int, int] = (2, 10),
        seed: int = 42,
        silhouette_sample: int = 5000,
        selection_sample: int = 20000,
        n_init: int = 4,
        covariance_type: str = "full",
        max_missing_share: float = 0.5,
        drop_constant: bool = False,
        k_bootstrap: int = 10,
        k_bootstrap_sample: int = 1000,
        k_close_margin: float = 0.05,
        k_stable_share: float = 0.8,
    ):
        self.features = features
        self.log_features = log_features
        self.categorical_features = categorical_features
        self.value_column = value_column
        self.algorithm = algorithm
        self.k = k
        self.k_range = k_range
        self.seed = seed
        self.silhouette_sample = silhouette_sample
        self.selection_sample = selection_sample
        self.n_init = n_init
        self.covariance_type = covariance_type
        self.max_missing_share = max_missing_share
        self.drop_constant = drop_constant
        self.k_bootstrap = k_bootstrap
        self.k_bootstrap_sample = k_bootstrap_sample
        self.k_close_margin = k_close_margin
        self.k_stable_share = k_stable_share

    @classmethod
    def from_params(cls, section: SegmentsParams, seed: int) -> SegmentModel:
        """From the typed ``segments`` section (``analysis.params.SegmentsParams``) and the run's seed."""
        return cls(
            features=section.features,
            log_features=section.log_features,
            categorical_features=section.categorical_features,
            value_column=section.value_column,
            algorithm=section.algorithm,
            k=section.k,
            k_range=tuple(section.k_range),
            seed=seed,
            silhouette_sample=section.silhouette_sample,
            selection_sample=section.selection_sample,
            n_init=section.n_init,
            covariance_type=section.covariance_type,
            max_missing_share=section.max_missing_share,
            drop_constant=section.drop_constant,
            k_bootstrap=section.k_bootstrap,
            k_bootstrap_sample=section.k_bootstrap_sample,
            k_close_margin=section.k_close_margin,
            k_stable_share=section.k_stable_share,
        )

    def _validate(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"segments.algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}.")
        lo, hi = self.k_range
        if not (2 <= lo <= hi):
            raise ConfigError(f"segments.k_range must be [low, high] with 2 <= low <= high, got {self.k_range}.")
        if self.k is not None and self.k < 1:
            raise ConfigError(f"segments.k must be a positive number of clusters or null, got {self.k}.")
        if not 0 < self.max_missing_share <= 1:
            raise ConfigError("segments.max_missing_share must lie in (0, 1].")

    # fitting ---------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> SegmentModel:
        self._validate()
        frame = _checked_frame(features)
        if self.value_column not in frame.columns:
            raise DataContractError(
                f"Value column {self.value_column!r} (used to number clusters from the "
                f"most valuable down) is not in the feature table; set segments.value_column."
            )
        # Sorting by account makes the result independent of row order.
        frame = frame.sort_index()
        money, numeric, categorical = split_columns(
            frame, self.features, self.log_features, self.categorical_features, self.value_column
        )
        empty, sparse, constant = check_features(
            frame, money + numeric + categorical, self.max_missing_share, self.drop_constant
        )
        dropped = empty + list(sparse) + constant
        money, numeric, categorical = ([c for c in cols if c not in dropped] for cols in (money, numeric, categorical))
        if not money + numeric + categorical:
            raise InsufficientDataError(
                "No usable segment features are left; list varying columns in segments.features."
            )
        self.log_features_, self.numeric_features_, self.categorical_features_ = money, numeric, categorical
        self.dropped_features_ = dropped
        self.problems_ = problems_.problems_frame(
            [
                problems_.problem(
                    c, "empty", "dropped", "empty for every account (its source table is probably absent)"
                )
                for c in empty
            ]
            + [
                problems_.problem(
                    c,
                    "sparse",
                    "dropped",
                    f"missing for {share:.0%} of accounts (more than segments.max_missing_share "
                    f"{self.max_missing_share:.0%}): imputing it would invent the clusters",
                    "segments.max_missing_share",
                )
                for c, share in sparse.items()
            ]
            + [
                problems_.problem(c, "constant", "dropped", "one value for every account", "segments.drop_constant")
                for c in constant
            ]
        )
        k_needed = self.k if self.k is not None else self.k_range[1]
        check_enough_accounts(len(frame), k_needed)

        X_input = model_input(frame, money, numeric, categorical)
        self.preprocessor_ = build_preprocessor(money, numeric, categorical).fit(X_input)
        X = self.preprocessor_.transform(X_input)
        self.feature_names_ = list(self.preprocessor_.get_feature_names_out())
        # BLAS threads only add overhead on matrices a few dozen columns wide (10x slower on a busy
        # 2-core machine); K-means keeps its OpenMP threads over rows.
        with threadpool_limits(limits=1, user_api="blas"):
            self.selection_ = select_k(X, self) if self.k is None else None
            self.k_ = self.k if self.k is not None else chosen_k(self.selection_, self.algorithm)
            self.estimator_ = fit_estimator(self.algorithm, self.k_, X, self)
        raw = self.estimator_.predict(X)
        self.order_ = _stable_order(raw, frame[self.value_column].to_numpy(dtype=float), X, self.k_)
        labels = self._relabel(raw)
        self.labels_ = pd.Series(labels, index=frame.index, name="cluster")
        self.centroids_ = pd.DataFrame(
            self._raw_centroids()[self._raw_of_label()],
            columns=self.feature_names_,
            index=pd.Index(range(1, self.k_ + 1), name="cluster"),
        )
        described = list(dict.fromkeys(money + numeric + categorical + [self.value_column]))
        self.cluster_means_ = cluster_means(frame[described], self.labels_)
        self.n_fit_ = len(frame)
        return self

    def _raw_centroids(self) -> np.ndarray:
        if isinstance(self.estimator_, KMeans):
            return self.estimator_.cluster_centers_
        return self.estimator_.means_

    def _raw_of_label(self) -> np.ndarray:
        """Raw estimator component for stable labels 1..k."""
        return np.argsort(self.order_)

    def _relabel(self, raw: np.ndarray) -> np.ndarray:
        return self.order_[raw] + 1

    # prediction ------------------------------------------------------------------------
    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        """Features in the model's standardised space (indexed like the input)."""
        self._check_fitted()
        frame = _checked_frame(features)
        cols = self.log_features_ + self.numeric_features_ + self.categorical_features_
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise DataContractError(
                f"The saved segment model needs columns {absent}, absent from this snapshot; "
                f"rebuild features with the same analysis.data.features version or refit."
            )
        X = self.preprocessor_.transform(
            model_input(frame, self.log_features_, self.numeric_features_, self.categorical_features_)
        )
        return pd.DataFrame(X, index=frame.index, columns=self.feature_names_)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Stable cluster number (1 = highest mean value) per account, no refitting."""
        X = self.transform(features)
        return pd.Series(self._relabel(self.estimator_.predict(X.to_numpy())), index=X.index, name="cluster")

    def distances(self, features: pd.DataFrame) -> pd.DataFrame:
        """Euclidean distance (standard units) from each account to each cluster centroid."""
        X = self.transform(features)
        d = euclidean_distances(X.to_numpy(), self.centroids_.to_numpy())
        return pd.DataFrame(d, index=X.index, columns=self.centroids_.index)

    def predict_proba(self, features: pd.DataFrame) -> pd.DataFrame:
        """Membership probabilities (Gaussian mixture only), columns = stable cluster numbers."""
        self._check_fitted()
        if not isinstance(self.estimator_, GaussianMixture):
            raise ConfigError("predict_proba needs segments.algorithm: gmm; K-means assigns hard clusters.")
        X = self.transform(features)
        proba = self.estimator_.predict_proba(X.to_numpy())[:, self._raw_of_label()]
        return pd.DataFrame(proba, index=X.index, columns=self.centroids_.index)

    # reporting -------------------------------------------------------------------------
    @property
    def summary(self) -> pd.DataFrame:
        """Share of accounts per cluster with a binomial standard error, in the project's summary shape."""
        self._check_fitted()
        shares = self.labels_.value_counts(normalize=True).reindex(self.centroids_.index, fill_value=0.0)
        se = np.sqrt(shares * (1 - shares) / self.n_fit_)
        frame = summary_frame([f"cluster {c}" for c in shares.index], shares.to_numpy(), se.to_numpy())
        means = self.cluster_means_[self.value_column]
        frame["sentence"] = [
            f"Cluster {c}: {p:.1%} of accounts, mean {self.value_column} {m:,.0f}"
            for c, p, m in zip(shares.index, shares, means.reindex(shares.index))
        ]
        return frame

    # persistence -----------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the fitted model (joblib) and readable centroids / cluster means / metadata."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / MODEL_FILE)
        self.centroids_.to_csv(folder / CENTROIDS_FILE)
        self.cluster_means_.to_csv(folder / CLUSTER_MEANS_FILE)
        meta = {
            "algorithm": self.algorithm,
            "k": self.k_,
            "seed": self.seed,
            "value_column": self.value_column,
            "n_fit": self.n_fit_,
            "log_features": self.log_features_,
            "numeric_features": self.numeric_features_,
            "categorical_features": self.categorical_features_,
            "dropped_features": self.dropped_features_,
            "feature_names": self.feature_names_,
            "raw_component_of_cluster": self._raw_of_label().tolist(),
            "sklearn_version": sklearn.__version__,
            "selection": None if self.selection_ is None else self.selection_.reset_index().to_dict("records"),
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SegmentModel:
        folder = Path(folder)
        path = folder / MODEL_FILE
        if not path.exists():
            raise DataContractError(f"No saved segment model at {path}; fit one (SegmentModel.fit) and save it first.")
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8")) if (folder / META_FILE).exists() else {}
        if meta.get("sklearn_version") not in (None, sklearn.__version__):
            warnings.warn(
                f"Segment model saved with scikit-learn {meta['sklearn_version']}, loaded with "
                f"{sklearn.__version__}; check predictions or refit.",
                UserWarning,
                stacklevel=2,
            )
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise DataContractError(f"{path} does not hold a SegmentModel.")
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError("SegmentModel is not fitted; call fit(features) or SegmentModel.load(folder).")


def _checked_frame(features: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise DataContractError("Segment features must be a pandas DataFrame indexed by account_id.")
    if features.empty:
        raise InsufficientDataError("The feature table is empty; there are no accounts to cluster.")
    if features.index.has_duplicates:
        dup = features.index[features.index.duplicated()].unique()[:5].tolist()
        raise DataContractError(f"Feature table has duplicated accounts {dup}; pass one row per account.")
    return features


def _stable_order(raw: np.ndarray, value: np.ndarray, X: np.ndarray, k: int) -> np.ndarray:
    """Rank of each raw component: by mean value (descending), then size, then centroid coordinates.

    Returns ``order`` with ``order[raw_component] = stable_label - 1``.
    """
    keys = []
    for comp in range(k):
        member = raw == comp
        mean_value = np.nanmean(value[member]) if member.any() and np.isfinite(value[member]).any() else -np.inf
        centre = X[member].mean(axis=0) if member.any() else np.zeros(X.shape[1])
        keys.append((-mean_value, -int(member.sum()), *np.round(centre, 9)))
    ranked = sorted(range(k), key=lambda comp: keys[comp])
    order = np.empty(k, dtype=int)
    order[ranked] = np.arange(k)
    return order
