"""Renewal drivers: which factors predict renewal, by how much, how sure, and why per account.

Input is a contract-level table (``analysis.features.build_contract_features``): one row per
decided contract, features taken ``lead_days`` before its end, outcome ``renewed`` (1/0),
``account_id`` for clustering and ``end`` for time-ordered checks.

1. ``DriverDesign`` cleans the metrics as the churn literature does: skewed counts logged
   (``log1p``), numeric metrics standardised (estimates read "per +1 SD"), 0/1 factors kept as
   yes-vs-no, categories coded against a stated reference, rare levels merged, constant,
   mostly-missing and collinear columns dropped, optionally correlated metrics averaged into a
   group. Everything it could not use is listed in ``problems_`` with the reason.
2. ``RenewalDrivers`` fits a statsmodels logit with standard errors clustered by account, and
   falls back to a ridge-penalised fit (and says so) when the data separate the outcome.
3. ``NonlinearCheck`` fits gradient boosting on earlier contracts, scores later ones, and
   measures permutation importance and partial dependence; ``compare_models`` says where the
   two models agree.
4. ``stability`` refits by segment and period and flags sign flips; ``RenewalDrivers.reasons``
   gives each open account its top factors pushing renewal down or up.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import linalg, stats
from scipy.cluster import hierarchy
from scipy.special import expit
from statsmodels.tools import sm_exceptions

from analysis.core.summary import adjust_p, summary_frame
from analysis.errors import ConfigError, DataContractError, InsufficientDataError
from analysis.params import deep_merge

OUTCOME = "renewed"
ACCOUNT = "account_id"
END = "end"

DEFAULTS: dict = {
    "lead_days": 90,
    "factors": "auto",  # "auto" = every numeric / boolean column not excluded, or a list of columns
    "exclude": [
        "contract_id",
        "account_id",
        "end",
        "cutoff",
        "as_of",
        "renewed",
        "next_renewal_date",
        "days_to_next_renewal",
        "is_active",
        "annual_value",
        "first_seen",
    ],
    "categorical": ["size_band", "industry"],
    "reference_levels": {},  # category -> reference level; otherwise the most frequent level
    "log1p": [],
    "group_correlated": None,  # |r| above which numeric metrics are averaged into one group; None = off
    "labels": {},  # column -> words used in sentences
    "max_missing_share": 0.5,
    "min_events_per_factor": 10,  # the smaller outcome class per model term
    "min_level_contracts": 20,  # rarer 0/1 classes are dropped, rarer category levels merged
    "alpha": 0.05,
    "penalty": 1.0,  # ridge strength (on standardised coefficients) used when the data separate
    "max_abs_coef": 8.0,  # |log-odds| per SD beyond which maximum likelihood is taken as diverging
    "holdout_share": 0.25,
    "gbm": {
        "max_iter": 200,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "early_stopping": True,
    },
    "threads": 1,  # OpenMP threads for boosting; None = library default (see NonlinearCheck.fit)
    "permutation_repeats": 5,
    "permutation_max_rows": 10000,
    "pd_grid": 15,
    "pd_max_rows": 1000,
    "pd_top": 4,
    "stability_by": ["size_band", "industry"],
    "stability_period": "year",  # "year" of the contract end, "half" (earlier / later half) or None
    "stability_factors": "clear",  # refit only the factors with a clear overall effect ("clear") or "all"
    "n_reasons": 3,
    "seed": 42,
}

PROBLEM_COLUMNS = ["factor", "problem", "severity", "detail", "action"]
# Severity: "fatal" (nothing can be estimated), "dropped" (factor left out), "adjusted" (fitted
# differently: merged, penalised, grouped, not logged), "note" (fitted as asked, worth knowing).


def driver_config(section: dict | None = None) -> dict:
    """The ``drivers`` section of the parameters merged over ``DEFAULTS`` and validated."""
    cfg = deep_merge(DEFAULTS, section or {})
    factors = cfg["factors"]
    if not (factors == "auto" or (isinstance(factors, list) and all(isinstance(f, str) for f in factors))):
        raise ConfigError(f"drivers.factors must be 'auto' or a list of column names, got {factors!r}.")
    for key in ("exclude", "categorical", "log1p", "stability_by"):
        if not isinstance(cfg[key] or [], list):
            raise ConfigError(f"drivers.{key} must be a list of column names, got {cfg[key]!r}.")
        cfg[key] = list(cfg[key] or [])
    checks = {
        "lead_days": (1, 3650),
        "max_missing_share": (0.0, 1.0),
        "min_events_per_factor": (0, 1000),
        "min_level_contracts": (1, 10**9),
        "alpha": (1e-6, 0.5),
        "penalty": (1e-6, 1e6),
        "max_abs_coef": (1.0, 50.0),
        "holdout_share": (0.05, 0.5),
        "permutation_repeats": (1, 100),
        "n_reasons": (1, 20),
        "pd_grid": (2, 200),
    }
    for key, (lo, hi) in checks.items():
        value = cfg[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            raise ConfigError(f"drivers.{key} must be a number between {lo} and {hi}, got {value!r}.")
    group = cfg["group_correlated"]
    if group is not None and not (isinstance(group, (int, float)) and 0.5 <= group < 1):
        raise ConfigError(f"drivers.group_correlated must be null or a correlation in [0.5, 1), got {group!r}.")
    if cfg["threads"] is not None and not (isinstance(cfg["threads"], int) and cfg["threads"] >= 1):
        raise ConfigError(f"drivers.threads must be null or a whole number >= 1, got {cfg['threads']!r}.")
    if not isinstance(cfg["gbm"], dict):
        raise ConfigError(
            f"drivers.gbm must be a mapping of HistGradientBoostingClassifier settings, got {cfg['gbm']!r}."
        )
    if cfg["stability_factors"] not in ("clear", "all"):
        raise ConfigError(f"drivers.stability_factors must be 'clear' or 'all', got {cfg['stability_factors']!r}.")
    if cfg["stability_period"] not in ("year", "half", None):
        raise ConfigError(f"drivers.stability_period must be 'year', 'half' or null, got {cfg['stability_period']!r}.")
    return cfg


def _problem(factor: str, problem: str, severity: str, detail: str, action: str) -> dict:
    return {"factor": factor, "problem": problem, "severity": severity, "detail": detail, "action": action}


def _problems_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def label_of(name: str, cfg: dict) -> str:
    return cfg["labels"].get(name, name.replace("_", " "))


# --- outcome -------------------------------------------------------------------------------


def decided_contracts(contracts: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The rows with a 0/1 outcome, checked; open rows (missing outcome) are set aside with a note."""
    missing = [c for c in (OUTCOME, ACCOUNT) if c not in contracts.columns]
    if missing:
        raise DataContractError(
            f"The contract table lacks column(s) {missing}; build it with "
            "analysis.features.build_contract_features(book, lead_days)."
        )
    raw = contracts[OUTCOME]
    outcome = pd.to_numeric(raw.astype("object").where(raw.notna(), np.nan), errors="coerce").astype("float64")
    bad = raw.notna() & ~outcome.isin([0, 1])
    if bad.any():
        raise DataContractError(
            f"Column '{OUTCOME}' must be 1 (renewed) or 0 (not renewed); {int(bad.sum())} rows hold other values, "
            f"e.g. {contracts.loc[bad, OUTCOME].head(3).tolist()}."
        )
    notes = []
    if outcome.isna().any():
        notes.append(
            _problem(
                OUTCOME,
                "undecided contracts",
                "note",
                f"{int(outcome.isna().sum())} contracts have no outcome yet",
                "left out of the fit; they get reasons, not a place in the estimates",
            )
        )
    table = contracts.loc[outcome.notna()].copy()
    table[OUTCOME] = outcome[outcome.notna()].astype(int)
    return table, notes


def outcome_problems(y: pd.Series) -> list[dict]:
    """A fatal row when the outcome has one class (or no rows)."""
    n, renewed = len(y), int(y.sum())
    if n == 0:
        return [
            _problem(
                OUTCOME,
                "no decided contracts",
                "fatal",
                "no contract has reached its end date",
                "use a later as-of date or a longer history",
            )
        ]
    if renewed in (0, n):
        what = f"all {n} contracts renewed" if renewed == n else f"none of the {n} contracts renewed"
        return [
            _problem(
                OUTCOME,
                "one outcome only",
                "fatal",
                f"{what[0].upper()}{what[1:]}: with one outcome nothing separates renewers from leavers",
                "use a longer history (an earlier start or a later as-of date) so that both outcomes occur",
            )
        ]
    return []


# --- design ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One factor of the model and how its raw column becomes design columns."""

    name: str
    kind: str  # "numeric", "binary", "category" or "group"
    log: bool = False
    fill: float = 0.0  # value used for a missing entry (median, raw scale)
    center: float = 0.0  # mean of the (logged) value in the fitting data
    scale: float = 1.0  # its standard deviation: numeric estimates are per +1 SD
    levels: tuple = ()  # categories: reference level first
    members: tuple = ()  # group: its member factors
    signs: tuple = ()  # group: +1/-1 so that members point the same way
    raw_mean: float = np.nan  # typical raw value (mean; share for 0/1 factors)

    @property
    def columns(self) -> list[str]:
        if self.kind == "category":
            return [f"{self.name}: {level}" for level in self.levels[1:]]
        return [self.name]


class DriverDesign:
    """Cleans the metrics of a contract table into a design matrix, and remembers how.

    ``fit(table, y)`` learns fills, logs, means, SDs, levels and groups from the fitting data;
    ``transform(table)`` applies them to any table with the same columns (for example today's
    features of open accounts); ``frame(table)`` gives the cleaned factors on their own scale
    (for gradient boosting and plots).
    """

    def __init__(self, config: dict | None = None):
        self.config = driver_config(config)

    # -- fitting
    def fit(self, table: pd.DataFrame, y: pd.Series) -> DriverDesign:
        problems: list[dict] = []
        numeric, categorical = self._select(table, problems)
        factors: list[Factor] = []
        for name in categorical:
            factors += self._fit_category(table[name], problems)
        for name in numeric:
            factors += self._fit_numeric(name, table[name], problems)
        factors = self._group(table, factors, problems)
        self.factors_ = {f.name: f for f in factors}
        self.columns_ = [c for f in factors for c in f.columns]
        self._drop_collinear(self.transform(table), problems)
        problems += separation_problems(self.transform(table), y, self)
        self.problems_ = _problems_frame(problems)
        return self

    def _select(self, table: pd.DataFrame, problems: list[dict]) -> tuple[list[str], list[str]]:
        cfg = self.config
        excluded = set(cfg["exclude"]) | {OUTCOME, ACCOUNT, END}
        categorical = [c for c in cfg["categorical"] if c not in excluded]
        if cfg["factors"] == "auto":
            candidates = [
                c
                for c in table.columns
                if c not in excluded
                and c not in categorical
                and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
            ]
        else:
            candidates = [c for c in cfg["factors"] if c not in categorical]
        for name in [*candidates, *categorical]:
            if name not in table.columns:
                problems.append(
                    _problem(
                        name,
                        "absent",
                        "dropped",
                        "the column is not in the contract table",
                        "add the column to the data or remove it from drivers.factors",
                    )
                )
        numeric = [c for c in candidates if c in table.columns]
        for name in list(numeric):
            if not (pd.api.types.is_numeric_dtype(table[name]) or pd.api.types.is_bool_dtype(table[name])):
                problems.append(
                    _problem(
                        name,
                        "not numeric",
                        "dropped",
                        f"dtype {table[name].dtype}",
                        "list it under drivers.categorical if it is a category",
                    )
                )
                numeric.remove(name)
        return numeric, [c for c in categorical if c in table.columns]

    def _fit_category(self, column: pd.Series, problems: list[dict]) -> list[Factor]:
        cfg = self.config
        name = column.name
        values = column.astype("object").where(column.notna(), "missing").astype(str)
        counts = values.value_counts()
        rare = counts[counts < cfg["min_level_contracts"]]
        if len(rare) and len(counts) > 1:
            problems.append(
                _problem(
                    name,
                    "rare levels",
                    "adjusted",
                    f"{len(rare)} level(s) with fewer than {cfg['min_level_contracts']} contracts: "
                    f"{', '.join(map(str, rare.index[:5]))}",
                    "merged into 'other'",
                )
            )
            values = values.where(~values.isin(rare.index), "other")
            counts = values.value_counts()
        if len(counts) < 2:
            problems.append(
                _problem(
                    name,
                    "one value",
                    "dropped",
                    f"every contract has {name} = {counts.index[0]}",
                    "nothing to compare; the factor is left out",
                )
            )
            return []
        wanted = cfg["reference_levels"].get(name)
        reference = wanted if wanted in counts.index else counts.index[0]
        if wanted is not None and wanted not in counts.index:
            problems.append(
                _problem(
                    name,
                    "reference absent",
                    "adjusted",
                    f"reference level {wanted!r} does not occur (or was merged)",
                    f"the most frequent level {reference!r} is the reference",
                )
            )
        levels = (reference, *sorted(lv for lv in counts.index if lv != reference))
        return [Factor(name, "category", levels=levels)]

    def _fit_numeric(self, name: str, column: pd.Series, problems: list[dict]) -> list[Factor]:
        cfg = self.config
        x = pd.to_numeric(column.astype("float64"), errors="coerce")
        share = float(x.isna().mean())
        if share == 1:
            problems.append(
                _problem(
                    name,
                    "no values",
                    "dropped",
                    "no contract has a value (is its source table, "
                    "e.g. usage, tickets, surveys or engagements, absent?)",
                    "left out",
                )
            )
            return []
        if share > cfg["max_missing_share"]:
            problems.append(
                _problem(
                    name,
                    "mostly missing",
                    "dropped",
                    f"{share:.0%} of contracts have no value",
                    f"left out (drivers.max_missing_share = {cfg['max_missing_share']})",
                )
            )
            return []
        fill = float(x.median()) if share else 0.0
        if share:
            problems.append(
                _problem(
                    name,
                    "missing values",
                    "note",
                    f"{int(x.isna().sum())} contracts ({share:.1%}) have no value",
                    f"filled with the median {fill:.4g}",
                )
            )
        x = x.fillna(fill)
        distinct = x.unique()
        if len(distinct) < 2:
            problems.append(
                _problem(
                    name,
                    "one value",
                    "dropped",
                    f"every contract has {name} = {distinct[0]:.4g}",
                    "nothing to compare; the factor is left out",
                )
            )
            return []
        if set(distinct) <= {0.0, 1.0}:
            minority = int(min((x == 1).sum(), (x == 0).sum()))
            if minority < cfg["min_level_contracts"]:
                problems.append(
                    _problem(
                        name,
                        "tiny class",
                        "dropped",
                        f"only {minority} contracts in its rarer class",
                        f"left out (drivers.min_level_contracts = {cfg['min_level_contracts']})",
                    )
                )
                return []
            return [Factor(name, "binary", fill=fill, center=float(x.mean()), raw_mean=float(x.mean()))]
        log = name in cfg["log1p"]
        if log and x.min() < 0:
            problems.append(
                _problem(
                    name,
                    "negative values",
                    "adjusted",
                    f"minimum {x.min():.4g}",
                    "not logged (log1p needs values >= 0)",
                )
            )
            log = False
        t = np.log1p(x) if log else x
        return [
            Factor(
                name,
                "numeric",
                log=log,
                fill=fill,
                center=float(t.mean()),
                scale=float(t.std()),
                raw_mean=float(x.mean()),
            )
        ]

    def _group(self, table: pd.DataFrame, factors: list[Factor], problems: list[dict]) -> list[Factor]:
        """Average strongly correlated numeric metrics into one group (the churn-literature way of
        keeping one behaviour from being split over collinear columns)."""
        threshold = self.config["group_correlated"]
        numeric = [f for f in factors if f.kind == "numeric"]
        if threshold is None or len(numeric) < 2:
            return factors
        z = pd.DataFrame({f.name: self._numeric_z(table, f) for f in numeric})
        corr = z.corr().fillna(0).to_numpy()
        distance = 1 - np.abs(corr)
        np.fill_diagonal(distance, 0)
        links = hierarchy.linkage(distance[np.triu_indices(len(numeric), 1)], method="average")
        labels = hierarchy.fcluster(links, t=1 - threshold, criterion="distance")
        out = [f for f in factors if f.kind != "numeric"]
        for label in pd.unique(labels):
            idx = np.flatnonzero(labels == label)
            members = [numeric[i] for i in idx]
            if len(members) == 1:
                out.append(members[0])
                continue
            signs = tuple(float(np.sign(corr[idx[0], i]) or 1.0) for i in idx)
            score = sum(s * z[m.name] for s, m in zip(signs, members)) / len(members)
            name = " + ".join(m.name for m in members)
            r = np.abs(corr[np.ix_(idx, idx)])[np.triu_indices(len(idx), 1)].min()
            problems.append(
                _problem(
                    name,
                    "correlated metrics grouped",
                    "adjusted",
                    f"{len(members)} metrics with |r| >= {r:.2f}",
                    "averaged in standard units into one factor",
                )
            )
            out.append(
                Factor(
                    name,
                    "group",
                    center=float(score.mean()),
                    scale=float(score.std()),
                    members=tuple(members),
                    signs=signs,
                    raw_mean=float(score.mean()),
                )
            )
        return out

    def _drop_collinear(self, X: pd.DataFrame, problems: list[dict]) -> None:
        """Drop design columns that are (nearly) linear combinations of others (pivoted QR)."""
        columns = list(X.columns)
        if not columns:
            self.columns_ = []
            return
        centred = (X - X.mean()).to_numpy()
        _, r, perm = linalg.qr(centred, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        tol = diag.max() * 1e-7 if diag.size else 0
        dependent = {columns[perm[i]] for i in range(len(diag)) if diag[i] <= tol}
        for column in dependent:
            problems.append(
                _problem(
                    column,
                    "collinear",
                    "dropped",
                    "a linear combination of other factors (carries no information of its own)",
                    "left out; its effect is carried by the others",
                )
            )
        dropped_factors = {f.name for f in self.factors_.values() if set(f.columns) & dependent}
        self.factors_ = {k: v for k, v in self.factors_.items() if k not in dropped_factors}
        self.columns_ = [c for f in self.factors_.values() for c in f.columns]

    # -- applying
    def _raw(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        if factor.name not in table.columns:
            raise DataContractError(
                f"Column '{factor.name}' used by the fitted drivers model is missing from the table."
            )
        return pd.to_numeric(table[factor.name].astype("float64"), errors="coerce").fillna(factor.fill)

    def _numeric_z(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        x = self._raw(table, factor)
        return ((np.log1p(x) if factor.log else x) - factor.center) / factor.scale

    def _category(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        """Category values with missing -> 'missing' and unseen levels -> 'other' or the reference."""
        if factor.name not in table.columns:
            raise DataContractError(
                f"Column '{factor.name}' used by the fitted drivers model is missing from the table."
            )
        values = table[factor.name].astype("object").where(table[factor.name].notna(), "missing").astype(str)
        fallback = "other" if "other" in factor.levels else factor.levels[0]
        values = values.where(values.isin(factor.levels), fallback)
        return pd.Series(pd.Categorical(values, categories=list(factor.levels)), index=table.index, name=factor.name)

    def _value(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        """One factor on its own scale: raw value, 0/1, category, or group score (standard units)."""
        if factor.kind == "category":
            return self._category(table, factor)
        if factor.kind == "group":
            parts = [s * self._numeric_z(table, m) for s, m in zip(factor.signs, factor.members)]
            return sum(parts) / len(parts)
        return self._raw(table, factor)

    def frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """The cleaned factors on their own scale, one column per factor (categories as pandas categoricals)."""
        return pd.DataFrame({name: self._value(table, f) for name, f in self.factors_.items()}, index=table.index)

    def transform(self, table: pd.DataFrame) -> pd.DataFrame:
        """The design matrix: numeric factors in standard units, 0/1 as is, dummies against the reference."""
        parts = {}
        for f in self.factors_.values():
            value = self._value(table, f)
            if f.kind == "category":
                for level, column in zip(f.levels[1:], f.columns):
                    parts[column] = (value == level).astype(float)
            elif f.kind == "binary":
                parts[f.name] = value.astype(float)
            elif f.kind == "group":
                parts[f.name] = (value - f.center) / f.scale
            else:
                parts[f.name] = ((np.log1p(value) if f.log else value) - f.center) / f.scale
        return pd.DataFrame(parts, index=table.index, columns=self.columns_)

    def factor_of(self) -> dict[str, str]:
        """Design column -> factor name."""
        return {column: f.name for f in self.factors_.values() for column in f.columns}


def separation_problems(X: pd.DataFrame, y: pd.Series, design: DriverDesign) -> list[dict]:
    """Factors that on their own split renewers from leavers (infinite maximum-likelihood odds ratio)."""
    rows = []
    yv = y.to_numpy()
    for column in X.columns:
        x = X[column].to_numpy()
        kinds = {f.kind for f in design.factors_.values() if column in f.columns}
        if kinds & {"binary", "category"}:
            for value, label in ((1.0, "with"), (0.0, "without")):
                sel = x == value
                if sel.any() and yv[sel].min() == yv[sel].max():
                    outcome = "renewed" if yv[sel][0] == 1 else "did not renew"
                    rows.append(
                        _problem(
                            column,
                            "separation",
                            "adjusted",
                            f"every one of the {int(sel.sum())} contracts {label} '{column}' {outcome}",
                            "odds ratio infinite by maximum likelihood: fitted with a ridge penalty",
                        )
                    )
                    break
        else:
            lo1, hi1, lo0, hi0 = x[yv == 1].min(), x[yv == 1].max(), x[yv == 0].min(), x[yv == 0].max()
            if hi0 <= lo1 or hi1 <= lo0:
                rows.append(
                    _problem(
                        column,
                        "separation",
                        "adjusted",
                        f"'{column}' alone splits renewers from non-renewers (no overlap of values)",
                        "odds ratio infinite by maximum likelihood: fitted with a ridge penalty",
                    )
                )
    return rows


# --- logistic fit ----------------------------------------------------------------------------


@dataclass
class LogitFit:
    params: pd.Series  # log-odds, "const" first
    cov: pd.DataFrame  # cluster-robust covariance
    method: str  # "maximum likelihood" or "ridge-penalised"
    notes: list[dict] = field(default_factory=list)


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


def fit_logit(X: pd.DataFrame, y: pd.Series, groups, config: dict, force_penalty: bool = False) -> LogitFit:
    """Maximum likelihood with standard errors clustered by ``groups``; ridge when it diverges."""
    exog = sm.add_constant(X.astype(float), has_constant="add")
    groups = np.asarray(groups)
    notes: list[dict] = []
    if not force_penalty:
        res, why = _ml_logit(exog, y, groups)
        if res is not None:
            worst = res.params.drop("const").abs()
            finite = np.isfinite(res.bse).all()
            if finite and (worst.empty or worst.max() <= config["max_abs_coef"]):
                return LogitFit(res.params, res.cov_params(), "maximum likelihood")
            why = (
                f"maximum-likelihood estimate for '{worst.idxmax()}' diverges ({worst.max():.1f} log-odds)"
                if finite
                else "standard errors are not finite"
            )
        notes.append(
            _problem(
                "(model)",
                "separation",
                "adjusted",
                f"{why}: the factors together (nearly) separate renewals from non-renewals",
                f"fitted with a ridge penalty ({config['penalty']}) on standardised coefficients",
            )
        )
    params, cov = ridge_logit(exog, y, groups, config["penalty"])
    return LogitFit(params, cov, "ridge-penalised", notes)


def events_problem(y: pd.Series, n_terms: int, config: dict) -> list[dict]:
    """A fatal row when the rarer outcome gives fewer than ``min_events_per_factor`` per model term."""
    events = int(min(y.sum(), len(y) - y.sum()))
    need = config["min_events_per_factor"] * n_terms
    if n_terms and events < need:
        rarer = "non-renewals" if y.sum() >= len(y) - y.sum() else "renewals"
        return [
            _problem(
                "(model)",
                "too few events per factor",
                "fatal",
                f"{events} {rarer} for {n_terms} model terms ({events / n_terms:.1f} per term; "
                f"the minimum is {config['min_events_per_factor']})",
                "use more contracts (a longer history), list fewer factors in drivers.factors, "
                "or lower drivers.min_events_per_factor knowingly",
            )
        ]
    return []


# --- the fitter ------------------------------------------------------------------------------


class RenewalDrivers:
    """Logistic regression of renewal on contract features, shaped like a lifelines fitter.

    ``fit(contracts)`` returns self; ``summary`` is the common summary frame (log-odds per +1 SD
    or per level) plus odds ratios, BH-corrected p-values, renewal rates with and without each
    0/1 factor, direction and a sentence. ``problems_`` lists what could not be estimated and why.
    """

    def __init__(self, config: dict | None = None):
        self.config = driver_config(config)

    def fit(self, contracts: pd.DataFrame, design: DriverDesign | None = None) -> RenewalDrivers:
        cfg = self.config
        table, notes = decided_contracts(contracts)
        y = table[OUTCOME]
        fatal = outcome_problems(y)
        if fatal:
            self._fail(notes + fatal)
        self.design_ = design if design is not None else DriverDesign(cfg).fit(table, y)
        X = self.design_.transform(table)
        problems = notes + self.design_.problems_.to_dict("records")
        if X.shape[1] == 0:
            problems.append(
                _problem(
                    "(model)",
                    "no usable factor",
                    "fatal",
                    "every factor was dropped (see the rows above)",
                    "add usable factor columns or fix the ones listed",
                )
            )
        problems += events_problem(y, X.shape[1], cfg)
        if any(p["severity"] == "fatal" for p in problems):
            self._fail(problems)
        separated = any(p["problem"] == "separation" for p in problems)
        result = fit_logit(X, y, table[ACCOUNT].to_numpy(), cfg, force_penalty=separated)
        self.params_ = result.params
        self.cov_ = result.cov
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(result.cov)), index=result.params.index)
        self.method_ = result.method
        self.problems_ = _problems_frame(problems + result.notes)
        self.n_contracts_, self.n_accounts_ = len(table), int(table[ACCOUNT].nunique())
        self.renewal_rate_ = float(y.mean())
        self._column_means = X.mean()
        p = expit(sm.add_constant(X, has_constant="add").to_numpy() @ self.params_.to_numpy())
        self.log_likelihood_ = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
        self._summary = self._build_summary(X, y)
        return self

    def _fail(self, problems: list[dict]):
        self.problems_ = _problems_frame(problems)
        fatal = self.problems_[self.problems_["severity"] == "fatal"]
        error = InsufficientDataError(
            "Renewal drivers cannot be estimated: " + "; ".join(f"{r.detail} ({r.action})" for r in fatal.itertuples())
        )
        error.problems = self.problems_
        raise error

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    def _build_summary(self, X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
        cfg = self.config
        names = [c for c in self.params_.index if c != "const"]
        frame = summary_frame(names, self.params_[names], self.standard_errors_[names])
        frame["odds_ratio"] = np.exp(frame["estimate"])
        frame["or_lower_95"] = np.exp(frame["lower_95"])
        frame["or_upper_95"] = np.exp(frame["upper_95"])
        frame["p_adjusted"] = adjust_p(frame["p"].to_numpy(), "fdr_bh")
        significant = frame["p_adjusted"] < cfg["alpha"]
        frame["direction"] = np.where(
            ~significant, "no clear effect", np.where(frame["estimate"] > 0, "raises renewal", "lowers renewal")
        )
        owner = self.design_.factor_of()
        frame["variable"] = [owner[c] for c in names]
        frame["kind"] = [self.design_.factors_[owner[c]].kind for c in names]
        frame["unit"] = [self._unit(c, owner[c]) for c in names]
        rates = [self._rates(c, X, y) for c in names]
        frame["rate_with"], frame["rate_without"], frame["n_with"] = (list(v) for v in zip(*rates))
        order = frame.assign(_sig=significant, _abs=frame["estimate"].abs()).sort_values(
            ["_sig", "_abs"], ascending=False
        )
        frame["rank"] = pd.Series(np.arange(1, len(frame) + 1), index=order.index)
        separated = set(self.problems_.loc[self.problems_["problem"] == "separation", "factor"])
        frame["method"] = self.method_
        frame["separated"] = [c in separated for c in names]
        frame["sentence"] = [self._sentence(c, row) for c, row in frame.iterrows()]
        return frame.sort_values("rank")

    def _unit(self, column: str, name: str) -> str:
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
        label = label_of(f.name, self.config)
        p = row["p_adjusted"]
        p_text = (
            "corrected p < 0.001" if p < 0.001 else f"corrected p = {p:.3f}" if p < 0.01 else f"corrected p = {p:.2f}"
        )
        odds = _odds_phrase(row["odds_ratio"], row["or_lower_95"], row["or_upper_95"])
        if f.kind == "binary":
            subject = label
            text = (
                f"Contracts with {label} renewed {row['rate_with']:.0%} vs {row['rate_without']:.0%} without; "
                f"other factors equal, {odds}"
            )
        elif f.kind == "category":
            level = column.split(": ", 1)[1]
            subject = f"{label} = {level}"
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
        return np.array([self._column_means[c] for c in self.params_.index if c != "const"])

    @property
    def baseline_log_odds_(self) -> float:
        beta = self.params_.drop("const").to_numpy()
        return float(self.params_["const"] + self._centre() @ beta)

    def reasons(self, features: pd.DataFrame, n: int | None = None, significant_only: bool = True) -> pd.DataFrame:
        """The top ``n`` factors pushing each row's renewal down and up, with contributions (long table).

        Only factors with a clear effect (BH-corrected p < alpha) give reasons unless
        ``significant_only`` is False: a noise factor is not a reason.
        """
        n = n or self.config["n_reasons"]
        contrib = self.contributions(features)
        if significant_only:
            clear = self._summary.groupby("variable")["direction"].apply(lambda d: (d != "no clear effect").any())
            contrib = contrib[[c for c in contrib.columns if clear.get(c, False)]]
        proba = self.predict_proba(features).to_numpy()
        index_name = features.index.name or "row"
        values = contrib.to_numpy()
        names = np.asarray(contrib.columns)
        parts = []
        for side, order in (("down", np.argsort(values, axis=1)), ("up", np.argsort(-values, axis=1))):
            for rank in range(min(n, values.shape[1])):
                col = order[:, rank]
                c = values[np.arange(len(values)), col]
                keep = np.flatnonzero(c < 0 if side == "down" else c > 0)
                parts.append(
                    pd.DataFrame(
                        {
                            "_pos": keep,
                            "side": side,
                            "rank": rank + 1,
                            "factor": names[col[keep]],
                            "contribution": c[keep],
                        }
                    )
                )
        long = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame({"_pos": [], "side": [], "rank": [], "factor": [], "contribution": []})
        )
        long.insert(0, index_name, features.index[long["_pos"].to_numpy(int)])
        long["renewal_probability"] = proba[long["_pos"].to_numpy(int)]
        long["odds_multiplier"] = np.exp(long["contribution"].astype(float))
        long["value"] = ""
        for name, part in long.groupby("factor", sort=False):  # one lookup per factor, not per row
            long.loc[part.index, "value"] = self._value_texts(features, name, part["_pos"].to_numpy(int))
        long["typical"] = [self._typical_text(f) for f in long["factor"]]
        long["sentence"] = [
            f"{label_of(f, self.config)} is {v} (typical {t}): {'lowers' if s == 'down' else 'raises'} the odds of "
            f"renewal x{m:.2f}"
            for f, v, t, s, m in zip(
                long["factor"], long["value"], long["typical"], long["side"], long["odds_multiplier"]
            )
        ]
        cols = [
            index_name,
            "renewal_probability",
            "side",
            "rank",
            "factor",
            "value",
            "typical",
            "contribution",
            "odds_multiplier",
            "sentence",
        ]
        return long.sort_values(["_pos", "side", "rank"])[cols].reset_index(drop=True)

    def _value_texts(self, features: pd.DataFrame, name: str, positions: np.ndarray) -> list[str]:
        """The raw values shown next to each reason (yes/no for 0/1 factors, the level for categories)."""
        f = self.design_.factors_[name]
        if f.kind == "group":
            values = self.design_._value(features.iloc[positions], f).to_numpy()
        else:
            values = features[name].to_numpy()[positions]
        if f.kind == "category":
            return [str(v) for v in values]
        numbers = pd.to_numeric(pd.Series(values).astype("float64"), errors="coerce")
        if f.kind == "binary":
            return ["missing" if pd.isna(v) else "yes" if v == 1 else "no" for v in numbers]
        return ["missing" if pd.isna(v) else f"{v:.3g}" for v in numbers]

    def _typical_text(self, name: str) -> str:
        f = self.design_.factors_[name]
        if f.kind == "category":
            return f"reference {f.levels[0]}"
        if f.kind == "binary":
            return f"{f.raw_mean:.0%} have it"
        return f"{f.raw_mean:.3g}"


def _odds_phrase(odds: float, lo: float, hi: float) -> str:
    """'34% lower odds of renewal (95% CI -38% to -29%)', or 'x2.3' for large ratios."""
    if odds >= 2 or hi >= 10 or lo <= 0.1:
        return f"odds of renewal x{odds:.2f} (95% CI {lo:.2f}-{hi:.2f})"
    way = "higher" if odds >= 1 else "lower"
    return f"{abs(odds - 1):.0%} {way} odds of renewal (95% CI {lo - 1:+.0%} to {hi - 1:+.0%})"


# --- non-linear check ------------------------------------------------------------------------


class NonlinearCheck:
    """Gradient boosting fitted on earlier contracts and judged on later ones.

    ``holdout_auc_`` (and ``logit_holdout_auc_`` for the logit on the same split),
    ``importance_`` (permutation importance: drop in held-out AUC when a factor is shuffled) and
    ``partial_dependence_`` (average predicted renewal probability over a grid of each factor).
    """

    def __init__(self, config: dict | None = None):
        self.config = driver_config(config)

    def fit(self, contracts: pd.DataFrame, design: DriverDesign | None = None) -> NonlinearCheck:
        from threadpoolctl import threadpool_limits

        # Boosting's OpenMP threads spin-wait; on a shared 2-core machine two threads ran the
        # fit 10x and the many small predictions of permutation importance and partial
        # dependence 20x slower than one thread. drivers.threads = None restores the default.
        with threadpool_limits(limits=self.config["threads"], user_api="openmp"):
            return self._fit(contracts, design)

    def _fit(self, contracts: pd.DataFrame, design: DriverDesign | None) -> NonlinearCheck:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.inspection import permutation_importance
        from sklearn.metrics import roc_auc_score

        cfg = self.config
        table, _ = decided_contracts(contracts)
        if END not in table.columns:
            raise DataContractError(f"The contract table lacks column '{END}', needed to hold out the later contracts.")
        y = table[OUTCOME]
        if outcome_problems(y):
            raise InsufficientDataError(outcome_problems(y)[0]["detail"])
        design = design if design is not None else DriverDesign(cfg).fit(table, y)
        frame = design.frame(table)
        self.factors_ = list(frame.columns)
        # Plain arrays with category codes: pandas input costs a preprocessing pass per
        # predict call, and permutation importance and partial dependence make hundreds.
        is_cat = np.array([isinstance(frame[c].dtype, pd.CategoricalDtype) for c in frame.columns])
        matrix = np.column_stack(
            [
                frame[c].cat.codes.to_numpy(float) if cat else frame[c].to_numpy(float)
                for c, cat in zip(frame.columns, is_cat)
            ]
        )
        hold = self._holdout(table, y)
        h, yv = hold.to_numpy(), y.to_numpy()
        clock = time.perf_counter()
        self.holdout_end_ = pd.to_datetime(table.loc[hold, END]).min()
        self.n_train_, self.n_holdout_ = int((~h).sum()), int(h.sum())
        gbm = HistGradientBoostingClassifier(
            random_state=cfg["seed"], categorical_features=is_cat if is_cat.any() else None, **cfg["gbm"]
        )
        gbm.fit(matrix[~h], yv[~h])
        self.model_ = gbm
        self.timings_ = {"gbm_fit": time.perf_counter() - clock}
        self.holdout_auc_ = float(roc_auc_score(yv[h], gbm.predict_proba(matrix[h])[:, 1]))
        X = design.transform(table)
        logit = fit_logit(
            X[~hold],
            y[~hold],
            table.loc[~hold, ACCOUNT],
            cfg,
            force_penalty=(design.problems_["problem"] == "separation").any(),
        )
        eta = logit.params["const"] + X[hold].to_numpy() @ logit.params.drop("const").to_numpy()
        self.logit_holdout_auc_ = float(roc_auc_score(yv[h], eta))
        rng = np.random.default_rng(cfg["seed"])
        rows = np.flatnonzero(h)
        if len(rows) > cfg["permutation_max_rows"]:
            rows = np.sort(rng.choice(rows, cfg["permutation_max_rows"], replace=False))
        imp = permutation_importance(
            gbm,
            matrix[rows],
            yv[rows],
            scoring="roc_auc",
            n_repeats=cfg["permutation_repeats"],
            random_state=cfg["seed"],
        )
        self.timings_["logit_refit_and_permutation"] = time.perf_counter() - clock - sum(self.timings_.values())
        importance = pd.DataFrame(
            {"importance": imp.importances_mean, "importance_std": imp.importances_std},
            index=pd.Index(frame.columns, name="factor"),
        )
        importance["important"] = importance["importance"] - 2 * importance["importance_std"] > 0
        importance["gbm_rank"] = importance["importance"].rank(ascending=False, method="first").astype(int)
        self.importance_ = importance.sort_values("gbm_rank")
        sample = matrix[rng.choice(len(matrix), min(len(matrix), cfg["pd_max_rows"]), replace=False)]
        self.partial_dependence_ = self._partial_dependence(gbm, sample, frame, is_cat)
        self.pd_direction_ = pd.Series(
            {name: _pd_direction(curve) for name, curve in self.partial_dependence_.groupby("factor", sort=False)},
            dtype=object,
        )
        self.timings_["partial_dependence"] = time.perf_counter() - clock - sum(self.timings_.values())
        return self

    def _holdout(self, table: pd.DataFrame, y: pd.Series) -> pd.Series:
        """Contracts ending after the (1 - holdout_share) quantile of end dates: the later ones."""
        end = pd.to_datetime(table[END])
        cut = end.quantile(1 - self.config["holdout_share"])
        hold = end > cut
        for name, part in (("held-out (later)", hold), ("training (earlier)", ~hold)):
            if y[part].nunique() < 2:
                raise InsufficientDataError(
                    f"The {name} contracts have {'no rows' if not part.any() else 'one outcome only'}; the time-ordered "
                    "check needs both outcomes on each side. Use a longer history or change drivers.holdout_share."
                )
        return hold

    def _partial_dependence(self, gbm, sample: np.ndarray, frame: pd.DataFrame, is_cat: np.ndarray) -> pd.DataFrame:
        from sklearn.inspection import partial_dependence

        parts = []
        for j, name in enumerate(frame.columns):
            res = partial_dependence(
                gbm,
                sample,
                [j],
                categorical_features=is_cat if is_cat.any() else None,
                kind="average",
                grid_resolution=self.config["pd_grid"],
                method="brute",
                response_method="predict_proba",
            )
            grid = np.asarray(res["grid_values"][0], dtype=float)
            levels = np.asarray(frame[name].cat.categories)[grid.astype(int)].astype(str) if is_cat[j] else None
            parts.append(
                pd.DataFrame(
                    {
                        "factor": name,
                        "value": np.nan if is_cat[j] else grid,
                        "level": levels,
                        "renewal_probability": np.asarray(res["average"][0], dtype=float),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)


def _pd_direction(curve: pd.DataFrame) -> str:
    """rises / falls / flat / non-monotone (or 'differs by level' for categories)."""
    prob = curve["renewal_probability"].to_numpy()
    if np.ptp(prob) < 0.005:
        return "flat"
    if curve["value"].isna().all():
        return "differs by level"
    if len(prob) == 2:
        return "rises" if prob[1] > prob[0] else "falls"
    rho = stats.spearmanr(curve["value"], prob).statistic
    return "rises" if rho > 0.6 else "falls" if rho < -0.6 else "non-monotone"


def compare_models(model: RenewalDrivers, check: NonlinearCheck) -> pd.DataFrame:
    """Per factor: what the logit and the boosting check say, and whether they agree."""
    summary = model.summary
    rows = []
    for name, part in summary.groupby("variable", sort=False):
        kind = part["kind"].iloc[0]
        clear = part["direction"] != "no clear effect"
        if kind == "category":
            logit_dir = "differs by level" if clear.any() else "no clear effect"
        else:
            logit_dir = part["direction"].iloc[0]
        imp = check.importance_.loc[name] if name in check.importance_.index else None
        gbm_dir = check.pd_direction_.get(name, "n/a")
        important = bool(imp is not None and imp["important"])
        verdict, note = _verdict(bool(clear.any()), important, logit_dir, gbm_dir, kind)
        rows.append(
            {
                "factor": name,
                "kind": kind,
                "logit_rank": int(part["rank"].min()),
                "logit_direction": logit_dir,
                "gbm_rank": int(imp["gbm_rank"]) if imp is not None else np.nan,
                "gbm_importance": float(imp["importance"]) if imp is not None else np.nan,
                "gbm_important": important,
                "gbm_shape": gbm_dir,
                "verdict": verdict,
                "note": note,
            }
        )
    return pd.DataFrame(rows).set_index("factor").sort_values("logit_rank")


def _verdict(logit_clear: bool, gbm_important: bool, logit_dir: str, gbm_dir: str, kind: str) -> tuple[str, str]:
    if logit_clear and gbm_important:
        if kind == "category" or (logit_dir, gbm_dir) in (("raises renewal", "rises"), ("lowers renewal", "falls")):
            return "agree", "both models find this factor matters, in the same direction"
        if gbm_dir in ("non-monotone", "flat"):
            return "agree on importance", f"the boosting curve is {gbm_dir}: the effect may not be a straight line"
        return "disagree on direction", "the models point different ways: inspect the partial-dependence curve"
    if not logit_clear and not gbm_important:
        return "agree: no clear effect", "neither model finds this factor useful"
    if logit_clear:
        return "logit only", (
            "clear in the regression but it adds little held-out accuracy (small effect, or "
            "carried by a correlated factor)"
        )
    return "boosting only", (
        "useful to the boosting model but not linear in the regression: possibly a non-linear effect or an interaction"
    )


# --- stability -------------------------------------------------------------------------------

SIGN_FLIP_RULE = (
    "A sign flip is flagged when, within one split (by size band, industry or period), one segment's "
    "95% interval lies wholly above zero and another's wholly below zero. Opposite signs that are not "
    "both clear are not flagged."
)


def _splits(table: pd.DataFrame, by: list[str], period: str | None):
    for column in by:
        if column in table.columns:
            values = table[column].astype(str)
            for level in sorted(values.unique()):
                yield column, level, (values == level).to_numpy()
    if period and END in table.columns:
        end = pd.to_datetime(table[END])
        labels = (
            end.dt.year.astype(str) if period == "year" else np.where(end <= end.median(), "earlier half", "later half")
        )
        for level in sorted(pd.unique(labels)):
            yield "period", level, np.asarray(labels == level)


def stability(
    contracts: pd.DataFrame,
    config: dict | None = None,
    design: DriverDesign | None = None,
    factors: list[str] | None = None,
) -> pd.DataFrame:
    """Refit the logit within each segment (``stability_by``) and period, on the full book's scaling.

    ``factors`` limits the refit to those variables (``analyse`` passes the ones with a clear
    overall effect: a segment has far fewer events than the book, and 25 terms would leave most
    segments below the events-per-factor minimum).

    Long table: split, segment, factor, n, events, estimate, std_error, lower_95, upper_95, p,
    method, status. A segment that cannot be fitted keeps one row with the reason in ``status``.
    """
    cfg = driver_config(config)
    table, _ = decided_contracts(contracts)
    table = table.reset_index(drop=True)
    y = table[OUTCOME]
    design = design if design is not None else DriverDesign(cfg).fit(table, y)
    X = design.transform(table)
    owner = design.factor_of()
    if factors is not None:
        X = X[[c for c in X.columns if owner[c] in set(factors)]]
    rows = []
    for split, segment, mask in _splits(table, cfg["stability_by"], cfg["stability_period"]):
        mask = np.asarray(mask)
        Xs, ys = X[mask], y[mask]
        keep = [c for c in Xs.columns if owner[c] != split and Xs[c].nunique() > 1]
        base = {"split": split, "segment": segment, "n": int(mask.sum()), "events": int(ys.sum())}
        problems = outcome_problems(ys) or events_problem(ys, len(keep), cfg)
        if problems:
            rows.append({**base, "status": f"skipped: {problems[0]['detail']}"})
            continue
        Xs = Xs[keep]
        separated = bool(separation_problems(Xs, ys, design))
        fit = fit_logit(Xs, ys, table.loc[mask, ACCOUNT], cfg, force_penalty=separated)
        se = np.sqrt(np.diag(fit.cov))[1:]
        est = fit.params.drop("const")
        frame = summary_frame(est.index, est, se)
        for column, r in frame.iterrows():
            rows.append({**base, "factor": column, **r.to_dict(), "method": fit.method, "status": "fitted"})
    columns = [
        "split",
        "segment",
        "factor",
        "n",
        "events",
        "estimate",
        "std_error",
        "lower_95",
        "upper_95",
        "p",
        "method",
        "status",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def sign_flips(stab: pd.DataFrame) -> pd.DataFrame:
    """Per factor and split: segments clearly above / below zero, and the flag (``SIGN_FLIP_RULE``)."""
    fitted = stab[stab["status"] == "fitted"]
    rows = []
    for (factor, split), part in fitted.groupby(["factor", "split"], sort=False):
        up = part.loc[part["lower_95"] > 0, "segment"].tolist()
        down = part.loc[part["upper_95"] < 0, "segment"].tolist()
        rows.append(
            {
                "factor": factor,
                "split": split,
                "segments": len(part),
                "clearly_positive": ", ".join(up),
                "clearly_negative": ", ".join(down),
                "sign_flip": bool(up and down),
            }
        )
    return pd.DataFrame(
        rows, columns=["factor", "split", "segments", "clearly_positive", "clearly_negative", "sign_flip"]
    )


def stability_table(stab: pd.DataFrame) -> pd.DataFrame:
    """Wide view for the report: odds ratio per factor and segment (* = 95% interval excludes 1)."""
    fitted = stab[stab["status"] == "fitted"].copy()
    if fitted.empty:
        return pd.DataFrame()
    clear = (fitted["lower_95"] > 0) | (fitted["upper_95"] < 0)
    fitted["cell"] = [f"{np.exp(e):.2f}{'*' if c else ''}" for e, c in zip(fitted["estimate"], clear)]
    fitted["column"] = fitted["split"] + ": " + fitted["segment"].astype(str)
    wide = fitted.pivot(index="factor", columns="column", values="cell")
    flips = sign_flips(stab).groupby("factor")["sign_flip"].any()
    wide["sign_flip"] = flips.reindex(wide.index).fillna(False).astype(bool)
    return wide


# --- one call for the notebook and the benchmark ---------------------------------------------

DRIVERS_TABLE_COLUMNS = [
    "factor",
    "variable",
    "kind",
    "effect",
    "effect_unit",
    "lower_95",
    "upper_95",
    "log_odds",
    "std_error",
    "p",
    "p_adjusted",
    "direction",
    "rank",
    "rate_with",
    "rate_without",
    "method",
    "sentence",
]


def drivers_table(model: RenewalDrivers | None) -> pd.DataFrame:
    """The table written for a run: effect = odds ratio (per +1 SD or per level), interval, p, corrected p."""
    if model is None:
        return pd.DataFrame(columns=DRIVERS_TABLE_COLUMNS)
    s = model.summary.reset_index()
    out = s.rename(columns={"odds_ratio": "effect", "unit": "effect_unit", "estimate": "log_odds"})
    out["lower_95"], out["upper_95"] = s["or_lower_95"], s["or_upper_95"]
    return out[DRIVERS_TABLE_COLUMNS]


@dataclass
class DriverAnalysis:
    """Everything the notebook shows; parts that could not be estimated are None / empty with a note."""

    problems: pd.DataFrame
    model: RenewalDrivers | None = None
    check: NonlinearCheck | None = None
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    stability: pd.DataFrame = field(default_factory=pd.DataFrame)
    flips: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        return drivers_table(self.model)

    @property
    def summary(self) -> pd.DataFrame:
        return self.model.summary if self.model is not None else pd.DataFrame(columns=["odds_ratio", "rank"])

    @property
    def importance(self) -> pd.DataFrame:
        return (
            self.check.importance_
            if self.check is not None
            else pd.DataFrame(columns=["importance", "importance_std", "important", "gbm_rank"])
        )

    @property
    def partial_dependence(self) -> pd.DataFrame:
        return (
            self.check.partial_dependence_
            if self.check is not None
            else pd.DataFrame(columns=["factor", "value", "level", "renewal_probability"])
        )

    def top_factors(self, n: int = 4) -> list[str]:
        """The factors the boosting check found most important (for partial-dependence plots)."""
        return self.importance.sort_values("gbm_rank").index[:n].tolist()

    @property
    def stability_wide(self) -> pd.DataFrame:
        return stability_table(self.stability) if not self.stability.empty else pd.DataFrame()

    @property
    def stability_note(self) -> str:
        """The flip rule, the flagged factors and the segments that could not be refitted, in words."""
        if self.stability.empty:
            return "No stability refits: the main model could not be estimated."
        flagged = sorted(set(self.flips.loc[self.flips["sign_flip"], "factor"])) if not self.flips.empty else []
        skipped = self.stability[self.stability["status"] != "fitted"]
        return "\n".join(
            [
                SIGN_FLIP_RULE,
                f"Flagged sign flips: {', '.join(flagged) or 'none'}",
                "Segments not refitted: "
                + ("; ".join(f"{r.split} = {r.segment}: {r.status}" for r in skipped.itertuples()) or "none"),
            ]
        )

    @property
    def model_check(self) -> pd.DataFrame:
        """metric / value rows for the report's method notes."""
        rows = []
        if self.model is not None:
            rows += [
                ("contracts", self.model.n_contracts_),
                ("accounts", self.model.n_accounts_),
                ("renewal rate", self.model.renewal_rate_),
            ]
        if self.check is not None:
            rows += [
                ("held-out AUC, logit", self.check.logit_holdout_auc_),
                ("held-out AUC, gradient boosting", self.check.holdout_auc_),
                ("held-out contracts", self.check.n_holdout_),
            ]
        if not self.flips.empty:
            rows.append(("sign flips between segments", int(self.flips["sign_flip"].sum())))
        return pd.DataFrame(rows, columns=["metric", "value"]).astype({"value": float})

    @property
    def not_estimable(self) -> pd.DataFrame:
        """What could not be estimated (or was estimated differently) and why, for the report."""
        rows = self.problems[self.problems["severity"] != "note"] if not self.problems.empty else self.problems
        notes = pd.DataFrame(
            [
                {"factor": "(analysis)", "problem": "skipped", "severity": "note", "detail": n, "action": ""}
                for n in self.notes
                if self.model is not None
            ],
            columns=PROBLEM_COLUMNS,
        )
        return pd.concat([rows, notes], ignore_index=True) if len(notes) else rows.reset_index(drop=True)


def analyse(
    contracts: pd.DataFrame, config: dict | None = None, check: bool = True, segments: bool = True
) -> DriverAnalysis:
    """Logit, boosting check, agreement and stability; never raises on data that cannot be estimated."""
    cfg = driver_config(config)
    try:
        model = RenewalDrivers(cfg).fit(contracts)
    except InsufficientDataError as exc:
        problems = getattr(exc, "problems", _problems_frame([]))
        return DriverAnalysis(problems=problems, notes=[str(exc)])
    result = DriverAnalysis(problems=model.problems_, model=model)
    if check:
        try:
            result.check = NonlinearCheck(cfg).fit(contracts, design=model.design_)
            result.agreement = compare_models(model, result.check)
        except InsufficientDataError as exc:
            result.notes.append(f"Non-linear check skipped: {exc}")
    if segments:
        clear = model.summary.loc[model.summary["direction"] != "no clear effect", "variable"].unique().tolist()
        chosen = clear if cfg["stability_factors"] == "clear" and clear else None
        result.stability = stability(contracts, cfg, design=model.design_, factors=chosen)
        result.flips = sign_flips(result.stability)
    return result


def load_contracts(book, config: dict | None = None, as_of=None) -> pd.DataFrame:
    """The contract-level table for ``book``: decisions before ``as_of``, features ``lead_days`` earlier.

    Returns an empty table (which ``analyse`` reports as 'no decided contracts') instead of raising
    when no contract has been decided yet.
    """
    from analysis.data.features import build_contract_features

    cfg = driver_config(config)
    try:
        return build_contract_features(book, lead_days=int(cfg["lead_days"]), decided_before=as_of)
    except InsufficientDataError:
        return pd.DataFrame(columns=[ACCOUNT, END, OUTCOME])


REASON_COLUMNS = [
    "account_id",
    "next_renewal_date",
    "renewal_probability",
    "side",
    "rank",
    "factor",
    "value",
    "typical",
    "contribution",
    "odds_multiplier",
    "sentence",
]


def open_account_reasons(model: RenewalDrivers | None, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Top reasons for every account with an open contract in an as-of snapshot
    (``analysis.features.build_features``; index account_id). Empty when there is no model."""
    if model is None or snapshot.empty:
        return pd.DataFrame(columns=REASON_COLUMNS)
    open_ = snapshot[snapshot["next_renewal_date"].notna()] if "next_renewal_date" in snapshot else snapshot
    if open_.index.name != ACCOUNT:
        open_ = open_.rename_axis(ACCOUNT)
    reasons = model.reasons(open_)
    if "next_renewal_date" in open_:
        reasons.insert(1, "next_renewal_date", open_["next_renewal_date"].reindex(reasons[ACCOUNT]).to_numpy())
    return reasons.reindex(columns=REASON_COLUMNS)


# --- simulation for tests and benchmarks -----------------------------------------------------

SIM_BETA = {
    "seminar": 0.6,
    "adoption": 3.0,
    "open_tickets": -0.4,
    "nps": 0.2,
    "payment_delay": -0.02,
    "product_lines": 0.3,
}
SIM_INDUSTRY = {"manufacturing": 0.0, "finance": 0.3, "retail": -0.5, "services": 0.0}  # reference: manufacturing
SIM_NOISE = ("noise_a", "noise_b", "webinars")


def simulate_contracts(
    n_contracts: int = 5000,
    seed: int = 0,
    contracts_per_account: int = 3,
    intercept: float = -1.4,
    beta: dict | None = None,
    industry: dict | None = None,
    start: str = "2021-01-01",
    years: int = 3,
) -> tuple[pd.DataFrame, dict]:
    """A contract table whose renewal log-odds are exactly linear in the features (known truth).

    Accounts carry persistent traits, so their contracts are correlated (which is what the
    cluster-robust errors are for); given the features, outcomes are independent Bernoulli.
    """
    beta = dict(SIM_BETA if beta is None else beta)
    industry = dict(SIM_INDUSTRY if industry is None else industry)
    rng = np.random.default_rng(seed)
    n_acc = int(np.ceil(n_contracts / contracts_per_account))
    acc = np.sort(rng.integers(0, n_acc, n_contracts))
    size = rng.choice(["enterprise", "mid-market", "small"], n_acc, p=[0.2, 0.35, 0.45])
    ind = rng.choice(list(industry), n_acc, p=np.full(len(industry), 1 / len(industry)))
    base_adoption, base_nps = rng.beta(4, 3, n_acc), rng.normal(7, 1.5, n_acc)
    base_delay, lines = rng.gamma(3, 12, n_acc), rng.integers(1, 5, n_acc)
    frame = pd.DataFrame(
        {
            "contract_id": [f"K{i:07d}" for i in range(n_contracts)],
            "account_id": [f"A{a:06d}" for a in acc],
            "end": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 365 * years, n_contracts), unit="D"),
            "size_band": size[acc],
            "industry": ind[acc],
            "seminar": (rng.random(n_contracts) < 0.2 + 0.3 * (size[acc] == "enterprise")).astype(int),
            "adoption": np.clip(base_adoption[acc] + rng.normal(0, 0.08, n_contracts), 0, 1),
            "open_tickets": rng.poisson(np.where(base_adoption[acc] < 0.4, 1.5, 0.6)),
            "nps": np.clip(np.round(base_nps[acc] + rng.normal(0, 1, n_contracts)), 0, 10),
            "payment_delay": np.round(base_delay[acc] + rng.normal(0, 5, n_contracts), 1),
            "product_lines": lines[acc],
            "noise_a": rng.normal(0, 1, n_contracts),
            "noise_b": rng.uniform(0, 100, n_contracts),
            "webinars": rng.poisson(2, n_contracts),
        }
    )
    eta = intercept + sum(b * frame[k].to_numpy() for k, b in beta.items()) + frame["industry"].map(industry).to_numpy()
    frame["renewed"] = (rng.random(n_contracts) < expit(eta)).astype(int)
    truth = {
        "intercept": intercept,
        "log_odds_per_unit": beta,
        "industry": industry,
        "industry_reference": next(iter(industry)),
        "noise_features": list(SIM_NOISE),
    }
    return frame.set_index("contract_id"), truth


# --- plots (the notebook stays thin) ---------------------------------------------------------


def plot_forest(summary: pd.DataFrame, ax=None, top: int | None = None):
    """Odds ratios with 95% intervals, strongest first, on a log axis."""
    import matplotlib.pyplot as plt

    rows = summary.sort_values("rank").head(top) if top else summary.sort_values("rank")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * max(len(rows), 3) + 1))
    if rows.empty:
        ax.text(0.5, 0.5, "No factor could be estimated", ha="center", va="center")
        return ax
    y = pd.Series(np.arange(len(rows))[::-1], index=rows.index)
    colours = {"raises renewal": "tab:green", "lowers renewal": "tab:red", "no clear effect": "grey"}
    for direction, part in rows.groupby("direction"):
        ax.errorbar(
            part["odds_ratio"],
            y[part.index],
            fmt="o",
            color=colours.get(direction, "grey"),
            capsize=2,
            xerr=[part["odds_ratio"] - part["or_lower_95"], part["or_upper_95"] - part["odds_ratio"]],
            label=direction,
        )
    ax.legend(loc="best", fontsize=8)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    lo, hi = float(rows["or_lower_95"].min()), float(rows["or_upper_95"].max())
    ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20) if lo / 1.5 <= t <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y.to_numpy(), [f"{i} ({u})" for i, u in zip(rows.index, rows["unit"])])
    ax.set_xlabel("odds ratio of renewal (95% CI)")
    return ax


def plot_importance(importance: pd.DataFrame, ax=None, top: int = 15):
    """Permutation importance (drop in held-out AUC) with its spread over repeats."""
    import matplotlib.pyplot as plt

    rows = importance.sort_values("importance", ascending=False).head(top)[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.3 * max(len(rows), 3) + 1))
    if rows.empty:
        ax.text(0.5, 0.5, "The boosting check could not run (see the notes above)", ha="center", va="center")
        return ax
    ax.barh(
        rows.index,
        rows["importance"],
        xerr=rows["importance_std"],
        color=["tab:blue" if important else "lightgrey" for important in rows["important"]],
    )
    ax.set_xlabel("drop in held-out AUC when shuffled")
    return ax


def plot_partial_dependence(pdp: pd.DataFrame, factors: list[str], axes=None):
    """Partial-dependence curves (predicted renewal probability) of the boosting model."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, max(len(factors), 1), figsize=(3.2 * max(len(factors), 1), 3), squeeze=False)
        axes = axes[0]
    if not factors:
        axes[0].text(0.5, 0.5, "No partial dependence (the boosting check could not run)", ha="center", va="center")
    for ax, name in zip(axes, factors):
        curve = pdp[pdp["factor"] == name]
        if curve["value"].isna().all():
            ax.bar(curve["level"], curve["renewal_probability"])
            ax.tick_params(axis="x", rotation=45)
        else:
            ax.plot(curve["value"], curve["renewal_probability"], marker=".")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("renewal probability")
    return axes
