"""Cleaning a contract table's metrics into renewal-driver factors (``DriverDesign``).

As the churn literature does: skewed counts logged (``log1p``), numeric metrics standardised
(estimates read "per +1 SD"), 0/1 factors kept as yes-vs-no, categories coded against a stated
reference, rare levels merged, constant, mostly-missing and collinear columns dropped, optionally
correlated metrics averaged into a group. Everything it could not use is a row of ``problems_``
with the reason. The cleaned factors are then encoded by the package's one
:class:`analysis.core.encoding.Encoder` (dummies named ``column=level``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.cluster import hierarchy

from analysis.core.encoding import LEVEL_SEP, Encoder
from analysis.core.problems import problem, problems_frame
from analysis.drivers._base import DriversEstimator
from analysis.drivers.outcome import ACCOUNT, END, OUTCOME
from analysis.errors import DataContractError

# The options of the design; the models that build one pass these on.
DESIGN_OPTIONS = (
    "factors",
    "exclude",
    "categorical",
    "reference_levels",
    "log1p",
    "group_correlated",
    "max_missing_share",
    "min_level_contracts",
)


@dataclass(frozen=True)
class Factor:
    """One factor of the model and how its raw column becomes design columns."""

    name: str
    kind: str  # "numeric", "binary", "category" or "group"
    log: bool = False
    fill: float = 0.0  # value used for a missing entry (median, raw scale)
    center: float = 0.0  # mean of the (logged) value in the fitting data
    scale: float = 1.0  # its standard deviation: numeric estimates are per +1 SD
    levels: tuple = ()  # categories: reference level first
    members: tuple = ()  # group: its member factors
    signs: tuple = ()  # group: +1/-1 so that members point the same way
    raw_mean: float = np.nan  # typical raw value (mean; share for 0/1 factors)

    @property
    def columns(self) -> list[str]:
        if self.kind == "category":
            return [f"{self.name}{LEVEL_SEP}{level}" for level in self.levels[1:]]
        return [self.name]

    def level_of(self, column: str) -> str:
        """The level a category dummy stands for (``size_band=mid-market`` -> ``mid-market``)."""
        return column[len(self.name) + len(LEVEL_SEP) :]


class DriverDesign(DriversEstimator):
    """Cleans the metrics of a contract table into a design matrix, and remembers how.

    ``fit(table, y)`` learns fills, logs, means, SDs, levels and groups from the fitting data;
    ``transform(table)`` applies them to any table with the same columns (for example today's
    features of open accounts); ``frame(table)`` gives the cleaned factors on their own scale
    (for gradient boosting and plots).
    """

    def __init__(
        self,
        *,
        factors: str | Sequence[str],
        categorical: Sequence[str],
        max_missing_share: float,
        min_level_contracts: int,
        exclude: Sequence[str] = (),
        reference_levels: Mapping[str, str] | None = None,
        log1p: Sequence[str] = (),
        group_correlated: float | None = None,
    ):
        self.factors = factors
        self.categorical = categorical
        self.max_missing_share = max_missing_share
        self.min_level_contracts = min_level_contracts
        self.exclude = exclude
        self.reference_levels = reference_levels
        self.log1p = log1p
        self.group_correlated = group_correlated

    # -- fitting
    def fit(self, table: pd.DataFrame, y: pd.Series) -> DriverDesign:
        problems: list[dict] = []
        numeric, categorical = self._select(table, problems)
        factors: list[Factor] = []
        for name in categorical:
            factors += self._fit_category(table[name], problems)
        for name in numeric:
            factors += self._fit_numeric(name, table[name], problems)
        factors = self._group(table, factors, problems)
        self.factors_ = {f.name: f for f in factors}
        self._fit_encoder(table)
        self._drop_collinear(table, problems)
        problems += separation_problems(self.transform(table), y, self)
        self.problems_ = problems_frame(problems)
        return self

    def _select(self, table: pd.DataFrame, problems: list[dict]) -> tuple[list[str], list[str]]:
        excluded = set(self.exclude) | {OUTCOME, ACCOUNT, END}
        categorical = [c for c in self.categorical if c not in excluded]
        if self.factors == "auto":
            candidates = [
                c
                for c in table.columns
                if c not in excluded
                and c not in categorical
                and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
            ]
        else:
            candidates = [c for c in self.factors if c not in categorical]
        for name in [*candidates, *categorical]:
            if name not in table.columns:
                problems.append(
                    problem(
                        name,
                        "absent",
                        "dropped",
                        "the column is not in the contract table",
                        "add the column to the data or remove it from drivers.factors",
                    )
                )
        numeric = [c for c in candidates if c in table.columns]
        for name in list(numeric):
            if not (pd.api.types.is_numeric_dtype(table[name]) or pd.api.types.is_bool_dtype(table[name])):
                problems.append(
                    problem(
                        name,
                        "not numeric",
                        "dropped",
                        f"dtype {table[name].dtype}",
                        "list it under drivers.categorical if it is a category",
                    )
                )
                numeric.remove(name)
        return numeric, [c for c in categorical if c in table.columns]

    def _fit_category(self, column: pd.Series, problems: list[dict]) -> list[Factor]:
        name, least = column.name, self.min_level_contracts
        values = column.astype("object").where(column.notna(), "missing").astype(str)
        counts = values.value_counts()
        rare = counts[counts < least]
        if len(rare) and len(counts) > 1:
            problems.append(
                problem(
                    name,
                    "rare levels",
                    "adjusted",
                    f"{len(rare)} level(s) with fewer than {least} contracts: {', '.join(map(str, rare.index[:5]))}",
                    "merged into 'other'",
                )
            )
            values = values.where(~values.isin(rare.index), "other")
            counts = values.value_counts()
        if len(counts) < 2:
            problems.append(
                problem(
                    name,
                    "one value",
                    "dropped",
                    f"every contract has {name} = {counts.index[0]}",
                    "nothing to compare; the factor is left out",
                )
            )
            return []
        wanted = (self.reference_levels or {}).get(name)
        reference = wanted if wanted in counts.index else counts.index[0]
        if wanted is not None and wanted not in counts.index:
            problems.append(
                problem(
                    name,
                    "reference absent",
                    "adjusted",
                    f"reference level {wanted!r} does not occur (or was merged)",
                    f"the most frequent level {reference!r} is the reference",
                )
            )
        levels = (reference, *sorted(lv for lv in counts.index if lv != reference))
        return [Factor(name, "category", levels=levels)]

    def _fit_numeric(self, name: str, column: pd.Series, problems: list[dict]) -> list[Factor]:
        x = pd.to_numeric(column.astype("float64"), errors="coerce")
        share = float(x.isna().mean())
        if share == 1:
            problems.append(
                problem(
                    name,
                    "no values",
                    "dropped",
                    "no contract has a value (is its source table, "
                    "e.g. usage, tickets, surveys or engagements, absent?)",
                    "left out",
                )
            )
            return []
        if share > self.max_missing_share:
            problems.append(
                problem(
                    name,
                    "mostly missing",
                    "dropped",
                    f"{share:.0%} of contracts have no value",
                    f"left out (drivers.max_missing_share = {self.max_missing_share})",
                )
            )
            return []
        fill = float(x.median()) if share else 0.0
        if share:
            problems.append(
                problem(
                    name,
                    "missing values",
                    "note",
                    f"{int(x.isna().sum())} contracts ({share:.1%}) have no value",
                    f"filled with the median {fill:.4g}",
                )
            )
        x = x.fillna(fill)
        distinct = x.unique()
        if len(distinct) < 2:
            problems.append(
                problem(
                    name,
                    "one value",
                    "dropped",
                    f"every contract has {name} = {distinct[0]:.4g}",
                    "nothing to compare; the factor is left out",
                )
            )
            return []
        if set(distinct) <= {0.0, 1.0}:
            minority = int(min((x == 1).sum(), (x == 0).sum()))
            if minority < self.min_level_contracts:
                problems.append(
                    problem(
                        name,
                        "tiny class",
                        "dropped",
                        f"only {minority} contracts in its rarer class",
                        f"left out (drivers.min_level_contracts = {self.min_level_contracts})",
                    )
                )
                return []
            return [Factor(name, "binary", fill=fill, center=float(x.mean()), raw_mean=float(x.mean()))]
        log = name in self.log1p
        if log and x.min() < 0:
            problems.append(
                problem(
                    name,
                    "negative values",
                    "adjusted",
                    f"minimum {x.min():.4g}",
                    "not logged (log1p needs values >= 0)",
                )
            )
            log = False
        t = np.log1p(x) if log else x
        center, scale = float(t.mean()), float(t.std())
        return [Factor(name, "numeric", log=log, fill=fill, center=center, scale=scale, raw_mean=float(x.mean()))]

    def _group(self, table: pd.DataFrame, factors: list[Factor], problems: list[dict]) -> list[Factor]:
        """Average strongly correlated numeric metrics into one group (the churn-literature way of
        keeping one behaviour from being split over collinear columns)."""
        threshold = self.group_correlated
        numeric = [f for f in factors if f.kind == "numeric"]
        if threshold is None or len(numeric) < 2:
            return factors
        z = pd.DataFrame({f.name: self._numeric_z(table, f) for f in numeric})
        corr = z.corr().fillna(0).to_numpy()
        distance = 1 - np.abs(corr)
        np.fill_diagonal(distance, 0)
        links = hierarchy.linkage(distance[np.triu_indices(len(numeric), 1)], method="average")
        labels = hierarchy.fcluster(links, t=1 - threshold, criterion="distance")
        out = [f for f in factors if f.kind != "numeric"]
        for label in pd.unique(labels):
            idx = np.flatnonzero(labels == label)
            members = [numeric[i] for i in idx]
            if len(members) == 1:
                out.append(members[0])
                continue
            signs = tuple(float(np.sign(corr[idx[0], i]) or 1.0) for i in idx)
            score = sum(s * z[m.name] for s, m in zip(signs, members)) / len(members)
            name = " + ".join(m.name for m in members)
            r = np.abs(corr[np.ix_(idx, idx)])[np.triu_indices(len(idx), 1)].min()
            problems.append(
                problem(
                    name,
                    "correlated metrics grouped",
                    "adjusted",
                    f"{len(members)} metrics with |r| >= {r:.2f}",
                    "averaged in standard units into one factor",
                )
            )
            out.append(
                Factor(
                    name,
                    "group",
                    center=float(score.mean()),
                    scale=float(score.std()),
                    members=tuple(members),
                    signs=signs,
                    raw_mean=float(score.mean()),
                )
            )
        return out

    def _fit_encoder(self, table: pd.DataFrame) -> None:
        """The one Encoder over the cleaned factors: logs, standardising, 0/1 as is, dummies."""
        factors = list(self.factors_.values())
        self.columns_ = [c for f in factors for c in f.columns]
        if not factors:
            self.encoder_ = None
            return
        categories = [f for f in factors if f.kind == "category"]
        self.encoder_ = Encoder(
            numeric=[f.name for f in factors if f.kind != "category"],
            categorical=[f.name for f in categories],
            log1p=[f.name for f in factors if f.log],
            standardize=True,
            clip_quantile=None,
            reference_levels={f.name: f.levels[0] for f in categories},
        ).fit(self.frame(table))

    def _drop_collinear(self, table: pd.DataFrame, problems: list[dict]) -> None:
        """Drop design columns that are (nearly) linear combinations of others (pivoted QR)."""
        X = self.transform(table)
        columns = list(X.columns)
        if not columns:
            return
        centred = (X - X.mean()).to_numpy()
        _, r, perm = linalg.qr(centred, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        tol = diag.max() * 1e-7 if diag.size else 0
        dependent = {columns[perm[i]] for i in range(len(diag)) if diag[i] <= tol}
        for column in dependent:
            problems.append(
                problem(
                    column,
                    "collinear",
                    "dropped",
                    "a linear combination of other factors (carries no information of its own)",
                    "left out; its effect is carried by the others",
                )
            )
        dropped_factors = {f.name for f in self.factors_.values() if set(f.columns) & dependent}
        if dropped_factors:
            self.factors_ = {k: v for k, v in self.factors_.items() if k not in dropped_factors}
            self._fit_encoder(table)

    # -- applying
    def _raw(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        if factor.name not in table.columns:
            raise DataContractError(
                f"Column '{factor.name}' used by the fitted drivers model is missing from the table."
            )
        return pd.to_numeric(table[factor.name].astype("float64"), errors="coerce").fillna(factor.fill)

    def _numeric_z(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        x = self._raw(table, factor)
        return ((np.log1p(x) if factor.log else x) - factor.center) / factor.scale

    def _category(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        """Category values with missing -> 'missing' and unseen levels -> 'other' or the reference."""
        if factor.name not in table.columns:
            raise DataContractError(
                f"Column '{factor.name}' used by the fitted drivers model is missing from the table."
            )
        values = table[factor.name].astype("object").where(table[factor.name].notna(), "missing").astype(str)
        fallback = "other" if "other" in factor.levels else factor.levels[0]
        values = values.where(values.isin(factor.levels), fallback)
        return pd.Series(pd.Categorical(values, categories=list(factor.levels)), index=table.index, name=factor.name)

    def value(self, table: pd.DataFrame, factor: Factor) -> pd.Series:
        """One factor on its own scale: raw value, 0/1, category, or group score (standard units)."""
        if factor.kind == "category":
            return self._category(table, factor)
        if factor.kind == "group":
            parts = [s * self._numeric_z(table, m) for s, m in zip(factor.signs, factor.members)]
            return sum(parts) / len(parts)
        return self._raw(table, factor)

    def frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """The cleaned factors on their own scale, one column per factor (categories as pandas categoricals)."""
        self._check_fitted("factors_")
        return pd.DataFrame({name: self.value(table, f) for name, f in self.factors_.items()}, index=table.index)

    def transform(self, table: pd.DataFrame) -> pd.DataFrame:
        """The design matrix: numeric factors in standard units, 0/1 as is, dummies ``column=level``."""
        self._check_fitted("encoder_")
        if self.encoder_ is None:
            return pd.DataFrame(index=table.index, columns=[], dtype=float)
        return self.encoder_.transform(self.frame(table))[self.columns_]

    def factor_of(self) -> dict[str, str]:
        """Design column -> factor name."""
        self._check_fitted("factors_")
        return {column: f.name for f in self.factors_.values() for column in f.columns}


def separation_problems(X: pd.DataFrame, y: pd.Series, design: DriverDesign) -> list[dict]:
    """Factors that on their own split renewers from leavers (infinite maximum-likelihood odds ratio)."""
    rows = []
    yv = y.to_numpy()
    for column in X.columns:
        x = X[column].to_numpy()
        kinds = {f.kind for f in design.factors_.values() if column in f.columns}
        if kinds & {"binary", "category"}:
            for value, label in ((1.0, "with"), (0.0, "without")):
                sel = x == value
                if sel.any() and yv[sel].min() == yv[sel].max():
                    outcome = "renewed" if yv[sel][0] == 1 else "did not renew"
                    rows.append(
                        problem(
                            column,
                            "separation",
                            "adjusted",
                            f"every one of the {int(sel.sum())} contracts {label} '{column}' {outcome}",
                            "odds ratio infinite by maximum likelihood: fitted with a ridge penalty",
                        )
                    )
                    break
        else:
            lo1, hi1, lo0, hi0 = x[yv == 1].min(), x[yv == 1].max(), x[yv == 0].min(), x[yv == 0].max()
            if hi0 <= lo1 or hi1 <= lo0:
                rows.append(
                    problem(
                        column,
                        "separation",
                        "adjusted",
                        f"'{column}' alone splits renewers from non-renewers (no overlap of values)",
                        "odds ratio infinite by maximum likelihood: fitted with a ridge penalty",
                    )
                )
    return rows
