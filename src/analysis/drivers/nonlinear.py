"""Second opinion on the renewal drivers: gradient boosting on earlier contracts, judged on later ones.

``NonlinearCheck`` reports the held-out AUC of boosting and of the logit on the same split (and
their difference with an interval and a verdict code, ``holdout.compare_auc``), permutation
importance and partial dependence; ``compare_models`` says per factor where the boosting check and
the logit agree.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.core.problems import problems_frame
from analysis.drivers._base import DriversEstimator
from analysis.drivers.design import DESIGN_OPTIONS, DriverDesign
from analysis.drivers.holdout import compare_auc
from analysis.drivers.logit import RenewalDrivers, fit_logit
from analysis.drivers.outcome import ACCOUNT, END, OUTCOME, decided_contracts, outcome_problems
from analysis.errors import DataContractError, InsufficientDataError

AGREEMENT_COLUMNS = [
    "kind",
    "logit_rank",
    "logit_direction",
    "gbm_rank",
    "gbm_importance",
    "gbm_important",
    "gbm_shape",
    "verdict",
    "note",
]  # index: factor


class NonlinearCheck(DriversEstimator):
    """Gradient boosting fitted on earlier contracts and judged on later ones.

    ``holdout_auc_`` (and ``logit_holdout_auc_`` for the logit on the same split),
    ``auc_comparison_`` (their difference, its 95% interval by account bootstrap and the verdict
    code nonlinear / same / logit better), ``importance_`` (permutation importance: drop in
    held-out AUC when a factor is shuffled; ``important`` when it is at least
    ``confirm_min_importance``), ``partial_dependence_`` (average predicted renewal probability over
    a grid of each factor) and ``level_effects_`` (per category dummy: its partial dependence minus
    the reference level's).
    Options: the ``drivers`` section (``NonlinearCheck.from_params(params.drivers, seed=params.seed)``).
    """

    def __init__(
        self,
        *,
        factors: str | Sequence[str],
        categorical: Sequence[str],
        max_missing_share: float,
        min_level_contracts: int,
        penalty: float,
        max_abs_coef: float,
        holdout_share: float,
        gbm: Mapping,
        permutation_repeats: int,
        permutation_max_rows: int,
        pd_grid: int,
        pd_max_rows: int,
        confirm_min_importance: float,
        auc_margin: float,
        auc_n_boot: int,
        seed: int,
        threads: int | None = None,
        exclude: Sequence[str] = (),
        reference_levels: Mapping[str, str] | None = None,
        log1p: Sequence[str] = (),
        group_correlated: float | None = None,
    ):
        self.factors = factors
        self.categorical = categorical
        self.max_missing_share = max_missing_share
        self.min_level_contracts = min_level_contracts
        self.penalty = penalty
        self.max_abs_coef = max_abs_coef
        self.holdout_share = holdout_share
        self.gbm = gbm
        self.permutation_repeats = permutation_repeats
        self.permutation_max_rows = permutation_max_rows
        self.pd_grid = pd_grid
        self.pd_max_rows = pd_max_rows
        self.confirm_min_importance = confirm_min_importance
        self.auc_margin = auc_margin
        self.auc_n_boot = auc_n_boot
        self.seed = seed
        self.threads = threads
        self.exclude = exclude
        self.reference_levels = reference_levels
        self.log1p = log1p
        self.group_correlated = group_correlated

    def fit(self, contracts: pd.DataFrame, design: DriverDesign | None = None) -> NonlinearCheck:
        from threadpoolctl import threadpool_limits

        # Boosting's OpenMP threads spin-wait; on a shared 2-core machine two threads ran the
        # fit 10x and the many small predictions of permutation importance and partial
        # dependence 20x slower than one thread. drivers.threads = None restores the default.
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            return self._fit(contracts, design)

    def _fit(self, contracts: pd.DataFrame, design: DriverDesign | None) -> NonlinearCheck:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.inspection import permutation_importance
        from sklearn.metrics import roc_auc_score

        from analysis.drivers.tree_reuse import TreeReuse

        table, _ = decided_contracts(contracts)
        if END not in table.columns:
            raise DataContractError(f"The contract table lacks column '{END}', needed to hold out the later contracts.")
        y = table[OUTCOME]
        if outcome_problems(y):
            raise InsufficientDataError(outcome_problems(y)[0]["detail"])
        if design is None:
            design = DriverDesign(**{name: getattr(self, name) for name in DESIGN_OPTIONS}).fit(table, y)
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
            random_state=self.seed, categorical_features=is_cat if is_cat.any() else None, **dict(self.gbm)
        )
        gbm.fit(matrix[~h], yv[~h])
        self.model_ = gbm
        self.timings_ = {"gbm_fit": time.perf_counter() - clock}
        gbm_holdout = gbm.predict_proba(matrix[h])[:, 1]
        self.holdout_auc_ = float(roc_auc_score(yv[h], gbm_holdout))
        X = design.transform(table)
        logit = fit_logit(
            X[~hold],
            y[~hold],
            table.loc[~hold, ACCOUNT],
            penalty=self.penalty,
            max_abs_coef=self.max_abs_coef,
            force_penalty=(design.problems_["problem"] == "separation").any(),
        )
        eta = logit.params["const"] + X[hold].to_numpy() @ logit.params.drop("const").to_numpy()
        self.logit_holdout_auc_ = float(roc_auc_score(yv[h], eta))
        rng = np.random.default_rng(self.seed)
        rows = np.flatnonzero(h)
        if len(rows) > self.permutation_max_rows:
            rows = np.sort(rng.choice(rows, self.permutation_max_rows, replace=False))
        imp = permutation_importance(
            TreeReuse(gbm, matrix[rows]),
            matrix[rows],
            yv[rows],
            scoring="roc_auc",
            n_repeats=self.permutation_repeats,
            random_state=self.seed,
        )
        self.timings_["logit_refit_and_permutation"] = time.perf_counter() - clock - sum(self.timings_.values())
        self.auc_comparison_ = compare_auc(
            yv[h],
            gbm_holdout,
            eta,
            table.loc[hold, ACCOUNT].to_numpy(),
            margin=self.auc_margin,
            n_boot=self.auc_n_boot,
            seed=self.seed,
        )
        self.timings_["auc_bootstrap"] = time.perf_counter() - clock - sum(self.timings_.values())
        importance = pd.DataFrame(
            {"importance": imp.importances_mean, "importance_std": imp.importances_std},
            index=pd.Index(frame.columns, name="factor"),
        )
        # A stated threshold, not "mean - 2 SD > 0": the SD over a few permutation repeats measures
        # only the shuffling noise, and with 3-5 repeats it rejected strongly planted drivers.
        importance["important"] = importance["importance"] >= self.confirm_min_importance
        importance["gbm_rank"] = importance["importance"].rank(ascending=False, method="first").astype(int)
        self.importance_ = importance.sort_values("gbm_rank")
        sample = matrix[rng.choice(len(matrix), min(len(matrix), self.pd_max_rows), replace=False)]
        self.partial_dependence_ = self._partial_dependence(TreeReuse(gbm, sample), sample, frame, is_cat)
        self.pd_direction_ = pd.Series(
            {name: _pd_direction(curve) for name, curve in self.partial_dependence_.groupby("factor", sort=False)},
            dtype=object,
        )
        self.level_effects_ = _level_effects(self.partial_dependence_, design)
        self.timings_["partial_dependence"] = time.perf_counter() - clock - sum(self.timings_.values())
        self.problems_ = problems_frame()
        return self

    def _holdout(self, table: pd.DataFrame, y: pd.Series) -> pd.Series:
        """Contracts ending after the (1 - holdout_share) quantile of end dates: the later ones."""
        end = pd.to_datetime(table[END])
        cut = end.quantile(1 - self.holdout_share)
        hold = end > cut
        for name, part in (("held-out (later)", hold), ("training (earlier)", ~hold)):
            if y[part].nunique() < 2:
                what = "no rows" if not part.any() else "one outcome only"
                raise InsufficientDataError(
                    f"The {name} contracts have {what}; the time-ordered check needs both outcomes on each side. "
                    "Use a longer history or change drivers.holdout_share."
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
                grid_resolution=self.pd_grid,
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


def _level_effects(pdp: pd.DataFrame, design: DriverDesign) -> pd.Series:
    """Per category dummy (``column=level``): the boosting model's partial dependence at that level
    minus at the reference level (NaN when either level is not on the grid)."""
    effects = {}
    for factor in design.factors_.values():
        if factor.kind != "category":
            continue
        curve = pdp[pdp["factor"] == factor.name].set_index("level")["renewal_probability"]
        reference = curve.get(factor.levels[0], np.nan)
        for column in factor.columns:
            effects[column] = float(curve.get(factor.level_of(column), np.nan) - reference)
    return pd.Series(effects, dtype=float)


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


def empty_agreement() -> pd.DataFrame:
    return pd.DataFrame(columns=AGREEMENT_COLUMNS, index=pd.Index([], name="factor"))


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
