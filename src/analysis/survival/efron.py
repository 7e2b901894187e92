"""The Cox engine: Efron partial likelihood with late entry, the Schoenfeld test, baseline hazards.

lifelines handles late entry (left truncation) by scanning every row at every death time in
Python (CoxTimeVaryingFitter._get_gradients: hours at a million rows), ignores it in the
baseline hazard and in the Schoenfeld residuals. The risk set at time t, {entry < t <= stop},
is a difference of two suffix sums over sorted times, so one pass per Newton step suffices.
These helpers give the same numbers as lifelines (tests/test_survival.py checks it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter
from scipy import sparse, stats


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


def baseline_cumhaz(stop, event, entry, lp, method: str = "kalbfleisch-prentice", min_at_risk: int = 1):
    """Baseline cumulative hazard at the distinct event times (and the events there), honouring
    late entry. Breslow's jump is d / sum(phi). With heavy ties (churn piles up on renewal dates)
    it understates the risk of high-risk accounts, because 1 - exp(-h phi) < h phi; the
    Kalbfleisch-Prentice jump solves sum_deaths phi / (1 - exp(-h phi)) = sum_at_risk phi instead
    (the grouped-time maximum likelihood), and equals Breslow's when times are untied and risk sets large.

    A tiny risk set breaks KP: one account alone at its tenure that churns makes the root infinite
    (a mid-term cancellation after every other account's longest tenure gave a jump of 878 and 100%
    churn for everyone reaching that age). Where fewer than ``min_at_risk`` rows are at risk, the
    bounded Breslow jump stands in (d / sum(phi): at most 1 / phi per death)."""
    event = np.asarray(event, dtype=bool)
    times = np.unique(stop[event])
    phi = np.exp(lp)
    S0 = _at_risk(_risk_groups(times, stop, entry), len(times), phi)
    k = np.searchsorted(times, stop[event])
    deaths = np.bincount(k, minlength=len(times))
    lo = deaths / S0
    if method == "breslow":
        return times, np.cumsum(lo), deaths
    small = _at_risk(_risk_groups(times, stop, entry), len(times), np.ones(len(stop))) < min_at_risk
    # Bisection on log h, vectorised over all event times: f(h) decreases from +inf and f(Breslow) > 0.
    # When everyone at risk dies the root is infinite; the upper bound then stands in for it.
    log_lo, log_hi = np.log(lo), np.log(lo * 1e3 + 50.0)
    for _ in range(45):  # the bracket spans < 2^6 in log h: 45 halvings leave ~2e-12
        mid = 0.5 * (log_lo + log_hi)
        f = np.bincount(k, phi[event] / -np.expm1(-np.exp(mid)[k] * phi[event]), len(times)) - S0
        log_lo, log_hi = np.where(f > 0, mid, log_lo), np.where(f > 0, log_hi, mid)
    return times, np.cumsum(np.where(small, lo, np.exp(0.5 * (log_lo + log_hi)))), deaths


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
