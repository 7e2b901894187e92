"""Simulators with known parameters, for recovery tests and benchmarks (vectorised, no loops)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T,
    seed: int = 0,
    p: float | None = None,
    q: float | None = None,
    gamma: float | None = None,
    round_to: float | None = None,
) -> pd.DataFrame:
    """Customers from the BG/NBD (and Gamma-Gamma spend when p, q, gamma are given).

    ``T`` (scalar or one value per customer) is each customer's age at the end of the window.
    Purchases in (0, T] are Poisson(lambda T); the customer dies right after repeat purchase J,
    J ~ Geometric(p_drop), so frequency = min(N, J) and the last purchase is the frequency-th of N
    uniform times on (0, T]. ``round_to`` floors times to a grid (e.g. 1/7 for whole days in weeks).
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p_drop = rng.beta(a, b, n)
    total = rng.poisson(lam * T)
    dies_after = rng.geometric(np.clip(p_drop, 1e-300, 1.0))
    x = np.minimum(total, dies_after)
    t = np.zeros(n)
    pos = x > 0
    t[pos] = T[pos] * rng.beta(x[pos], total[pos] - x[pos] + 1)
    if round_to:
        T = np.floor(T / round_to + 1e-9) * round_to
        t = np.minimum(np.floor(t / round_to) * round_to, T)
    frame = pd.DataFrame({"frequency": x, "recency": t, "T": T})
    if p is not None:
        nu = rng.gamma(q, 1.0 / gamma, n)
        # The mean of x Gamma(p, nu) values is Gamma(p x, nu x).
        mean = np.zeros(n)
        mean[pos] = rng.gamma(p * x[pos], 1.0 / (nu[pos] * x[pos]))
        frame["monetary_value"] = mean
    frame.index.name = "customer_id"
    return frame


def simulate_sbg(n: int, alpha: float, beta: float, periods: int, seed: int = 0) -> pd.DataFrame:
    """Contract histories (periods, churned) of ``n`` customers observed for ``periods`` renewal terms."""
    rng = np.random.default_rng(seed)
    churn_prob = rng.beta(alpha, beta, n)
    lifetime = rng.geometric(np.clip(churn_prob, 1e-300, 1.0))  # period in which the customer leaves
    churned = lifetime <= periods
    return pd.DataFrame({"periods": np.where(churned, lifetime, periods), "churned": churned.astype(int)})


def simulate_orders(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    gamma: float,
    start: str,
    end: str,
    cohort_days: int = 84,
    seed: int = 0,
) -> pd.DataFrame:
    """Raw orders (account_id, date, amount) of ``n`` customers from BG/NBD + Gamma-Gamma in weeks.

    Customers make their first order on a day drawn uniformly from the first ``cohort_days`` after
    ``start``; orders are observed until ``end`` (exclusive) and dated to the day.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, cohort_days, n)
    window = ((pd.Timestamp(end) - pd.Timestamp(start)).days - 1 - first) / 7.0  # to the last day before end
    lam, p_drop, nu = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n), rng.gamma(q, 1.0 / gamma, n)
    total = rng.poisson(lam * window)
    keep = np.minimum(total, rng.geometric(np.clip(p_drop, 1e-300, 1.0)))
    owner = np.repeat(np.arange(n), total)
    times = rng.random(len(owner)) * window[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(total) - total, total)
    live = rank < keep[owner]  # purchases after the customer died never happen
    owner = np.r_[np.arange(n), owner[live]]
    days = first[owner] + np.floor(np.r_[np.zeros(n), times[live]] * 7).astype(int)
    amounts = rng.gamma(p, 1.0 / nu[owner])
    return pd.DataFrame(
        {
            "account_id": pd.Index(owner).map("C{:06d}".format),
            "date": pd.Timestamp(start) + pd.to_timedelta(days, unit="D"),
            "amount": np.round(amounts, 2),
        }
    ).sort_values(["account_id", "date"], ignore_index=True)
