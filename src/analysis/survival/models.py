"""Churn as a time-to-event question: data shaping, Kaplan-Meier by group, a Cox model whose
proportional-hazards assumption is checked (and remedied) on every fit, a parametric model for
extrapolation, and per-account risk. Evaluation lives in ``analysis.survival_eval``.

Time scale: tenure in whole days (days since the account was first seen). Whole days keep
lifelines' Cox fast (ties are grouped: ~4 s instead of ~110 s on a million rows) and make
renewals, which fall on contract anniversaries, share one baseline hazard.

Three designs (``docs/survival.md``):

* :func:`account_durations` - history: start to churn, or censored at the as-of date, with static
  attributes only (tier, size band, industry). For Kaplan-Meier and the parametric lifetime curve.
  Behavioural covariates must not be joined here: measured at as-of, they would describe accounts
  after they left.
* :func:`snapshot_frame` - accounts active at as-of, covariates frozen at as-of, followed forward.
  The account enters the risk set at its tenure on the as-of date (left truncation), so every
  prediction is conditional on the tenure already survived.
* :func:`renewal_episodes` - one episode per renewal decision, from its cut-off (``end -
  lead_days``) to the renewal, with covariates measured at the cut-off: time-varying covariates
  across an account's renewals, in counting-process form (lifelines' CoxTimeVaryingFitter shape).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter
from lifelines.utils import concordance_index
from numpy.dtypes import StringDType
from scipy import sparse, stats

from analysis.core.summary import adjust_p, summary_frame
from analysis.errors import AssumptionWarning, ConfigError, ConvergenceError, DataContractError, InsufficientDataError

HORIZONS = (90, 180, 365)
ENTRY, STOP, EVENT = "entry_days", "stop_days", "event"
OUTLIER_SDS = 10.0  # robust z beyond which a value is reported as an extreme outlier
CONCORDANCE_SAMPLE = 50_000  # training concordance on at most this many rows (its SE is then ~0.003)
MIN_SHOWN_EFFECT = np.log(1.01)  # a risk factor is named only if it raises the hazard by 1% or more


# --- data shaping -----------------------------------------------------------------------------


def check_durations(frame: pd.DataFrame, duration_col: str, entry_col: str | None = None) -> None:
    """Durations must be known and positive (and after entry); name the offending rows."""
    stop = pd.to_numeric(frame[duration_col], errors="coerce")
    bad = stop.isna() | (stop <= 0)
    what = f"missing, zero or negative {duration_col}"
    if entry_col is not None:
        entry = pd.to_numeric(frame[entry_col], errors="coerce")
        bad |= entry.isna() | (entry < 0) | (entry >= stop)
        what += f", or {entry_col} not before it"
    if bad.any():
        examples = ", ".join(map(str, frame.index[bad][:5]))
        raise DataContractError(
            f"{int(bad.sum())} rows have {what} (e.g. {examples}). A duration is the days from the start "
            "(or entry) to churn or censoring and must be at least 1: check contract dates and the as-of date."
        )


def account_durations(lifetimes: pd.DataFrame, attributes: pd.DataFrame | None = None) -> pd.DataFrame:
    """History on the tenure scale (``features.account_lifetimes``) joined with static attributes."""
    frame = lifetimes[["duration_days", "event"]].copy()
    if attributes is not None:
        frame = frame.join(attributes, how="left")
    check_durations(frame, "duration_days")
    frame["event"] = frame["event"].astype(int)
    return frame


def snapshot_frame(
    features: pd.DataFrame, outcomes: pd.DataFrame, covariates: Sequence[str], follow_up_days: int | None = None
) -> pd.DataFrame:
    """Accounts active at as-of: covariates at as-of, entry = tenure at as-of, stop = tenure at churn
    or censoring (capped at ``follow_up_days`` after as-of, for back-tests)."""
    active = outcomes.index.intersection(features.index)
    if active.empty:
        raise InsufficientDataError("No account is both in the features and active at the as-of date.")
    frame = features.loc[active, list(covariates)].copy()
    duration = outcomes.loc[active, "duration_days"].astype(int)
    event = outcomes.loc[active, "churned"].astype(bool)
    if follow_up_days is not None:
        event &= duration <= follow_up_days
        duration = duration.clip(upper=follow_up_days)
    frame[ENTRY] = features.loc[active, "tenure_days"].astype(int)
    frame[STOP] = frame[ENTRY] + duration
    frame[EVENT] = event.astype(int)
    check_durations(frame, STOP, ENTRY)
    return frame


def renewal_episodes(contract_features: pd.DataFrame, covariates: Sequence[str], lead_days: int = 90) -> pd.DataFrame:
    """One row per account and renewal date (co-terminous contracts merged; the account stays if any
    contract renews). entry = tenure at the cut-off, stop = tenure on the day after the contract end."""
    cols = list(dict.fromkeys(["tenure_days", *covariates]))
    grouped = contract_features.reset_index().groupby(["account_id", "end"], sort=True)
    frame = grouped[cols].first().join(grouped["renewed"].max()).join(grouped["annual_value"].sum())
    frame = frame.reset_index()
    frame[ENTRY] = frame.pop("tenure_days").astype(int)
    frame[STOP] = frame[ENTRY] + int(lead_days) + 1
    frame[EVENT] = 1 - frame.pop("renewed").astype(int)
    check_durations(frame, STOP, ENTRY)
    return frame


# --- covariate encoding -----------------------------------------------------------------------


@dataclass
class CovariateEncoder:
    """Numeric columns standardised (binary 0/1 kept as is), categories as dummies against a saved
    reference level, so that prediction works on data where some levels are absent."""

    numeric: list[str]
    categorical: list[str] = field(default_factory=list)
    standardize: bool = True
    reference: dict[str, str] = field(default_factory=dict)
    clip_quantile: float | None = None
    log_columns: list[str] = field(default_factory=list)  # skewed counts: log1p before standardising
    center_: dict[str, float] = field(default_factory=dict)
    scale_: dict[str, float] = field(default_factory=dict)
    bounds_: dict[str, tuple[float, float]] = field(default_factory=dict)
    levels_: dict[str, list[str]] = field(default_factory=dict)  # reference level first
    binary_: list[str] = field(default_factory=list)

    def _raw(self, frame: pd.DataFrame, col: str) -> pd.Series:
        x = frame[col].astype(float)
        return np.log1p(x.clip(lower=0)) if col in self.log_columns else x

    def _warn_once(self, message: str) -> None:
        seen = self.__dict__.setdefault("_warned", set())
        if message not in seen:
            seen.add(message)
            warnings.warn(message, AssumptionWarning, stacklevel=3)

    def fit(self, frame: pd.DataFrame) -> CovariateEncoder:
        for col in self.numeric:
            x = self._raw(frame, col)
            values = x.to_numpy()
            binary = bool(np.all((values == 0) | (values == 1) | np.isnan(values)))
            if binary:
                self.binary_.append(col)
            elif self.clip_quantile:
                self.bounds_[col] = (float(x.quantile(self.clip_quantile)), float(x.quantile(1 - self.clip_quantile)))
                x = x.clip(*self.bounds_[col])
            scale = float(x.std()) if self.standardize and not binary else 1.0
            self.center_[col] = float(x.mean()) if self.standardize and not binary else 0.0
            self.scale_[col] = scale if scale > 0 else 1.0
        for col in self.categorical:
            counts = frame[col].astype(str).value_counts()
            ref = str(self.reference.get(col, counts.index[0] if len(counts) else ""))
            if ref not in counts.index:
                raise ConfigError(
                    f"Reference level {ref!r} of '{col}' does not occur; choose one of {sorted(counts.index)}."
                )
            self.levels_[col] = [ref] + sorted(lvl for lvl in counts.index if lvl != ref)
        return self

    @property
    def columns_(self) -> list[str]:
        return list(self.numeric) + [f"{c}={lvl}" for c in self.categorical for lvl in self.levels_[c][1:]]

    def unit(self, column: str) -> str:
        """What a one-unit change of an encoded column means, in words."""
        if "=" in column and column.split("=")[0] in self.levels_:
            col, level = column.split("=", 1)
            return f"{col} {level} vs {self.levels_[col][0]}"
        if column in self.binary_:
            return f"{column} yes vs no"
        name = f"log(1 + {column})" if column in self.log_columns else column
        if self.standardize:
            return f"+1 SD in {name} ({self.scale_[column]:.3g})"
        return f"+1 in {name}"

    def transform(self, frame: pd.DataFrame, impute: bool = False) -> pd.DataFrame:
        """Encoded design; with ``impute`` a missing value becomes the training mean (with a warning)."""
        out = {}
        for col in self.numeric:
            x = self._raw(frame, col)
            if x.isna().any():
                if not impute:
                    raise DataContractError(
                        f"Covariate '{col}' has {int(x.isna().sum())} missing values; impute or drop them."
                    )
                self._warn_once(f"'{col}': {int(x.isna().sum())} missing values scored at the training mean.")
                x = x.fillna(self.center_[col] if self.standardize else float(x.mean()))
            if col in self.bounds_:
                x = x.clip(*self.bounds_[col])
            out[col] = ((x - self.center_[col]) / self.scale_[col]).to_numpy()
        for col in self.categorical:
            values = frame[col].astype(str).to_numpy()
            unseen = ~np.isin(values, self.levels_[col])
            if unseen.any():
                self._warn_once(
                    f"'{col}' has levels unseen in training ({sorted(set(values[unseen]))[:5]}); "
                    f"they are scored as the reference '{self.levels_[col][0]}'."
                )
            for level in self.levels_[col][1:]:
                out[f"{col}={level}"] = (values == level).astype(float)
        return pd.DataFrame(out, index=frame.index, columns=self.columns_)

    def to_dict(self) -> dict:
        """Everything needed to encode new data the same way (reference levels included), as plain data."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> CovariateEncoder:
        data = dict(data)
        data["bounds_"] = {k: tuple(v) for k, v in data.get("bounds_", {}).items()}
        return cls(**data)


# --- pre-fit checks ---------------------------------------------------------------------------


def check_survival_data(
    frame: pd.DataFrame,
    duration_col: str,
    event_col: str,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    entry_col: str | None = None,
    strata: Sequence[str] = (),
    log_columns: Sequence[str] = (),
    clip_quantile: float | None = None,
) -> list[str]:
    """Name every raw-data problem before lifelines meets it; return warnings (extreme outliers)."""
    needed = [duration_col, event_col, *numeric, *categorical, *strata] + ([entry_col] if entry_col else [])
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise DataContractError(
            f"Columns {absent} are missing from the survival frame; build it with "
            "snapshot_frame / renewal_episodes or pass the right column names."
        )
    check_durations(frame, duration_col, entry_col)
    events = pd.to_numeric(frame[event_col], errors="coerce")
    if not events.isin([0, 1]).all():
        found = sorted(events.dropna().unique())[:5]
        raise DataContractError(f"'{event_col}' must be 1 (churned) or 0 (censored); found {found}.")
    missing = {c: int(frame[c].isna().sum()) for c in [*numeric, *categorical, *strata] if frame[c].isna().any()}
    if missing:
        raise DataContractError(
            f"Covariates with missing values: {missing}. Impute them (or drop the rows or "
            "columns) before fitting; lifelines would stop with a NaN error."
        )
    if events.sum() == 0:
        raise InsufficientDataError(
            f"No churn events among {len(frame)} rows: hazards cannot be estimated. "
            "Use a longer history (an earlier as-of date) or a larger book."
        )
    one_valued = [c for c in numeric if frame[c].min() == frame[c].max()] + [
        c for c in categorical if frame[c].nunique() <= 1
    ]
    problems = [
        f"'{c}' has one value ({frame[c].iloc[0]!r}) for every row: it cannot have an effect, drop it"
        for c in one_valued
    ]
    for col in categorical:
        by_level = events.groupby(frame[col].astype(str)).agg(["size", "sum"])
        for level, row in by_level[by_level["sum"] == 0].iterrows():
            problems.append(
                f"level '{level}' of '{col}' has {int(row['size'])} rows and no churn: its hazard ratio "
                "would be zero; merge it with a similar level"
            )
    if problems:
        raise InsufficientDataError("Cannot fit the churn model: " + "; ".join(problems) + ".")
    notes = []
    # Median and MAD from at most 100,000 rows (their sampling error is irrelevant at 10 robust SDs).
    sample = np.random.default_rng(0).choice(len(frame), min(len(frame), 100_000), replace=False)
    for col in numeric:
        x = frame[col].to_numpy(dtype=float)
        x = np.log1p(np.clip(x, 0, None)) if col in log_columns else x
        median = float(np.median(x[sample]))
        mad = 1.4826 * float(np.median(np.abs(x[sample] - median)))
        scale = mad if mad > 0 else float(x.std())
        far = np.abs(x - median) > OUTLIER_SDS * scale if scale > 0 else np.zeros(len(x), bool)
        if far.any():
            remedy = (
                f"values beyond its {clip_quantile:g} and {1 - clip_quantile:g} quantiles are clipped"
                if clip_quantile
                else "log-transform it (log_columns) or set clip_quantile (e.g. 0.001)"
            )
            notes.append(
                f"'{col}' has {int(far.sum())} extreme values (beyond {OUTLIER_SDS:g} robust SDs, max "
                f"{frame[col].abs().max():.4g}): {remedy}"
            )
    return notes


def check_design(design: pd.DataFrame, event: np.ndarray, min_events_per_covariate: float = 10) -> None:
    """Collinear columns, perfect separation and too few events per column, on the encoded design."""
    X = design.to_numpy(dtype=float)
    event = np.asarray(event, dtype=bool)
    n_events, p = int(event.sum()), X.shape[1]
    problems = []
    if p and n_events / p < min_events_per_covariate:
        problems.append(
            f"only {n_events} churn events for {p} covariate columns ({n_events / p:.1f} per column; "
            f"need {min_events_per_covariate:g}): drop or merge covariates, or use a longer history"
        )
    if p > 1:
        sd = X.std(axis=0)
        corr = np.corrcoef(X[:, sd > 0], rowvar=False)
        eigval, eigvec = np.linalg.eigh(corr)
        if eigval[0] < 1e-8:
            names = design.columns[sd > 0][np.abs(eigvec[:, 0]) > 0.1].tolist()
            problems.append(
                f"columns {names} are collinear (one is a linear combination of the others, for "
                "example dummies that always coincide): drop one of them"
            )
    if 0 < n_events < len(event):
        lo_e, hi_e = X[event].min(axis=0), X[event].max(axis=0)
        lo_c, hi_c = X[~event].min(axis=0), X[~event].max(axis=0)
        binary = np.all((X == 0) | (X == 1), axis=0)
        ev1, n1 = X[event].sum(axis=0), X.sum(axis=0)
        one_side = ((ev1 == 0) & (n1 > 0)) | ((ev1 == n_events) & (n1 < len(X)))  # churn only with 0, or only with 1
        separated = (lo_e > hi_c) | (hi_e < lo_c) | (binary & one_side)
        for name in design.columns[separated]:
            problems.append(
                f"'{name}' separates churners from the others perfectly (its hazard ratio would be "
                "infinite or zero): drop it, merge levels, or fit with a penalizer"
            )
    if problems:
        raise InsufficientDataError("Cannot fit the churn model: " + "; ".join(problems) + ".")


# --- Cox partial likelihood with late entry, vectorised -----------------------------------------
# lifelines handles late entry (left truncation) by scanning every row at every death time in
# Python (CoxTimeVaryingFitter._get_gradients: hours at a million rows), ignores it in the
# baseline hazard and in the Schoenfeld residuals. The risk set at time t, {entry < t <= stop},
# is a difference of two suffix sums over sorted times, so one pass per Newton step suffices.
# These helpers give the same numbers as lifelines (tests/test_survival.py checks it).


def _group_sums(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per group 0..size-1 the sum of ``values`` (rows or matrix rows), one sparse product."""
    values = np.asarray(values, dtype=float)
    ind = sparse.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))), shape=(size, len(groups)))
    return np.asarray(ind @ values)


def _risk_groups(times, stop, entry) -> list[tuple[np.ndarray, float]]:
    """Per row, how many event times it is at risk for by exit (+) and not yet by entry (-)."""
    groups = [(np.searchsorted(times, stop, side="right"), 1.0)]
    if entry is not None:
        groups.append((np.searchsorted(times, entry, side="right"), -1.0))
    return groups


def _at_risk(groups, size: int, values) -> np.ndarray:
    """Sum of ``values`` over the rows at risk (entry < t <= stop) at each event time."""
    total = 0.0
    for g, sign in groups:  # exits, then entries: a row with group g counts for times 0..g-1
        totals = _group_sums(g, values, size + 1)
        total = total + sign * np.cumsum(totals[::-1], axis=0)[::-1][1:]
    return total


def _efron(X, stop, event, weights, entry, beta, hessian=True):
    """Efron partial log-likelihood, gradient, Hessian and the pieces the residuals need."""
    event = np.asarray(event, dtype=bool)
    phi = weights * np.exp(X @ beta)
    times = np.unique(stop[event])
    K = len(times)
    groups = _risk_groups(times, stop, entry)
    S0, S1 = _at_risk(groups, K, phi), _at_risk(groups, K, phi[:, None] * X)
    k = np.searchsorted(times, stop[event])
    d = np.bincount(k, minlength=K)
    Xd, phid, wd = X[event], phi[event], weights[event]
    D0, D1 = np.bincount(k, phid, K), _group_sums(k, phid[:, None] * Xd, K)
    wsum, xdeath = np.bincount(k, wd, K), _group_sums(k, wd[:, None] * Xd, K)
    kk = np.repeat(np.arange(K), d)  # one row per death: Efron removes l/d of the tied deaths
    c = (np.arange(len(kk)) - np.repeat(np.cumsum(d) - d, d)) / d[kk]
    den = S0[kk] - c * D0[kk]
    summand = (S1[kk] - c[:, None] * D1[kk]) / den[:, None]
    wa = (wsum / np.maximum(d, 1))[kk]
    grad = xdeath.sum(axis=0) - (wa[:, None] * summand).sum(axis=0)
    ll = float((xdeath @ beta).sum() - (wa * np.log(den)).sum())
    out = {"times": times, "S0": S0, "wsum": wsum, "k": k, "kk": kk, "summand": summand}
    if hessian:
        # sum_k A_k * S2_k with S2_k = sum over the risk set of phi x x' regroups by row: each row
        # carries the A_k of the event times it is at risk for, so one weighted X'X replaces K of them.
        A, B = np.bincount(kk, wa / den, K), np.bincount(kk, wa * c / den, K)
        cum_a = np.concatenate([[0.0], np.cumsum(A)])
        row_a = sum(sign * cum_a[g] for g, sign in groups)
        H = (
            (summand * wa[:, None]).T @ summand
            - (X * (phi * row_a)[:, None]).T @ X
            + (Xd * (phid * B[k])[:, None]).T @ Xd
        )
        out["hessian"] = H
    return ll, grad, out


class _LateEntryCoxPH(SemiParametricPHFitter):
    """lifelines' Cox fitter (the engine of CoxPHFitter: Newton-Raphson, errors, summary) with the
    vectorised late-entry gradient."""

    def _choose_gradient_calculator(self, T, X, entries):
        if entries is None:
            return super()._choose_gradient_calculator(T, X, entries)

        def gradients(X, T, E, weights, entries, beta):
            ll, grad, out = _efron(
                X.to_numpy(float),
                T.to_numpy(float),
                E.to_numpy(bool),
                weights.to_numpy(float),
                entries.to_numpy(float),
                beta,
            )
            return out["hessian"], grad, ll

        return gradients


def schoenfeld_ph_test(X, stop, event, entry, strata, beta, variance) -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards on rank-transformed time, as lifelines'
    ``proportional_hazard_test(time_transform='rank')`` but with late entry and vectorised."""
    event = np.asarray(event, dtype=bool)
    resid, death_time = [], []
    for s in np.unique(strata):
        rows = strata == s
        if not event[rows].any():
            continue
        ev = event[rows]
        _, _, out = _efron(
            X[rows], stop[rows], ev, np.ones(rows.sum()), None if entry is None else entry[rows], beta, hessian=False
        )
        mean = np.stack([np.bincount(out["kk"], out["summand"][:, j]) for j in range(X.shape[1])], axis=1)
        mean /= np.bincount(out["kk"])[:, None]
        resid.append(X[rows][ev] - mean[out["k"]])
        death_time.append(stop[rows][ev])
    resid, death_time = np.concatenate(resid), np.concatenate(death_time)
    n_deaths = len(death_time)
    scaled = n_deaths * resid @ variance
    rank = np.empty(n_deaths)
    rank[np.argsort(death_time, kind="stable")] = np.arange(1, n_deaths + 1)
    g = rank - rank.mean()
    statistic = (g @ scaled) ** 2 / (n_deaths * np.diag(variance) * (g**2).sum())
    return pd.DataFrame({"test_statistic": statistic, "p": stats.chi2.sf(statistic, 1)})


def baseline_cumhaz(stop, event, entry, lp, method: str = "kalbfleisch-prentice"):
    """Baseline cumulative hazard at the distinct event times (and the events there), honouring
    late entry. Breslow's jump is d / sum(phi). With heavy ties (churn piles up on renewal dates)
    it understates the risk of high-risk accounts, because 1 - exp(-h phi) < h phi; the
    Kalbfleisch-Prentice jump solves sum_deaths phi / (1 - exp(-h phi)) = sum_at_risk phi instead
    (the grouped-time maximum likelihood), and equals Breslow's when times are untied and risk sets large."""
    event = np.asarray(event, dtype=bool)
    times = np.unique(stop[event])
    phi = np.exp(lp)
    S0 = _at_risk(_risk_groups(times, stop, entry), len(times), phi)
    k = np.searchsorted(times, stop[event])
    deaths = np.bincount(k, minlength=len(times))
    lo = deaths / S0
    if method == "breslow":
        return times, np.cumsum(lo), deaths
    # Bisection on log h, vectorised over all event times: f(h) decreases from +inf and f(Breslow) > 0.
    # When everyone at risk dies the root is infinite; the upper bound then stands in for it.
    log_lo, log_hi = np.log(lo), np.log(lo * 1e3 + 50.0)
    for _ in range(45):  # the bracket spans < 2^6 in log h: 45 halvings leave ~2e-12
        mid = 0.5 * (log_lo + log_hi)
        f = np.bincount(k, phi[event] / -np.expm1(-np.exp(mid)[k] * phi[event]), len(times)) - S0
        log_lo, log_hi = np.where(f > 0, mid, log_lo), np.where(f > 0, log_hi, mid)
    return times, np.cumsum(np.exp(0.5 * (log_lo + log_hi))), deaths


def step_at(times: np.ndarray, cumhaz: np.ndarray, t) -> np.ndarray:
    """Right-continuous step function H(t) (0 before the first time, flat after the last)."""
    return np.concatenate([[0.0], cumhaz])[np.searchsorted(times, np.asarray(t, dtype=float), side="right")]


def cyclic_cumhaz(
    times: np.ndarray, cumhaz: np.ndarray, events: np.ndarray, t, cycle: float, min_events: int
) -> np.ndarray:
    """H(t) extended past the data by repeating its last well-supported cycle.

    Churn at renewals makes the baseline a staircase with one step per renewal; the steps after
    the longest tenure in the data are unknown, and a flat Cox baseline would say nobody that old
    ever leaves. ``T*`` is the latest event time whose preceding ``cycle`` days hold at least
    ``min_events`` churns; beyond it the hazard of the cycle (T* - cycle, T*] repeats."""
    t = np.asarray(t, dtype=float)
    counts = np.cumsum(events)
    prior = counts - np.concatenate([[0], counts])[np.searchsorted(times, times - cycle, side="right")]
    supported = np.flatnonzero(prior >= min_events)
    if not len(supported):
        return step_at(times, cumhaz, t)
    t_star = times[supported[-1]]
    per_cycle = step_at(times, cumhaz, t_star) - step_at(times, cumhaz, t_star - cycle)
    n, r = np.divmod(np.maximum(t - t_star, 0.0), cycle)
    beyond = (
        step_at(times, cumhaz, t_star)
        + n * per_cycle
        + step_at(times, cumhaz, t_star - cycle + r)
        - step_at(times, cumhaz, t_star - cycle)
    )
    return np.where(t > t_star, beyond, step_at(times, cumhaz, t))


# --- the Cox model ------------------------------------------------------------------------------


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


def _values(frame: pd.DataFrame, column_or_values) -> np.ndarray:
    """A column of ``frame`` by name, or the values given, as floats."""
    return np.asarray(frame[column_or_values] if isinstance(column_or_values, str) else column_or_values, float)


class CoxChurnModel:
    """Cox proportional hazards for churn: lifelines underneath, with pre-fit checks, standardised
    covariates, saved reference levels, and a proportional-hazards test on every fit.

    ``ph_remedy``: ``"auto"`` stratifies a violating category or flag and splits a violating number
    into two effects (before / after the median event time: a step time interaction);
    ``"stratify"`` stratifies everything (numbers in quantile bins); ``"none"`` only reports. The
    test after the remedy is kept in ``assumptions_``; a violation that remains raises an
    :class:`AssumptionWarning`. Nothing is silently ignored.

    ``cycle_days`` (e.g. 365 for annual contracts): predictions past the longest tenure with enough
    churn repeat the baseline of the last well-supported cycle (:func:`cyclic_cumhaz`) instead of
    assuming no churn there.
    """

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
    ):
        if ph_remedy not in ("auto", "stratify", "none"):
            raise ConfigError(f"ph_remedy must be 'auto', 'stratify' or 'none', not {ph_remedy!r}.")
        if baseline not in ("kalbfleisch-prentice", "breslow"):
            raise ConfigError(f"baseline must be 'kalbfleisch-prentice' or 'breslow', not {baseline!r}.")
        self.baseline, self.log_columns = baseline, list(log_columns)
        self.standardize, self.penalizer, self.ph_alpha, self.ph_remedy = standardize, penalizer, ph_alpha, ph_remedy
        self.min_events_per_covariate, self.clip_quantile = min_events_per_covariate, clip_quantile
        self.reference_levels, self.strata_bins, self.alpha = reference_levels or {}, strata_bins, alpha
        self.p_adjust, self.cycle_days, self.min_events_per_cycle = p_adjust, cycle_days, min_events_per_cycle

    OPTIONS = (
        "standardize",
        "penalizer",
        "ph_alpha",
        "ph_remedy",
        "min_events_per_covariate",
        "clip_quantile",
        "reference_levels",
        "strata_bins",
        "p_adjust",
        "cycle_days",
        "min_events_per_cycle",
        "baseline",
        "log_columns",
    )

    @classmethod
    def from_params(cls, section: dict) -> CoxChurnModel:
        """A model configured from the ``survival`` section of the parameters (unknown keys ignored)."""
        return cls(**{k: v for k, v in section.items() if k in cls.OPTIONS})

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
        self.notes_ = check_survival_data(
            frame, duration_col, event_col, numeric, categorical, entry_col, strata, logged, self.clip_quantile
        )
        for note in self.notes_:
            warnings.warn(note, AssumptionWarning, stacklevel=2)
        self.encoder_ = CovariateEncoder(
            list(numeric), list(categorical), self.standardize, dict(self.reference_levels), self.clip_quantile, logged
        ).fit(frame)
        design = self.encoder_.transform(frame)
        stop, event = frame[duration_col].to_numpy(float), frame[event_col].to_numpy(bool)
        entry = None if entry_col is None else frame[entry_col].to_numpy(float)
        check_design(design, event, self.min_events_per_covariate)
        self.duration_col, self.event_col, self.entry_col = duration_col, event_col, entry_col
        self.design_mean_ = design.mean()
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
        remaining = self.ph_test_.index[self.ph_test_["p"] < self.ph_alpha].tolist()
        if remaining:
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
        fitter = _LateEntryCoxPH(
            penalizer=self.penalizer, alpha=self.alpha, strata=["_stratum"] if self.strata_ else None
        )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fitter.fit(df, "_T", "_E", entry_col="_entry" if en is not None else None)
        except Exception as exc:  # lifelines raises its own ConvergenceError and LinAlgError
            raise ConvergenceError(
                f"The Cox fit did not converge ({type(exc).__name__}: {str(exc)[:200]}). Check "
                "the pre-fit notes, drop near-duplicate covariates or set a penalizer (e.g. 0.01)."
            ) from exc
        self.fit_warnings_ = [str(w.message).strip().splitlines()[0] for w in caught]
        self.lifelines_, self.design_columns_ = fitter, names
        beta = fitter.params_.to_numpy()
        self.ph_test_ = schoenfeld_ph_test(X, t, e, en, st, beta, fitter.variance_matrix_.to_numpy())
        self.ph_test_.index = pd.Index(names, name="factor")
        self.ph_test_["violated"] = self.ph_test_["p"] < self.ph_alpha
        lp = X @ beta
        self._pooled = baseline_cumhaz(t, e, en, lp, self.baseline)
        self.baselines_ = (
            {st[0]: self._pooled}
            if not self.strata_
            else {
                s: baseline_cumhaz(
                    t[st == s], e[st == s], None if en is None else en[st == s], lp[st == s], self.baseline
                )
                for s in np.unique(st)
            }
        )
        # Harrell's C on the training rows (before any split), with the log hazard before the cut;
        # lifelines' O(n log n) tree is pure Python, so large books use a fixed random sample.
        rows = (
            np.random.default_rng(0).choice(len(stop), CONCORDANCE_SAMPLE, replace=False)
            if len(stop) > CONCORDANCE_SAMPLE
            else slice(None)
        )
        lp_rows = self._linear_predictors(frame.iloc[rows] if isinstance(rows, np.ndarray) else frame)[0]
        self.concordance_index_ = float(concordance_index(stop[rows], -lp_rows, event[rows]))

    # results -------------------------------------------------------------------------------
    @property
    def params_(self) -> pd.Series:
        return self.lifelines_.params_.rename_axis("factor")

    @property
    def hazard_ratios_(self) -> pd.Series:
        return np.exp(self.params_)

    @property
    def log_likelihood_(self) -> float:
        return float(self.lifelines_.log_likelihood_)

    @property
    def summary(self) -> pd.DataFrame:
        """Log hazard ratios in the common shape, plus hazard ratios, BH-adjusted p and a sentence."""
        se = self.lifelines_.standard_errors_.to_numpy()
        frame = summary_frame(self.design_columns_, self.params_.to_numpy(), se)
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), self.p_adjust)
        frame["hazard_ratio"] = np.exp(frame["estimate"])
        frame["hr_lower_95"], frame["hr_upper_95"] = np.exp(frame["lower_95"]), np.exp(frame["upper_95"])
        frame["unit"] = [
            self.encoder_.unit(n.split(" [")[0]) + (" [" + n.split(" [")[1] if " [" in n else "") for n in frame.index
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
        X = self.encoder_.transform(frame, impute=True)[keep].to_numpy(float) - self.design_mean_[keep].to_numpy()
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
                warnings.warn(
                    f"Stratum {s!r} was not in the training data; its accounts use the pooled baseline.",
                    AssumptionWarning,
                    stacklevel=3,
                )
            times, cumhaz, events = self._pooled if s is None else self.baselines_.get(s, self._pooled)
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
        t0 = np.broadcast_to(np.asarray(t0, dtype=float), (len(frame),))
        t1 = np.broadcast_to(np.asarray(t1, dtype=float), (len(frame),))
        stratum = self._stratum(frame) if self.strata_ else None
        return self._hazard_between(stratum, *self._linear_predictors(frame), t0, t1)

    def predict_churn_probabilities(self, frame: pd.DataFrame, horizons: dict, tenure=None) -> pd.DataFrame:
        """P(churn within each horizon | alive at ``tenure``), one column per entry of ``horizons``
        (name -> days, a number or one per row; NaN days give NaN). Encodes the frame once."""
        n = len(frame)
        start = np.zeros(n) if tenure is None else _values(frame, tenure)
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
        values = self.encoder_.transform(frame, impute=True)[keep]
        params = self.params_
        beta = [params[c] if c not in split else params[f"{c} [tenure <= {self.cut_:g}d]"] for c in keep]
        return (values - self.design_mean_[keep]) * np.array(beta), values.to_numpy()

    def risk_factors(self, frame: pd.DataFrame, top_n: int = 3) -> pd.Series:
        """The covariates raising each account's hazard most, e.g. 'adoption_90d low (x1.45)'."""
        contrib, values = self._contributions(frame)
        columns = np.array(contrib.columns, dtype=object)
        dummy = np.array(["=" in c for c in columns])
        binary = np.isin(columns, self.encoder_.binary_)
        c = np.where(dummy & (values == 0), 0.0, contrib.to_numpy())  # name levels the account has, not lacks
        top = np.argsort(-c, axis=1)[:, :top_n]
        rows = np.arange(len(c))[:, None]
        value, effect = values[rows, top], c[rows, top]
        # Word: 0 as is (a level), 1 yes, 2 no, 3 high, 4 low. Each (column, word, multiplier) is
        # formatted once: a million rows share a few thousand texts.
        word = np.where(dummy[top], 0, np.where(binary[top], np.where(value > 0.5, 1, 2), np.where(value > 0, 3, 4)))
        mult = np.minimum(np.round(np.exp(effect) * 100), 99_999).astype(np.int64)
        key = np.where(effect > MIN_SHOWN_EFFECT, (top * 5 + word) * 100_000 + mult, -1)
        pieces, code = np.unique(key, return_inverse=True)
        words = ["", " yes", " no", " high", " low"]
        text = np.array(
            [
                "" if k < 0 else f"{columns[k // 500_000]}{words[k // 100_000 % 5]} (x{k % 100_000 / 100:.2f})"
                for k in pieces
            ],
            dtype=StringDType(),
        )[code.reshape(len(c), -1)]
        joined = text[:, 0]
        for j in range(1, text.shape[1]):  # numpy's vectorised string add, at most top_n - 1 times
            shown = np.strings.str_len(text[:, j]) > 0
            joined = np.strings.add(joined, np.where(shown, np.strings.add(", ", text[:, j]), ""))
        return pd.Series(joined.astype(object), index=frame.index, name="top_risk_factors")


# --- discrete-time hazard at renewals ----------------------------------------------------------


class DiscreteHazardModel:
    """Churn at renewals as a discrete-time hazard: P(leave at renewal k | reached it, x at the cut-off)
    = expit(alpha_k + x'beta), one intercept per renewal number; statsmodels Logit with standard
    errors clustered by account. This is Cox's (1972) logistic model for grouped times: when churn
    happens only at renewals it is the exact model (the synthetic book plants this form), whereas a
    Cox fit with Efron ties estimates the grouped proportional-hazards (complementary log-log)
    coefficient, smaller in magnitude. exp(beta) is an odds ratio of leaving at a renewal."""

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
    ):
        self.log_columns = list(log_columns)
        self.standardize, self.clip_quantile, self.p_adjust = standardize, clip_quantile, p_adjust
        self.min_events_per_covariate, self.min_events_per_period = min_events_per_covariate, min_events_per_period
        self.reference_levels, self.period_days = reference_levels or {}, period_days

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
        self.notes_ = check_survival_data(
            frame,
            duration_col,
            event_col,
            numeric,
            categorical,
            entry_col,
            log_columns=logged,
            clip_quantile=self.clip_quantile,
        )
        self.encoder_ = CovariateEncoder(
            list(numeric), list(categorical), self.standardize, dict(self.reference_levels), self.clip_quantile, logged
        ).fit(frame)
        design = self.encoder_.transform(frame)
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
        return self.result_.params[self.design_columns_].rename_axis("factor")

    @property
    def summary(self) -> pd.DataFrame:
        cols = self.design_columns_
        frame = summary_frame(cols, self.result_.params[cols].to_numpy(), self.result_.bse[cols].to_numpy())
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), self.p_adjust)
        frame["odds_ratio"] = np.exp(frame["estimate"])
        frame["or_lower_95"], frame["or_upper_95"] = np.exp(frame["lower_95"]), np.exp(frame["upper_95"])
        ratios = frame[["odds_ratio", "or_lower_95", "or_upper_95"]].itertuples(index=False)
        frame["sentence"] = [
            effect_sentence(self.encoder_.unit(c), o, lo, hi, "odds of leaving at a renewal")
            for c, (o, lo, hi) in zip(cols, ratios)
        ]
        return frame

    def predict_churn_probability(self, frame: pd.DataFrame, renewal_number=None) -> pd.Series:
        """P(leave at the given renewal number (default: from the stop tenure) | covariates)."""
        k = self._period(
            frame[STOP] if renewal_number is None else np.broadcast_to(renewal_number, (len(frame),)) * self.period_days
        )
        eta = self.encoder_.transform(frame, impute=True).to_numpy() @ self.params_.to_numpy()
        eta += self.baseline_.reindex([f"renewal_{i}" for i in k]).to_numpy()
        return pd.Series(1 / (1 + np.exp(-eta)), index=frame.index, name="p_churn")


# --- parametric model for extrapolation --------------------------------------------------------

PARAMETRIC = {"weibull": WeibullAFTFitter, "lognormal": LogNormalAFTFitter, "loglogistic": LogLogisticAFTFitter}


class ParametricChurnModel:
    """Accelerated-failure-time models (lifelines), the best by AIC kept: a smooth lifetime curve
    that can be extrapolated beyond the longest tenure observed (the Cox baseline stays flat there).
    Covariates act on the time scale: a time ratio above 1 means a longer expected lifetime."""

    def __init__(
        self,
        candidates: Sequence[str] = tuple(PARAMETRIC),
        standardize: bool = True,
        penalizer: float = 0.0,
        clip_quantile: float | None = None,
        min_events_per_covariate: float = 10.0,
    ):
        unknown = set(candidates) - set(PARAMETRIC)
        if unknown or not candidates:
            raise ConfigError(f"Unknown parametric models {sorted(unknown)}; choose from {sorted(PARAMETRIC)}.")
        self.candidates, self.standardize, self.penalizer = list(candidates), standardize, penalizer
        self.clip_quantile, self.min_events_per_covariate = clip_quantile, min_events_per_covariate

    def fit(
        self,
        frame: pd.DataFrame,
        duration_col: str = STOP,
        event_col: str = EVENT,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        entry_col: str | None = None,
    ) -> ParametricChurnModel:
        self.notes_ = check_survival_data(frame, duration_col, event_col, numeric, categorical, entry_col)
        self.encoder_ = CovariateEncoder(
            list(numeric), list(categorical), self.standardize, clip_quantile=self.clip_quantile
        ).fit(frame)
        design = self.encoder_.transform(frame)
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
        s = self.lifelines_.summary
        names = [f"{param}: {cov}" for param, cov in s.index]
        frame = summary_frame(names, s["coef"].to_numpy(), s["se(coef)"].to_numpy())
        scale = self.lifelines_._primary_parameter_name
        frame["time_ratio"] = np.where([p == scale for p, _ in s.index], np.exp(frame["estimate"]), np.nan)
        frame["sentence"] = [
            effect_sentence(
                self.encoder_.unit(cov), np.exp(e), np.exp(lo), np.exp(u), "expected lifetime", "longer", "shorter"
            )
            if p == scale and cov != "Intercept"
            else ""
            for (p, cov), e, lo, u in zip(s.index, frame["estimate"], frame["lower_95"], frame["upper_95"])
        ]
        return frame

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.encoder_.transform(frame, impute=True)

    def predict_survival_function(self, frame: pd.DataFrame, times: Sequence[float], tenure=None) -> pd.DataFrame:
        """Survival ``times`` days after ``tenure`` (conditional on it), lifelines' shape: rows are times."""
        after = None if tenure is None else _values(frame, tenure)
        out = self.lifelines_.predict_survival_function(self._design(frame), times=list(times), conditional_after=after)
        out.columns = frame.index
        return out

    def predict_churn_probability(self, frame: pd.DataFrame, horizon_days: float, tenure=None) -> pd.Series:
        surv = self.predict_survival_function(frame, [float(horizon_days)], tenure)
        return pd.Series(1 - surv.iloc[0].to_numpy(), index=frame.index, name="p_churn")

    def predict_median(self, frame: pd.DataFrame, tenure=None) -> pd.Series:
        """Median remaining lifetime in days (infinite when survival never falls to one half)."""
        after = None if tenure is None else _values(frame, tenure)
        out = self.lifelines_.predict_median(self._design(frame), conditional_after=after)
        return pd.Series(np.asarray(out, dtype=float).ravel(), index=frame.index, name="median_days")
