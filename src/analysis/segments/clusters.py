"""High-value segments: preprocessing, k selection, a reusable cluster model and cluster profiles.

The rules describing the top tier and the lookalike upgrade candidates live in
``analysis.traits``; this module owns the clustering itself.

Preprocessing policy (stated once, applied on fit and on every later prediction):

* money columns (skewed, may be negative, e.g. margins): signed ``log1p`` then standardised;
* other numeric and boolean columns: standardised;
* categories: one-hot, levels unseen at fit time are ignored (all-zero row) at prediction;
* missing values: numeric -> median of the fitted book, categories -> their own level
  ``"missing"``; a column missing for more than ``max_missing_share`` of the accounts is refused,
  because imputing most of a column would invent the clusters instead of finding them.

Cluster numbers are stable: 1 is the cluster with the highest mean value (e.g. revenue), then
descending, so refitting with another seed or row order cannot swap labels, and a saved model
assigns a later snapshot to the same clusters without refitting.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import euclidean_distances, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from analysis.core.summary import summary_frame
from analysis.errors import ConfigError, DataContractError, InsufficientDataError

ALGORITHMS = ("kmeans", "gmm")
MODEL_FILE = "segment_model.joblib"
META_FILE = "segment_model.json"
CENTROIDS_FILE = "centroids.csv"
CLUSTER_MEANS_FILE = "cluster_means.csv"
MISSING_LEVEL = "missing"


# --- configuration -------------------------------------------------------------------------


@dataclass
class SegmentSettings:
    """Parameters of the clustering (the ``segments`` section of ``config/params.yaml``)."""

    features: list[str] | None = None  # None: every column of the frame except value_column
    log_features: list[str] = field(default_factory=list)
    categorical_features: list[str] | None = None  # None: object/category/string columns
    value_column: str = "revenue_12m"
    algorithm: str = "kmeans"
    k: int | None = None  # None: chosen over k_range
    k_range: tuple[int, int] = (2, 10)
    seed: int = 42
    silhouette_sample: int = 5000
    selection_sample: int = 20000
    n_init: int = 4
    covariance_type: str = "full"
    max_missing_share: float = 0.5
    drop_constant: bool = False

    @classmethod
    def from_params(cls, section: dict | None, seed: int | None = None) -> SegmentSettings:
        """Build from the config section, refusing unknown keys (a typo must not pass silently)."""
        section = dict(section or {})
        known = set(cls.__dataclass_fields__)
        extra = {k: section.pop(k) for k in list(section) if k not in known}
        # Keys the traits/notebook steps read from the same section.
        unknown = sorted(k for k in extra if k not in OTHER_KEYS)
        if unknown:
            raise ConfigError(
                f"Unknown keys in the 'segments' config: {unknown}; known keys are {sorted(known | OTHER_KEYS)}."
            )
        if seed is not None and "seed" not in section:
            section["seed"] = seed
        if "k_range" in section:
            section["k_range"] = tuple(section["k_range"])
        settings = cls(**section)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"segments.algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}.")
        lo, hi = self.k_range
        if not (2 <= lo <= hi):
            raise ConfigError(f"segments.k_range must be [low, high] with 2 <= low <= high, got {self.k_range}.")
        if self.k is not None and self.k < 1:
            raise ConfigError(f"segments.k must be a positive number of clusters or null, got {self.k}.")
        if not 0 < self.max_missing_share <= 1:
            raise ConfigError("segments.max_missing_share must lie in (0, 1].")


OTHER_KEYS = {
    "active_only",
    "top_tiers",
    "tier_shares",
    "tier_codes",
    "rule_features",
    "rule_max_depth",
    "rule_min_leaf_share",
    "rule_min_precision",
    "test_share",
    "n_candidates",
    "high_value_min_top_share",
    "n_gap_traits",
}


def clustering_population(features: pd.DataFrame, active_only: bool = True) -> pd.DataFrame:
    """Accounts to cluster: by default those with a contract covering as-of.

    Churned accounts have no usage, tickets or NPS after they leave, so they would form one
    'inactive' cluster whatever they looked like while they were customers.
    """
    if not active_only:
        return features
    if "is_active" not in features.columns:
        raise DataContractError(
            "active_only needs the is_active column of analysis.features.build_features; "
            "set segments.active_only: false to cluster every account."
        )
    active = features[features["is_active"].fillna(False).astype(bool)]
    if active.empty:
        raise InsufficientDataError(
            "No account is active at the as-of date; pick an earlier as-of date or set segments.active_only: false."
        )
    return active


# --- preprocessing -------------------------------------------------------------------------


def is_numeric(col: pd.Series) -> bool:
    """Numbers and booleans (a boolean is clustered as 0/1)."""
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def as_float(col: pd.Series) -> pd.Series:
    """Float copy with NaN for missing (pandas NA, None, text that is not a number)."""
    return pd.to_numeric(col, errors="coerce").astype("float64")


def signed_log1p(x):
    """log1p that keeps the sign, so negative margins are compressed like positive revenue."""
    return np.sign(x) * np.log1p(np.abs(x))


def split_columns(frame: pd.DataFrame, settings: SegmentSettings) -> tuple[list[str], list[str], list[str]]:
    """(money, numeric, categorical) feature columns, checked against the frame."""
    features = (
        list(settings.features) if settings.features else [c for c in frame.columns if c != settings.value_column]
    )
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"Segment features {missing} are not in the feature table; build them with "
            f"analysis.features.build_features or remove them from segments.features."
        )
    if settings.categorical_features is not None:
        categorical = [c for c in features if c in settings.categorical_features]
    else:
        categorical = [c for c in features if not is_numeric(frame[c])]
    money = [c for c in features if c in settings.log_features and c not in categorical]
    numeric = [c for c in features if c not in categorical and c not in money]
    bad = [c for c in money + numeric if not is_numeric(frame[c])]
    if bad:
        raise DataContractError(
            f"Columns {bad} are declared numeric but hold text; list them in "
            f"segments.categorical_features or fix their type."
        )
    return money, numeric, categorical


def check_features(frame: pd.DataFrame, columns: Sequence[str], settings: SegmentSettings) -> list[str]:
    """Drop empty columns, refuse mostly-missing ones; return the dropped columns.

    A column empty for every account is not measured in this book (typically an optional table
    such as usage is absent): it is dropped with a warning so the analysis runs on what exists.
    Constant columns raise unless ``drop_constant``."""
    shares = frame[list(columns)].isna().mean()
    empty = shares.index[shares == 1.0].tolist()
    if empty:
        warnings.warn(
            f"Dropping segment features {empty}: empty for every account (the table that feeds "
            f"them is probably absent from the book).",
            UserWarning,
            stacklevel=3,
        )
    too_missing = shares[(shares > settings.max_missing_share) & (shares < 1.0)]
    if len(too_missing):
        detail = ", ".join(f"{c} ({s:.0%})" for c, s in too_missing.items())
        raise InsufficientDataError(
            f"Columns missing for more than {settings.max_missing_share:.0%} of accounts: {detail}. "
            f"Drop them from segments.features or raise segments.max_missing_share."
        )
    constant = [c for c in columns if c not in empty and frame[c].nunique(dropna=True) <= 1]
    if constant and not settings.drop_constant:
        raise InsufficientDataError(
            f"Columns {constant} take a single value on every account, so they cannot separate clusters; "
            f"remove them from segments.features or set segments.drop_constant: true."
        )
    if constant:
        warnings.warn(
            f"Dropping constant segment features {constant}: one value for every account.", UserWarning, stacklevel=3
        )
    return empty + constant


def build_preprocessor(money: list[str], numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """The ColumnTransformer applying the module's stated policy."""
    money_pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )
    numeric_pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical_pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    parts = []
    if money:
        parts.append(("money", money_pipe, money))
    if numeric:
        parts.append(("num", numeric_pipe, numeric))
    if categorical:
        parts.append(("cat", categorical_pipe, categorical))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def _as_model_input(frame: pd.DataFrame, money: list[str], numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric columns as float (booleans -> 0/1, pandas NA -> NaN), categories as strings with NaN.

    NaN (not None) marks a missing category because SimpleImputer only detects NaN in object arrays.
    """
    out = {c: as_float(frame[c]) for c in money + numeric}
    for c in categorical:
        out[c] = frame[c].astype("object").map(lambda v: np.nan if pd.isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index)


# --- k selection ---------------------------------------------------------------------------


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def fit_estimator(algorithm: str, k: int, X: np.ndarray, settings: SegmentSettings):
    """K-means, or a Gaussian mixture started from the K-means centres.

    Starting the mixture from K-means (``means_init``) is deterministic and saves the mixture's
    own k-means initialisation, which dominates its cost on large books.
    """
    km = KMeans(n_clusters=k, n_init=settings.n_init, random_state=settings.seed).fit(X)
    return km if algorithm == "kmeans" else mixture_from(km, X, settings)


def mixture_from(km: KMeans, X: np.ndarray, settings: SegmentSettings) -> GaussianMixture:
    # reg_covar above the default keeps one-hot columns (near-singular within a cluster) stable.
    return GaussianMixture(
        n_components=km.n_clusters,
        covariance_type=settings.covariance_type,
        means_init=km.cluster_centers_,
        random_state=settings.seed,
        reg_covar=1e-4,
    ).fit(X)


def check_enough_accounts(n: int, k_max: int) -> None:
    if n <= k_max:
        raise InsufficientDataError(
            f"{n} accounts cannot form {k_max} clusters (need more accounts than clusters); "
            f"lower segments.k / segments.k_range or cluster a larger book."
        )


def select_k(X: np.ndarray, settings: SegmentSettings) -> pd.DataFrame:
    """Silhouette (K-means) and BIC (Gaussian mixture) for every k in ``settings.k_range``.

    Both are computed on one random sample of at most ``selection_sample`` accounts, and the
    silhouette on at most ``silhouette_sample`` of those (its cost is quadratic in rows); the
    final model is then fitted on every account. Returns one row per k, for the k-selection plot.
    """
    lo, hi = settings.k_range
    check_enough_accounts(len(X), hi)
    rows = _sample_rows(len(X), settings.selection_sample, settings.seed)
    Xs = X[rows]
    sil_rows = _sample_rows(len(Xs), settings.silhouette_sample, settings.seed + 1)
    records = []
    for k in range(lo, hi + 1):
        km = fit_estimator("kmeans", k, Xs, settings)
        gm = mixture_from(km, Xs, settings)
        records.append(
            {
                "k": k,
                "kmeans_inertia": float(km.inertia_),
                "kmeans_silhouette": _silhouette(Xs[sil_rows], km.labels_[sil_rows]),
                "gmm_bic": float(gm.bic(Xs)),
            }
        )
    table = pd.DataFrame.from_records(records).set_index("k")
    table["chosen_kmeans"] = table.index == table["kmeans_silhouette"].idxmax()
    table["chosen_gmm"] = table.index == table["gmm_bic"].idxmin()
    return table


def _silhouette(X: np.ndarray, labels: np.ndarray) -> float:
    # The sample may miss a small cluster; silhouette is undefined with fewer than 2 labels.
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(silhouette_score(X, labels))


def chosen_k(selection: pd.DataFrame, algorithm: str) -> int:
    """K-means: highest silhouette; Gaussian mixture: lowest BIC."""
    return int(selection.index[selection[f"chosen_{algorithm}"]][0])


# --- the model ---------------------------------------------------------------------------


class SegmentModel:
    """Preprocessing + K-means or Gaussian mixture with stable cluster numbers.

    ``fit(features)`` returns self; ``predict(features)`` assigns any later snapshot to the
    saved clusters without refitting; ``save(folder)`` / ``SegmentModel.load(folder)`` keep the
    fitted preprocessing and centroids with the run.
    """

    def __init__(self, settings: SegmentSettings | None = None, **overrides):
        unknown = [k for k in overrides if k not in SegmentSettings.__dataclass_fields__]
        if unknown:
            raise ConfigError(f"SegmentModel has no settings {unknown}.")
        self.settings = replace(settings or SegmentSettings(), **overrides)
        self.settings.validate()

    # fitting ---------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> SegmentModel:
        s = self.settings
        frame = _checked_frame(features)
        if s.value_column not in frame.columns:
            raise DataContractError(
                f"Value column {s.value_column!r} (used to number clusters from the "
                f"most valuable down) is not in the feature table; set segments.value_column."
            )
        # Sorting by account makes the result independent of row order.
        frame = frame.sort_index()
        money, numeric, categorical = split_columns(frame, s)
        dropped = check_features(frame, money + numeric + categorical, s)
        money, numeric, categorical = ([c for c in cols if c not in dropped] for cols in (money, numeric, categorical))
        if not money + numeric + categorical:
            raise InsufficientDataError(
                "No usable segment features are left; list varying columns in segments.features."
            )
        self.log_features_, self.numeric_features_, self.categorical_features_ = money, numeric, categorical
        self.dropped_features_ = dropped
        k_needed = s.k if s.k is not None else s.k_range[1]
        check_enough_accounts(len(frame), k_needed)

        model_input = _as_model_input(frame, money, numeric, categorical)
        self.preprocessor_ = build_preprocessor(money, numeric, categorical).fit(model_input)
        X = self.preprocessor_.transform(model_input)
        self.feature_names_ = list(self.preprocessor_.get_feature_names_out())
        # BLAS threads only add overhead on matrices a few dozen columns wide (10x slower on a busy
        # 2-core machine); K-means keeps its OpenMP threads over rows.
        with threadpool_limits(limits=1, user_api="blas"):
            self.selection_ = select_k(X, s) if s.k is None else None
            self.k_ = s.k if s.k is not None else chosen_k(self.selection_, s.algorithm)
            self.estimator_ = fit_estimator(s.algorithm, self.k_, X, s)
        raw = self.estimator_.predict(X)
        self.order_ = _stable_order(raw, frame[s.value_column].to_numpy(dtype=float), X, self.k_)
        labels = self._relabel(raw)
        self.labels_ = pd.Series(labels, index=frame.index, name="cluster")
        self.centroids_ = pd.DataFrame(
            self._raw_centroids()[self._raw_of_label()],
            columns=self.feature_names_,
            index=pd.Index(range(1, self.k_ + 1), name="cluster"),
        )
        described = list(dict.fromkeys(money + numeric + categorical + [s.value_column]))
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
                f"rebuild features with the same analysis.features version or refit."
            )
        X = self.preprocessor_.transform(
            _as_model_input(frame, self.log_features_, self.numeric_features_, self.categorical_features_)
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
        means = self.cluster_means_[self.settings.value_column]
        frame["sentence"] = [
            f"Cluster {c}: {p:.1%} of accounts, mean {self.settings.value_column} {m:,.0f}"
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
            "algorithm": self.settings.algorithm,
            "k": self.k_,
            "seed": self.settings.seed,
            "value_column": self.settings.value_column,
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
            raise ConfigError("SegmentModel is not fitted; call fit(features) or SegmentModel.load(folder).")


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


# --- profiles ----------------------------------------------------------------------------


def cluster_means(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Per cluster: mean of numeric columns and most common level of categories (original units)."""
    numeric = [c for c in frame.columns if is_numeric(frame[c])]
    cats = [c for c in frame.columns if c not in numeric]
    grouped = frame.groupby(labels)
    out = pd.DataFrame({c: as_float(frame[c]).groupby(labels).mean() for c in numeric}, index=grouped.size().index)
    for c in cats:
        out[c] = grouped[c].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
    out.insert(0, "n_accounts", grouped.size())
    out.index.name = "cluster"
    return out


def cluster_differences(model: SegmentModel, features: pd.DataFrame, labels: pd.Series | None = None) -> pd.DataFrame:
    """Long table: each cluster and feature, how far the cluster sits from the whole book.

    ``std_diff`` is the difference of means in the model's standard units (money on the log
    scale); for a category level it is (share in cluster - share in book) / sd of the indicator.
    ``lift`` is cluster mean / book mean in original units (share ratio for category levels).
    """
    labels = model.predict(features) if labels is None else labels
    X = model.transform(features)
    rows = []
    book_sd = X.std(ddof=0).replace(0, np.nan)
    z = (X - X.mean()) / book_sd
    by_cluster = z.groupby(labels).mean()
    for col in model.log_features_ + model.numeric_features_:
        raw = as_float(features[col])
        book_mean = raw.mean()
        for c, m in raw.groupby(labels).mean().items():
            rows.append(
                (c, col, m, book_mean, by_cluster.loc[c, col], m / book_mean if book_mean and book_mean > 0 else np.nan)
            )
    onehot = [n for n in model.feature_names_ if n not in model.log_features_ + model.numeric_features_]
    for name in onehot:
        book_share = X[name].mean()
        for c, share in X[name].groupby(labels).mean().items():
            rows.append(
                (
                    c,
                    _level_name(model, name),
                    share,
                    book_share,
                    by_cluster.loc[c, name],
                    share / book_share if book_share > 0 else np.nan,
                )
            )
    table = pd.DataFrame(rows, columns=["cluster", "feature", "cluster_value", "book_value", "std_diff", "lift"])
    table["abs_std_diff"] = table["std_diff"].abs()
    return table.sort_values(["cluster", "abs_std_diff"], ascending=[True, False]).reset_index(drop=True)


def _level_name(model: SegmentModel, onehot_name: str) -> str:
    """OneHotEncoder names 'industry_manufacturing'; render 'industry = manufacturing'."""
    for col in sorted(model.categorical_features_, key=len, reverse=True):
        if onehot_name.startswith(col + "_"):
            return f"{col} = {onehot_name[len(col) + 1 :]}"
    return onehot_name


def top_differences(differences: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` features where each cluster differs most from the book."""
    return differences.groupby("cluster", group_keys=False).head(n).drop(columns="abs_std_diff")


def cluster_names(differences: pd.DataFrame, n_traits: int = 2) -> pd.Series:
    """Readable names from each cluster's strongest traits, e.g. 'S1: arr high, size_band = enterprise'.

    The strongest number and the strongest over-represented category level come first, so a name
    does not spend both words on two measures of the same thing (users and logins).
    """
    names = {}
    for c, part in differences.groupby("cluster"):
        is_level = part["feature"].str.contains(" = ")
        numbers = [
            f"{f} {'high' if d > 0 else 'low'}"
            for f, d in zip(part.loc[~is_level, "feature"], part.loc[~is_level, "std_diff"])
        ]
        levels = part.loc[is_level & (part["std_diff"] > 0), "feature"].tolist()
        ordered = numbers[:1] + levels[:1] + numbers[1:] + levels[1:]
        names[c] = f"S{c}: " + ", ".join(ordered[:n_traits])
    return pd.Series(names, name="cluster_name").rename_axis("cluster")


def heatmap_frame(differences: pd.DataFrame, n_per_cluster: int = 4, clip: float = 3.0) -> pd.DataFrame:
    """Cluster x feature matrix of std_diff for the features that matter most to any cluster."""
    keep = top_differences(differences, n_per_cluster)["feature"].unique()
    mat = differences[differences["feature"].isin(keep)].pivot(index="cluster", columns="feature", values="std_diff")
    return mat[list(keep)].clip(-clip, clip)


def plot_profile_heatmap(differences: pd.DataFrame, n_per_cluster: int = 4, ax=None):
    """Seaborn heatmap of :func:`heatmap_frame` (red above the book, blue below)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    mat = heatmap_frame(differences, n_per_cluster)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(max(7.0, 1.0 + 0.8 * mat.shape[1]), 16), max(3.0, 1.2 + 0.6 * mat.shape[0])))
    sns.heatmap(mat, cmap="RdBu_r", center=0, annot=True, fmt=".1f", cbar_kws={"label": "difference (SD)"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("cluster")
    ax.tick_params(axis="x", rotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


def renewal_history(contracts: pd.DataFrame, as_of, since=None) -> pd.DataFrame:
    """Per account: contracts decided in ``[since, as_of)`` and how many renewed (index account_id)."""
    end = pd.to_datetime(contracts["end"])
    keep = (end < pd.Timestamp(as_of)) & contracts["renewal_outcome"].isin(["renewed", "not_renewed"])
    if since is not None:
        keep &= end >= pd.Timestamp(since)
    return (
        contracts[keep]
        .groupby("account_id")["renewal_outcome"]
        .agg(decided="size", renewed=lambda s: int((s == "renewed").sum()))
    )


def trailing_renewals(book, model: SegmentModel, as_of, active_only: bool = True, months: int = 12):
    """Clusters of ``months`` before as-of (saved model, no refit) and the renewal decisions since.

    Today's active customers have renewed every past contract by construction (those who did not
    are gone), so a cluster's renewal rate is measured forward: of the customers it held a year
    ago, the share of contracts decided since then that renewed. Returns (labels, renewals, note);
    labels and renewals are None when the book does not reach back that far.
    """
    from analysis import features  # the feature build needs DuckDB; imported only when used

    start = (pd.Timestamp(as_of) - pd.DateOffset(months=months)).date()
    try:
        earlier = clustering_population(features.build_features(book, start), active_only)
    except InsufficientDataError:
        return None, None, f"No renewal rate: no customer was active on {start}, {months} months before as-of."
    labels = model.predict(earlier)
    renewals = renewal_history(book.df("contracts"), as_of, since=start)
    note = (
        f"Renewal rate: customers of each cluster on {start} (assigned with the same model), contracts "
        f"decided from then to as-of ({int(renewals['decided'].sum()):,} decisions)."
    )
    return labels, renewals, note


def cluster_renewal_rate(labels: pd.Series, renewals: pd.DataFrame) -> pd.DataFrame:
    """Renewed / decided contracts pooled over each cluster's accounts."""
    sums = renewals.reindex(labels.index).fillna(0).groupby(labels).sum()
    return pd.DataFrame(
        {
            "renewal_rate": sums["renewed"] / sums["decided"].replace(0, np.nan),
            "decided_contracts": sums["decided"].astype(int),
        }
    )


def profile_clusters(
    labels: pd.Series,
    value: pd.Series,
    clv: pd.Series | None = None,
    renewals: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    top_tiers: Iterable[str] = (),
    renewal_labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Size, share of value / CLV, renewal rate and top-tier share per cluster.

    ``renewals`` is :func:`renewal_history`, pooled over ``renewal_labels`` (default ``labels``;
    see :func:`trailing_renewals` for why the clusters of a year ago are the right ones).
    Optional inputs that are None give no column rather than a made-up one.
    """
    frame = pd.DataFrame({"cluster": labels, "value": value.reindex(labels.index)})
    g = frame.groupby("cluster")
    out = pd.DataFrame({"n_accounts": g.size()})
    out["share_accounts"] = out["n_accounts"] / out["n_accounts"].sum()
    out["mean_value"] = g["value"].mean()
    out["share_value"] = g["value"].sum() / frame["value"].sum()
    if clv is not None:
        c = clv.reindex(labels.index)
        out["share_clv"] = c.groupby(labels).sum() / c.sum()
    if renewals is not None:
        out = out.join(cluster_renewal_rate(labels if renewal_labels is None else renewal_labels, renewals))
    if tiers is not None:
        top = tiers.reindex(labels.index).isin(list(top_tiers))
        out["top_tier_share"] = top.groupby(labels).mean()
    return out


# --- simulation (tests and benchmarks) ---------------------------------------------------


def simulate_segment_features(n: int = 2000, seed: int = 0, missing_share: float = 0.0) -> pd.DataFrame:
    """A feature table with 4 planted segments (column ``segment``) and 12 clustering features.

    Segments: 1 enterprise manufacturers with many product lines and high revenue; 2 mid-market
    technology with heavy usage; 3 small retail, low revenue, late payers; 4 mid-market services
    with light usage. ``region`` and ``noise_1`` carry no segment signal. Used to test recovery
    and to benchmark; the real book comes from analysis.synth.
    """
    rng = np.random.default_rng(seed)
    seg = rng.choice([1, 2, 3, 4], size=n, p=[0.15, 0.25, 0.35, 0.25])
    spec = {  # industry, size_band, log employees, log revenue, product lines, adoption, payment delay
        1: ("manufacturing", "enterprise", 7.0, 13.0, 4.0, 0.55, 5.0),
        2: ("technology", "mid-market", 5.5, 11.5, 2.0, 0.9, 4.0),
        3: ("retail", "small", 3.5, 9.5, 1.0, 0.35, 35.0),
        4: ("services", "mid-market", 5.0, 10.5, 1.0, 0.45, 20.0),
    }
    col = {j: np.array([spec[s][j] for s in seg]) for j in range(7)}
    industries = np.array(["manufacturing", "technology", "retail", "services", "finance"])
    # 10% of accounts carry another industry, so categories are informative but not perfect.
    industry = np.where(rng.random(n) < 0.9, col[0], industries[rng.integers(0, 5, n)])
    revenue = np.exp(col[3] + rng.normal(0, 0.35, n))
    frame = pd.DataFrame(
        {
            "industry": industry,
            "size_band": col[1],
            "region": rng.choice(["north", "south", "east", "west"], size=n),
            "employees": np.round(np.exp(col[2] + rng.normal(0, 0.3, n))).astype(int),
            "arr": revenue * rng.uniform(0.5, 0.7, n),
            "revenue_12m": revenue,
            "margin_12m": revenue * rng.normal(0.3, 0.08, n),
            "product_lines": np.clip(np.round(col[4] + rng.normal(0, 0.5, n)), 1, 6).astype(int),
            "adoption_90d": np.clip(col[5] + rng.normal(0, 0.08, n), 0, 1),
            "logins_90d": rng.poisson(np.exp(2 + 4 * col[5])),
            "payment_delay_days": np.clip(col[6] + rng.normal(0, 4, n), 0, None),
            "noise_1": rng.normal(0, 1, n),
            "segment": seg,
        },
        index=pd.Index([f"A{i:06d}" for i in range(n)], name="account_id"),
    )
    if missing_share > 0:
        for c in ("employees", "adoption_90d", "industry"):
            frame[c] = frame[c].astype("object" if c == "industry" else "float64")
            frame.loc[rng.random(n) < missing_share, c] = np.nan if c != "industry" else None
    return frame


# Features that describe the planted segments (SIM_FEATURES adds the two pure-noise columns).
SIM_SIGNAL_FEATURES = [
    "industry",
    "size_band",
    "employees",
    "arr",
    "revenue_12m",
    "margin_12m",
    "product_lines",
    "adoption_90d",
    "logins_90d",
    "payment_delay_days",
]
SIM_FEATURES = [
    "industry",
    "size_band",
    "region",
    "employees",
    "arr",
    "revenue_12m",
    "margin_12m",
    "product_lines",
    "adoption_90d",
    "logins_90d",
    "payment_delay_days",
    "noise_1",
]
SIM_LOG = ["arr", "revenue_12m", "margin_12m", "employees", "logins_90d"]
