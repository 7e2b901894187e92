"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys at rate lambda ~ Gamma(r, alpha); after each *repeat* purchase they
drop out with probability p ~ Beta(a, b). Input per customer: ``frequency`` (repeat purchases),
``recency`` (age at the last purchase) and ``T`` (age at the end of the window), in one time
unit that every call names. ``alpha`` is on that unit's scale; the log-likelihood depends on
the unit only through the constant ``-sum(frequency) * log(unit ratio)``.

Written by hand rather than with ``lifetimes`` (unmaintained, pinned to old autograd) so the
likelihood can be vectorised for speed: special functions are evaluated once per distinct
frequency and the analytic Hessian lets a Newton method converge in a dozen steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1, polygamma

from analysis.clv._fitter import MLEFitter
from analysis.clv._inputs import check_rfm, check_weights, convert_time, unit_days
from analysis.errors import InsufficientDataError


def _trigamma(z):
    return polygamma(1, z)


class BetaGeoModel(MLEFitter):
    """BG/NBD model; ``fit(rfm, time_unit=...)`` returns self (``time_unit_`` is the unit it was fitted in)."""

    param_names = ("r", "alpha", "a", "b")
    model_name = "BG/NBD"
    convergence_advice = (
        "express time in weeks or months rather than days (alpha should be of the order of the "
        "mean time between purchases), drop customers with implausible purchase counts, pass "
        "initial_params (r, alpha, a, b) from an earlier fit, or raise max_iter"
    )

    shape_params = ("r", "a", "b")
    degenerate_advice = (
        "with few repeat buyers the purchase and dropout rates cannot be told apart: use a longer order "
        "history, or value these accounts from their contracts"
    )

    def fit(
        self,
        rfm: pd.DataFrame,
        time_unit: str,
        weights=None,
        initial_params=None,
        max_iter: int = 200,
        tol: float = 1e-7,
    ) -> BetaGeoModel:
        """Fit by maximum likelihood on columns frequency, recency, T measured in ``time_unit``.

        ``weights`` counts identical customers per row (see ``analysis.clv.group_rfm``).
        """
        unit_days(time_unit)
        x, t, T = check_rfm(rfm, self.model_name)
        w = check_weights(weights, len(x))
        if not (x[w > 0] > 0).any():
            raise InsufficientDataError(
                "Nobody made a repeat purchase, so the BG/NBD cannot tell the purchase rate from the "
                "dropout rate. Use a longer observation window or value these customers another way "
                "(for example from contracts)."
            )
        self.time_unit_ = time_unit
        self._prepare(x, t, T, w)
        if initial_params is None:
            # Start from a homogeneous-rate guess: alpha / r = mean observed time per purchase.
            rate = (w * x).sum() / (w * T).sum()
            initial_params = (1.0, 1.0 / max(rate, 1e-12), 1.0, 3.0)
        try:
            self._optimise(initial_params, w.sum(), max_iter, tol)
        finally:
            del self._data  # the data are not part of the fitted model
        return self

    def _alternative_starts(self, initial: np.ndarray) -> list[np.ndarray]:
        """Other heterogeneity levels at the book's mean purchase rate (alpha / r = time per purchase)."""
        d = self._data
        rate = (d["nx"] @ d["xs"]) / max(d["w0"] @ d["T0"] + d["w1"] @ d["T1"], 1e-12)
        shapes = [(0.3, 0.5, 1.0), (3.0, 2.0, 8.0), (0.1, 1.0, 1.0)]
        return [np.array([r, r / max(rate, 1e-12), a, b]) for r, a, b in shapes]

    def _prepare(self, x, t, T, w) -> None:
        pos = x > 0
        counts = np.bincount(x, weights=w)
        xs = np.flatnonzero(counts)
        self._data = {
            "xs": xs.astype(float),
            "nx": counts[xs],  # distinct frequencies and their weights
            "T0": T[~pos],
            "w0": w[~pos],  # customers without repeat purchases
            "x1": x[pos],
            "t1": t[pos],
            "T1": T[pos],
            "w1": w[pos],
        }

    def _loglik(self, params, hessian):
        r, alpha, a, b = params
        d = self._data
        xs, nx = d["xs"], d["nx"]
        H = np.zeros((4, 4))
        # Terms depending on frequency only: special functions once per distinct frequency.
        ll = nx @ (gammaln(r + xs) - gammaln(r) + gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs))
        ll += nx.sum() * r * np.log(alpha)
        g = np.array(
            [
                nx @ (digamma(r + xs) - digamma(r)) + nx.sum() * np.log(alpha),
                nx.sum() * r / alpha,
                nx @ (digamma(a + b) - digamma(a + b + xs)),
                nx @ (digamma(a + b) + digamma(b + xs) - digamma(b) - digamma(a + b + xs)),
            ]
        )
        if hessian:
            tab = _trigamma(a + b) - _trigamma(a + b + xs)
            H[0, 0] = nx @ (_trigamma(r + xs) - _trigamma(r))
            H[0, 1] = nx.sum() / alpha
            H[1, 1] = -nx.sum() * r / alpha**2
            H[2, 2] = H[2, 3] = nx @ tab
            H[3, 3] = nx @ (tab + _trigamma(b + xs) - _trigamma(b))
        # Customers without repeats: log L adds -r log(alpha + T).
        w0, i0 = d["w0"], 1.0 / (alpha + d["T0"])
        ll -= r * (w0 @ np.log(alpha + d["T0"]))
        g[0] -= w0 @ np.log(alpha + d["T0"])
        g[1] -= r * (w0 @ i0)
        if hessian:
            H[0, 1] -= w0 @ i0
            H[1, 1] += r * (w0 @ i0**2)
        # Repeat buyers: log L adds log(exp(A3) + exp(A4)) = A3 + softplus(D), D = A4 - A3.
        x1, w1 = d["x1"], d["w1"]
        s = r + x1
        LT, Lt = np.log(alpha + d["T1"]), np.log(alpha + d["t1"])
        iT, it = 1.0 / (alpha + d["T1"]), 1.0 / (alpha + d["t1"])
        ib = 1.0 / (b + x1 - 1)
        D = np.log(a) + np.log(ib) + s * (LT - Lt)
        e = np.exp(-np.abs(D))
        softplus = np.maximum(D, 0) + np.log1p(e)
        wt = np.where(D >= 0, 1.0, e) / (1.0 + e)  # weight of the "dropped out after t_x" branch
        ll += w1 @ (softplus - s * LT)
        delta = np.column_stack([LT - Lt, s * (iT - it), np.full_like(s, 1.0 / a), -ib])
        g += (w1 * wt) @ delta
        g[0] -= w1 @ LT
        g[1] -= w1 @ (s * iT)
        if hessian:
            H[0, 1] -= w1 @ (iT + wt * (it - iT))
            H[1, 1] += w1 @ (s * (iT**2 + wt * (it**2 - iT**2)))
            H[2, 2] -= (w1 @ wt) / a**2
            H[3, 3] += (w1 * wt) @ ib**2
            H += (delta * (w1 * wt * (1 - wt))[:, None]).T @ delta
            H = np.triu(H) + np.triu(H, 1).T
        return float(ll), g, H

    # --- predictions ----------------------------------------------------------------------
    def _params_in(self, time_unit: str) -> tuple[float, float, float, float]:
        """(r, alpha, a, b) with alpha expressed in ``time_unit``."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        return r, convert_time(alpha, self.time_unit_, time_unit), a, b

    def log_likelihood(self, rfm: pd.DataFrame, time_unit: str, weights=None) -> float:
        """Log-likelihood of the fitted parameters on ``rfm`` (e.g. to compare with another fit)."""
        x, t, T = check_rfm(rfm, self.model_name)
        return loglik_at(self._params_in(time_unit), x, t, T, check_weights(weights, len(x)))

    def predict_p_alive(self, rfm: pd.DataFrame, time_unit: str) -> pd.Series:
        """Probability each customer is still active at the end of their window."""
        x, t, T = check_rfm(rfm, self.model_name)
        r, alpha, a, b = self._params_in(time_unit)
        return pd.Series(_p_alive(x, t, T, r, alpha, a, b), index=rfm.index, name="p_alive")

    def predict_purchases(self, rfm: pd.DataFrame, horizon: float, time_unit: str) -> pd.Series:
        """Expected number of purchases in the next ``horizon`` (same ``time_unit`` as the data)."""
        x, t, T = check_rfm(rfm, self.model_name)
        values = conditional_expected_purchases(x, t, T, horizon, *self._params_in(time_unit))
        return pd.Series(values, index=rfm.index, name="expected_purchases")

    def expected_purchases_new_customer(self, horizon, time_unit: str):
        """Expected repeat purchases in (0, horizon] for a customer just acquired (FHL eq. 7)."""
        r, alpha, a, b = self._params_in(time_unit)
        horizon = np.asarray(horizon, dtype=float)
        if abs(a - 1) < A_NEAR_ONE:
            return _midpoint_at_a_one(lambda a_: self._new_customer(horizon, r, alpha, a_, b))
        return self._new_customer(horizon, r, alpha, a, b)

    @staticmethod
    def _new_customer(horizon, r, alpha, a, b):
        return (
            (a + b - 1)
            / (a - 1)
            * (1 - (alpha / (alpha + horizon)) ** r * hyp2f1(r, b, a + b - 1, horizon / (alpha + horizon)))
        )


A_NEAR_ONE = 1e-6


def _midpoint_at_a_one(f):
    """At a = 1 the closed forms are 0/0 (their limit is finite); average both sides instead."""
    return 0.5 * (f(1 - 1e3 * A_NEAR_ONE) + f(1 + 1e3 * A_NEAR_ONE))


def _p_alive(x, t, T, r, alpha, a, b):
    with np.errstate(divide="ignore"):
        odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t)) ** (r + x), 0.0)
    return 1.0 / (1.0 + odds)


def conditional_expected_purchases(x, t, T, horizon, r, alpha, a, b):
    """E[purchases in (T, T + horizon] | x, t_x, T] (FHL 2005 eq. 10), vectorised."""
    x, t, T = (np.asarray(v, dtype=float) for v in (x, t, T))
    horizon = np.asarray(horizon, dtype=float)
    if abs(a - 1) < A_NEAR_ONE:
        return _midpoint_at_a_one(lambda a_: conditional_expected_purchases(x, t, T, horizon, r, alpha, a_, b))
    z = horizon / (alpha + T + horizon)
    bracket = 1 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * bracket * _p_alive(x, t, T, r, alpha, a, b)


def loglik_at(params, x, t, T, weights=None) -> float:
    """Total BG/NBD log-likelihood of ``params`` (r, alpha, a, b) on arrays x, t, T."""
    model = BetaGeoModel()
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    model._prepare(np.asarray(x, dtype=np.int64), np.asarray(t, float), np.asarray(T, float), w)
    return model._loglik(np.asarray(params, dtype=float), hessian=False)[0]
