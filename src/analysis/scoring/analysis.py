"""The scoring step of a run in one call: :func:`analyse` (what notebook 03 shows and writes).

Every weighting side by side, the back-test of each one a year before the as-of date (with a
verdict against chance and against the baseline weighting), tiers cut with the chosen weighting,
tier sizes, stability to a 5-point change of one weight, health (with a check that its bands tell
accounts apart) and early warnings, renewal per health band, tier migration from one year earlier,
the assembly of ``scored_accounts`` and the separate list of lapsed accounts. Tiers, playbooks and
early warnings are for current customers only (``analysis.scoring.score.current_customers``).
Criteria missing for most accounts are left out with a note (``scoring.max_missing_share``).
Every setting comes from ``params.scoring`` (and the renewal lead time and margin from
``params.features``); the dates are ``datetime.date`` throughout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.core.inputs import RunInputs
from analysis.core.problems import note, problem, problems_frame
from analysis.data.asof import require_date
from analysis.errors import ConfigError
from analysis.params import Params, TierSchemeParams
from analysis.scoring.backtest import (
    YEAR,
    Backtest,
    backtest,
    calibration_set,
    group_rates,
    score_weightings,
    tier_stability,
    weightings,
)
from analysis.scoring.health import (
    alerts_per_account,
    band_note,
    early_warnings,
    health_bands,
    health_distribution,
    health_score,
    warning_coverage,
)
from analysis.scoring.score import (
    ScoringSpec,
    criteria_matrix,
    current_customers,
    missing_report,
    score_accounts,
    scoring_population,
    sparse_criteria,
    sparse_notes,
)
from analysis.scoring.tiers import Migration, assign_tiers, join_optional, migration, predictor_from, tier_summary
from analysis.scoring.weights import WeightResult, describe, weights_table, write_weights_yaml

WEIGHTS_YAML = "scoring_weights.yaml"
ACCOUNT_COLUMNS = ["revenue_12m", "margin_12m", "arr", "next_renewal_date"]


@dataclass
class ScoringAnalysis:
    """Everything the scoring step computed; :meth:`tables` gives the run tables by catalog name."""

    as_of: dt.date
    backtest_as_of: dt.date
    previous_as_of: dt.date
    window_complete: bool  # the 12 months after the back-test date lie inside the data
    method: str  # the weighting that cut the tiers (scoring.weights.method)
    calibration_outcome: str
    language: str
    spec: ScoringSpec
    pyramid: TierSchemeParams
    features: pd.DataFrame  # the scored population at the as-of date (current customers)
    weightings: dict[str, WeightResult]
    skipped: dict[str, str]  # weighting -> why it could not be computed
    weight_table: pd.DataFrame
    backtest: Backtest
    backtest_skipped: dict[str, str]
    scored: pd.DataFrame  # score, contrib_*, missing-value report
    tiers: pd.DataFrame  # tier, abcd, abc, flags, playbook
    uses_clv: bool  # the potential flag used CLV from this run's clv_accounts
    tier_sizes: pd.DataFrame
    stability: pd.DataFrame
    health: pd.DataFrame  # health score, band and components now
    health_bands: pd.DataFrame  # accounts per band now, and whether a band holds (nearly) everyone or no one
    health_distribution: pd.DataFrame  # quantiles of the health score and its components, ranges used
    alerts: pd.DataFrame
    warning_coverage: pd.DataFrame
    health_band_renewal: pd.DataFrame
    migration: Migration
    tiers_previous: pd.DataFrame  # score, tiers and health band of each account at the previous snapshot
    scored_accounts: pd.DataFrame
    lapsed: pd.DataFrame  # former customers: a contract in the last 12 months, none now (no tier, no playbook)
    dropped: dict[str, str]  # criteria left out of the score (missing for most accounts) -> why
    problems: pd.DataFrame  # the problems_ frame: notes, skipped weightings, left-out rows

    @property
    def chosen(self) -> WeightResult:
        """The weighting that cut the tiers."""
        return self.weightings[self.method]

    def weights_used(self) -> pd.DataFrame:
        """One row per criterion: the weighting that cut this run's tiers and its weight."""
        w = self.chosen.weights
        return pd.DataFrame({"weighting": self.method, "criterion": list(w.index), "weight": w.to_numpy(dtype=float)})

    def describe_weightings(self) -> pd.DataFrame:
        """How each weighting was obtained, its notes, or why it was skipped."""
        return describe(self.weightings, self.skipped)

    def missing_report(self) -> pd.DataFrame:
        return missing_report(self.scored, self.spec, self.dropped)

    def other_tierings(self) -> pd.DataFrame:
        """Accounts and revenue per A/B/C/D tier and per Pareto ABC class."""
        revenue = self.features[["revenue_12m"]]
        return pd.concat(
            {
                "A/B/C/D": tier_summary(self.tiers["abcd"], revenue),
                "Pareto ABC": tier_summary(self.tiers["abc"], revenue),
            }
        )

    def describe(self) -> str:
        window = (
            "complete"
            if self.window_complete
            else "INCOMPLETE: fewer than 12 months of outcomes, read the back-test with care"
        )
        return (
            f"As-of date {self.as_of}; back-test as of {self.backtest_as_of} (12-month outcome window "
            f"{window}); previous snapshot {self.previous_as_of}.\nWeights used for tiers: {self.method}; "
            f"calibration outcome: {self.calibration_outcome}; language: {self.language}."
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run tables of the scoring step, by catalog name."""
        return {
            "scoring_weights": self.weight_table,
            "scoring_weights_used": self.weights_used(),
            "scoring_backtest": self.backtest.metrics,
            "scoring_backtest_tiers": self.backtest.per_tier,
            "scoring_backtest_differences": self.backtest.differences,
            "tier_sizes": self.tier_sizes,
            "scoring_stability": self.stability,
            "early_warnings": self.alerts,
            "early_warning_coverage": self.warning_coverage,
            "health_band_renewal": self.health_band_renewal,
            "health_bands": self.health_bands,
            "health_distribution": self.health_distribution,
            "tier_migration": self.migration.counts,
            "tier_moves": self.migration.moves,
            "tiers_previous": self.tiers_previous,
            "scored_accounts": self.scored_accounts,
            "lapsed_accounts": self.lapsed,
            "scoring_problems": self.problems,
        }

    def write_weights_yaml(self, run_dir: str | Path) -> Path:
        """``scoring_weights.yaml`` in the run folder: the chosen weights and how they were obtained."""
        return write_weights_yaml(self.chosen, Path(run_dir) / WEIGHTS_YAML)


def _dates(as_of: dt.date, extract_date: dt.date, backtest_as_of, previous_as_of) -> tuple[dt.date, dt.date, bool]:
    bt_date = as_of - YEAR if backtest_as_of is None else require_date(backtest_as_of, "backtest_as_of")
    prev_date = as_of - YEAR if previous_as_of is None else require_date(previous_as_of, "previous_as_of")
    if not bt_date < as_of:
        raise ConfigError(f"backtest_as_of ({bt_date}) must be before the as-of date ({as_of}).")
    complete = bt_date + YEAR <= extract_date + dt.timedelta(days=1)
    return bt_date, prev_date, complete


def _weight_problems(
    results: dict[str, WeightResult], skipped: dict[str, str], where: str = "", exclude=()
) -> list[dict]:
    """Notes of each weighting (those in ``exclude``, said once for the run, left out) and skipped ones."""
    said = set(exclude.values()) if isinstance(exclude, dict) else set()
    rows = [note(text, factor=f"{name}{where}") for name, r in results.items() for text in r.notes if text not in said]
    rows += [
        problem(
            f"{name}{where}", "skipped", "dropped", why, "fix the cause, or leave it out of scoring.weights.compare"
        )
        for name, why in skipped.items()
    ]
    return rows


def analyse(
    run: RunInputs, backtest_as_of: dt.date | None = None, previous_as_of: dt.date | None = None
) -> ScoringAnalysis:
    """Weights, back-test, tiers, stability, health, warnings, migration and ``scored_accounts``.

    ``backtest_as_of`` (scoring date of the back-test) and ``previous_as_of`` (the earlier
    snapshot of the tier migration) default to one year before the run's as-of date.
    """
    params: Params = run.params
    sc, book, seed, lang = params.scoring, run.book, params.seed, params.language
    outcome = sc.weights.calibration.outcome
    as_of = require_date(run.as_of)
    bt_date, prev_date, complete = _dates(as_of, book.extract_date, backtest_as_of, previous_as_of)
    spec, pyramid = ScoringSpec.from_params(sc), sc.tiers.pyramid
    problems = [] if complete else [note(f"The 12 months after {bt_date} are not all in the data.", "(back-test)")]

    # Weights side by side, at the as-of date; criteria missing for most accounts are left out.
    snapshot = run.snapshot()
    feats, population_note = scoring_population(snapshot)
    dropped_shares = sparse_criteria(feats, spec, sc.max_missing_share)
    dropped = dict(zip(dropped_shares, sparse_notes(dropped_shares, sc.max_missing_share)))
    problems += [problem(name, "sparse", "dropped", why, "scoring.max_missing_share") for name, why in dropped.items()]
    cal_rows, cal_outcome = calibration_set(run, as_of, outcome)
    results, skipped = weightings(spec, sc.weights, feats, cal_rows, cal_outcome, seed, dropped=dropped)
    problems += [note(population_note, "(population)"), *_weight_problems(results, skipped, exclude=dropped)]

    # Back-test: the same weightings a year earlier, judged on what happened next.
    feats_bt, _ = scoring_population(run.features_at(bt_date))
    outcomes_bt = run.outcomes_at(bt_date)
    bt_rows, bt_outcome = calibration_set(run, bt_date, outcome)
    bt_results, bt_skipped = weightings(
        spec, sc.weights, feats_bt, bt_rows, bt_outcome, seed, strict=False, dropped=dropped
    )
    bt = backtest(
        score_weightings(feats_bt, spec, bt_results),
        outcomes_bt,
        pyramid,
        n_boot=sc.backtest.n_boot,
        seed=seed,
        top_share=sc.backtest.top_share,
        baseline=sc.backtest.baseline,
        min_group_decisions=sc.backtest.min_group_decisions,
    )
    bt.metrics.insert(1, "chosen", bt.metrics["weighting"].eq(sc.weights.method))
    problems += [note(text, "(back-test)") for text in bt.notes]
    problems += _weight_problems({}, bt_skipped, " (back-test)")
    problems += _wrong_way(bt.metrics)

    # Tiers with the chosen weights.
    chosen = results[sc.weights.method]
    scored = score_accounts(feats, spec, chosen.weights)
    clv_table = run.read("clv_accounts")
    clv = predictor_from(clv_table, "clv")
    tier_table = assign_tiers(scored, feats, sc.tiers, lang, predictor=clv)
    problems.append(
        note(
            "Potential flag uses "
            + (
                "CLV from this run's clv_accounts table."
                if clv is not None
                else "revenue growth: no CLV table in this run (run 02_clv first to use CLV)."
            ),
            "flag_potential",
        )
    )
    problems += [note(t, "(score)") for t in scored.attrs["notes"] if not any(t.startswith(f"{d}:") for d in dropped)]
    sizes = tier_summary(tier_table["tier"], feats[["revenue_12m", "margin_12m"]])
    sizes.insert(0, "label", sizes.index.map(pyramid.labels(lang)))
    kept = [n for n in spec.names if n not in dropped]
    stability = tier_stability(
        criteria_matrix(feats, spec)[kept],
        chosen.weights[kept],
        pyramid,
        delta=sc.backtest.stability_points / 100,
        missing=spec.missing,
        neutral_value=spec.neutral_value,
    )

    # Health and early warnings; renewal per health band over the back-test year.
    health_now = health_score(feats, sc.health, lang)
    alerts = early_warnings(feats, sc.warnings, lang)
    health_bt = health_score(feats_bt, sc.health, lang)
    band_renewal = group_rates(
        health_bt["health_band"],
        outcomes_bt["renewed_next"].reindex(health_bt.index),
        n_boot=sc.backtest.n_boot,
        seed=seed,
    )
    problems += [note(text, "(health)") for text in health_now.attrs.get("notes", [])]
    bands = health_bands(health_now, sc.health, lang)
    warning = band_note(bands, health_now)
    if warning:
        problems.append(problem("health bands", "bands_do_not_discriminate", "note", warning, "scoring.health.ranges"))

    # Tier migration from the previous snapshot, scored with the same weights on its own scale.
    feats_prev = feats_bt if prev_date == bt_date else scoring_population(run.features_at(prev_date))[0]
    scored_prev = score_accounts(feats_prev, spec, chosen.weights)
    tiers_prev = assign_tiers(scored_prev, feats_prev, sc.tiers, lang)
    mig = migration(scored_prev.join(tiers_prev), scored.join(tier_table), pyramid.codes)
    health_prev = health_bt if prev_date == bt_date else health_score(feats_prev, sc.health, lang)
    tiers_previous = (
        scored_prev[["score"]]
        .join(tiers_prev[["tier", "abcd"]])
        .join(health_prev[["health_score", "health_band"]])
        .assign(as_of=pd.Timestamp(prev_date))
    )

    # scored_accounts: one row per current customer (churn risk is joined by its readers).
    scored_accounts = scored.join(
        [tier_table, health_now, alerts_per_account(alerts, feats.index), feats[ACCOUNT_COLUMNS]]
    )
    scored_accounts, join_notes = join_optional(scored_accounts, {"clv_accounts": clv_table})
    problems += [note(text, "scored_accounts") for text in join_notes]
    lapsed = lapsed_accounts(run, snapshot, tiers_previous)

    return ScoringAnalysis(
        as_of=as_of,
        backtest_as_of=bt_date,
        previous_as_of=prev_date,
        window_complete=complete,
        method=sc.weights.method,
        calibration_outcome=outcome,
        language=lang,
        spec=spec,
        pyramid=pyramid,
        features=feats,
        weightings=results,
        skipped=skipped,
        weight_table=weights_table(results),
        backtest=bt,
        backtest_skipped=bt_skipped,
        scored=scored,
        tiers=tier_table,
        uses_clv=clv is not None,
        tier_sizes=sizes,
        stability=stability,
        health=health_now,
        health_bands=bands,
        health_distribution=health_distribution(feats, health_now),
        alerts=alerts,
        warning_coverage=warning_coverage(feats, sc.warnings),
        health_band_renewal=band_renewal,
        migration=mig,
        tiers_previous=tiers_previous,
        scored_accounts=scored_accounts,
        lapsed=lapsed,
        dropped=dropped,
        problems=problems_frame(problems),
    )


LAPSED_COLUMNS = ["lapsed_on", "days_since_lapse", "revenue_12m", "margin_12m", "tenure_days"]


def lapsed_accounts(run: RunInputs, snapshot: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Former customers (a contract in the last 12 months, none covering the as-of date): when they
    lapsed, their revenue of the last 12 months and the tier they had at the previous snapshot."""
    _, lapsed = current_customers(snapshot)
    rows = snapshot[lapsed]
    out = pd.DataFrame(index=rows.index)
    lifetimes = run.lifetimes(run.as_of) if len(rows) else pd.DataFrame(columns=["event", "end_or_censor"])
    gone = lifetimes[lifetimes["event"] == 1]["end_or_censor"]
    out["lapsed_on"] = pd.to_datetime(gone.reindex(out.index))
    out["days_since_lapse"] = (pd.Timestamp(run.as_of) - out["lapsed_on"]).dt.days
    for col in ("revenue_12m", "margin_12m", "tenure_days"):
        out[col] = rows[col]
    out["tier_previous"] = previous["tier"].astype(object).reindex(out.index)
    out.index.name = "account_id"
    return out.sort_values("revenue_12m", ascending=False, kind="stable")


def _wrong_way(metrics: pd.DataFrame) -> list[dict]:
    """A plain note when the chosen weighting's back-tested renewal AUC is below chance or clearly
    below the baseline weighting's."""
    rows = metrics[metrics["chosen"] & metrics["metric"].eq("renewal_auc")]
    flagged = rows[rows["verdict"].isin(["worse_than_chance", "worse_than_baseline"])]
    return [
        problem(
            r.weighting,
            r.verdict,
            "note",
            f"The weighting that cut the tiers does worse than "
            f"{'a random order' if r.verdict == 'worse_than_chance' else repr(r.baseline) + ' weights'} "
            f"at telling renewers from leavers: {r.sentence}",
            "a value score need not predict renewal; if the tiers should, compare the calibrated weighting",
        )
        for r in flagged.itertuples()
    ]
