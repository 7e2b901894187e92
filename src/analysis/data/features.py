"""As-of feature snapshots and outcomes, computed as SQL over the book on the book's engine
(written in DuckDB's dialect; ``analysis.data.spark`` transpiles it for Spark).

The one rule: **features use only rows dated strictly before the as-of date; outcomes use only
rows dated on or after it.** Every query below filters on ``c.as_of`` so that deleting all rows
dated after as-of leaves the features unchanged (``tests/test_features.py`` proves it).

A *cut* is one (account, as-of date) pair. A snapshot for all accounts at one date is a set of
cuts sharing one date; the renewal-decision table uses one cut per contract at
``end - lead_days``. Both go through the same SQL, so a renewal driver means the same thing in
every analysis.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.data.asof import require_date
from analysis.data.io import Book
from analysis.errors import InsufficientDataError

LATE_PAYMENT_DAYS = 60


def exact(expr: str) -> str:
    """Sum and average money and shares as fixed-point decimals: floating-point sums in DuckDB's
    parallel aggregation depend on thread timing, and the same data must give the same tables.

    DECIMAL(38, 6) (a 128-bit integer of micro-units; DuckDB and Spark both have it) carries
    amounts up to 10^32, so books in VND, IDR or KRW (10^12 and more per contract; validation
    refuses above ``contract.MONEY_LIMIT`` = 10^15) sum exactly. DECIMAL(18, 6), used before,
    overflowed at 10^12; an integer micro-unit scheme in BIGINT would overflow at 9.2 x 10^12."""
    return f"CAST({expr} AS DECIMAL(38, 6))"


def days_between(start: str, end: str) -> str:
    """Whole days from ``start`` to ``end`` (``end - start`` on DuckDB dates), spelled so that every
    engine reads an integer: Spark reads ``date - date`` as an INTERVAL."""
    return f"date_diff('day', {start}, {end})"


ENGAGEMENT_COLUMNS = {
    "seminar": "seminars_12m",
    "webinar": "webinars_12m",
    "qbr": "qbrs_12m",
    "executive_visit": "executive_visits_12m",
    "training": "trainings_12m",
}
# Columns each optional table contributes; filled with NULL (and a note) when the table is absent.
OPTIONAL_FEATURES = {
    "orders": [
        "frequency",
        "recency_days",
        "T_days",
        "monetary_value",
        "order_revenue_12m",
        "order_margin_12m",
        "order_revenue_prev_12m",
        "payment_delay_days",
        "late_payment_share",
        "unpaid_orders",
    ],
    "usage": [
        "active_users_90d",
        "logins_90d",
        "adoption_90d",
        "adoption_trend",
        "meeting_minutes_90d",
        "days_since_last_login",
    ],
    "tickets": ["tickets_12m", "severe_tickets_12m", "open_severe_tickets", "max_open_severe_days"],
    "surveys": ["nps_latest", "nps_previous", "nps_change"],
    "engagements": [*ENGAGEMENT_COLUMNS.values(), "attended_seminar_12m"],
}


# --- SQL blocks, one per source table. Each returns (cut_id, feature columns). -------------


def _contract_sql() -> str:
    def recognised(lo: str, hi: str) -> str:
        # Revenue of contract days inside [lo, hi): annual value spread evenly over 365 days.
        days = days_between(f"greatest(k.start, {lo})", f'least(k."end" + 1, {hi})')
        return f"sum({exact('k.annual_value')} * greatest(0, {days})) / 365.0"

    return f"""
    SELECT c.cut_id,
      coalesce(sum({exact("k.annual_value")}) FILTER (WHERE k.start < c.as_of AND k."end" >= c.as_of), 0) AS arr,
      count(DISTINCT k.product_line) FILTER (WHERE k.start < c.as_of AND k."end" >= c.as_of) AS product_lines,
      min(k."end") FILTER (WHERE k.start < c.as_of AND k."end" >= c.as_of) AS next_renewal_date,
      count(DISTINCT k."end") FILTER (WHERE k."end" < c.as_of AND k.renewal_outcome = 'renewed') AS renewals_past,
      coalesce({recognised("c.as_of - 365", "c.as_of")}, 0) AS contract_revenue_12m,
      coalesce({recognised("c.as_of - 730", "c.as_of - 365")}, 0) AS contract_revenue_prev_12m
    FROM cuts c LEFT JOIN contracts k ON k.account_id = c.account_id AND k.start < c.as_of
    GROUP BY c.cut_id
    """


ORDERS_SQL = f"""
WITH daily AS (
  SELECT c.cut_id, c.as_of, o.date, sum({exact("o.amount")}) AS amount, sum({exact("o.amount - o.cost")}) AS margin
  FROM cuts c JOIN orders o ON o.account_id = c.account_id AND o.date < c.as_of
  GROUP BY c.cut_id, c.as_of, o.date
), first AS (
  SELECT cut_id, min(date) AS first_order FROM daily GROUP BY cut_id
), rfm AS (
  SELECT d.cut_id,
    count(*) - 1 AS frequency,
    {days_between("f.first_order", "max(d.date)")} AS recency_days,
    {days_between("f.first_order", "any_value(d.as_of) - 1")} AS "T_days",
    coalesce(avg(d.amount) FILTER (WHERE d.date > f.first_order), 0) AS monetary_value,
    coalesce(sum(d.amount) FILTER (WHERE d.date >= d.as_of - 365), 0) AS order_revenue_12m,
    coalesce(sum(d.margin) FILTER (WHERE d.date >= d.as_of - 365), 0) AS order_margin_12m,
    coalesce(sum(d.amount) FILTER (WHERE d.date >= d.as_of - 730 AND d.date < d.as_of - 365), 0)
      AS order_revenue_prev_12m
  FROM daily d JOIN first f USING (cut_id)
  GROUP BY d.cut_id, f.first_order
), pay AS (
  SELECT c.cut_id,
    avg({days_between("o.date", "o.paid_date")}) FILTER (WHERE o.paid_date < c.as_of) AS payment_delay_days,
    avg(CASE WHEN {days_between("o.date", "o.paid_date")} > {LATE_PAYMENT_DAYS} THEN 1.0 ELSE 0.0 END)
      FILTER (WHERE o.paid_date < c.as_of) AS late_payment_share,
    count(*) FILTER (WHERE o.paid_date IS NULL OR o.paid_date >= c.as_of) AS unpaid_orders
  FROM cuts c JOIN orders o ON o.account_id = c.account_id AND o.date < c.as_of
  GROUP BY c.cut_id
)
SELECT * FROM rfm LEFT JOIN pay USING (cut_id)
"""

USAGE_SQL = f"""
SELECT c.cut_id,
  avg(u.active_users) FILTER (WHERE u.date >= c.as_of - 90) AS active_users_90d,
  avg(u.logins) FILTER (WHERE u.date >= c.as_of - 90) AS logins_90d,
  avg({exact("u.feature_adoption")}) FILTER (WHERE u.date >= c.as_of - 90) AS adoption_90d,
  avg({exact("u.feature_adoption")}) FILTER (WHERE u.date >= c.as_of - 180 AND u.date < c.as_of - 90)
    AS adoption_prev_90d,
  sum({exact("u.meeting_minutes")}) FILTER (WHERE u.date >= c.as_of - 90) AS meeting_minutes_90d,
  {days_between("max(u.date) FILTER (WHERE u.logins > 0)", "any_value(c.as_of)")} AS days_since_last_login
FROM cuts c JOIN usage u ON u.account_id = c.account_id AND u.date < c.as_of
GROUP BY c.cut_id
"""

TICKETS_SQL = f"""
SELECT c.cut_id,
  count(*) FILTER (WHERE t.opened >= c.as_of - 365) AS tickets_12m,
  count(*) FILTER (WHERE t.opened >= c.as_of - 365 AND t.severity IN ('high', 'critical')) AS severe_tickets_12m,
  count(*) FILTER (WHERE t.severity IN ('high', 'critical') AND (t.closed IS NULL OR t.closed >= c.as_of))
    AS open_severe_tickets,
  max({days_between("t.opened", "c.as_of")})
    FILTER (WHERE t.severity IN ('high', 'critical') AND (t.closed IS NULL OR t.closed >= c.as_of))
    AS max_open_severe_days
FROM cuts c JOIN tickets t ON t.account_id = c.account_id AND t.opened < c.as_of
GROUP BY c.cut_id
"""

SURVEYS_SQL = """
WITH ranked AS (
  SELECT c.cut_id, s.nps, row_number() OVER (PARTITION BY c.cut_id ORDER BY s.date DESC) AS recent
  FROM cuts c JOIN surveys s ON s.account_id = c.account_id AND s.date < c.as_of
)
SELECT cut_id,
  max(nps) FILTER (WHERE recent = 1) AS nps_latest,
  max(nps) FILTER (WHERE recent = 2) AS nps_previous
FROM ranked WHERE recent <= 2 GROUP BY cut_id
"""


def _engagements_sql() -> str:
    counts = ",\n  ".join(
        f"count(*) FILTER (WHERE e.type = '{kind}') AS {column}" for kind, column in ENGAGEMENT_COLUMNS.items()
    )
    return f"""
    SELECT c.cut_id,
      {counts}
    FROM cuts c JOIN engagements e ON e.account_id = c.account_id AND e.date < c.as_of AND e.date >= c.as_of - 365
    GROUP BY c.cut_id
    """


ACCOUNTS_SQL = f"""
SELECT c.cut_id, c.account_id, c.as_of, a.* EXCLUDE (account_id, name),
  {days_between("a.first_seen", "c.as_of")} AS tenure_days
FROM cuts c JOIN accounts a USING (account_id)
"""


def _features_for_cuts(book: Book, cuts: pd.DataFrame, subscription_margin: float) -> pd.DataFrame:
    """Feature rows for each cut (columns cut_id, account_id, as_of)."""
    book.require("accounts")
    engine = book.engine
    engine.put("cuts_frame", cuts)
    engine.create_temp_table("cuts", "SELECT cut_id, account_id, CAST(as_of AS DATE) AS as_of FROM cuts_frame")
    engine.unput("cuts_frame")
    frame = engine.sql(ACCOUNTS_SQL).set_index("cut_id")
    blocks = {
        "contracts": _contract_sql(),
        "orders": ORDERS_SQL,
        "usage": USAGE_SQL,
        "tickets": TICKETS_SQL,
        "surveys": SURVEYS_SQL,
        "engagements": _engagements_sql(),
    }
    for table, sql in blocks.items():
        if not book.has(table):
            for column in OPTIONAL_FEATURES.get(table, []):
                frame[column] = np.nan
            continue
        part = engine.sql(sql).set_index("cut_id")
        frame = frame.join(part, how="left")
    engine.drop_temp_table("cuts")
    return _derive(frame, book, subscription_margin)


def _derive(frame: pd.DataFrame, book: Book, subscription_margin: float) -> pd.DataFrame:
    zero_when_absent = [
        "tickets_12m",
        "severe_tickets_12m",
        "open_severe_tickets",
        *ENGAGEMENT_COLUMNS.values(),
        "contract_revenue_12m",
        "contract_revenue_prev_12m",
        "arr",
        "product_lines",
        "renewals_past",
        "order_revenue_12m",
        "order_margin_12m",
        "order_revenue_prev_12m",
        "unpaid_orders",
    ]
    for table, columns in (("tickets", zero_when_absent[:3]), ("engagements", list(ENGAGEMENT_COLUMNS.values()))):
        if book.has(table):  # no rows in the window means zero, not unknown
            frame[columns] = frame[columns].fillna(0)
    # Money, counts of contracts and unpaid orders: nothing recorded means zero (also for a book
    # without an orders table: a subscription-only company has no order revenue).
    money = [c for c in zero_when_absent[len(ENGAGEMENT_COLUMNS) + 3 :] if c in frame]
    frame[money] = frame[money].fillna(0)
    as_of = pd.to_datetime(frame["as_of"])
    frame["next_renewal_date"] = pd.to_datetime(frame.get("next_renewal_date"))
    frame["days_to_next_renewal"] = (frame["next_renewal_date"] - as_of).dt.days
    frame["is_active"] = frame["arr"] > 0
    frame["revenue_12m"] = frame["order_revenue_12m"] + frame["contract_revenue_12m"]
    frame["margin_12m"] = frame["order_margin_12m"] + frame["contract_revenue_12m"] * subscription_margin
    frame["revenue_prev_12m"] = frame["order_revenue_prev_12m"] + frame["contract_revenue_prev_12m"]
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = frame["revenue_12m"] / frame["revenue_prev_12m"] - 1
    frame["revenue_growth"] = growth.where(frame["revenue_prev_12m"] > 0)
    if "adoption_prev_90d" in frame:
        frame["adoption_trend"] = frame["adoption_90d"] - frame.pop("adoption_prev_90d")
    if book.has("engagements"):
        frame["attended_seminar_12m"] = (frame["seminars_12m"] > 0).astype(int)
    if book.has("surveys"):
        frame["nps_change"] = frame["nps_latest"] - frame["nps_previous"]
    for column in ("frequency", "recency_days", "T_days"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame.drop(columns=["order_revenue_prev_12m", "contract_revenue_prev_12m"])


def build_features(book: Book, as_of: dt.date, subscription_margin: float) -> pd.DataFrame:
    """One row per account first seen before ``as_of``; features use only data dated before it.

    Returns a DataFrame indexed by ``account_id`` (sorted), with the ``as_of`` date as a column.
    """
    require_date(as_of)
    accounts = book.sql(
        f"SELECT account_id FROM accounts WHERE first_seen < DATE '{as_of.isoformat()}' ORDER BY account_id"
    )
    if accounts.empty:
        raise InsufficientDataError(f"No account was first seen before the as-of date {as_of}; choose a later --as-of.")
    cuts = accounts.assign(cut_id=np.arange(len(accounts)), as_of=pd.Timestamp(as_of))
    frame = _features_for_cuts(book, cuts, subscription_margin)
    return frame.set_index("account_id").sort_index()


def build_cut_features(book: Book, cuts: pd.DataFrame, subscription_margin: float) -> pd.DataFrame:
    """Features of arbitrary cuts: one row per row of ``cuts`` (columns account_id, as_of), in the
    same order, each measured with data dated before its own as-of date (the churn model's
    landmarks: several dates before each renewal)."""
    frame = cuts[["account_id", "as_of"]].reset_index(drop=True).assign(cut_id=lambda f: np.arange(len(f)))
    return _features_for_cuts(book, frame, subscription_margin).sort_index().reset_index(drop=True)


# Term classes by term length in days (end - start + 1), upper bounds inclusive: a month is 28-31
# days, a quarter 90-92, half a year 181-184, a year 365-366; the bounds sit between them.
TERM_CLASSES = (("monthly", 45), ("quarterly", 135), ("semi-annual", 270), ("annual", 548), ("multi-year", None))


def term_class(term_days: pd.Series) -> pd.Series:
    """monthly / quarterly / semi-annual / annual / multi-year from a contract's length in days."""
    days = pd.to_numeric(term_days, errors="coerce")
    labels = pd.Series("multi-year", index=days.index, dtype=object)
    for name, upper in reversed(TERM_CLASSES[:-1]):
        labels = labels.mask(days <= upper, name)
    return labels.mask(days.isna(), "unknown")


def build_contract_features(
    book: Book,
    lead_days: int,
    subscription_margin: float,
    decided_before: dt.date | None = None,
    *,
    lead_share_of_term: float | None = None,
) -> pd.DataFrame:
    """One row per decided contract (renewed / not_renewed): features at its cut-off ``end - lead``.

    The lead is ``lead_days``, or with ``lead_share_of_term`` (``features.renewal_lead_share_of_term``)
    the smaller of ``lead_days`` and that share of the contract's term (at least one day), so a
    monthly contract's features are taken about a week before its end instead of before it began.
    Columns ``term_days`` (end - start + 1), ``term_class`` (:data:`TERM_CLASSES`) and ``lead_days``
    (this contract's lead) say which. ``decided_before`` keeps only contracts whose end is before that
    date (for back-tests that must not see later decisions). Column ``renewed`` is the outcome (1/0).
    """
    book.require("contracts")
    where = "renewal_outcome IN ('renewed', 'not_renewed')"
    if decided_before is not None:
        where += f" AND \"end\" < DATE '{require_date(decided_before, 'decided_before').isoformat()}'"
    lead = f"{int(lead_days)}"
    if lead_share_of_term is not None:
        lead = f"least({lead}, greatest(1, CAST(round({float(lead_share_of_term)} * term_days) AS INTEGER)))"
    contracts = book.sql(
        f"""WITH k AS (
              SELECT *, {days_between("start", '"end"')} + 1 AS term_days FROM contracts WHERE {where}
            ), led AS (SELECT *, {lead} AS lead_days FROM k)
            SELECT contract_id, k.account_id, "end", "end" - lead_days AS cutoff,
                   CASE WHEN renewal_outcome = 'renewed' THEN 1 ELSE 0 END AS renewed, annual_value, product_line,
                   term_days, lead_days
            FROM led k JOIN accounts a USING (account_id)
            WHERE "end" - lead_days > a.first_seen ORDER BY contract_id"""
    )
    if contracts.empty:
        raise InsufficientDataError(
            "No contract has a renewal decision yet (all are open); drivers need decided contracts."
        )
    contracts["term_class"] = term_class(contracts["term_days"])
    cuts = contracts[["account_id", "cutoff"]].drop_duplicates().reset_index(drop=True)
    cuts = cuts.assign(cut_id=np.arange(len(cuts))).rename(columns={"cutoff": "as_of"})
    feats = _features_for_cuts(book, cuts, subscription_margin)
    merged = contracts.merge(feats.rename(columns={"as_of": "cutoff"}), on=["account_id", "cutoff"], how="left")
    return merged.set_index("contract_id")


def _lapsed_sql(contracts: str) -> str:
    """Per account: the end of its latest contract and whether every contract ending then lapsed."""
    return f"""
      SELECT k.account_id, k."end" AS last_end, bool_and(k.renewal_outcome = 'not_renewed') AS lapsed
      FROM {contracts} k
      JOIN (SELECT account_id, max("end") AS last_end FROM {contracts} GROUP BY account_id) m
        ON m.account_id = k.account_id AND m.last_end = k."end"
      GROUP BY k.account_id, k."end"
    """


def _order_money_sql(book: Book, lit: str) -> str:
    """Order revenue, margin and count in the year from ``lit`` per account (none without orders)."""
    if not book.has("orders"):
        return (
            "SELECT CAST(NULL AS VARCHAR) AS account_id, 0 AS order_revenue, 0 AS order_margin, "
            "0 AS orders_next_12m WHERE FALSE"
        )
    return f"""
        SELECT account_id, sum({exact("amount")}) AS order_revenue, sum({exact("amount - cost")}) AS order_margin,
          count(*) AS orders_next_12m
        FROM orders WHERE date >= {lit} AND date < {lit} + 365 GROUP BY account_id"""


def build_outcomes(book: Book, as_of: dt.date, subscription_margin: float) -> pd.DataFrame:
    """What happened on or after ``as_of`` to each account with a contract active at ``as_of``.

    Columns: next_renewal_date, renewed_next (1/0/NaN while undecided), churned, churn_date (first
    day without a contract), duration_days (from as_of to churn, or to the end of the data),
    revenue_next_12m, margin_next_12m, orders_next_12m, window_complete.
    """
    lit = f"DATE '{require_date(as_of).isoformat()}'"
    days_in_year = days_between(f"greatest(start, {lit})", f'least("end" + 1, {lit} + 365)')
    end_of_data = pd.Timestamp(book.extract_date + dt.timedelta(days=1))
    frame = book.sql(f"""
      WITH active AS (
        SELECT account_id, min("end") AS next_renewal_date FROM contracts
        WHERE start < {lit} AND "end" >= {lit} GROUP BY account_id
      ), decision AS (
        SELECT a.account_id,
          max(CASE k.renewal_outcome WHEN 'renewed' THEN 1 WHEN 'not_renewed' THEN 0 END) AS renewed_next
        FROM active a JOIN contracts k ON k.account_id = a.account_id AND k."end" = a.next_renewal_date
        GROUP BY a.account_id
      ), lapsed AS ({_lapsed_sql("contracts")}),
      money AS ({_order_money_sql(book, lit)}), subscription AS (
        SELECT account_id,
          sum({exact("annual_value")} * greatest(0, {days_in_year})) / 365.0 AS contract_revenue
        FROM contracts GROUP BY account_id
      )
      SELECT a.account_id, a.next_renewal_date, d.renewed_next,
        coalesce(l.lapsed, false) AS churned,
        CASE WHEN l.lapsed THEN l.last_end + 1 END AS churn_date,
        coalesce(m.order_revenue, 0) + coalesce(s.contract_revenue, 0) AS revenue_next_12m,
        coalesce(m.order_margin, 0) + coalesce(s.contract_revenue, 0) * {float(subscription_margin)} AS margin_next_12m,
        coalesce(m.orders_next_12m, 0) AS orders_next_12m
      FROM active a LEFT JOIN decision d USING (account_id) LEFT JOIN lapsed l USING (account_id)
        LEFT JOIN money m USING (account_id) LEFT JOIN subscription s USING (account_id)
      ORDER BY a.account_id
    """).set_index("account_id")
    stop = pd.to_datetime(frame["churn_date"]).fillna(end_of_data)
    frame["duration_days"] = (stop - pd.Timestamp(as_of)).dt.days
    frame["renewed_next"] = frame["renewed_next"].astype(float)
    frame["window_complete"] = pd.Timestamp(as_of) + pd.Timedelta(days=365) <= end_of_data
    return frame


def account_lifetimes(book: Book, as_of: dt.date) -> pd.DataFrame:
    """Tenure-scale durations known at ``as_of``: start (first contract), churn if it happened before
    ``as_of`` (event = 1), else censored at ``as_of`` (event = 0). Durations in whole days."""
    lit = f"DATE '{require_date(as_of).isoformat()}'"
    frame = book.sql(f"""
      WITH known AS (SELECT * FROM contracts WHERE start < {lit}),
      lapsed AS ({_lapsed_sql("known")})
      SELECT l.account_id, (SELECT min(start) FROM known k WHERE k.account_id = l.account_id) AS start,
        CASE WHEN l.lapsed AND l.last_end < {lit} THEN l.last_end + 1 ELSE {lit} END AS end_or_censor,
        CASE WHEN l.lapsed AND l.last_end < {lit} THEN 1 ELSE 0 END AS event
      FROM lapsed l ORDER BY l.account_id
    """).set_index("account_id")
    frame["duration_days"] = (pd.to_datetime(frame["end_or_censor"]) - pd.to_datetime(frame["start"])).dt.days
    return frame
