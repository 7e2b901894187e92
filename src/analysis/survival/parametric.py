"""A parametric lifetime model for extrapolation beyond the longest tenure observed."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter

from analysis.core.problems import note
from analysis.core.summary import summary_frame
from analysis.errors import ConfigError, ConvergenceError
from analysis.params import SurvivalParams
from analysis.survival.data import EVENT, STOP, check_design, check_survival_data
from analysis.survival.design import SurvivalModel, effect_sentence, make_encoder, unit_text, values_of

PARAMETRIC = {"weibull": WeibullAFTFitter, "lognormal": LogNormalAFTFitter, "loglogistic": LogLogisticAFTFitter}


class ParametricChurnModel(SurvivalModel):
    """Accelerated-failure-time models (lifelines), the best by AIC kept: a smooth lifetime curve
    that can be extrapolated beyond the longest tenure observed (the Cox baseline stays flat there).
    Covariates act on the time scale: a time ratio above 1 means a longer expected lifetime."""

    _fitted_attribute = "lifelines_"

    def __init__(
        self,
        candidates: Sequence[str] = tuple(PARAMETRIC),
        standardize: bool = True,
        penalizer: float = 0.0,
        clip_quantile: float | None = None,
        min_events_per_covariate: float = 10.0,
        seed: int = 0,
    ):
        unknown = set(candidates) - set(PARAMETRIC)
        if unknown or not candidates:
            raise ConfigError(f"Unknown parametric models {sorted(unknown)}; choose from {sorted(PARAMETRIC)}.")
        self.candidates = candidates
        self.standardize = standardize
        self.penalizer = penalizer
        self.clip_quantile = clip_quantile
        self.min_events_per_covariate = min_events_per_covariate
        self.seed = seed

    @classmethod
    def from_params(cls, section: SurvivalParams, seed: int = 0) -> ParametricChurnModel:
        """From the ``survival`` section (every family of :data:`PARAMETRIC` is a candidate)."""
        return cls(
            candidates=tuple(PARAMETRIC),
            standardize=section.standardize,
            penalizer=section.penalizer,
            clip_quantile=section.clip_quantile,
            min_events_per_covariate=section.min_events_per_covariate,
            seed=seed,
        )

    def fit(
        self,
        frame: pd.DataFrame,
        duration_col: str = STOP,
        event_col: str = EVENT,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        entry_col: str | None = None,
    ) -> ParametricChurnModel:
        checks = check_survival_data(frame, duration_col, event_col, numeric, categorical, entry_col, seed=self.seed)
        self._start_problems(checks)
        self.encoder_ = make_encoder(numeric, categorical, self.standardize, self.clip_quantile).fit(frame)
        design = self.encoder_.transform(frame)
        self.fill_ = design.mean()
        check_design(design, frame[event_col].to_numpy(bool), self.min_events_per_covariate)
        data = design.assign(_T=frame[duration_col].to_numpy(float), _E=frame[event_col].to_numpy(int))
        if entry_col:
            data["_entry"] = frame[entry_col].to_numpy(float)
        rows, fitted = [], {}
        for name in self.candidates:  # a handful of candidate families
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = PARAMETRIC[name](penalizer=self.penalizer).fit(
                        data, "_T", "_E", entry_col="_entry" if entry_col else None
                    )
                fitted[name] = model
                rows.append({"model": name, "AIC": model.AIC_, "log_likelihood": model.log_likelihood_, "note": ""})
            except Exception as exc:  # a family that does not converge is reported, not fatal
                rows.append(
                    {"model": name, "AIC": np.nan, "log_likelihood": np.nan, "note": f"failed: {str(exc)[:120]}"}
                )
        self.comparison_ = pd.DataFrame(rows).set_index("model").sort_values("AIC")
        for name, text in self.comparison_["note"].items():
            if text:
                self._report(note(f"the {name} model {text}", kind="not converged"), warn=False)
        if not fitted:
            raise ConvergenceError(
                "No parametric survival model converged ("
                + "; ".join(self.comparison_["note"])
                + "). Check the durations for extreme values or drop covariates."
            )
        self.best_ = self.comparison_.index[0]
        self.lifelines_ = fitted[self.best_]
        if self.summary[["estimate", "std_error"]].isna().any().any():
            raise ConvergenceError(
                f"The {self.best_} model has NaN estimates or standard errors; drop collinear covariates."
            )
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficients of the best model (log time ratios on its scale parameter), common shape."""
        self._check_fitted()
        s = self.lifelines_.summary
        names = [f"{param}: {cov}" for param, cov in s.index]
        frame = summary_frame(names, s["coef"].to_numpy(), s["se(coef)"].to_numpy())
        scale = self.lifelines_._primary_parameter_name
        frame["time_ratio"] = np.where([p == scale for p, _ in s.index], np.exp(frame["estimate"]), np.nan)
        frame["sentence"] = [
            effect_sentence(
                unit_text(self.encoder_, cov),
                np.exp(e),
                np.exp(lo),
                np.exp(u),
                "expected lifetime",
                "longer",
                "shorter",
            )
            if p == scale and cov != "Intercept"
            else ""
            for (p, cov), e, lo, u in zip(s.index, frame["estimate"], frame["lower_95"], frame["upper_95"])
        ]
        return frame

    def predict_survival_function(self, frame: pd.DataFrame, times: Sequence[float], tenure=None) -> pd.DataFrame:
        """Survival ``times`` days after ``tenure`` (conditional on it), lifelines' shape: rows are times."""
        self._check_fitted()
        after = None if tenure is None else values_of(frame, tenure)
        out = self.lifelines_.predict_survival_function(
            self._design(frame, impute=True), times=list(times), conditional_after=after
        )
        out.columns = frame.index
        return out

    def predict_churn_probability(self, frame: pd.DataFrame, horizon_days: float, tenure=None) -> pd.Series:
        surv = self.predict_survival_function(frame, [float(horizon_days)], tenure)
        return pd.Series(1 - surv.iloc[0].to_numpy(), index=frame.index, name="p_churn")

    def predict_median(self, frame: pd.DataFrame, tenure=None) -> pd.Series:
        """Median remaining lifetime in days (infinite when survival never falls to one half)."""
        self._check_fitted()
        after = None if tenure is None else values_of(frame, tenure)
        out = self.lifelines_.predict_median(self._design(frame, impute=True), conditional_after=after)
        return pd.Series(np.asarray(out, dtype=float).ravel(), index=frame.index, name="median_days")
