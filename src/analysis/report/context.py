"""What every section of the manager report reads: the run's tables, the previous run's, the
parameters and the language (:class:`Context`), and what a section returns (:class:`Section`).

A section builder raises :class:`NotAvailable` when a table or column it needs is absent; the
:func:`section` decorator turns that into a section marked not available, with the reason as its
note ("Not available: this run has no table 'drivers' (written by notebook 05_renewal_drivers)").
Nothing here raises on a missing analysis.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import catalog
from analysis.data import io
from analysis.params import Params, ReportParams
from analysis.report import absent, formatting, i18n, labels

HEADLINE_FILE = "headline.json"


class NotAvailable(Exception):
    """A section (or part of one) cannot be built; ``why`` is the reader-facing reason."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class ReportTables:
    """Tables of one run folder (``tables/*.parquet`` and ``*.json``), read once; None when absent.

    ``frames`` supplies tables directly (tests, or tables made in the notebook).
    """

    def __init__(self, run_dir: str | Path | None = None, frames: Mapping[str, Any] | None = None):
        self.run_dir = Path(run_dir) if run_dir else None
        self._cache: dict[str, Any] = dict(frames or {})

    @property
    def label(self) -> str:
        """How the report names this run: its folder name."""
        return self.run_dir.name if self.run_dir else "-"

    def get(self, name: str) -> pd.DataFrame | None:
        catalog.writer_of(name)  # a name outside the catalog is a typo, not a missing section
        if name not in self._cache:
            self._cache[name] = io.read_table(self.run_dir, name) if self.run_dir else None
        value = self._cache[name]
        return value if value is None or isinstance(value, pd.DataFrame) else None

    def json(self, name: str) -> dict | None:
        key = f"{name}.json"
        if key not in self._cache:
            path = io.tables_dir(self.run_dir) / key if self.run_dir else None
            self._cache[key] = json.loads(path.read_text(encoding="utf-8")) if path and path.exists() else None
        return self._cache[key]

    def as_of(self) -> dt.date | None:
        """The as-of date of this run, from its headline (None when unknown)."""
        value = (self.json("headline") or {}).get("as_of")
        return dt.date.fromisoformat(str(value)[:10]) if value else None


@dataclass
class Context:
    """Everything a section needs: this run's tables, the previous run's, parameters, language."""

    tables: ReportTables
    previous: ReportTables | None
    params: Params
    as_of: dt.date
    run_id: str = ""
    accounts: pd.DataFrame | None = None  # index account_id: name, industry, region, size_band (owner if present)
    previous_note: str | None = None  # why the previous run is not compared with (later as-of date)

    @classmethod
    def for_run(
        cls,
        run_dir,
        previous_run_dir,
        params: Params,
        as_of: dt.date,
        run_id: str = "",
        accounts: pd.DataFrame | None = None,
    ) -> Context:
        if accounts is not None and "account_id" in accounts.columns:
            accounts = accounts.set_index("account_id")
        previous = ReportTables(previous_run_dir) if previous_run_dir else None
        note = None
        if previous is not None:
            before = previous.as_of()
            if before is not None and before >= as_of:
                # A back-test run (an earlier as-of date) filed after this one must not be compared
                # backwards: "since the last run" means the latest *earlier* as-of date.
                note = i18n.t("why_previous_later", params.language, previous=before.isoformat())
                previous = None
        return cls(ReportTables(run_dir), previous, params, as_of, run_id or "", accounts, note)

    # --- language and units ---------------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.params.language

    @property
    def settings(self) -> ReportParams:
        return self.params.report

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    def money(self, value: Any, signed: bool = False) -> str:
        return formatting.money(value, self.lang, self.settings.currency, signed=signed)

    def label(self, feature: str) -> str:
        """A feature's words (``analysis.report.labels``): what the data measures."""
        return labels.label(feature, self.lang)

    def component_label(self, criterion: str) -> str:
        """A score or health component's name as configured (``label`` / ``label_zh``)."""
        return labels.label(criterion, self.lang, self.params.scoring)

    def level(self, column: str, value: Any) -> str:
        return labels.level_label(column, value, self.lang, self.settings.level_labels)

    def value(self, feature: str, value: Any) -> str:
        return formatting.value_of(feature, value, self.lang, self.settings.currency)

    def tier_names(self) -> dict[str, str]:
        return i18n.tier_names(self.params.scoring, self.lang)

    def tier_codes(self) -> list[str]:
        return i18n.tier_codes(self.params.scoring)

    def band_names(self) -> dict[str, str]:
        return i18n.band_names(self.params.scoring, self.lang)

    # --- tables ---------------------------------------------------------------------------

    def need(self, name: str, columns: Iterable[str] = (), previous: bool = False) -> pd.DataFrame:
        """Table ``name`` with ``columns``, or NotAvailable saying what is missing."""
        source = self.previous if previous else self.tables
        if source is None:
            raise NotAvailable(self.previous_note or self.t("why_no_previous"))
        frame = source.get(name)
        if frame is None:
            if previous:
                raise NotAvailable(self.t("why_previous_missing", previous=source.label, table=name))
            raise NotAvailable(absent.why_run_table_missing(self, name) or missing_why(self, name))
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise NotAvailable(self.t("why_columns_missing", table=name, columns=", ".join(missing)))
        if frame.empty:
            raise NotAvailable(self.t("why_empty", table=name))
        return frame

    def optional(self, name: str, columns: Iterable[str] = (), previous: bool = False) -> pd.DataFrame | None:
        try:
            return self.need(name, columns, previous)
        except NotAvailable:
            return None

    def account_column(self, column: str, ids: pd.Series | pd.Index) -> pd.Series:
        """A column of the accounts table for ``ids`` ("" where unknown)."""
        ids = pd.Series(ids, index=ids.index if isinstance(ids, pd.Series) else None)
        if self.accounts is None or column not in self.accounts.columns:
            return pd.Series("", index=ids.index)
        return ids.map(self.accounts[column]).fillna("").astype(str)

    def name_of(self, ids: pd.Series | pd.Index) -> pd.Series:
        return self.account_column("name", ids)

    @property
    def has_owner(self) -> bool:
        return self.accounts is not None and "owner" in self.accounts.columns


def by_account(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("account_id") if "account_id" in frame.columns else frame


# --- what a section returns ---------------------------------------------------------------

# Display kind of a table column (columns are named after i18n keys); others are text.
COLUMN_KINDS: dict[str, str] = {
    "accounts": "int",
    "flagged": "int",
    "flagged_then": "int",
    "customers_then": "int",
    "potential": "int",
    "kept_rate": "pct",
    "share_health_risk": "pct",
    "missing_share": "pct",
    "share_accounts": "pct",
    "share_revenue": "pct",
    "share_value": "pct",
    "share_clv": "pct",
    "renewal_rate": "pct",
    "churn_flagged": "pct",
    "churn_unflagged": "pct",
    "health_mean": "num0",
    "annual_value": "money",
    "value_at_risk": "money",
    "revenue_12m": "money",
    "margin_after_cost": "money",
    "arr": "money",
    "clv": "money",
    "churn_probability": "pct",
    "renewal_date": "date",
    "score": "num0",
    "score_change": "signed1",
    "weight": "pct",
    "health_score": "num0",
    "precision": "pct",
    "coverage": "pct",
    "rows": "int",
    "top_tier_share": "pct",
    "auc": "num2",
    "top20_margin": "pct",
    "account": "id",
    "name": "account",
}
LISTING_HIDDEN = ("account", "product_line")  # long lists: the name links to the profile, which has the id
# Short text columns kept on one line (Chinese would otherwise wrap after every character).
NOWRAP = frozenset(
    {"account", "name", "tier", "tier_from", "tier_to", "health_band", "grade", "region", "owner", "product_line"}
)


@dataclass
class Table:
    """A table of a section: columns named after i18n keys, raw values (formatted when rendered).

    ``interactive`` tables are searchable and sortable in the page, filterable by ``filters``
    columns; a column ``name`` links to the account's profile (ids in the ``account`` column).
    """

    name: str
    frame: pd.DataFrame
    caption: str | None = None
    interactive: bool = False
    filters: tuple[str, ...] = ()
    note: str | None = None  # under the table (e.g. "the 300 largest of 1,503; the full list: ...")
    kinds: dict[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()  # written to the run table, not shown (e.g. the account id behind a name link)

    def kind(self, column: str) -> str:
        return self.kinds.get(column) or COLUMN_KINDS.get(column, "text")

    @property
    def visible(self) -> list[str]:
        return [c for c in self.frame.columns if not str(c).startswith("_") and c not in self.hidden]


@dataclass
class Figure:
    src: str  # data:image/png;base64,...
    alt: str
    width: int
    height: int


@dataclass
class Section:
    """One part of the report: sentences, figures, tables and notes."""

    key: str
    title: str = ""
    available: bool = True
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw figures for plots and checks
    full: dict[str, pd.DataFrame] = field(default_factory=dict)  # complete lists (written, not shown)
    profile_ids: list[str] = field(default_factory=list)  # accounts listed here (each gets a profile)

    @property
    def note(self) -> str | None:
        return self.notes[0] if not self.available and self.notes else None

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def has(self, name: str) -> bool:
        return any(t.name == name for t in self.tables)

    def add(self, table: Table) -> Table:
        self.tables.append(table)
        if "account" in table.frame.columns:
            self.profile_ids.extend(str(a) for a in table.frame["account"])
        return table


def section(key: str, title_key: str | None = None, **title_values: str):
    """Decorator: a builder that raises NotAvailable yields a section with the reason as its note."""

    def wrap(builder: Callable[..., Section]) -> Callable[..., Section]:
        @functools.wraps(builder)
        def build(ctx: Context, *args: Any, **kwargs: Any) -> Section:
            values = {k: getattr(ctx.settings, v) for k, v in title_values.items()}
            title = ctx.t(title_key or f"h_{key}", **values)
            try:
                out = builder(ctx, *args, **kwargs)
            except NotAvailable as exc:
                return Section(key, title, available=False, notes=[ctx.t("not_available", why=exc.why)])
            out.key, out.title = key, title
            return out

        return build

    return wrap


def missing_why(ctx: Context, name: str) -> str:
    """ "this run has no table 'drivers' (written by notebook 05_renewal_drivers)"."""
    return ctx.t("why_table_missing", table=name, notebook=catalog.writer_of(name))


def not_available_note(ctx: Context, name: str) -> str:
    return ctx.t("not_available", why=missing_why(ctx, name))


def long_table(
    ctx: Context, frame: pd.DataFrame, what: str, order: str = "rows_cut"
) -> tuple[pd.DataFrame, str | None]:
    """The first ``report.max_rows`` rows of a long list, and a note naming the full list when cut
    (``order``: the text saying how the list is sorted, most valuable first by default)."""
    limit = int(ctx.settings.max_rows)
    if len(frame) <= limit:
        return frame, None
    return frame.head(limit), ctx.t(order, shown=limit, total=f"{len(frame):,}")


def account_columns(ctx: Context, ids: pd.Series, tiers: pd.Series | None = None) -> dict[str, object]:
    """The columns every account listing starts with: account id, name (a link to the profile), tier,
    region (in the report language) and, when the accounts table has one, owner."""
    ids = pd.Series(list(ids), dtype=object)
    columns: dict[str, object] = {"account": ids.to_numpy(), "name": ctx.name_of(ids).to_numpy()}
    if tiers is not None:
        columns["tier"] = ids.map(tiers.astype(object)).map(ctx.tier_names()).fillna("").to_numpy()
    columns["region"] = [ctx.level("region", v) for v in ctx.account_column("region", ids)]
    if ctx.has_owner:
        columns["owner"] = ctx.account_column("owner", ids).to_numpy()
    return columns


def add_listing(
    ctx: Context,
    out: Section,
    name: str,
    listing: pd.DataFrame,
    caption: str,
    full: str,
    filters: tuple[str, ...] = ("tier", "region"),
    order: str = "rows_cut",
    kinds: dict[str, str] | None = None,
) -> Table:
    """A long, searchable list: its first ``report.max_rows`` rows on the page (filterable by
    ``filters`` and the owner), the whole list written as the run table ``report_<section>_<full>``."""
    shown, cut = long_table(ctx, listing, f"report_{out.key}_{full}", order)
    if cut:  # the file of the whole list, for the analyst, under the section's folded source tables
        out.sources.append(f"report_{out.key}_{full}")
    owner = ("owner",) if "owner" in listing.columns and "owner" not in filters else ()
    table = Table(
        name,
        shown,
        caption,
        interactive=True,
        filters=(*filters, *owner),
        note=cut,
        kinds=kinds or {},
        hidden=LISTING_HIDDEN,
    )
    out.add(table)
    out.full[full] = listing
    return table
