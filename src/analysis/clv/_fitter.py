"""Maximum-likelihood base shared by the CLV models (BG/NBD, Gamma-Gamma, shifted-beta-geometric).

A model supplies the log-likelihood with its analytic gradient and Hessian in the *natural*
parameters; this base optimises over log-parameters (so every parameter stays positive
without bounds), turns the Hessian into standard errors and builds the standard summary.
scipy's trust-region Newton ("trust-exact") uses the analytic Hessian, so a fit takes a
dozen likelihood evaluations instead of the hundred or so a quasi-Newton method needs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits

from analysis.core import problems as problems_
from analysis.core.summary import Z_95, summary_frame
from analysis.errors import ConvergenceError, ConvergenceWarning, DegenerateFitError, NotFittedError


class MLEFitter:
    """Base class: subclasses set ``param_names`` and implement ``_loglik``.

    After ``fit``: ``params_``, ``log_likelihood_``, ``standard_errors_``, ``variance_matrix_``,
    ``n_iterations_``, ``n_obs_`` and ``problems_`` (the ``analysis.core.problems`` frame: e.g. a
    singular information matrix, which leaves the standard errors NaN).
    """

    param_names: tuple[str, ...] = ()
    model_name: str = "model"
    # Said in the ConvergenceError; subclasses add model-specific advice.
    convergence_advice: str = "pass initial_params near a sensible answer or increase max_iter"

    def _loglik(self, params: np.ndarray, hessian: bool) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Total log-likelihood, gradient and (if asked) Hessian in the natural parameters."""
        raise NotImplementedError

    # --- optimisation -------------------------------------------------------------------
    def _objective(self, theta: np.ndarray, scale: float):
        """Negative mean log-likelihood on log-parameters, with gradient and Hessian (chain rule)."""
        key = theta.tobytes()
        if self._cache_key != key:
            p = np.exp(theta)
            with np.errstate(all="ignore"):
                ll, g, h = self._loglik(p, hessian=True)
            if not (np.isfinite(ll) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
                # Overflow in the likelihood or its derivatives: the point counts as infinitely bad, so the
                # trust region shrinks instead of handing scipy a NaN Hessian ("array must not contain infs").
                ll, g, h = -np.inf, np.zeros_like(p), np.zeros((len(p), len(p)))
            g_theta = p * g
            h_theta = np.outer(p, p) * h + np.diag(g_theta)
            self._cache_key, self._cache = key, (-ll / scale, -g_theta / scale, -h_theta / scale)
        return self._cache

    def _alternative_starts(self, initial: np.ndarray) -> list[np.ndarray]:
        """Starting points tried, in order, when the fit from ``initial`` fails (none by default)."""
        return []

    def _minimise(self, start: np.ndarray, scale: float, max_iter: int, tol: float):
        self._cache_key, self._cache = None, None
        # One BLAS thread: the likelihood makes many small dot products, which multi-threaded
        # OpenBLAS slows down (10x on a busy 2-core machine) instead of speeding up.
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in trial steps is rejected by the trust region
            return optimize.minimize(
                lambda th: self._objective(th, scale)[:2],
                np.log(start),
                jac=True,
                hess=lambda th: self._objective(th, scale)[2],
                method="trust-exact",
                options={"gtol": tol, "maxiter": max_iter},
            )

    def _converged(self, res, tol: float) -> bool:
        grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else np.inf
        return bool(np.isfinite(res.fun) and np.all(np.isfinite(res.x)) and (res.success or grad_norm < 1e3 * tol))

    def _optimise(self, initial_params, n_obs: float, max_iter: int, tol: float) -> None:
        p0 = np.asarray(initial_params, dtype=float)
        if p0.shape != (len(self.param_names),) or not np.all(p0 > 0):
            raise ConvergenceError(
                f"initial_params must be {len(self.param_names)} positive numbers {self.param_names}."
            )
        scale = float(n_obs)
        starts = [p0, *self._alternative_starts(p0)]
        failures = []
        res = self._last_result = None
        for start in starts:
            try:
                attempt = self._minimise(start, scale, max_iter, tol)
            except (ValueError, np.linalg.LinAlgError) as exc:  # scipy's own checks on a degenerate step
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            self._last_result = attempt  # kept so a subclass can diagnose a failed fit
            if self._converged(attempt, tol):
                res = attempt
                break
            grad_norm = float(np.max(np.abs(attempt.jac))) if attempt.jac is not None else np.inf
            shown = {k: float(f"{v:.4g}") for k, v in zip(self.param_names, np.exp(attempt.x))}
            failures.append(
                f"{attempt.message} after {attempt.nit} iterations; largest gradient {grad_norm:.2g}, "
                f"parameters {shown}"
            )
        if res is None:
            runaway = self._runaway(self._last_result)
            if runaway:  # every start ran off towards a boundary: the data cannot identify the model
                raise DegenerateFitError(
                    f"the {self.model_name} fit ran off to the edge of the parameter space from every starting point "
                    f"({runaway}): the data cannot pin the model down. Try: {self.degenerate_advice}."
                )
            tried = f"from {len(starts)} starting points " if len(starts) > 1 else ""
            raise ConvergenceError(
                f"The {self.model_name} fit did not converge {tried}({'; '.join(failures)}). "
                f"Try: {self.convergence_advice}."
            )
        theta = res.x
        self.params_ = pd.Series(np.exp(theta), index=list(self.param_names), name="estimate")
        self.log_likelihood_ = float(-res.fun * scale)
        self.n_iterations_ = int(res.nit)
        self.n_obs_ = float(n_obs)
        self.problems_ = problems_.problems_frame()
        self._set_variance(theta, scale)
        reason = self._degenerate_reason()
        if reason:
            for name in ("params_", "log_likelihood_", "standard_errors_", "variance_matrix_"):
                self.__dict__.pop(name, None)  # a refused fit leaves the model unfitted
            raise DegenerateFitError(reason)

    # Shape parameters that may not collapse towards 0 (a fit there is a boundary, not an estimate),
    # and the floor below which they count as collapsed. Models that refuse such fits set them.
    shape_params: tuple[str, ...] = ()
    shape_floor = 1e-3
    degenerate_advice = "collect more history before valuing this stream"

    runaway_ceiling = 1e8  # a parameter past this (or below shape_floor) has run off, not converged

    def _runaway(self, attempt) -> str:
        """The parameters of a failed attempt that ran off towards 0 or infinity ("" if none)."""
        if attempt is None or attempt.x is None or not np.all(np.isfinite(attempt.x)):
            return ""
        values = dict(zip(self.param_names, np.exp(attempt.x)))
        gone = {k: v for k, v in values.items() if v > self.runaway_ceiling or v < self.shape_floor}
        return ", ".join(f"{k} = {v:.3g}" for k, v in gone.items())

    def _degenerate_reason(self) -> str | None:
        """Why the fitted optimum is a boundary the data cannot identify (None: a proper estimate).

        Only for models that list ``shape_params``; the sBG has its own constant-churn limit."""
        if not self.shape_params:
            return None
        shown = ", ".join(f"{k} = {v:.3g}" for k, v in self.params_.items())
        collapsed = [k for k in self.shape_params if self.params_[k] < self.shape_floor]
        if collapsed:
            return (
                f"the {self.model_name} fit ran to the edge of the parameter space ({', '.join(collapsed)} -> 0; "
                f"{shown}): the data cannot pin the model down. Try: {self.degenerate_advice}."
            )
        if not np.all(np.isfinite(self.standard_errors_)):
            return (
                f"the {self.model_name} information matrix is singular at the optimum ({shown}; standard errors "
                f"undefined): the data cannot pin the model down. Try: {self.degenerate_advice}."
            )
        return None

    def _set_variance(self, theta: np.ndarray, scale: float) -> None:
        """Covariance of the log-parameters from the observed information (inverse Hessian)."""
        info = self._objective(theta, scale)[2] * scale
        names = list(self.param_names)
        try:
            cov = np.linalg.inv(info)
            ok = np.all(np.isfinite(cov)) and np.all(np.diag(cov) > 0)
        except np.linalg.LinAlgError:
            ok = False
        if not ok and self.shape_params:
            cov = np.full((len(names), len(names)), np.nan)  # the fit is refused by _degenerate_reason
        elif not ok:
            detail = (
                f"The {self.model_name} information matrix is singular at the optimum: standard errors are NaN. "
                f"The parameters are not all identified by this data (for example too few repeat buyers or churners)."
            )
            warnings.warn(detail, ConvergenceWarning, stacklevel=3)
            self._add_problem(
                problems_.problem(
                    self.model_name, "singular_information", "note", detail, "read the estimates without intervals"
                )
            )
            cov = np.full((len(names), len(names)), np.nan)
        self.log_variance_matrix_ = pd.DataFrame(cov, index=names, columns=names)
        p = np.exp(theta)
        # Delta method: Var(p) = p_i p_j Var(log p).
        self.variance_matrix_ = pd.DataFrame(np.outer(p, p) * cov, index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(self.variance_matrix_)), index=names, name="std_error")

    def _add_problem(self, row: dict) -> None:
        self.problems_ = problems_.concat(self.problems_, problems_.problems_frame([row]))

    # --- results ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"This {self.model_name} is not fitted yet; call .fit(...) first.")

    @property
    def AIC_(self) -> float:
        self._check_fitted()
        return 2 * len(self.param_names) - 2 * self.log_likelihood_

    @property
    def confidence_intervals_(self) -> pd.DataFrame:
        """95% intervals computed on the log scale, so they stay positive and are asymmetric."""
        self._check_fitted()
        se_log = np.sqrt(np.diag(self.log_variance_matrix_))
        est = self.params_.to_numpy()
        return pd.DataFrame(
            {"lower_95": est * np.exp(-Z_95 * se_log), "upper_95": est * np.exp(Z_95 * se_log)},
            index=self.params_.index,
        )

    @property
    def summary(self) -> pd.DataFrame:
        """estimate, std_error (delta method), lower_95/upper_95 (log scale), z, p, sentence."""
        self._check_fitted()
        ci = self.confidence_intervals_
        frame = summary_frame(
            self.params_.index, self.params_, self.standard_errors_, lower=ci["lower_95"], upper=ci["upper_95"]
        )
        frame["sentence"] = [self._sentence(name, row) for name, row in frame.iterrows()]
        return frame

    def _sentence(self, name: str, row: pd.Series) -> str:
        return (
            f"{self.model_name} parameter {name} = {row['estimate']:.4g} "
            f"(95% CI {row['lower_95']:.4g} to {row['upper_95']:.4g})."
        )

    def print_summary(self, decimals: int = 4) -> None:
        self._check_fitted()
        print(f"{self.model_name}: {self.n_obs_:.0f} observations, log-likelihood {self.log_likelihood_:.2f}")
        print(self.summary.drop(columns="sentence").round(decimals).to_string())

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {shown}, log-likelihood {self.log_likelihood_:.2f}>"
