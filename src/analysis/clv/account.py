"""Account-level CLV: the order stream (BG/NBD x Gamma-Gamma) plus the contract stream (annual
value x margin x DERL from sBG fits per term class), with value at risk and concentration.

Assumptions (returned with every result in ``AccountClv.assumptions`` and shown in the report):

* order stream: purchases and spend from models fitted on all order history before ``as_of``;
  discounted monthly over ``horizon_years`` at ``annual_discount_rate``; margin = each account's
  observed order margin share (``order_margin: observed``, book-wide share when an account has no
  cost data) or a fixed share;
* contract stream: per subscription spell (an account's consecutive contracts on one product line
  with one term class, ``analysis.clv.contracts``), the running annual value x term length x
  ``contract_margin`` x DERL counted in terms of the spell's class: the renewals still to come,
  the next one counted as if due now (the current, already signed term is not included); at most
  ``horizon_years`` of renewals, discounted per term at the yearly rate converted to the term;
* retention per term class from the sBG (per segment where there are enough churners), replaced
  by the observed retention per renewal number where the sBG misfits (``analysis.clv.retention``);
* CLV is floored at zero per stream (see ``analysis.clv.value``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.clv._inputs import require_columns
from analysis.clv.bgnbd import BetaGeoModel
from analysis.clv.contracts import subscription_spells
from analysis.clv.gamma_gamma import GammaGammaModel
from analysis.clv.orders import order_stream
from analysis.clv.retention import Retention, fit_retention
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
    retention: Retention | None  # None: no contracts, or no spell reached a renewal decision
    spells: pd.DataFrame | None  # the contract stream per subscription spell (None: no contracts)
    assumptions: dict
    problems: pd.DataFrame

    @property
    def retention_table(self) -> pd.DataFrame | None:
        return None if self.retention is None else self.retention.table


# --- contracts -------------------------------------------------------------------------------

MONTHS_PER_YEAR = 12


def keep_probability(model, renewals_past: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """P(renewing each of the next ``decisions`` renewals | ``renewals_past`` made so far)."""
    k = np.arange(int(decisions.max(initial=1)))
    steps = model.renewal_probability(renewals_past[:, None] + k[None, :])
    return np.prod(np.where(k[None, :] < decisions[:, None], steps, 1.0), axis=1)


def contract_stream(spells: pd.DataFrame, retention: Retention, clv_params: ClvParams) -> pd.DataFrame:
    """Per spell: DERL in terms, the contract CLV and the probability of keeping it for a year.

    A spell of term T months renews 12 / T times a year: one period's payment is ``arr x T / 12``,
    the discount per period is ``(1 + d)^(T / 12) - 1`` and the horizon is ``horizon_years x 12 / T``
    periods. ``renewal_probability`` is the chance of renewing every decision of the next 12
    months (at least the next one), so it means the same for monthly and annual contracts.
    """
    out = pd.DataFrame(index=spells.index)
    out["derl"], out["renewal_probability"], out["clv_contracts"] = 0.0, np.nan, 0.0
    active = spells[spells["active"]]
    keys = ["term_class", "segment"] if "segment" in active else ["term_class"]
    margin = max(clv_params.contract_margin, 0.0)
    for key, part in active.groupby(keys, observed=True):
        term, segment = (key[0], key[1]) if len(keys) == 2 else (key[0], None)
        model = retention.model_for(term, segment)
        if model is None:
            continue  # not estimated for this term class (a problems row says why)
        years = float(part["term_months"].iloc[0]) / MONTHS_PER_YEAR
        per_period = (1 + clv_params.annual_discount_rate) ** years - 1
        horizon = max(1, round(clv_params.horizon_years / years))
        past = part["renewals_past"].to_numpy(dtype=np.int64)
        derl = model.derl(past, per_period, horizon=horizon)
        decisions = np.full(len(part), max(1, int(np.floor(1 / years + 1e-9))))
        out.loc[part.index, "derl"] = derl
        out.loc[part.index, "renewal_probability"] = keep_probability(model, past, decisions)
        out.loc[part.index, "clv_contracts"] = np.clip(part["arr"].to_numpy() * years * margin * derl, 0.0, None)
    return out


def account_contracts(spells: pd.DataFrame, margin: float) -> pd.DataFrame:
    """The contract columns of ``clv_accounts`` from the spells: arr, active, churned, renewals_past
    (of the running spells), clv_contracts, renewal_probability (ARR-weighted over running spells),
    derl (discounted years of today's ARR still to come: clv_contracts / (arr x margin)) and
    main_term (term class of the largest running spell)."""
    frame = spells.copy()
    frame["_w"] = frame["arr"].where(frame["active"] & frame["renewal_probability"].notna(), 0.0)
    frame["_wp"] = frame["_w"] * frame["renewal_probability"].fillna(0.0)
    frame["_running_renewals"] = frame["renewals_past"].where(frame["active"], 0)
    g = frame.groupby("account_id", sort=True)
    out = pd.DataFrame(
        {
            "renewals_past": g["_running_renewals"].sum().astype(int),
            "arr": g["arr"].sum(),
            "active": g["active"].any(),
            "churned": (~g["active"].any() & g["churned"].any()).astype(int),
            "clv_contracts": g["clv_contracts"].sum(),
        }
    )
    weight = g["_w"].sum()
    out["renewal_probability"] = (g["_wp"].sum() / weight).where(weight > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["derl"] = (out["clv_contracts"] / (out["arr"] * margin)).where(out["arr"] > 0, 0.0)
    largest = frame[frame["active"]].sort_values("arr", ascending=False, kind="stable").groupby("account_id").first()
    out["main_term"] = largest["term_class"].astype(object).reindex(out.index)
    return out


# --- combining -------------------------------------------------------------------------------


def add_value_at_risk(table: pd.DataFrame, churn_risk: pd.Series | None = None) -> pd.DataFrame:
    """value_at_risk = clv x P(lose the account), with the source of that probability named.

    P(lose) is the supplied churn risk (e.g. from the survival model) where given, else
    1 - renewal probability (the next 12 months) for contract accounts, else 1 - P(alive) for order-only accounts.
    """
    out = table.copy()
    risk = pd.Series(np.nan, index=out.index)
    source = pd.Series("none", index=out.index, dtype=object)
    steps = [
        (1 - out["p_alive"], "1 - p_alive (orders)"),
        (1 - out["renewal_probability"], "1 - renewal probability (contracts)"),
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
    order_cols = ["p_alive", "expected_purchases", "expected_spend", "clv_orders"]
    try:
        if not book.has("orders"):
            raise InsufficientDataError("this book has no orders table (a subscription-only book)")
        orders = book.df("orders")
        values, purchases, spend, margin = order_stream(orders, as_of, table.index, clv_params, problems)
        table = table.join(values[order_cols])
        table["order_margin_rate"] = margin if isinstance(margin, pd.Series) else float(margin)
    except (InsufficientDataError, ConvergenceError) as exc:
        problems.append(
            _not_estimated("order stream", f"Order-stream CLV not estimated, because {exc}; clv_orders is 0.")
        )
        for col in order_cols:
            table[col] = np.nan
    table["clv_orders"] = table["clv_orders"].fillna(0.0)

    retention = spells = None
    contract_cols = ["renewals_past", "arr", "active", "churned", "derl", "renewal_probability", "clv_contracts"]
    try:
        if not book.has("contracts"):
            raise InsufficientDataError("the contracts table is absent")
        spells = subscription_spells(book.df("contracts"), as_of, accounts[seg_col] if seg_col else None)
        if not (spells["periods"] >= 1).any():
            raise InsufficientDataError("no contract has reached a renewal decision yet")
        retention = fit_retention(spells, seg_col is not None, clv_params)
        problems += retention.problems
        values = contract_stream(spells, retention, clv_params)
        spells = spells.join(values)
        table = table.join(account_contracts(spells, max(clv_params.contract_margin, 0.0)))
    except (InsufficientDataError, ConvergenceError) as exc:
        problems.append(
            _not_estimated("contract stream", f"Contract-stream CLV not estimated, because {exc}; clv_contracts is 0.")
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
        "contract_value": "per spell: running annual value x term length x contract_margin x DERL counted in terms "
        "(renewals to come, next one undiscounted), summed per account",
        "retention": "sBG per term class (per segment with enough churners); observed rates per renewal number "
        "where the sBG misfits",
        "renewal_probability": "probability of renewing every decision of the next 12 months (at least the next)",
        "value_at_risk": "CLV x churn probability (supplied risk, else 1 - renewal probability, else 1 - P(alive))",
    }
    frame = problems_.concat(problems_.problems_frame(problems), *_model_problems(purchases, spend, retention))
    return AccountClv(table, purchases, spend, retention, spells, assumptions, frame)


def _not_estimated(stream: str, detail: str) -> dict:
    return problems_.problem(stream, "not_estimated", "fatal", detail, "its CLV is 0; see docs/clv.md (Bad input)")


def _retention_models(retention: Retention | None) -> list[tuple[str, object]]:
    """(label, model) of every retention fit shown: each term class's pooled sBG, its segments' own
    fits, and the per-renewal rates of a class where the sBG misfits."""
    if retention is None:
        return []
    parts = []
    for (term, name), model in retention.sbg.items():
        pooled = retention.sbg[(term, "all")]
        if name == "all" or model is not pooled:
            parts.append((f"sBG retention: {term} / {name}", model))
    parts += [
        (f"renewal rates: {term}", model)
        for term, model in retention.rates.items()
        if retention.checks[term]["verdict"] == "misfit"
    ]
    return parts


def _model_problems(purchases, spend, retention: Retention | None) -> list[pd.DataFrame]:
    """The fitted models' own ``problems_`` (a singular information matrix ...), named by model.

    The constant-churn limit of the sBG is already said by the retention table's note."""
    parts = [("BG/NBD purchases", purchases), ("Gamma-Gamma spend", spend), *_retention_models(retention)]
    frames = []
    for label, model in parts:
        found = getattr(model, "problems_", None)
        if found is not None and len(found):
            frames.append(found[found["problem"] != "homogeneous"].assign(factor=label))
    return frames


def model_summaries(result: AccountClv) -> pd.DataFrame:
    """The fitted models' summaries stacked, with a ``model`` column (for the report)."""
    parts = [("BG/NBD purchases", result.purchases), ("Gamma-Gamma spend", result.spend)]
    parts += _retention_models(result.retention)
    frames = [m.summary.reset_index().assign(model=label) for label, m in parts if m is not None]
    if not frames:
        return pd.DataFrame(columns=["model", "factor"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["model", *[c for c in frame.columns if c != "model"]]]
