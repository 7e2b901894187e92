"""Weights of the composite customer score: set, derive, calibrate and blend them.

Every method returns a :class:`WeightResult`: weights summing to 1 plus how they were
obtained (method, a plain sentence, notes on anything excluded or adjusted, and intervals
where the method has them), with ``summary`` in the project's common shape.

Methods
- expert weights from the config (validated, never silently normalised);
- AHP (Saaty): principal eigenvector of a pairwise comparison matrix and its consistency
  ratio against the Saaty (1980) random-index table;
- entropy weight method and CRITIC (Diakoulaki et al. 1995) on the criteria matrix;
- outcome-calibrated non-negative weights (renewal: bounded logistic fit; margin: NNLS)
  with bootstrap intervals;
- a blend of expert and calibrated weights.

Entropy, CRITIC and AHP are written by hand: each is a few lines of linear algebra and no
library in the pinned stack implements them. Optimisation uses scipy.optimize.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from analysis.core.summary import summary_frame
from analysis.errors import AnalysisError, ConfigError, ConvergenceError, DataContractError, InsufficientDataError

# Saaty, T. L. (1980). The Analytic Hierarchy Process. McGraw-Hill: mean consistency index of
# random reciprocal matrices of order n.
SAATY_1980_RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
}
RANDOM_INDEX_TABLES = {"saaty_1980": SAATY_1980_RANDOM_INDEX}
CR_LIMIT = 0.10
SUM_TOLERANCE = 1e-6
RECIPROCAL_TOLERANCE = 5e-3  # lets YAML write 1/3 as 0.333, not as 0.33


@dataclass
class WeightResult:
    """Weights (summing to 1) and how they were obtained."""

    weights: pd.Series
    method: str
    description: str
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    draws: pd.DataFrame | None = None  # bootstrap replicates (one row per resample)
    ci: float = 0.95

    @property
    def lower(self) -> pd.Series:
        return self._quantile((1 - self.ci) / 2)

    @property
    def upper(self) -> pd.Series:
        return self._quantile(1 - (1 - self.ci) / 2)

    def _quantile(self, q: float) -> pd.Series:
        if self.draws is None:
            return pd.Series(np.nan, index=self.weights.index)
        return self.draws.quantile(q)

    @property
    def summary(self) -> pd.DataFrame:
        """factor, estimate, std_error, lower_95, upper_95 (bootstrap percentile), method, sentence.

        ``z`` and ``p`` are left empty: a Wald test of a weight bounded at zero is not valid.
        """
        sd = None if self.draws is None else self.draws.std(ddof=1).to_numpy()
        frame = summary_frame(
            self.weights.index,
            self.weights.to_numpy(),
            std_errors=sd,
            lower=self.lower.to_numpy(),
            upper=self.upper.to_numpy(),
        )
        frame[["z", "p"]] = np.nan
        frame["method"] = self.method
        frame["sentence"] = [self._sentence(f) for f in frame.index]
        return frame

    def _sentence(self, factor: str) -> str:
        text = f"{factor}: {self.weights[factor]:.1%} of the score"
        if self.draws is not None:
            text += f" (95% bootstrap interval {self.lower[factor]:.1%}-{self.upper[factor]:.1%})"
        return f"{text}, {self.method}."

    def to_config(self) -> dict:
        """The weights as a YAML-ready mapping (how they were obtained travels with them)."""
        return {
            "method": self.method,
            "description": self.description,
            "weights": {k: round(float(v), 6) for k, v in self.weights.items()},
            "notes": list(self.notes),
        }


def write_weights_yaml(result: WeightResult, path: str | Path) -> Path:
    """Write the chosen weights as YAML (for the run folder, or to paste into the config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"scoring_weights": result.to_config()}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return path


def weights_table(results: Mapping[str, WeightResult]) -> pd.DataFrame:
    """Every weighting side by side: one row per (weighting, factor) with interval."""
    frames = [r.summary.reset_index().assign(weighting=name) for name, r in results.items()]
    cols = ["weighting", "factor", "estimate", "lower_95", "upper_95", "method", "sentence"]
    return pd.concat(frames, ignore_index=True)[cols]


# --- expert and equal weights ----------------------------------------------------------------


def validate_weights(
    weights: Mapping[str, float] | pd.Series, criteria: Sequence[str], normalise: bool = False
) -> tuple[pd.Series, list[str]]:
    """Check weights against the criteria; return them (as a Series in criteria order) and notes.

    Negative weights, unknown criteria and weights that do not sum to 1 raise ConfigError;
    a criterion with no weight gets 0 and a note. Weights are rescaled only when ``normalise``.
    """
    weights = dict(weights)
    unknown = sorted(set(weights) - set(criteria))
    if unknown:
        raise ConfigError(f"Weights given for unknown criteria {unknown}; valid criteria are {list(criteria)}.")
    bad = {
        k: v for k, v in weights.items() if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v)
    }
    if bad:
        raise ConfigError(f"Weights must be numbers; got {bad}.")
    negative = {k: v for k, v in weights.items() if v < 0}
    if negative:
        raise ConfigError(
            f"Weights must be non-negative; got {negative}. Use direction: cost for a criterion "
            "where lower is better instead of a negative weight."
        )
    notes = []
    missing = [c for c in criteria if c not in weights]
    if missing:
        notes.append(f"No weight given for {missing}: they get weight 0.")
    series = pd.Series({c: float(weights.get(c, 0.0)) for c in criteria}, name="weight")
    total = series.sum()
    if total <= 0:
        raise ConfigError("All weights are zero; give at least one criterion a positive weight.")
    if abs(total - 1) > SUM_TOLERANCE:
        if not normalise:
            raise ConfigError(
                f"Weights sum to {total:g}, not 1. Fix them, or set scoring.normalise_weights: true "
                "to rescale them to sum to 1."
            )
        notes.append(f"Weights summed to {total:g}; rescaled to sum to 1 as scoring.normalise_weights asks.")
        series = series / total
    series.index.name = "factor"
    return series, notes


def expert_weights(weights: Mapping[str, float], criteria: Sequence[str], normalise: bool = False) -> WeightResult:
    """The analysts' weights from the config, validated."""
    series, notes = validate_weights(weights, criteria, normalise)
    return WeightResult(series, "expert", "Weights set by analysts in the config.", notes)


def equal_weights(criteria: Sequence[str]) -> WeightResult:
    """The naive baseline every other weighting should beat."""
    if not criteria:
        raise ConfigError("No criteria given; declare at least one under scoring.criteria.")
    series = pd.Series(1.0 / len(criteria), index=pd.Index(list(criteria), name="factor"), name="weight")
    return WeightResult(series, "equal", "Every criterion weighted equally (baseline).")


# --- AHP -------------------------------------------------------------------------------------


def _number(value) -> float:
    """A judgement from YAML: a number or a fraction written as text ("1/3")."""
    try:
        return float(Fraction(value)) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"AHP judgement {value!r} is not a number or fraction such as 3 or '1/3'.") from exc


def ahp_matrix_from_pairs(pairs: Sequence[Sequence], criteria: Sequence[str]) -> pd.DataFrame:
    """Build the reciprocal matrix from judgements ``[a, b, v]``: a is v times as important as b."""
    criteria = list(criteria)
    mat = pd.DataFrame(np.eye(len(criteria)), index=criteria, columns=criteria)
    seen = set()
    for pair in pairs:
        if len(pair) != 3:
            raise ConfigError(f"AHP pair {pair!r} must be [criterion_a, criterion_b, value].")
        a, b, v = pair[0], pair[1], _number(pair[2])
        unknown = [c for c in (a, b) if c not in criteria]
        if unknown:
            raise ConfigError(f"AHP pair {pair!r} names unknown criteria {unknown}; valid criteria are {criteria}.")
        if a == b or frozenset((a, b)) in seen:
            raise ConfigError(f"AHP pair {pair!r} compares a criterion with itself or repeats a pair.")
        if v <= 0:
            raise ConfigError(f"AHP judgement {pair!r} must be positive (1/9 ... 9).")
        seen.add(frozenset((a, b)))
        mat.loc[a, b], mat.loc[b, a] = v, 1.0 / v
    missing = [(a, b) for i, a in enumerate(criteria) for b in criteria[i + 1 :] if frozenset((a, b)) not in seen]
    if missing:
        raise ConfigError(f"AHP needs a judgement for every pair; missing {missing}.")
    return mat


def _check_ahp_matrix(mat: np.ndarray, labels: list[str]) -> None:
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise ConfigError(f"AHP matrix must be square; got shape {mat.shape}.")
    if not np.all(np.isfinite(mat)) or np.any(mat <= 0):
        raise ConfigError(
            "AHP matrix must hold positive finite judgements (1/9 ... 9); found zero, negative or missing entries."
        )
    if not np.allclose(np.diag(mat), 1.0):
        raise ConfigError("AHP matrix must have 1 on the diagonal (each criterion equals itself).")
    bad = np.argwhere(np.abs(mat * mat.T - 1) > RECIPROCAL_TOLERANCE)
    if len(bad):
        examples = [f"{labels[i]} vs {labels[j]}: {mat[i, j]:g} and {mat[j, i]:g}" for i, j in bad if i < j][:5]
        raise ConfigError(
            "AHP matrix is not reciprocal (a_ji must equal 1/a_ij): "
            + "; ".join(examples)
            + ". Write 1/3 as '1/3' or 0.3333, or give judgements as pairs."
        )


def ahp_weights(
    matrix,
    labels: Sequence[str] | None = None,
    random_index: str | Mapping[int, float] = "saaty_1980",
    cr_limit: float = CR_LIMIT,
) -> WeightResult:
    """AHP priorities: the principal (Perron) eigenvector of the pairwise matrix, normalised to sum 1.

    The consistency ratio CR = ((lambda_max - n)/(n - 1)) / RI(n) uses the named random-index
    table. A matrix with CR >= ``cr_limit`` is refused, naming the judgements that depart most
    from the ones the priorities imply (a_ij vs w_i / w_j).
    """
    if isinstance(matrix, pd.DataFrame):
        labels = list(labels or matrix.index)
        matrix = matrix.to_numpy()
    mat = np.array([[_number(v) for v in row] for row in np.asarray(matrix, dtype=object)], dtype=float)
    n = mat.shape[0] if mat.ndim == 2 else 0
    labels = list(labels) if labels is not None else [f"c{i + 1}" for i in range(n)]
    if len(labels) != n:
        raise ConfigError(f"AHP matrix has {n} rows but {len(labels)} labels were given.")
    _check_ahp_matrix(mat, labels)
    table_name = random_index if isinstance(random_index, str) else "custom"
    table = RANDOM_INDEX_TABLES.get(random_index) if isinstance(random_index, str) else dict(random_index)
    if table is None:
        raise ConfigError(f"Unknown random-index table {random_index!r}; known: {list(RANDOM_INDEX_TABLES)}.")
    if n not in table:
        raise ConfigError(
            f"The {table_name} random-index table covers n = {min(table)}..{max(table)}, not {n}; "
            "group the criteria into a hierarchy of at most 10, or pass a larger table."
        )
    eigvals, eigvecs = np.linalg.eig(mat)
    k = int(np.argmax(eigvals.real))
    lam = float(eigvals[k].real)
    w = np.abs(eigvecs[:, k].real)
    w = w / w.sum()
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    cr = ci / table[n] if table[n] > 0 else 0.0
    details = {
        "lambda_max": lam,
        "consistency_index": ci,
        "random_index": table[n],
        "random_index_table": table_name,
        "consistency_ratio": cr,
    }
    if cr >= cr_limit:
        ratio = mat * w[None, :] / w[:, None]  # 1 where a judgement agrees with the priorities
        iu = np.triu_indices(n, 1)
        worst = np.argsort(-np.abs(np.log(ratio[iu])))[:3]
        names = [
            f"{labels[iu[0][m]]} vs {labels[iu[1][m]]} judged {mat[iu[0][m], iu[1][m]]:.3g} "
            f"(the other judgements imply about {w[iu[0][m]] / w[iu[1][m]]:.2g})"
            for m in worst
        ]
        raise ConfigError(
            f"AHP matrix is too inconsistent: CR = {cr:.3f} >= {cr_limit} ({table_name} table). "
            "Revisit the most inconsistent judgements: " + "; ".join(names) + "."
        )
    series = pd.Series(w, index=pd.Index(labels, name="factor"), name="weight")
    desc = f"AHP principal eigenvector, lambda_max {lam:.4f}, CR {cr:.4f} ({table_name} random index)."
    return WeightResult(series, "AHP", desc, details=details)


# --- data-driven weights (entropy, CRITIC) ---------------------------------------------------


def _complete_rows(matrix: pd.DataFrame, method: str) -> tuple[np.ndarray, list[str]]:
    if not isinstance(matrix, pd.DataFrame):
        raise DataContractError(f"{method} needs a DataFrame of criteria (one column per criterion).")
    values = matrix.apply(pd.to_numeric, errors="coerce")
    notes = []
    keep = values.notna().all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} of {len(values)} rows with a missing value were left out of {method}.")
    x = values[keep].to_numpy(dtype=float)
    if len(x) < 2:
        raise InsufficientDataError(f"{method} needs at least 2 complete rows; got {len(x)}.")
    if not np.all(np.isfinite(x)):
        raise DataContractError(f"{method} got infinite values; clean the criteria first.")
    return x, notes


def _constant_notes(cols: Sequence[str], constant: np.ndarray, method: str) -> list[str]:
    return [
        f"Criterion {c} is constant (every row has the same value): it cannot tell accounts apart, "
        f"so {method} gives it weight 0."
        for c, flag in zip(cols, constant)
        if flag
    ]


def _entropy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    constant = np.ptp(x, axis=0) == 0
    totals = x.sum(axis=0)
    p = np.divide(x, totals, out=np.zeros_like(x), where=totals != 0)
    e = -special.xlogy(p, p).sum(axis=0) / np.log(len(x))
    d = np.where(constant, 0.0, 1.0 - e)
    return d, constant


def _critic(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = x.min(axis=0), x.max(axis=0)
    constant = hi == lo
    z = np.divide(x - lo, hi - lo, out=np.zeros_like(x), where=~constant)
    sd = z.std(axis=0, ddof=1)
    info = np.zeros(x.shape[1])
    live = np.flatnonzero(~constant)
    if len(live):
        r = np.atleast_2d(np.corrcoef(z[:, live], rowvar=False))
        info[live] = sd[live] * (1 - r).sum(axis=1)
    return info, constant


def _data_weights(
    matrix: pd.DataFrame, method: str, kernel, n_boot: int, seed: int, ci: float, description: str
) -> WeightResult:
    x, notes = _complete_rows(matrix, method)
    raw, constant = kernel(x)
    if raw.sum() <= 0:
        raise InsufficientDataError(f"{method}: every criterion is constant, so there is nothing to weight.")
    notes += _constant_notes(matrix.columns, constant, method)
    cols = pd.Index(matrix.columns, name="factor")
    draws = None
    if n_boot:
        rng = np.random.default_rng(seed)
        reps = []
        for _ in range(n_boot):
            r, _c = kernel(x[rng.integers(0, len(x), len(x))])
            reps.append(r / r.sum() if r.sum() > 0 else np.full(len(r), np.nan))
        draws = pd.DataFrame(reps, columns=cols)
    return WeightResult(
        pd.Series(raw / raw.sum(), index=cols, name="weight"),
        method,
        description,
        notes,
        details={"n_rows": len(x)},
        draws=draws,
        ci=ci,
    )


def entropy_weights(matrix: pd.DataFrame, n_boot: int = 0, seed: int = 0, ci: float = 0.95) -> WeightResult:
    """Entropy weight method: criteria whose values are spread unevenly across rows weigh more.

    p_ij = x_ij / sum_i x_ij, e_j = -sum_i p_ij ln p_ij / ln m, w_j = (1 - e_j) / sum(1 - e).
    Values must be non-negative (pass the normalised criteria matrix from
    ``analysis.scoring.criteria_matrix``).
    """
    if (matrix.apply(pd.to_numeric, errors="coerce") < 0).any().any():
        raise DataContractError(
            "The entropy method needs non-negative values; pass the normalised criteria "
            "matrix (analysis.scoring.criteria_matrix) instead of raw values."
        )
    return _data_weights(
        matrix,
        "entropy",
        _entropy,
        n_boot,
        seed,
        ci,
        "Entropy weight method: more weight to criteria that differ more between accounts.",
    )


def critic_weights(matrix: pd.DataFrame, n_boot: int = 0, seed: int = 0, ci: float = 0.95) -> WeightResult:
    """CRITIC (Diakoulaki, Mavrotas & Papayannakis 1995): contrast (SD of min-max scaled values)
    times conflict (sum of 1 - correlation with the other criteria).

    Columns must be oriented so that higher is better (as in the normalised criteria matrix).
    """
    return _data_weights(
        matrix,
        "CRITIC",
        _critic,
        n_boot,
        seed,
        ci,
        "CRITIC: more weight to criteria that vary more and agree less with the others.",
    )


# --- outcome-calibrated weights --------------------------------------------------------------


def _bounded_quadratic(h: np.ndarray, r: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """argmin 1/2 z'Hz - r'z subject to z >= lower, as bounded least squares on the Cholesky factor."""
    jitter = 1e-12 * np.trace(h) * np.eye(len(h))  # keeps a near-singular Hessian factorable
    chol = np.linalg.cholesky(h + jitter)
    target = np.linalg.solve(chol, r)
    return optimize.lsq_linear(chol.T, target, bounds=(lower, np.inf), method="bvls", tol=1e-12).x


def _fit_bounded(
    x1: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray | None,
    start: np.ndarray,
    binary: bool,
    l2: float,
    max_iter: int = 50,
) -> tuple[np.ndarray, bool]:
    """Regression with a free intercept (column 0 of ``x1``) and non-negative slopes.

    Continuous: one bounded least-squares solve. Binary: projected Newton (IRLS) for the
    logistic log-likelihood, each step a bounded quadratic on k x k sufficient statistics,
    halved while the loss rises; ~50x faster than L-BFGS-B for the bootstrap loop.
    ``counts`` are bootstrap multiplicities: rows drawn zero times are skipped.
    """
    if counts is None:
        c = np.ones(len(y))
    else:
        drawn = np.flatnonzero(counts)
        x1, y, c = x1[drawn], y[drawn], counts[drawn].astype(float)
    lower = np.r_[-np.inf, np.zeros(x1.shape[1] - 1)]
    pen = l2 * c.sum() * np.diag(np.r_[0.0, np.ones(x1.shape[1] - 1)])
    if not binary:
        xc = x1 * c[:, None]
        return _bounded_quadratic(xc.T @ x1 + pen, xc.T @ y, lower), True

    def loss(eta, theta):
        return c @ (np.logaddexp(0.0, eta) - y * eta) + 0.5 * theta @ pen @ theta

    theta = start.copy()
    eta = x1 @ theta
    current = loss(eta, theta)
    for _ in range(max_iter):
        p = special.expit(eta)
        h = (x1 * (c * p * (1 - p))[:, None]).T @ x1 + pen
        grad = x1.T @ (c * (p - y)) + pen @ theta
        step = _bounded_quadratic(h, h @ theta - grad, lower) - theta
        if np.max(np.abs(step)) < 1e-8:
            return theta, True
        for _halving in range(30):  # damped Newton: halve while the loss rises beyond round-off
            eta_new = x1 @ (theta + step)
            new = loss(eta_new, theta + step)
            if new <= current + 1e-10 * abs(current):
                break
            step = step / 2
        theta, eta, current = theta + step, eta_new, new
    return theta, False


def _outcome_vector(y: pd.Series, outcome_type: str | None, transform: str | None) -> tuple[np.ndarray, str]:
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    distinct = np.unique(values)
    if len(distinct) < 2:
        raise InsufficientDataError(
            f"Outcome '{y.name}' has a single value ({distinct.tolist()}) among the rows "
            "used: weights cannot be calibrated to it. Use a longer window, an earlier "
            "as-of date, or the other outcome."
        )
    if outcome_type is None:
        outcome_type = "binary" if set(distinct) <= {0.0, 1.0} else "continuous"
    if outcome_type == "binary":
        if not set(distinct) <= {0.0, 1.0}:
            raise DataContractError(f"Binary outcome '{y.name}' must hold 0/1; found {distinct[:5].tolist()}...")
    elif outcome_type == "continuous":
        if transform == "rank":
            values = pd.Series(values).rank(pct=True).to_numpy()
        elif transform not in (None, "none"):
            raise ConfigError(f"Unknown outcome transform {transform!r}; use 'rank' or 'none'.")
    else:
        raise ConfigError(f"outcome_type must be 'binary' or 'continuous', not {outcome_type!r}.")
    return values, outcome_type


def _bootstrap(
    fit,
    theta: np.ndarray,
    y: np.ndarray,
    outcome_type: str,
    constant: np.ndarray,
    reps: np.ndarray,
    rng: np.random.Generator,
    groups: np.ndarray,
) -> None:
    """Fill ``reps`` (resamples x criteria) with normalised weights refitted on multinomial counts.

    ``groups`` (integer codes 0..G-1): whole groups (accounts) are drawn, so that rows of one
    account (its contracts) stay together and the interval reflects that they are not independent.
    """
    n_groups = int(groups.max()) + 1
    for b in range(len(reps)):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[groups]
        if outcome_type == "binary" and counts @ y in (0, counts.sum()):
            continue  # a resample with one class carries no information
        s = fit(counts, theta)[1:]
        if np.isfinite(s).all() and s.sum() > 0:
            reps[b, ~constant] = s / s.sum()
            reps[b, constant] = 0.0


def calibrated_weights(
    matrix: pd.DataFrame,
    outcome: pd.Series,
    outcome_type: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    transform: str | None = "rank",
    l2: float = 0.0,
    groups: pd.Series | None = None,
) -> WeightResult:
    """Non-negative weights fitted to an outcome, with bootstrap percentile intervals.

    ``matrix``: normalised criteria (0-1, higher is better; ``analysis.scoring.criteria_matrix``)
    indexed like ``outcome``. Binary outcomes (renewal) get a logistic fit with slopes >= 0;
    continuous ones (next-12-month margin; ranked first by default so a few huge accounts do
    not decide the weights) get non-negative least squares. Weights are the slopes divided by
    their sum, so the score is the fitted linear predictor up to scale. Bootstrap resamples
    reuse the data with multinomial counts (no copies) and start from the full-sample fit;
    with ``groups`` (for example the account of each contract) whole groups are resampled.
    """
    matrix, outcome = matrix.align(outcome, join="inner", axis=0)
    keep = outcome.notna() & matrix.notna().all(axis=1)
    notes = []
    if not keep.all():
        notes.append(
            f"{int((~keep).sum())} of {len(keep)} rows without an outcome or with a missing criterion "
            "were left out of the calibration."
        )
    x = matrix[keep].to_numpy(dtype=float)
    y, outcome_type = _outcome_vector(outcome[keep], outcome_type, transform)
    cols = pd.Index(matrix.columns, name="factor")
    constant = np.ptp(x, axis=0) == 0
    if constant.all():
        raise InsufficientDataError("Every criterion is constant among the calibration rows; nothing to calibrate.")
    notes += _constant_notes(cols, constant, "calibration")
    x1 = np.column_stack([np.ones(len(y)), x[:, ~constant]])
    started = time.perf_counter()

    def fit(counts, start):
        theta, ok = _fit_bounded(x1, y, counts, start, outcome_type == "binary", l2)
        if not ok and counts is None:
            raise ConvergenceError(
                f"Calibration to '{outcome.name}' did not converge: a criterion may separate "
                "the outcome perfectly. Drop it, or set scoring.calibration.l2 to a small "
                "penalty such as 1e-4."
            )
        return theta if ok else np.full(len(theta), np.nan)

    theta = fit(None, np.zeros(x1.shape[1]))
    slopes = np.zeros(x.shape[1])
    slopes[~constant] = theta[1:]
    if slopes.sum() <= 0:
        raise InsufficientDataError(
            f"No criterion is positively related to '{outcome.name}', so every calibrated "
            "weight is 0. Check each criterion's direction (benefit/cost)."
        )
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, x.shape[1]), np.nan)
    codes = np.arange(len(y)) if groups is None else pd.factorize(groups.reindex(matrix.index)[keep])[0]
    with threadpool_limits(limits=1, user_api="blas"):
        # Tall-thin products (n x k, k < 20): BLAS threads only add overhead, and cost 4x on a busy machine.
        _bootstrap(fit, theta, y, outcome_type, constant, reps, rng, codes)
    failed = int(np.isnan(reps[:, 0]).sum())
    if failed:
        notes.append(f"{failed} of {n_boot} bootstrap resamples gave no usable fit and were left out.")
    zero = [c for c, s, k in zip(cols, slopes, constant) if s == 0 and not k]
    if zero:
        notes.append(f"{zero} add nothing to predicting '{outcome.name}' once the others are known: weight 0.")
    model = "logistic regression" if outcome_type == "binary" else "least squares"
    unit = "rows" if groups is None else f"{codes.max() + 1} accounts (resampled whole)"
    desc = (
        f"Calibrated to '{outcome.name}' by {model} with non-negative slopes on {len(y)} rows; "
        f"{n_boot} bootstrap resamples of {unit}."
    )
    details = {
        "outcome": outcome.name,
        "outcome_type": outcome_type,
        "intercept": float(theta[0]),
        "slopes": dict(zip(cols, slopes.tolist())),
        "n_rows": len(y),
        "n_boot": n_boot,
        "seconds": time.perf_counter() - started,
    }
    draws = pd.DataFrame(reps, columns=cols).dropna() if n_boot else None
    return WeightResult(
        pd.Series(slopes / slopes.sum(), index=cols, name="weight"),
        "calibrated",
        desc,
        notes,
        details,
        draws=draws,
        ci=ci,
    )


def blend_weights(expert: WeightResult, calibrated: WeightResult, mix: float) -> WeightResult:
    """(1 - mix) x expert + mix x calibrated; the calibrated bootstrap carries over to the interval."""
    if not 0 <= mix <= 1:
        raise ConfigError(f"Blend mix must lie in [0, 1] (0 = all expert, 1 = all calibrated); got {mix}.")
    if set(expert.weights.index) != set(calibrated.weights.index):
        raise ConfigError(
            "Expert and calibrated weights cover different criteria: "
            f"{sorted(expert.weights.index)} vs {sorted(calibrated.weights.index)}."
        )
    e = expert.weights
    c = calibrated.weights.reindex(e.index)
    draws = None if calibrated.draws is None else (1 - mix) * e + mix * calibrated.draws[e.index]
    desc = f"Blend: {1 - mix:.0%} expert + {mix:.0%} calibrated ({calibrated.description})"
    return WeightResult(
        ((1 - mix) * e + mix * c).rename("weight"),
        "blend",
        desc,
        expert.notes + calibrated.notes,
        {"mix": mix},
        draws,
        calibrated.ci,
    )


def perturb(weights: pd.Series, criterion: str, delta: float) -> pd.Series:
    """Move one weight by ``delta`` (clipped to [0, 1]); the others absorb the change in proportion."""
    w = weights.astype(float).copy()
    new = float(np.clip(w[criterion] + delta, 0.0, 1.0))
    rest = w.drop(criterion)
    if rest.sum() > 0:
        rest = rest * (1 - new) / rest.sum()
    else:
        rest[:] = (1 - new) / max(len(rest), 1)
    out = pd.concat([rest, pd.Series({criterion: new})]).reindex(w.index)
    return out


# --- every weighting the config asks for ------------------------------------------------------

METHODS = ("expert", "equal", "ahp", "entropy", "critic", "calibrated", "blend")


def _one_weighting(
    method: str,
    section: Mapping,
    criteria: list[str],
    done: dict,
    matrix,
    calib_matrix,
    outcome,
    seed: int,
    groups=None,
) -> WeightResult:
    cfg = section.get("weights") or {}
    if method == "expert":
        given = {n: s["weight"] for n, s in section["criteria"].items() if s.get("weight") is not None}
        return expert_weights(given, criteria, bool(section.get("normalise_weights", False)))
    if method == "equal":
        return equal_weights(criteria)
    if method == "ahp":
        ahp = cfg.get("ahp") or {}
        if "pairs" in ahp:
            mat = ahp_matrix_from_pairs(ahp["pairs"], criteria)
        elif "matrix" in ahp:
            mat = pd.DataFrame(ahp["matrix"], index=criteria, columns=criteria)
        else:
            raise ConfigError("scoring.weights.ahp needs pairs ([a, b, value] judgements) or a full matrix.")
        return ahp_weights(mat, random_index=ahp.get("random_index", "saaty_1980"))
    if method in ("entropy", "critic"):
        if matrix is None:
            raise InsufficientDataError(f"{method} needs the criteria matrix of the book.")
        func = entropy_weights if method == "entropy" else critic_weights
        return func(matrix[criteria], n_boot=int(cfg.get("data_n_boot", 200)), seed=seed)
    if method == "calibrated":
        if calib_matrix is None or outcome is None:
            raise InsufficientDataError("calibrated weights need an outcome (renewal or next-12-month margin).")
        cal = cfg.get("calibration") or {}
        return calibrated_weights(
            calib_matrix[criteria],
            outcome,
            n_boot=int(cal.get("n_boot", 200)),
            seed=seed,
            ci=float(cal.get("ci", 0.95)),
            transform=cal.get("margin_transform", "rank"),
            l2=float(cal.get("l2", 0.0)),
            groups=groups,
        )
    if method == "blend":
        for need in ("expert", "calibrated"):
            if need not in done:
                done[need] = _one_weighting(need, section, criteria, done, matrix, calib_matrix, outcome, seed, groups)
        return blend_weights(done["expert"], done["calibrated"], float(cfg.get("blend_mix", 0.5)))
    raise ConfigError(f"Unknown weighting method {method!r}; use one of {list(METHODS)}.")


def compare_weightings(
    section: Mapping,
    matrix: pd.DataFrame | None = None,
    calibration_matrix: pd.DataFrame | None = None,
    outcome: pd.Series | None = None,
    seed: int = 0,
    strict: bool = True,
    groups: pd.Series | None = None,
) -> tuple[dict[str, WeightResult], dict[str, str]]:
    """Every weighting in ``scoring.weights.compare`` (plus the chosen ``method``).

    ``matrix``: normalised criteria of the book (entropy, CRITIC); ``calibration_matrix`` and
    ``outcome``: rows with a known outcome (calibrated, blend), ``groups`` their account when
    several rows belong to one account (resampled together). Returns (results, skipped):
    a method that cannot be computed is skipped with its reason, except the chosen one,
    whose error is raised when ``strict`` (a back-test passes ``strict=False``).
    """
    criteria = list(section.get("criteria") or {})
    cfg = section.get("weights") or {}
    chosen = cfg.get("method", "expert")
    methods = list(dict.fromkeys([*(cfg.get("compare") or []), chosen]))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"Unknown weighting methods {unknown}; use some of {list(METHODS)}.")
    done: dict[str, WeightResult] = {}
    skipped: dict[str, str] = {}
    for method in methods:
        if method in done:
            continue
        try:
            done[method] = _one_weighting(
                method, section, criteria, done, matrix, calibration_matrix, outcome, seed, groups
            )
        except AnalysisError as exc:
            if method == chosen and strict:
                raise
            skipped[method] = str(exc)
    return {m: done[m] for m in methods if m in done}, skipped


def describe(results: Mapping[str, WeightResult], skipped: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per weighting: how it was obtained, its notes, or why it was skipped."""
    rows = [
        {"weighting": k, "method": r.method, "status": "computed", "how": r.description, "notes": " ".join(r.notes)}
        for k, r in results.items()
    ]
    rows += [
        {"weighting": k, "method": k, "status": "skipped", "how": "", "notes": why}
        for k, why in (skipped or {}).items()
    ]
    return pd.DataFrame(rows).set_index("weighting")


def plot_weights(table: pd.DataFrame, ax=None):
    """Weights side by side (one marker per weighting and criterion) with their 95% intervals."""
    import matplotlib.pyplot as plt  # plotting stays optional for the computational code

    ax = ax or plt.subplots(figsize=(7, 0.5 + 0.45 * table["factor"].nunique()))[1]
    factors = pd.Categorical(table["factor"], categories=list(dict.fromkeys(table["factor"])))
    names = pd.Categorical(table["weighting"], categories=list(dict.fromkeys(table["weighting"])))
    width = 0.8 / len(names.categories)
    pos = factors.codes + (names.codes - (len(names.categories) - 1) / 2) * width
    err = np.vstack([table["estimate"] - table["lower_95"], table["upper_95"] - table["estimate"]])
    ax.errorbar(table["estimate"], pos, xerr=np.nan_to_num(err), fmt="none", ecolor="grey", lw=1)
    for code, name in enumerate(names.categories):  # one legend entry per weighting
        sel = names.codes == code
        ax.scatter(table["estimate"][sel], pos[sel], label=name, s=18)
    ax.set_yticks(range(len(factors.categories)), factors.categories)
    ax.invert_yaxis()
    ax.set(xlabel="weight (share of the score)", title="Weights by method (bars: 95% bootstrap interval)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
