"""Seeded synthetic B2B customer book with planted, known truths.

Every later analysis is tested against this book: the renewal drivers, the churn hazard
effects, the purchase process (BG/NBD + Gamma-Gamma) and the high-value segments are planted
here and written to ``ground_truth.json``.

How the book is made (see ``docs/synthetic_book.md`` for the full story):

* Accounts belong to one of four planted segments that set their firmographics and
  behaviour (seats, product lines, contract value, usage, engagement, tickets, NPS, payment).
* Each account signs annual contracts (one per product line, co-terminous) from its
  ``first_seen`` date. At each contract end the account renews with probability
  ``expit(intercept + sum(beta * x))`` where ``x`` are the contract-level features measured
  from the generated data strictly before ``end - lead_days`` — computed here with the same
  definitions as ``analysis.features``, so the logit truth is exact.
* Accounts that do not renew stop generating usage, tickets, surveys and engagements after the
  contract end; half of them "go dark" (no logins) in their last 60 days, which lies after the
  decision's cut-off and so leaves the planted renewal truth intact.
* Repeat orders follow BG/NBD with Gamma-Gamma spend, independent of the contracts, so that
  the purchase parameters can be recovered exactly.

The generator is written by hand because no library simulates a linked multi-table B2B book.
Determinism: every chunk of ``CHUNK_ACCOUNTS`` accounts draws from its own
``SeedSequence([seed, chunk])``, so the same seed and size give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.signal import lfilter

from analysis.errors import ConfigError

START_DATE = dt.date(2021, 1, 1)
EXTRACT_DATE = dt.date(2025, 12, 31)
N_DAYS = (EXTRACT_DATE - START_DATE).days + 1  # day index 0 .. N_DAYS-1
CHUNK_ACCOUNTS = 2000
LEAD_DAYS = 90
DAY_KEY = 10_000  # account * DAY_KEY + day gives sortable event keys (N_DAYS < DAY_KEY)

SEGMENTS = ("key_strategic", "growth_midmarket", "core_small", "low_touch_risky")
SEGMENT_SHARES = (0.08, 0.22, 0.50, 0.20)
INDUSTRIES = ("manufacturing", "financial services", "technology", "retail", "healthcare", "logistics")
REGIONS = ("North", "East", "South", "West", "Central")
PRODUCT_LINES = ("Core Platform", "Analytics", "Integrations", "Premium Support")
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC")
OWNERS = (
    "Alex Chen",
    "Maria Rossi",
    "Sam Patel",
    "Jana Novak",
    "Tom Becker",
    "Li Wei",
    "Emma Dubois",
    "Omar Haddad",
    "Sara Lind",
    "Kenji Sato",
)
SEVERITIES = ("low", "medium", "high", "critical")

# Per-segment behaviour. Rates are per year unless stated.
SEGMENT_PARAMS = {
    #                    key      growth    core     risky
    "size_probs": ((0.9, 0.1, 0.0), (0.1, 0.85, 0.05), (0.0, 0.1, 0.9), (0.0, 0.3, 0.7)),  # ent, mid, small
    "industry_probs": (
        (0.45, 0.30, 0.10, 0.05, 0.05, 0.05),
        (0.15, 0.15, 0.30, 0.15, 0.15, 0.10),
        (0.15, 0.10, 0.15, 0.25, 0.15, 0.20),
        (0.15, 0.10, 0.15, 0.25, 0.15, 0.20),
    ),
    # Broad within each segment, so that multi-product adoption has an effect of its own to find.
    "product_line_probs": ((0, 0.2, 0.4, 0.4), (0.3, 0.4, 0.3, 0), (0.6, 0.3, 0.1, 0), (0.6, 0.3, 0.1, 0)),
    "arr_per_line_median": (110_000, 25_000, 5_000, 4_000),
    "seats_median": (250, 60, 10, 12),
    "adoption_base": (0.72, 0.55, 0.45, 0.22),
    "adoption_trend": (0.01, 0.06, 0.0, -0.05),  # per year
    "seminar_rate": (0.9, 0.6, 0.22, 0.1),
    "qbr_rate": (4.0, 2.0, 0.3, 0.2),
    "exec_visit_rate": (1.0, 0.2, 0.02, 0.02),
    "training_rate": (3.0, 2.0, 0.5, 0.3),
    "ticket_rate": (8.0, 5.0, 2.0, 6.0),
    "severe_share": (0.15, 0.15, 0.15, 0.35),
    "severe_days_to_close": (20.0, 25.0, 25.0, 60.0),
    "nps_base": (8.5, 8.0, 7.5, 5.0),
    "payment_delay_mean": (35.0, 40.0, 38.0, 85.0),
    "meeting_prob": (0.25, 0.12, 0.03, 0.02),  # share of days with a meeting
    "influence_mean": (4.3, 3.2, 2.2, 2.0),
    "strategic_prob": (0.7, 0.1, 0.02, 0.02),
    "unprofitable_prob": (0.0, 0.02, 0.03, 0.3),
    "arr_growth": (0.08, 0.15, 0.02, -0.02),  # per renewal
}
EMPLOYEES_MEDIAN = {"enterprise": 3000, "mid-market": 400, "small": 40}
SIZE_BANDS = ("enterprise", "mid-market", "small")
WEBINAR_RATE = 2.0  # the same for everybody: a pure-noise behaviour

RENEWAL_INTERCEPT = 0.3
RENEWAL_BETA = {
    "attended_seminar_12m": 0.6,
    "adoption_90d": 3.0,
    "adoption_trend": 15.0,
    "open_severe_tickets": -0.8,
    "nps_latest": 0.2,
    "payment_delay_days": -0.02,
    "product_lines": 0.4,
}
NOISE_FEATURES = ("noise_1", "noise_2", "webinars_12m")

BGNBD = {"r": 0.8, "alpha": 12.0, "a": 1.0, "b": 6.0}  # time unit: weeks
GAMMA_GAMMA = {"p": 4.0, "q": 5.0, "gamma": 8000.0}


def day_to_date(days: np.ndarray) -> np.ndarray:
    return np.datetime64(START_DATE, "D") + np.asarray(days).astype("timedelta64[D]")


@dataclass
class Chunk:
    """Per-chunk draws and generated tables (account indices are global)."""

    accounts: pd.DataFrame
    truth: pd.DataFrame
    contracts: pd.DataFrame
    orders: pd.DataFrame
    tickets: pd.DataFrame
    surveys: pd.DataFrame
    engagements: pd.DataFrame
    decisions: pd.DataFrame
    usage: pa.Table


def _pick(rng: np.random.Generator, probs_by_segment, segment: np.ndarray) -> np.ndarray:
    """Draw a category index per account from its segment's probabilities."""
    probs = np.asarray(probs_by_segment, dtype=float)[segment]
    cum = probs.cumsum(axis=1)
    return (rng.random(len(segment))[:, None] > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def _seg(name: str, segment: np.ndarray) -> np.ndarray:
    return np.asarray(SEGMENT_PARAMS[name], dtype=float)[segment]


def _poisson_events(rng, rate_per_year: np.ndarray, first: np.ndarray, last: np.ndarray):
    """Event days of a Poisson process per account on [first, last]; returns (account_row, day)."""
    span = np.maximum(last - first + 1, 0)
    counts = rng.poisson(rate_per_year * span / 365.0)
    rows = np.repeat(np.arange(len(first)), counts)
    days = first[rows] + np.floor(rng.random(len(rows)) * span[rows]).astype(int)
    order = np.lexsort((days, rows))
    return rows[order], days[order]


def _window_count(keys_sorted: np.ndarray, acc: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Number of events of account ``acc`` with day in [lo, hi) given sorted acc*DAY_KEY+day keys."""
    return np.searchsorted(keys_sorted, acc * DAY_KEY + hi) - np.searchsorted(keys_sorted, acc * DAY_KEY + lo)


def _make_accounts(rng, n: int, offset: int):
    segment = _pick(rng, [SEGMENT_SHARES] * 1, np.zeros(n, dtype=int))
    size = _pick(rng, SEGMENT_PARAMS["size_probs"], segment)
    industry = _pick(rng, SEGMENT_PARAMS["industry_probs"], segment)
    lines = 1 + _pick(rng, SEGMENT_PARAMS["product_line_probs"], segment)
    first_seen = rng.integers(0, N_DAYS - 120, size=n)
    size_name = np.array(SIZE_BANDS)[size]
    employees = np.round(np.array([EMPLOYEES_MEDIAN[s] for s in size_name]) * np.exp(rng.normal(0, 0.5, n))).astype(int)
    ids = np.array([f"A{offset + i:06d}" for i in range(n)])
    rating_shift = np.where(segment == 3, 2.5, 0.0)
    rating = np.clip(np.round(rng.normal(2.5 + rating_shift, 1.2)), 0, len(RATINGS) - 1).astype(int)
    names = np.array(
        [f"{_NAME_A[i % len(_NAME_A)]} {_NAME_B[(i * 7 + 3) % len(_NAME_B)]} {offset + i}" for i in range(n)]
    )
    has_parent = rng.random(n) < 0.03
    parent = np.where(has_parent & (np.arange(n) > 0), ids[rng.integers(0, max(n, 1), n)], None)
    parent = np.where(parent == ids, None, parent)
    region = rng.integers(0, len(REGIONS), n)
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": names,
            "industry": np.array(INDUSTRIES)[industry],
            "region": np.array(REGIONS)[region],
            "size_band": size_name,
            "employees": employees,
            "first_seen": day_to_date(first_seen),
            "parent_account_id": parent,
            "market_influence": np.clip(np.round(rng.normal(_seg("influence_mean", segment), 0.7), 1), 1, 5),
            "strategic_flag": rng.random(n) < _seg("strategic_prob", segment),
            "credit_rating": np.array(RATINGS)[rating],
            "noise_1": np.round(rng.normal(0, 1, n), 4),
            "noise_2": np.round(rng.uniform(0, 100, n), 2),
            # two owners per region, taken from the account number: no random draw, so every other
            # value of the book stays as it was before owners existed
            "owner": np.array(OWNERS)[2 * region + (offset + np.arange(n)) % 2],
        }
    )
    traits = pd.DataFrame(
        {
            "account_id": ids,
            "segment_index": segment,
            "segment": np.array(SEGMENTS)[segment],
            "first_seen_day": first_seen,
            "product_lines": lines,
            "arr_per_line": np.round(_seg("arr_per_line_median", segment) * np.exp(rng.normal(0, 0.75, n)), -1),
            "seats": np.maximum(1, np.round(_seg("seats_median", segment) * np.exp(rng.normal(0, 0.4, n)))).astype(int),
            "adoption_base": np.clip(rng.normal(_seg("adoption_base", segment), 0.08), 0.02, 0.98),
            "adoption_trend": rng.normal(_seg("adoption_trend", segment), 0.03),
            "nps_base": rng.normal(_seg("nps_base", segment), 1.0),
            "payment_delay_trait": np.maximum(5.0, rng.normal(_seg("payment_delay_mean", segment), 10.0)),
            "margin_rate": np.where(
                rng.random(n) < _seg("unprofitable_prob", segment),
                rng.normal(-0.15, 0.05, n),
                np.clip(rng.normal(0.35, 0.1, n), 0.05, 0.8),
            ),
            "meeting_prob": _seg("meeting_prob", segment),
        }
    )
    traits["unprofitable"] = traits["margin_rate"] < 0
    return accounts, traits


_NAME_A = (
    "Apex",
    "Blue River",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Golden Gate",
    "Harbor",
    "Ironwood",
    "Jade",
    "Keystone",
    "Lotus",
    "Meridian",
    "Northstar",
    "Orchid",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Summit",
    "Titan",
    "Unity",
    "Vertex",
    "Willow",
    "Zenith",
)
_NAME_B = (
    "Manufacturing",
    "Logistics",
    "Holdings",
    "Industries",
    "Systems",
    "Trading",
    "Health",
    "Retail",
    "Capital",
    "Foods",
    "Materials",
    "Electronics",
    "Energy",
    "Labs",
)


def _simulate_orders(rng, first_seen: np.ndarray):
    """BG/NBD purchase times (weeks) from each account's first order, Gamma-Gamma amounts."""
    n = len(first_seen)
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
    p_drop = rng.beta(BGNBD["a"], BGNBD["b"], n)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    horizon_weeks = (N_DAYS - 1 - first_seen) / 7.0
    rows, times = [np.arange(n)], [np.zeros(n)]
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)  # BG/NBD: a customer can drop out only after a repeat purchase
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1.0 / lam[idx])
        inside = t[idx] <= horizon_weeks[idx]
        idx = idx[inside]
        alive[np.flatnonzero(alive)[~inside]] = False
        rows.append(idx)
        times.append(t[idx].copy())
        alive[idx] = rng.random(len(idx)) >= p_drop[idx]
    rows, times = np.concatenate(rows), np.concatenate(times)
    days = first_seen[rows] + np.floor(times * 7).astype(int)
    amounts = rng.gamma(GAMMA_GAMMA["p"], 1.0 / nu[rows])
    order = np.lexsort((days, rows))
    return rows[order], days[order], np.round(amounts[order], 2), lam, p_drop, nu


def _usage_arrays(rng, traits: pd.DataFrame):
    """Daily adoption, active users, logins and meeting minutes on the full calendar (before truncation)."""
    n = len(traits)
    day = np.arange(N_DAYS)[None, :]
    years_in = (day - traits["first_seen_day"].to_numpy()[:, None]) / 365.0
    innovations = rng.normal(0, 0.01, (n, N_DAYS))
    ar = lfilter([1.0], [1.0, -0.97], innovations, axis=1)  # slowly wandering engagement
    # Rounded here, as stored, so that the planted truth sees exactly the stored values.
    adoption = np.round(
        np.clip(
            traits["adoption_base"].to_numpy()[:, None] + traits["adoption_trend"].to_numpy()[:, None] * years_in + ar,
            0.0,
            1.0,
        ),
        4,
    )
    weekday = ((day + START_DATE.weekday()) % 7) < 5
    expected_users = traits["seats"].to_numpy()[:, None] * adoption * np.where(weekday, 1.0, 0.15)
    active = rng.poisson(expected_users)
    logins = rng.poisson(active * 1.6)
    meeting = (rng.random((n, N_DAYS)) < traits["meeting_prob"].to_numpy()[:, None] * weekday) * rng.choice(
        [30.0, 45.0, 60.0, 90.0], size=(n, N_DAYS)
    )
    return adoption, active, logins, meeting


def _decision_features(dec: pd.DataFrame, adoption_cs, sem_keys, web_keys, tickets, surveys, orders):
    """Contract-level features at each cut-off, with the definitions of ``analysis.features``."""
    acc = dec["row"].to_numpy()
    cut = dec["cutoff_day"].to_numpy()

    def window_mean(lo, hi):  # mean adoption over days [lo, hi)
        return (adoption_cs[acc, hi] - adoption_cs[acc, lo]) / (hi - lo)

    out = pd.DataFrame(index=dec.index)
    out["attended_seminar_12m"] = (_window_count(sem_keys, acc, cut - 365, cut) > 0).astype(int)
    out["webinars_12m"] = _window_count(web_keys, acc, cut - 365, cut)
    out["adoption_90d"] = window_mean(cut - 90, cut)
    out["adoption_trend"] = out["adoption_90d"] - window_mean(cut - 180, cut - 90)
    severe = tickets[tickets["severe"]]
    pairs = dec[["row", "cutoff_day"]].reset_index().merge(severe, on="row")
    is_open = (pairs["opened_day"] < pairs["cutoff_day"]) & (pairs["closed_day"] >= pairs["cutoff_day"])
    out["open_severe_tickets"] = is_open.groupby(pairs["index"]).sum().reindex(dec.index, fill_value=0)
    survey_keys = surveys["row"].to_numpy() * DAY_KEY + surveys["day"].to_numpy()
    last = np.searchsorted(survey_keys, acc * DAY_KEY + cut) - 1
    out["nps_latest"] = surveys["nps"].to_numpy()[last].astype(float)
    pairs = dec[["row", "cutoff_day"]].reset_index().merge(orders[["row", "day", "paid_day"]], on="row")
    paid = pairs[pairs["paid_day"] < pairs["cutoff_day"]]
    out["payment_delay_days"] = (paid["paid_day"] - paid["day"]).groupby(paid["index"]).mean().reindex(dec.index)
    return out


def _generate_chunk(seed: int, chunk: int, n: int, offset: int) -> Chunk:
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk]))
    accounts, traits = _make_accounts(rng, n, offset)
    fs = traits["first_seen_day"].to_numpy()
    seg = traits["segment_index"].to_numpy()
    end_of_data = np.full(n, N_DAYS - 1)

    # Orders: BG/NBD + Gamma-Gamma, payment delay and margin from account traits.
    o_row, o_day, o_amount, lam, p_drop, nu = _simulate_orders(rng, fs)
    delay = np.maximum(1, np.round(traits["payment_delay_trait"].to_numpy()[o_row] + rng.normal(0, 8, len(o_row))))
    orders = pd.DataFrame({"row": o_row, "day": o_day, "amount": o_amount, "paid_day": o_day + delay.astype(int)})
    orders["cost"] = np.round(orders["amount"] * (1 - traits["margin_rate"].to_numpy()[o_row]), 2)

    # Events on the full potential lifetime; truncated after churn below.
    sem_rows, sem_days = _poisson_events(rng, _seg("seminar_rate", seg), fs, end_of_data)
    web_rows, web_days = _poisson_events(rng, np.full(n, WEBINAR_RATE), fs, end_of_data)
    other = [
        (kind, *_poisson_events(rng, _seg(rate, seg), fs, end_of_data))
        for kind, rate in (("qbr", "qbr_rate"), ("executive_visit", "exec_visit_rate"), ("training", "training_rate"))
    ]
    t_rows, t_days = _poisson_events(rng, _seg("ticket_rate", seg), fs, end_of_data)
    severe = rng.random(len(t_rows)) < _seg("severe_share", seg)[t_rows]
    sev_level = np.where(severe, rng.integers(2, 4, len(t_rows)), rng.integers(0, 2, len(t_rows)))
    close_mean = np.where(severe, _seg("severe_days_to_close", seg)[t_rows], 4.0)
    tickets = pd.DataFrame(
        {
            "row": t_rows,
            "opened_day": t_days,
            "closed_day": t_days + np.ceil(rng.exponential(close_mean)).astype(int),
            "severity": np.array(SEVERITIES)[sev_level],
            "severe": severe,
        }
    )
    s_rows, s_index = _expand((N_DAYS - 1 - fs - 60) // 182 + 1)
    surveys = pd.DataFrame({"row": s_rows, "day": fs[s_rows] + 60 + 182 * s_index})
    surveys["nps"] = np.clip(
        np.round(traits["nps_base"].to_numpy()[s_rows] + rng.normal(0, 1.2, len(s_rows))), 0, 10
    ).astype(int)
    answered = (rng.random(len(surveys)) < 0.85) | (s_index == 0)
    surveys = surveys[answered & (surveys["day"] < N_DAYS)].reset_index(drop=True)

    adoption, active, logins, meeting = _usage_arrays(rng, traits)
    adoption_cs = np.concatenate([np.zeros((n, 1)), np.cumsum(adoption, axis=1)], axis=1)

    # Renewal decisions, year by year, for accounts still alive.
    alive = np.ones(n, dtype=bool)
    last_day = end_of_data.copy()
    decisions = []
    sem_keys = sem_rows * DAY_KEY + sem_days
    web_keys = web_rows * DAY_KEY + web_days
    for year in range(N_DAYS // 365 + 1):
        end = fs + 365 * (year + 1) - 1
        decided = alive & (end < N_DAYS - 1)
        if not decided.any():
            break
        dec = pd.DataFrame({"row": np.flatnonzero(decided), "year": year, "end_day": end[decided]})
        dec["cutoff_day"] = dec["end_day"] - LEAD_DAYS
        feats = _decision_features(dec, adoption_cs, sem_keys, web_keys, tickets, surveys, orders)
        feats["product_lines"] = traits["product_lines"].to_numpy()[dec["row"]]
        eta = RENEWAL_INTERCEPT + sum(beta * feats[name].to_numpy() for name, beta in RENEWAL_BETA.items())
        p_renew = 1.0 / (1.0 + np.exp(-eta))
        renewed = rng.random(len(dec)) < p_renew
        dec = pd.concat([dec, feats], axis=1).assign(p_renew=p_renew, renewed=renewed.astype(int))
        decisions.append(dec)
        churned_rows = dec["row"].to_numpy()[~renewed]
        alive[churned_rows] = False
        last_day[churned_rows] = dec["end_day"].to_numpy()[~renewed]
    decisions = pd.concat(decisions, ignore_index=True) if decisions else pd.DataFrame()

    # Half of the leavers go quiet in their last 60 days (after the decision's cut-off).
    churned = last_day < N_DAYS - 1
    dark = churned & (rng.random(n) < 0.5)
    day = np.arange(N_DAYS)[None, :]
    quiet = dark[:, None] & (day > (last_day - 60)[:, None]) & (day <= last_day[:, None])
    active = np.where(quiet, 0, active)
    logins = np.where(quiet, 0, logins)

    lifetime = (day >= fs[:, None]) & (day <= last_day[:, None])
    rows_idx, days_idx = np.nonzero(lifetime)
    ids = accounts["account_id"].to_numpy()
    usage = pa.table(
        {
            "account_id": pa.array(ids[rows_idx]).dictionary_encode(),
            "date": pa.array(day_to_date(days_idx)),
            "active_users": pa.array(active[rows_idx, days_idx].astype(np.int32)),
            "logins": pa.array(logins[rows_idx, days_idx].astype(np.int32)),
            "feature_adoption": pa.array(adoption[rows_idx, days_idx]),
            "meeting_minutes": pa.array(meeting[rows_idx, days_idx]),
        }
    )

    keep = lambda rows, days: days <= last_day[rows]  # noqa: E731 - tiny mask helper used five times
    engagements = pd.concat(
        [
            pd.DataFrame({"row": r[keep(r, d)], "day": d[keep(r, d)], "type": kind})
            for kind, r, d in [("seminar", sem_rows, sem_days), ("webinar", web_rows, web_days)] + other
        ],
        ignore_index=True,
    ).sort_values(["row", "day", "type"], kind="stable")
    tickets = tickets[keep(tickets["row"].to_numpy(), tickets["opened_day"].to_numpy())]
    surveys = surveys[keep(surveys["row"].to_numpy(), surveys["day"].to_numpy())]

    contracts = _dated(
        _contract_rows(traits, decisions, last_day), ids, {"start_day": "start", "end_day": "end"}, hide_future=False
    )
    truth = traits.assign(lambda_weekly=lam, p_dropout=p_drop, spend_nu=nu, churned=churned, last_day=last_day)
    return Chunk(
        accounts=accounts,
        truth=truth,
        contracts=contracts,
        orders=_dated(orders, ids, {"day": "date", "paid_day": "paid_date"}),
        tickets=_dated(tickets, ids, {"opened_day": "opened", "closed_day": "closed"}),
        surveys=_dated(surveys, ids, {"day": "date"}),
        engagements=_dated(engagements, ids, {"day": "date"}),
        decisions=_dated(decisions, ids, {"end_day": "end", "cutoff_day": "cutoff"}),
        usage=usage,
    )


def _contract_rows(traits: pd.DataFrame, decisions: pd.DataFrame, last_day: np.ndarray) -> pd.DataFrame:
    fs = traits["first_seen_day"].to_numpy()
    terms = np.where(last_day < N_DAYS - 1, (last_day - fs + 1) // 365, (N_DAYS - 1 - fs) // 365 + 1)
    rows, year = _expand(terms)
    frame = pd.DataFrame({"row": rows, "year": year})
    frame["start_day"] = fs[rows] + 365 * year
    frame["end_day"] = frame["start_day"] + 364
    outcome = decisions.set_index(["row", "year"])["renewed"] if len(decisions) else pd.Series(dtype=float)
    decided = outcome.reindex(pd.MultiIndex.from_arrays([frame["row"], frame["year"]])).to_numpy()
    frame["renewal_outcome"] = np.where(np.isnan(decided), "open", np.where(decided == 1, "renewed", "not_renewed"))
    lines = traits["product_lines"].to_numpy()[rows]
    frame = frame.loc[frame.index.repeat(lines)].reset_index(drop=True)
    frame["line"] = frame.groupby(["row", "year"]).cumcount()
    growth = 1 + np.asarray(SEGMENT_PARAMS["arr_growth"])[traits["segment_index"].to_numpy()[frame["row"]]]
    frame["annual_value"] = np.round(traits["arr_per_line"].to_numpy()[frame["row"]] * growth ** frame["year"], 2)
    frame["product_line"] = np.array(PRODUCT_LINES)[frame["line"]]
    return frame


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index repeated ``counts`` times, and the position 0..count-1 within each row."""
    counts = np.maximum(np.asarray(counts), 0)
    rows = np.repeat(np.arange(len(counts)), counts)
    return rows, np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)


def _dated(frame: pd.DataFrame, ids: np.ndarray, day_columns: dict[str, str], hide_future: bool = True) -> pd.DataFrame:
    """Swap chunk-local rows and day indices for account ids and dates.

    With ``hide_future``, a date after the extract becomes missing: unknown at the extract
    (a ticket still open, an order still unpaid)."""
    out = frame.copy()
    out.insert(0, "account_id", ids[out.pop("row").to_numpy()])
    for day_col, date_col in day_columns.items():
        days = out.pop(day_col).to_numpy().astype(float)
        dates = pd.Series(day_to_date(np.nan_to_num(days, nan=0).astype(int)), index=out.index)
        out[date_col] = dates.where(days < N_DAYS) if hide_future else dates
    return out.reset_index(drop=True)


def generate_book(out_dir: str | Path, n_accounts: int = 5000, seed: int = 42, fmt: str = "parquet") -> dict:
    """Write a synthetic book into ``out_dir`` and return the planted truths (also in ground_truth.json)."""
    if n_accounts < 1:
        raise ConfigError(f"n_accounts must be at least 1 (got {n_accounts}).")
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"Unknown format {fmt!r}; use 'parquet' or 'csv'.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    usage_dir = out / "usage"
    if fmt == "parquet":
        usage_dir.mkdir(exist_ok=True)
        for stale in usage_dir.glob("*.parquet"):
            stale.unlink()
    parts: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("accounts", "truth", "contracts", "orders", "tickets", "surveys", "engagements", "decisions")
    }
    csv_usage = out / "usage.csv"
    for chunk, offset in enumerate(range(0, n_accounts, CHUNK_ACCOUNTS)):
        size = min(CHUNK_ACCOUNTS, n_accounts - offset)
        gen = _generate_chunk(seed, chunk, size, offset)
        for key in parts:
            parts[key].append(getattr(gen, key))
        if fmt == "parquet":
            pq.write_table(gen.usage, usage_dir / f"part-{chunk:05d}.parquet", compression="zstd")
        else:
            gen.usage.to_pandas().to_csv(csv_usage, mode="w" if chunk == 0 else "a", header=chunk == 0, index=False)
    tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    tables["contracts"] = _finish_contracts(tables["contracts"], tables["accounts"])
    tables["orders"] = _with_ids(tables["orders"], "O", "order_id")[
        ["order_id", "account_id", "date", "amount", "cost", "paid_date"]
    ]
    tables["tickets"] = _with_ids(tables["tickets"], "T", "ticket_id")[
        ["ticket_id", "account_id", "opened", "closed", "severity"]
    ]
    tables["surveys"] = tables["surveys"][["account_id", "date", "nps"]]
    tables["engagements"] = tables["engagements"][["account_id", "date", "type"]]
    from analysis.data.io import write_book  # local import: io imports duckdb, not needed to simulate

    write_book(
        {k: tables[k] for k in ("accounts", "contracts", "orders", "tickets", "surveys", "engagements")}, out, fmt
    )
    truth = _ground_truth(tables, seed, n_accounts)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True), encoding="utf-8")
    (out / "extract.json").write_text(json.dumps({"extract_date": EXTRACT_DATE.isoformat()}), encoding="utf-8")
    tables["truth"].drop(columns=["segment_index"]).to_csv(out / "ground_truth_accounts.csv", index=False)
    tables["decisions"].to_csv(out / "ground_truth_decisions.csv", index=False, date_format="%Y-%m-%d")
    return truth


def _with_ids(frame: pd.DataFrame, prefix: str, column: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, column, [f"{prefix}{i:08d}" for i in range(len(frame))])
    return frame


def _finish_contracts(contracts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    contracts = contracts.copy()
    contracts["contract_id"] = [
        f"C-{a}-{y}-{l}" for a, y, l in zip(contracts["account_id"], contracts["year"], contracts["line"])
    ]
    return contracts[["contract_id", "account_id", "start", "end", "annual_value", "product_line", "renewal_outcome"]]


def _ground_truth(tables: dict[str, pd.DataFrame], seed: int, n_accounts: int) -> dict:
    truth = tables["truth"]
    revenue = (
        tables["contracts"]
        .groupby("account_id")["annual_value"]
        .sum()
        .add(tables["orders"].groupby("account_id")["amount"].sum(), fill_value=0)
        .reindex(truth["account_id"], fill_value=0)
        .sort_values(ascending=False)
    )
    top20 = revenue.iloc[: max(1, round(0.2 * len(revenue)))].sum() / revenue.sum()
    decisions = tables["decisions"]
    return {
        "seed": seed,
        "n_accounts": n_accounts,
        "start_date": START_DATE.isoformat(),
        "extract_date": EXTRACT_DATE.isoformat(),
        "revenue_share_top20": round(float(top20), 4),
        "renewal": {
            "lead_days": LEAD_DAYS,
            "link": "logit",
            "intercept": RENEWAL_INTERCEPT,
            "log_odds_per_unit": RENEWAL_BETA,
            "noise_features": list(NOISE_FEATURES),
            "feature_definitions": "features at cutoff = contract end - lead_days, from data dated before the cutoff "
            "(see analysis.features.build_contract_features)",
            "decisions": len(decisions),
            "renewal_rate": round(float(decisions["renewed"].mean()), 4) if len(decisions) else None,
        },
        "churn_hazard": {
            "event": "account does not renew a contract; churn date = contract end",
            "log_hazard_ratio_per_unit": {k: -v for k, v in RENEWAL_BETA.items()},
            "noise_features": list(NOISE_FEATURES),
            "note": "exact for the discrete-time logit hazard at each renewal (one record per decision, "
            "covariates at the cut-off); a Cox model with tied churn dates estimates a different, "
            "smaller quantity: 12-41% smaller in magnitude on the default book (docs/survival.md)",
        },
        "purchases": {
            "time_unit": "weeks",
            "bgnbd": BGNBD,
            "gamma_gamma": GAMMA_GAMMA,
            "note": "the first order is at first_seen; repeat orders follow BG/NBD independently of contracts",
        },
        "segments": {
            "names": list(SEGMENTS),
            "shares": dict(zip(SEGMENTS, SEGMENT_SHARES)),
            "label_file": "ground_truth_accounts.csv",
            "traits": {
                "key_strategic": "mostly enterprise, manufacturing or financial services, 3-4 product lines, "
                "~250 seats, highest contract value, high adoption, frequent QBRs and executive visits",
                "growth_midmarket": "mid-market, 2 product lines, ~60 seats, adoption rising",
                "core_small": "small, 1 product line, ~10 seats, moderate adoption",
                "low_touch_risky": "small or mid-market, 1 product line, low and falling adoption, many severe "
                "tickets, low NPS, slow payment; 30% unprofitable",
            },
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in SEGMENT_PARAMS.items()},
        },
        "unprofitable_accounts": int(truth["unprofitable"].sum()),
    }
