"""The catalog of run tables: every table a notebook writes into ``reports/<run-id>/tables/``.

One declaration per table (name, the notebook that writes it, the columns its readers rely on)
and one list of the tables each notebook reads. From these the runner derives the order of the
notebooks (a notebook runs after every notebook whose tables it reads) and which of them may run
side by side; reading a table that a later notebook writes is refused, in a test and at run time
(:class:`RunTables`). Table names in notebooks and modules are checked against this catalog, so a
typo is an error instead of an always-empty section.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analysis.errors import CatalogError

if TYPE_CHECKING:
    from analysis.params import Params


@dataclass(frozen=True)
class TableSpec:
    """One run table. Besides its columns, the values readers rely on (checked with pandera before
    the table is written: ``analysis.table_schemas``): ``keys`` have a value and are unique together;
    ``probabilities`` (and shares, rates) lie in [0, 1]; ``finite`` (money, scores) are not ±inf;
    ``levels`` pairs a column with the parameters' vocabulary its values come from (``tier``,
    ``abcd``, ...); every ruled column has a value except those in ``optional``."""

    name: str
    writer: str  # the notebook (file stem) that writes it
    columns: tuple[str, ...]  # columns every reader may rely on (a writer may add more)
    description: str = ""
    csv: bool = True  # False: an input of later notebooks only, written as Parquet alone
    keys: tuple[str, ...] = ()
    probabilities: tuple[str, ...] = ()
    finite: tuple[str, ...] = ()
    levels: tuple[tuple[str, str], ...] = ()  # (column, vocabulary)
    optional: tuple[str, ...] = ()

    def ruled_columns(self) -> list[str]:
        ruled = [*self.keys, *self.probabilities, *self.finite, *(column for column, _ in self.levels)]
        return list(dict.fromkeys(ruled))


def _t(
    name: str,
    writer: str,
    columns: str,
    description: str = "",
    *,
    csv: bool = True,
    keys: str = "",
    probabilities: str = "",
    finite: str = "",
    levels: str = "",
    optional: str = "",
) -> TableSpec:
    """A spec from space-separated names; ``levels`` items are ``column`` (its vocabulary has the
    column's name) or ``column=vocabulary``."""
    pairs = tuple(tuple(item.split("=", 1)) if "=" in item else (item, item) for item in levels.split())
    return TableSpec(
        name,
        writer,
        tuple(columns.split()),
        description,
        csv,
        keys=tuple(keys.split()),
        probabilities=tuple(probabilities.split()),
        finite=tuple(finite.split()),
        levels=pairs,
        optional=tuple(optional.split()),
    )


QUALITY, CLV, SCORING, CHURN, DRIVERS, TRAITS, REPORT = (
    "01_data_quality",
    "02_clv",
    "03_scoring_and_weights",
    "04_churn_survival",
    "05_renewal_drivers",
    "06_high_value_traits",
    "07_manager_report",
)
REPORT_PREFIX = "report_"  # tables of the report's sections, written by the report notebook only

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in [
        _t(
            "validation_problems",
            QUALITY,
            "table column check count message examples severity",
            "every problem the data-contract validation found (severity error) and every warning: probable "
            "re-exported duplicates, contradictory histories, what the book is too small for",
        ),
        _t(
            "data_capacity",
            QUALITY,
            "analysis notebook supported has needs",
            "per analysis: what it needs (validation section of the parameters) and what the book has",
        ),
        _t(
            "table_overview",
            QUALITY,
            "table present required rows accounts",
            "rows, accounts and dates per table",
            keys="table",
        ),
        _t(
            "missingness",
            QUALITY,
            "table column missing_share required",
            "share of empty cells per column",
            keys="table column",
            probabilities="missing_share",
        ),
        _t(
            "revenue_concentration",
            QUALITY,
            "top_accounts accounts value_share",
            "the 80/20 check on revenue",
            keys="top_accounts",
            probabilities="value_share",
        ),
        _t(
            "features_asof",
            QUALITY,
            "account_id as_of is_active arr revenue_12m margin_12m next_renewal_date tenure_days",
            "the as-of feature snapshot of every account, built once per run",
            keys="account_id",
            finite="arr revenue_12m margin_12m",
        ),
        _t(
            "features_year_before",
            QUALITY,
            "account_id as_of is_active arr revenue_12m margin_12m next_renewal_date tenure_days",
            "the feature snapshot a year before the as-of date (back-tests, tier migration, trailing renewals), "
            "built once per run",
            csv=False,
        ),
        _t(
            "outcomes_year_before",
            QUALITY,
            "account_id next_renewal_date renewed_next churned churn_date margin_next_12m duration_days",
            "what happened from a year before the as-of date on (the back-tests' outcomes), built once per run",
            csv=False,
        ),
        _t(
            "contract_features",
            QUALITY,
            "contract_id account_id end cutoff renewed",
            "every contract decided before the as-of date with its features renewal_lead_days before its end "
            "(renewal weights, churn and drivers models), built once per run",
            csv=False,
        ),
        _t(
            "clv_holdout_check",
            CLV,
            "repeat_purchases_calibration customers actual predicted ratio lower_95 upper_95 tolerance verdict "
            "sentence",
            "predicted vs actual holdout purchases; verdict close / over / under / unclear (row 'all': the book)",
        ),
        _t("clv_model_summary", CLV, "model factor estimate std_error lower_95 upper_95 sentence"),
        _t(
            "clv_retention_segments",
            CLV,
            "term_class segment term_months customers churners decisions renewal_rate_observed renewal_rate_lower_95 "
            "renewal_rate_upper_95 alpha beta retention_year1 retention_year5 fit_check fit_p trend model note",
            "retention per term class and segment: observed renewal rate, the sBG, its fit check and the model used",
            probabilities="renewal_rate_observed retention_year1 retention_year5 fit_p",
            optional="retention_year5 fit_p",  # no year-5 rate when year 4 retains none; no fit check for some models
        ),
        _t(
            "clv_retention_curves",
            CLV,
            "term_class segment period years retention_rate survival",
            probabilities="retention_rate survival",
        ),
        _t(
            "clv_retention_by_renewal",
            CLV,
            "term_class renewal decisions churns rate std_error lower_95 upper_95 sbg_rate",
            "observed retention per renewal number (the last row pools later renewals) next to the sBG's",
            keys="term_class renewal",
            probabilities="rate sbg_rate",
        ),
        _t("clv_concentration", CLV, "accounts clv_share", keys="accounts", probabilities="clv_share"),
        _t(
            "clv_by_tier",
            CLV,
            "clv_tier accounts clv_total clv_mean value_at_risk clv_share",
            keys="clv_tier",
            probabilities="clv_share",
            finite="clv_total clv_mean value_at_risk",
        ),
        _t(
            "clv_accounts",
            CLV,
            "account_id clv clv_orders clv_contracts value_at_risk",
            "CLV and value at risk per account",
            keys="account_id",
            finite="clv clv_orders clv_contracts value_at_risk",
        ),
        _t(
            "clv_problems",
            CLV,
            "factor problem severity detail action",
            "what the CLV step could not estimate, and why",
        ),
        _t(
            "scoring_weights",
            SCORING,
            "weighting factor estimate lower_95 upper_95 method sentence",
            "weights of every weighting method compared",
            keys="weighting factor",
        ),
        _t(
            "scoring_weights_used",
            SCORING,
            "weighting criterion weight",
            "the weighting that cut this run's tiers (what the report describes)",
            keys="weighting criterion",
            probabilities="weight",
        ),
        _t(
            "scoring_backtest",
            SCORING,
            "weighting chosen metric estimate lower_95 upper_95 n chance vs_chance baseline vs_baseline verdict "
            "sentence",
            "each weighting back-tested a year earlier; verdict against a random order and the baseline weighting",
            keys="weighting metric",
        ),
        _t(
            "scoring_backtest_tiers",
            SCORING,
            "weighting tier accounts renewal_rate",
            keys="weighting tier",
            levels="tier",
        ),
        _t("scoring_backtest_differences", SCORING, "weighting baseline metric difference lower_95 upper_95 better"),
        _t(
            "tier_sizes",
            SCORING,
            "tier label accounts share_accounts",
            keys="tier",
            probabilities="share_accounts",
            levels="tier",
        ),
        _t(
            "scoring_stability",
            SCORING,
            "criterion shift_points accounts_changed share_changed",
            probabilities="share_changed",
        ),
        _t("early_warnings", SCORING, "account_id rule label severity column value threshold", keys="account_id rule"),
        _t(
            "early_warning_coverage",
            SCORING,
            "rule condition fired not_evaluable accounts",
            "per rule: current customers it fired on, and those it could not be evaluated on (value missing)",
            keys="rule",
        ),
        _t(
            "health_band_renewal",
            SCORING,
            "health_band accounts rate lower_95 upper_95",
            keys="health_band",
            probabilities="rate lower_95 upper_95",
            levels="health_band",
            optional="rate lower_95 upper_95",  # an empty band has no rate
        ),
        _t(
            "health_bands",
            SCORING,
            "health_band label min_score max_score accounts share status discriminates ranges",
            "accounts per health band now; status holds_nearly_all / empty / nearly_empty / ok",
            keys="health_band",
            probabilities="share",
            levels="health_band",
        ),
        _t(
            "health_distribution",
            SCORING,
            "variable p00 p10 p25 p50 p75 p90 p100 missing_share range_low range_high range_source dropped",
            "where the book's health scores and components lie, and the range each component was scored on",
        ),
        _t("tier_migration", SCORING, "tier_before"),
        _t(
            "tier_moves",
            SCORING,
            "account_id tier_before tier_after direction score_before score_after moved_by",
            keys="account_id",
            levels="tier_before=tier tier_after=tier",
        ),
        _t(
            "tiers_previous",
            SCORING,
            "account_id as_of score tier abcd health_band",
            "each account's score, tiers and health band at the previous snapshot (as-of minus a year), "
            "with the same weights: for comparisons that must not condition on the future",
            keys="account_id",
            finite="score",
            levels="tier abcd health_band",
            optional="health_band",  # a book without health inputs has no health band
        ),
        _t(
            "scored_accounts",
            SCORING,
            "account_id score tier tier_label abcd abc flag_potential flag_unprofitable "
            "playbook health_score health_band n_alerts alerts revenue_12m margin_12m arr next_renewal_date",
            "score, tiers, flags, health and alerts of every current customer",
            keys="account_id",
            finite="score health_score revenue_12m margin_12m arr",
            levels="tier tier_label abcd abc health_band",
            optional="health_score health_band",  # a book without health inputs has no health score
        ),
        _t(
            "lapsed_accounts",
            SCORING,
            "account_id lapsed_on days_since_lapse revenue_12m margin_12m tier_previous",
            "former customers (a contract in the last 12 months, none now): no tier, playbook or alert",
            keys="account_id",
            finite="revenue_12m margin_12m",
            levels="tier_previous=tier",
            optional="tier_previous",  # no tier a year ago (not a customer then)
        ),
        _t(
            "scoring_problems",
            SCORING,
            "factor problem severity detail action",
            "what the scoring step left out, and why",
        ),
        _t("churn_km_by_group", CHURN, "grouping group accounts churned median_days"),
        _t("churn_hazard_ratios", CHURN, "factor estimate lower_95 upper_95 p p_adjusted hazard_ratio sentence"),
        _t("churn_model_comparison", CHURN, "factor"),
        _t("churn_model_evaluation", CHURN, "metric horizon_days value"),
        _t(
            "churn_calibration",
            CHURN,
            "decile accounts predicted observed",
            keys="decile",
            probabilities="predicted observed",
        ),
        _t(
            "churn_risk",
            CHURN,
            "account_id p_churn_before_renewal top_risk_factors",
            "churn risk per active account",
            keys="account_id",
            probabilities="p_churn_before_renewal",
        ),
        _t(
            "at_risk_renewals",
            CHURN,
            "contract_id account_id end product_line annual_value p_churn_before_renewal value_at_risk health_band",
            "renewals due in the window, ranked by value at risk",
            keys="contract_id",
            probabilities="p_churn_before_renewal",
            finite="annual_value value_at_risk",
            levels="health_band",
            optional="health_band",  # an account the scoring step left out (or a run without it)
        ),
        _t(
            "drivers",
            DRIVERS,
            "factor variable kind role status status_reason effect effect_unit lower_95 upper_95 p p_adjusted "
            "direction std_effect strength gbm_importance sign_flip rank sentence",
            "renewal drivers, one row per model term: confirmed first (regression and held-out check agree)",
            keys="factor",
            probabilities="p p_adjusted",
            optional="p p_adjusted",
        ),
        _t("drivers_model_check", DRIVERS, "metric value lower_95 upper_95 verdict"),
        _t("drivers_problems", DRIVERS, "factor problem severity detail action"),
        _t("drivers_agreement", DRIVERS, "factor logit_direction gbm_important verdict"),
        _t("drivers_stability", DRIVERS, "split segment factor estimate lower_95 upper_95 status"),
        _t(
            "renewal_reasons",
            DRIVERS,
            "account_id renewal_probability side rank factor role value typical level typical_level direction "
            "odds_multiplier renewal_change sentence",
            "per open account, its confirmed factors pushing renewal down and up",
            keys="account_id side rank",
            probabilities="renewal_probability",
        ),
        _t(
            "renewal_rates_by_term",
            DRIVERS,
            "term_class decided contracts left_out renewed renewal_rate lower_95 upper_95 share_of_contracts",
            "renewal rate per contract term class (monthly ... multi-year)",
            keys="term_class",
            probabilities="renewal_rate lower_95 upper_95 share_of_contracts",
        ),
        _t(
            "segment_k_selection",
            TRAITS,
            "k kmeans_silhouette gmm_bic bootstrap_share runner_up margin close",
            "the criteria per k, how often each k wins over bootstrap resamples, the runner-up and whether "
            "the choice is close",
            keys="k",
            probabilities="bootstrap_share",
        ),
        _t(
            "segment_runner_up",
            TRAITS,
            "cluster k n_accounts share_accounts mean_value chosen_cluster share_in_chosen_cluster cluster_name",
            "the runner-up k's clusters, written only when the choice of k is close",
            keys="cluster",
            probabilities="share_accounts share_in_chosen_cluster",
        ),
        _t("segment_differences", TRAITS, "cluster feature cluster_value book_value std_diff"),
        _t(
            "segment_profiles",
            TRAITS,
            "cluster n_accounts share_accounts cluster_name",
            keys="cluster",
            probabilities="share_accounts",
        ),
        _t(
            "segment_rules",
            TRAITS,
            "rule_id rule precision_test coverage_test sentence",
            keys="rule_id",
            probabilities="precision_test coverage_test",
        ),
        _t("upgrade_candidates", TRAITS, "account_id tier cluster reason", keys="account_id", levels="tier"),
        _t("segments", TRAITS, "account_id cluster cluster_name", keys="account_id"),
        _t("segment_problems", TRAITS, "factor problem severity detail action", "what the segments step left out"),
    ]
}

# What each notebook reads from the run (tables it writes are declared above). The report reads
# whatever earlier notebooks wrote; a table absent from a run makes its section "not available".
READS: dict[str, tuple[str, ...]] = {
    QUALITY: (),
    CLV: (),
    SCORING: ("features_asof", "features_year_before", "outcomes_year_before", "contract_features", "clv_accounts"),
    CHURN: (
        "features_asof",
        "features_year_before",
        "outcomes_year_before",
        "contract_features",
        "scored_accounts",
        "tiers_previous",
    ),
    DRIVERS: ("features_asof", "contract_features"),
    TRAITS: ("features_asof", "features_year_before", "scored_accounts", "clv_accounts"),
    REPORT: tuple(t for t in TABLES),
}
READS_IF_PRESENT = {REPORT}  # the report shows "not available" for a section whose notebook did not run


def writer_of(name: str) -> str:
    if name.startswith(REPORT_PREFIX):
        return REPORT
    try:
        return TABLES[name].writer
    except KeyError:
        raise CatalogError(
            f"Table {name!r} is not in the run-table catalog (analysis.catalog.TABLES); "
            f"declare it there with the notebook that writes it."
        ) from None


def writes(notebook: str) -> list[str]:
    return [t.name for t in TABLES.values() if t.writer == notebook]


def dependencies(notebooks: Iterable[str] | None = None) -> dict[str, set[str]]:
    """Notebook -> the notebooks whose tables it reads. A notebook the catalog does not know (an
    analyst's extra notebook) is taken to read everything written before it in file-name order."""
    names = sorted(notebooks) if notebooks is not None else sorted(READS)
    deps = {}
    for i, nb in enumerate(names):
        if nb not in READS:
            deps[nb] = set(names[:i])
            continue
        deps[nb] = {writer_of(t) for t in READS[nb]} - {nb}
        missing = sorted(d for d in deps[nb] if d not in names)
        if nb in READS_IF_PRESENT:
            deps[nb] -= set(missing)
        elif missing:
            raise CatalogError(f"{nb} reads tables written by {missing}, which is not among the notebooks run.")
    return deps


def run_order(notebooks: Iterable[str] | None = None) -> list[list[str]]:
    """The notebooks in waves: every notebook of a wave reads only tables of earlier waves, so the
    notebooks of one wave may run side by side. Within a wave, file-name order."""
    deps = dependencies(notebooks)
    done: set[str] = set()
    waves = []
    while len(done) < len(deps):
        wave = sorted(nb for nb, d in deps.items() if nb not in done and d <= done)
        if not wave:
            cycle = sorted(nb for nb in deps if nb not in done)
            raise CatalogError(f"The notebooks {cycle} read each other's tables (a cycle); no order can run them.")
        waves.append(wave)
        done |= set(wave)
    return waves


def sequence(notebooks: Iterable[str] | None = None) -> list[str]:
    """One notebook after another: the first by file name whose inputs are ready, each time (so a
    numbering that agrees with the data flow is kept as it is)."""
    deps = dependencies(notebooks)
    done: list[str] = []
    while len(done) < len(deps):
        ready = sorted(nb for nb, d in deps.items() if nb not in done and d <= set(done))
        if not ready:
            run_order(notebooks)  # raises, naming the cycle
        done.append(ready[0])
    return done


def upstream(notebook: str) -> set[str]:
    """Every notebook whose tables ``notebook`` may read, directly or through others."""
    deps, seen, todo = dependencies(), set(), [notebook]
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def check_columns(frame: pd.DataFrame, name: str) -> None:
    spec = TABLES.get(name)
    if spec is None:
        return
    present = set(frame.columns) | {n for n in frame.index.names if n}
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise CatalogError(
            f"Table {name!r} lacks the columns {missing} that the catalog promises its readers; "
            f"write them, or change analysis.catalog.TABLES and every reader."
        )


class RunTables:
    """The tables of one run as one notebook sees them, every read and write checked.

    ``notebook`` None is an analyst's session outside the runner: any declared table may be read.
    Reads return None when the table is absent (its writer has not run); the callers say so.
    """

    def __init__(
        self,
        run_dir: str | Path | None,
        notebook: str | None = None,
        previous_run_dir: str | Path | None = None,
        params: Params | None = None,  # the codes a ``levels`` rule allows (None: the shipped parameters)
    ):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.notebook = notebook
        self.previous_run_dir = Path(previous_run_dir) if previous_run_dir else None
        self.params = params
        self._cache: dict[tuple[str, str], pd.DataFrame | None] = {}

    def _check_read(self, name: str) -> None:
        writer = writer_of(name)
        if self.notebook is None or writer == self.notebook:
            return
        if name not in READS.get(self.notebook, ()):
            raise CatalogError(
                f"{self.notebook} reads table {name!r} (written by {writer}) but does not declare it "
                f"in analysis.catalog.READS; declare it so the runner orders the notebooks."
            )
        if writer not in upstream(self.notebook):
            raise CatalogError(f"{self.notebook} reads {name!r}, which {writer} writes later in the run.")

    def read(self, name: str) -> pd.DataFrame | None:
        """A table of this run (None when absent), checked against the catalog."""
        from analysis.data.io import read_table

        self._check_read(name)
        key = ("run", name)
        if key not in self._cache:
            self._cache[key] = read_table(self.run_dir, name)
        return self._cache[key]

    def previous(self, name: str) -> pd.DataFrame | None:
        """The same table from the previous successful run (None when there is none)."""
        from analysis.data.io import read_table

        writer_of(name)
        key = ("previous", name)
        if key not in self._cache:
            self._cache[key] = read_table(self.previous_run_dir, name)
        return self._cache[key]

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a table this notebook owns (Parquet and CSV), after checking its promised columns and
        their value rules (pandera, every broken rule at once); nothing is written when one fails."""
        from analysis.data.io import write_table
        from analysis.table_schemas import check_values

        writer = writer_of(name)
        if self.notebook is not None and writer != self.notebook:
            raise CatalogError(f"{self.notebook} writes {name!r}, which the catalog gives to {writer}.")
        check_columns(frame, name)
        if name in TABLES:
            check_values(frame, TABLES[name], self.params)
        if self.run_dir is None:
            raise CatalogError(f"No run folder to write {name!r} into; give the notebook a run_dir.")
        self._cache.pop(("run", name), None)
        spec = TABLES.get(name)
        if spec is not None and not spec.csv:  # read back by later notebooks only: no CSV copy
            path = self.run_dir / "tables" / f"{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            (frame.reset_index() if frame.index.name is not None else frame).to_parquet(path, index=False)
            return path
        return write_table(frame, self.run_dir, name)

    def written(self) -> list[str]:
        """Names of the tables present in the run folder."""
        folder = None if self.run_dir is None else self.run_dir / "tables"
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder and folder.exists() else []


def to_markdown() -> str:
    """The catalog as the table in docs/architecture.md (a test keeps the two equal)."""
    frame = describe()
    lines = ["| table | written by | read by | columns readers rely on | value rules |", "|---|---|---|---|---|"]
    lines += [
        f"| `{r['table']}` | {r['written by']} | {r['read by'] or '-'} | {r['columns readers rely on']} "
        f"| {r['value rules'] or '-'} |"
        for _, r in frame.iterrows()
    ]
    return "\n".join(lines) + "\n"


def describe() -> pd.DataFrame:
    """The catalog as a table (for docs/architecture.md and the analyst)."""
    from analysis.table_schemas import rules_text

    rows = [
        {
            "table": t.name,
            "written by": t.writer,
            "read by": ", ".join(
                [
                    *(nb for nb, reads in READS.items() if t.name in reads and nb != REPORT),
                    *(["the report (if present)"] if t.name in READS[REPORT] else []),
                ]
            ),
            "columns readers rely on": ", ".join(t.columns),
            "value rules": rules_text(t),
            "what": t.description,
        }
        for t in TABLES.values()
    ]
    return pd.DataFrame(rows)
