"""Per-account renewal history from the contracts table (one implementation for every stage)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analysis.data.asof import require_date


def renewal_history(contracts: pd.DataFrame, as_of: dt.date, window_days: int | None) -> pd.DataFrame:
    """Per account (index ``account_id``): renewal decisions dated in the ``window_days`` before
    ``as_of`` (every decision before it when None) and how many renewed.

    Columns decided, renewed and, when the contracts carry ``annual_value``, decided_value and
    churned_value (annual value not renewed). A decision counts when its contract ended in
    ``[as_of - window_days, as_of)``, so a back-dated run never sees the future. The one
    implementation for the segments' renewal rate and the report's trailing-year figures.
    """
    cutoff = pd.Timestamp(require_date(as_of))
    end = pd.to_datetime(contracts["end"])
    keep = (end < cutoff) & contracts["renewal_outcome"].isin(["renewed", "not_renewed"])
    if window_days is not None:
        keep &= end >= cutoff - pd.Timedelta(days=int(window_days))
    window = contracts[keep]
    renewed = window["renewal_outcome"].eq("renewed")
    out = pd.DataFrame({"account_id": window["account_id"], "decided": 1, "renewed": renewed.astype(int)})
    if "annual_value" in window.columns:
        value = window["annual_value"].astype(float)
        out["decided_value"] = value
        out["churned_value"] = value.where(~renewed, 0.0)
    return out.groupby("account_id", sort=True).sum()
