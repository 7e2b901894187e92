"""Traits of the top tier: readable rules with held-out precision and coverage.

Rules come from a shallow scikit-learn decision tree; each leaf where most accounts are
top-tier becomes one rule such as ``industry = manufacturing AND employees > 200 AND
product_lines >= 3``. Thresholds are rounded for reading (exactly for whole-number columns,
3 significant digits otherwise), and precision and coverage are measured by applying the
*rounded* rule to held-out accounts, so the printed rule is the one the figures describe.
Missing numeric values are filled with the training medians before a rule is applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier
from statsmodels.stats.proportion import proportion_confint

from analysis.core.summary import summary_frame
from analysis.errors import ConfigError, DataContractError, InsufficientDataError, NotFittedError
from analysis.params import SegmentsParams
from analysis.segments.features import MISSING_LEVEL, as_float, is_numeric


@dataclass(frozen=True)
class Condition:
    """One readable test on one original column."""

    feature: str
    op: str  # one of "=", "!=", "in", "not in", "<=", ">", ">="
    value: object

    def mask(self, frame: pd.DataFrame, medians: dict[str, float]) -> pd.Series:
        col = frame[self.feature]
        if self.op in ("=", "!=", "in", "not in") and not isinstance(self.value, bool):
            levels = col.astype("object").map(lambda v: MISSING_LEVEL if pd.isna(v) else str(v))
            hit = levels.isin(self.value if self.op in ("in", "not in") else [self.value])
            return ~hit if self.op in ("!=", "not in") else hit
        x = as_float(col).fillna(medians.get(self.feature, np.nan))
        if isinstance(self.value, bool):
            return (x > 0.5) == self.value
        return {"<=": x <= self.value, ">": x > self.value, ">=": x >= self.value}[self.op]

    def text(self) -> str:
        if isinstance(self.value, bool):
            return self.feature if self.value else f"not {self.feature}"
        if self.op in ("in", "not in"):
            return f"{self.feature} {self.op} {{{', '.join(sorted(self.value))}}}"
        value = self.value if isinstance(self.value, str) else format_number(self.value)
        return f"{self.feature} {self.op} {value}"


def format_number(x: float) -> str:
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


@dataclass(frozen=True)
class Rule:
    conditions: tuple[Condition, ...]

    def mask(self, frame: pd.DataFrame, medians: dict[str, float]) -> pd.Series:
        out = pd.Series(True, index=frame.index)
        for cond in self.conditions:
            out &= cond.mask(frame, medians)
        return out

    def text(self) -> str:
        return " AND ".join(c.text() for c in self.conditions) or "all accounts"

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(c.feature for c in self.conditions))


class TraitRules:
    """Shallow decision tree turned into readable rules for top-tier membership.

    ``fit(features, is_top)`` splits accounts into training and held-out sets (stratified,
    seeded), grows the tree on the training accounts and reports, per rule, its precision
    (share of matching held-out accounts that are top-tier) and coverage (share of held-out
    top-tier accounts it matches).
    """

    def __init__(
        self,
        max_depth: int = 3,
        min_leaf_share: float = 0.02,
        min_precision: float = 0.5,
        test_share: float = 0.3,
        seed: int = 42,
    ):
        if not 1 <= max_depth <= 6:
            raise ConfigError("segments.rule_max_depth must be 1-6: deeper trees stop being readable rules.")
        if not 0 < test_share < 1:
            raise ConfigError("segments.test_share must lie strictly between 0 and 1.")
        self.max_depth, self.min_leaf_share, self.min_precision = max_depth, min_leaf_share, min_precision
        self.test_share, self.seed = test_share, seed

    @classmethod
    def from_params(cls, section: SegmentsParams, seed: int) -> TraitRules:
        """From the typed ``segments`` section (rule_max_depth, rule_min_leaf_share, ...) and the run's seed."""
        return cls(
            max_depth=section.rule_max_depth,
            min_leaf_share=section.rule_min_leaf_share,
            min_precision=section.rule_min_precision,
            test_share=section.test_share,
            seed=seed,
        )

    def fit(self, features: pd.DataFrame, is_top: pd.Series, columns: Sequence[str] | None = None) -> TraitRules:
        columns = list(columns) if columns else list(features.columns)
        absent = [c for c in columns if c not in features.columns]
        if absent:
            raise DataContractError(f"Rule features {absent} are not in the feature table; fix segments.rule_features.")
        is_top = is_top.dropna().astype(bool)
        frame = features.loc[features.index.intersection(is_top.index), columns].sort_index()
        y = is_top.reindex(frame.index)
        _check_classes(y, self.test_share)
        train_idx, test_idx = train_test_split(
            frame.index.to_numpy(), test_size=self.test_share, stratify=y.to_numpy(), random_state=self.seed
        )
        train, test = frame.loc[np.sort(train_idx)], frame.loc[np.sort(test_idx)]
        self.tree_train_index_ = train.index
        self.columns_ = columns
        self.categorical_ = [c for c in columns if not is_numeric(frame[c])]
        numeric = [c for c in columns if c not in self.categorical_]
        self.boolean_ = [c for c in numeric if pd.api.types.is_bool_dtype(frame[c])]
        self.medians_ = {c: float(as_float(train[c]).median()) for c in numeric}
        self.integer_ = [c for c in numeric if _is_whole(train[c])]
        X_train, self.encoded_ = self._encode(train, fit=True)
        self.tree_ = DecisionTreeClassifier(
            max_depth=self.max_depth,
            min_samples_leaf=max(5, math.ceil(self.min_leaf_share * len(train))),
            random_state=self.seed,
        ).fit(X_train, y.loc[train.index].to_numpy())
        self.base_rate_ = float(y.mean())
        self.rules_ = self._evaluate(self._leaf_rules(), train, y.loc[train.index], test, y.loc[test.index])
        return self

    # encoding --------------------------------------------------------------------------
    def _encode(self, frame: pd.DataFrame, fit: bool = False) -> tuple[np.ndarray, list[tuple]]:
        """Matrix for the tree and, per column, what it encodes: ("num", col) or ("cat", col, level)."""
        if fit:
            self.levels_ = {
                c: sorted(
                    frame[c].astype("object").map(lambda v: MISSING_LEVEL if pd.isna(v) else str(v)).unique().tolist()
                )
                for c in self.categorical_
            }
        blocks, encoded = [], []
        for c in self.columns_:
            if c in self.categorical_:
                levels = frame[c].astype("object").map(lambda v: MISSING_LEVEL if pd.isna(v) else str(v))
                for level in self.levels_[c]:
                    blocks.append((levels == level).to_numpy(dtype=float))
                    encoded.append(("cat", c, level))
            else:
                x = as_float(frame[c]).fillna(self.medians_[c])
                blocks.append(x.to_numpy())
                encoded.append(("num", c))
        return np.column_stack(blocks), encoded

    # rules from the tree ---------------------------------------------------------------
    def _leaf_rules(self) -> list[Rule]:
        tree = self.tree_.tree_
        top_class = list(self.tree_.classes_).index(True)

        def walk(node: int, path: list) -> tuple[bool, list[list]]:
            """(does every leaf below qualify, qualifying paths). A split whose two sides both
            qualify does not change the decision, so it is merged away (no 'noise_1 > x' tails)."""
            if tree.children_left[node] == -1:
                ok = tree.value[node][0][top_class] / tree.value[node][0].sum() >= self.min_precision
                return ok, [path] if ok else []
            feat, thr = tree.feature[node], tree.threshold[node]
            ok_left, left = walk(tree.children_left[node], path + [(feat, "<=", thr)])
            ok_right, right = walk(tree.children_right[node], path + [(feat, ">", thr)])
            return (True, [path]) if ok_left and ok_right else (False, left + right)

        rules = [self._simplify(path) for path in walk(0, [])[1]]
        if not rules:  # no leaf reaches min_precision: report the best one rather than nothing
            leaves = np.flatnonzero(tree.children_left == -1)
            best = leaves[np.argmax(tree.value[leaves, 0, top_class] / tree.value[leaves, 0].sum(axis=1))]
            rules.append(self._simplify(_path_to(tree, best)))
        return rules

    def _simplify(self, path: list[tuple[int, str, float]]) -> Rule:
        """Merge a leaf's path into at most two bounds per number and one test per category."""
        lower: dict[str, float] = {}
        upper: dict[str, float] = {}
        equal: dict[str, str] = {}
        unequal: dict[str, list[str]] = {}
        for feat, op, thr in path:
            enc = self.encoded_[feat]
            if enc[0] == "cat":
                _, col, level = enc
                if op == ">":
                    equal[col] = level
                else:
                    unequal.setdefault(col, []).append(level)
            elif op == ">":
                lower[enc[1]] = max(lower.get(enc[1], -np.inf), thr)
            else:
                upper[enc[1]] = min(upper.get(enc[1], np.inf), thr)
        conditions = []
        for col in self.columns_:
            if col in equal:
                conditions.append(Condition(col, "=", equal[col]))
            elif col in unequal:
                lv = tuple(sorted(unequal[col]))
                conditions.append(Condition(col, "!=", lv[0]) if len(lv) == 1 else Condition(col, "not in", lv))
            if col in lower:
                conditions.append(self._bound(col, ">", lower[col]))
            if col in upper:
                conditions.append(self._bound(col, "<=", upper[col]))
        return Rule(tuple(conditions))

    def _bound(self, col: str, op: str, thr: float) -> Condition:
        if col in self.boolean_:
            return Condition(col, "=", op == ">")
        if col in self.integer_:
            # Exact for whole numbers: x > 2.5 <=> x >= 3, x <= 2.5 <=> x <= 2.
            whole = float(math.floor(thr))
            return Condition(col, ">=", whole + 1) if op == ">" else Condition(col, "<=", whole)
        return Condition(col, op, float(f"{thr:.3g}"))

    # evaluation ------------------------------------------------------------------------
    def _evaluate(self, rules: list[Rule], train, y_train, test, y_test) -> pd.DataFrame:
        records = []
        for i, rule in enumerate(rules, start=1):
            m_train, m_test = rule.mask(train, self.medians_), rule.mask(test, self.medians_)
            n_test = int(m_test.sum())
            precision = float(y_test[m_test].mean()) if n_test else float("nan")
            coverage = float(m_test[y_test].mean())
            records.append(
                {
                    "rule_id": f"R{i}",
                    "rule": rule.text(),
                    "n_train": int(m_train.sum()),
                    "precision_train": float(y_train[m_train].mean()) if m_train.any() else float("nan"),
                    "n_test": n_test,
                    "top_test": int((m_test & y_test).sum()),
                    "precision_test": precision,
                    "coverage_test": coverage,
                    "lift_test": precision / float(y_test.mean()),
                    "sentence": (
                        f"{rule.text()}: {precision:.0%} are top-tier (held-out {n_test} accounts, "
                        f"book {y_test.mean():.0%}); covers {coverage:.0%} of the held-out top tier"
                    )
                    if n_test
                    else f"{rule.text()}: matches no held-out account",
                }
            )
        self.rule_objects_ = {f"R{i}": r for i, r in enumerate(rules, start=1)}
        any_rule = pd.concat([r.mask(test, self.medians_) for r in rules], axis=1).any(axis=1)
        self.overall_ = {
            "n_test": int(any_rule.sum()),
            "base_rate_test": float(y_test.mean()),
            "precision_test": float(y_test[any_rule].mean()) if any_rule.any() else float("nan"),
            "coverage_test": float(any_rule[y_test].mean()),
        }
        table = pd.DataFrame.from_records(records)
        return table.sort_values(["top_test", "precision_test"], ascending=False).reset_index(drop=True)

    # use -------------------------------------------------------------------------------
    def match(self, features: pd.DataFrame) -> pd.DataFrame:
        """Boolean frame: which rule each account matches (columns = rule ids)."""
        self._check_fitted()
        absent = [c for c in self.columns_ if c not in features.columns]
        if absent:
            raise DataContractError(f"Columns {absent} used by the rules are missing from this feature table.")
        return pd.DataFrame(
            {rid: r.mask(features, self.medians_) for rid, r in self.rule_objects_.items()}, index=features.index
        )

    def first_match(self, features: pd.DataFrame) -> pd.Series:
        """Id of the best-ranked rule each account matches (None when it matches none)."""
        hits = self.match(features)[list(self.rules_["rule_id"])]
        first = hits.idxmax(axis=1).where(hits.any(axis=1), None)
        return first.rename("matched_rule")

    @property
    def features_used_(self) -> list[str]:
        self._check_fitted()
        return list(dict.fromkeys(f for r in self.rule_objects_.values() for f in r.features))

    @property
    def summary(self) -> pd.DataFrame:
        """Held-out precision of each rule in the project summary shape.

        Interval: Wilson score (stays inside 0-1 and is not zero-width at 100%); ``z``/``p``: score
        test of precision = the held-out base rate, i.e. does the rule find top-tier accounts
        more often than picking at random.
        """
        self._check_fitted()
        t = self.rules_
        n = t["n_test"].to_numpy(dtype=float)
        hits = t["top_test"].to_numpy(dtype=float)
        prec = t["precision_test"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = proportion_confint(hits, n, alpha=0.05, method="wilson")
            se = np.sqrt(prec * (1 - prec) / n)
        frame = summary_frame(t["rule_id"], prec, se, lower=lo, upper=hi)
        p0 = self.overall_["base_rate_test"]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["z"] = (prec - p0) / np.sqrt(p0 * (1 - p0) / n)
        frame["p"] = 2 * stats.norm.sf(np.abs(frame["z"]))
        frame["sentence"] = t["sentence"].to_numpy()
        return frame

    def _check_fitted(self) -> None:
        if not hasattr(self, "rules_"):
            raise NotFittedError("TraitRules is not fitted; call fit(features, is_top) first.")


def _is_whole(col: pd.Series) -> bool:
    x = as_float(col).dropna()
    return bool(len(x)) and bool(np.all(np.isclose(x, np.round(x))))


def _path_to(tree, target: int) -> list[tuple[int, str, float]]:
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if node == target:
            return path
        if tree.children_left[node] != -1:
            feat, thr = tree.feature[node], tree.threshold[node]
            stack.append((tree.children_left[node], path + [(feat, "<=", thr)]))
            stack.append((tree.children_right[node], path + [(feat, ">", thr)]))
    raise AssertionError("leaf not found")


def _check_classes(y: pd.Series, test_share: float) -> None:
    n_top, n_other = int(y.sum()), int((~y).sum())
    if n_top == 0 or n_other == 0:
        raise InsufficientDataError("Every account is in the same tier group; rules need top-tier and other accounts.")
    # Each class needs a few accounts on both sides of the held-out split to measure anything.
    need = math.ceil(5 / min(test_share, 1 - test_share))
    if min(n_top, n_other) < need:
        raise InsufficientDataError(
            f"Only {n_top} top-tier and {n_other} other accounts: at least {need} of each are needed to grow rules "
            f"and measure them on held-out accounts; widen segments.top_tiers or use a larger book."
        )
