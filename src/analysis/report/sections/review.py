"""Customers to review: current customers with a negative margin after the cost to serve, or who
pay chronically late (the scoring step's unprofitable flag, as configured), each with the suggested
action: reprice, reduce the cost to serve, or end the relationship."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import absent, formatting
from analysis.report.context import (
    Context,
    NotAvailable,
    Section,
    Table,
    account_columns,
    add_listing,
    by_account,
    section,
)

ACTIONS = ("reprice", "reduce_cost", "end")
LATE_COLUMNS = ("payment_delay_days", "late_payment_share")  # from orders.paid_date


def review_cases(frame: pd.DataFrame, flags, review, potential: pd.Series | None) -> pd.DataFrame:
    """Why each account is to be reviewed and what to do, from its numbers.

    ``frame`` (index account_id): margin_12m, tickets_12m, payment_delay_days, late_payment_share,
    tier. ``flags``: ``scoring.tiers.flags.unprofitable`` (the same cost to serve and lateness rules
    as the flag); ``review``: ``report.review``. Rules, first match wins:

    * a loss in an ``end_tiers`` tier without growth potential -> end the relationship (it destroys
      profit and is not expected to grow out of it);
    * a loss mostly made of cost to serve (its share of the shortfall >= ``cost_to_serve_share``)
      -> reduce the cost to serve;
    * any other loss, or late payment of a profitable customer -> reprice (prices or payment terms).
    """
    margin = frame["margin_12m"].astype(float)
    tickets = frame.get("tickets_12m", pd.Series(0.0, index=frame.index)).astype(float).fillna(0)
    cost = float(flags.cost_to_serve_fixed) + float(flags.cost_to_serve_per_ticket) * tickets
    after = margin - cost
    loss = after < 0
    none = pd.Series(False, index=frame.index)
    late_days = (
        frame["payment_delay_days"].astype(float) >= float(flags.late_days) if "payment_delay_days" in frame else none
    )
    late_share = (
        frame["late_payment_share"].astype(float) >= float(flags.late_share) if "late_payment_share" in frame else none
    )
    late = late_days | late_share
    shortfall = cost + (-margin).clip(lower=0)
    service_share = (cost / shortfall.replace(0, np.nan)).fillna(0)
    no_potential = ~potential.reindex(frame.index).fillna(False).astype(bool) if potential is not None else True
    end = loss & frame["tier"].isin(review.end_tiers) & no_potential
    reduce = ~end & loss & (service_share >= review.cost_to_serve_share)
    action = np.where(end, "end", np.where(reduce, "reduce_cost", "reprice"))
    out = pd.DataFrame(
        {
            "loss": loss,
            "late": late,
            "late_days": late_days,
            "late_share": late_share & ~late_days,
            "margin_after_cost": after,
            "cost_to_serve": cost,
            "action": action,
        },
        index=frame.index,
    )
    return out[loss | late]


def review_sentence(ctx: Context, frame: pd.DataFrame, cases: pd.DataFrame, flags) -> str:
    """How many to review and why; late payment is counted only when some active customer has a
    payment figure (no orders, or no paid invoices: "cannot be judged", not "0 pay late")."""
    values = {
        "n": formatting.count(len(cases)),
        "active": formatting.count(len(frame)),
        "loss": formatting.count(cases["loss"].sum()),
        "per_ticket": ctx.money(flags.cost_to_serve_per_ticket),
    }
    if absent.known(frame, LATE_COLUMNS):
        return ctx.t(
            "review_sentence", late=formatting.count(cases["late"].sum()), late_days=f"{flags.late_days:g}", **values
        )
    no_orders = "orders" in (absent.absent_tables(ctx) or ())
    why = ctx.t("review_late_unknown_orders" if no_orders else "review_late_unknown_dates")
    return ctx.t("review_sentence_no_late", why=why, **values)


@section("review")
def review_section(ctx: Context) -> Section:
    scored = by_account(ctx.need("scored_accounts", ["account_id", "tier", "margin_12m"]))
    out = Section("review", sources=["scored_accounts"])
    feats = ctx.optional("features_asof", ["account_id", "is_active"])
    frame = scored.copy()
    if feats is not None:
        f = by_account(feats)
        frame = frame[f["is_active"].astype(bool).reindex(frame.index).fillna(False).to_numpy()]
        for col in ("tickets_12m", "payment_delay_days", "late_payment_share", "region"):
            if col in f.columns and col not in frame.columns:
                frame[col] = f[col].reindex(frame.index)
        out.sources.append("features_asof")
    if frame.empty:
        raise NotAvailable(ctx.t("why_no_active"))
    flags = ctx.params.scoring.tiers.flags.unprofitable
    potential = frame["flag_potential"] if "flag_potential" in frame.columns else None
    cases = review_cases(frame, flags, ctx.settings.review, potential)
    actions = ctx.settings.review_actions
    counts = cases["action"].value_counts().reindex(list(ACTIONS)).fillna(0).astype(int)
    out.text.append(review_sentence(ctx, frame, cases, flags))
    out.add(
        Table(
            "actions",
            pd.DataFrame(
                {
                    "action": [getattr(actions[a], ctx.lang) for a in ACTIONS],
                    "accounts": counts.to_numpy(),
                    "annual_value": [
                        float(frame["arr"].reindex(cases.index[cases["action"] == a]).sum())
                        if "arr" in frame.columns
                        else np.nan
                        for a in ACTIONS
                    ],
                }
            ),
            ctx.t("review_actions_caption"),
        )
    )
    delay = frame["payment_delay_days"] if "payment_delay_days" in frame else pd.Series(np.nan, index=frame.index)
    share = frame["late_payment_share"] if "late_payment_share" in frame else pd.Series(np.nan, index=frame.index)
    why = [
        ctx.t("list_sep").join(
            part
            for part, on in (
                (ctx.t("why_loss", margin=ctx.money(c["margin_after_cost"])), c["loss"]),
                (ctx.t("why_late", days=formatting.days(delay.get(a), ctx.lang)), c["late_days"]),
                (ctx.t("why_late_share", share=formatting.pct(share.get(a))), c["late_share"]),
            )
            if on
        )
        for a, c in cases.iterrows()
    ]
    listing = pd.DataFrame(
        {
            **account_columns(ctx, cases.index, frame["tier"]),
            "arr": frame["arr"].reindex(cases.index).to_numpy() if "arr" in frame else np.nan,
            "margin_after_cost": cases["margin_after_cost"].to_numpy(),
            "review_why": why,
            "suggested_action": [getattr(actions[a], ctx.lang) for a in cases["action"]],
            "_action": cases["action"].to_numpy(),
        }
    )
    listing = listing.sort_values("arr", ascending=False, kind="stable").reset_index(drop=True)
    filters = (
        ("tier", "region", "owner", "suggested_action") if ctx.has_owner else ("tier", "region", "suggested_action")
    )
    add_listing(ctx, out, "accounts", listing, ctx.t("review_accounts_caption"), "accounts_all", filters)
    out.data["cases"] = cases
    return out
