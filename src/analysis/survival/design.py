"""Covariates of the survival models: the package's one Encoder, plus what survival adds to it.

The design matrix comes from :class:`analysis.core.encoding.Encoder` (log1p of skewed counts,
quantile clipping, standardising, dummies named ``column=level`` against a reference level).
What stays here is the models' job: missing values at prediction (scored at the training mean of
the design column, reported), levels unseen in fitting (scored as the reference, reported), the
words of an effect's unit and the plain sentence of an effect, and the shared model base
(``problems_`` frame, ``NotFittedError``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.core.encoding import LEVEL_SEP, Encoder
from analysis.core.problems import PROBLEM_COLUMNS, problem, problems_frame
from analysis.errors import AssumptionWarning, DataContractError, NotFittedError


def make_encoder(
    numeric: Sequence[str],
    categorical: Sequence[str],
    standardize: bool,
    clip_quantile: float | None,
    reference_levels: dict[str, str] | None = None,
    log_columns: Sequence[str] = (),
) -> Encoder:
    """The Encoder of a survival model (log1p only for the numeric columns among ``log_columns``)."""
    return Encoder(
        numeric=list(numeric),
        categorical=list(categorical),
        log1p=[c for c in log_columns if c in numeric],
        standardize=standardize,
        clip_quantile=clip_quantile,
        reference_levels=dict(reference_levels or {}),
    )


def unit_text(encoder: Encoder, column: str) -> str:
    """What a one-unit change of an encoded column means, naming the covariate: 'band mid vs small',
    'flag yes vs no', '+1 SD in log(1 + logins) (0.52)', '+1 in x'."""
    feature = encoder.factor_of_.get(column, column)
    if feature in encoder.levels_:
        level = column.split(LEVEL_SEP, 1)[1]
        return f"{feature} {level} vs {encoder.levels_[feature][0]}"
    if feature in encoder.binary_:
        return f"{feature} yes vs no"
    name = f"log(1 + {feature})" if feature in encoder.log1p else feature
    if encoder.standardize:
        return f"+1 SD in {name} ({encoder.scale_[feature]:.3g})"
    return f"+1 in {name}"


def effect_sentence(
    unit: str,
    ratio: float,
    lo: float,
    hi: float,
    outcome: str = "churn hazard",
    up: str = "higher",
    down: str = "lower",
) -> str:
    """'+1 SD in logins_90d (4.2): 23% lower churn hazard (95% CI 15-30%)'."""
    if hi < 1:
        return f"{unit}: {1 - ratio:.0%} {down} {outcome} (95% CI {100 * (1 - hi):.0f}-{1 - lo:.0%})"
    if lo > 1:
        return f"{unit}: {ratio - 1:.0%} {up} {outcome} (95% CI {100 * (lo - 1):.0f}-{hi - 1:.0%})"
    return f"{unit}: no clear effect on {outcome} (ratio {ratio:.2f}, 95% CI {lo:.2f}-{hi:.2f})"


def values_of(frame: pd.DataFrame, column_or_values) -> np.ndarray:
    """A column of ``frame`` by name, or the values given, as floats."""
    return np.asarray(frame[column_or_values] if isinstance(column_or_values, str) else column_or_values, float)


class SurvivalModel:
    """What the three survival models share: the fitted check, the ``problems_`` frame (every
    warning is also a row of it) and the design of new data through the fitted encoder."""

    _fitted_attribute = "encoder_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(frame, ...) first.")

    def _start_problems(self, *frames: pd.DataFrame) -> None:
        parts = [f for f in frames if f is not None and len(f)]
        self.problems_ = pd.concat(parts, ignore_index=True)[PROBLEM_COLUMNS] if parts else problems_frame()

    def _report(self, row: dict, warn: bool = True, stacklevel: int = 3) -> None:
        """Add a problem once (by its detail) and, with ``warn``, raise it as an AssumptionWarning."""
        if (self.problems_["detail"] == row["detail"]).any():
            return
        self.problems_ = pd.concat([self.problems_, problems_frame([row])], ignore_index=True)
        if warn:
            warnings.warn(row["detail"], AssumptionWarning, stacklevel=stacklevel + 1)

    def _design(self, frame: pd.DataFrame, impute: bool = False) -> pd.DataFrame:
        """Encoded design of ``frame``. Missing numbers raise, or with ``impute`` take the training
        mean of their design column (reported); levels unseen in fitting score as the reference (reported)."""
        self._check_fitted()
        encoder = self.encoder_
        design = encoder.transform(frame)
        for col, n in design.isna().sum().items():
            if not n:
                continue
            if not impute:
                raise DataContractError(f"Covariate '{col}' has {int(n)} missing values; impute or drop them.")
            design[col] = design[col].fillna(self.fill_[col])
            self._report(
                problem(
                    col,
                    "missing values",
                    "adjusted",
                    f"'{col}': {int(n)} missing values scored at the training mean.",
                    "impute them before scoring",
                )
            )
        for col, levels in encoder.unseen_levels(frame).items():
            self._report(
                problem(
                    col,
                    "unseen level",
                    "adjusted",
                    f"'{col}' has levels unseen in training ({levels[:5]}); they are scored as the reference "
                    f"'{encoder.levels_[col][0]}'.",
                    "merge the new levels with a known one, or refit",
                )
            )
        return design
