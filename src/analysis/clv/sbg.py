"""Shifted-beta-geometric contract model (Fader & Hardie 2007, "How to project customer retention").

Each customer renews at every period end with a constant probability 1 - theta, and theta
varies across customers as Beta(alpha, beta); churn "periods" are renewal terms (years for
annual contracts). The model fits either cohort survivor counts or per-customer renewal
histories (periods observed, churned or not), projects retention and survivors, and values a
renewing customer with DERL (Fader & Hardie 2010). Hand-written: no maintained Python library
fits the sBG (lifelines has no discrete-time beta-geometric model).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, hyp2f1, polygamma

from analysis.clv._fitter import MLEFitter
from analysis.clv._inputs import check_weights, require_columns
from analysis.core import problems as problems_
from analysis.core.summary import summary_frame
from analysis.errors import ConvergenceError, DataContractError, InsufficientDataError

HISTORY_COLUMNS = ("periods", "churned")
HOMOGENEOUS_SCALE = 1e4  # alpha and beta both beyond this: the fit is heading to the no-heterogeneity limit
HOMOGENEOUS_NOTE = "no rise in retention with tenure: constant churn probability (alpha, beta -> infinity)"


def survivors_to_histories(survivors) -> pd.DataFrame:
    """Cohort survivor counts [n_0, n_1, ..., n_k] -> weighted histories (periods, churned, weight).

    ``n_0 - n_1`` customers churned in period 1, ...; the ``n_k`` still active are censored after
    period k.
    """
    n = np.asarray(survivors, dtype=float)
    if n.ndim != 1 or len(n) < 2 or not np.all(np.isfinite(n)):
        raise DataContractError("survivors must be a list of counts [n_0, n_1, ...] with at least two entries.")
    lost = -np.diff(n)
    if (lost < 0).any() or n[-1] < 0:
        raise DataContractError(f"Survivor counts must not increase over time: {n.tolist()}.")
    k = len(n) - 1
    return pd.DataFrame(
        {
            "periods": np.r_[np.arange(1, k + 1), k],
            "churned": np.r_[np.ones(k, dtype=int), 0],
            "weight": np.r_[lost, n[-1]],
        }
    )


class ShiftedBetaGeometricModel(MLEFitter):
    """sBG model; ``fit(histories)`` or ``fit_survivors(counts)`` returns self.

    ``histories`` has one row per customer (or per group with ``weights``) with ``churned`` = 1 for
    a customer who left and 0 for one still active (censored), and ``periods`` = for a churner,
    the period at whose end they left (1 = did not renew the first term); for an active customer,
    the number of renewals made so far (periods survived; drop rows with 0, they carry no information).
    """

    param_names = ("alpha", "beta")
    model_name = "sBG"
    convergence_advice = (
        "check that periods count renewal terms (1 = first term) and that some customers churn "
        "and some renew; with very few churners fit one pooled model instead of per segment"
    )

    def fit(
        self, histories: pd.DataFrame, weights=None, initial_params=(1.0, 1.0), max_iter: int = 200, tol: float = 1e-8
    ) -> ShiftedBetaGeometricModel:
        require_columns(histories, HISTORY_COLUMNS, "The sBG model")
        t = histories["periods"].to_numpy(dtype=float)
        c = histories["churned"].to_numpy(dtype=float)
        w = check_weights(weights, len(t))
        if len(t) == 0 or w.sum() <= 0:
            raise InsufficientDataError(
                "The sBG model got no contract histories; it needs customers who reached a renewal."
            )
        if (~np.isfinite(t) | (t < 1) | (t != np.round(t))).any() or not np.isin(c, (0, 1)).all():
            raise DataContractError("periods must be whole numbers >= 1 and churned must be 0 or 1 in every row.")
        churners, renewals = w @ c, w @ (t - c)
        if churners <= 0 or renewals <= 0:
            raise InsufficientDataError(
                f"The sBG needs both churn and renewals to estimate retention (churned: {churners:.0f}, "
                f"renewals observed: {renewals:.0f}). Pool segments or wait for more renewal decisions."
            )
        frame = pd.DataFrame({"t": t, "c": c, "w": w}).groupby(["t", "c"], as_index=False)["w"].sum()
        self._data = {k: frame[k].to_numpy(dtype=float) for k in ("t", "c", "w")}
        self.homogeneous_ = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._optimise(initial_params, w.sum(), max_iter, tol)
                diverged = bool(np.all(self.params_ > HOMOGENEOUS_SCALE))
            except ConvergenceError:
                last = self._last_result
                diverged = last is not None and bool(np.all(np.exp(last.x) > HOMOGENEOUS_SCALE))
                if not diverged:
                    raise
        if diverged:  # a flat likelihood towards the boundary: the singular-information warning does not apply
            self._fit_homogeneous(churners, renewals, w.sum())
        else:
            for item in caught:
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        self.periods_observed_ = int(t.max())
        del self._data
        return self

    def _fit_homogeneous(self, churners: float, renewals: float, n_obs: float) -> None:
        """The limit alpha, beta -> infinity: every customer churns with the same probability.

        Reached when retention does not rise with tenure (the data show no heterogeneity); the
        maximum-likelihood churn probability is then churns / renewal decisions.
        """
        theta = churners / (churners + renewals)
        info = churners / theta**2 + renewals / (1 - theta) ** 2
        self.homogeneous_ = True
        self.problems_ = problems_.problems_frame(
            [
                problems_.problem(
                    self.model_name,
                    "homogeneous",
                    "adjusted",
                    HOMOGENEOUS_NOTE,
                    "read the one churn probability in summary; alpha and beta are not identified",
                )
            ]
        )
        self.churn_probability_ = theta
        self.churn_probability_se_ = float(np.sqrt(1 / info))
        scale = HOMOGENEOUS_SCALE**2  # large enough that the beta mixing is negligible
        self.params_ = pd.Series([theta * scale, (1 - theta) * scale], index=list(self.param_names), name="estimate")
        self.log_likelihood_ = float(churners * np.log(theta) + renewals * np.log1p(-theta))
        self.n_iterations_, self.n_obs_ = 0, float(n_obs)
        nan = np.full((2, 2), np.nan)
        self.log_variance_matrix_ = self.variance_matrix_ = pd.DataFrame(
            nan, index=list(self.param_names), columns=list(self.param_names)
        )
        self.standard_errors_ = pd.Series(np.nan, index=list(self.param_names), name="std_error")

    @property
    def summary(self) -> pd.DataFrame:
        """alpha and beta, or for a homogeneous fit the one constant churn probability."""
        if not getattr(self, "homogeneous_", False):
            return super().summary
        theta, se = self.churn_probability_, self.churn_probability_se_
        frame = summary_frame(["churn_probability"], [theta], [se])
        frame["sentence"] = [
            f"Retention does not rise with tenure here, so the sBG reduces to one churn probability per "
            f"renewal: {theta:.1%} (95% CI {frame['lower_95'].iloc[0]:.1%} to {frame['upper_95'].iloc[0]:.1%})."
        ]
        return frame

    def fit_survivors(self, survivors, **kwargs) -> ShiftedBetaGeometricModel:
        """Fit from one cohort's survivor counts [n_0, n_1, ..., n_k]."""
        h = survivors_to_histories(survivors)
        return self.fit(h, weights=h["weight"], **kwargs)

    def _loglik(self, params, hessian):
        # churned in period t: log P(T=t) = log a + lnG(b+t-1) - lnG(a+b+t) - lnG(b) + lnG(a+b)
        # active after t:      log S(t)   =         lnG(b+t)   - lnG(a+b+t) - lnG(b) + lnG(a+b)
        a, b = params
        t, c, w = self._data["t"], self._data["c"], self._data["w"]
        bt = b + t - c
        # With bt = b + t - c both cases share betaln(a, bt) - betaln(a, b); a churner adds
        # log(a / (a + bt)) because B(a + 1, bt) = B(a, bt) * a / (a + bt).
        ll = w @ (betaln(a, bt) - betaln(a, b) + c * (np.log(a) - np.log(a + bt)))
        g = np.array(
            [
                w @ (digamma(a) - digamma(a + bt) - digamma(a) + digamma(a + b) + c * (1 / a - 1 / (a + bt))),
                w @ (digamma(bt) - digamma(a + bt) - digamma(b) + digamma(a + b) - c / (a + bt)),
            ]
        )
        H = np.zeros((2, 2))
        if hessian:
            t1 = polygamma(1, a + bt)
            t0 = polygamma(1, a + b)
            H[0, 0] = w @ (-t1 + t0 + c * (-1 / a**2 + 1 / (a + bt) ** 2))
            H[0, 1] = H[1, 0] = w @ (-t1 + t0 + c / (a + bt) ** 2)
            H[1, 1] = w @ (polygamma(1, bt) - t1 - polygamma(1, b) + t0 + c / (a + bt) ** 2)
        return float(ll), g, H

    # --- projections --------------------------------------------------------------------
    def survival(self, periods) -> pd.Series:
        """S(t) = P(still a customer after t renewal decisions) = B(alpha, beta + t) / B(alpha, beta)."""
        self._check_fitted()
        a, b = self.params_.to_numpy()
        t = np.asarray(periods, dtype=float)
        return pd.Series(np.exp(betaln(a, b + t) - betaln(a, b)), index=pd.Index(t, name="period"), name="survival")

    def retention_rate(self, periods) -> pd.Series:
        """r_t = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1: rises with tenure."""
        self._check_fitted()
        a, b = self.params_.to_numpy()
        t = np.asarray(periods, dtype=float)
        return pd.Series((b + t - 1) / (a + b + t - 1), index=pd.Index(t, name="period"), name="retention_rate")

    def projected_survivors(self, n0: float, periods) -> pd.Series:
        """Expected survivors of a cohort of ``n0`` after each of ``periods``."""
        return (n0 * self.survival(periods)).rename("survivors")

    def renewal_probability(self, renewals_past) -> np.ndarray:
        """P(renew at the next decision | renewed ``renewals_past`` times so far)."""
        self._check_fitted()
        a, b = self.params_.to_numpy()
        n = np.asarray(renewals_past, dtype=float) + 1  # the next decision ends period n
        return (b + n - 1) / (a + b + n - 1)

    def derl(self, renewals_past, discount_rate: float, horizon: int | None = None) -> np.ndarray:
        """Discounted expected residual lifetime (Fader & Hardie 2010, eq. 6), in contract payments.

        For a customer who has renewed ``n - 1 = renewals_past`` times, valued just before the
        n-th renewal decision: sum over k >= 0 of P(makes renewal n + k | renewed n - 1 times) /
        (1 + d)^k. The first renewal payment is undiscounted. ``horizon`` (a number of future
        renewals) truncates the sum; None is the published infinite-horizon value.
        """
        self._check_fitted()
        if discount_rate <= 0 and horizon is None:
            raise DataContractError("An infinite-horizon DERL needs a discount rate > 0; pass one or set a horizon.")
        a, b = self.params_.to_numpy()
        n = np.asarray(renewals_past, dtype=float) + 1
        if horizon is None and self.homogeneous_:
            keep = 1 - self.churn_probability_  # geometric series sum_k keep^(k+1) / (1+d)^k
            return np.broadcast_to(keep / (1 - keep / (1 + discount_rate)), n.shape).astype(float)
        if horizon is None:
            return (b + n - 1) / (a + b + n - 1) * hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate))
        k = np.arange(int(horizon))
        # P(renew k + 1 more times | n - 1 renewals) = prod_{j=0..k} (b + n - 1 + j) / (a + b + n - 1 + j)
        steps = (b + n[..., None] - 1 + k) / (a + b + n[..., None] - 1 + k)
        return (np.cumprod(steps, axis=-1) / (1.0 + discount_rate) ** k).sum(axis=-1)


def fit_by_segment(histories: pd.DataFrame, segment: str | None, min_churners: int = 5) -> tuple[dict, pd.DataFrame]:
    """One sBG per value of ``segment`` plus a pooled fit under the key ``"all"`` (only that if None).

    A segment with fewer than ``min_churners`` churners (or no renewals) is not fitted on its
    own: it uses the pooled model and the table says so in ``note``.
    """
    require_columns(
        histories, HISTORY_COLUMNS if segment is None else (*HISTORY_COLUMNS, segment), "Segment-level sBG fits"
    )
    weights = histories.get("weight")
    pooled = ShiftedBetaGeometricModel().fit(histories, weights=weights)
    models, rows = {"all": pooled}, []
    parts = [] if segment is None else list(histories.groupby(segment, observed=True))
    for name, part in [("all", histories), *parts]:
        w = part["weight"] if "weight" in part else pd.Series(1.0, index=part.index)
        churners = float(w @ part["churned"])
        note = ""
        if name != "all":
            try:
                if churners < min_churners:
                    raise InsufficientDataError(f"only {churners:.0f} churners")
                models[name] = ShiftedBetaGeometricModel().fit(part, weights=w)
            except InsufficientDataError as exc:
                models[name], note = pooled, f"uses the pooled fit: {exc}"
        m = models[name]
        if m.homogeneous_ and not note:
            note = HOMOGENEOUS_NOTE
        ci = m.confidence_intervals_ * (np.nan if m.homogeneous_ else 1.0)
        shown = m.params_ * (np.nan if m.homogeneous_ else 1.0)
        rows.append(
            {
                "segment": name,
                "customers": float(w.sum()),
                "churners": churners,
                "alpha": shown["alpha"],
                "alpha_lower_95": ci.loc["alpha", "lower_95"],
                "alpha_upper_95": ci.loc["alpha", "upper_95"],
                "beta": shown["beta"],
                "beta_lower_95": ci.loc["beta", "lower_95"],
                "beta_upper_95": ci.loc["beta", "upper_95"],
                "retention_year1": m.retention_rate([1]).iloc[0],
                "retention_year5": m.retention_rate([5]).iloc[0],
                "note": note,
            }
        )
    return models, pd.DataFrame(rows).set_index("segment")
