"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note).

Each transaction's value is Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, so the
mean of a customer's x repeat transactions, ``monetary_value``, has a closed-form marginal
likelihood. Only repeat buyers (frequency > 0) are used to fit, as in the original model.
Independent of time units. Written by hand for the same reasons as ``bgnbd`` (vectorised
likelihood with special functions once per distinct frequency, analytic Hessian).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, polygamma

from analysis.clv._fitter import MLEFitter
from analysis.clv._inputs import check_weights, require_columns
from analysis.errors import DataContractError, InsufficientDataError

SPEND_COLUMNS = ("frequency", "monetary_value")


def check_spend(rfm: pd.DataFrame, repeat_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate frequency and monetary_value; return (row mask used, x, m)."""
    require_columns(rfm, SPEND_COLUMNS, "The Gamma-Gamma spend model")
    x = rfm["frequency"].to_numpy(dtype=float)
    m = rfm["monetary_value"].to_numpy(dtype=float)
    if len(x) and (~np.isfinite(x) | (x < 0) | (x != np.round(x))).any():
        raise DataContractError("frequency must be a whole number >= 0 (count of repeat purchases) in every row.")
    use = x > 0 if repeat_only else np.ones(len(x), dtype=bool)
    bad = use & ~(np.isfinite(m) & (m > 0))
    if bad.any():
        raise DataContractError(
            f"The Gamma-Gamma spend model needs a positive mean spend for every repeat buyer; {int(bad.sum())} "
            f"have zero, negative or missing monetary_value, e.g.\n"
            f"{rfm.loc[bad, list(SPEND_COLUMNS)].head(3).to_string()}\n"
            f"Drop them from the spend fit (credit notes, free orders) or net returns against their orders first."
        )
    return use, x, m


class GammaGammaModel(MLEFitter):
    """Gamma-Gamma model; ``fit(rfm)`` on columns frequency, monetary_value returns self."""

    param_names = ("p", "q", "gamma")
    model_name = "Gamma-Gamma"
    convergence_advice = (
        "check that monetary_value is the mean of the *repeat* orders in one currency, drop extreme "
        "outliers, rescale money (e.g. thousands), or pass initial_params (p, q, gamma)"
    )

    shape_params = ("p", "q")
    degenerate_advice = (
        "with few repeat buyers the spread of spend between customers cannot be estimated: use a longer "
        "order history, or value these accounts from their contracts"
    )

    def fit(
        self, rfm: pd.DataFrame, weights=None, initial_params=None, max_iter: int = 200, tol: float = 1e-7
    ) -> GammaGammaModel:
        use, x, m = check_spend(rfm, repeat_only=True)
        w = check_weights(weights, len(x))[use]
        x, m = x[use].astype(np.int64), m[use]
        if len(x) == 0 or w.sum() <= 0:
            raise InsufficientDataError(
                "No repeat buyers: the Gamma-Gamma model is fitted on customers with frequency > 0. Use a "
                "longer window, or value spend by the book's mean order value and say so."
            )
        if len(np.unique(m)) < 2:
            raise InsufficientDataError(
                "Every repeat buyer has the same mean spend; the spend variation cannot be estimated."
            )
        counts = np.bincount(x, weights=w)
        xs = np.flatnonzero(counts).astype(float)
        self._data = {"xs": xs, "nx": counts[xs.astype(int)], "x": x.astype(float), "m": m, "w": w, "logm": np.log(m)}
        if initial_params is None:
            # Moment-style start: individual CV ~ 1/sqrt(p); gamma puts E[M] = p*gamma/(q-1) near the mean.
            mean = np.average(m, weights=w)
            initial_params = (2.0, 3.0, mean)
        try:
            self._optimise(initial_params, w.sum(), max_iter, tol)
        finally:
            del self._data  # the data are not part of the fitted model
        return self

    def _alternative_starts(self, initial: np.ndarray) -> list[np.ndarray]:
        """Other (p, q) with gamma keeping E[M] = p * gamma / (q - 1) at the mean spend."""
        d = self._data
        mean = float(np.average(d["m"], weights=d["w"]))
        return [np.array([p, q, mean * (q - 1) / p]) for p, q in ((1.0, 2.0), (6.0, 4.0), (0.5, 1.5))]

    def _loglik(self, params, hessian):
        p, q, gam = params
        d = self._data
        xs, nx, x, m, w = d["xs"], d["nx"], d["x"], d["m"], d["w"]
        # Frequency-only special functions, once per distinct frequency.
        ll = nx @ (gammaln(p * xs + q) - gammaln(p * xs)) - nx.sum() * gammaln(q)
        psi_pq, psi_p = digamma(p * xs + q), digamma(p * xs)
        den = gam + x * m
        lden = np.log(den)
        px = p * x
        ll += w @ (q * np.log(gam) + (px - 1) * d["logm"] + px * np.log(x) - (px + q) * lden)
        g = np.array(
            [
                (nx * xs) @ (psi_pq - psi_p) + w @ (x * (d["logm"] + np.log(x) - lden)),
                nx @ psi_pq - nx.sum() * digamma(q) + w @ (np.log(gam) - lden),
                w @ (q / gam - (px + q) / den),
            ]
        )
        H = np.zeros((3, 3))
        if hessian:
            t_pq, t_p = polygamma(1, p * xs + q), polygamma(1, p * xs)
            H[0, 0] = (nx * xs**2) @ (t_pq - t_p)
            H[0, 1] = (nx * xs) @ t_pq
            H[0, 2] = -(w @ (x / den))
            H[1, 1] = nx @ t_pq - nx.sum() * polygamma(1, q)
            H[1, 2] = w @ (1 / gam - 1 / den)
            H[2, 2] = w @ (-q / gam**2 + (px + q) / den**2)
            H = np.triu(H) + np.triu(H, 1).T
        return float(ll), g, H

    def population_mean_spend(self) -> float:
        """E[transaction value] for a customer with no repeat history, p*gamma/(q-1) (needs q > 1)."""
        self._check_fitted()
        p, q, gam = self.params_.to_numpy()
        return p * gam / (q - 1) if q > 1 else np.inf

    def predict_mean_spend(self, rfm: pd.DataFrame) -> pd.Series:
        """Expected value of each customer's future transactions (FHL 2005 eq. 5).

        A weighted mean of the population mean and the customer's observed mean; customers without
        repeats get the population mean. Zero or negative observed means are a DataContractError.
        """
        self._check_fitted()
        _, x, m = check_spend(rfm, repeat_only=True)
        p, q, _gamma = self.params_.to_numpy()
        if q <= 1:
            raise InsufficientDataError(
                f"Fitted q = {q:.3g} <= 1: the mean spend is infinite; spend is too heavy-tailed for this model."
            )
        m = np.where(x > 0, m, 0.0)
        weight = p * x / (p * x + q - 1)
        values = (1 - weight) * self.population_mean_spend() + weight * m
        return pd.Series(values, index=rfm.index, name="expected_spend")

    def predict_clv(
        self, purchases, rfm: pd.DataFrame, time_unit: str, horizon: float, annual_discount_rate: float, margin=1.0
    ) -> pd.Series:
        """CLV over ``horizon`` with a fitted BetaGeoModel ``purchases`` (see ``customer_lifetime_value``)."""
        from analysis.clv.value import customer_lifetime_value  # value.py imports this module

        return customer_lifetime_value(purchases, self, rfm, time_unit, horizon, annual_discount_rate, margin)["clv"]
