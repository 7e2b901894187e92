"""The typed parameter model: every setting of every stage, validated once at the edge.

``config/params.yaml`` holds the value of every setting (it is the one place of defaults, with
the analysts' comments); this module holds their types and rules. :func:`load_params` merges
the shipped file, an analyst's ``--config`` file and ``--set`` overrides, and validates the
result against :class:`Params`. Every section refuses unknown keys, so a typo such as
``scoring.weights.methd`` stops the run before anything is written, naming the key, the allowed
keys and the closest match.

Modules and notebooks receive their typed section (``params.survival``, ``params.scoring``...)
and read attributes; none keeps defaults of its own or reads another stage's section. Values
that one section borrows from another (``clv.contract_margin`` null = the features' margin;
``report.at_risk_days`` null = the survival window) are resolved here, once.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.errors import ConfigError
from analysis.paths import DEFAULT_PARAMS

LANGUAGES = ("en", "zh")
WEIGHT_METHODS = ("expert", "equal", "ahp", "entropy", "critic", "calibrated", "blend")
SUM_TOLERANCE = 1e-6
# libyaml's loader when PyYAML was built with it (the wheels are): the same documents, read about
# ten times faster; each notebook of a run reads the shipped file and the run's copy.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Share = Annotated[float, Field(ge=0, le=1)]
OpenShare = Annotated[float, Field(gt=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Days = Annotated[int, Field(ge=1, le=36500)]
Method = Literal["expert", "equal", "ahp", "entropy", "critic", "calibrated", "blend"]
Language = Literal["en", "zh"]


class Section(BaseModel):
    """A section of the parameters: frozen, and unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    def updated(self, **changes: Any):
        """A validated copy with some settings changed (``model_copy`` would skip validation)."""
        data = deep_merge(self.model_dump(), changes)
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, type(self))) from None


def _sums_to_one(values, what: str) -> None:
    total = sum(values)
    if abs(total - 1) > SUM_TOLERANCE:
        raise ValueError(f"{what} must sum to 1, got {total:g} ({list(values)})")


# --- features --------------------------------------------------------------------------------


class FeaturesParams(Section):
    subscription_margin: Share  # gross margin on contract revenue (contracts carry no cost)
    renewal_lead_days: Days  # features of a renewal decision are taken this many days before the end
    # ... or this share of the contract's term when that is shorter (null: always renewal_lead_days)
    renewal_lead_share_of_term: Annotated[float, Field(gt=0, le=1)] | None


# --- validation ------------------------------------------------------------------------------


class ValidationParams(Section):
    """What the book must hold for the models (analysis.data.capacity); below ``min_accounts`` the
    run stops before any notebook, below another minimum that analysis gets a warning."""

    min_accounts: PositiveInt
    min_decisions: PositiveInt
    min_each_outcome: PositiveInt
    min_repeat_buyers: PositiveInt
    min_churned_accounts: PositiveInt


# --- engine ----------------------------------------------------------------------------------


class SparkParams(Section):
    master: str | None  # local[2], spark://host:7077, yarn, k8s://...; null: spark-submit / spark-defaults decide
    app_name: str
    database: str | None  # read every contract table found as <database>.<table> from the Spark catalog
    tables: dict[str, str]  # per-table catalog names ({usage: lake.product_usage}); the rest from the data folder
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"]
    configs: dict[str, str | int | float | bool]  # passed to SparkSession.builder.config


class EngineParams(Section):
    backend: Literal["duckdb", "spark"]  # where the book's aggregations run (analysis run --engine)
    spark: SparkParams


# --- scoring ---------------------------------------------------------------------------------


class CriterionParams(Section):
    column: str | None = None  # the feature column; None: the criterion's own name
    direction: Literal["benefit", "cost"]
    normalise: Literal["minmax", "percentile", "zscore", "range"]
    log: bool = False
    weight: Annotated[float, Field(ge=0)] | None = None
    bounds: tuple[float, float] | None = None
    label: str | None = None
    label_zh: str | None = None

    @model_validator(mode="after")
    def _range_needs_bounds(self):
        if self.normalise == "range":
            if self.bounds is None or not self.bounds[0] < self.bounds[1]:
                raise ValueError("normalise: range needs bounds: [low, high] with low < high")
            if self.log:
                raise ValueError("log and range do not mix; give bounds on the raw scale")
        return self

    def labels(self) -> dict[str, str]:
        return {lang: text for lang, text in (("en", self.label), ("zh", self.label_zh)) if text}


def _check_criteria_weights(criteria: dict[str, CriterionParams], normalise: bool, where: str) -> None:
    given = [c.weight for c in criteria.values() if c.weight is not None]
    if given and sum(given) <= 0:
        raise ValueError(f"{where}: all weights are zero; give at least one criterion a positive weight")
    if given and not normalise:
        _sums_to_one(given, f"{where} weights (or set normalise_weights: true)")


class AhpParams(Section):
    random_index: Literal["saaty_1980", "alonso_lamata_2006"]
    pairs: list[tuple[str, str, float | str]] | None = None  # [a, b, v]: a is v times as important as b
    matrix: list[list[float]] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.pairs is None) == (self.matrix is None):
            raise ValueError("give either pairs ([a, b, value] judgements) or a full matrix")
        return self


class CalibrationParams(Section):
    outcome: Literal["renewal", "margin"]
    n_boot: NonNegativeInt
    ci: OpenShare
    margin_transform: Literal["rank", "none"]
    l2: Annotated[float, Field(ge=0)]


class WeightsParams(Section):
    method: Method
    compare: list[Method]
    blend_mix: Share
    data_n_boot: NonNegativeInt
    ahp: AhpParams
    calibration: CalibrationParams


class ScoringBacktestParams(Section):
    n_boot: NonNegativeInt
    top_share: OpenShare
    stability_points: Annotated[float, Field(gt=0, lt=50)]
    baseline: Method
    min_group_decisions: PositiveInt  # a lift over fewer renewal decisions is "too few to judge"


class TierSchemeParams(Section):
    value: str
    shares: list[Annotated[float, Field(gt=0, le=1)]] | None = None
    codes: list[str]
    names: dict[Language, list[str]]
    method: Literal["quantiles", "thresholds"] = "quantiles"
    thresholds: list[float] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        n = len(self.codes)
        if n < 2 or len(set(self.codes)) != n:
            raise ValueError("codes must list at least two distinct tier codes, best first")
        for lang, labels in self.names.items():
            if len(labels) != n:
                raise ValueError(f"names.{lang} has {len(labels)} names for {n} tiers")
        if self.method == "quantiles" and self.shares is None:
            raise ValueError("method quantiles needs shares (one per tier, best first, summing to 1)")
        if self.shares is not None:
            if len(self.shares) != n:
                raise ValueError(f"shares has {len(self.shares)} values for {n} tiers")
            _sums_to_one(self.shares, "shares")
        if self.method == "thresholds":
            t = self.thresholds or []
            if len(t) != n - 1 or list(t) != sorted(t, reverse=True):
                raise ValueError(
                    f"thresholds must be {n - 1} descending score cut points (the lowest score of "
                    f"each tier but the last), got {t}"
                )
        return self

    def labels(self, language: str = "en") -> dict[str, str]:
        names = self.names.get(language) or self.names.get("en") or self.codes
        return dict(zip(self.codes, names, strict=True))


class ParetoParams(TierSchemeParams):
    shares: list[Annotated[float, Field(gt=0, le=1)]]


class PotentialFlagParams(Section):
    value: str
    predictor: str
    value_below_quantile: Share
    predictor_above_quantile: Share


class UnprofitableFlagParams(Section):
    margin: str
    cost_to_serve_fixed: Annotated[float, Field(ge=0)]
    cost_to_serve_per_ticket: Annotated[float, Field(ge=0)]
    late_days: Annotated[float, Field(ge=0)]
    late_share: Share


class FlagsParams(Section):
    potential: PotentialFlagParams
    unprofitable: UnprofitableFlagParams


class TiersParams(Section):
    pyramid: TierSchemeParams
    abcd: TierSchemeParams
    abc: ParetoParams
    flags: FlagsParams
    playbooks: dict[str, dict[Language, str]]

    @model_validator(mode="after")
    def _playbooks_name_pyramid_tiers(self):
        unknown = sorted(set(self.playbooks) - set(self.pyramid.codes))
        if unknown:
            raise ValueError(f"playbooks name tiers {unknown} that the pyramid does not have ({self.pyramid.codes})")
        return self


class BandParams(Section):
    code: str
    min: float
    en: str
    zh: str


class HealthParams(Section):
    missing: Literal["neutral", "renormalise"]
    neutral_value: Share
    zscore_clip: Annotated[float, Field(gt=0)]
    normalise_weights: bool
    max_missing_share: Share  # a component missing for more of the accounts is left out (weights rescaled)
    ranges: Literal["fixed", "book_quantiles"]  # range components: their bounds, or the book's quantiles
    quantile_range: tuple[Share, Share]  # with book_quantiles: the quantiles that become each range's ends
    band_max_share: OpenShare  # a band holding more of the accounts "holds nearly all"
    band_min_share: OpenShare  # a band holding fewer (but some) is "nearly empty"
    components: dict[str, CriterionParams] = Field(min_length=1)
    bands: list[BandParams] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self):
        _check_criteria_weights(self.components, self.normalise_weights, "health components")
        mins = [b.min for b in self.bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError(f"bands must go from best to worst with descending minimum scores, got {mins}")
        if not self.quantile_range[0] < self.quantile_range[1]:
            raise ValueError(f"quantile_range must be [low, high] with low < high, got {list(self.quantile_range)}")
        if self.band_min_share >= self.band_max_share:
            raise ValueError("band_min_share must be below band_max_share")
        return self


class WarningRuleParams(Section):
    rule: str
    column: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float
    severity: Literal["high", "medium", "low"]
    en: str
    zh: str


class ScoringParams(Section):
    missing: Literal["neutral", "renormalise"]
    neutral_value: Share
    zscore_clip: Annotated[float, Field(gt=0)]
    normalise_weights: bool
    max_missing_share: Share  # a criterion missing for more of the scored accounts is left out (weights rescaled)
    criteria: dict[str, CriterionParams] = Field(min_length=1)
    weights: WeightsParams
    backtest: ScoringBacktestParams
    tiers: TiersParams
    health: HealthParams
    warnings: list[WarningRuleParams]

    @model_validator(mode="after")
    def _consistent(self):
        _check_criteria_weights(self.criteria, self.normalise_weights, "criteria")
        if self.weights.ahp.pairs is not None:
            unknown = sorted({n for a, b, _ in self.weights.ahp.pairs for n in (a, b)} - set(self.criteria))
            if unknown:
                raise ValueError(f"weights.ahp.pairs name {unknown}, which are not criteria ({list(self.criteria)})")
        rules = [w.rule for w in self.warnings]
        if len(set(rules)) != len(rules):
            raise ValueError(f"warning rule names must be unique, got {rules}")
        return self

    def expert_weights(self) -> dict[str, float]:
        return {name: c.weight for name, c in self.criteria.items() if c.weight is not None}


# --- clv -------------------------------------------------------------------------------------


class ClvParams(Section):
    time_unit: Literal["days", "weeks", "months"]
    horizon_years: Annotated[float, Field(gt=0, le=50)]
    annual_discount_rate: Annotated[float, Field(ge=0, lt=1)]
    order_margin: Literal["observed"] | Share
    contract_margin: Share | None  # null = features.subscription_margin (resolved by Params)
    segment: str | None
    min_segment_churners: PositiveInt
    holdout_weeks: PositiveInt
    holdout_tolerance: OpenShare  # predicted / actual within this share of 1 reads "close"
    holdout_n_boot: PositiveInt  # bootstrap resamples of customers for the holdout ratio's interval
    holdout_min_customers: PositiveInt  # a group of fewer customers reads "unclear"
    misfit_alpha: OpenShare  # the sBG misfits when its check against retention by renewal number has p below this
    min_decisions_per_renewal: PositiveInt  # renewal numbers with fewer decisions are pooled with the later ones
    max_renewal_number: Annotated[int, Field(ge=2, le=120)]  # renewal numbers from this one on are pooled


# --- survival --------------------------------------------------------------------------------


class SurvivalParams(Section):
    cycle_days: PositiveInt | None
    horizons: list[PositiveInt] = Field(min_length=1)
    at_risk_window_days: Days
    backtest_days: Days
    numeric: list[str]
    categorical: list[str]
    reference_levels: dict[str, str]
    landmarks_per_term: Annotated[int, Field(ge=1, le=24)]
    lead_bins: Annotated[int, Field(ge=1, le=52)]
    effect_bands: list[OpenShare]
    max_landmark_rows: Annotated[int, Field(ge=1000)]
    ph_alpha: OpenShare
    ph_remedy: Literal["auto", "stratify", "none"]
    log_columns: list[str]
    clip_quantile: Annotated[float, Field(ge=0, lt=0.5)] | None
    min_events_per_covariate: Annotated[float, Field(ge=0)]
    min_events_per_cycle: NonNegativeInt
    min_at_risk: PositiveInt
    p_adjust: Literal["holm", "fdr_bh"]
    alpha: OpenShare
    standardize: bool
    penalizer: Annotated[float, Field(ge=0)]
    strata_bins: Annotated[int, Field(ge=2)]
    baseline: Literal["kalbfleisch-prentice", "breslow"]
    km_groups: list[str]
    top_risk_factors: NonNegativeInt

    @field_validator("horizons", "effect_bands")
    @classmethod
    def _increasing(cls, value, info):
        if value != sorted(set(value)):
            raise ValueError(f"{info.field_name} must be distinct and increasing")
        return value


# --- drivers ---------------------------------------------------------------------------------


class GbmParams(Section):
    max_iter: PositiveInt
    learning_rate: Annotated[float, Field(gt=0, le=1)]
    max_leaf_nodes: Annotated[int, Field(ge=2)]
    min_samples_leaf: PositiveInt
    early_stopping: bool


class FactorRolesParams(Section):
    """What a manager can do with a factor: a lever (an action), a symptom (a warning sign) or a
    trait (who the account is); a factor listed nowhere is a trait."""

    lever: list[str]
    symptom: list[str]
    trait: list[str]

    @model_validator(mode="after")
    def _one_role_each(self):
        roles = {"lever": self.lever, "symptom": self.symptom, "trait": self.trait}
        seen: dict[str, str] = {}
        for role, names in roles.items():
            for name in names:
                if name in seen:
                    raise ValueError(f"{name!r} is listed as both {seen[name]} and {role}; give it one role")
                seen[name] = role
        return self


class DriversParams(Section):
    factors: Literal["auto"] | list[str]
    exclude: list[str]
    categorical: list[str]
    reference_levels: dict[str, str]
    log1p: list[str]
    group_correlated: Annotated[float, Field(ge=0.5, lt=1)] | None
    labels: dict[str, str]
    max_missing_share: Share
    min_events_per_factor: Annotated[float, Field(ge=0, le=1000)]
    min_level_contracts: PositiveInt
    alpha: Annotated[float, Field(ge=1e-6, le=0.5)]
    penalty: Annotated[float, Field(ge=1e-6, le=1e6)]
    max_abs_coef: Annotated[float, Field(ge=1, le=50)]
    holdout_share: Annotated[float, Field(ge=0.05, le=0.5)]
    gbm: GbmParams
    threads: PositiveInt | None
    permutation_repeats: Annotated[int, Field(ge=1, le=100)]
    permutation_max_rows: PositiveInt
    pd_grid: Annotated[int, Field(ge=2, le=200)]
    pd_max_rows: PositiveInt
    pd_top: PositiveInt
    stability_by: list[str]
    stability_period: Literal["year", "half"] | None
    stability_factors: Literal["clear", "all"]
    n_reasons: Annotated[int, Field(ge=1, le=20)]
    reasons_from: Literal["confirmed", "clear"]
    factor_roles: FactorRolesParams
    confirm_min_importance: Annotated[float, Field(ge=0, le=1)]
    auc_margin: Annotated[float, Field(ge=0, le=0.5)]
    auc_n_boot: Annotated[int, Field(ge=20, le=100_000)]


# --- segments --------------------------------------------------------------------------------


class SegmentsParams(Section):
    active_only: bool
    features: list[str] | None  # None: every column of the frame except value_column
    log_features: list[str]
    categorical_features: list[str] | None  # None: text and category columns
    value_column: str
    algorithm: Literal["kmeans", "gmm"]
    k: PositiveInt | None
    k_range: tuple[Annotated[int, Field(ge=2)], Annotated[int, Field(ge=2)]]
    silhouette_sample: PositiveInt
    selection_sample: PositiveInt
    n_init: PositiveInt
    covariance_type: Literal["full", "tied", "diag", "spherical"]
    max_missing_share: Annotated[float, Field(gt=0, le=1)]
    drop_constant: bool
    k_bootstrap: NonNegativeInt  # resamples of the k-selection sample behind the stability of k (0: none)
    k_bootstrap_sample: Annotated[int, Field(ge=50)]  # accounts per resample
    k_close_margin: Share  # runner-up silhouette within this share of the chosen k's: a close choice
    k_stable_share: Share  # chosen k best in fewer of the resamples: a close choice
    top_tiers: list[str] = Field(min_length=1)
    rule_features: list[str]
    rule_max_depth: PositiveInt
    rule_min_leaf_share: OpenShare
    rule_min_precision: Share
    test_share: OpenShare
    high_value_min_top_share: Share
    n_candidates: PositiveInt
    n_gap_traits: PositiveInt

    @field_validator("k_range")
    @classmethod
    def _ordered(cls, value):
        if value[0] > value[1]:
            raise ValueError("k_range must be [low, high] with low <= high")
        return value


# --- report and pipeline ---------------------------------------------------------------------


class CurrencyParams(Section):
    code: str | None  # ISO code shown after compact money when there is no symbol ("331.4 M EUR")
    symbol: str | None  # shown before compact money ("€331.4 M"); both null: no currency shown


class TextParams(Section):
    """A text a manager reads, in both report languages."""

    en: str
    zh: str


class VerdictParams(Section):
    """Thresholds of every sentence of the report that reads a number (docs/report.md, "Verdicts")."""

    auc_useful: Annotated[float, Field(gt=0.5, lt=1)]  # AUC / concordance from which a ranking is useful
    auc_gap: Annotated[float, Field(gt=0, lt=0.5)]  # boosting minus logit AUC beyond which effects are not linear
    calibration_tolerance: Annotated[float, Field(gt=0, lt=1)]  # predicted / observed within 1 +- this
    calibration_gap_points: Annotated[float, Field(gt=0, lt=1)]  # largest decile gap (share) read as "small"
    rule_precision_good: Share  # held-out precision from which a top-tier rule is "reliable"
    warning_lift_trusted: Annotated[float, Field(gt=1)]  # churn of flagged / unflagged from which an alarm is trusted
    min_flagged: PositiveInt  # flagged accounts a year ago needed to judge a rule's record
    min_decisions: PositiveInt  # renewal decisions a segment needs before its renewal rate is singled out
    band_dominant_share: OpenShare  # one health band holding this share of accounts cannot discriminate


class LifecycleParams(Section):
    """Lifecycle stage of an existing customer (the seed's third segment dimension), first match wins."""

    onboarding_days: Days  # customer for fewer days than this: onboarding
    renewal_days: Days  # next renewal within this many days: renewal
    expansion_growth: float  # revenue growth (share) from which an account is expanding; otherwise adoption


class ReviewParams(Section):
    """Suggested action for a customer to review (unprofitable or chronically late)."""

    end_tiers: list[str]  # a loss in these pyramid tiers (without potential): end the relationship
    cost_to_serve_share: Share  # loss mostly cost to serve (tickets) when its share of the gap is above this


class ReportParams(Section):
    at_risk_days: Days | None  # null = survival.at_risk_window_days (resolved by Params)
    at_risk_threshold: Annotated[float, Field(gt=0, le=1)]
    n_at_risk: PositiveInt
    n_findings: PositiveInt
    n_moves: PositiveInt
    n_candidates: PositiveInt
    max_rows: PositiveInt  # rows of each searchable long table (the full lists are in the run's tables)
    print_rows: PositiveInt  # rows of each long table printed (PDF); the page keeps them all
    top_share: Annotated[float, Field(gt=0, le=1)]
    pareto_strong: Annotated[float, Field(gt=0, le=1)]
    lookback_days: Days  # early warnings are back-tested on the book this many days earlier
    currency: CurrencyParams
    verdicts: VerdictParams
    lifecycle: LifecycleParams
    review: ReviewParams
    warning_plays: dict[str, TextParams]  # pyramid tier -> what to do when an early warning fires
    retention_play: TextParams  # the at-risk health band's retention play
    review_actions: dict[Literal["reprice", "reduce_cost", "end"], TextParams]
    level_labels: dict[str, dict[str, TextParams]]  # column -> data level -> words (adds to analysis.report.labels)


class PipelineParams(Section):
    execution_timeout: Annotated[float, Field(gt=0)] | None  # seconds one cell may run; null: no limit
    start_timeout: Annotated[float, Field(gt=0)]  # seconds a kernel may take to start
    max_parallel_notebooks: PositiveInt  # notebooks that do not read each other's tables run side by side
    interrupt_grace: Annotated[float, Field(ge=0)]  # seconds an interrupted notebook gets before its kernel is killed
    blas_threads: PositiveInt | None  # OpenBLAS threads per notebook process (null: the library's default)
    preload_kernels: bool  # kernels forked from one process that imported the analysis stack once
    openmp_wait_policy: Literal["passive", "active"] | None  # OMP_WAIT_POLICY of the kernels (null: as inherited)
    notebooks: dict[str, dict[str, Any]]  # per-notebook parameters: {notebook: {parameter: value}}

    def cell_timeout(self) -> int | None:
        return None if self.execution_timeout is None else math.ceil(self.execution_timeout)  # nbclient: whole s


class Params(Section):
    """Every parameter of the pipeline (``config/params.yaml`` merged with the analyst's)."""

    seed: NonNegativeInt
    language: Language
    pipeline: PipelineParams
    engine: EngineParams
    features: FeaturesParams
    validation: ValidationParams
    scoring: ScoringParams
    clv: ClvParams
    survival: SurvivalParams
    drivers: DriversParams
    segments: SegmentsParams
    report: ReportParams

    @model_validator(mode="after")
    def _resolve_and_cross_check(self):
        # Values one section borrows from another are resolved here, once, so no consumer reads a
        # section that is not its own. (frozen: set through object.__setattr__ on fresh copies.)
        if self.clv.contract_margin is None:
            object.__setattr__(
                self, "clv", self.clv.model_copy(update={"contract_margin": self.features.subscription_margin})
            )
        if self.report.at_risk_days is None:
            object.__setattr__(
                self, "report", self.report.model_copy(update={"at_risk_days": self.survival.at_risk_window_days})
            )
        codes = self.scoring.tiers.pyramid.codes
        for key, named in (
            ("segments.top_tiers", self.segments.top_tiers),
            ("report.review.end_tiers", self.report.review.end_tiers),
            ("report.warning_plays", list(self.report.warning_plays)),
        ):
            unknown = sorted(set(named) - set(codes))
            if unknown:
                raise ValueError(f"{key} names {unknown}, which are not pyramid tiers ({codes})")
        return self


# --- loading ---------------------------------------------------------------------------------


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Config file {path} does not exist; pass an existing YAML file or omit --config.")
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file {path} is not UTF-8 text ({exc}); save it as UTF-8.") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of sections, not {type(loaded).__name__}.")
    return loaded


def parse_overrides(pairs: list[str] | None) -> dict:
    """``section.key=value`` pairs (``--set``) into a nested dict; values are parsed as YAML."""
    overrides: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects section.key=value, got {pair!r}.")
        dotted, raw = pair.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(
                f"--set {dotted}: the value {raw!r} is not valid YAML ({first}); quote text, "
                f"write lists as [a, b] and mappings as {{key: value}}."
            ) from None
        overrides = deep_merge(overrides, dotted_to_nested({dotted: value}))
    return overrides


def dotted_to_nested(values: dict[str, Any]) -> dict:
    """``{"scoring.weights.method": "entropy"}`` -> ``{"scoring": {"weights": {"method": "entropy"}}}``."""
    nested: dict = {}
    for dotted, value in (values or {}).items():
        parts = [p for p in str(dotted).split(".") if p]
        if not parts:
            raise ConfigError(f"Override key {dotted!r} is empty; use section.key.")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {dotted!r} goes below {part!r}, which is set to a value.")
        node[parts[-1]] = value
    return nested


def raw_params(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The merged parameters as plain data, before validation (shipped file, analyst file, overrides)."""
    merged = read_yaml(DEFAULT_PARAMS)
    if path is not None and Path(path).resolve() != DEFAULT_PARAMS.resolve():
        merged = deep_merge(merged, read_yaml(path))
    nested = dotted_to_nested({k: v for k, v in (overrides or {}).items() if "." in str(k)})
    plain = {k: v for k, v in (overrides or {}).items() if "." not in str(k)}
    return deep_merge(deep_merge(merged, plain), nested)


def load_params(path: str | Path | None = None, overrides: dict | None = None) -> Params:
    """Validated parameters: ``config/params.yaml``, then the analyst's file, then ``overrides``
    (nested, or dotted keys such as ``{"scoring.weights.method": "entropy"}``). Raises
    ConfigError listing every problem, each with its key and what is allowed."""
    return validate_params(raw_params(path, overrides))


def validate_params(data: dict) -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, Params)) from None


@functools.cache
def defaults() -> Params:
    """The shipped parameters (``config/params.yaml``), validated once per process."""
    return load_params()


# --- error messages --------------------------------------------------------------------------


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The section model that holds the key at ``loc`` (for 'allowed keys' in messages)."""
    current: Any = model
    for part in loc[:-1]:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list, tuple):
            args = typing.get_args(current)
            current = args[-1] if args else None
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside ``X | None`` or ``Annotated[X, ...]``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else (inner[0] if len(inner) == 1 else annotation)
            if not models and len(inner) != 1:
                return annotation
        else:
            return annotation


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_errors(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per key: the dotted key, what is wrong and what is allowed."""
    problems: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "-" in p)))  # union tags
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            owner = _model_at(model, loc)
            allowed = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            text = f"unknown key.{hint} Allowed keys here: {', '.join(allowed)}"
        elif err["type"] == "missing":
            text = "missing; add it (config/params.yaml lists every key with its value)"
        else:
            text = err["msg"].removeprefix("Value error, ")
            if not isinstance(err.get("input"), (dict, BaseModel)):
                text += f" (got {_shown(err.get('input'))})"
        problems.setdefault(key, [])
        if text not in problems[key]:
            problems[key].append(text)
    lines = [f"{key}: {'; or '.join(texts)}." for key, texts in problems.items()]
    if len(lines) == 1:
        return f"The parameters are not valid: {lines[0]}"
    return "The parameters are not valid:\n  - " + "\n  - ".join(lines)
