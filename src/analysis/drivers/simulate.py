"""Contract tables with a known truth, for the tests and the benchmark of the renewal drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

SIM_BETA = {
    "seminar": 0.6,
    "adoption": 3.0,
    "open_tickets": -0.4,
    "nps": 0.2,
    "payment_delay": -0.02,
    "product_lines": 0.3,
}
SIM_INDUSTRY = {"manufacturing": 0.0, "finance": 0.3, "retail": -0.5, "services": 0.0}  # reference: manufacturing
SIM_NOISE = ("noise_a", "noise_b", "webinars")


def simulate_contracts(
    n_contracts: int = 5000,
    seed: int = 0,
    contracts_per_account: int = 3,
    intercept: float = -1.4,
    beta: dict | None = None,
    industry: dict | None = None,
    start: str = "2021-01-01",
    years: int = 3,
) -> tuple[pd.DataFrame, dict]:
    """A contract table whose renewal log-odds are exactly linear in the features (known truth).

    Accounts carry persistent traits, so their contracts are correlated (which is what the
    cluster-robust errors are for); given the features, outcomes are independent Bernoulli.
    """
    beta = dict(SIM_BETA if beta is None else beta)
    industry = dict(SIM_INDUSTRY if industry is None else industry)
    rng = np.random.default_rng(seed)
    n_acc = int(np.ceil(n_contracts / contracts_per_account))
    acc = np.sort(rng.integers(0, n_acc, n_contracts))
    size = rng.choice(["enterprise", "mid-market", "small"], n_acc, p=[0.2, 0.35, 0.45])
    ind = rng.choice(list(industry), n_acc, p=np.full(len(industry), 1 / len(industry)))
    base_adoption, base_nps = rng.beta(4, 3, n_acc), rng.normal(7, 1.5, n_acc)
    base_delay, lines = rng.gamma(3, 12, n_acc), rng.integers(1, 5, n_acc)
    frame = pd.DataFrame(
        {
            "contract_id": [f"K{i:07d}" for i in range(n_contracts)],
            "account_id": [f"A{a:06d}" for a in acc],
            "end": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 365 * years, n_contracts), unit="D"),
            "size_band": size[acc],
            "industry": ind[acc],
            "seminar": (rng.random(n_contracts) < 0.2 + 0.3 * (size[acc] == "enterprise")).astype(int),
            "adoption": np.clip(base_adoption[acc] + rng.normal(0, 0.08, n_contracts), 0, 1),
            "open_tickets": rng.poisson(np.where(base_adoption[acc] < 0.4, 1.5, 0.6)),
            "nps": np.clip(np.round(base_nps[acc] + rng.normal(0, 1, n_contracts)), 0, 10),
            "payment_delay": np.round(base_delay[acc] + rng.normal(0, 5, n_contracts), 1),
            "product_lines": lines[acc],
            "noise_a": rng.normal(0, 1, n_contracts),
            "noise_b": rng.uniform(0, 100, n_contracts),
            "webinars": rng.poisson(2, n_contracts),
        }
    )
    eta = intercept + sum(b * frame[k].to_numpy() for k, b in beta.items()) + frame["industry"].map(industry).to_numpy()
    frame["renewed"] = (rng.random(n_contracts) < expit(eta)).astype(int)
    truth = {
        "intercept": intercept,
        "log_odds_per_unit": beta,
        "industry": industry,
        "industry_reference": next(iter(industry)),
        "noise_features": list(SIM_NOISE),
    }
    return frame.set_index("contract_id"), truth
