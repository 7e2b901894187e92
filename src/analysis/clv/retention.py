"""Retention of the contract stream per term class: the shifted-beta-geometric fit, a check of that
fit against the observed retention by renewal number, and per-renewal-number rates as the
alternative when the sBG cannot follow the data.

The sBG lets retention rise with tenure (heterogeneity sorts out the likely leavers early) or
stay flat; it cannot produce churn that *rises* with tenure. The check compares, renewal number
by renewal number, the churns the fitted sBG expects with the churns observed (a chi-square
statistic with account-clustered variances: co-terminous lines of one account decide together).
When it rejects the sBG at ``clv.misfit_alpha``, the class is valued with the observed rates
(``RenewalRateModel``) and the result says so. Hand-written: no maintained library offers either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.clv.contracts import TERM_CLASSES, decision_matrices, renewal_groups
from analysis.clv.sbg import fit_by_segment
from analysis.core import problems as problems_
from analysis.core.summary import Z_95, summary_frame
from analysis.errors import ConvergenceError, InsufficientDataError, NotFittedError
from analysis.params import ClvParams

UNBOUNDED_STEPS = 2000  # renewals summed for an infinite-horizon DERL of per-renewal rates (tail is geometric)


def _by_account(values: np.ndarray, accounts: pd.Series) -> np.ndarray:
    codes = pd.factorize(accounts)[0]
    out = np.zeros((codes.max() + 1 if len(codes) else 0, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def _clustered_var(resid: np.ndarray) -> np.ndarray:
    """Sum of squared per-account residuals with the small-sample factor G / (G - 1)."""
    g = len(resid)
    return (resid**2).sum(axis=0) * (g / (g - 1) if g > 1 else np.nan)


class RenewalRateModel:
    """Observed retention by renewal number: rate_n = 1 - churns_n / decisions_n, with renewal
    numbers from ``max_renewal_number`` on (or with fewer than ``min_decisions`` decisions) pooled.

    ``fit(spells)`` returns self (spells: periods, churned, account_id); ``rates_``,
    ``standard_errors_`` (account-clustered), ``decisions_``, ``churns_``; the projections of
    ``ShiftedBetaGeometricModel`` (``renewal_probability``, ``retention_rate``, ``survival``,
    ``derl``), with the last (pooled) rate carried forward beyond the data.
    """

    model_name = "renewal rates"
    homogeneous_ = False

    def __init__(self, min_decisions: int = 30, max_renewal_number: int = 24):
        self.min_decisions = min_decisions
        self.max_renewal_number = max_renewal_number

    @classmethod
    def from_params(cls, section: ClvParams) -> RenewalRateModel:
        return cls(min_decisions=section.min_decisions_per_renewal, max_renewal_number=section.max_renewal_number)

    def fit(self, spells: pd.DataFrame) -> RenewalRateModel:
        spells = spells[spells["periods"] >= 1]
        if spells.empty:
            raise InsufficientDataError("No renewal decision yet: retention by renewal number cannot be measured.")
        n = renewal_groups(spells, self.min_decisions, self.max_renewal_number)
        decisions, churns = decision_matrices(spells, n)
        d, c = decisions.sum(axis=0), churns.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = c / d
            resid = _by_account(churns, spells["account_id"]) - share * _by_account(decisions, spells["account_id"])
            se = np.sqrt(_clustered_var(resid)) / d
        index = pd.Index(np.arange(1, n + 1), name="renewal")
        self.rates_ = pd.Series(1 - share, index=index, name="rate")
        self.standard_errors_ = pd.Series(se, index=index, name="std_error")
        self.decisions_ = pd.Series(d, index=index, name="decisions")
        self.churns_ = pd.Series(c, index=index, name="churns")
        self.n_groups_ = n
        self.problems_ = problems_.problems_frame()
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "rates_"):
            raise NotFittedError("This RenewalRateModel is not fitted yet; call .fit(spells) first.")

    def _rates(self, renewal_numbers: np.ndarray) -> np.ndarray:
        self._check_fitted()
        r = self.rates_.to_numpy()
        return r[np.clip(np.asarray(renewal_numbers, dtype=np.int64), 1, self.n_groups_) - 1]

    def retention_rate(self, periods) -> pd.Series:
        t = np.asarray(periods, dtype=float)
        return pd.Series(self._rates(t), index=pd.Index(t, name="period"), name="retention_rate")

    def survival(self, periods) -> pd.Series:
        t = np.asarray(periods, dtype=np.int64)
        steps = np.arange(1, int(t.max(initial=0)) + 1)
        cum = np.r_[1.0, np.cumprod(self._rates(steps))] if len(steps) else np.ones(1)
        return pd.Series(cum[t], index=pd.Index(t.astype(float), name="period"), name="survival")

    def renewal_probability(self, renewals_past) -> np.ndarray:
        return self._rates(np.asarray(renewals_past, dtype=np.int64) + 1)

    def derl(self, renewals_past, discount_rate: float, horizon: int | None = None) -> np.ndarray:
        """Discounted expected renewals to come, the next one undiscounted (as the sBG's ``derl``)."""
        n = np.asarray(renewals_past, dtype=np.int64) + 1
        k = np.arange(int(horizon) if horizon is not None else UNBOUNDED_STEPS)
        steps = self._rates(n[..., None] + k)
        return (np.cumprod(steps, axis=-1) / (1.0 + discount_rate) ** k).sum(axis=-1)

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        last = self.n_groups_
        names = [f"renewal {n}" + ("+" if n == last and last > 1 else "") for n in self.rates_.index]
        ci = Z_95 * self.standard_errors_.to_numpy()
        frame = summary_frame(
            names,
            self.rates_.to_numpy(),
            self.standard_errors_.to_numpy(),
            lower=np.clip(self.rates_.to_numpy() - ci, 0, 1),
            upper=np.clip(self.rates_.to_numpy() + ci, 0, 1),
        )
        frame[["z", "p"]] = np.nan
        frame["sentence"] = [
            f"Observed retention at {name}: {r.estimate:.1%} (95% CI {r.lower_95:.1%} to {r.upper_95:.1%}), "
            f"{int(d):,} decisions."
            for name, r, d in zip(names, frame.itertuples(), self.decisions_)
        ]
        return frame


def observed_rate(spells: pd.DataFrame) -> dict:
    """Share of the spells' renewal decisions that renewed, with a 95% interval clustered by account."""
    per_account = spells.groupby("account_id")[["periods", "churned"]].sum().to_numpy(dtype=float)
    d, c = per_account.sum(axis=0)
    share = c / d
    se = np.sqrt(_clustered_var(per_account[:, [1]] - share * per_account[:, [0]])[0]) / d
    return {
        "decisions": d,
        "renewal_rate_observed": 1 - share,
        "renewal_rate_lower_95": max(0.0, 1 - share - Z_95 * se),
        "renewal_rate_upper_95": min(1.0, 1 - share + Z_95 * se),
    }


def fit_check(sbg, spells: pd.DataFrame, n_groups: int, alpha: float) -> dict:
    """Does the fitted sBG follow the observed retention by renewal number?

    Returns statistic, df, p, verdict (``fits`` / ``misfit`` / ``not tested``) and trend of the
    observed rates (``falls`` / ``rises`` / ``flat``: the sign of a weighted slope when it is clear
    at ``alpha``). Churns expected per renewal group come from the sBG's retention at each renewal
    number; variances are clustered by account.
    """
    spells = spells[spells["periods"] >= 1]
    decisions, churns = decision_matrices(spells, n_groups)
    t = spells["periods"].to_numpy(dtype=np.int64)
    q = 1 - sbg.retention_rate(np.arange(1, max(int(t.max()), n_groups) + 1)).to_numpy()
    cq = np.r_[0.0, np.cumsum(q)]
    expected = decisions * np.r_[q[: n_groups - 1], 0.0][None, :]
    expected[:, -1] = np.where(t >= n_groups, cq[t] - cq[n_groups - 1], 0.0)  # the pooled tail, renewal by renewal
    var = _clustered_var(_by_account(churns - expected, spells["account_id"]))
    used = var > 0
    statistic = float((((churns.sum(axis=0) - expected.sum(axis=0)) ** 2)[used] / var[used]).sum())
    df = int(used.sum()) - (1 if getattr(sbg, "homogeneous_", False) else 2)
    p = float(stats.chi2.sf(statistic, df)) if df >= 1 else np.nan
    verdict = "not tested" if df < 1 else ("misfit" if p < alpha else "fits")
    return {"statistic": statistic, "df": df, "p": p, "verdict": verdict, "trend": _trend(decisions, churns, alpha)}


def _trend(decisions: np.ndarray, churns: np.ndarray, alpha: float) -> str:
    """Direction of the observed retention over the renewal numbers shown one by one (the pooled
    tail left out): weighted least-squares slope, clear when |z| exceeds the two-sided ``alpha`` level."""
    d, c = decisions.sum(axis=0)[:-1], churns.sum(axis=0)[:-1]
    if len(d) < 3:
        return "flat"
    rate = 1 - c / d
    var = np.clip(rate * (1 - rate), 1e-6, None) / d
    w = 1 / var
    x = np.arange(1, len(d) + 1, dtype=float)
    xbar = (w * x).sum() / w.sum()
    slope = (w * (x - xbar) * rate).sum() / (w * (x - xbar) ** 2).sum()
    z = slope / np.sqrt(1 / (w * (x - xbar) ** 2).sum())
    crit = stats.norm.ppf(1 - alpha / 2)
    return "falls" if z < -crit else ("rises" if z > crit else "flat")


@dataclass
class Retention:
    """Retention models of the contract stream: the model used per (term class, segment), the sBG
    fits, the per-renewal-number rates, and what the report shows of them."""

    models: dict  # (term_class, segment) -> model used; segment "all" is the class's pooled model
    sbg: dict  # (term_class, segment) -> ShiftedBetaGeometricModel
    rates: dict  # term_class -> RenewalRateModel
    checks: dict  # term_class -> fit_check result
    table: pd.DataFrame  # one row per (term_class, segment)
    by_renewal: pd.DataFrame  # observed and sBG retention per term class and renewal number
    problems: list[dict]

    def model_for(self, term: str, segment: str | None):
        return self.models.get((term, segment), self.models.get((term, "all")))


def fit_retention(spells: pd.DataFrame, segment: bool, clv_params: ClvParams) -> Retention:
    """sBG per term class (and per segment within it, pooled when a segment has too few churners),
    checked against the observed retention by renewal number; per-renewal rates where it misfits."""
    models, sbg, rates, checks, rows, by_renewal, problems = {}, {}, {}, {}, [], [], []
    for term in TERM_CLASSES:
        part = spells[spells["term_class"].astype(object).eq(term) & (spells["periods"] >= 1)]
        if part.empty:
            continue
        months = float(part["term_months"].iloc[0])
        try:
            fits, table = fit_by_segment(part, "segment" if segment else None, clv_params.min_segment_churners)
        except (InsufficientDataError, ConvergenceError) as exc:
            problems.append(
                problems_.problem(
                    f"retention: {term}",
                    "not_estimated",
                    "fatal",
                    f"Retention of {term} contracts not estimated, because {exc}",
                    "their contract CLV is 0 until renewals and non-renewals are both observed",
                )
            )
            continue
        observed = RenewalRateModel.from_params(clv_params).fit(part)
        check = fit_check(fits["all"], part, observed.n_groups_, clv_params.misfit_alpha)
        rates[term], checks[term] = observed, check
        misfit = check["verdict"] == "misfit"
        for name, model in fits.items():
            sbg[(term, name)] = model
            models[(term, name)] = observed if misfit else model
        if misfit:
            problems.append(_misfit_problem(term, observed, check))
        table = table.assign(term_class=term, term_months=months)
        annual = _annual_retention(models, term, months, table.index)
        table = table.drop(columns=list(annual.columns)).join(annual)
        groups = {"all": part} | (dict(list(part.groupby("segment"))) if segment else {})
        observed_rates = pd.DataFrame({name: observed_rate(rows) for name, rows in groups.items()}).T
        table = table.join(observed_rates)
        table["fit_check"], table["fit_p"], table["trend"] = check["verdict"], check["p"], check["trend"]
        homogeneous = np.array([fits[n].homogeneous_ for n in table.index], dtype=bool)
        table["model"] = "per-renewal rates" if misfit else np.where(homogeneous, "sBG constant churn", "sBG")
        rows.append(table.reset_index())
        by_renewal.append(_by_renewal_rows(term, observed, fits["all"]))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=RETENTION_COLUMNS)
    curves = pd.concat(by_renewal, ignore_index=True) if by_renewal else pd.DataFrame(columns=BY_RENEWAL_COLUMNS)
    return Retention(models, sbg, rates, checks, table[RETENTION_COLUMNS], curves, problems)


def retention_curves(retention: Retention | None, years: int) -> pd.DataFrame:
    """Long table (term_class, segment, period, years, retention_rate, survival) of the projected
    curves of every model used, over ``years`` years (``period`` counts renewals in the class's terms)."""
    frames = []
    for _, row in (retention.table if retention is not None else pd.DataFrame()).iterrows():
        model = retention.models[(row["term_class"], row["segment"])]
        periods = np.arange(1, int(np.ceil(years * 12 / row["term_months"])) + 1)
        frames.append(
            pd.DataFrame(
                {
                    "term_class": row["term_class"],
                    "segment": row["segment"],
                    "period": periods,
                    "years": periods * row["term_months"] / 12,
                    "retention_rate": model.retention_rate(periods).to_numpy(),
                    "survival": model.survival(periods).to_numpy(),
                }
            )
        )
    empty = pd.DataFrame(columns=["term_class", "segment", "period", "years", "retention_rate", "survival"])
    return pd.concat(frames, ignore_index=True) if frames else empty


RETENTION_COLUMNS = [
    "term_class",
    "segment",
    "term_months",
    "customers",
    "churners",
    "decisions",
    "renewal_rate_observed",
    "renewal_rate_lower_95",
    "renewal_rate_upper_95",
    "alpha",
    "alpha_lower_95",
    "alpha_upper_95",
    "beta",
    "beta_lower_95",
    "beta_upper_95",
    "retention_year1",
    "retention_year5",
    "fit_check",
    "fit_p",
    "trend",
    "model",
    "note",
]
BY_RENEWAL_COLUMNS = [
    "term_class",
    "renewal",
    "decisions",
    "churns",
    "rate",
    "std_error",
    "lower_95",
    "upper_95",
    "sbg_rate",
]


def _annual_retention(models: dict, term: str, months: float, names) -> pd.DataFrame:
    """Share staying through year 1, and through year 5 among those who started it, from the model
    used (a year without a renewal decision, in a multi-year term, counts as kept)."""
    per_year = 12.0 / months
    out = []
    for name in names:
        s = models[(term, name)].survival([int(per_year), int(4 * per_year), int(5 * per_year)]).to_numpy()
        out.append({"retention_year1": s[0], "retention_year5": s[2] / s[1] if s[1] > 0 else np.nan})
    return pd.DataFrame(out, index=names)


def _by_renewal_rows(term: str, observed: RenewalRateModel, pooled) -> pd.DataFrame:
    s = observed.summary
    return pd.DataFrame(
        {
            "term_class": term,
            "renewal": observed.rates_.index,
            "decisions": observed.decisions_.to_numpy(),
            "churns": observed.churns_.to_numpy(),
            "rate": s["estimate"].to_numpy(),
            "std_error": s["std_error"].to_numpy(),
            "lower_95": s["lower_95"].to_numpy(),
            "upper_95": s["upper_95"].to_numpy(),
            "sbg_rate": pooled.retention_rate(observed.rates_.index).to_numpy(),
        }
    )


def _misfit_problem(term: str, observed: RenewalRateModel, check: dict) -> dict:
    r = observed.rates_
    shown = f"observed retention {r.iloc[0]:.1%} at renewal 1 and {r.iloc[-1]:.1%} at renewal {r.index[-1]}"
    trend = {"falls": "falls with tenure", "rises": "rises with tenure", "flat": "does not follow it"}[check["trend"]]
    return problems_.problem(
        f"retention: {term}",
        "sbg_misfit",
        "adjusted",
        f"The sBG does not fit the {term} renewals (chi-square {check['statistic']:.1f} on {check['df']} df, "
        f"p = {check['p']:.2g}): {shown}; retention {trend}, which the sBG cannot represent. Their CLV uses the "
        f"observed retention per renewal number instead.",
        "read clv_retention_by_renewal; the discrete-time churn model (notebook 04) models renewal by renewal too",
    )
