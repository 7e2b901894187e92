"""The high-value-traits step of a run in one call: ``analyse(run)`` clusters the current
customers (or assigns them to a saved model's clusters), profiles the clusters, describes the top
tier with rules and lists upgrade candidates, returning the run tables of notebook 06.

Tiers come from this run's ``scored_accounts`` (notebook 03 runs before 06). For an analyst whose
run has no scored tiers, the facade (and only the facade: it receives the whole run) cuts a
fallback pyramid on ``segments.value_column`` with the shares and codes of
``scoring.tiers.pyramid``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.core import problems as problems_
from analysis.core.inputs import RunInputs
from analysis.errors import ConfigError, InsufficientDataError
from analysis.params import SegmentsParams
from analysis.segments.candidates import high_value_clusters, upgrade_candidates
from analysis.segments.features import clustering_population
from analysis.segments.model import SegmentModel
from analysis.segments.profiles import (
    TRAILING_WINDOW_DAYS,
    cluster_differences,
    cluster_names,
    profile_clusters,
    top_differences,
    trailing_renewals,
)
from analysis.segments.rules import TraitRules
from analysis.segments.selection import choice_sentence
from analysis.segments.top_tier import present_columns, resolve_tiers, top_flag

N_DIFFERENCES = 8  # strongest differences per cluster written as segment_differences


@dataclass
class SegmentAnalysis:
    """What notebook 06 shows and writes. ``rules`` and ``candidates`` are None when the top tier
    could not be described (the reason is in ``problems``)."""

    params: SegmentsParams
    as_of: dt.date
    n_snapshot: int  # accounts in the as-of snapshot (``population`` is those clustered)
    population: pd.DataFrame
    model: SegmentModel
    model_note: str  # fitted here, or assigned to a saved model's clusters
    labels: pd.Series  # cluster per account of the population
    differences: pd.DataFrame  # every cluster x feature difference from the book
    names: pd.Series  # readable cluster names
    tiers: pd.Series | None
    tier_note: str  # where the tiers came from
    clv_note: str
    renewal_note: str
    profile: pd.DataFrame
    rule_columns: list[str]
    top: pd.Series | None  # top-tier flag the rules describe
    rules: TraitRules | None
    rule_table: pd.DataFrame | None
    high_value: list[int] | None
    candidates: pd.DataFrame | None
    segments: pd.DataFrame  # account_id, cluster, cluster_name
    runner_up: pd.DataFrame | None  # the runner-up k's clusters when the choice of k is close (else None)
    runner_up_labels: pd.Series | None  # cluster of each account under the runner-up k (None: not close)
    problems: pd.DataFrame  # analysis.core.problems frame

    @property
    def selection(self) -> pd.DataFrame | None:
        """The k-selection table of the model's fit (None when k was fixed)."""
        return self.model.selection_

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run tables of notebook 06 by catalog name (a table that could not be made is absent)."""
        out = {}
        if self.selection is not None:
            out["segment_k_selection"] = self.selection
        out["segment_differences"] = top_differences(self.differences, N_DIFFERENCES)
        out["segment_profiles"] = self.profile
        if self.rule_table is not None:
            out["segment_rules"] = self.rule_table
        if self.candidates is not None:
            out["upgrade_candidates"] = self.candidates
        out["segments"] = self.segments
        if self.runner_up is not None:
            out["segment_runner_up"] = self.runner_up
        out["segment_problems"] = self.problems
        return out


def run_tiers(run: RunInputs, value: pd.Series) -> tuple[pd.Series, str]:
    """Tiers of this run's ``scored_accounts``, else a fallback pyramid on ``value`` cut with the
    shares and codes of ``run.params.scoring.tiers.pyramid`` (and a sentence saying which)."""
    pyramid = run.params.scoring.tiers.pyramid
    return resolve_tiers(run.read("scored_accounts"), value, pyramid.shares, pyramid.codes)


def analyse(run: RunInputs, previous_model_dir: str | Path | None = None) -> SegmentAnalysis:
    """Clusters, profiles, top-tier rules and upgrade candidates of the run's as-of snapshot.

    ``previous_model_dir``: a saved model folder (``<run>/models/segments`` of an earlier run)
    whose clusters the customers are assigned to without refitting; None fits a new model.
    """
    section, seed = run.params.segments, run.params.seed
    snapshot = run.snapshot()
    population = clustering_population(snapshot, section.active_only)
    value = population[section.value_column]
    problems = []
    if previous_model_dir:
        model = SegmentModel.load(previous_model_dir)
        model_note = f"Assigned to the saved clusters of {previous_model_dir} (no refit)."
    else:
        model = SegmentModel.from_params(section, seed=seed).fit(population)
        model_note = f"Fitted {model.algorithm} with k = {model.k_} on {model.n_fit_:,} accounts."
    labels = model.predict(population)
    differences = cluster_differences(model, population, labels)
    names = cluster_names(differences)
    runner_up = runner_up_labels = None
    if model.selection_ is not None:
        sentence = choice_sentence(model.selection_, model.algorithm, section.k_close_margin, section.k_stable_share)
        close = bool(model.selection_["close"].iloc[0])
        problems.append(problems_.note(sentence, "number of clusters", "k_close" if close else "k_choice"))
        if close:
            runner_up, runner_up_labels = runner_up_clusters(model, population, labels, section, seed)

    try:
        tiers, tier_note = run_tiers(run, value)
    except InsufficientDataError as exc:
        tiers, tier_note = None, str(exc)
        problems.append(problems_.problem("tiers", "no_tiers", "fatal", tier_note))
    clv_table = run.read("clv_accounts")
    clv = clv_table.set_index("account_id")["clv"] if clv_table is not None and "clv" in clv_table else None
    clv_note = (
        "CLV share: from this run's clv_accounts table."
        if clv is not None
        else "CLV share: not shown, this run has no clv_accounts table (notebook 02)."
    )
    renewal_labels, renewals, renewal_note = trailing_renewals(
        run, model, run.as_of, section.active_only, TRAILING_WINDOW_DAYS
    )
    if renewals is None:
        problems.append(problems_.problem("renewal_rate", "no_history", "dropped", renewal_note))
    profile = profile_clusters(
        labels, value, clv, renewals, tiers, section.top_tiers, renewal_labels=renewal_labels
    ).join(names)

    rule_columns, absent = present_columns(population, section.rule_features)
    if absent:
        problems.append(
            problems_.problem(
                ", ".join(absent), "absent", "dropped", f"Rule features not in this data (left out): {absent}"
            )
        )
    shares = population[rule_columns].isna().mean()
    sparse = shares[shares > section.max_missing_share]
    if len(sparse):
        rule_columns = [c for c in rule_columns if c not in sparse.index]
        problems.append(
            problems_.problem(
                ", ".join(sparse.index),
                "sparse",
                "dropped",
                "Rule features missing for more than "
                f"{section.max_missing_share:.0%} of accounts left out: "
                + ", ".join(f"{c} ({v:.0%})" for c, v in sparse.items()),
                "segments.max_missing_share",
            )
        )
    top = rules = rule_table = high_value = candidates = None
    if tiers is not None:
        try:
            top = top_flag(tiers, section.top_tiers)
            rules = TraitRules.from_params(section, seed=seed).fit(population, top, rule_columns)
        except (InsufficientDataError, ConfigError) as exc:
            top, rules = None, None
            problems.append(
                problems_.problem("top-tier rules", "not_built", "fatal", f"Top-tier rules could not be built: {exc}")
            )
    if rules is not None:
        rule_table = rules.rules_.merge(rules.summary[["lower_95", "upper_95"]], left_on="rule_id", right_index=True)
    if top is None:
        problems.append(
            problems_.problem(
                "upgrade candidates",
                "not_listed",
                "fatal",
                "No upgrade candidates: the top tier could not be described.",
            )
        )
    else:
        high_value = high_value_clusters(labels, top, section.high_value_min_top_share)
        try:
            candidates = upgrade_candidates(
                population,
                tiers,
                top,
                model,
                rules,
                high_value,
                n=section.n_candidates,
                n_traits=section.n_gap_traits,
                min_top_share=section.high_value_min_top_share,
            ).join(names, on="cluster")
        except InsufficientDataError as exc:
            problems.append(problems_.problem("upgrade candidates", "not_listed", "fatal", str(exc)))

    return SegmentAnalysis(
        params=section,
        as_of=run.as_of,
        n_snapshot=len(snapshot),
        population=population,
        model=model,
        model_note=model_note,
        labels=labels,
        differences=differences,
        names=names,
        tiers=tiers,
        tier_note=tier_note,
        clv_note=clv_note,
        renewal_note=renewal_note,
        profile=profile,
        rule_columns=rule_columns,
        top=top,
        rules=rules,
        rule_table=rule_table,
        high_value=high_value,
        candidates=candidates,
        segments=labels.to_frame().join(names, on="cluster"),
        runner_up=runner_up,
        runner_up_labels=runner_up_labels,
        problems=problems_.concat(getattr(model, "problems_", None), problems_.problems_frame(problems)),
    )


def runner_up_clusters(
    model: SegmentModel, population: pd.DataFrame, labels: pd.Series, section: SegmentsParams, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """The clusters of the runner-up k (fitted with every other setting unchanged): size, share,
    mean value, name, and the chosen model's cluster holding most of each (with that share); and
    each account's cluster under it."""
    k = int(model.selection_.index[model.selection_["runner_up"]][0])
    alternative = SegmentModel.from_params(section.updated(k=k), seed=seed).fit(population)
    alt_labels = alternative.predict(population)
    names = cluster_names(cluster_differences(alternative, population, alt_labels))
    cross = pd.crosstab(alt_labels, labels)
    value = population[section.value_column]
    out = pd.DataFrame(
        {
            "k": k,
            "n_accounts": alt_labels.value_counts().sort_index(),
            "mean_value": value.groupby(alt_labels).mean(),
            "chosen_cluster": cross.idxmax(axis=1),
            "share_in_chosen_cluster": cross.max(axis=1) / cross.sum(axis=1),
        }
    )
    out["share_accounts"] = out["n_accounts"] / out["n_accounts"].sum()
    out.index.name = "cluster"
    return out.join(names).reset_index(), alt_labels
