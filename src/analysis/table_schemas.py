"""The value rules of the run tables, checked with pandera before a table is written.

A run table is the contract between the notebook that writes it and the notebooks and the report
that read it. ``analysis.catalog.TABLES`` declares, next to the columns, the values readers rely
on, in a small vocabulary: ``keys`` (no missing value, unique together), ``probabilities``
(probabilities, shares and rates: in [0, 1]), ``finite`` (money and scores a reader sums or
ranks: not ±inf), ``levels`` (one of the codes the parameters declare, e.g. the pyramid's tier
codes) and ``optional`` (a ruled column whose value may be missing: not estimable, not known).
Every other ruled column must have a value. :func:`schema` builds the one pandera
``DataFrameSchema`` of a table from its spec; :func:`check_values` validates lazily (every broken
rule at once) and raises :class:`analysis.errors.CatalogError` naming table, column, rule and a few
failing values.

The data book is not checked here: its value rules are SQL on the engine that holds it
(``analysis.data.validate``), because its 85 M usage rows must not travel into pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import CatalogError

if TYPE_CHECKING:
    import pandera.pandas as pa

    from analysis.catalog import TableSpec
    from analysis.params import Params

MAX_EXAMPLES = 5

# The vocabularies a ``levels`` rule may name, each read from the run's parameters (never fixed
# here: a config may rename the tiers).
VOCABULARIES: dict[str, Callable[[Params], list[str]]] = {
    "tier": lambda p: list(p.scoring.tiers.pyramid.codes),
    "tier_label": lambda p: list(p.scoring.tiers.pyramid.labels(p.language).values()),
    "abcd": lambda p: list(p.scoring.tiers.abcd.codes),
    "abc": lambda p: list(p.scoring.tiers.abc.codes),
    "health_band": lambda p: [band.code for band in p.scoring.health.bands],
}

_BUILT_IN_RULES = {"not_nullable": "has a value (no missing)"}  # pandera's names; ours carry their words


def _finite(values: pd.Series) -> pd.Series:
    # pandera has no built-in finiteness check; missing values are the nullable flag's business.
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    return np.isfinite(numbers) | values.isna()


def schema(spec: TableSpec, params: Params) -> pa.DataFrameSchema:
    """The pandera schema of one run table, built from its catalog spec."""
    import pandera.pandas as pa

    checks: dict[str, list[pa.Check]] = {column: [] for column in spec.ruled_columns()}
    for column in spec.probabilities:
        checks[column].append(pa.Check.in_range(0, 1, error="in [0, 1]"))
    for column in spec.finite:
        checks[column].append(pa.Check(_finite, error="finite (not ±inf)"))
    for column, vocabulary in spec.levels:
        codes = VOCABULARIES[vocabulary](params)
        checks[column].append(pa.Check.isin(codes, error=f"one of the {vocabulary} codes {codes}"))
    columns = {
        column: pa.Column(checks=rules, nullable=column in spec.optional and column not in spec.keys)
        for column, rules in checks.items()
    }
    return pa.DataFrameSchema(
        columns, unique=list(spec.keys) or None, report_duplicates="all", name=spec.name, coerce=False
    )


def check_values(frame: pd.DataFrame, spec: TableSpec, params: Params | None = None) -> None:
    """Refuse ``frame`` (a :class:`CatalogError` listing every broken rule) unless every value
    rule of ``spec`` holds. ``params`` None: the shipped parameters' codes."""
    import pandera.pandas as pa

    if not spec.ruled_columns():
        return
    if params is None:
        from analysis.params import defaults

        params = defaults()
    # Rows are reported by position: a named index (account_id) is a column, as written.
    named_index = frame.index.name is not None or isinstance(frame.index, pd.MultiIndex)
    table = frame.reset_index(drop=not named_index)
    try:
        schema(spec, params).validate(table, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise CatalogError(_message(spec, errors.failure_cases)) from None


def rules_text(spec: TableSpec) -> str:
    """The value rules of a table in words (the catalog table of docs/architecture.md)."""
    levels = ", ".join(
        column if column == vocabulary else f"{column} ({vocabulary})" for column, vocabulary in spec.levels
    )
    parts = [
        ("key", ", ".join(spec.keys)),
        ("in [0, 1]:", ", ".join(spec.probabilities)),
        ("finite:", ", ".join(spec.finite)),
        ("codes:", levels),
        ("may be missing:", ", ".join(spec.optional)),
    ]
    return "; ".join(f"{label} {names}" for label, names in parts if names)


def _message(spec: TableSpec, failures: pd.DataFrame) -> str:
    lines = []
    unique = failures["check"] == "multiple_fields_uniqueness"
    if unique.any():
        rows = failures.loc[unique, "index"].drop_duplicates()
        lines.append(
            f"- key {', '.join(spec.keys)}: unique; rows sharing a key: {len(rows)}, e.g. rows {_examples(rows)}"
        )
    for (column, check), cases in failures[~unique].groupby(["column", "check"], sort=False, dropna=False):
        rule = _BUILT_IN_RULES.get(str(check), str(check))
        lines.append(
            f"- column {column!r}: {rule}; failing rows: {len(cases)}, e.g. {_examples(cases['failure_case'])}"
        )
    return (
        f"Table {spec.name!r} breaks the value rules the catalog promises its readers (analysis.catalog.TABLES):\n"
        + "\n".join(lines)
        + f"\nNothing was written. Fix the step of {spec.writer} that builds the table; change a rule only if "
        f"every reader copes with such values."
    )


def _examples(values: pd.Series) -> str:
    shown = list(values.head(MAX_EXAMPLES))
    more = len(values) - len(shown)
    return f"{shown}" + (f" and {more} more" if more > 0 else "")
