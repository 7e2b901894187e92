"""Why something is missing, in a manager's words, computed from which tables of the book are absent
(the run's ``table_overview``): "no order history: ..." instead of "no table 'clv_holdout_check'".

Nothing here is fixed text about the book: every reason is chosen only when the run's own tables
show the cause (a source table absent, or a rule's column empty for every customer).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from analysis.data.features import OPTIONAL_FEATURES

if TYPE_CHECKING:  # context imports this module
    from analysis.report.context import Context

TABLE_NAMES = {
    "accounts": ("accounts", "客户"),
    "contracts": ("contracts", "合同"),
    "orders": ("orders", "订单"),
    "usage": ("product usage", "产品使用"),
    "tickets": ("support tickets", "支持工单"),
    "surveys": ("surveys (NPS)", "满意度调查"),
    "engagements": ("engagements", "客户活动"),
}

# Run tables made only from one source table of the book: when that table is absent, this is why
# (the text key of the reason). Any other cause falls back to the analyst's message.
MADE_FROM = {"clv_holdout_check": ("orders", "why_no_orders_holdout")}

# Feature column -> the source table it is computed from (contracts and accounts: always present).
SOURCE_OF = {column: table for table, columns in OPTIONAL_FEATURES.items() for column in columns}


def table_name(name: str, lang: str) -> str:
    """A source table of the book in words ("support tickets", "支持工单")."""
    words = TABLE_NAMES.get(str(name))
    return words[1 if lang == "zh" else 0] if words else str(name)


def absent_tables(ctx: Context) -> set[str] | None:
    """Source tables this run's book lacks (``table_overview.present``); None when unknown."""
    overview = ctx.tables.get("table_overview")
    if overview is None or not {"table", "present"} <= set(overview.columns):
        return None
    return set(overview.loc[~overview["present"].astype(bool), "table"].astype(str))


def why_run_table_missing(ctx: Context, name: str) -> str | None:
    """The plain reason a run table is absent when an absent source table explains it, else None."""
    made_from = MADE_FROM.get(name)
    absent = absent_tables(ctx)
    if made_from is None or absent is None or made_from[0] not in absent:
        return None
    return ctx.t(made_from[1])


def data_words(ctx: Context, columns: Iterable[str]) -> str:
    """The source tables behind ``columns`` in words, each once, in the order met ("surveys (NPS),
    support tickets"); a column of no optional table is named by its label."""
    names = dict.fromkeys(table_name(SOURCE_OF[c], ctx.lang) if c in SOURCE_OF else ctx.label(c) for c in columns)
    return ctx.t("names_sep").join(names)


def lacks_data(ctx: Context, columns: Iterable[str]) -> str:
    """Why values of ``columns`` are missing: "absent from this book" when every source table behind
    them is absent (``table_overview``), else "absent or empty"."""
    absent = absent_tables(ctx)
    sources = {SOURCE_OF.get(c) for c in columns}
    all_absent = absent is not None and None not in sources and sources <= absent
    return ctx.t("data_absent" if all_absent else "data_absent_or_empty", data=data_words(ctx, columns))


def known(frame: pd.DataFrame, columns: Iterable[str]) -> bool:
    """Does any row have a value in any of ``columns``?"""
    present = [c for c in columns if c in frame.columns]
    return bool(present) and bool(frame[present].notna().to_numpy().any())
