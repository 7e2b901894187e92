"""The one covariate encoder of the package, built from scikit-learn's ColumnTransformer.

Numbers: optionally ``log1p`` (skewed counts), clipped at fitted quantiles (outliers), then
standardised so that an effect reads "per +1 SD"; 0/1 columns are kept as yes/no. Categories:
one dummy per level against a reference level (given, else the most frequent), named
``column=level``; a level unseen in fitting is encoded as the reference. Every model of the
package that needs a design matrix (survival, drivers) uses this, so a factor has one name
and one unit everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from analysis.errors import ConfigError, NotFittedError

LEVEL_SEP = "="


def _level_name(feature: str, level) -> str:
    return f"{feature}{LEVEL_SEP}{level}"


class QuantileClipper(TransformerMixin, BaseEstimator):
    """Clip each column at its fitted ``quantile`` and ``1 - quantile`` (scikit-learn has no such step)."""

    def __init__(self, quantile: float | None = None):
        self.quantile = quantile

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        if self.quantile:
            self.lower_ = np.nanquantile(X, self.quantile, axis=0)
            self.upper_ = np.nanquantile(X, 1 - self.quantile, axis=0)
        else:
            self.lower_ = np.full(X.shape[1], -np.inf)
            self.upper_ = np.full(X.shape[1], np.inf)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def _log1p(X):
    return np.log1p(np.clip(np.asarray(X, dtype=float), 0, None))


def _sample_sd(scaler: StandardScaler) -> None:
    """Rescale a fitted StandardScaler to the sample SD (n - 1), as pandas and the statistics texts
    use for "+1 SD" effects; scikit-learn's scaler divides by the population SD (n)."""
    n = np.asarray(scaler.n_samples_seen_, dtype=float) * np.ones_like(scaler.scale_)
    varying = (scaler.var_ > 0) & (n > 1)
    factor = np.sqrt(np.where(varying, n / np.maximum(n - 1, 1), 1.0))
    scaler.scale_ = scaler.scale_ * factor
    scaler.var_ = scaler.var_ * factor**2


def _is_binary(values: pd.Series) -> bool:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[~np.isnan(x)]
    return len(x) > 0 and bool(np.all((x == 0) | (x == 1)))


class Encoder:
    """Design matrix of numeric and categorical covariates (see the module docstring).

    ``fit(frame)`` returns self; ``transform(frame)`` returns a DataFrame indexed like ``frame``
    with columns ``columns_``; ``factor_of_`` maps each column to its covariate and ``unit(column)``
    says what one unit of it means. Missing numeric values stay missing (the caller decides).
    """

    def __init__(
        self,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        log1p: Sequence[str] = (),
        standardize: bool = True,
        clip_quantile: float | None = None,
        reference_levels: Mapping[str, str] | None = None,
    ):
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.log1p = [c for c in log1p if c in self.numeric]
        self.standardize = standardize
        self.clip_quantile = clip_quantile
        self.reference_levels = dict(reference_levels or {})

    def fit(self, frame: pd.DataFrame) -> Encoder:
        self.binary_ = [c for c in self.numeric if c not in self.log1p and _is_binary(frame[c])]
        scaled = [c for c in self.numeric if c not in self.binary_]
        self.levels_ = {}
        for col in self.categorical:
            counts = frame[col].astype(str).value_counts()
            ref = str(self.reference_levels.get(col, counts.index[0] if len(counts) else ""))
            if ref not in counts.index:
                raise ConfigError(
                    f"Reference level {ref!r} of '{col}' does not occur in the data; choose one of "
                    f"{sorted(counts.index)}."
                )
            self.levels_[col] = [ref, *sorted(lvl for lvl in counts.index if lvl != ref)]
        steps = []
        logged = [c for c in scaled if c in self.log1p]
        plain = [c for c in scaled if c not in self.log1p]
        for name, cols, log in (("log", logged, True), ("num", plain, False)):
            if cols:
                pipe = [("log1p", FunctionTransformer(_log1p, feature_names_out="one-to-one"))] if log else []
                pipe += [
                    ("clip", QuantileClipper(self.clip_quantile)),
                    ("scale", StandardScaler(with_mean=self.standardize, with_std=self.standardize)),
                ]
                steps.append((name, Pipeline(pipe), cols))
        if self.binary_:
            steps.append(("binary", "passthrough", self.binary_))
        if self.categorical:
            steps.append(
                (
                    "cat",
                    OneHotEncoder(
                        categories=[self.levels_[c] for c in self.categorical],
                        drop="first",
                        handle_unknown="ignore",
                        sparse_output=False,
                        feature_name_combiner=_level_name,
                    ),
                    self.categorical,
                )
            )
        self.transformer_ = ColumnTransformer(steps, verbose_feature_names_out=False, remainder="drop")
        self.transformer_.fit(self._input(frame))
        for name in ("log", "num"):
            if name in self.transformer_.named_transformers_ and self.standardize:
                _sample_sd(self.transformer_.named_transformers_[name].named_steps["scale"])
        produced = list(self.transformer_.get_feature_names_out())
        order = [*self.numeric, *(_level_name(c, lvl) for c in self.categorical for lvl in self.levels_[c][1:])]
        self.columns_ = [c for c in order if c in produced]
        self.factor_of_ = {c: c for c in self.numeric}
        self.factor_of_.update({_level_name(c, lvl): c for c in self.categorical for lvl in self.levels_[c][1:]})
        self._positions = [produced.index(c) for c in self.columns_]
        self.scale_, self.center_, self.bounds_ = {}, {}, {}
        for name, cols, _ in (("log", logged, True), ("num", plain, False)):
            if cols:
                steps_ = self.transformer_.named_transformers_[name].named_steps
                scaler, clipper = steps_["scale"], steps_["clip"]
                for i, c in enumerate(cols):
                    self.scale_[c] = float(scaler.scale_[i]) if self.standardize else 1.0
                    self.center_[c] = float(scaler.mean_[i]) if self.standardize else 0.0
                    if self.clip_quantile:  # on the log scale for logged columns
                        self.bounds_[c] = (float(clipper.lower_[i]), float(clipper.upper_[i]))
        return self

    def _input(self, frame: pd.DataFrame) -> pd.DataFrame:
        data = {c: pd.to_numeric(frame[c], errors="coerce").astype(float) for c in self.numeric}
        data.update({c: frame[c].astype(str) for c in self.categorical})
        return pd.DataFrame(data, index=frame.index)

    def _check_fitted(self) -> None:
        if not hasattr(self, "transformer_"):
            raise NotFittedError("This Encoder is not fitted yet; call fit(frame) first.")

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        with warnings.catch_warnings():  # unseen levels are encoded as the reference; unseen_levels() says which
            warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
            values = self.transformer_.transform(self._input(frame))
        return pd.DataFrame(
            np.asarray(values, dtype=float)[:, self._positions], index=frame.index, columns=self.columns_
        )

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)

    def unseen_levels(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Category levels in ``frame`` that fitting never saw (they are encoded as the reference)."""
        self._check_fitted()
        out = {}
        for col in self.categorical:
            unseen = sorted(set(frame[col].astype(str)) - set(self.levels_[col]))
            if unseen:
                out[col] = unseen
        return out

    def unit(self, column: str) -> str:
        """What one unit of an encoded column means, in words (for analysts; the report has labels)."""
        self._check_fitted()
        feature = self.factor_of_[column]
        if feature in self.levels_:
            return f"{column.split(LEVEL_SEP, 1)[1]} vs {self.levels_[feature][0]}"
        if feature in self.binary_:
            return "yes vs no"
        scale = f"log(1 + {feature})" if feature in self.log1p else feature
        return f"+1 SD of {scale} ({self.scale_[feature]:.3g})" if self.standardize else f"+1 in {scale}"
