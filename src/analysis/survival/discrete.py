"""Churn at renewals as a discrete-time hazard (the exact model when churn happens only at renewals)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.core.summary import adjust_p, summary_frame
from analysis.errors import ConfigError, ConvergenceError
from analysis.params import SurvivalParams
from analysis.survival.data import ENTRY, EVENT, STOP, check_design, check_survival_data
from analysis.survival.design import SurvivalModel, effect_sentence, make_encoder, unit_text


class DiscreteHazardModel(SurvivalModel):
    """Churn at renewals as a discrete-time hazard: P(leave at renewal k | reached it, x at the cut-off)
    = expit(alpha_k + x'beta), one intercept per renewal number; statsmodels Logit with standard
    errors clustered by account. This is Cox's (1972) logistic model for grouped times: when churn
    happens only at renewals it is the exact model (the synthetic book plants this form), whereas a
    Cox fit with Efron ties estimates the grouped proportional-hazards (complementary log-log)
    coefficient, smaller in magnitude. exp(beta) is an odds ratio of leaving at a renewal.

    Renewal numbers with fewer than ``min_events_per_period`` churns at or after them are pooled
    with the last well-filled one."""

    _fitted_attribute = "result_"

    def __init__(
        self,
        standardize: bool = True,
        min_events_per_covariate: float = 10.0,
        clip_quantile: float | None = None,
        reference_levels: dict[str, str] | None = None,
        period_days: int = 365,
        min_events_per_period: int = 10,
        p_adjust: str = "holm",
        log_columns: Sequence[str] = (),
        seed: int = 0,
    ):
        self.standardize = standardize
        self.min_events_per_covariate = min_events_per_covariate
        self.clip_quantile = clip_quantile
        self.reference_levels = reference_levels
        self.period_days = period_days
        self.min_events_per_period = min_events_per_period
        self.p_adjust = p_adjust
        self.log_columns = log_columns
        self.seed = seed

    @classmethod
    def from_params(cls, section: SurvivalParams, seed: int = 0) -> DiscreteHazardModel:
        """From the ``survival`` section: the renewal period is the contract term ``cycle_days``."""
        if section.cycle_days is None:
            raise ConfigError(
                "The discrete-time hazard model needs the contract term: set survival.cycle_days (e.g. 365)."
            )
        return cls(
            standardize=section.standardize,
            min_events_per_covariate=section.min_events_per_covariate,
            clip_quantile=section.clip_quantile,
            reference_levels=dict(section.reference_levels),
            period_days=section.cycle_days,
            min_events_per_period=section.min_events_per_cycle,
            p_adjust=section.p_adjust,
            log_columns=list(section.log_columns),
            seed=seed,
        )

    def _period(self, stop) -> np.ndarray:
        k = np.maximum(1, np.round(np.asarray(stop, float) / self.period_days)).astype(int)
        return np.minimum(k, self.last_period_)

    def fit(
        self,
        frame: pd.DataFrame,
        duration_col: str = STOP,
        event_col: str = EVENT,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        entry_col: str | None = ENTRY,
        cluster_col: str | None = "account_id",
    ) -> DiscreteHazardModel:
        import statsmodels.api as sm  # local: only this model needs the formula-free API

        entry_col = entry_col if entry_col in frame else None
        logged = [c for c in self.log_columns if c in numeric]
        checks = check_survival_data(
            frame,
            duration_col,
            event_col,
            numeric,
            categorical,
            entry_col,
            log_columns=logged,
            clip_quantile=self.clip_quantile,
            seed=self.seed,
        )
        self._start_problems(checks)
        self.encoder_ = make_encoder(
            numeric, categorical, self.standardize, self.clip_quantile, self.reference_levels, logged
        ).fit(frame)
        design = self.encoder_.transform(frame)
        self.fill_ = design.mean()
        event = frame[event_col].to_numpy(int)
        check_design(design, event.astype(bool), self.min_events_per_covariate)
        k = np.maximum(1, np.round(frame[duration_col].to_numpy(float) / self.period_days)).astype(int)
        by_period = pd.Series(event).groupby(k).sum()
        self.last_period_ = int(by_period.index.max())
        late = lambda k: by_period.loc[by_period.index >= k].sum()  # noqa: E731 - events at renewal k or later
        while self.last_period_ > 1 and late(self.last_period_) < self.min_events_per_period:
            self.last_period_ -= 1  # pool sparse late renewals with the last well-filled one
        period = pd.get_dummies(
            pd.Series(self._period(frame[duration_col]), index=frame.index), prefix="renewal", dtype=float
        )
        X = pd.concat([period, design], axis=1)
        fit_kw = (
            {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(frame[cluster_col])[0]}}
            if cluster_col and cluster_col in frame
            else {}
        )
        try:
            result = sm.Logit(event, X).fit(disp=0, maxiter=200, **fit_kw)
        except Exception as exc:
            raise ConvergenceError(f"The discrete-time hazard fit failed ({exc}); drop collinear covariates.") from exc
        if not result.mle_retvals.get("converged", True):
            raise ConvergenceError("The discrete-time hazard fit did not converge; standardise or drop covariates.")
        self.result_, self.design_columns_ = result, list(design.columns)
        self.baseline_ = result.params[period.columns]
        if self.summary[["estimate", "std_error"]].isna().any().any():
            raise ConvergenceError("The discrete-time hazard fit has NaN estimates; drop collinear covariates.")
        return self

    @property
    def params_(self) -> pd.Series:
        self._check_fitted()
        return self.result_.params[self.design_columns_].rename_axis("factor")

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        cols = self.design_columns_
        frame = summary_frame(cols, self.result_.params[cols].to_numpy(), self.result_.bse[cols].to_numpy())
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), self.p_adjust)
        frame["odds_ratio"] = np.exp(frame["estimate"])
        frame["or_lower_95"], frame["or_upper_95"] = np.exp(frame["lower_95"]), np.exp(frame["upper_95"])
        ratios = frame[["odds_ratio", "or_lower_95", "or_upper_95"]].itertuples(index=False)
        frame["sentence"] = [
            effect_sentence(unit_text(self.encoder_, c), o, lo, hi, "odds of leaving at a renewal")
            for c, (o, lo, hi) in zip(cols, ratios)
        ]
        return frame

    def predict_churn_probability(self, frame: pd.DataFrame, renewal_number=None) -> pd.Series:
        """P(leave at the given renewal number (default: from the stop tenure) | covariates)."""
        self._check_fitted()
        k = self._period(
            frame[STOP] if renewal_number is None else np.broadcast_to(renewal_number, (len(frame),)) * self.period_days
        )
        eta = self._design(frame, impute=True).to_numpy() @ self.params_.to_numpy()
        eta += self.baseline_.reindex([f"renewal_{i}" for i in k]).to_numpy()
        return pd.Series(1 / (1 + np.exp(-eta)), index=frame.index, name="p_churn")
