"""The main renewal-drivers model: a logit with errors clustered by account (``RenewalDrivers``).

statsmodels ``Logit`` (Newton) with ``cov_type="cluster"``; when the data separate renewals
(a factor alone, or the factors together), a ridge-penalised fit with a conservative
covariance instead, and the problem is said (``problems_``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools import sm_exceptions

from analysis.core.problems import fatal_message, problem, problems_frame
from analysis.core.summary import adjust_p, summary_frame
from analysis.drivers._base import DriversEstimator
from analysis.drivers.design import DESIGN_OPTIONS, DriverDesign
from analysis.drivers.outcome import ACCOUNT, MODEL, OUTCOME, decided_contracts, events_problem, outcome_problems
from analysis.drivers.outcome import label_of as _label_of
from analysis.drivers.text import odds_phrase, p_phrase
from analysis.errors import InsufficientDataError

# --- logistic fit ----------------------------------------------------------------------------


@dataclass
class LogitFit:
    params: pd.Series  # log-odds, "const" first
    cov: pd.DataFrame  # cluster-robust covariance
    method: str  # "maximum likelihood" or "ridge-penalised"
    problems: list[dict] = field(default_factory=list)


def _ml_logit(exog: pd.DataFrame, y: pd.Series, groups: np.ndarray) -> tuple[object | None, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", sm_exceptions.PerfectSeparationWarning)
        warnings.simplefilter("ignore", sm_exceptions.ConvergenceWarning)
        warnings.simplefilter("ignore", sm_exceptions.HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = sm.Logit(y, exog).fit(
                method="newton", maxiter=100, disp=0, cov_type="cluster", cov_kwds={"groups": groups}
            )
        except (sm_exceptions.PerfectSeparationError, sm_exceptions.PerfectSeparationWarning):
            return None, "statsmodels reports perfect separation"
        except np.linalg.LinAlgError:
            return None, "the information matrix is singular"
    if not res.mle_retvals.get("converged", False):
        return None, "maximum likelihood did not converge"
    return res, ""


def ridge_logit(exog: pd.DataFrame, y: pd.Series, groups: np.ndarray, penalty: float) -> tuple[pd.Series, pd.DataFrame]:
    """Ridge-penalised logit (intercept free) with a conservative covariance.

    Estimates come from scikit-learn. statsmodels' ``fit_regularized`` returns no covariance,
    so it is written here: the larger (per coefficient) of the cluster-robust sandwich
    ``H⁻¹ M H⁻¹`` and the penalised-likelihood ``H⁻¹`` (a N(0, 1/penalty) prior's posterior).
    Under separation the sandwich alone is falsely narrow for the separating factor, because
    its rows carry almost no score; ``H⁻¹`` keeps that interval from collapsing.
    """
    from sklearn.linear_model import LogisticRegression

    X = exog.drop(columns="const").to_numpy()
    model = LogisticRegression(C=1.0 / penalty, solver="lbfgs", max_iter=2000, tol=1e-10)
    model.fit(X, y.to_numpy())
    beta = np.concatenate([model.intercept_, model.coef_[0]])
    A = exog.to_numpy()
    p = expit(A @ beta)
    H = (A * (p * (1 - p))[:, None]).T @ A + np.diag([0.0] + [penalty] * X.shape[1])
    H_inv = np.linalg.inv(H)
    sandwich = _cluster_sandwich(A, y.to_numpy() - p, groups, H_inv)
    # Keep the sandwich's correlations, inflate each variance to the larger of the two.
    inflate = np.sqrt(np.maximum(np.diag(H_inv), np.diag(sandwich)) / np.maximum(np.diag(sandwich), 1e-300))
    cov = sandwich * np.outer(inflate, inflate)
    names = list(exog.columns)
    return pd.Series(beta, index=names), pd.DataFrame(cov, index=names, columns=names)


def _cluster_sandwich(A: np.ndarray, resid: np.ndarray, groups: np.ndarray, bread: np.ndarray) -> np.ndarray:
    """Cluster-robust ``bread @ meat @ bread`` with the usual G/(G-1) small-sample factor."""
    codes, _ = pd.factorize(groups)
    G = codes.max() + 1
    scores = np.zeros((G, A.shape[1]))
    np.add.at(scores, codes, A * resid[:, None])
    meat = scores.T @ scores * (G / max(G - 1, 1))
    return bread @ meat @ bread


def fit_logit(
    X: pd.DataFrame, y: pd.Series, groups, *, penalty: float, max_abs_coef: float, force_penalty: bool = False
) -> LogitFit:
    """Maximum likelihood with standard errors clustered by ``groups``; ridge when it diverges."""
    exog = sm.add_constant(X.astype(float), has_constant="add")
    groups = np.asarray(groups)
    problems: list[dict] = []
    if not force_penalty:
        res, why = _ml_logit(exog, y, groups)
        if res is not None:
            worst = res.params.drop("const").abs()
            finite = np.isfinite(res.bse).all()
            if finite and (worst.empty or worst.max() <= max_abs_coef):
                return LogitFit(res.params, res.cov_params(), "maximum likelihood")
            why = (
                f"maximum-likelihood estimate for '{worst.idxmax()}' diverges ({worst.max():.1f} log-odds)"
                if finite
                else "standard errors are not finite"
            )
        problems.append(
            problem(
                MODEL,
                "separation",
                "adjusted",
                f"{why}: the factors together (nearly) separate renewals from non-renewals",
                f"fitted with a ridge penalty ({penalty}) on standardised coefficients",
            )
        )
    params, cov = ridge_logit(exog, y, groups, penalty)
    return LogitFit(params, cov, "ridge-penalised", problems)


# --- the fitter ------------------------------------------------------------------------------


class RenewalDrivers(DriversEstimator):
    """Logistic regression of renewal on contract features, shaped like a lifelines fitter.

    ``fit(contracts)`` returns self; ``summary`` is the common summary frame (log-odds per +1 SD
    or per level) plus odds ratios, BH-corrected p-values, renewal rates with and without each
    0/1 factor, direction, the standardised effect (log-odds per +1 SD of the design column, so a
    0/1 factor and a number compare) with its interval, ``strength`` (the end of that interval
    nearest zero; 0 when it spans zero), ``rank`` and a sentence. ``problems_`` lists what could not
    be estimated and why.
    Options: the ``drivers`` section (``RenewalDrivers.from_params(params.drivers)``).
    """

    def __init__(
        self,
        *,
        factors: str | Sequence[str],
        categorical: Sequence[str],
        max_missing_share: float,
        min_level_contracts: int,
        min_events_per_factor: float,
        alpha: float,
        penalty: float,
        max_abs_coef: float,
        n_reasons: int,
        exclude: Sequence[str] = (),
        reference_levels: Mapping[str, str] | None = None,
        log1p: Sequence[str] = (),
        group_correlated: float | None = None,
        labels: Mapping[str, str] | None = None,
    ):
        self.factors = factors
        self.categorical = categorical
        self.max_missing_share = max_missing_share
        self.min_level_contracts = min_level_contracts
        self.min_events_per_factor = min_events_per_factor
        self.alpha = alpha
        self.penalty = penalty
        self.max_abs_coef = max_abs_coef
        self.n_reasons = n_reasons
        self.exclude = exclude
        self.reference_levels = reference_levels
        self.log1p = log1p
        self.group_correlated = group_correlated
        self.labels = labels

    def label_of(self, name: str) -> str:
        return _label_of(name, self.labels)

    def fit(self, contracts: pd.DataFrame, design: DriverDesign | None = None) -> RenewalDrivers:
        table, notes = decided_contracts(contracts)
        y = table[OUTCOME]
        fatal = outcome_problems(y)
        if fatal:
            self._fail(notes + fatal)
        options = {name: getattr(self, name) for name in DESIGN_OPTIONS}
        self.design_ = design if design is not None else DriverDesign(**options).fit(table, y)
        X = self.design_.transform(table)
        problems = notes + self.design_.problems_.to_dict("records")
        if X.shape[1] == 0:
            problems.append(
                problem(
                    MODEL,
                    "no usable factor",
                    "fatal",
                    "every factor was dropped (see the rows above)",
                    "add usable factor columns or fix the ones listed",
                )
            )
        problems += events_problem(y, X.shape[1], self.min_events_per_factor)
        if any(p["severity"] == "fatal" for p in problems):
            self._fail(problems)
        separated = any(p["problem"] == "separation" for p in problems)
        result = fit_logit(
            X,
            y,
            table[ACCOUNT].to_numpy(),
            penalty=self.penalty,
            max_abs_coef=self.max_abs_coef,
            force_penalty=separated,
        )
        self.params_ = result.params
        self.cov_ = result.cov
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(result.cov)), index=result.params.index)
        self.method_ = result.method
        self.problems_ = problems_frame(problems + result.problems)
        self.n_contracts_, self.n_accounts_ = len(table), int(table[ACCOUNT].nunique())
        self.renewal_rate_ = float(y.mean())
        self.column_means_ = X.mean()
        self.column_sd_ = X.std()
        p = expit(sm.add_constant(X, has_constant="add").to_numpy() @ self.params_.to_numpy())
        self.log_likelihood_ = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
        self.summary_ = self._build_summary(X, y)
        return self

    def _fail(self, problems: list[dict]):
        self.problems_ = problems_frame(problems)
        error = InsufficientDataError(fatal_message(self.problems_, "Renewal drivers"))
        error.problems = self.problems_
        raise error

    @property
    def summary(self) -> pd.DataFrame:
        return self.summary_.copy()

    def _build_summary(self, X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
        names = [c for c in self.params_.index if c != "const"]
        frame = summary_frame(names, self.params_[names], self.standard_errors_[names])
        frame["odds_ratio"] = np.exp(frame["estimate"])
        frame["or_lower_95"] = np.exp(frame["lower_95"])
        frame["or_upper_95"] = np.exp(frame["upper_95"])
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), "fdr_bh")
        significant = frame["p_adjusted"] < self.alpha
        frame["direction"] = np.where(
            ~significant, "no clear effect", np.where(frame["estimate"] > 0, "raises renewal", "lowers renewal")
        )
        owner = self.design_.factor_of()
        frame["variable"] = [owner[c] for c in names]
        frame["kind"] = [self.design_.factors_[owner[c]].kind for c in names]
        frame["unit"] = [self._unit(owner[c]) for c in names]
        rates = [self._rates(c, X, y) for c in names]
        frame["rate_with"], frame["rate_without"], frame["n_with"] = (list(v) for v in zip(*rates))
        sd = self.column_sd_.reindex(names).to_numpy()
        for column, source in (("std_effect", "estimate"), ("std_lower_95", "lower_95"), ("std_upper_95", "upper_95")):
            frame[column] = frame[source] * sd
        frame["strength"] = np.clip(np.maximum(frame["std_lower_95"], -frame["std_upper_95"]), 0, None)
        frame["rank"] = rank_by_evidence(frame, (~significant).astype(int))
        separated = set(self.problems_.loc[self.problems_["problem"] == "separation", "factor"])
        frame["method"] = self.method_
        frame["separated"] = [c in separated for c in names]
        frame["sentence"] = [self._sentence(c, row) for c, row in frame.iterrows()]
        return frame.sort_values("rank")

    def _unit(self, name: str) -> str:
        f = self.design_.factors_[name]
        if f.kind == "binary":
            return "yes vs no"
        if f.kind == "category":
            return f"vs {f.levels[0]}"
        if f.kind == "group":
            return "+1 SD of the group score"
        return f"+1 SD of log(1 + x) = {f.scale:.3g}" if f.log else f"+1 SD = {f.scale:.3g}"

    def _rates(self, column: str, X: pd.DataFrame, y: pd.Series) -> tuple[float, float, int]:
        """Observed renewal rate with / without a 0/1 factor (a category level vs its reference)."""
        f = self.design_.factors_[self.design_.factor_of()[column]]
        if f.kind == "binary":
            with_ = X[column] == 1
            without = ~with_
        elif f.kind == "category":
            with_ = X[column] == 1
            without = (X[f.columns] == 0).all(axis=1)
        else:
            return np.nan, np.nan, np.nan
        return float(y[with_].mean()), float(y[without].mean()), int(with_.sum())

    def _sentence(self, column: str, row: pd.Series) -> str:
        f = self.design_.factors_[row["variable"]]
        label = self.label_of(f.name)
        p_text = p_phrase(row["p_adjusted"], self.alpha)
        odds = odds_phrase(row["odds_ratio"], row["or_lower_95"], row["or_upper_95"])
        if f.kind == "binary":
            subject = label
            text = (
                f"Contracts with {label} renewed {row['rate_with']:.0%} vs {row['rate_without']:.0%} without; "
                f"other factors equal, {odds}"
            )
        elif f.kind == "category":
            subject = f"{label} = {f.level_of(column)}"
            text = (
                f"{subject} renewed {row['rate_with']:.0%} vs {row['rate_without']:.0%} for {f.levels[0]} "
                f"(the reference); other factors equal, {odds}"
            )
        else:
            subject = label
            scale = f"log(1 + {label}) " if f.log else ""
            text = f"+1 SD in {scale}{'' if f.log else label + ' '}({f.scale:.3g}): {odds}"
            if f.kind == "group":
                text = f"+1 SD in the group score of {label}: {odds}"
        if row["direction"] == "no clear effect":
            text = f"No clear link between {subject} and renewal. {text}"
        text = f"{text[0].upper()}{text[1:]} ({p_text})."
        if row["separated"]:
            text += (
                " Estimated with a ridge penalty because this factor separates renewals perfectly: "
                "read the direction, not the size."
            )
        elif self.method_ != "maximum likelihood":
            text += " Ridge-penalised fit (the data separate renewals)."
        return text

    # -- prediction
    def predict_proba(self, features: pd.DataFrame) -> pd.Series:
        """Renewal probability for each row of a feature table (indexed like it)."""
        X = self.design_.transform(features)
        eta = self.params_["const"] + X.to_numpy() @ self.params_.drop("const").to_numpy()
        return pd.Series(expit(eta), index=features.index, name="renewal_probability")

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per row and factor: coefficient x deviation from the fitting mean, on the log-odds scale.

        Category dummies are summed into their factor. Row sums plus ``baseline_log_odds_`` give the
        model's log-odds.
        """
        X = self.design_.transform(features)
        beta = self.params_.drop("const")
        centre = pd.Series(self._centre(), index=X.columns)
        parts = (X - centre) * beta
        owner = self.design_.factor_of()
        return parts.T.groupby(pd.Index([owner[c] for c in X.columns]), sort=False).sum().T

    def _centre(self) -> np.ndarray:
        """Mean of each design column in the fitting data (standardised numerics have mean 0)."""
        return np.array([self.column_means_[c] for c in self.params_.index if c != "const"])

    @property
    def baseline_log_odds_(self) -> float:
        beta = self.params_.drop("const").to_numpy()
        return float(self.params_["const"] + self._centre() @ beta)

    def reasons(
        self,
        features: pd.DataFrame,
        n: int | None = None,
        significant_only: bool = True,
        factors: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The top ``n`` (default ``n_reasons``) factors pushing each row's renewal down and up (long
        table); see :func:`analysis.drivers.reasons.account_reasons`."""
        from analysis.drivers.reasons import account_reasons

        return account_reasons(self, features, n or self.n_reasons, significant_only, factors)


def rank_by_evidence(frame: pd.DataFrame, priority: pd.Series) -> pd.Series:
    """1, 2, ... : by ``priority`` (lower first: clear before unclear, confirmed before the rest),
    then by ``strength`` (the standardised effect's interval end nearest zero: comparable across
    0/1 and numeric factors, and small when the evidence is thin), then by p."""
    order = frame.assign(_priority=priority).sort_values(
        ["_priority", "strength", "p"], ascending=[True, False, True], kind="stable"
    )
    return pd.Series(np.arange(1, len(frame) + 1), index=order.index)
