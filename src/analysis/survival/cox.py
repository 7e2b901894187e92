"""The Cox model of churn: lifelines' fitter underneath (with the vectorised late-entry engine of
:mod:`analysis.survival.efron`), pre-fit checks, the package's Encoder, a proportional-hazards test
(and remedy) on every fit, conditional churn probabilities and per-account risk factors."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index

from analysis.core.problems import note, problem
from analysis.core.summary import adjust_p, summary_frame
from analysis.errors import AssumptionWarning, ConfigError, ConvergenceError, InsufficientDataError
from analysis.params import SurvivalParams
from analysis.survival.data import EVENT, STOP, check_design, check_survival_data
from analysis.survival.design import SurvivalModel, effect_sentence, make_encoder, unit_text, values_of
from analysis.survival.efron import _LateEntryCoxPH, baseline_cumhaz, cyclic_cumhaz, schoenfeld_ph_test, step_at
from analysis.survival.risk import name_risk_factors

CONCORDANCE_SAMPLE = 50_000  # training concordance on at most this many rows (its SE is then ~0.003)
PH_REMEDIES = ("auto", "stratify", "none")
BASELINES = ("kalbfleisch-prentice", "breslow")
STEP_SIZES = (0.95, 0.5, 0.25, 0.1)  # lifelines' default Newton step first, then shorter ones


class CoxChurnModel(SurvivalModel):
    """Cox proportional hazards for churn: lifelines underneath, with pre-fit checks, standardised
    covariates, saved reference levels, and a proportional-hazards test on every fit.

    ``ph_remedy``: ``"auto"`` stratifies a violating category or flag and splits a violating number
    into two effects (before / after the median event time: a step time interaction);
    ``"stratify"`` stratifies everything (numbers in quantile bins); ``"none"`` only reports. The
    test after the remedy is kept in ``assumptions_``; a violation that remains raises an
    :class:`AssumptionWarning`. Nothing is silently ignored: every remedy, warning and imputation
    is a row of ``problems_``.

    ``cycle_days`` (e.g. 365 for annual contracts): predictions past the longest tenure with enough
    churn repeat the baseline of the last well-supported cycle (:func:`cyclic_cumhaz`) instead of
    assuming no churn there. ``seed`` fixes the row samples of the outlier check and of the training
    concordance on large books.
    """

    _fitted_attribute = "lifelines_"

    def __init__(
        self,
        standardize: bool = True,
        penalizer: float = 0.0,
        ph_alpha: float = 0.01,
        ph_remedy: str = "auto",
        min_events_per_covariate: float = 10.0,
        clip_quantile: float | None = None,
        reference_levels: dict[str, str] | None = None,
        strata_bins: int = 4,
        alpha: float = 0.05,
        p_adjust: str = "holm",
        cycle_days: float | None = None,
        min_events_per_cycle: int = 10,
        baseline: str = "kalbfleisch-prentice",
        log_columns: Sequence[str] = (),
        min_at_risk: int = 10,
        seed: int = 0,
    ):
        if ph_remedy not in PH_REMEDIES:
            raise ConfigError(f"ph_remedy must be 'auto', 'stratify' or 'none', not {ph_remedy!r}.")
        if baseline not in BASELINES:
            raise ConfigError(f"baseline must be 'kalbfleisch-prentice' or 'breslow', not {baseline!r}.")
        self.standardize = standardize
        self.penalizer = penalizer
        self.ph_alpha = ph_alpha
        self.ph_remedy = ph_remedy
        self.min_events_per_covariate = min_events_per_covariate
        self.clip_quantile = clip_quantile
        self.reference_levels = reference_levels
        self.strata_bins = strata_bins
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.cycle_days = cycle_days
        self.min_events_per_cycle = min_events_per_cycle
        self.baseline = baseline
        self.log_columns = log_columns
        self.min_at_risk = min_at_risk
        self.seed = seed

    @classmethod
    def from_params(cls, section: SurvivalParams, seed: int = 0) -> CoxChurnModel:
        """A model configured from the ``survival`` section (every model option comes from it)."""
        return cls(
            standardize=section.standardize,
            penalizer=section.penalizer,
            ph_alpha=section.ph_alpha,
            ph_remedy=section.ph_remedy,
            min_events_per_covariate=section.min_events_per_covariate,
            clip_quantile=section.clip_quantile,
            reference_levels=dict(section.reference_levels),
            strata_bins=section.strata_bins,
            alpha=section.alpha,
            p_adjust=section.p_adjust,
            cycle_days=section.cycle_days,
            min_events_per_cycle=section.min_events_per_cycle,
            baseline=section.baseline,
            log_columns=list(section.log_columns),
            min_at_risk=section.min_at_risk,
            seed=seed,
        )

    # fitting ---------------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        duration_col: str = STOP,
        event_col: str = EVENT,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        entry_col: str | None = None,
        strata: Sequence[str] = (),
    ) -> CoxChurnModel:
        special = {duration_col, event_col, entry_col, *categorical, *strata}
        if numeric is None:
            numeric = [c for c in frame.columns if c not in special and pd.api.types.is_numeric_dtype(frame[c])]
        logged = [c for c in self.log_columns if c in numeric]
        checks = check_survival_data(
            frame,
            duration_col,
            event_col,
            numeric,
            categorical,
            entry_col,
            strata,
            log_columns=logged,
            clip_quantile=self.clip_quantile,
            seed=self.seed,
        )
        self._start_problems()
        for row in checks.to_dict("records"):
            self._report(row, stacklevel=2)
        self.encoder_ = make_encoder(
            numeric, categorical, self.standardize, self.clip_quantile, self.reference_levels, logged
        ).fit(frame)
        design = self.encoder_.transform(frame)
        stop, event = frame[duration_col].to_numpy(float), frame[event_col].to_numpy(bool)
        entry = None if entry_col is None else frame[entry_col].to_numpy(float)
        check_design(design, event, self.min_events_per_covariate)
        self.duration_col_, self.event_col_, self.entry_col_ = duration_col, event_col, entry_col
        self.design_mean_ = self.fill_ = design.mean()
        self.strata_, self.strata_edges_, self.split_, self.cut_ = list(strata), {}, [], None
        self.n_, self.n_events_ = len(frame), int(event.sum())
        self._fit_once(frame, design, stop, event, entry)
        self.assumptions_ = self.ph_test_.rename(columns={"p": "p_before"})[["test_statistic", "p_before"]]
        self.assumptions_["remedy"] = ""
        violated = self.ph_test_.index[self.ph_test_["p"] < self.ph_alpha].tolist()
        if violated and self.ph_remedy != "none":
            self._remedy(frame, violated)
            try:
                self._fit_once(frame, design, stop, event, entry)
            except InsufficientDataError:  # one side of the cut has no churn: bin and stratify instead
                for col in self.split_:
                    self.assumptions_.loc[
                        self.assumptions_["remedy"].eq("time split") & self.assumptions_.index.isin([col]), "remedy"
                    ] = self._stratify_bins(frame, col) + " (a time split had no churn on one side)"
                self.split_, self.cut_ = [], None
                self._fit_once(frame, design, stop, event, entry)
            after = self.ph_test_["p"].rename("p_after")
            self.assumptions_ = self.assumptions_.join(after.groupby(lambda n: n.split(" [")[0]).min(), how="left")
            for name, row in self.assumptions_[self.assumptions_["remedy"] != ""].iterrows():
                self._report(
                    problem(
                        name,
                        "proportional hazards",
                        "adjusted",
                        f"proportional hazards rejected for '{name}' (p = {row['p_before']:.2g} < "
                        f"{self.ph_alpha:g}): {row['remedy']}",
                        "stratified factors have no hazard ratio; split ones have one before and one after the cut",
                    ),
                    warn=False,
                )
        for message in self.fit_warnings_:
            self._report(note(message, kind="fit warning"), warn=False)
        remaining = self.ph_test_.index[self.ph_test_["p"] < self.ph_alpha].tolist()
        if remaining:
            for name in remaining:
                self._report(
                    problem(
                        name,
                        "proportional hazards",
                        "note",
                        f"proportional hazards still rejected for '{name}' (p = {self.ph_test_.loc[name, 'p']:.2g} < "
                        f"{self.ph_alpha:g}, remedy '{self.ph_remedy}')",
                        "read its hazard ratio as an average over tenure",
                    ),
                    warn=False,
                )
            warnings.warn(
                f"Proportional hazards still rejected (p < {self.ph_alpha}) for {remaining} "
                f"(remedy '{self.ph_remedy}'); read their hazard ratios as averages over tenure.",
                AssumptionWarning,
                stacklevel=2,
            )
        if self.summary[["estimate", "std_error", "p"]].isna().any().any():
            raise ConvergenceError(
                "The Cox fit produced NaN estimates or standard errors (a singular information "
                "matrix): drop near-duplicate covariates or set a small penalizer (e.g. 0.01)."
            )
        return self

    def _remedy(self, frame: pd.DataFrame, violated: list[str]) -> None:
        for name in violated:
            col = name.split("=")[0] if "=" in name and name.split("=")[0] in self.encoder_.levels_ else name
            if col in self.encoder_.categorical or col in self.encoder_.binary_:
                remedy = "stratified"
            elif self.ph_remedy == "auto":
                remedy = "time split"
            else:
                remedy = self._stratify_bins(frame, col)
            if remedy == "stratified" and col not in self.strata_:
                self.strata_.append(col)
            elif remedy == "time split" and col not in self.split_:
                self.split_.append(col)
            self.assumptions_.loc[name, "remedy"] = remedy

    def _stratify_bins(self, frame: pd.DataFrame, col: str) -> str:
        """Stratify a number by its quantile bins (edges saved for prediction)."""
        edges = np.unique(frame[col].quantile(np.linspace(0, 1, self.strata_bins + 1)).to_numpy())
        self.strata_edges_[col] = edges
        if col not in self.strata_:
            self.strata_.append(col)
        return f"stratified in {len(edges) - 1} bins"

    def _stratum(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.strata_:
            return np.zeros(len(frame), dtype=int).astype(str)
        parts = []
        for col in self.strata_:
            values = frame[col]
            if col in self.strata_edges_:
                values = np.searchsorted(self.strata_edges_[col][1:-1], values.to_numpy(float), side="right")
            parts.append(pd.Series(values, index=frame.index).astype(str).to_numpy())
        return np.array(["|".join(v) for v in zip(*parts)]) if len(parts) > 1 else parts[0]

    def _columns(self) -> tuple[list[str], list[str]]:
        """Design columns kept in the model (stratified columns leave it) and the split ones."""
        stratified = set(self.strata_)
        keep = [c for c in self.encoder_.columns_ if c.split("=")[0] not in stratified and c not in stratified]
        return keep, [c for c in keep if c in self.split_]

    def _expand(self, design, stop, event, entry, stratum):
        """Rows split at the cut so that split covariates get one effect per side of it."""
        keep, split = self._columns()
        X = design[keep].to_numpy(float) - self.design_mean_[keep].to_numpy()
        if not split:
            return keep, X, stop, event, entry, stratum, np.zeros(len(stop), bool)
        if self.cut_ is None:
            self.cut_ = float(np.median(stop[event]))
        cut, start = self.cut_, (np.zeros_like(stop) if entry is None else entry)
        early, late = start < cut, stop > cut
        rows = np.concatenate([np.flatnonzero(early), np.flatnonzero(late)])
        is_late = np.concatenate([np.zeros(early.sum(), bool), np.ones(late.sum(), bool)])
        new_stop = np.where(is_late, stop[rows], np.minimum(stop[rows], cut))
        new_entry = np.where(is_late, np.maximum(start[rows], cut), start[rows])
        new_event = event[rows] & (new_stop == stop[rows])
        idx = [keep.index(c) for c in split]
        Xr = X[rows]
        extra = Xr[:, idx] * is_late[:, None]
        Xr[:, idx] *= ~is_late[:, None]
        names = [f"{c} [tenure <= {cut:g}d]" if c in split else c for c in keep]
        names += [f"{c} [tenure > {cut:g}d]" for c in split]
        return names, np.hstack([Xr, extra]), new_stop, new_event, new_entry, stratum[rows], is_late

    def _fit_once(self, frame, design, stop, event, entry) -> None:
        stratum = self._stratum(frame)
        names, X, t, e, en, st, is_late = self._expand(design, stop, event, entry, stratum)
        if not names:
            raise InsufficientDataError(
                f"No covariate is left to estimate: {self.strata_} are all strata. Add "
                "covariates, or use ph_remedy='none' to keep them as (averaged) effects."
            )
        if self.split_ and (not e[is_late].any() or not e[~is_late].any()):
            raise InsufficientDataError(
                f"Cannot split {self.split_} at tenure {self.cut_:g} days: one side has no "
                "churn events. Use ph_remedy='stratify'."
            )
        df = pd.DataFrame(X, columns=names)
        df["_T"], df["_E"] = t, e.astype(int)
        if en is not None:
            df["_entry"] = en
        if self.strata_:
            df["_stratum"] = st
        fitter, caught = self._newton(df, en is not None)
        self.fit_warnings_ = caught
        self.lifelines_, self.design_columns_ = fitter, names
        beta = fitter.params_.to_numpy()
        self.ph_test_ = schoenfeld_ph_test(X, t, e, en, st, beta, fitter.variance_matrix_.to_numpy())
        self.ph_test_.index = pd.Index(names, name="factor")
        self.ph_test_["violated"] = self.ph_test_["p"] < self.ph_alpha
        lp = X @ beta
        self.pooled_baseline_ = baseline_cumhaz(t, e, en, lp, self.baseline, self.min_at_risk)
        self.baselines_ = (
            {st[0]: self.pooled_baseline_}
            if not self.strata_
            else {
                s: baseline_cumhaz(
                    t[st == s],
                    e[st == s],
                    None if en is None else en[st == s],
                    lp[st == s],
                    self.baseline,
                    self.min_at_risk,
                )
                for s in np.unique(st)
            }
        )
        # Harrell's C on the training rows with the model's own risk: the cumulative hazard over one
        # common window from each row's entry (its stratum's baseline, both sides of a time split),
        # not the early-period score alone. Without strata or a split it ranks as the linear
        # predictor does. lifelines' O(n log n) tree is pure Python: large books use a fixed sample.
        rows = (
            np.random.default_rng(self.seed).choice(len(stop), CONCORDANCE_SAMPLE, replace=False)
            if len(stop) > CONCORDANCE_SAMPLE
            else np.arange(len(stop))
        )
        begin = np.zeros(len(stop)) if entry is None else entry
        window = float(np.max(stop - begin))
        lp_rows = self.cumulative_hazard_between(frame.iloc[rows], begin[rows], begin[rows] + window)
        self.concordance_index_ = float(concordance_index(stop[rows], -lp_rows, event[rows]))

    def _newton(self, df: pd.DataFrame, late_entry: bool):
        """lifelines' Newton-Raphson at its default step, then with smaller steps (STEP_SIZES) when it
        fails: a full step can overshoot into overflow on a well-posed problem (a smallest singular
        value of 6 is not collinearity), where a shorter one reaches the maximum likelihood."""
        failures = []
        for step in STEP_SIZES:  # a few step sizes
            fitter = _LateEntryCoxPH(
                penalizer=self.penalizer, alpha=self.alpha, strata=["_stratum"] if self.strata_ else None
            )
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fitter.fit(
                        df, "_T", "_E", entry_col="_entry" if late_entry else None, fit_options={"step_size": step}
                    )
            except Exception as exc:  # lifelines raises its own ConvergenceError and LinAlgError
                failures.append(f"step {step:g}: {type(exc).__name__}")
                continue
            messages = [str(w.message).strip().splitlines()[0] for w in caught]
            if any("failed to converge" in m for m in messages) and step != STEP_SIZES[-1]:
                failures.append(f"step {step:g}: did not converge")
                continue
            if failures:
                self._report(
                    problem(
                        "(model)",
                        "smaller Newton step",
                        "adjusted",
                        f"the Cox fit converged with a Newton step of {step:g} ({'; '.join(failures)})",
                        "nothing to do: the estimates are the maximum-likelihood ones",
                    ),
                    warn=False,
                )
            return fitter, messages
        raise ConvergenceError(
            f"The Cox fit did not converge with Newton steps {', '.join(map(str, STEP_SIZES))} "
            f"({'; '.join(failures)}). "
            "Check the pre-fit notes (extreme values, near-duplicate covariates) or set a penalizer (e.g. 0.01)."
        )

    # results -------------------------------------------------------------------------------
    @property
    def params_(self) -> pd.Series:
        self._check_fitted()
        return self.lifelines_.params_.rename_axis("factor")

    @property
    def hazard_ratios_(self) -> pd.Series:
        return np.exp(self.params_)

    @property
    def log_likelihood_(self) -> float:
        self._check_fitted()
        return float(self.lifelines_.log_likelihood_)

    @property
    def summary(self) -> pd.DataFrame:
        """Log hazard ratios in the common shape, plus hazard ratios, adjusted p and a sentence."""
        self._check_fitted()
        se = self.lifelines_.standard_errors_.to_numpy()
        frame = summary_frame(self.design_columns_, self.params_.to_numpy(), se)
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), self.p_adjust)
        frame["hazard_ratio"] = np.exp(frame["estimate"])
        frame["hr_lower_95"], frame["hr_upper_95"] = np.exp(frame["lower_95"]), np.exp(frame["upper_95"])
        frame["unit"] = [
            unit_text(self.encoder_, n.split(" [")[0]) + (" [" + n.split(" [")[1] if " [" in n else "")
            for n in frame.index
        ]
        frame["sentence"] = [
            effect_sentence(u, h, lo, hi)
            for u, h, lo, hi in frame[["unit", "hazard_ratio", "hr_lower_95", "hr_upper_95"]].itertuples(index=False)
        ]
        return frame

    # prediction ----------------------------------------------------------------------------
    def _linear_predictors(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Centred log partial hazards before and after the cut (equal when nothing is split)."""
        keep, split = self._columns()
        X = self._design(frame, impute=True)[keep].to_numpy(float) - self.design_mean_[keep].to_numpy()
        params = self.params_
        base = np.array([params[c] if c not in split else 0.0 for c in keep])
        if not split:
            lp = X @ base
            return lp, lp
        early = base + np.array([params.get(f"{c} [tenure <= {self.cut_:g}d]", 0.0) for c in keep])
        late = base + np.array([params.get(f"{c} [tenure > {self.cut_:g}d]", 0.0) for c in keep])
        return X @ early, X @ late

    def predict_log_partial_hazard(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(self._linear_predictors(frame)[0], index=frame.index, name="log_partial_hazard")

    def _baseline_between(self, stratum: np.ndarray | None, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        out = np.empty(len(t0))
        for s in [None] if stratum is None else np.unique(stratum):  # one vectorised lookup per stratum
            rows = slice(None) if s is None else stratum == s
            if s is not None and s not in self.baselines_:
                self._report(
                    problem(
                        "/".join(self.strata_),
                        "unseen stratum",
                        "adjusted",
                        f"Stratum {s!r} was not in the training data; its accounts use the pooled baseline.",
                        "refit with data that contain it",
                    ),
                    stacklevel=4,
                )
            times, cumhaz, events = (
                self.pooled_baseline_ if s is None else self.baselines_.get(s, self.pooled_baseline_)
            )
            out[rows] = self._cumhaz(times, cumhaz, events, t1[rows]) - self._cumhaz(times, cumhaz, events, t0[rows])
        return out

    def _cumhaz(self, times, cumhaz, events, t) -> np.ndarray:
        if self.cycle_days:
            return cyclic_cumhaz(times, cumhaz, events, t, self.cycle_days, self.min_events_per_cycle)
        return step_at(times, cumhaz, t)

    def _hazard_between(self, stratum, lp_early, lp_late, t0, t1) -> np.ndarray:
        if not self.split_:
            return self._baseline_between(stratum, t0, t1) * np.exp(lp_early)
        c = self.cut_
        return self._baseline_between(stratum, np.minimum(t0, c), np.minimum(t1, c)) * np.exp(
            lp_early
        ) + self._baseline_between(stratum, np.maximum(t0, c), np.maximum(t1, c)) * np.exp(lp_late)

    def cumulative_hazard_between(self, frame: pd.DataFrame, t0, t1) -> np.ndarray:
        """H(t1 | x) - H(t0 | x) on the tenure scale, per row."""
        self._check_fitted()
        t0 = np.broadcast_to(np.asarray(t0, dtype=float), (len(frame),))
        t1 = np.broadcast_to(np.asarray(t1, dtype=float), (len(frame),))
        stratum = self._stratum(frame) if self.strata_ else None
        return self._hazard_between(stratum, *self._linear_predictors(frame), t0, t1)

    def predict_churn_probabilities(self, frame: pd.DataFrame, horizons: dict, tenure=None) -> pd.DataFrame:
        """P(churn within each horizon | alive at ``tenure``), one column per entry of ``horizons``
        (name -> days, a number or one per row; NaN days give NaN). Encodes the frame once."""
        self._check_fitted()
        n = len(frame)
        start = np.zeros(n) if tenure is None else values_of(frame, tenure)
        stratum = self._stratum(frame) if self.strata_ else None
        lp_early, lp_late = self._linear_predictors(frame)
        out = {}
        for name, days in horizons.items():  # a few horizons
            days = np.broadcast_to(np.asarray(days, dtype=float), (n,))
            known = ~np.isnan(days)
            stop = start + np.where(known, days, 0.0)
            p = -np.expm1(-self._hazard_between(stratum, lp_early, lp_late, start, stop))
            out[name] = np.where(known, p, np.nan)
        return pd.DataFrame(out, index=frame.index)

    def predict_churn_probability(self, frame: pd.DataFrame, horizon_days, tenure=None) -> pd.Series:
        """P(churn within ``horizon_days`` | alive at ``tenure``): conditional on the tenure survived.
        ``tenure`` is a column name, an array, or None (from the start)."""
        return self.predict_churn_probabilities(frame, {"p_churn": horizon_days}, tenure)["p_churn"]

    def predict_survival_function(self, frame: pd.DataFrame, times: Sequence[float], tenure=None) -> pd.DataFrame:
        """Survival at each time after ``tenure`` (rows: times; columns: the rows of ``frame``)."""
        cols = {t: 1 - self.predict_churn_probability(frame, t, tenure).to_numpy() for t in times}
        return pd.DataFrame(cols, index=frame.index).T

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """beta * (x - mean) per covariate column: how each pushes the account's log hazard."""
        return self._contributions(frame)[0]

    def _contributions(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        keep, split = self._columns()
        values = self._design(frame, impute=True)[keep]
        params = self.params_
        beta = [params[c] if c not in split else params[f"{c} [tenure <= {self.cut_:g}d]"] for c in keep]
        return (values - self.design_mean_[keep]) * np.array(beta), values.to_numpy()

    def risk_factors(self, frame: pd.DataFrame, top_n: int) -> pd.Series:
        """The covariates raising each account's hazard most, e.g. 'adoption_90d low (x1.45)'."""
        contrib, values = self._contributions(frame)
        return name_risk_factors(contrib, values, self.encoder_.binary_, top_n)
