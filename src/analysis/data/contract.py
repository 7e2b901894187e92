"""The B2B data contract: tables, columns, types, keys and rules, declared once.

Everything else derives from this module: the SQL checks of validation, the DuckDB views built
by the loaders, and the tables in ``docs/data_contract.md`` (regenerate them with
``python -m analysis.data.contract``; ``tests/test_repository.py`` fails when they drift apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds. Each maps to one pandas dtype family and one DuckDB type.
STRING = "string"
DATE = "date"
FLOAT = "float"
INT = "int"
BOOL = "bool"

DUCKDB_TYPES = {STRING: "VARCHAR", DATE: "DATE", FLOAT: "DOUBLE", INT: "BIGINT", BOOL: "BOOLEAN"}

# The largest money amount the features carry exactly: they sum money as DECIMAL(38, 6)
# (``analysis.data.features.exact``), so 10^15 per row (books in VND, IDR or KRW) leaves room for
# sums over any realistic book; validation refuses larger amounts.
MONEY_LIMIT = 1e15


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True  # must the column exist in the table?
    nullable: bool = False  # may a present column hold missing values?
    unit: str = ""
    description: str = ""
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    references: str | None = None  # "table.column" foreign key
    money: bool = False  # an amount of money: finite and at most MONEY_LIMIT in size

    @property
    def is_identifier(self) -> bool:
        """Ids are text everywhere (``00123`` stays ``00123``) and must not carry padding."""
        return self.kind == STRING and (self.references is not None or self.name.endswith("_id"))


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    # Pairs (earlier, later) of date columns that must be ordered when both are present.
    ordered_dates: tuple[tuple[str, str], ...] = ()
    # Date columns checked against the extract date (a date after it is an error).
    event_dates: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


SIZE_BANDS = ("enterprise", "mid-market", "small")
RENEWAL_OUTCOMES = ("renewed", "not_renewed", "open")
SEVERITIES = ("low", "medium", "high", "critical")
SEVERE = ("high", "critical")
ENGAGEMENT_TYPES = ("seminar", "webinar", "qbr", "executive_visit", "training")

_ACCOUNT_FK = "accounts.account_id"

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            "One row per business customer (legal entity).",
            (
                Column("account_id", STRING, description="Stable customer key"),
                Column("name", STRING, description="Display name (free text, escaped in reports)"),
                Column("industry", STRING),
                Column("region", STRING),
                Column("size_band", STRING, allowed=SIZE_BANDS),
                Column("employees", INT, required=False, nullable=True, unit="people", min_value=0),
                Column("first_seen", DATE, description="First contract or order"),
                Column("parent_account_id", STRING, required=False, nullable=True, description="Group parent, if any"),
                Column(
                    "market_influence",
                    FLOAT,
                    required=False,
                    nullable=True,
                    unit="analyst score 1-5",
                    min_value=1,
                    max_value=5,
                ),
                Column(
                    "strategic_flag",
                    BOOL,
                    required=False,
                    nullable=True,
                    description="Analyst-entered strategic account",
                ),
                Column(
                    "credit_rating",
                    STRING,
                    required=False,
                    nullable=True,
                    allowed=("AAA", "AA", "A", "BBB", "BB", "B", "CCC"),
                ),
                Column(
                    "owner",
                    STRING,
                    required=False,
                    nullable=True,
                    description="Account owner (sales or customer-success manager); the report filters by it",
                ),
            ),
            key=("account_id",),
            event_dates=("first_seen",),
        ),
        Table(
            "contracts",
            "Annual (or multi-year) subscription contracts, one row per product line and term.",
            (
                Column("contract_id", STRING),
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("start", DATE),
                Column("end", DATE, description="Last day of the term (exclusive of renewal)"),
                Column("annual_value", FLOAT, unit="currency / year", min_value=0, money=True),
                Column("product_line", STRING),
                Column(
                    "renewal_outcome",
                    STRING,
                    allowed=RENEWAL_OUTCOMES,
                    description="Decision at `end`: renewed, not_renewed, or open (not yet decided)",
                ),
            ),
            key=("contract_id",),
            ordered_dates=(("start", "end"),),
            event_dates=("start",),
        ),
        Table(
            "orders",
            "Repeat purchases outside subscriptions (services, hardware, consumables).",
            (
                Column("order_id", STRING),
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("date", DATE),
                Column("amount", FLOAT, unit="currency", min_value=0, money=True),
                Column(
                    "cost",
                    FLOAT,
                    required=False,
                    nullable=True,
                    unit="currency",
                    min_value=0,
                    money=True,
                    description="Cost of goods and service; margin = amount - cost",
                ),
                Column("paid_date", DATE, required=False, nullable=True, description="Missing while unpaid"),
            ),
            key=("order_id",),
            required=False,
            ordered_dates=(("date", "paid_date"),),
            event_dates=("date", "paid_date"),
        ),
        Table(
            "usage",
            "Daily product usage per account.",
            (
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("date", DATE),
                Column("active_users", INT, unit="users", min_value=0),
                Column("logins", INT, unit="logins / day", min_value=0),
                Column("feature_adoption", FLOAT, unit="share of features used, 0-1", min_value=0, max_value=1),
                Column("meeting_minutes", FLOAT, required=False, nullable=True, unit="minutes / day", min_value=0),
            ),
            key=("account_id", "date"),
            required=False,
            event_dates=("date",),
        ),
        Table(
            "tickets",
            "Support tickets.",
            (
                Column("ticket_id", STRING),
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("opened", DATE),
                Column("closed", DATE, nullable=True, description="Missing while open"),
                Column("severity", STRING, allowed=SEVERITIES),
            ),
            key=("ticket_id",),
            required=False,
            ordered_dates=(("opened", "closed"),),
            event_dates=("opened", "closed"),
        ),
        Table(
            "surveys",
            "Net Promoter Score answers.",
            (
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("date", DATE),
                Column("nps", INT, unit="score 0-10", min_value=0, max_value=10),
            ),
            key=("account_id", "date"),
            required=False,
            event_dates=("date",),
        ),
        Table(
            "engagements",
            "Customer-success touchpoints attended by the account.",
            (
                Column("account_id", STRING, references=_ACCOUNT_FK),
                Column("date", DATE),
                Column("type", STRING, allowed=ENGAGEMENT_TYPES),
            ),
            key=(),
            required=False,
            event_dates=("date",),
        ),
    )
}

REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)
OPTIONAL_TABLES = tuple(name for name, t in TABLES.items() if not t.required)


def to_markdown() -> str:
    """The contract tables as Markdown (pasted into docs/data_contract.md; a test keeps them equal)."""
    lines = []
    for table in TABLES.values():
        status = "required" if table.required else "optional"
        key = ", ".join(table.key) if table.key else "none (duplicates allowed)"
        lines += [
            f"### `{table.name}` ({status})",
            "",
            table.description,
            "",
            f"Key: {key}.",
            "",
            "| column | type | required | may be empty | unit | rule |",
            "|---|---|---|---|---|---|",
        ]
        for col in table.columns:
            rules = []
            if col.is_identifier:
                rules.append("text (leading zeros kept); no leading or trailing spaces")
            if col.kind == FLOAT:
                rules.append(f"a finite number{f' of at most {MONEY_LIMIT:g}' if col.money else ''}")
            if col.allowed:
                rules.append("one of " + ", ".join(col.allowed))
            if col.min_value is not None:
                rules.append(f">= {col.min_value:g}")
            if col.max_value is not None:
                rules.append(f"<= {col.max_value:g}")
            if col.references:
                rules.append(f"must exist in {col.references}")
            if col.name in table.event_dates:
                rules.append("not after the extract date")
            for earlier, later in table.ordered_dates:
                if col.name == later:
                    rules.append(f"not before {earlier}")
            if col.description:
                rules.append(col.description)
            lines.append(
                f"| {col.name} | {col.kind} | {'yes' if col.required else 'no'} | "
                f"{'yes' if col.nullable else 'no'} | {col.unit} | {'; '.join(rules)} |"
            )
        lines.append("")
    return "\n".join(lines)


DOC_START = "<!-- contract tables: generated by `python -m analysis.data.contract`; do not edit -->"
DOC_END = "<!-- end of contract tables -->"


def write_document(path) -> bool:
    """Replace the generated tables in ``docs/data_contract.md``; True when the file changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(DOC_START, 1)
    tail = rest.split(DOC_END, 1)[1]
    updated = f"{head}{DOC_START}\n\n{to_markdown()}\n{DOC_END}{tail}"
    path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    from analysis.paths import PROJECT_ROOT

    target = PROJECT_ROOT / "docs" / "data_contract.md"
    print(f"{'Updated' if write_document(target) else 'Unchanged'}: {target}")
