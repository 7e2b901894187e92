"""Composite customer score 0-100 from criteria declared in YAML.

Each criterion (``scoring.criteria`` in ``config/params.yaml``, typed by
``analysis.params.CriterionParams``) names a feature column, its
direction (``benefit``: higher is better; ``cost``: lower is better), its normalisation
(``minmax``, ``percentile``, ``zscore``, or ``range`` with fixed ``bounds``), an optional
``log`` for skewed money columns (signed, so negative margins keep their sign) and a weight.
Every normalised value lies in 0-1 with 1 best; the score is 100 x the weighted sum, and each
criterion's contribution (in score points) is kept so every score can be explained.

Missing values follow an explicit policy reported in the output: ``neutral`` (the
criterion counts at ``neutral_value``, default 0.5) or ``renormalise`` (the criterion is left
out for that account and the remaining weights are rescaled to sum to 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataContractError, InsufficientDataError
from analysis.params import CriterionParams, HealthParams, ScoringParams
from analysis.scoring.weights import validate_weights

CONTRIB = "contrib_"


@dataclass(frozen=True)
class Criterion:
    """One criterion of a score, from its typed parameters (``CriterionParams``) and its name."""

    name: str
    column: str
    direction: str
    normalise: str
    log: bool
    weight: float | None
    bounds: tuple[float, float] | None
    labels: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_params(cls, name: str, params: CriterionParams) -> Criterion:
        bounds = None if params.bounds is None else (float(params.bounds[0]), float(params.bounds[1]))
        return cls(
            name=name,
            column=params.column or name,
            direction=params.direction,
            normalise=params.normalise,
            log=params.log,
            weight=params.weight,
            bounds=bounds,
            labels=params.labels(),
        )

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels.get("en") or self.name


@dataclass(frozen=True)
class ScoringSpec:
    """The criteria of a score plus its missing-value and weight policies (built from the typed
    ``scoring`` section or its ``health`` sub-section, which the parameter model validated)."""

    criteria: tuple[Criterion, ...]
    missing: str
    neutral_value: float
    zscore_clip: float
    normalise_weights: bool

    @classmethod
    def from_params(cls, section: ScoringParams | HealthParams) -> ScoringSpec:
        """The customer score (``params.scoring``) or the health score (``params.scoring.health``)."""
        criteria = section.components if isinstance(section, HealthParams) else section.criteria
        return cls.from_criteria(
            criteria,
            missing=section.missing,
            neutral_value=section.neutral_value,
            zscore_clip=section.zscore_clip,
            normalise_weights=section.normalise_weights,
        )

    @classmethod
    def from_criteria(
        cls,
        criteria: Mapping[str, CriterionParams],
        *,
        missing: str,
        neutral_value: float,
        zscore_clip: float,
        normalise_weights: bool,
    ) -> ScoringSpec:
        """From typed criteria (name -> ``CriterionParams``) and the policies."""
        return cls(
            criteria=tuple(Criterion.from_params(name, c) for name, c in criteria.items()),
            missing=missing,
            neutral_value=float(neutral_value),
            zscore_clip=float(zscore_clip),
            normalise_weights=bool(normalise_weights),
        )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.criteria]

    def expert_weights(self) -> dict[str, float]:
        """The weights written next to the criteria (criteria without one are left out)."""
        return {c.name: c.weight for c in self.criteria if c.weight is not None}

    def config_weights(self) -> pd.Series:
        """The weights written next to the criteria, as a Series (see ``weights.validate_weights``)."""
        return validate_weights(self.expert_weights(), self.names, self.normalise_weights)[0]


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        raise DataContractError(
            f"Criterion column {column!r} is not in the features; available: {sorted(map(str, frame.columns))}."
        )
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(values), values, np.nan)


def _mid_rank(x: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    """Mid-rank percentile of each x among the reference values (NaN stays NaN).

    Symmetric, so turning a cost around gives the reversed ranking exactly. x is looked up in
    sorted order (a sequential ``searchsorted`` is several times faster than a random one on a
    million rows); when the reference is x itself one sort serves both.
    """
    order = np.argsort(x)  # NaN sorts last
    xs = x[order]
    valid = xs[~np.isnan(xs)] if ref is None else np.sort(ref[~np.isnan(ref)])
    out = np.empty(len(x))
    out[order] = (np.searchsorted(valid, xs, "left") + np.searchsorted(valid, xs, "right")) / (2.0 * len(valid))
    return out


def _normalise_one(
    x: np.ndarray, ref: np.ndarray | None, crit: Criterion, spec: ScoringSpec
) -> tuple[np.ndarray, str | None]:
    """One column to 0-1 (1 best), with parameters taken from ``ref`` (None: x itself); returns (values, note)."""
    if crit.log:
        x = _signed_log(x)
        ref = None if ref is None else _signed_log(ref)
    own = ref is None
    ref = x[~np.isnan(x)] if own else ref[~np.isnan(ref)]
    note = None
    if crit.normalise == "range":
        lo, hi = crit.bounds
        s = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    elif len(ref) == 0:
        return np.full(len(x), np.nan), f"{crit.name}: no reference values, every account treated as missing."
    elif crit.normalise == "percentile":
        s = _mid_rank(x, None if own else ref)
    else:
        if crit.normalise == "minmax":
            centre, spread = ref.min(), ref.max() - ref.min()
        else:  # zscore, clipped at +-zscore_clip SD and mapped linearly to 0-1
            centre, spread = ref.mean(), ref.std()
        if spread == 0:
            s = np.full(len(x), 0.5)
            note = f"{crit.name} is constant in the reference data: every account gets the neutral 0.5."
        elif crit.normalise == "minmax":
            s = np.clip((x - centre) / spread, 0.0, 1.0)
        else:
            c = spec.zscore_clip
            s = (np.clip((x - centre) / spread, -c, c) + c) / (2 * c)
    s = np.where(np.isnan(x), np.nan, s)
    return (1.0 - s if crit.direction == "cost" else s), note


def criteria_matrix(
    features: pd.DataFrame, spec: ScoringSpec, reference: pd.DataFrame | None = None, fill_missing: bool = False
) -> pd.DataFrame:
    """Normalised criteria (0-1, 1 best), one column per criterion, indexed like ``features``.

    Normalisation parameters (min, max, mean, SD, percentile ranks) come from ``reference``
    (default: ``features`` itself), so a later snapshot can be scored on an earlier scale.
    Missing values stay NaN unless ``fill_missing`` (then the neutral value), which is what
    entropy, CRITIC and calibration want. Notes go to ``.attrs["notes"]``.
    """
    out, notes = {}, []
    for crit in spec.criteria:
        ref = None if reference is None else _numeric(reference, crit.column)
        values, note = _normalise_one(_numeric(features, crit.column), ref, crit, spec)
        out[crit.name] = values
        if note:
            notes.append(note)
    matrix = pd.DataFrame(out, index=features.index)
    if fill_missing:
        matrix = matrix.fillna(spec.neutral_value)
    matrix.attrs["notes"] = notes
    return matrix


def combine(
    matrix: pd.DataFrame, weights: pd.Series, missing: str = "neutral", neutral_value: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Score (0-100) and contributions (points, summing to the score) from a normalised matrix."""
    w = weights.reindex(matrix.columns).to_numpy(dtype=float)
    if np.isnan(w).any():
        raise ConfigError(f"No weight for criteria {list(matrix.columns[np.isnan(w)])}.")
    v = matrix.to_numpy(dtype=float)
    miss = np.isnan(v)
    if missing == "neutral":
        contrib = 100.0 * np.where(miss, neutral_value, v) * w
        return contrib.sum(axis=1), contrib
    eff = np.where(miss, 0.0, w)
    total = eff.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = 100.0 * np.where(miss, 0.0, v) * eff / total
    score = contrib.sum(axis=1)
    score[total[:, 0] == 0] = np.nan  # nothing observed that carries weight: no score, not a 0
    return score, contrib


def score_accounts(
    features: pd.DataFrame,
    spec: ScoringSpec,
    weights: pd.Series | Mapping | None = None,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every account: ``score`` 0-100, ``contrib_<criterion>`` points, missing-value report.

    ``weights`` default to those in the config; any weights are validated against the criteria.
    Columns ``n_missing`` and ``missing_criteria`` list what was missing per account and
    ``missing_policy`` how it was handled; ``.attrs["notes"]`` holds notes on the whole run.
    """
    if weights is None:
        w = spec.config_weights()
    else:
        w = validate_weights(dict(weights), spec.names, spec.normalise_weights)[0]
    matrix = criteria_matrix(features, spec, reference)
    score, contrib = combine(matrix, w, spec.missing, spec.neutral_value)
    out = pd.DataFrame(contrib, index=features.index, columns=[CONTRIB + n for n in spec.names])
    out.insert(0, "score", score)
    miss = matrix.isna().to_numpy()
    out["n_missing"] = miss.sum(axis=1)
    out["missing_criteria"] = _missing_labels(miss, spec.names)
    out["missing_policy"] = spec.missing
    notes = list(matrix.attrs.get("notes", []))
    unscored = int(np.isnan(score).sum())
    if unscored:
        notes.append(f"{unscored} accounts have every weighted criterion missing and get no score.")
    out.attrs["notes"] = notes
    out.attrs["weights"] = w.to_dict()
    return out


def _missing_labels(miss: np.ndarray, names: list[str]) -> np.ndarray:
    """ "a;b" per row naming the missing criteria; one string per distinct pattern, not per row."""
    pattern = miss @ (1 << np.arange(miss.shape[1], dtype=np.int64)) if miss.size else np.zeros(len(miss), int)
    distinct, inverse = np.unique(pattern, return_inverse=True)
    text = np.array([";".join(n for j, n in enumerate(names) if p >> j & 1) for p in distinct], dtype=object)
    return text[inverse]


def missing_report(scored: pd.DataFrame, spec: ScoringSpec, dropped=()) -> pd.DataFrame:
    """Per criterion: how many accounts missed it and what the policy did with them (``dropped``:
    criteria left out of the score for being missing for most accounts)."""
    counts = {
        n: int(scored["missing_criteria"].str.contains(rf"(?:^|;){n}(?:;|$)", regex=True).sum()) for n in spec.names
    }
    action = (
        f"counted at the neutral value {spec.neutral_value}"
        if spec.missing == "neutral"
        else "left out; the other weights rescaled to sum to 1"
    )
    frame = pd.DataFrame({"criterion": list(counts), "n_missing": list(counts.values())})
    frame["share_missing"] = frame["n_missing"] / max(len(scored), 1)
    frame["policy"] = spec.missing
    frame["what_happened"] = np.where(frame["n_missing"] > 0, action, "")
    frame["dropped"] = frame["criterion"].isin(list(dropped))
    frame.loc[frame["dropped"], "what_happened"] = "left out of the score: missing for most accounts"
    return frame


def contributions(scored: pd.DataFrame) -> pd.DataFrame:
    """The ``contrib_`` columns renamed to criterion names (for explaining a score)."""
    cols = [c for c in scored.columns if c.startswith(CONTRIB)]
    return scored[cols].rename(columns=lambda c: c[len(CONTRIB) :])


def sparse_criteria(features: pd.DataFrame, spec: ScoringSpec, max_missing_share: float) -> dict[str, float]:
    """Criteria missing for more than ``max_missing_share`` of the accounts, with their missing share.

    They are left out of the score (weight 0, the others rescaled in proportion: ``without``), never
    fatal: a column filled for a minority of the book would otherwise rank that minority against
    a neutral value for everyone else. Below the share, the missing-value policy applies per account.
    """
    shares = {
        c.name: float(np.isnan(_numeric(features, c.column)).mean()) if len(features) else 1.0 for c in spec.criteria
    }
    return {name: share for name, share in shares.items() if share > max_missing_share}


def without(weights: pd.Series, dropped) -> pd.Series:
    """``weights`` with the ``dropped`` criteria at 0 and the others rescaled to sum to 1."""
    out = weights.astype(float).copy()
    out[out.index.isin(list(dropped))] = 0.0
    total = out.sum()
    if total <= 0:
        raise InsufficientDataError(
            f"Every weighted criterion is missing for most accounts ({sorted(dropped)}): there is nothing to "
            "score on. Add the tables that feed them, or choose criteria this book measures."
        )
    return out / total


def sparse_notes(dropped: dict[str, float], max_missing_share: float, what: str = "the score") -> list[str]:
    return [
        f"{name} left out of {what}: missing for {share:.0%} of accounts (more than the {max_missing_share:.0%} "
        f"allowed); the other weights were rescaled in proportion."
        for name, share in dropped.items()
    ]


def current_customers(features: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(current, lapsed) flags per account at the snapshot's as-of date.

    Current: a contract covers the as-of date, or (an order-only customer, no contract revenue in
    the last 12 months) it bought in the last 12 months. Lapsed: it had contract revenue in the last
    12 months but no contract covers the as-of date any more: a former customer, whatever it still
    orders. Tiers, playbooks and early warnings are for current customers only.
    """
    missing = [c for c in ("is_active", "revenue_12m") if c not in features.columns]
    if missing:
        raise DataContractError(f"Features lack {missing}; build them with analysis.data.features.build_features.")
    active = features["is_active"].fillna(False).astype(bool)
    revenue = pd.to_numeric(features["revenue_12m"]).fillna(0.0)
    contract = pd.to_numeric(features.get("contract_revenue_12m", pd.Series(0.0, index=features.index))).fillna(0.0)
    lapsed = ~active & (contract > 0)
    current = active | (~lapsed & (revenue > 0))
    return current, lapsed


def scoring_population(features: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Current customers (see ``current_customers``); returns the rows and a sentence saying how
    many accounts were left out and why."""
    current, lapsed = current_customers(features)
    note = (
        f"{int(current.sum())} current customers scored (a contract covering the as-of date, or order-only "
        f"customers who bought in the last 12 months); {int(lapsed.sum())} lapsed accounts (a contract in the "
        f"last 12 months, none now) and {int((~current & ~lapsed).sum())} former or dormant accounts left out."
    )
    return features[current], note
