"""Weights set by judgement: the analysts' expert weights (validated, never silently
normalised), equal weights (the baseline), and Saaty's AHP from pairwise judgements (principal
eigenvector and consistency ratio against the Saaty (1980) random-index table)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from analysis.errors import ConfigError
from analysis.params import SUM_TOLERANCE
from analysis.scoring.weights.result import WeightResult

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
RECIPROCAL_TOLERANCE = 5e-3  # lets YAML write 1/3 as 0.333, not as 0.33


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
