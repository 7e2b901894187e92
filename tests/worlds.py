"""Independent seeded worlds: small contract-valid customer books the project did not generate.

``analysis.synth`` writes the project's own book, and an analysis tuned on it may only be right
about it. The generators here are written from the data contract (docs/data_contract.md) alone,
with numpy and pandas, and **never import** ``analysis``: each plants a different, known truth
(calendar-year terms, no effect at all, confounding by company size, churn rising with renewal
number plus silent leavers, a subscription-only SaaS book, four high-value archetypes) so that a
test can check that every claim of the pipeline holds on data made by someone else.

Every generator takes keyword parameters and a ``seed`` and returns a :class:`World`:

* ``world.tables``: contract tables as DataFrames (dates as ``datetime64``; missing dates NaT);
* ``world.truth``: the planted parameters (scalars and dicts; per-account / per-decision truth as
  DataFrames under ``accounts`` and ``decisions``);
* ``world.extract_date``: the export day (nothing is dated after it);
* ``world.write(folder)``: one ``<table>.parquet`` per table (dates as Parquet ``date32``) and
  ``extract.json`` = ``{"extract_date": "YYYY-MM-DD"}``, the layout ``analysis.io.load_book`` reads.

How the annual worlds are made (``calendar_terms``, ``null_world``, ``confounded_by_size``,
``rising_churn_silent_leavers``, ``four_archetypes``):

* Each account signs its first contract on ``first_seen``: one per product line (1 to
  ``max_product_lines``, default 3, uniform), all co-terminous and decided together, so
  ``product_lines`` varies but has no effect.
  Terms are calendar years (``end = start + 1 year - 1 day``: 365 or 366 days) or, with
  ``fixed_365=True``, 365 days. A renewed contract is followed by the next term from ``end + 1``;
  a contract whose end is on or after the extract date is ``open``.
* Per account and term the generator draws the *state* the renewal decision sees at its cut-off
  ``end - 90 days`` (``lead_days``), and writes the rows so that the project's feature definitions
  measure exactly that state at the cut-off:
  ``attended_seminar_12m`` (0/1: seminars are planted only in ``[cutoff - 330, cutoff - 30)``),
  ``open_severe_tickets`` (0/1: one high/critical ticket opened 1-60 days before the cut-off and
  closed 1-60 days after it; other severe tickets open and close early in each term),
  ``nps_latest`` (a survey 20-120 days before the cut-off), and ``adoption_90d`` (the term's
  adoption level; each usage row carries N(0, 0.02) noise, so the measured 90-day mean differs
  from the planted level by ~0.006 (SD), at most ~0.03). The first three match the project's
  ``build_contract_features`` exactly (checked on every decision of the default worlds).
* Usage has one row per ``usage_every_days``-day block (default 7; on a random day of each block,
  a sparse but valid daily table; 1 = every day) from ``first_seen`` to the last day of the
  account's last contract (or the extract date);
  logins are positive on every row except where a world plants silence. Webinars, QBRs,
  trainings, executive visits, low/medium tickets and orders are Poisson noise with no effect.
* Random streams are separate per purpose, so ``fixed_365=True`` gives the same accounts, states
  and decision draws as the calendar-year world; only dates (and draws on dated rows) differ.

Run ``python tests/worlds.py OUT_DIR`` to write every world into ``OUT_DIR/<name>``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ALL_WORLDS",
    "World",
    "calendar_terms",
    "confounded_by_size",
    "confounded_flip_unbalanced",
    "four_archetypes",
    "null_world",
    "rising_churn_silent_leavers",
    "seasonal_orders",
    "subscription_only",
    "value_predicts_churn",
    "with_contradictory_history",
    "with_money_scale",
    "with_reexported_orders",
    "without_tables",
]

# --- the contract, restated (columns and kinds; analysis.contract is deliberately not imported) ---

COLUMNS = {
    "accounts": {
        "account_id": "string",
        "name": "string",
        "industry": "string",
        "region": "string",
        "size_band": "string",
        "employees": "int",
        "first_seen": "date",
        "parent_account_id": "string",
        "market_influence": "float",
        "strategic_flag": "bool",
        "credit_rating": "string",
    },
    "contracts": {
        "contract_id": "string",
        "account_id": "string",
        "start": "date",
        "end": "date",
        "annual_value": "float",
        "product_line": "string",
        "renewal_outcome": "string",
    },
    "orders": {
        "order_id": "string",
        "account_id": "string",
        "date": "date",
        "amount": "float",
        "cost": "float",
        "paid_date": "date",
    },
    "usage": {
        "account_id": "string",
        "date": "date",
        "active_users": "int",
        "logins": "int",
        "feature_adoption": "float",
        "meeting_minutes": "float",
    },
    "tickets": {
        "ticket_id": "string",
        "account_id": "string",
        "opened": "date",
        "closed": "date",
        "severity": "string",
    },
    "surveys": {"account_id": "string", "date": "date", "nps": "int"},
    "engagements": {"account_id": "string", "date": "date", "type": "string"},
}
TABLE_ORDER = tuple(COLUMNS)
FILE_SUFFIXES = (".parquet", ".csv", ".xlsx")

DATA_START = dt.date(2019, 1, 1)
EXTRACT_DATE = dt.date(2025, 12, 31)
LEAD_DAYS = 90
INDUSTRIES = ("manufacturing", "technology", "retail", "healthcare")
REGIONS = ("North", "South", "East", "West")
SIZE_BANDS = ("small", "mid-market", "enterprise")
PRODUCT_LINES = ("Platform", "Analytics", "Connectors", "Support Plus")
BAND_EMPLOYEES = {"small": 40, "mid-market": 350, "enterprise": 3000}  # medians
BAND_SEATS = {"small": 8, "mid-market": 40, "enterprise": 200}
BAND_ARR = {"small": 6_000.0, "mid-market": 30_000.0, "enterprise": 120_000.0}


@dataclass
class World:
    """A generated book: contract tables, the planted truth, and the extract date."""

    tables: dict[str, pd.DataFrame]
    truth: dict
    extract_date: dt.date
    name: str = "world"

    def write(self, folder, fmt: str = "parquet", truth_file: bool = False) -> Path:
        """Write ``<table>.parquet`` (or ``.csv``) per table and ``extract.json`` into ``folder``.

        Earlier ``<table>.parquet/.csv/.xlsx`` files of contract tables in the folder are removed
        first (a stale ``orders.parquet`` would otherwise be read as part of this world); a
        partitioned ``<table>/`` folder there is refused. ``truth_file=True`` also writes
        ``truth.json`` (scalars and dicts of ``truth``; DataFrames are left out)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for table in COLUMNS:
            if (folder / table).is_dir():
                raise FileExistsError(f"{folder / table} is a partitioned table folder; write the world elsewhere.")
            for suffix in FILE_SUFFIXES:
                (folder / f"{table}{suffix}").unlink(missing_ok=True)
        for table, frame in self.tables.items():
            if fmt == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(_to_arrow(table, frame), folder / f"{table}.parquet")
            elif fmt == "csv":
                frame.to_csv(folder / f"{table}.csv", index=False, date_format="%Y-%m-%d")
            else:
                raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
        (folder / "extract.json").write_text(
            json.dumps({"extract_date": self.extract_date.isoformat()}), encoding="utf-8"
        )
        if truth_file:
            plain = {k: v for k, v in self.truth.items() if not isinstance(v, (pd.DataFrame, pd.Series))}
            (folder / "truth.json").write_text(
                json.dumps(plain, indent=2, default=str, sort_keys=True), encoding="utf-8"
            )
        return folder

    def copy(self) -> World:
        return World(
            {k: v.copy() for k, v in self.tables.items()}, copy.deepcopy(self.truth), self.extract_date, self.name
        )


def _to_arrow(table: str, frame: pd.DataFrame):
    """Arrow table with contract kinds: date32 dates, int64 ints, float64, bool, strings."""
    import pyarrow as pa

    kinds = COLUMNS[table]
    arrays, names = [], []
    for col in frame.columns:
        kind = kinds.get(col)
        values = frame[col]
        if kind == "date":
            days = pd.to_datetime(values).to_numpy().astype("datetime64[D]")
            arr = pa.array(days, type=pa.date32(), mask=pd.isna(values).to_numpy())
        elif kind == "int":
            arr = pa.array(pd.array(values, dtype="Int64"), type=pa.int64())
        elif kind == "float":
            arr = pa.array(values.astype("float64"), type=pa.float64())
        elif kind == "bool":
            arr = pa.array(pd.array(values, dtype="boolean"), type=pa.bool_())
        elif kind == "string":
            arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.string())
        else:  # extra analyst columns keep pandas' own conversion
            arr = pa.array(values)
        arrays.append(arr)
        names.append(col)
    return pa.table(arrays, names=names)


# --- small tools ---------------------------------------------------------------------------------


def _streams(seed: int, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """One independent generator per purpose, so one table's draws never shift another's."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


STREAMS = ("accounts", "states", "decisions", "usage", "tickets", "surveys", "engagements", "orders", "extra")


def _day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def _dates(days, valid=None) -> pd.Series:
    days = np.asarray(days, dtype=np.int64)
    out = pd.Series(pd.to_datetime(days.astype("datetime64[D]")))
    if valid is not None:
        out = out.where(np.asarray(valid, dtype=bool))
    return out


def _add_months(days, months):
    """Calendar month arithmetic on day numbers (broadcasting): Jan 31 + 1 month = Feb 28/29."""
    d = np.asarray(days).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    day_of_month = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months).astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    return (target.astype("datetime64[D]") + np.minimum(day_of_month, length - 1)).astype(np.int64)


def _expand(counts) -> tuple[np.ndarray, np.ndarray]:
    """Row index repeated ``counts`` times and the position 0..count-1 within each row."""
    counts = np.maximum(np.asarray(counts, dtype=np.int64), 0)
    rows = np.repeat(np.arange(len(counts)), counts)
    return rows, np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)


def _poisson_days(rng, rate_per_year, lo, hi):
    """Days of a Poisson process per row on [lo, hi] (inclusive); returns (row, day)."""
    span = np.maximum(np.asarray(hi) - np.asarray(lo) + 1, 0)
    counts = rng.poisson(np.asarray(rate_per_year, dtype=float) * span / 365.0)
    rows = np.repeat(np.arange(len(span)), counts)
    days = np.asarray(lo)[rows] + np.floor(rng.random(len(rows)) * span[rows]).astype(np.int64)
    return rows, days


def _usage_days(rng, first, last, step):
    """One usage row per account in each ``step``-day block from ``first`` to ``last``, on a random day
    of the block (so that the days since the last row do not depend on tenure); step 1 = daily."""
    rows, j = _expand((last - first) // step + 1)
    days = first[rows] + step * j + (rng.integers(0, step, len(rows)) if step > 1 else 0)
    keep = days <= last[rows]
    return rows[keep], days[keep]


def _logit(p):
    return float(np.log(p / (1 - p)))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ids(prefix: str, n: int, offset: int = 0) -> np.ndarray:
    return np.array([f"{prefix}{offset + i:05d}" for i in range(n)], dtype=object)


def _entry_days(rng, n, data_start: dt.date, extract: dt.date, early_share: float) -> np.ndarray:
    """First-seen days: ``early_share`` of accounts in the first year, the rest uniform up to 120 days
    before the extract."""
    lo, hi = _day(data_start), _day(extract) - 120
    early = rng.random(n) < early_share
    return np.where(early, lo + rng.integers(0, 365, n), rng.integers(lo, hi + 1, n)).astype(np.int64)


# --- account profiles (per-account traits that drive the behaviour tables) ------------------------


def _profile(
    rng,
    n,
    data_start,
    extract,
    *,
    early_share=0.3,
    size_probs=(0.5, 0.35, 0.15),
    industries=INDUSTRIES,
    max_product_lines=1,
    id_prefix="A",
) -> pd.DataFrame:
    band = np.array(SIZE_BANDS, dtype=object)[rng.choice(3, size=n, p=np.asarray(size_probs) / sum(size_probs))]
    employees = np.maximum(
        1, np.round(np.array([BAND_EMPLOYEES[b] for b in band]) * np.exp(rng.normal(0, 0.45, n)))
    ).astype(np.int64)
    ids = _ids(id_prefix, n)
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Company {i}" for i in ids],
            "industry": np.array(industries, dtype=object)[rng.integers(0, len(industries), n)],
            "region": np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n)],
            "size_band": band,
            "employees": employees,
            "first_seen_day": _entry_days(rng, n, data_start, extract, early_share),
            "lines": rng.integers(1, max_product_lines + 1, n),
            "seats": np.maximum(2, np.round(np.array([BAND_SEATS[b] for b in band]) * np.exp(rng.normal(0, 0.4, n)))),
            "arr_per_line": np.round(np.array([BAND_ARR[b] for b in band]) * np.exp(rng.normal(0, 0.6, n)), -1),
            "arr_growth": rng.normal(0.04, 0.03, n),
            "adoption_base": np.clip(rng.normal(0.5, 0.12, n), 0.08, 0.92),
            "adoption_term_sd": np.full(n, 0.08),
            "seminar_p": rng.beta(2.0, 3.0, n),
            "severe_p": rng.beta(1.5, 4.5, n),
            "nps_base": rng.normal(7.5, 1.4, n),
            "ticket_rate": rng.gamma(2.0, 1.5, n),
            "severe_bg_rate": np.full(n, 0.5),
            "webinar_rate": rng.gamma(2.0, 1.0, n),
            "qbr_rate": np.where(band == "enterprise", 3.0, np.where(band == "mid-market", 1.0, 0.2)),
            "exec_rate": np.where(band == "enterprise", 0.5, 0.05),
            "training_rate": rng.gamma(2.0, 0.5, n),
            "meeting_prob": np.where(band == "enterprise", 0.25, np.where(band == "mid-market", 0.10, 0.03)),
            "order_rate": rng.gamma(1.5, 2.0, n),
            "order_amount": np.round(np.array([BAND_ARR[b] for b in band]) * 0.08 * np.exp(rng.normal(0, 0.5, n)), -1),
            "margin_rate": np.clip(rng.normal(0.35, 0.1, n), 0.02, 0.8),
            "pay_delay_mean": np.maximum(5.0, rng.normal(40.0, 12.0, n)),
        }
    )


# --- the annual engine ----------------------------------------------------------------------------


def _annual_book(
    seed,
    profile: pd.DataFrame,
    renew_fn,
    *,
    data_start,
    extract,
    fixed_365=False,
    lead_days=LEAD_DAYS,
    usage_every_days=7,
    silence=None,
    extra_account_columns=(),
    rngs=None,
):
    """Contracts, decisions and behaviour tables for accounts on annual terms.

    ``renew_fn(k, rows, state)`` gives P(renew) at the end of term ``k`` (0-based; renewal number
    ``k + 1``) for account rows ``rows`` whose cut-off state is ``state`` (dict of arrays).
    ``silence``: None, or (rng-free) mode 'zeros' | 'absent' | 'mixed': leavers go silent for the
    last 60-90 days of their last contract.
    """
    r = rngs or _streams(seed, STREAMS)
    n = len(profile)
    ext = _day(extract)
    fs = profile["first_seen_day"].to_numpy(np.int64)
    n_terms = (ext - fs.min()) // 365 + 2
    k_idx = np.arange(n_terms + 1)
    if fixed_365:
        starts_all = fs[:, None] + 365 * k_idx[None, :]
    else:
        starts_all = _add_months(fs[:, None], 12 * k_idx[None, :])
    starts, ends = starts_all[:, :-1], starts_all[:, 1:] - 1
    cutoffs = ends - lead_days

    # Cut-off states and decision draws: fixed shapes, drawn before anything dated.
    rs = r["states"]
    seminar = (rs.random((n, n_terms)) < profile["seminar_p"].to_numpy()[:, None]).astype(int)
    adoption = np.clip(
        profile["adoption_base"].to_numpy()[:, None]
        + rs.normal(0, 1, (n, n_terms)) * profile["adoption_term_sd"].to_numpy()[:, None],
        0.03,
        0.97,
    )
    severe_open = (rs.random((n, n_terms)) < profile["severe_p"].to_numpy()[:, None]).astype(int)
    nps = np.clip(np.round(profile["nps_base"].to_numpy()[:, None] + rs.normal(0, 1.2, (n, n_terms))), 0, 10)
    uniforms = r["decisions"].random((n, n_terms))

    alive = np.ones(n, dtype=bool)
    last_term = np.full(n, -1)
    outcome_last = np.full(n, "open", dtype=object)
    next_p = np.full(n, np.nan)  # open term: the decision after the extract, drawn but not in the data
    next_renews = np.full(n, np.nan)
    decisions = []
    for k in range(n_terms):
        exists = alive & (starts[:, k] <= ext)
        last_term[exists] = k
        decided = exists & (ends[:, k] < ext)
        open_rows = np.flatnonzero(exists & ~decided)
        if len(open_rows):
            state = {
                "attended_seminar_12m": seminar[open_rows, k],
                "adoption_90d": adoption[open_rows, k],
                "open_severe_tickets": severe_open[open_rows, k],
                "nps_latest": nps[open_rows, k],
            }
            next_p[open_rows] = np.broadcast_to(np.asarray(renew_fn(k, open_rows, state), dtype=float), open_rows.shape)
            next_renews[open_rows] = (uniforms[open_rows, k] < next_p[open_rows]).astype(float)
        alive &= decided  # an open term is the last one
        rows = np.flatnonzero(decided)
        if len(rows) == 0:
            continue
        state = {
            "attended_seminar_12m": seminar[rows, k],
            "adoption_90d": adoption[rows, k],
            "open_severe_tickets": severe_open[rows, k],
            "nps_latest": nps[rows, k],
        }
        p = np.asarray(renew_fn(k, rows, state), dtype=float)
        p = np.broadcast_to(p, rows.shape)
        renewed = uniforms[rows, k] < p
        decisions.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "term": k,
                    "renewal_number": k + 1,
                    "start_day": starts[rows, k],
                    "end_day": ends[rows, k],
                    "cutoff_day": cutoffs[rows, k],
                    **state,
                    "p_renew": p,
                    "renewed": renewed.astype(int),
                }
            )
        )
        left = rows[~renewed]
        alive[left] = False
        outcome_last[left] = "not_renewed"
    dec = pd.concat(decisions, ignore_index=True) if decisions else pd.DataFrame(columns=["row"])
    churned = outcome_last == "not_renewed"
    last_day = np.where(churned, ends[np.arange(n), last_term], ext)  # last day with activity

    # Contracts: terms 0..last_term, one row per product line.
    b_row, b_term = _expand(last_term + 1)
    rep, c_line = _expand(profile["lines"].to_numpy()[b_row])
    c_row, c_term = b_row[rep], b_term[rep]
    is_last = c_term == last_term[c_row]
    outcome = np.where(is_last, outcome_last[c_row], "renewed")
    ids = profile["account_id"].to_numpy()
    value = profile["arr_per_line"].to_numpy()[c_row] * (1 + profile["arr_growth"].to_numpy()[c_row]) ** c_term
    contracts = pd.DataFrame(
        {
            "contract_id": [f"K{a}-{t + 1:02d}-{ln + 1}" for a, t, ln in zip(ids[c_row], c_term, c_line)],
            "account_id": ids[c_row],
            "start": _dates(starts[c_row, c_term]),
            "end": _dates(ends[c_row, c_term]),
            "annual_value": np.round(np.maximum(value, 0), 2),
            "product_line": np.array(PRODUCT_LINES, dtype=object)[c_line % len(PRODUCT_LINES)],
            "renewal_outcome": outcome,
        }
    )

    # Usage on a grid of every `usage_every_days` days over each account's lifetime.
    step = int(usage_every_days)
    ru = r["usage"]
    u_row, u_day = _usage_days(ru, fs, last_day, step)
    u_term = (u_day[:, None] >= starts[u_row]).sum(axis=1) - 1
    adopt = np.round(np.clip(adoption[u_row, u_term] + ru.normal(0, 0.02, len(u_row)), 0, 1), 4)
    active = np.maximum(1, ru.poisson(profile["seats"].to_numpy()[u_row] * adopt))
    logins = active + ru.poisson(0.6 * active)
    meeting = (ru.random(len(u_row)) < profile["meeting_prob"].to_numpy()[u_row]) * ru.choice(
        [30.0, 45.0, 60.0, 90.0], size=len(u_row)
    )
    keep = np.ones(len(u_row), dtype=bool)
    silence_start = np.full(n, -1, dtype=np.int64)
    silence_mode = np.full(n, "", dtype=object)
    if silence is not None:
        gap = r["extra"].integers(60, 91, n)  # silent for the last 60-90 days
        leaving = churned | (next_renews == 0)  # decided leavers and leavers-to-be of an open term
        silence_start = np.where(leaving, ends[np.arange(n), last_term] - gap + 1, -1)
        modes = {
            "zeros": np.full(n, "zeros", dtype=object),
            "absent": np.full(n, "absent", dtype=object),
            "mixed": np.where(r["extra"].random(n) < 0.5, "zeros", "absent").astype(object),
        }[silence]
        silence_mode = np.where(leaving, modes, "")
        silent = leaving[u_row] & (u_day >= silence_start[u_row])
        zero = silent & (silence_mode[u_row] == "zeros")
        active, logins, adopt = np.where(zero, 0, active), np.where(zero, 0, logins), np.where(zero, 0.0, adopt)
        meeting = np.where(silent, 0.0, meeting)
        keep = ~(silent & (silence_mode[u_row] == "absent"))
    usage = pd.DataFrame(
        {
            "account_id": ids[u_row],
            "date": _dates(u_day),
            "active_users": active.astype(np.int64),
            "logins": logins.astype(np.int64),
            "feature_adoption": adopt,
            "meeting_minutes": meeting,
        }
    )[keep].reset_index(drop=True)

    # Terms within each account's lifetime (for per-term planted rows).
    t_row, t_term = _expand(last_term + 1)
    t_start, t_cut = starts[t_row, t_term], cutoffs[t_row, t_term]
    horizon = np.minimum(last_day[t_row], ext)

    # Engagements: planted seminars per term, Poisson noise for the other types.
    re_ = r["engagements"]
    has_sem = seminar[t_row, t_term] == 1
    lo = np.maximum(fs[t_row], t_cut - 330)
    hi = np.minimum(t_cut - 30, horizon)  # exclusive
    ok = has_sem & (hi > lo)
    n_sem = np.where(ok, 1 + (re_.random(len(t_row)) < 0.3), 0)
    s_rows, _ = _expand(n_sem)
    s_day = lo[s_rows] + np.floor(re_.random(len(s_rows)) * (hi - lo)[s_rows]).astype(np.int64)
    parts = [pd.DataFrame({"row": t_row[s_rows], "day": s_day, "type": "seminar"})]
    for kind, rate in (
        ("webinar", "webinar_rate"),
        ("qbr", "qbr_rate"),
        ("training", "training_rate"),
        ("executive_visit", "exec_rate"),
    ):
        rows, days = _poisson_days(re_, profile[rate].to_numpy(), fs, np.minimum(last_day, ext))
        parts.append(pd.DataFrame({"row": rows, "day": days, "type": kind}))
    eng = pd.concat(parts, ignore_index=True).sort_values(["row", "day", "type"], kind="stable")
    engagements = pd.DataFrame(
        {"account_id": ids[eng["row"]], "date": _dates(eng["day"]), "type": eng["type"].to_numpy()}
    ).reset_index(drop=True)

    # Tickets: low/medium noise; severe ones quick and early in each term; the planted open one.
    rt = r["tickets"]
    b_rows, b_open = _poisson_days(rt, profile["ticket_rate"].to_numpy(), fs, np.minimum(last_day, ext))
    b_close = b_open + np.ceil(rt.exponential(4.0, len(b_rows))).astype(np.int64)
    b_sev = np.array(["low", "medium"], dtype=object)[rt.integers(0, 2, len(b_rows))]
    q_count = rt.poisson(profile["severe_bg_rate"].to_numpy()[t_row])
    q_idx, _ = _expand(q_count)
    q_open = t_start[q_idx] + rt.integers(0, 150, len(q_idx))
    q_close = q_open + rt.integers(1, 15, len(q_idx))
    q_ok = q_open <= horizon[q_idx]
    p_ok = (severe_open[t_row, t_term] == 1) & (t_cut <= ext) & (t_cut <= last_day[t_row])
    p_idx = np.flatnonzero(p_ok)
    p_open = t_cut[p_idx] - rt.integers(1, 61, len(p_idx))
    p_close = t_cut[p_idx] + rt.integers(1, 61, len(p_idx))
    sev_pick = lambda m: np.array(["high", "critical"], dtype=object)[rt.integers(0, 2, m)]  # noqa: E731
    tk = (
        pd.DataFrame(
            {
                "row": np.concatenate([b_rows, t_row[q_idx][q_ok], t_row[p_idx]]),
                "opened": np.concatenate([b_open, q_open[q_ok], p_open]),
                "closed": np.concatenate([b_close, q_close[q_ok], p_close]),
                "severity": np.concatenate([b_sev, sev_pick(int(q_ok.sum())), sev_pick(len(p_idx))]),
            }
        )
        .sort_values(["row", "opened"], kind="stable")
        .reset_index(drop=True)
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": _ids("T", len(tk)),
            "account_id": ids[tk["row"]],
            "opened": _dates(tk["opened"]),
            "closed": _dates(tk["closed"], tk["closed"] <= ext),
            "severity": tk["severity"].to_numpy(),
        }
    )

    # Surveys: one early in each term (noisy), one 20-120 days before the cut-off (the planted NPS).
    rv = r["surveys"]
    e_day = t_start + 60
    e_ok = e_day <= horizon
    e_nps = np.clip(np.round(nps[t_row, t_term] + rv.normal(0, 1.0, len(t_row))), 0, 10)
    l_day = t_cut - rv.integers(20, 121, len(t_row))
    l_ok = (l_day <= horizon) & (l_day >= fs[t_row])
    sv = pd.DataFrame(
        {
            "row": np.concatenate([t_row[e_ok], t_row[l_ok]]),
            "day": np.concatenate([e_day[e_ok], l_day[l_ok]]),
            "nps": np.concatenate([e_nps[e_ok], nps[t_row, t_term][l_ok]]).astype(np.int64),
        }
    )
    sv = sv.sort_values(["row", "day"]).drop_duplicates(["row", "day"], keep="last")
    surveys = pd.DataFrame({"account_id": ids[sv["row"]], "date": _dates(sv["day"]), "nps": sv["nps"].to_numpy()})

    orders = _orders(r["orders"], profile, fs, np.minimum(last_day, ext), ext)

    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": profile["name"].to_numpy(),
            "industry": profile["industry"].to_numpy(),
            "region": profile["region"].to_numpy(),
            "size_band": profile["size_band"].to_numpy(),
            "employees": profile["employees"].to_numpy(np.int64),
            "first_seen": _dates(fs),
            **{c: profile[c].to_numpy() for c in extra_account_columns},
        }
    )
    tables = {
        "accounts": accounts,
        "contracts": contracts,
        "orders": orders,
        "usage": usage,
        "tickets": tickets,
        "surveys": surveys,
        "engagements": engagements,
    }

    if len(dec):
        dec.insert(0, "account_id", ids[dec["row"].to_numpy()])
        for col in ("start_day", "end_day", "cutoff_day"):
            dec[col.replace("_day", "")] = _dates(dec.pop(col))
        dec = dec.drop(columns="row")
    term_days = (ends - starts + 1)[c_row, c_term]
    acc_truth = profile.drop(columns=["first_seen_day"]).assign(
        first_seen=_dates(fs),
        churned=churned,
        terms=last_term + 1,
        last_contract_end=_dates(ends[np.arange(n), last_term]),
        churn_date=_dates(last_day + 1, churned),
        silence_start=_dates(silence_start, silence_start >= 0),
        silence_mode=silence_mode,
        next_decision_p=next_p,
        next_decision_renews=next_renews,
    )
    stats = {
        "n_accounts": int(n),
        "n_contracts": len(contracts),
        "n_decisions": len(dec),
        "n_non_renewals": int((dec["renewed"] == 0).sum()) if len(dec) else 0,
        "renewal_rate": round(float(dec["renewed"].mean()), 4) if len(dec) else None,
        "churned_accounts": int(churned.sum()),
        "term_days_counts": {int(k): int(v) for k, v in pd.Series(term_days).value_counts().sort_index().items()},
        "lead_days": int(lead_days),
        "usage_every_days": step,
        "fixed_365": bool(fixed_365),
        "data_start": dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + int(fs.min())).isoformat(),
        "extract_date": extract.isoformat(),
    }
    return tables, dec, acc_truth, stats


def _orders(rng, profile, lo, hi, ext):
    rows, days = _poisson_days(rng, profile["order_rate"].to_numpy(), lo, hi)
    order = np.lexsort((days, rows))
    rows, days = rows[order], days[order]
    amount = np.round(profile["order_amount"].to_numpy()[rows] * np.exp(rng.normal(0, 0.5, len(rows))), 2)
    cost = np.round(amount * (1 - profile["margin_rate"].to_numpy()[rows]), 2)
    paid = days + np.maximum(0, np.round(rng.normal(profile["pay_delay_mean"].to_numpy()[rows], 8.0))).astype(np.int64)
    return pd.DataFrame(
        {
            "order_id": _ids("O", len(rows)),
            "account_id": profile["account_id"].to_numpy()[rows],
            "date": _dates(days),
            "amount": amount,
            "cost": cost,
            "paid_date": _dates(paid, paid <= ext),
        }
    )


def _finish(name, tables, dec, acc_truth, stats, truth) -> World:
    truth = {"world": name, **truth, **stats, "decisions": dec, "accounts": acc_truth}
    return World(tables, truth, dt.date.fromisoformat(stats["extract_date"]), name)


# --- 1. calendar-year terms with planted logit drivers ---------------------------------------------

DEFAULT_BETAS = {"attended_seminar_12m": 0.8, "adoption_90d": 3.0, "open_severe_tickets": -1.2, "nps_latest": 0.0}
ADOPTION_REFERENCE = 0.5


def calendar_terms(
    *,
    n_accounts: int = 1500,
    seed: int = 1,
    baseline_renewal: float = 0.75,
    betas: dict | None = None,
    fixed_365: bool = False,
    max_product_lines: int = 3,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """Annual contracts on calendar-year terms (365 or 366 days), renewal by a planted logit.

    Outcome: at the end of every term, P(renew) = expit(logit(baseline_renewal)
    + b_sem * attended_seminar_12m + b_adopt * (adoption_90d - 0.5) + b_sev * open_severe_tickets
    + b_nps * (nps_latest - 7)), with the features as measured at ``end - 90`` days (see the module
    docstring; seminars and the open severe ticket are 0/1, so on the drivers' log1p scale the
    severe-ticket coefficient is b_sev / ln 2). Default betas: seminar +0.8, adoption +3.0 per unit
    share, open severe ticket -1.2, NPS 0. Nothing else (tenure, renewal number, size, industry,
    webinars, QBRs, trainings, tickets_12m, orders, payment delay, product lines) has an effect.

    ``fixed_365=True``: the same accounts, states and decision draws with 365-day terms.

    truth: ``baseline_renewal`` (P(renew) at seminar 0, adoption 0.5, no open severe ticket, NPS 7),
    ``betas`` (log-odds per unit of each feature), ``intercept_raw`` (log-odds at all features 0),
    ``reference`` (the baseline's feature values), ``null_factors`` (features with no effect), plus
    ``n_decisions``, ``n_non_renewals``, ``renewal_rate``, ``term_days_counts`` ({365: n, 366: n}),
    ``decisions`` (DataFrame: account_id, term, renewal_number, planted state, p_renew, renewed,
    start, end, cutoff) and ``accounts`` (per-account traits, churned, churn_date, and for an open
    contract the decision drawn for after the extract: next_decision_p, next_decision_renews).
    """
    b = {**DEFAULT_BETAS, **(betas or {})}
    ref = {"attended_seminar_12m": 0, "adoption_90d": ADOPTION_REFERENCE, "open_severe_tickets": 0, "nps_latest": 7}
    base = _logit(baseline_renewal)

    def renew(k, rows, s):
        eta = base + sum(b[f] * (s[f] - ref[f]) for f in b)
        return _expit(eta)

    r = _streams(seed, STREAMS)
    prof = _profile(r["accounts"], n_accounts, data_start, extract_date, max_product_lines=max_product_lines)
    tables, dec, acc, stats = _annual_book(
        seed,
        prof,
        renew,
        data_start=data_start,
        extract=extract_date,
        fixed_365=fixed_365,
        usage_every_days=usage_every_days,
        rngs=r,
    )
    intercept_raw = base - sum(b[f] * ref[f] for f in b)
    truth = {
        "seed": seed,
        "baseline_renewal": baseline_renewal,
        "betas": b,
        "reference": ref,
        "intercept_raw": round(intercept_raw, 6),
        "effect_scale": {"open_severe_tickets": "0/1 count; on log1p scale beta / ln 2"},
        "null_factors": sorted(
            [
                "webinars_12m",
                "qbrs_12m",
                "trainings_12m",
                "executive_visits_12m",
                "tickets_12m",
                "payment_delay_days",
                "product_lines",
                "tenure_days",
                "adoption_trend",
                "days_since_last_login",
                "nps_change",
                "size_band",
                "industry",
                "region",
            ]
            + [f for f, v in b.items() if v == 0]
        ),
    }
    return _finish("calendar_terms_365" if fixed_365 else "calendar_terms", tables, dec, acc, stats, truth)


# --- 2. the null world ----------------------------------------------------------------------------


def null_world(
    *,
    n_accounts: int = 1500,
    seed: int = 2,
    renewal_probability: float = 0.8,
    fixed_365: bool = False,
    max_product_lines: int = 3,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """The same structure as :func:`calendar_terms`, but nothing affects renewal.

    Outcome: every renewal decision is an independent Bernoulli(``renewal_probability``) draw;
    seminars, adoption, open severe tickets, NPS, usage, tickets, engagements, orders, size,
    industry and tenure are generated independently of it (a leaver's rows simply stop after its
    last contract ends). Any driver, hazard ratio or weight that comes out "clear" is a false
    positive; the churn hazard per renewal is flat at 1 - renewal_probability.

    truth: ``renewal_probability``, ``betas`` (all 0), ``null_factors`` (every candidate), plus the
    counts, ``decisions`` and ``accounts`` as in :func:`calendar_terms`.
    """
    r = _streams(seed, STREAMS)
    prof = _profile(r["accounts"], n_accounts, data_start, extract_date, max_product_lines=max_product_lines)
    tables, dec, acc, stats = _annual_book(
        seed,
        prof,
        lambda k, rows, s: renewal_probability,
        data_start=data_start,
        extract=extract_date,
        fixed_365=fixed_365,
        usage_every_days=usage_every_days,
        rngs=r,
    )
    truth = {
        "seed": seed,
        "renewal_probability": renewal_probability,
        "betas": dict.fromkeys(DEFAULT_BETAS, 0.0),
        "null_factors": "all: every feature, category and tenure has no effect on renewal",
    }
    return _finish("null_world", tables, dec, acc, stats, truth)


# --- 3. confounded by company size ----------------------------------------------------------------


def confounded_by_size(
    *,
    n_accounts: int = 2000,
    seed: int = 3,
    target_r: float = 0.77,
    band_renewal: dict | None = None,
    size_effect_on: str = "size_band",
    employees_slope: float = 0.6,
    flip_industries: bool = False,
    flip_beta: float = 1.0,
    max_product_lines: int = 3,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """Size drives both feature adoption and renewal; adoption itself has no effect.

    ``size_effect_on='size_band'`` (default): P(renew) depends on the account's size band only
    (``band_renewal``, default small 0.70, mid-market 0.82, enterprise 0.92); each account's
    adoption level is ``0.5 + 0.12 * z + noise`` where z is the standardised band code
    (small 0, mid-market 1, enterprise 2), the noise chosen so that corr(adoption_90d, band code)
    over decisions is ``target_r`` (default 0.77; the realised value is in truth). Holding size
    band fixed, adoption is independent of renewal: a model with size_band must find
    adoption ~ 0, a model without it finds a strong positive "effect".

    ``size_effect_on='employees'``: the same with z = standardised log(employees) (continuous):
    P(renew) = expit(logit(0.8) + employees_slope * z); then adjusting for size_band alone leaves
    residual confounding (within-band size still moves both), which tests may want to show.

    ``flip_industries=True``: attended_seminar_12m gets +``flip_beta`` log-odds in manufacturing and
    technology and -``flip_beta`` in retail and healthcare (industries equally likely, seminars
    independent of size), so the pooled effect is ~0 while every industry has a clear one.

    truth: ``size_effect_on``, ``band_renewal`` / ``employees_slope``, ``adoption_effect_given_size``
    (0), ``band_log_odds_vs_small``, ``target_r``, ``realised_r_decisions`` (corr of planted
    adoption_90d with z over decisions), ``realised_r_accounts``, ``seminar_effect_by_industry``
    (dict; all 0 unless flipped), ``decisions``, ``accounts`` (with ``size_z``).
    """
    band_p = {"small": 0.70, "mid-market": 0.82, "enterprise": 0.92, **(band_renewal or {})}
    r = _streams(seed, STREAMS)
    prof = _profile(r["accounts"], n_accounts, data_start, extract_date, max_product_lines=max_product_lines)
    code = prof["size_band"].map({b: i for i, b in enumerate(SIZE_BANDS)}).to_numpy(float)
    if size_effect_on == "size_band":
        z = (code - code.mean()) / code.std()
    elif size_effect_on == "employees":
        le = np.log(prof["employees"].to_numpy(float))
        z = (le - le.mean()) / le.std()
    else:
        raise ValueError("size_effect_on must be 'size_band' or 'employees'")
    spread, term_sd = 0.12, 0.04
    # corr(a, z) = spread / sqrt(spread^2 + acc_sd^2 + term_sd^2) with var(z) = 1.
    acc_sd = float(np.sqrt(max(spread**2 / target_r**2 - spread**2 - term_sd**2, 1e-6)))
    prof["adoption_base"] = np.clip(0.5 + spread * z + r["extra"].normal(0, acc_sd, len(prof)), 0.04, 0.96)
    prof["adoption_term_sd"] = term_sd
    prof["size_z"] = z
    flip = dict.fromkeys(INDUSTRIES, 0.0)
    if flip_industries:
        flip.update(
            {"manufacturing": flip_beta, "technology": flip_beta, "retail": -flip_beta, "healthcare": -flip_beta}
        )
    sem_beta = prof["industry"].map(flip).to_numpy(float)
    band_logit = prof["size_band"].map({k: _logit(v) for k, v in band_p.items()}).to_numpy(float)
    sem_mean = 0.4
    prof["seminar_p"] = sem_mean

    def renew(k, rows, s):
        size_part = band_logit[rows] if size_effect_on == "size_band" else _logit(0.8) + employees_slope * z[rows]
        return _expit(size_part + sem_beta[rows] * (s["attended_seminar_12m"] - sem_mean))

    tables, dec, acc, stats = _annual_book(
        seed, prof, renew, data_start=data_start, extract=extract_date, usage_every_days=usage_every_days, rngs=r
    )
    zz = pd.Series(z, index=prof["account_id"])
    r_dec = float(np.corrcoef(dec["adoption_90d"], zz.reindex(dec["account_id"]).to_numpy())[0, 1])
    r_acc = float(np.corrcoef(prof["adoption_base"], z)[0, 1])
    truth = {
        "seed": seed,
        "size_effect_on": size_effect_on,
        "band_renewal": band_p,
        "band_log_odds_vs_small": {b: round(_logit(p) - _logit(band_p["small"]), 6) for b, p in band_p.items()},
        "employees_slope": employees_slope if size_effect_on == "employees" else None,
        "adoption_effect_given_size": 0.0,
        "target_r": target_r,
        "realised_r_decisions": round(r_dec, 4),
        "realised_r_accounts": round(r_acc, 4),
        "seminar_effect_by_industry": flip,
        "flip_industries": flip_industries,
        "betas": {
            "adoption_90d": 0.0,
            "open_severe_tickets": 0.0,
            "nps_latest": 0.0,
            "attended_seminar_12m": "by industry, see seminar_effect_by_industry",
        },
    }
    return _finish("confounded_by_size", tables, dec, acc, stats, truth)


def confounded_flip_unbalanced(*, drop_industry: str = "healthcare", **kw) -> World:
    """:func:`confounded_by_size` with ``flip_industries=True`` and every account of ``drop_industry``
    removed (from every table and from the truth), so the seminar effect no longer cancels out:
    +``flip_beta`` in two industries, -``flip_beta`` in the one left of the pair (retail by default).
    Pooled over the book the seminar effect is positive and clear, yet it points the other way in
    one industry: a pooled effect that is true of no segment's accounts in that one.

    truth gains ``dropped_industry``; ``seminar_effect_by_industry`` and the counts are those of the
    accounts that remain.
    """
    world = confounded_by_size(flip_industries=True, **kw)
    accounts = world.tables["accounts"]
    gone = set(accounts.loc[accounts["industry"] == drop_industry, "account_id"])
    tables = {
        name: frame[~frame["account_id"].isin(gone)].reset_index(drop=True) for name, frame in world.tables.items()
    }
    truth = dict(world.truth)
    dec = truth["decisions"][~truth["decisions"]["account_id"].isin(gone)].reset_index(drop=True)
    truth["decisions"] = dec
    truth["accounts"] = truth["accounts"][~truth["accounts"]["account_id"].isin(gone)].reset_index(drop=True)
    truth["seminar_effect_by_industry"] = {
        k: v for k, v in truth["seminar_effect_by_industry"].items() if k != drop_industry
    }
    truth.update(
        dropped_industry=drop_industry,
        n_accounts=len(tables["accounts"]),
        n_contracts=len(tables["contracts"]),
        n_decisions=len(dec),
        n_non_renewals=int((dec["renewed"] == 0).sum()),
        renewal_rate=round(float(dec["renewed"].mean()), 4),
        churned_accounts=int(truth["accounts"]["churned"].sum()),
    )
    return World(tables, truth, world.extract_date, "confounded_flip_unbalanced")


# --- 4. churn rising with renewal number, silent leavers -------------------------------------------


def rising_churn_silent_leavers(
    *,
    n_accounts: int = 1500,
    seed: int = 4,
    retention: tuple[float, ...] = (0.95, 0.90, 0.85, 0.80, 0.75),
    silence: str = "zeros",
    early_share: float = 0.6,
    fixed_365: bool = False,
    max_product_lines: int = 3,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """Every account is alike; P(renew) depends only on the renewal number, and leavers go silent.

    Outcome: at renewal number m (1 = end of the first term), P(renew) = ``retention[m - 1]``
    (the last value for later renewals): 0.95, 0.90, 0.85, 0.80, 0.75, 0.75, ... So the hazard
    *rises* with tenure, which a shifted-beta-geometric model (retention rising with tenure by
    heterogeneity) cannot produce. No behaviour affects the decision.

    Silent leavers: every account that does not renew stops logging in for the last 60-90 days of
    its last contract (uniform integer gap): ``silence='zeros'`` keeps its usage rows with
    logins = active_users = 0 and feature_adoption = 0, ``'absent'`` drops the rows, ``'mixed'``
    does either per account. Renewers log in on every usage row (one per ``usage_every_days``-day
    block).
    The same holds for accounts whose open contract (ending after the extract) will not be renewed:
    their decision is drawn too (``accounts.next_decision_renews`` = 0, not in the data) and they
    are already silent if their silence began by the extract, so the default as-of date shows them.
    Silence begins at or after the drivers' cut-off (end - 90), so contract-level drivers at lead
    90 see nothing; a snapshot whose as-of date falls in a leaver's silent period shows
    ``days_since_last_login >= 30`` once 30 days have passed: a near-perfect warning sign.
    ``early_share`` of accounts (default 60%) join in the first year so that late renewals are
    populated.

    truth: ``retention_by_renewal`` ({1: 0.95, ..., up to the longest observed renewal}),
    ``silence``, ``silence_days`` ([60, 90]), ``observed_retention_by_renewal`` (share renewed per
    renewal number in the data), ``silent_at_extract_30d`` (accounts with an open contract and no
    login for >= 30 days on the day after the extract, from the usage rows: all of them are
    leavers-to-be; renewers never go 14 days without a login),
    ``decisions``, ``accounts`` (with ``silence_start`` = first silent day, ``silence_mode``,
    ``churn_date``, ``next_decision_renews``).
    """
    r = _streams(seed, STREAMS)
    prof = _profile(
        r["accounts"],
        n_accounts,
        data_start,
        extract_date,
        early_share=early_share,
        max_product_lines=max_product_lines,
    )
    ret = np.asarray(retention, dtype=float)
    tables, dec, acc, stats = _annual_book(
        seed,
        prof,
        lambda k, rows, s: ret[min(k, len(ret) - 1)],
        data_start=data_start,
        extract=extract_date,
        fixed_365=fixed_365,
        usage_every_days=usage_every_days,
        silence=silence,
        rngs=r,
    )
    n_max = int(dec["renewal_number"].max()) if len(dec) else len(ret)
    truth = {
        "seed": seed,
        "retention_by_renewal": {m: float(ret[min(m - 1, len(ret) - 1)]) for m in range(1, n_max + 1)},
        "silence": silence,
        "silence_days": [60, 90],
        "observed_retention_by_renewal": {
            int(m): round(float(v), 4) for m, v in dec.groupby("renewal_number")["renewed"].mean().items()
        },
        "decisions_by_renewal": {int(m): int(v) for m, v in dec.groupby("renewal_number").size().items()},
        "silent_at_extract_30d": _silent_open_accounts(tables, acc, extract_date, 30),
        "betas": dict.fromkeys(DEFAULT_BETAS, 0.0),
    }
    return _finish("rising_churn_silent_leavers", tables, dec, acc, stats, truth)


def _silent_open_accounts(tables, acc, extract_date, days) -> list[str]:
    """Accounts with an open contract and no login for ``days`` or more on the day after the extract."""
    usage = tables["usage"]
    last = usage[usage["logins"] > 0].groupby("account_id")["date"].max()
    since = (pd.Timestamp(extract_date + dt.timedelta(days=1)) - last.reindex(acc["account_id"])).dt.days
    quiet = (~acc["churned"].to_numpy()) & ~(since.to_numpy() < days)
    return sorted(acc.loc[quiet, "account_id"].tolist())


# --- 5. subscription-only SaaS book -----------------------------------------------------------------

SAAS_LINES = ("Core", "Analytics", "Automation", "Mobile")


def subscription_only(
    *,
    n_accounts: int = 1200,
    seed: int = 5,
    term_mix: dict | None = None,
    renewal_by_term: dict | None = None,
    max_product_lines: int = 3,
    midterm_cancellations: int = 0,
    sparse_orders_share: float = 0.0,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """A SaaS book: accounts, contracts and usage only (no orders, tickets, surveys, engagements).

    Each account has 1-``max_product_lines`` product lines (distinct, from Core, Analytics,
    Automation, Mobile), all starting on ``first_seen``; each line has a fixed term of 1, 6 or 12
    calendar months (``term_mix``, default 40% / 25% / 35%; ``end = start + n months - 1 day``) and
    renews at each of its ends independently with P(renew) = ``renewal_by_term`` (default monthly
    0.97, 6-month 0.90, annual 0.85 per decision). Product line has no effect. A line stops at its
    first non-renewal; the account churns when its last line lapses. Usage (adoption, users,
    logins) is independent of every outcome. ``annual_value`` is the yearly rate (12 x monthly).

    ``midterm_cancellations=k`` adds k accounts with one annual line that renewed every year and
    was then cancelled 180 days into a term (end = extract - 100 days, not_renewed). They start
    years before ``data_start`` (account i: Y0 + i years before the cancellation), so each
    cancellation's tenure exceeds every other account's: its renewal episode (cut-off to end) and,
    for the longest one, its account lifetime are alone in their risk sets.

    Orders are a required table of the contract, so the default book (no ``orders``) does not pass
    ``analysis validate`` ("missing table"). The contract has no payment-delay column on contracts;
    the only payment-delay carrier is ``orders.paid_date``. ``sparse_orders_share=s`` adds an orders
    table where a share s of accounts have 1-2 one-off invoices (setup / services) with a payment
    delay of 10-90 days (some unpaid at the extract): a sparse ``payment_delay_days`` that is
    missing for most accounts, and a book that validates.

    truth: ``term_mix``, ``renewal_by_term``, ``product_line_effect`` (0), ``observed_renewal_by_term``,
    ``midterm_cancellations`` (list of {account_id, contract_id, end, tenure_days_at_churn}),
    ``sparse_orders_share``, ``has_orders``, ``lines`` (DataFrame per line: account_id, product_line,
    term_months, terms, lapsed), ``decisions`` (per contract decision), ``accounts``.
    """
    mix = {1: 0.40, 6: 0.25, 12: 0.35, **(term_mix or {})}
    p_by = {1: 0.97, 6: 0.90, 12: 0.85, **(renewal_by_term or {})}
    r = _streams(seed, STREAMS)
    ra = r["accounts"]
    ext = _day(extract_date)
    prof = _profile(ra, n_accounts, data_start, extract_date, id_prefix="S")
    fs = prof["first_seen_day"].to_numpy(np.int64)
    n_lines = np.minimum(1 + ra.binomial(max(max_product_lines - 1, 0), 0.35, n_accounts), max_product_lines)
    l_acc, l_pos = _expand(n_lines)
    # distinct product lines per account: a random permutation per account, first n_lines taken
    perm = np.argsort(ra.random((n_accounts, len(SAAS_LINES))), axis=1)
    l_prod = perm[l_acc, l_pos]
    months = np.array(list(mix), dtype=np.int64)
    l_months = months[ra.choice(len(months), size=len(l_acc), p=np.array(list(mix.values())) / sum(mix.values()))]
    l_start = fs[l_acc]

    # Optional lone accounts with a mid-term cancellation (appended after the regular ones).
    lone = []
    if midterm_cancellations:
        cancel_end = ext - 100
        y0 = int(np.ceil((cancel_end - 180 - (_day(data_start) - 200)) / 365.25)) + 1
        for i in range(midterm_cancellations):
            anchor = cancel_end - 180 + 1  # the cancelled term starts here
            first = int(_add_months(np.array([anchor]), np.array([-12 * (y0 + i)]))[0])
            lone.append((first, y0 + i))

    n_terms = (ext - l_start.min()) // 28 + 2 if len(l_start) else 1
    k_idx = np.arange(n_terms + 1)
    starts_all = _add_months(l_start[:, None], l_months[:, None] * k_idx[None, :])
    starts, ends = starts_all[:, :-1], starts_all[:, 1:] - 1
    exists = starts <= ext
    decided = exists & (ends < ext)
    p_line = np.vectorize(p_by.get)(l_months).astype(float)
    renewed = r["decisions"].random(starts.shape) < p_line[:, None]
    fail = decided & ~renewed
    first_fail = np.where(fail.any(axis=1), fail.argmax(axis=1), n_terms + 10)
    last_exist = exists.sum(axis=1) - 1
    last = np.minimum(first_fail, last_exist)
    lapsed = first_fail <= last_exist

    c_line, c_term = _expand(last + 1)
    is_last = c_term == last[c_line]
    outcome = np.where(is_last, np.where(lapsed[c_line], "not_renewed", "open"), "renewed")
    price = np.round(prof["arr_per_line"].to_numpy()[l_acc] * 0.5 * np.where(l_months == 1, 1.15, 1.0), 2)
    ids = prof["account_id"].to_numpy()
    prod_names = np.array(SAAS_LINES, dtype=object)
    c_start, c_end = starts[c_line, c_term], ends[c_line, c_term]
    contracts = pd.DataFrame(
        {
            "contract_id": [f"K{a}-{p}-{t + 1:03d}" for a, p, t in zip(ids[l_acc[c_line]], l_prod[c_line], c_term)],
            "account_id": ids[l_acc[c_line]],
            "start": _dates(c_start),
            "end": _dates(c_end),
            "annual_value": price[c_line],
            "product_line": prod_names[l_prod[c_line]],
            "renewal_outcome": outcome,
        }
    )
    dec_mask = c_end < ext
    decisions = pd.DataFrame(
        {
            "account_id": contracts["account_id"],
            "contract_id": contracts["contract_id"],
            "product_line": contracts["product_line"],
            "term_months": l_months[c_line],
            "renewal_number": c_term + 1,
            "end": contracts["end"],
            "p_renew": p_line[c_line],
            "renewed": (outcome == "renewed").astype(int),
        }
    )[dec_mask]
    line_last_end = ends[np.arange(len(l_acc)), last]
    acc_open = pd.Series(~lapsed).groupby(l_acc).any().to_numpy()
    acc_end = pd.Series(line_last_end).groupby(l_acc).max().to_numpy()
    last_day = np.where(acc_open, ext, acc_end)

    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": prof["name"],
            "industry": prof["industry"],
            "region": prof["region"],
            "size_band": prof["size_band"],
            "employees": prof["employees"].astype(np.int64),
            "first_seen": _dates(fs),
        }
    )
    lone_info = []
    if lone:
        rows_acc, rows_con = [], []
        for i, (first, years) in enumerate(lone):
            aid = f"L{i:05d}"
            starts_l = _add_months(np.array([first]), 12 * np.arange(years + 1))
            ends_l = starts_l[1:] - 1
            for t in range(years + 1):  # the last term is cut 180 days in
                s_, e_ = (starts_l[t], ends_l[t]) if t < years else (starts_l[t], ext - 100)
                rows_con.append(
                    {
                        "contract_id": f"K{aid}-Core-{t + 1:03d}",
                        "account_id": aid,
                        "start": s_,
                        "end": e_,
                        "annual_value": 9000.0,
                        "product_line": "Core",
                        "renewal_outcome": "renewed" if t < years else "not_renewed",
                    }
                )
            rows_acc.append(
                {
                    "account_id": aid,
                    "name": f"Company {aid}",
                    "industry": "technology",
                    "region": "North",
                    "size_band": "small",
                    "employees": 25,
                    "first_seen": first,
                }
            )
            lone_info.append(
                {
                    "account_id": aid,
                    "contract_id": f"K{aid}-Core-{years + 1:03d}",
                    "start": str(np.datetime64(int(starts_l[years]), "D")),
                    "end": str(np.datetime64(ext - 100, "D")),
                    "tenure_days_at_churn": int(ext - 100 + 1 - first),
                }
            )
        la = pd.DataFrame(rows_acc)
        la["first_seen"] = _dates(la["first_seen"])
        lc = pd.DataFrame(rows_con)
        lc["start"], lc["end"] = _dates(lc["start"]), _dates(lc["end"])
        accounts = pd.concat([accounts, la], ignore_index=True)
        contracts = pd.concat([contracts, lc], ignore_index=True)
        lone_fs = np.array([f for f, _ in lone], dtype=np.int64)
        fs_all = np.concatenate([fs, lone_fs])
        last_all = np.concatenate([last_day, np.full(len(lone), ext - 100)])
        ids_all = np.concatenate([ids, la["account_id"].to_numpy()])
    else:
        fs_all, last_all, ids_all = fs, last_day, ids

    # Usage: independent of every outcome.
    ru = r["usage"]
    n_all = len(ids_all)
    seats = np.concatenate([prof["seats"].to_numpy(), np.full(n_all - n_accounts, 10.0)])
    a_base = np.concatenate([prof["adoption_base"].to_numpy(), np.full(n_all - n_accounts, 0.5)])
    step = int(usage_every_days)
    u_row, u_day = _usage_days(ru, fs_all, last_all, step)
    adopt = np.round(np.clip(a_base[u_row] + ru.normal(0, 0.05, len(u_row)), 0, 1), 4)
    active = np.maximum(1, ru.poisson(seats[u_row] * adopt))
    usage = pd.DataFrame(
        {
            "account_id": ids_all[u_row],
            "date": _dates(u_day),
            "active_users": active.astype(np.int64),
            "logins": (active + ru.poisson(0.6 * active)).astype(np.int64),
            "feature_adoption": adopt,
        }
    )
    tables = {"accounts": accounts, "contracts": contracts, "usage": usage}
    if sparse_orders_share > 0:
        ro = r["orders"]
        buyers = np.flatnonzero(ro.random(n_accounts) < sparse_orders_share)
        k = 1 + (ro.random(len(buyers)) < 0.4)
        o_acc, _ = _expand(k)
        o_acc = buyers[o_acc]
        span = np.maximum(np.minimum(last_day[o_acc], ext) - fs[o_acc], 0)
        o_day = fs[o_acc] + np.floor(ro.random(len(o_acc)) * (span + 1)).astype(np.int64)
        amount = np.round(1500 * np.exp(ro.normal(0, 0.6, len(o_acc))), 2)
        paid = o_day + ro.integers(10, 91, len(o_acc))
        orders = pd.DataFrame({"account_id": ids[o_acc], "day": o_day, "amount": amount, "paid": paid})
        orders = orders.sort_values(["account_id", "day"]).reset_index(drop=True)
        tables["orders"] = pd.DataFrame(
            {
                "order_id": _ids("O", len(orders)),
                "account_id": orders["account_id"],
                "date": _dates(orders["day"]),
                "amount": orders["amount"],
                "cost": np.round(orders["amount"] * 0.4, 2),
                "paid_date": _dates(orders["paid"], orders["paid"] <= ext),
            }
        )
    lines = pd.DataFrame(
        {
            "account_id": ids[l_acc],
            "product_line": prod_names[l_prod],
            "term_months": l_months,
            "terms": last + 1,
            "lapsed": lapsed,
        }
    )
    acc_truth = accounts[["account_id", "first_seen"]].assign(
        churned=np.concatenate([~acc_open, np.ones(len(lone), dtype=bool)]), last_day=_dates(last_all)
    )
    obs = decisions.groupby("term_months")["renewed"].mean()
    truth = {
        "world": "subscription_only",
        "seed": seed,
        "term_mix": mix,
        "renewal_by_term": p_by,
        "product_line_effect": 0.0,
        "observed_renewal_by_term": {int(m): round(float(v), 4) for m, v in obs.items()},
        "decisions_by_term": {int(m): int(v) for m, v in decisions.groupby("term_months").size().items()},
        "midterm_cancellations": lone_info,
        "sparse_orders_share": sparse_orders_share,
        "has_orders": "orders" in tables,
        "contract_has_payment_delay_column": False,
        "n_accounts": len(accounts),
        "n_contracts": len(contracts),
        "n_decisions": len(decisions),
        "extract_date": extract_date.isoformat(),
        "usage_every_days": step,
        "lines": lines,
        "decisions": decisions.reset_index(drop=True),
        "accounts": acc_truth,
    }
    return World(tables, truth, extract_date, "subscription_only")


# --- 6. four planted high-value archetypes ----------------------------------------------------------

ARCHETYPES = {
    # name: (share, size band, overrides of profile traits)
    "power_users": (
        0.10,
        "mid-market",
        {"seats": 250.0, "adoption_base": 0.9, "training_rate": 12.0, "arr_per_line": 60_000.0},
    ),
    "executive_sponsored": (
        0.10,
        "enterprise",
        {"qbr_rate": 10.0, "exec_rate": 5.0, "meeting_prob": 0.7, "arr_per_line": 90_000.0},
    ),
    "multi_line_spenders": (
        0.10,
        "enterprise",
        {"lines": 4, "arr_per_line": 150_000.0, "order_rate": 20.0, "order_amount": 20_000.0},
    ),
    "service_heavy": (
        0.10,
        "mid-market",
        {"ticket_rate": 40.0, "severe_bg_rate": 4.0, "nps_base": 4.0, "arr_per_line": 70_000.0},
    ),
}
ARCHETYPE_FEATURES = {
    "power_users": ["active_users_90d", "logins_90d", "adoption_90d", "trainings_12m"],
    "executive_sponsored": ["qbrs_12m", "executive_visits_12m", "meeting_minutes_90d"],
    "multi_line_spenders": ["product_lines", "arr", "revenue_12m"],
    "service_heavy": ["tickets_12m", "severe_tickets_12m", "nps_latest"],
}


def four_archetypes(
    *,
    n_accounts: int = 1500,
    seed: int = 6,
    renewal_probability: float = 0.95,
    ordinary_share: float | None = None,
    usage_every_days: int = 7,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """Four planted high-value archetypes (10% each) plus ordinary accounts (60%), for k selection.

    Archetypes (each far from the ordinary accounts in its own few features; near-ordinary in the
    rest, with little within-group spread):

    * ``power_users`` (mid-market): ~250 seats, adoption 0.9, 12 trainings / year;
    * ``executive_sponsored`` (enterprise): 10 QBRs and 5 executive visits / year, meetings on 70%
      of usage rows; strategic_flag true;
    * ``multi_line_spenders`` (enterprise): 4 product lines at ~150k each, 20 orders / year of ~20k;
    * ``service_heavy`` (mid-market): 40 tickets / year, 4 severe tickets per term, NPS ~4;
    * ``ordinary`` (small): ~8 seats, adoption ~0.35, few touchpoints, ~5k contracts.

    All archetypes have ~10x the contract value of ordinary accounts. Outcome: every renewal is
    Bernoulli(``renewal_probability``) (default 0.95), independent of the archetype, so most accounts
    are active at the extract (segments cluster active accounts). Accounts carry
    ``market_influence`` (4-5 for archetypes, 1-3 ordinary) and ``strategic_flag``.

    truth: ``archetype`` (Series account_id -> name, including 'ordinary'), ``n_archetypes`` (4),
    ``n_groups`` (5 with ordinary), ``shares``, ``separating_features`` (archetype -> feature names
    of the project's feature table), ``renewal_probability``, ``decisions``, ``accounts``.
    """
    r = _streams(seed, STREAMS)
    ra = r["accounts"]
    prof = _profile(ra, n_accounts, data_start, extract_date, size_probs=(1.0, 0.0, 0.0), early_share=0.3)
    names = list(ARCHETYPES) + ["ordinary"]
    shares = [ARCHETYPES[a][0] for a in ARCHETYPES]
    shares.append(ordinary_share if ordinary_share is not None else 1 - sum(shares))
    shares = np.asarray(shares) / sum(shares)
    arch = np.array(names, dtype=object)[ra.choice(len(names), size=n_accounts, p=shares)]
    tight = lambda m, sd=0.1: m * np.exp(ra.normal(0, sd, n_accounts))  # noqa: E731
    prof["seats"] = np.round(tight(8.0, 0.2))
    prof["adoption_base"] = np.clip(ra.normal(0.35, 0.05, n_accounts), 0.05, 0.95)
    prof["adoption_term_sd"] = 0.03
    prof["arr_per_line"] = np.round(tight(5_000.0, 0.2), -1)
    prof["qbr_rate"], prof["exec_rate"], prof["training_rate"] = 0.3, 0.02, 0.5
    prof["meeting_prob"], prof["ticket_rate"], prof["severe_bg_rate"] = 0.03, 2.0, 0.3
    prof["nps_base"] = ra.normal(7.5, 0.6, n_accounts)
    prof["order_rate"], prof["order_amount"] = 2.0, np.round(tight(400.0, 0.2), -1)
    prof["severe_p"] = 0.05
    prof["lines"] = 1
    for a, (_, band, over) in ARCHETYPES.items():
        m = arch == a
        prof.loc[m, "size_band"] = band
        prof.loc[m, "employees"] = np.round(BAND_EMPLOYEES[band] * np.exp(ra.normal(0, 0.2, m.sum()))).astype(np.int64)
        for col, val in over.items():
            base = np.full(m.sum(), float(val))
            if col in ("seats", "arr_per_line", "order_amount"):
                base = np.round(base * np.exp(ra.normal(0, 0.15, m.sum())), 0)
            if col == "adoption_base":
                base = np.clip(ra.normal(val, 0.03, m.sum()), 0.05, 0.97)
            if col == "nps_base":
                base = ra.normal(val, 0.6, m.sum())
            prof.loc[m, col] = base.astype(int) if col == "lines" else base
    prof["lines"] = prof["lines"].astype(int)
    top = arch != "ordinary"
    prof["market_influence"] = np.round(np.where(top, ra.uniform(4, 5, n_accounts), ra.uniform(1, 3, n_accounts)), 1)
    prof["strategic_flag"] = (arch == "executive_sponsored") | (ra.random(n_accounts) < 0.02)
    tables, dec, acc, stats = _annual_book(
        seed,
        prof,
        lambda k, rows, s: renewal_probability,
        data_start=data_start,
        extract=extract_date,
        usage_every_days=usage_every_days,
        extra_account_columns=("market_influence", "strategic_flag"),
        rngs=r,
    )
    archetype = pd.Series(arch, index=pd.Index(prof["account_id"], name="account_id"), name="archetype")
    acc["archetype"] = arch
    truth = {
        "seed": seed,
        "archetype": archetype,
        "n_archetypes": 4,
        "n_groups": 5,
        "shares": {n: round(float(s), 4) for n, s in zip(names, shares)},
        "realised_counts": {k: int(v) for k, v in archetype.value_counts().items()},
        "separating_features": ARCHETYPE_FEATURES,
        "renewal_probability": renewal_probability,
    }
    return _finish("four_archetypes", tables, dec, acc, stats, truth)


# --- 6b. seasonal orders, and a book where value predicts churn -------------------------------------


def seasonal_orders(
    *,
    n_accounts: int = 1000,
    seed: int = 8,
    peak_months: tuple[int, ...] = (2, 3, 4),
    peak_factor: float = 4.0,
    orders_per_year: float = 6.0,
    rate_shape: float = 2.0,
    data_start: dt.date = DATA_START,
    extract_date: dt.date = EXTRACT_DATE,
) -> World:
    """The null world's accounts and contracts with an order stream whose rate follows the season.

    Each account orders as a Poisson process at rate lambda ~ Gamma(``rate_shape``, mean
    ``orders_per_year``) a year, times a seasonal factor: ``peak_factor`` in ``peak_months`` and 1 in
    the other months, scaled so that the factor averages 1 over a year (the yearly rate is
    lambda whatever the season). It orders from ``first_seen`` to the last day of its last contract
    (a leaver stops ordering: the dropout a purchase model estimates). ``peak_factor=1`` gives a
    stationary stream, which a BG/NBD fitted on history predicts well in any holdout; with the
    default peak in February-April, a holdout from July to December (26 weeks before a 1 January
    as-of date) is the low season, so a stationary model predicts too many orders there.

    truth: ``peak_months``, ``peak_factor``, ``season`` (factor per month 1-12), ``orders_per_year``,
    ``rate_shape``, ``order_rate`` (Series account_id -> lambda), plus the null world's truth.
    """
    base = null_world(n_accounts=n_accounts, seed=seed, data_start=data_start, extract_date=extract_date)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    acc = base.truth["accounts"]
    first = pd.to_datetime(acc["first_seen"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    last_contract = pd.to_datetime(acc["last_contract_end"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    last = np.where(acc["churned"].to_numpy(bool), last_contract, _day(extract_date))
    season = np.ones(12)
    season[[m - 1 for m in peak_months]] = peak_factor
    season = season * 12 / season.sum()
    lam = rng.gamma(rate_shape, orders_per_year / rate_shape, len(acc))
    # Thinning: candidate days at the peak rate, each kept with probability season / max(season).
    rows, days = _poisson_days(rng, lam * season.max(), first, last)
    month = (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)
    keep = rng.random(len(days)) < season[month] / season.max()
    rows, days = rows[keep], days[keep]
    order = np.lexsort((days, rows))
    rows, days = rows[order], days[order]
    amount = np.round(800.0 * np.exp(rng.normal(0, 0.5, len(rows))), 2)
    paid = days + rng.integers(5, 40, len(rows))
    ext = _day(extract_date)
    out = base.copy()
    out.tables["orders"] = pd.DataFrame(
        {
            "order_id": _ids("O", len(rows)),
            "account_id": acc["account_id"].to_numpy()[rows],
            "date": _dates(days),
            "amount": amount,
            "cost": np.round(amount * 0.6, 2),
            "paid_date": _dates(paid, paid <= ext),
        }
    )
    out.truth.update(
        {
            "world": "seasonal_orders",
            "peak_months": list(peak_months),
            "peak_factor": peak_factor,
            "season": {m + 1: round(float(v), 4) for m, v in enumerate(season)},
            "orders_per_year": orders_per_year,
            "rate_shape": rate_shape,
            "order_rate": pd.Series(lam, index=pd.Index(acc["account_id"], name="account_id"), name="order_rate"),
        }
    )
    out.name = "seasonal_orders"
    return out


def value_predicts_churn(*, n_accounts: int = 2000, seed: int = 9, **kwargs) -> World:
    """Bigger accounts renew *less*: :func:`confounded_by_size` with renewal small 0.92, mid-market
    0.82, enterprise 0.70 (and no other effect), so a value score (revenue, margin) ranks renewers
    below leavers: its back-tested renewal AUC lies below 0.5. truth as confounded_by_size."""
    bands = {"small": 0.92, "mid-market": 0.82, "enterprise": 0.70}
    world = confounded_by_size(n_accounts=n_accounts, seed=seed, band_renewal=bands, **kwargs)
    world.name = world.truth["world"] = "value_predicts_churn"
    return world


# --- 7. odd extracts ------------------------------------------------------------------------------


def with_money_scale(world: World, factor: float = 1e9) -> World:
    """Every money column (contracts.annual_value, orders.amount, orders.cost) times ``factor``,
    e.g. 1e9 for a VND-like book where a contract is worth 10^13. truth gains ``money_scale``."""
    out = world.copy()
    out.tables["contracts"]["annual_value"] = out.tables["contracts"]["annual_value"] * factor
    if "orders" in out.tables:
        for col in ("amount", "cost"):
            out.tables["orders"][col] = out.tables["orders"][col] * factor
    out.truth["money_scale"] = factor * out.truth.get("money_scale", 1.0)
    out.name = f"{world.name}_money_x{factor:g}"
    return out


def with_contradictory_history(world: World, n: int = 1, gap_days: int = 120, seed: int = 0) -> World:
    """For ``n`` churned accounts, a later contract of the same account and product line after the
    ``not_renewed`` one: it starts ``gap_days`` after that end and runs one year (``open`` if it ends
    on or after the extract date, else ``not_renewed``). The history says "left" and "came back" at
    once. truth gains ``contradictions`` (list of {account_id, product_line, not_renewed_contract,
    later_contract, later_start}). Accounts are picked whose later contract starts by the extract."""
    out = world.copy()
    c = out.tables["contracts"]
    ext = pd.Timestamp(out.extract_date)
    lost = c[c["renewal_outcome"] == "not_renewed"]
    lost = lost[lost["end"] + pd.Timedelta(days=gap_days) <= ext]
    latest = c.groupby("account_id")["end"].max()
    lost = lost[lost["end"].to_numpy() == latest.reindex(lost["account_id"]).to_numpy()]
    pick = lost.drop_duplicates("account_id").sample(n=min(n, lost["account_id"].nunique()), random_state=seed)
    rows, info = [], []
    for _, k in pick.iterrows():
        start = k["end"] + pd.Timedelta(days=gap_days)
        end = start + pd.DateOffset(years=1) - pd.Timedelta(days=1)
        cid = f"{k['contract_id']}-again"
        rows.append(
            {
                "contract_id": cid,
                "account_id": k["account_id"],
                "start": start,
                "end": end,
                "annual_value": k["annual_value"],
                "product_line": k["product_line"],
                "renewal_outcome": "open" if end >= ext else "not_renewed",
            }
        )
        info.append(
            {
                "account_id": k["account_id"],
                "product_line": k["product_line"],
                "not_renewed_contract": k["contract_id"],
                "later_contract": cid,
                "later_start": start.date().isoformat(),
            }
        )
    out.tables["contracts"] = pd.concat([c, pd.DataFrame(rows)], ignore_index=True)
    out.truth["contradictions"] = info
    out.name = f"{world.name}_contradictory"
    return out


def with_reexported_orders(world: World, share: float = 0.2, seed: int = 0) -> World:
    """A share of orders exported twice under new ids (``<id>-R``): same account, date, amount, cost,
    paid date. Keys stay unique, so validation cannot see it. truth gains ``reexported_orders``
    (dict new id -> original id) and ``reexport_share``."""
    out = world.copy()
    o = out.tables["orders"]
    dup = o.sample(frac=share, random_state=seed).copy()
    mapping = {f"{i}-R": i for i in dup["order_id"]}
    dup["order_id"] = list(mapping)
    out.tables["orders"] = pd.concat([o, dup], ignore_index=True)
    out.truth["reexported_orders"] = mapping
    out.truth["reexport_share"] = share
    out.name = f"{world.name}_reexported"
    return out


def without_tables(world: World, *tables: str) -> World:
    """The world with the named tables left out (e.g. the optional usage / tickets / surveys)."""
    out = world.copy()
    for t in tables:
        out.tables.pop(t, None)
    out.truth["dropped_tables"] = list(tables)
    return out


ALL_WORLDS = {
    "calendar_terms": calendar_terms,
    "calendar_terms_365": lambda **kw: calendar_terms(fixed_365=True, **kw),
    "null_world": null_world,
    "confounded_by_size": confounded_by_size,
    "confounded_flip": lambda **kw: confounded_by_size(flip_industries=True, **kw),
    "confounded_flip_unbalanced": confounded_flip_unbalanced,
    "rising_churn_silent_leavers": rising_churn_silent_leavers,
    "subscription_only": subscription_only,
    "subscription_only_midterm_sparse": lambda **kw: subscription_only(
        midterm_cancellations=2, sparse_orders_share=0.05, **kw
    ),
    "four_archetypes": four_archetypes,
    "seasonal_orders": seasonal_orders,
    "value_predicts_churn": value_predicts_churn,
}


if __name__ == "__main__":  # python tests/worlds.py OUT_DIR
    import time

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/worlds_scratch")
    for name, make in ALL_WORLDS.items():
        t0 = time.perf_counter()
        w = make()
        t1 = time.perf_counter()
        w.write(root / name, truth_file=True)
        rows = ", ".join(f"{k} {len(v):,}" for k, v in w.tables.items())
        print(f"{name}: generated {t1 - t0:.2f} s, written {time.perf_counter() - t1:.2f} s; {rows}")
