"""Customer lifetime value of the order stream: BG/NBD purchases x Gamma-Gamma spend x margin,
discounted month by month over a finite horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv._inputs import check_rfm, unit_days
from analysis.clv.bgnbd import BetaGeoModel, conditional_expected_purchases
from analysis.clv.gamma_gamma import GammaGammaModel
from analysis.errors import ConfigError

DAYS_PER_YEAR = 365.25


def horizon_steps(horizon: float, time_unit: str, steps_per_year: int = 12) -> int:
    """Number of discounting steps (calendar months by default) in ``horizon`` ``time_unit``s."""
    years = float(horizon) * unit_days(time_unit) / DAYS_PER_YEAR
    steps = round(years * steps_per_year)
    if steps < 1:
        raise ConfigError(
            f"A CLV horizon of {horizon} {time_unit} is shorter than one discounting step; use at least a month."
        )
    return steps


def customer_lifetime_value(
    purchases: BetaGeoModel,
    spend: GammaGammaModel,
    rfm: pd.DataFrame,
    time_unit: str,
    horizon: float,
    annual_discount_rate: float,
    margin=1.0,
    steps_per_year: int = 12,
) -> pd.DataFrame:
    """Per-customer CLV over ``horizon`` (in ``time_unit``, like rfm's recency and T).

    CLV = margin x expected spend per purchase x sum over months k of
    (E[purchases by month k] - E[purchases by month k-1]) / (1 + d)^(k / 12).
    Months are calendar months whatever ``time_unit`` is, so the value does not depend on the
    unit the data is measured in. ``margin`` is a share of revenue (scalar or Series by customer);
    a negative margin gives CLV 0, never negative: the firm can stop serving a loss-making
    customer, so the value of the relationship is floored at zero (the losses show in margin
    reports, not here).
    """
    if not 0 <= annual_discount_rate < 1:
        raise ConfigError(
            f"annual_discount_rate must be in [0, 1), e.g. 0.10 for 10% a year; got {annual_discount_rate}."
        )
    x, t, T = check_rfm(rfm, "The CLV calculation")
    r, alpha, a, b = purchases._params_in(time_unit)
    steps = horizon_steps(horizon, time_unit, steps_per_year)
    step_len = DAYS_PER_YEAR / steps_per_year / unit_days(time_unit)
    # Cumulative expected purchases at each step boundary: customers x (steps + 1).
    times = step_len * np.arange(steps + 1)
    cumulative = conditional_expected_purchases(x[:, None], t[:, None], T[:, None], times[None, :], r, alpha, a, b)
    per_step = np.diff(cumulative, axis=1)
    discount = (1.0 + annual_discount_rate) ** (-np.arange(1, steps + 1) / steps_per_year)
    discounted_purchases = per_step @ discount
    expected_spend = spend.predict_mean_spend(rfm).to_numpy()
    margin = margin.reindex(rfm.index).to_numpy(dtype=float) if isinstance(margin, pd.Series) else float(margin)
    clv = np.clip(discounted_purchases * expected_spend * margin, 0.0, None)
    return pd.DataFrame(
        {
            "p_alive": purchases.predict_p_alive(rfm, time_unit).to_numpy(),
            "expected_purchases": cumulative[:, -1],
            "expected_spend": expected_spend,
            "clv": clv,
        },
        index=rfm.index,
    )
