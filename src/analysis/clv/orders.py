"""The order stream of CLV: BG/NBD purchases x Gamma-Gamma spend x each account's order margin,
and the holdout check that shows whether the purchase model predicted what happened next."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analysis.clv._inputs import convert_time
from analysis.clv.bgnbd import BetaGeoModel
from analysis.clv.gamma_gamma import GammaGammaModel
from analysis.clv.rfm import calibration_holdout, holdout_check, rfm_summary
from analysis.clv.value import customer_lifetime_value
from analysis.core import problems as problems_
from analysis.data.asof import require_date
from analysis.errors import ConvergenceError, InsufficientDataError
from analysis.params import ClvParams


def order_margin_rates(orders: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Each account's observed margin share sum(amount - cost) / sum(amount) before ``as_of``."""
    before = orders[pd.to_datetime(orders["date"]) < pd.Timestamp(require_date(as_of))]
    if "cost" not in before or before["cost"].isna().all():
        return pd.Series(dtype=float)
    known = before.dropna(subset=["cost"])
    sums = known.groupby("account_id")[["amount", "cost"]].sum()
    return ((sums["amount"] - sums["cost"]) / sums["amount"].where(sums["amount"] > 0)).rename("margin_rate")


def order_stream(orders: pd.DataFrame, as_of: dt.date, accounts: pd.Index, clv_params: ClvParams, problems: list):
    """Fit BG/NBD and Gamma-Gamma on the orders of ``accounts`` before ``as_of`` and value each
    account's order stream; returns (values, purchase model, spend model, margin used)."""
    unit = clv_params.time_unit
    rfm = rfm_summary(orders, as_of, unit)
    rfm = rfm[rfm.index.isin(accounts)]
    margin = order_margin(orders, as_of, rfm.index, clv_params, problems)
    purchases = BetaGeoModel().fit(rfm, time_unit=unit)
    spendable = (rfm["frequency"] == 0) | (rfm["monetary_value"] > 0)
    if not spendable.all():
        problems.append(
            problems_.problem(
                "Gamma-Gamma spend",
                "nonpositive_spend",
                "dropped",
                f"{int((~spendable).sum())} repeat buyers with zero or negative mean spend were left out of the "
                f"spend model; their expected spend is set to 0.",
                "net returns against their orders, or leave them out on purpose",
            )
        )
    spend = GammaGammaModel().fit(rfm[spendable])
    horizon = convert_time(clv_params.horizon_years, "years", unit)
    safe = rfm.assign(monetary_value=rfm["monetary_value"].where(spendable, 1.0))
    table = customer_lifetime_value(purchases, spend, safe, unit, horizon, clv_params.annual_discount_rate, margin)
    table.loc[~spendable, ["expected_spend", "clv"]] = 0.0
    return table.rename(columns={"clv": "clv_orders"}), purchases, spend, margin


def holdout_report(orders: pd.DataFrame | None, as_of: dt.date, clv_params: ClvParams, seed: int):
    """Fit BG/NBD on orders before ``as_of - holdout_weeks`` and compare its predictions for the
    holdout with what happened (with the verdict of ``analysis.clv.rfm.holdout_verdicts`` at
    ``clv.holdout_tolerance``; ``seed`` drives its bootstrap).

    Returns (holdout check table or None, calibration model or None, a sentence saying what was
    done or why it could not be).
    """
    calibration_end = require_date(as_of) - dt.timedelta(weeks=clv_params.holdout_weeks)
    if orders is None:
        return None, None, "No orders table in this extract: the order stream and its holdout check are skipped."
    try:
        split = calibration_holdout(orders, calibration_end, as_of, clv_params.time_unit)
        model = BetaGeoModel().fit(split, time_unit=clv_params.time_unit)
    except (InsufficientDataError, ConvergenceError) as exc:
        return None, None, f"The holdout check could not be made, because {exc}"
    table = holdout_check(
        model,
        split,
        clv_params.time_unit,
        tolerance=clv_params.holdout_tolerance,
        n_boot=clv_params.holdout_n_boot,
        seed=seed,
        min_customers=clv_params.holdout_min_customers,
    )
    return (
        table,
        model,
        (
            f"Calibration on orders before {calibration_end}, holdout of "
            f"{clv_params.holdout_weeks} weeks to {as_of - dt.timedelta(days=1)}."
        ),
    )


def order_margin(orders, as_of: dt.date, index, clv_params: ClvParams, problems: list[dict]):
    if clv_params.order_margin != "observed":
        return float(clv_params.order_margin)
    rates = order_margin_rates(orders, as_of)
    if rates.empty:
        problems.append(
            problems_.problem(
                "order margin",
                "no_cost_data",
                "adjusted",
                "Orders carry no cost: order CLV uses revenue (margin 1).",
                "Set clv.order_margin to a share to change this.",
            )
        )
        return 1.0
    before = orders[pd.to_datetime(orders["date"]) < pd.Timestamp(as_of)].dropna(subset=["cost"])
    book_rate = 1 - before["cost"].sum() / before["amount"].sum()
    return rates.reindex(index).fillna(book_rate)
