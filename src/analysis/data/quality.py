"""Data-quality summaries for the first notebook: sizes, date ranges, missingness, concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.contract import DATE, TABLES
from analysis.data.io import Book, quote


def table_overview(book: Book) -> pd.DataFrame:
    """Rows, accounts and date range per contract table (absent optional tables included)."""
    rows = []
    for name, spec in TABLES.items():
        if not book.has(name):
            rows.append({"table": name, "present": False, "required": spec.required})
            continue
        dates = [c.name for c in spec.columns if c.kind == DATE and c.name in book.tables[name]]
        first_date = dates[0] if dates else None
        select = ["count(*) AS rows", "count(DISTINCT account_id) AS accounts"]
        if first_date:
            select += [f"min({quote(first_date)}) AS first_date", f"max({quote(first_date)}) AS last_date"]
        stats = book.sql(f"SELECT {', '.join(select)} FROM {quote(name)}").iloc[0].to_dict()
        rows.append({"table": name, "present": True, "required": spec.required, "date_column": first_date, **stats})
    return pd.DataFrame(rows).set_index("table")


def missingness(book: Book) -> pd.DataFrame:
    """Share of missing values per contract column of every present table."""
    rows = []
    for name, spec in TABLES.items():
        if not book.has(name):
            continue
        present = [c.name for c in spec.columns if c.name in book.tables[name]]
        shares = ", ".join(f"avg(CASE WHEN {quote(c)} IS NULL THEN 1.0 ELSE 0.0 END) AS {quote(c)}" for c in present)
        values = book.sql(f"SELECT {shares} FROM {quote(name)}").iloc[0]
        rows += [
            {
                "table": name,
                "column": c,
                "missing_share": float(values[c]),
                "required": spec.column(c).required and not spec.column(c).nullable,
            }
            for c in present
        ]
    return pd.DataFrame(rows)


def pareto_curve(values: pd.Series) -> pd.DataFrame:
    """Cumulative share of total value against share of accounts, largest first."""
    ordered = values.fillna(0).clip(lower=0).sort_values(ascending=False).to_numpy()
    total = ordered.sum()
    n = len(ordered)
    return pd.DataFrame(
        {
            "account_share": np.arange(1, n + 1) / n,
            "value_share": ordered.cumsum() / total if total > 0 else np.zeros(n),
        }
    )


def concentration(values: pd.Series, tops=(0.01, 0.20, 0.50)) -> pd.DataFrame:
    """Share of value held by the top 1% / 20% / 50% of accounts (the 80/20 check)."""
    curve = pareto_curve(values)
    n = len(curve)
    rows = []
    for top in tops:
        k = max(1, int(np.ceil(top * n)))
        rows.append(
            {
                "top_accounts": f"top {top:.0%}",
                "accounts": k,
                "value_share": float(curve["value_share"].iloc[k - 1]) if n else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("top_accounts")
