"""Who is clustered, and the preprocessing every clustering applies (stated once, applied on fit
and on every later prediction):

* money and count columns (``log_features``; skewed, may be negative, e.g. margins): signed
  ``log1p`` then standardised;
* other numeric and boolean columns: standardised;
* categories: one-hot over every level, levels unseen at fit time are ignored (all-zero row) at
  prediction;
* missing values: numeric -> median of the fitted book, categories -> their own level
  ``"missing"``; a column missing for more than ``max_missing_share`` of the accounts is dropped
  with a warning (and a row of the model's ``problems_``), because imputing most of a column would
  invent the clusters instead of finding them; a sparse column never stops the analysis.

Clustering needs every category level and imputed values (distances, not effects against a
reference level), so it keeps this ColumnTransformer rather than ``analysis.core.encoding.Encoder``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from analysis.errors import DataContractError, InsufficientDataError

MISSING_LEVEL = "missing"


def clustering_population(features: pd.DataFrame, active_only: bool) -> pd.DataFrame:
    """Accounts to cluster: with ``active_only`` those with a contract covering as-of.

    Churned accounts have no usage, tickets or NPS after they leave, so they would form one
    'inactive' cluster whatever they looked like while they were customers.
    """
    if not active_only:
        return features
    if "is_active" not in features.columns:
        raise DataContractError(
            "active_only needs the is_active column of analysis.data.features.build_features; "
            "set segments.active_only: false to cluster every account."
        )
    active = features[features["is_active"].fillna(False).astype(bool)]
    if active.empty:
        raise InsufficientDataError(
            "No account is active at the as-of date; pick an earlier as-of date or set segments.active_only: false."
        )
    return active


def is_numeric(col: pd.Series) -> bool:
    """Numbers and booleans (a boolean is clustered as 0/1)."""
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def as_float(col: pd.Series) -> pd.Series:
    """Float copy with NaN for missing (pandas NA, None, text that is not a number)."""
    return pd.to_numeric(col, errors="coerce").astype("float64")


def signed_log1p(x):
    """log1p that keeps the sign, so negative margins are compressed like positive revenue."""
    return np.sign(x) * np.log1p(np.abs(x))


def split_columns(
    frame: pd.DataFrame,
    features: Sequence[str] | None,
    log_features: Sequence[str],
    categorical_features: Sequence[str] | None,
    value_column: str,
) -> tuple[list[str], list[str], list[str]]:
    """(money, numeric, categorical) feature columns, checked against the frame.

    ``features`` None: every column except ``value_column``; ``categorical_features`` None: the
    text and category columns among them."""
    features = list(features) if features else [c for c in frame.columns if c != value_column]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"Segment features {missing} are not in the feature table; build them with "
            f"analysis.data.features.build_features or remove them from segments.features."
        )
    if categorical_features is not None:
        categorical = [c for c in features if c in categorical_features]
    else:
        categorical = [c for c in features if not is_numeric(frame[c])]
    money = [c for c in features if c in log_features and c not in categorical]
    numeric = [c for c in features if c not in categorical and c not in money]
    bad = [c for c in money + numeric if not is_numeric(frame[c])]
    if bad:
        raise DataContractError(
            f"Columns {bad} are declared numeric but hold text; list them in "
            f"segments.categorical_features or fix their type."
        )
    return money, numeric, categorical


def check_features(
    frame: pd.DataFrame, columns: Sequence[str], max_missing_share: float, drop_constant: bool
) -> tuple[list[str], dict[str, float], list[str]]:
    """Columns dropped before clustering: (empty, sparse -> missing share, constant).

    A column empty for every account is not measured in this book (typically an optional table
    such as usage is absent). A column missing for more than ``max_missing_share`` of the accounts
    is dropped too: imputing most of it would invent the clusters instead of finding them. Both are
    dropped with a warning so the analysis runs on what exists (never fatal). Constant columns raise
    unless ``drop_constant``."""
    shares = frame[list(columns)].isna().mean()
    empty = shares.index[shares == 1.0].tolist()
    if empty:
        warnings.warn(
            f"Dropping segment features {empty}: empty for every account (the table that feeds "
            f"them is probably absent from the book).",
            UserWarning,
            stacklevel=3,
        )
    sparse = {c: float(v) for c, v in shares[(shares > max_missing_share) & (shares < 1.0)].items()}
    if sparse:
        detail = ", ".join(f"{c} ({s:.0%})" for c, s in sparse.items())
        warnings.warn(
            f"Dropping segment features missing for more than {max_missing_share:.0%} of accounts: {detail}.",
            UserWarning,
            stacklevel=3,
        )
    gone = set(empty) | set(sparse)
    constant = [c for c in columns if c not in gone and frame[c].nunique(dropna=True) <= 1]
    if constant and not drop_constant:
        raise InsufficientDataError(
            f"Columns {constant} take a single value on every account, so they cannot separate clusters; "
            f"remove them from segments.features or set segments.drop_constant: true."
        )
    if constant:
        warnings.warn(
            f"Dropping constant segment features {constant}: one value for every account.", UserWarning, stacklevel=3
        )
    return empty, sparse, constant


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


def model_input(frame: pd.DataFrame, money: list[str], numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric columns as float (booleans -> 0/1, pandas NA -> NaN), categories as strings with NaN.

    NaN (not None) marks a missing category because SimpleImputer only detects NaN in object arrays.
    """
    out = {c: as_float(frame[c]) for c in money + numeric}
    for c in categorical:
        out[c] = frame[c].astype("object").map(lambda v: np.nan if pd.isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index)
