"""A feature table with planted segments, for tests and benchmarks (the real book comes from
``analysis.data.synth``)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_segment_features(n: int = 2000, seed: int = 0, missing_share: float = 0.0) -> pd.DataFrame:
    """A feature table with 4 planted segments (column ``segment``) and 12 clustering features.

    Segments: 1 enterprise manufacturers with many product lines and high revenue; 2 mid-market
    technology with heavy usage; 3 small retail, low revenue, late payers; 4 mid-market services
    with light usage. ``region`` and ``noise_1`` carry no segment signal. Used to test recovery
    and to benchmark; the real book comes from analysis.data.synth.
    """
    rng = np.random.default_rng(seed)
    seg = rng.choice([1, 2, 3, 4], size=n, p=[0.15, 0.25, 0.35, 0.25])
    spec = {  # industry, size_band, log employees, log revenue, product lines, adoption, payment delay
        1: ("manufacturing", "enterprise", 7.0, 13.0, 4.0, 0.55, 5.0),
        2: ("technology", "mid-market", 5.5, 11.5, 2.0, 0.9, 4.0),
        3: ("retail", "small", 3.5, 9.5, 1.0, 0.35, 35.0),
        4: ("services", "mid-market", 5.0, 10.5, 1.0, 0.45, 20.0),
    }
    col = {j: np.array([spec[s][j] for s in seg]) for j in range(7)}
    industries = np.array(["manufacturing", "technology", "retail", "services", "finance"])
    # 10% of accounts carry another industry, so categories are informative but not perfect.
    industry = np.where(rng.random(n) < 0.9, col[0], industries[rng.integers(0, 5, n)])
    revenue = np.exp(col[3] + rng.normal(0, 0.35, n))
    frame = pd.DataFrame(
        {
            "industry": industry,
            "size_band": col[1],
            "region": rng.choice(["north", "south", "east", "west"], size=n),
            "employees": np.round(np.exp(col[2] + rng.normal(0, 0.3, n))).astype(int),
            "arr": revenue * rng.uniform(0.5, 0.7, n),
            "revenue_12m": revenue,
            "margin_12m": revenue * rng.normal(0.3, 0.08, n),
            "product_lines": np.clip(np.round(col[4] + rng.normal(0, 0.5, n)), 1, 6).astype(int),
            "adoption_90d": np.clip(col[5] + rng.normal(0, 0.08, n), 0, 1),
            "logins_90d": rng.poisson(np.exp(2 + 4 * col[5])),
            "payment_delay_days": np.clip(col[6] + rng.normal(0, 4, n), 0, None),
            "noise_1": rng.normal(0, 1, n),
            "segment": seg,
        },
        index=pd.Index([f"A{i:06d}" for i in range(n)], name="account_id"),
    )
    if missing_share > 0:
        for c in ("employees", "adoption_90d", "industry"):
            frame[c] = frame[c].astype("object" if c == "industry" else "float64")
            frame.loc[rng.random(n) < missing_share, c] = np.nan if c != "industry" else None
    return frame


# Features that describe the planted segments (SIM_FEATURES adds the two pure-noise columns).
SIM_SIGNAL_FEATURES = [
    "industry",
    "size_band",
    "employees",
    "arr",
    "revenue_12m",
    "margin_12m",
    "product_lines",
    "adoption_90d",
    "logins_90d",
    "payment_delay_days",
]
SIM_FEATURES = [
    "industry",
    "size_band",
    "region",
    "employees",
    "arr",
    "revenue_12m",
    "margin_12m",
    "product_lines",
    "adoption_90d",
    "logins_90d",
    "payment_delay_days",
    "noise_1",
]
SIM_LOG = ["arr", "revenue_12m", "margin_12m", "employees", "logins_90d"]
