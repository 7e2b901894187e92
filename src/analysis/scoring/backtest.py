"""Back-testing weightings honestly: score at an earlier as-of date, measure what happened after.

For each weighting side by side: renewal AUC, Spearman rank correlation with next-12-month
margin, renewal rate and revenue per tier, lift of the renewal rate of the top tier (and of the
top 20% of scores, because every account of a 1% top tier often renews under any weighting), and
the share of future margin captured by the top 20% of scores, each with a bootstrap interval.
Resamples are shared across weightings (paired), so differences against a baseline get their
own intervals. Stability: how many accounts change tier when one weight moves by +-5 points.

All bootstrap statistics are computed for every resample at once on (resamples x accounts)
arrays: AUC from rank sums (Mann-Whitney, ties averaged), Spearman as the correlation of ranks,
group rates with ``np.bincount``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.core.inputs import RunInputs
from analysis.data.asof import require_date
from analysis.errors import ConfigError, DataContractError
from analysis.params import TierSchemeParams, WeightsParams
from analysis.scoring.score import ScoringSpec, combine, criteria_matrix
from analysis.scoring.tiers import tiers_for
from analysis.scoring.weights import compare_weightings, perturb

YEAR = dt.timedelta(days=365)

METRICS = {
    "renewal_auc": "Renewal AUC",
    "spearman_margin": "Spearman correlation with next-12-month margin",
    "top_tier_renewal_lift": "Renewal rate of the top tier / overall renewal rate",
    "top20_renewal_lift": "Renewal rate of the top 20% of scores / overall renewal rate",
    "top20_margin_share": "Share of next-12-month margin captured by the top 20% of scores",
}

DIFFERENCES = ["weighting", "baseline", "metric", "difference", "lower_95", "upper_95", "better"]
# What each metric would be for a score that knows nothing (random order): the line a weighting
# must clear. ``top20_margin_share`` is the top share itself (``top_share``).
CHANCE = {"renewal_auc": 0.5, "spearman_margin": 0.0, "top_tier_renewal_lift": 1.0, "top20_renewal_lift": 1.0}
VERDICTS = (
    "worse_than_chance",  # the whole interval is below chance: the score ranks the wrong way
    "worse_than_baseline",  # the paired interval of the difference from the baseline lies below 0
    "no_better_than_chance",  # the interval includes chance
    "better_than_chance",  # above chance, not clearly different from the baseline
    "better_than_baseline",  # above chance and the paired difference from the baseline lies above 0
    "too_few_to_judge",  # a lift over a group with too few renewal decisions to bootstrap
)


@dataclass
class Backtest:
    metrics: pd.DataFrame  # weighting, metric, estimate, lower_95, upper_95, n, sentence
    per_tier: pd.DataFrame  # weighting, tier, accounts, renewal rate and revenue with intervals
    differences: pd.DataFrame  # each weighting minus the baseline, paired bootstrap
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Metrics wide: one row per weighting, ``metric`` and ``metric (95% CI)`` columns."""
        m = self.metrics
        text = m.apply(lambda r: f"{r.estimate:.3f} ({r.lower_95:.3f}-{r.upper_95:.3f})", axis=1)
        return m.assign(text=text).pivot(index="weighting", columns="metric", values="text")


def _interval(draws: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1 - ci) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column keeps a NaN interval
        return np.nanquantile(draws, alpha, axis=0), np.nanquantile(draws, 1 - alpha, axis=0)


def resample_ranks(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values[idx], axis=-1)`` (ties averaged), computed from counts: every
    row of ``idx`` draws from the same ``values``, so one sort of the distinct values serves all
    rows and each row is ranked by a cumulative count instead of its own sort (the back-test
    ranks 200 resamples per weighting and metric; ~5x faster). Values holding NaN go to rankdata."""
    if idx.size == 0 or np.isnan(values).any():
        return stats.rankdata(values[idx], axis=-1)
    distinct, codes = np.unique(values, return_inverse=True)
    drawn = codes.reshape(-1)[idx]
    n_rows, n_distinct = idx.shape[0], len(distinct)
    offset = drawn + n_distinct * np.arange(n_rows)[:, None]
    counts = np.bincount(offset.ravel(), minlength=n_rows * n_distinct).reshape(n_rows, n_distinct)
    below = np.cumsum(counts, axis=1) - counts
    rank_of_value = below + (counts + 1) / 2
    return np.take_along_axis(rank_of_value, drawn, axis=1)


def _auc(ranks: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise AUC from the ``ranks`` of the scores for binary ``y`` (both resamples x n)."""
    pos = y.sum(axis=-1)
    neg = y.shape[-1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(axis=-1) - pos * (pos + 1) / 2) / (pos * neg)


def _spearman(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation from two arrays of ranks (changed in place)."""
    ra -= ra.mean(axis=-1, keepdims=True)
    rb -= rb.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=-1) / np.sqrt((ra**2).sum(axis=-1) * (rb**2).sum(axis=-1))


def _group_sums(groups: np.ndarray, values: np.ndarray, idx: np.ndarray, n_groups: int):
    """Per resample and group: sum of ``values`` and count (group code -1 = no group)."""
    g = groups[idx]
    v = values[idx]
    ok = g >= 0
    flat = (g + n_groups * np.arange(idx.shape[0])[:, None])[ok]
    size = idx.shape[0] * n_groups
    sums = np.bincount(flat, weights=v[ok], minlength=size).reshape(-1, n_groups)
    counts = np.bincount(flat, minlength=size).reshape(-1, n_groups)
    return sums, counts


def _with_full(idx: np.ndarray) -> np.ndarray:
    """Row 0: the sample itself (the point estimate); rows 1..B: the resamples."""
    return np.vstack([np.arange(idx.shape[1])[None, :], idx])


def _resamples(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    return _with_full(rng.integers(0, n, size=(n_boot, n)) if n else np.zeros((n_boot, 0), dtype=np.int64))


def group_rates(
    groups: pd.Series, outcome: pd.Series, n_boot: int = 200, seed: int = 0, ci: float = 0.95
) -> pd.DataFrame:
    """Mean of ``outcome`` (for example renewal 1/0) per group with a bootstrap interval.

    Rows with a missing outcome or group are left out and counted in ``.attrs["left_out"]``.
    """
    frame = pd.DataFrame({"g": groups, "y": outcome}).dropna()
    if isinstance(groups.dtype, pd.CategoricalDtype):
        cats = groups.cat.categories  # keeps the band order (healthy, watch, at risk) and empty bands
    else:
        cats = pd.Index(sorted(frame["g"].unique()))
    codes = pd.Categorical(frame["g"], categories=cats).codes
    idx = _resamples(np.random.default_rng(seed), len(frame), n_boot)
    sums, counts = _group_sums(codes, frame["y"].to_numpy(float), idx, len(cats))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = sums / counts
    lo, hi = _interval(rates[1:], ci)
    out = pd.DataFrame(
        {"accounts": counts[0], "rate": rates[0], "lower_95": lo, "upper_95": hi},
        index=pd.Index(cats, name=groups.name or "group"),
    )
    out.attrs["left_out"] = int(len(groups) - len(frame))
    return out


def backtest(
    scores: Mapping[str, pd.Series],
    outcomes: pd.DataFrame,
    scheme: TierSchemeParams,
    *,
    renewal: str = "renewed_next",
    margin: str = "margin_next_12m",
    revenue: str = "revenue_next_12m",
    top_share: float = 0.2,
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    baseline: str | None = None,
    min_group_decisions: int = 30,
) -> Backtest:
    """Compare weightings on what happened after the as-of date.

    ``scores``: weighting name -> score per account at the as-of date (index account_id).
    ``outcomes``: ``analysis.data.features.build_outcomes`` at the same as-of date. Tiers are cut
    with ``scheme`` on each weighting's scores; every interval comes from the same resamples.
    A lift whose group (the top tier, the top share of scores) holds fewer than
    ``min_group_decisions`` renewal decisions is not judged (verdict ``too_few_to_judge``): a
    bootstrap of a handful of accounts that all renewed shows no uncertainty at all.
    """
    missing = [c for c in (renewal, margin, revenue) if c not in outcomes.columns]
    if missing:
        raise DataContractError(
            f"Outcomes lack {missing}; pass analysis.data.features.build_outcomes(book, as_of, margin)."
        )
    names = list(scores)
    common = outcomes.index
    for s in scores.values():
        common = common.intersection(s.dropna().index)
    notes = (
        [f"{len(outcomes) - len(common)} accounts with outcomes but no score under every weighting were left out."]
        if len(common) < len(outcomes)
        else []
    )
    out = outcomes.loc[common]
    y, m, rev = (out[c].to_numpy(float) for c in (renewal, margin, revenue))
    lab_y, lab_m = ~np.isnan(y), ~np.isnan(m)
    notes.append(
        f"Renewal AUC and rates use the {int(lab_y.sum())} accounts with a renewal decision after the "
        f"as-of date; margin metrics use {int(lab_m.sum())} accounts."
    )
    if len(np.unique(y[lab_y])) < 2:
        notes.append("Every renewal decision after the as-of date had the same outcome: AUC and lift are undefined.")
    rng = np.random.default_rng(seed)
    idx_y = _resamples(rng, int(lab_y.sum()), n_boot)
    idx_m = _resamples(rng, int(lab_m.sum()), n_boot)
    idx_all = _resamples(rng, len(common), n_boot)
    draws, tiers_rows, group_sizes = {}, [], {}
    for name in names:
        s = scores[name].reindex(common).to_numpy(float)
        tier = tiers_for(scheme, scores[name]).reindex(common).cat.codes.to_numpy()
        top20 = s >= np.quantile(s, 1 - top_share)
        sy, yy, ty = s[lab_y], y[lab_y], tier[lab_y]
        rates_s, rates_n = _group_sums(ty, yy, idx_y, len(scheme.codes))
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = rates_s / rates_n
            overall = yy[idx_y].mean(axis=1) if len(yy) else np.full(len(idx_y), np.nan)
            mm = m[lab_m][idx_m]
            draws[name] = {
                "renewal_auc": _auc(resample_ranks(sy, idx_y), yy[idx_y]),
                "spearman_margin": _spearman(resample_ranks(s[lab_m], idx_m), resample_ranks(m[lab_m], idx_m)),
                "top_tier_renewal_lift": rates[:, 0] / overall,
                "top20_renewal_lift": (yy[idx_y] * top20[lab_y][idx_y]).sum(axis=1)
                / top20[lab_y][idx_y].sum(axis=1)
                / overall,
                "top20_margin_share": (mm * top20[lab_m][idx_m]).sum(axis=1) / mm.sum(axis=1),
            }
            rev_s, rev_n = _group_sums(tier, np.nan_to_num(rev), idx_all, len(scheme.codes))
            rev_share = rev_s / rev_s.sum(axis=1, keepdims=True)
            rev_mean = rev_s / rev_n  # an empty tier has no mean (NaN), not a warning
        tiers_rows.append(_tier_rows(name, scheme, rates, rates_n, rev_mean, rev_share, rev_n, ci))
        group_sizes[(name, "top_tier_renewal_lift")] = int(rates_n[0, 0])
        group_sizes[(name, "top20_renewal_lift")] = int(top20[lab_y].sum())
    metrics = _metric_rows(draws, ci, len_y=int(lab_y.sum()), len_m=int(lab_m.sum()))
    baseline = baseline or names[0]
    diffs = _differences(draws, baseline, ci) if len(names) > 1 else pd.DataFrame(columns=DIFFERENCES)
    metrics = with_verdicts(metrics, diffs, baseline, top_share)
    small = [
        group_sizes.get((w, m), min_group_decisions) < min_group_decisions
        for w, m in zip(metrics["weighting"], metrics["metric"])
    ]
    metrics.loc[small, ["vs_chance", "vs_baseline", "verdict"]] = ["not judged", "not judged", "too_few_to_judge"]
    metrics["sentence"] = [_verdict_sentence(r, baseline) for r in metrics.itertuples()]
    return Backtest(metrics, pd.concat(tiers_rows, ignore_index=True), diffs, notes)


def with_verdicts(metrics: pd.DataFrame, diffs: pd.DataFrame, baseline: str, top_share: float) -> pd.DataFrame:
    """Add to each (weighting, metric) row: ``chance`` (the value of a random order), ``vs_chance``
    and ``vs_baseline`` (better / no different / worse: the 95% interval excludes chance, or the
    paired interval of the difference from the baseline excludes 0) and the ``verdict`` (one of
    ``VERDICTS``), and say it in ``sentence``."""
    out = metrics.copy()
    out["chance"] = out["metric"].map({**CHANCE, "top20_margin_share": top_share})
    out["vs_chance"] = np.select(
        [out["lower_95"] > out["chance"], out["upper_95"] < out["chance"]], ["better", "worse"], "no different"
    )
    d = diffs.set_index(["weighting", "metric"]) if len(diffs) else pd.DataFrame(columns=["lower_95", "upper_95"])
    key = pd.MultiIndex.from_frame(out[["weighting", "metric"]])
    lo, hi = d["lower_95"].reindex(key).to_numpy(float), d["upper_95"].reindex(key).to_numpy(float)
    out["baseline"] = baseline
    out["vs_baseline"] = np.select(
        [out["weighting"].eq(baseline).to_numpy(), lo > 0, hi < 0], ["baseline", "better", "worse"], "no different"
    )
    out["verdict"] = np.select(
        [
            out["vs_chance"].eq("worse"),
            out["vs_baseline"].eq("worse"),
            out["vs_chance"].eq("no different"),
            out["vs_baseline"].eq("better"),
        ],
        ["worse_than_chance", "worse_than_baseline", "no_better_than_chance", "better_than_baseline"],
        "better_than_chance",
    )
    out["sentence"] = [_verdict_sentence(r, baseline) for r in out.itertuples()]
    return out


def _verdict_sentence(r, baseline: str) -> str:
    shown = f"{METRICS[r.metric]} under '{r.weighting}': {r.estimate:.3f} (95% CI {r.lower_95:.3f}-{r.upper_95:.3f})"
    reading = {
        "worse_than_chance": f"worse than a random order ({r.chance:g}): this score ranks the wrong way",
        "worse_than_baseline": f"clearly worse than the '{baseline}' weighting",
        "no_better_than_chance": f"not distinguishable from a random order ({r.chance:g})",
        "better_than_chance": f"better than a random order ({r.chance:g})"
        + ("" if r.vs_baseline == "baseline" else f", not clearly different from '{baseline}'"),
        "better_than_baseline": f"better than a random order and clearly better than '{baseline}'",
        "too_few_to_judge": "too few renewal decisions in that group to judge",
    }[r.verdict]
    return f"{shown}: {reading}."


def _tier_rows(name, scheme, rates, rates_n, rev_mean, rev_share, rev_n, ci) -> pd.DataFrame:
    (r_lo, r_hi), (m_lo, m_hi), (s_lo, s_hi) = (_interval(a[1:], ci) for a in (rates, rev_mean, rev_share))
    return pd.DataFrame(
        {
            "weighting": name,
            "tier": list(scheme.codes),
            "accounts": rev_n[0],
            "renewal_decisions": rates_n[0],
            "renewal_rate": rates[0],
            "renewal_lower_95": r_lo,
            "renewal_upper_95": r_hi,
            "revenue_next_12m_mean": rev_mean[0],
            "revenue_mean_lower_95": m_lo,
            "revenue_mean_upper_95": m_hi,
            "revenue_share": rev_share[0],
            "revenue_share_lower_95": s_lo,
            "revenue_share_upper_95": s_hi,
        }
    )


def _metric_rows(draws: dict, ci: float, len_y: int, len_m: int) -> pd.DataFrame:
    rows = []
    for name, by_metric in draws.items():
        for metric, d in by_metric.items():
            lo, hi = _interval(d[1:, None], ci)
            n = len_m if metric in ("spearman_margin", "top20_margin_share") else len_y
            rows.append(
                {
                    "weighting": name,
                    "metric": metric,
                    "estimate": d[0],
                    "lower_95": lo[0],
                    "upper_95": hi[0],
                    "n": n,
                    "sentence": f"{METRICS[metric]} under '{name}': {d[0]:.3f} (95% CI {lo[0]:.3f}-{hi[0]:.3f}).",
                }
            )
    return pd.DataFrame(rows)


def _differences(draws: dict, baseline: str, ci: float) -> pd.DataFrame:
    if baseline not in draws:
        raise DataContractError(f"Baseline weighting {baseline!r} is not among {list(draws)}.")
    rows = []
    for name, by_metric in draws.items():
        if name == baseline:
            continue
        for metric, d in by_metric.items():
            diff = d - draws[baseline][metric]
            lo, hi = _interval(diff[1:, None], ci)
            rows.append(
                {
                    "weighting": name,
                    "baseline": baseline,
                    "metric": metric,
                    "difference": diff[0],
                    "lower_95": lo[0],
                    "upper_95": hi[0],
                    "better": bool(lo[0] > 0) if np.isfinite(lo[0]) else False,
                }
            )
    return pd.DataFrame(rows)


def tier_stability(
    matrix: pd.DataFrame,
    weights: pd.Series,
    scheme: TierSchemeParams,
    delta: float = 0.05,
    missing: str = "neutral",
    neutral_value: float = 0.5,
) -> pd.DataFrame:
    """Accounts that change tier when each weight moves by +-``delta`` (others rescaled in proportion).

    ``matrix`` is the normalised criteria matrix (``analysis.scoring.criteria_matrix``).
    """

    def tiers(w):
        score, _ = combine(matrix, w, missing, neutral_value)
        return tiers_for(scheme, pd.Series(score, index=matrix.index)).cat.codes.to_numpy()

    base = tiers(weights)
    rows = []
    for criterion in weights.index:
        for sign in (1, -1):
            moved = perturb(weights, criterion, sign * delta)
            changed = int((tiers(moved) != base).sum())
            rows.append(
                {
                    "criterion": criterion,
                    "shift_points": sign * delta * 100,
                    "weight_before": weights[criterion],
                    "weight_after": moved[criterion],
                    "accounts_changed": changed,
                    "share_changed": changed / max(len(base), 1),
                }
            )
    return pd.DataFrame(rows)


# --- putting it together for a run ------------------------------------------------------------


def calibration_set(source: RunInputs, as_of: dt.date, outcome: str) -> tuple[pd.DataFrame, pd.Series]:
    """Rows and outcome to calibrate weights on, using only what was known before ``as_of``.

    ``renewal``: every contract decided before ``as_of``, features ``features.renewal_lead_days``
    before its end. ``margin``: accounts at ``as_of`` - 365 days and their margin over the following
    12 months. ``outcome`` is ``scoring.weights.calibration.outcome``; the tables come from
    ``source`` (built once per run).
    """
    if outcome not in ("renewal", "margin"):
        raise ConfigError(f"scoring.weights.calibration.outcome must be 'renewal' or 'margin', not {outcome!r}.")
    as_of = require_date(as_of)
    if outcome == "renewal":
        rows = source.contract_features(as_of)
        return rows, rows["renewed"].astype(float).rename("renewed")
    start = as_of - YEAR
    rows = source.features_at(start)
    result = source.outcomes_at(start)["margin_next_12m"]
    return rows, result.reindex(rows.index).rename("margin_next_12m")


def weightings(
    spec: ScoringSpec,
    params: WeightsParams,
    features: pd.DataFrame,
    calibration_rows: pd.DataFrame | None = None,
    outcome: pd.Series | None = None,
    seed: int = 0,
    strict: bool = True,
    dropped: Mapping[str, str] | None = None,
):
    """Every weighting ``params`` (``scoring.weights``) asks for, for the criteria of ``spec``
    (see ``weights.compare_weightings``; ``dropped`` criteria get weight 0 in each).

    Entropy and CRITIC see the book's normalised criteria; calibration rows are normalised on
    the book's scale too, so calibrated weights apply directly to the book's scores. Rows with
    an ``account_id`` column (contracts) are bootstrapped by account.
    """
    matrix = criteria_matrix(features, spec, fill_missing=True)
    calib = groups = None
    if calibration_rows is not None:
        calib = criteria_matrix(calibration_rows, spec, reference=features, fill_missing=True)
        groups = calibration_rows["account_id"] if "account_id" in calibration_rows.columns else None
    return compare_weightings(spec, params, matrix, calib, outcome, seed, strict, groups, dropped)


def score_weightings(features: pd.DataFrame, spec: ScoringSpec, results: Mapping) -> dict[str, pd.Series]:
    """The score of every account under each weighting (same normalisation, same missing policy)."""
    matrix = criteria_matrix(features, spec)
    return {
        name: pd.Series(
            combine(matrix, r.weights, spec.missing, spec.neutral_value)[0], index=features.index, name=name
        )
        for name, r in results.items()
    }
