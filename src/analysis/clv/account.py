"""Account-level CLV: the order stream (BG/NBD x Gamma-Gamma) plus the contract stream (annual
value x margin x DERL from segment-level sBG fits), with value at risk and concentration.

Assumptions (returned with every result in ``AccountClv.assumptions`` and shown in the report):

* order stream: purchases and spend from models fitted on all order history before ``as_of``;
  discounted monthly over ``horizon_years`` at ``annual_discount_rate``; margin = each account's
  observed order margin share (``order_margin: observed``, book-wide share when an account has no
  cost data) or a fixed share;
* contract stream: current ARR x ``contract_margin`` x DERL, i.e. the renewals still to come,
  the next one counted as if due now (the current, already signed term is not included);
  at most ``horizon_years`` renewals, discounted yearly at the same rate;
* CLV is floored at zero per stream (see ``analysis.clv.value``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.clv._inputs import convert_time, require_columns
from analysis.clv.bgnbd import BetaGeoModel
from analysis.clv.gamma_gamma import GammaGammaModel
from analysis.clv.rfm import calibration_holdout, holdout_check, rfm_summary
from analysis.clv.sbg import fit_by_segment
from analysis.clv.value import customer_lifetime_value
from analysis.core import problems as problems_
from analysis.data.asof import require_date
from analysis.errors import ConvergenceError, InsufficientDataError
from analysis.params import ClvParams

TOP_SHARES = (0.01, 0.20, 0.50)


@dataclass
class AccountClv:
    """Result of ``account_clv``: the per-account table, the fitted models and what was assumed.

    ``problems`` (the ``analysis.core.problems`` frame) says what could not be estimated or was
    estimated differently: a stream not valued, buyers left out of the spend model, segments on the
    pooled retention fit, a singular information matrix.
    """

    table: pd.DataFrame
    purchases: BetaGeoModel | None
    spend: GammaGammaModel | None
    retention: dict
    retention_table: pd.DataFrame | None
    assumptions: dict
    problems: pd.DataFrame


# --- contracts -------------------------------------------------------------------------------


def contract_histories(contracts: pd.DataFrame, as_of: dt.date, segments: pd.Series | None = None) -> pd.DataFrame:
    """Per account with a contract started before ``as_of``: renewal history and current ARR.

    Columns: renewals_past (renewal decisions taken, renewed), churned (last decision before
    ``as_of`` was not to renew and nothing is active), active, arr (annual value of contracts
    running at ``as_of``), periods (sBG input: the period churned in, or renewals survived) and
    the segment when ``segments`` is given. Outcomes of contracts ending on or after ``as_of`` are
    not used, so a back-test sees only what was known then.
    """
    require_columns(contracts, ("account_id", "start", "end", "annual_value", "renewal_outcome"), "Contract histories")
    as_of = pd.Timestamp(require_date(as_of))
    k = contracts[pd.to_datetime(contracts["start"]) < as_of].copy()
    k["end"] = pd.to_datetime(k["end"])
    decided = k[k["end"] < as_of]
    by_end = (
        decided.assign(renewed=decided["renewal_outcome"].eq("renewed")).groupby(["account_id", "end"])["renewed"].any()
    )
    last = by_end.groupby(level="account_id").last()
    running = k[k["end"] >= as_of]
    out = pd.DataFrame(index=pd.Index(sorted(k["account_id"].unique()), name="account_id"))
    out["renewals_past"] = by_end.groupby(level="account_id").sum().reindex(out.index, fill_value=0).astype(int)
    out["arr"] = running.groupby("account_id")["annual_value"].sum().reindex(out.index, fill_value=0.0)
    out["active"] = out.index.isin(running["account_id"])
    out["churned"] = (~out["active"] & last.reindex(out.index).eq(False)).astype(int)
    out["periods"] = out["renewals_past"] + out["churned"]
    if segments is not None:
        out["segment"] = segments.reindex(out.index).fillna("unknown").astype(str).to_numpy()
    return out


def contract_stream(
    histories: pd.DataFrame, models: dict, margin: float, annual_discount_rate: float, horizon_years: float
) -> pd.DataFrame:
    """clv_contracts = ARR x margin x DERL and the probability of not renewing next time."""
    out = pd.DataFrame(index=histories.index)
    renewal_p = pd.Series(np.nan, index=histories.index)
    derl = pd.Series(0.0, index=histories.index)
    active = histories[histories["active"]]
    groups = active.groupby("segment") if "segment" in active else [("all", active)]
    for name, part in groups:
        model = models.get(name, models["all"])
        renewal_p[part.index] = model.renewal_probability(part["renewals_past"])
        derl[part.index] = model.derl(part["renewals_past"], annual_discount_rate, horizon=round(horizon_years))
    out["derl"] = derl
    out["renewal_probability"] = renewal_p
    out["clv_contracts"] = np.clip(histories["arr"] * max(margin, 0.0) * derl, 0.0, None)
    return out


# --- orders ----------------------------------------------------------------------------------


def order_margin_rates(orders: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Each account's observed margin share sum(amount - cost) / sum(amount) before ``as_of``."""
    before = orders[pd.to_datetime(orders["date"]) < pd.Timestamp(require_date(as_of))]
    if "cost" not in before or before["cost"].isna().all():
        return pd.Series(dtype=float)
    known = before.dropna(subset=["cost"])
    sums = known.groupby("account_id")[["amount", "cost"]].sum()
    return ((sums["amount"] - sums["cost"]) / sums["amount"].where(sums["amount"] > 0)).rename("margin_rate")


def order_stream(rfm: pd.DataFrame, margin, clv_params: ClvParams, problems: list[dict]):
    """Fit BG/NBD and Gamma-Gamma on ``rfm`` and value each account's order stream."""
    unit = clv_params.time_unit
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
    return table.rename(columns={"clv": "clv_orders"}), purchases, spend


# --- combining -------------------------------------------------------------------------------


def add_value_at_risk(table: pd.DataFrame, churn_risk: pd.Series | None = None) -> pd.DataFrame:
    """value_at_risk = clv x P(lose the account), with the source of that probability named.

    P(lose) is the supplied churn risk (e.g. from the survival model) where given, else
    1 - sBG renewal probability for contract accounts, else 1 - P(alive) for order-only accounts.
    """
    out = table.copy()
    risk = pd.Series(np.nan, index=out.index)
    source = pd.Series("none", index=out.index, dtype=object)
    steps = [
        (1 - out["p_alive"], "1 - p_alive (orders)"),
        (1 - out["renewal_probability"], "1 - sBG renewal probability"),
    ]
    if churn_risk is not None:
        steps.append((churn_risk.reindex(out.index), "churn risk supplied"))
    for values, label in steps:  # later sources take precedence
        has = values.notna()
        risk[has], source[has] = values[has], label
    out["churn_probability"] = risk.clip(0, 1)
    out["risk_source"] = source
    out["value_at_risk"] = (out["clv"] * out["churn_probability"]).fillna(0.0)
    return out


def clv_concentration(values: pd.Series, shares=TOP_SHARES) -> pd.Series:
    """Share of total CLV held by the top 1 / 20 / 50 % of accounts."""
    from analysis.data.quality import concentration  # the same 80/20 arithmetic as revenue's

    if values.fillna(0).clip(lower=0).sum() <= 0:
        raise InsufficientDataError("Total CLV is zero; there is no concentration to report.")
    held = concentration(values, tuple(shares))["value_share"].to_numpy()
    return pd.Series(held, index=[f"top_{s:.0%}" for s in shares], name="clv_share")


def clv_tier(values: pd.Series) -> pd.Series:
    """The CLV pyramid: top 1%, next 19% (top 20%), next 30% (top 50%) and the bottom half."""
    rank = values.fillna(0).rank(ascending=False, method="first") / max(len(values), 1)
    labels = ["top 1%", "top 2-20%", "top 21-50%", "bottom 50%"]
    tier = pd.cut(rank, [0, *TOP_SHARES, 1.0], labels=labels, include_lowest=True)
    return tier.rename("clv_tier")


def clv_by_group(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Accounts, total and mean CLV, share of CLV and value at risk per value of ``by``."""
    require_columns(table, (by, "clv", "value_at_risk"), "CLV by group")
    g = table.groupby(by, observed=True)
    out = pd.DataFrame(
        {
            "accounts": g.size(),
            "clv_total": g["clv"].sum(),
            "clv_mean": g["clv"].mean(),
            "value_at_risk": g["value_at_risk"].sum(),
        }
    )
    out["clv_share"] = out["clv_total"] / out["clv_total"].sum()
    ordered = isinstance(table[by].dtype, pd.CategoricalDtype)  # e.g. the CLV pyramid keeps its order
    return out if ordered else out.sort_values("clv_total", ascending=False)


def account_clv(book, as_of: dt.date, clv_params: ClvParams, churn_risk: pd.Series | None = None) -> AccountClv:
    """The CLV table of every account first seen before ``as_of`` (see the module docstring)."""
    require_date(as_of)
    accounts = book.df("accounts").set_index("account_id")
    accounts = accounts[pd.to_datetime(accounts["first_seen"]) < pd.Timestamp(as_of)]
    problems: list[dict] = []
    table = pd.DataFrame(index=accounts.index.rename("account_id"))
    seg_col = clv_params.segment if clv_params.segment is not None and clv_params.segment in accounts else None
    if seg_col:
        table[seg_col] = accounts[seg_col]

    purchases = spend = None
    orders = book.df("orders") if book.has("orders") else None
    order_cols = ["p_alive", "expected_purchases", "expected_spend", "clv_orders"]
    try:
        if orders is None:
            raise InsufficientDataError("the orders table is absent")
        rfm = rfm_summary(orders, as_of, clv_params.time_unit)
        rfm = rfm[rfm.index.isin(table.index)]
        margin = _order_margin(orders, as_of, rfm.index, clv_params, problems)
        values, purchases, spend = order_stream(rfm, margin, clv_params, problems)
        table = table.join(values[order_cols])
        table["order_margin_rate"] = margin if isinstance(margin, pd.Series) else float(margin)
    except (InsufficientDataError, ConvergenceError) as exc:
        problems.append(_not_estimated("order stream", f"Order-stream CLV not estimated ({exc}); clv_orders is 0."))
        for col in order_cols:
            table[col] = np.nan
    table["clv_orders"] = table["clv_orders"].fillna(0.0)

    retention, retention_table = {}, None
    contract_cols = ["renewals_past", "arr", "active", "churned", "derl", "renewal_probability", "clv_contracts"]
    try:
        if not book.has("contracts"):
            raise InsufficientDataError("the contracts table is absent")
        hist = contract_histories(book.df("contracts"), as_of, accounts[seg_col] if seg_col else None)
        fit_on = hist[hist["periods"] >= 1]
        retention, retention_table = fit_by_segment(
            fit_on, "segment" if seg_col else None, clv_params.min_segment_churners
        )
        problems += [
            problems_.problem(f"sBG retention: {seg}", "retention_fit", "adjusted", f"sBG for {seg} {note}")
            for seg, note in retention_table["note"].items()
            if note
        ]
        values = contract_stream(
            hist, retention, clv_params.contract_margin, clv_params.annual_discount_rate, clv_params.horizon_years
        )
        table = table.join(hist[["renewals_past", "arr", "active", "churned"]]).join(values)
    except (InsufficientDataError, ConvergenceError) as exc:
        problems.append(
            _not_estimated("contract stream", f"Contract-stream CLV not estimated ({exc}); clv_contracts is 0.")
        )
        for col in contract_cols:
            if col not in table:
                table[col] = np.nan
    table["clv_contracts"] = table["clv_contracts"].fillna(0.0)
    table["clv"] = table["clv_orders"] + table["clv_contracts"]
    table = add_value_at_risk(table, churn_risk)
    assumptions = {
        **clv_params.model_dump(),
        "as_of": str(as_of),
        "order_margin_source": "observed share per account (book share when unknown)"
        if clv_params.order_margin == "observed"
        else f"fixed {clv_params.order_margin}",
        "contract_value": "ARR x contract_margin x DERL (renewals to come, next one undiscounted)",
        "value_at_risk": "CLV x churn probability (supplied risk, else 1 - sBG renewal probability, else 1 - P(alive))",
    }
    frame = problems_.concat(problems_.problems_frame(problems), *_model_problems(purchases, spend, retention))
    return AccountClv(table, purchases, spend, retention, retention_table, assumptions, frame)


def _not_estimated(stream: str, detail: str) -> dict:
    return problems_.problem(stream, "not_estimated", "fatal", detail, "its CLV is 0; see docs/clv.md (Bad input)")


def _model_problems(purchases, spend, retention: dict) -> list[pd.DataFrame]:
    """The fitted models' own ``problems_`` (a singular information matrix ...), named by model.

    A segment on the pooled fit is not repeated, and the constant-churn limit of the sBG is already
    said by the retention table's note."""
    parts = [("BG/NBD purchases", purchases), ("Gamma-Gamma spend", spend)]
    pooled = retention.get("all")
    parts += [(f"sBG retention: {name}", m) for name, m in retention.items() if name == "all" or m is not pooled]
    frames = []
    for label, model in parts:
        found = getattr(model, "problems_", None)
        if found is not None and len(found):
            frames.append(found[found["problem"] != "homogeneous"].assign(factor=label))
    return frames


def model_summaries(result: AccountClv) -> pd.DataFrame:
    """The fitted models' summaries stacked, with a ``model`` column (for the report)."""
    parts = [("BG/NBD purchases", result.purchases), ("Gamma-Gamma spend", result.spend)]
    parts += [(f"sBG retention: {name}", m) for name, m in result.retention.items()]
    frames = [m.summary.reset_index().assign(model=label) for label, m in parts if m is not None]
    if not frames:
        return pd.DataFrame(columns=["model", "factor"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["model", *[c for c in frame.columns if c != "model"]]]


def holdout_report(orders: pd.DataFrame | None, as_of: dt.date, clv_params: ClvParams):
    """Fit BG/NBD on orders before ``as_of - holdout_weeks`` and compare its predictions for the
    holdout with what happened.

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
        return None, None, f"The holdout check could not be made: {exc}"
    table = holdout_check(model, split, clv_params.time_unit)
    return (
        table,
        model,
        (
            f"Calibration on orders before {calibration_end}, holdout of "
            f"{clv_params.holdout_weeks} weeks to {as_of - dt.timedelta(days=1)}."
        ),
    )


def _order_margin(orders, as_of: dt.date, index, clv_params: ClvParams, problems: list[dict]):
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
