"""The per-account churn risk on the renewal clock: P(a renewal is lost | the account's situation
some days before it), a discrete-time logit fitted on landmark rows (``landmarks``).

    logit P(lost) = a[renewal year] + a[term group] + c log(contracts) + a[lead bin] + sum_b 1[lead in band b] x'beta_b

* ``a[renewal year]``: churn can rise or fall with the account's age (years with few churns are
  pooled with the last well-filled one);
* ``a[term group]``: monthly, half-yearly and annual contracts renew at different rates (a factor;
  groups with few churns are merged with the nearest term);
* ``log(contracts)``: a renewal of several contracts ending the same day is kept if any renews;
* ``a[lead bin]``: one baseline per ``1 / lead_bins`` of the term before the renewal. The risk of a
  renewal does not change as it approaches, but what can be seen does: close to the end, a leaver
  may already have gone quiet, and the accounts that have not are safer than the average;
* ``beta_b``: the covariates' effects separately in each band of the term before the renewal
  (``effect_bands``: the last quarter, the quarter before, earlier), so a signal that only appears
  in the last weeks (days since the last login) counts there and not a year ahead.

Standard errors are clustered by account (an account's landmark rows are not independent); the
p-values of the effects are corrected together (``p_adjust``). Per-account reasons use only the
effects that are clear after that correction (``risk_factors``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.core.problems import note, problem
from analysis.core.summary import adjust_p, summary_frame
from analysis.errors import ConvergenceError, InsufficientDataError
from analysis.params import SurvivalParams
from analysis.survival.data import check_design, check_survival_data
from analysis.survival.design import SurvivalModel, effect_sentence, make_encoder, unit_text
from analysis.survival.landmarks import LOST, SHARE, TERM_GROUP, YEAR
from analysis.survival.risk import clear_reasons

BAND_SEP = " @ "


def merge_sparse(levels: Sequence, events: Sequence[int], totals: Sequence[int], least: int) -> dict:
    """Ordered levels -> the level each is pooled into, so that every pooled group holds at least
    ``least`` events and ``least`` non-events (a baseline needs both; a group of one kind only
    would give an infinite logit). Pools run from the first level; a short tail joins the last group."""
    mapping, group, ev, ne, members = {}, None, 0, 0, []
    for level, e, n in zip(levels, events, totals):
        members.append(level)
        group = members[0] if group is None else group
        ev, ne = ev + e, ne + n - e
        if ev >= least and ne >= least:
            mapping.update(dict.fromkeys(members, group))
            group, ev, ne, members = None, 0, 0, []
    if members:  # the tail: into the last complete group, or one group when none is complete
        last = list(mapping.values())[-1] if mapping else members[0]
        mapping.update(dict.fromkeys(members, last))
    return mapping


class RenewalRiskModel(SurvivalModel):
    """P(lose a renewal | situation ``lead_days`` before it): see the module docstring."""

    _fitted_attribute = "result_"

    def __init__(
        self,
        standardize: bool = True,
        min_events_per_covariate: float = 10.0,
        clip_quantile: float | None = None,
        reference_levels: dict[str, str] | None = None,
        lead_bins: int = 12,
        effect_bands: Sequence[float] = (0.25, 0.5),
        min_events_per_group: int = 10,
        alpha: float = 0.05,
        p_adjust: str = "holm",
        log_columns: Sequence[str] = (),
        seed: int = 0,
    ):
        self.standardize = standardize
        self.min_events_per_covariate = min_events_per_covariate
        self.clip_quantile = clip_quantile
        self.reference_levels = reference_levels
        self.lead_bins = lead_bins
        self.effect_bands = effect_bands
        self.min_events_per_group = min_events_per_group
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.log_columns = log_columns
        self.seed = seed

    @classmethod
    def from_params(cls, section: SurvivalParams, seed: int = 0) -> RenewalRiskModel:
        """From the ``survival`` section (every model option comes from it)."""
        return cls(
            standardize=section.standardize,
            min_events_per_covariate=section.min_events_per_covariate,
            clip_quantile=section.clip_quantile,
            reference_levels=dict(section.reference_levels),
            lead_bins=section.lead_bins,
            effect_bands=list(section.effect_bands),
            min_events_per_group=section.min_events_per_cycle,
            alpha=section.alpha,
            p_adjust=section.p_adjust,
            log_columns=list(section.log_columns),
            seed=seed,
        )

    # the design -------------------------------------------------------------------------------
    def _band(self, share) -> np.ndarray:
        return np.digitize(np.asarray(share, float), list(self.effect_bands))

    def band_names(self) -> list[str]:
        edges = [0.0, *self.effect_bands]
        names = [
            f"last {100 * hi:.0f}% of the term" if lo == 0 else f"{100 * lo:.0f}-{100 * hi:.0f}% of the term before"
            for lo, hi in itertools.pairwise(edges)
        ]
        return [*names, f"more than {100 * edges[-1]:.0f}% of the term before"]

    def _lead_bin(self, share) -> np.ndarray:
        return np.clip((np.asarray(share, float) * self.lead_bins).astype(int), 0, self.lead_bins - 1)

    def _baseline(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Dummies of the pooled renewal year, the merged term group and the pooled lead bin."""
        year = np.minimum(frame[YEAR].to_numpy(int), self.last_year_)
        year = pd.Series(year).map(self.year_map_).fillna(self.year_map_[self.last_year_]).to_numpy(int)
        known = list(self.term_map_)
        nearest = [min(known, key=lambda g: abs(_months(g) - _months(v))) for v in frame[TERM_GROUP].astype(str)]
        term = pd.Series(nearest).map(self.term_map_).to_numpy()
        lead = pd.Series(self._lead_bin(frame[SHARE])).map(self.lead_map_).to_numpy(int)
        parts = {f"renewal year {y}": (year == y).astype(float) for y in self.years_}
        parts |= {f"term {g}": (term == g).astype(float) for g in self.terms_[1:]}
        parts |= {f"lead bin {b}": (lead == b).astype(float) for b in self.leads_[1:]}
        if self.together_:  # several contracts ending together: kept if any of them renews
            parts["contracts renewing together (log)"] = np.log(frame["contracts"].to_numpy(float))
        return pd.DataFrame(parts, index=frame.index)

    def _effects(self, design: pd.DataFrame, share) -> pd.DataFrame:
        band = self._band(share)
        names = self.band_names()
        columns = {
            f"{c}{BAND_SEP}{names[b]}": design[c].to_numpy() * (band == b) for b in range(len(names)) for c in design
        }
        return pd.DataFrame(columns, index=design.index)

    def _full_design(self, frame: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
        centred = design - self.design_mean_
        return pd.concat([self._baseline(frame), self._effects(centred, frame[SHARE])], axis=1)

    # fitting ----------------------------------------------------------------------------------
    def fit(
        self, frame: pd.DataFrame, numeric: Sequence[str] = (), categorical: Sequence[str] = ()
    ) -> RenewalRiskModel:
        import statsmodels.api as sm  # local: only the discrete-time models need it

        logged = [c for c in self.log_columns if c in numeric]
        frame = frame.reset_index(drop=True)
        lost = frame[LOST].to_numpy(int)
        checks = check_survival_data(
            frame.assign(_t=1),
            "_t",
            LOST,
            numeric,
            categorical,
            log_columns=logged,
            clip_quantile=self.clip_quantile,
            seed=self.seed,
        )
        self._start_problems(checks)
        self.encoder_ = make_encoder(
            numeric, categorical, self.standardize, self.clip_quantile, self.reference_levels, logged
        ).fit(frame)
        design = self.encoder_.transform(frame)
        self.fill_ = self.design_mean_ = design.mean()
        self.typical_ = frame[list(numeric)].median()
        check_design(design, lost.astype(bool), self.min_events_per_covariate / len(self.band_names()))
        self._fit_baseline_groups(frame, lost)
        self.together_ = "contracts" in frame and frame["contracts"].nunique() > 1
        X = self._full_design(frame, design)
        X = X.loc[:, X.abs().sum() > 0]  # a band no row falls in has no effect to estimate
        groups = pd.factorize(frame["account_id"])[0]
        try:
            result = sm.Logit(lost, X).fit(disp=0, maxiter=300, cov_type="cluster", cov_kwds={"groups": groups})
        except Exception as exc:  # statsmodels raises PerfectSeparationError, LinAlgError ...
            raise ConvergenceError(
                f"The renewal-risk fit failed ({type(exc).__name__}: {str(exc)[:160]}); drop covariates that "
                "separate lost from kept renewals, or merge their levels."
            ) from exc
        if not result.mle_retvals.get("converged", True):
            raise ConvergenceError("The renewal-risk fit did not converge; drop or merge covariates.")
        self.result_, self.columns_ = result, list(X.columns)
        self.effect_columns_ = [c for c in self.columns_ if BAND_SEP in c]
        if self.summary[["estimate", "std_error"]].isna().any().any():
            raise ConvergenceError(
                "The renewal-risk fit has NaN estimates or standard errors; drop collinear covariates."
            )
        self.n_, self.n_events_ = len(frame), int(lost.sum())
        return self

    def _fit_baseline_groups(self, frame: pd.DataFrame, lost: np.ndarray) -> None:
        least = self.min_events_per_group
        by_year = pd.Series(lost).groupby(frame[YEAR].to_numpy(int)).agg(["sum", "size"]).sort_index()
        self.last_year_ = int(by_year.index.max())
        self.year_map_ = merge_sparse(by_year.index, by_year["sum"], by_year["size"], least)
        self.years_ = sorted(set(self.year_map_.values()))
        by_term = pd.Series(lost).groupby(frame[TERM_GROUP].astype(str).to_numpy()).agg(["sum", "size"])
        by_term = by_term.loc[sorted(by_term.index, key=_months)]
        self.term_map_ = merge_sparse(by_term.index, by_term["sum"], by_term["size"], least)
        counts = pd.Series(self.term_map_).map(by_term["size"]).groupby(pd.Series(self.term_map_)).sum()
        self.terms_ = [counts.idxmax(), *sorted((g for g in counts.index if g != counts.idxmax()), key=_months)]
        by_lead = pd.Series(lost).groupby(self._lead_bin(frame[SHARE])).agg(["sum", "size"]).sort_index()
        by_lead = by_lead.reindex(range(self.lead_bins), fill_value=0)
        self.lead_map_ = merge_sparse(by_lead.index, by_lead["sum"], by_lead["size"], least)
        self.leads_ = sorted(set(self.lead_map_.values()), reverse=True)  # reference: the earliest bin
        if len(self.terms_) < by_term.shape[0]:
            self._report(
                note(
                    f"term groups with fewer than {least} lost and {least} kept renewals are merged: "
                    + ", ".join(f"{g} -> {m}" for g, m in self.term_map_.items() if g != m),
                    TERM_GROUP,
                    "merged term groups",
                ),
                warn=False,
            )
        if by_year.shape[0] > len(self.years_):
            self._report(
                note(
                    f"renewal years with few churns are pooled ({len(self.years_)} baselines for "
                    f"{by_year.shape[0]} renewal years)",
                    YEAR,
                    "pooled renewal years",
                ),
                warn=False,
            )

    # results ----------------------------------------------------------------------------------
    @property
    def params_(self) -> pd.Series:
        self._check_fitted()
        return self.result_.params.rename_axis("factor")

    @property
    def summary(self) -> pd.DataFrame:
        """The covariate effects per band (log odds of losing a renewal), common shape, plus the
        corrected p, odds ratios and a sentence; the baselines are in ``baseline_``."""
        self._check_fitted()
        cols = self.effect_columns_
        frame = summary_frame(cols, self.result_.params[cols].to_numpy(), self.result_.bse[cols].to_numpy())
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), self.p_adjust)
        frame["odds_ratio"] = np.exp(frame["estimate"])
        frame["or_lower_95"], frame["or_upper_95"] = np.exp(frame["lower_95"]), np.exp(frame["upper_95"])
        frame["clear"] = frame["p_adjusted"] < self.alpha
        frame["sentence"] = [
            effect_sentence(
                f"{unit_text(self.encoder_, c.split(BAND_SEP)[0])}, {c.split(BAND_SEP)[1]}",
                o,
                lo,
                hi,
                "odds of losing the renewal",
            )
            for c, o, lo, hi in zip(cols, frame["odds_ratio"], frame["or_lower_95"], frame["or_upper_95"])
        ]
        return frame

    @property
    def baseline_(self) -> pd.Series:
        self._check_fitted()
        return self.result_.params.drop(self.effect_columns_).rename_axis("term")

    # prediction -------------------------------------------------------------------------------
    def _linear(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        X = self._full_design(frame, self._design(frame, impute=True)).reindex(columns=self.columns_, fill_value=0.0)
        return X, X.to_numpy(float) @ self.result_.params[self.columns_].to_numpy()

    def predict_lost(self, frame: pd.DataFrame) -> pd.Series:
        """P(the renewal of each row is lost), rows with lead_share, term_group, renewal_year and covariates."""
        self._check_fitted()
        return pd.Series(1 / (1 + np.exp(-self._linear(frame)[1])), index=frame.index, name="p_lost")

    def risk_factors(self, frame: pd.DataFrame, top_n: int) -> pd.DataFrame:
        """Per row the ``top_n`` covariates raising the risk most among the effects clear after
        correction: ``top_risk_factors`` text plus structured columns (see ``risk.clear_reasons``)."""
        self._check_fitted()
        X, _ = self._linear(frame)
        summary = self.summary
        clear = summary.index[summary["clear"]]
        contrib = X[clear] * self.result_.params[clear].to_numpy()
        factors = [c.split(BAND_SEP)[0] for c in clear]  # design columns: a category's are 'column=level'
        covariates = dict.fromkeys(self.encoder_.factor_of_.get(f, f) for f in factors)
        values = frame[[f for f in covariates if f in frame]]
        return clear_reasons(contrib, factors, values, self.typical_, self.encoder_, top_n, self._why_none(summary))

    def _why_none(self, summary: pd.DataFrame) -> str:
        if summary["clear"].any():
            return "none of the clear effects raises this account's risk"
        return (
            f"no effect is clear after the {self.p_adjust} correction (alpha {self.alpha:g}): "
            "there is no reason to give"
        )


def _months(group: str) -> int:
    return int(str(group).split()[0])


def check_events(frame: pd.DataFrame) -> None:
    """A renewal-risk fit needs lost and kept renewals."""
    lost = int(frame[LOST].sum())
    if lost == 0 or lost == len(frame):
        raise InsufficientDataError(
            f"{'No' if lost == 0 else 'Every'} past renewal was lost among {len(frame)} landmark rows: "
            "the risk of losing a renewal cannot be estimated. Use a longer history or a larger book."
        )


__all__ = ["RenewalRiskModel", "check_events", "merge_sparse", "problem"]
