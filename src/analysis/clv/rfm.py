"""From raw orders to the recency / frequency / monetary summary, a calibration/holdout split and
the holdout check that shows whether the purchase model predicts what happened next."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.clv._inputs import convert_time, require_columns, unit_days
from analysis.data.asof import require_date
from analysis.errors import ConfigError, InsufficientDataError


def _transactions(orders: pd.DataFrame, end, account_col: str, date_col: str, amount_col: str) -> pd.DataFrame:
    """One transaction per account and day (same-day orders are one purchase), strictly before ``end``."""
    require_columns(orders, (account_col, date_col, amount_col), "The RFM summary")
    dates = pd.to_datetime(orders[date_col]).dt.normalize()
    keep = dates < pd.Timestamp(end)
    frame = pd.DataFrame(
        {
            "account_id": orders.loc[keep, account_col].to_numpy(),
            "day": dates[keep].to_numpy(),
            "amount": orders.loc[keep, amount_col].to_numpy(dtype=float),
        }
    )
    return frame.groupby(["account_id", "day"], as_index=False, sort=True)["amount"].sum()


def rfm_summary(
    orders: pd.DataFrame,
    as_of: dt.date,
    time_unit: str,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """frequency, recency, T (in ``time_unit``) and monetary_value per account from orders before ``as_of``.

    frequency = purchase days after the first; recency = first to last purchase day; T = first
    purchase day to the last observed day (the day before ``as_of``), the convention of
    ``analysis.data.features`` and of lifetimes; monetary_value = mean amount of the repeat purchases
    (0 without repeats), as the Gamma-Gamma model expects.
    """
    require_date(as_of)
    unit_days(time_unit)
    tx = _transactions(orders, as_of, account_col, date_col, amount_col)
    if tx.empty:
        raise InsufficientDataError(f"No orders before {as_of}; the purchase models need order history.")
    grouped = tx.groupby("account_id", sort=True)
    first, last = grouped["day"].min(), grouped["day"].max()
    n_days = grouped.size()
    first_amount = grouped["amount"].first()
    repeat_total = grouped["amount"].sum() - first_amount
    frequency = n_days - 1
    days = lambda delta: delta.dt.total_seconds().to_numpy() / 86400.0  # noqa: E731
    out = pd.DataFrame(
        {
            "frequency": frequency.astype(np.int64),
            "recency": convert_time(days(last - first), "days", time_unit),
            "T": convert_time(days(pd.Timestamp(as_of) - pd.Timedelta(days=1) - first), "days", time_unit),
            "monetary_value": np.where(frequency > 0, repeat_total / frequency.clip(lower=1), 0.0),
            "first_purchase": first,
        },
        index=frequency.index,
    )
    out.index.name = "account_id"
    return out


def calibration_holdout(
    orders: pd.DataFrame,
    calibration_end: dt.date,
    observation_end: dt.date,
    time_unit: str,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """RFM in the calibration period (before ``calibration_end``) plus purchases in the holdout.

    Adds ``frequency_holdout`` (purchase days in [calibration_end, observation_end)) and
    ``duration_holdout`` (holdout length in ``time_unit``). Only accounts that bought in the
    calibration period are kept: the model can only predict customers it has seen.
    """
    require_date(calibration_end, "calibration_end")
    require_date(observation_end, "observation_end")
    cal_end, obs_end = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    if obs_end <= cal_end:
        raise ConfigError(f"observation_end {obs_end.date()} must be after calibration_end {cal_end.date()}.")
    cal = rfm_summary(orders, calibration_end, time_unit, account_col, date_col, amount_col)
    tx = _transactions(orders, obs_end, account_col, date_col, amount_col)
    later = tx[tx["day"] >= cal_end].groupby("account_id").size()
    cal["frequency_holdout"] = later.reindex(cal.index, fill_value=0).astype(np.int64)
    cal["duration_holdout"] = convert_time((obs_end - cal_end).days, "days", time_unit)
    return cal


def holdout_check(
    model,
    split: pd.DataFrame,
    time_unit: str,
    max_frequency: int = 7,
    tolerance: float | None = None,
    n_boot: int = 0,
    seed: int = 0,
    min_customers: int = 1,
) -> pd.DataFrame:
    """Mean actual vs predicted holdout purchases by number of repeat purchases in calibration.

    ``model`` is a fitted BetaGeoModel (fitted on the calibration columns of ``split``). With a
    ``tolerance`` (``clv.holdout_tolerance``) each row also gets the verdict (see ``holdout_verdicts``).
    """
    require_columns(split, ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"), "The holdout check")
    durations = split["duration_holdout"].unique()
    predicted = pd.concat(
        [model.predict_purchases(split[split["duration_holdout"] == d], d, time_unit) for d in durations]
    ).reindex(split.index)
    bucket = split["frequency"].clip(upper=max_frequency)
    labels = {k: (f"{k}+" if k == max_frequency else str(k)) for k in range(max_frequency + 1)}
    frame = pd.DataFrame({"bucket": bucket, "actual": split["frequency_holdout"], "predicted": predicted})
    table = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    table.index = pd.Index([labels[k] for k in table.index], name="repeat_purchases_calibration")
    table.loc["all"] = [len(frame), frame["actual"].mean(), frame["predicted"].mean()]
    table["customers"] = table["customers"].astype(int)
    if tolerance is None:
        return table
    groups = {labels[k]: part for k, part in frame.groupby("bucket")} | {"all": frame}
    return table.join(holdout_verdicts(groups, tolerance, n_boot, seed, min_customers))


HOLDOUT_VERDICTS = ("close", "over", "under", "unclear")


def holdout_verdicts(groups: dict, tolerance: float, n_boot: int, seed: int, min_customers: int) -> pd.DataFrame:
    """Per group of customers (columns actual, predicted): ratio = mean predicted / mean actual
    holdout purchases, a 95% bootstrap interval over customers, and the verdict:

    * ``close``: the ratio is within ``tolerance`` of 1 (e.g. 0.10: predictions within 10%);
    * ``over`` / ``under``: the whole interval lies above 1 + tolerance / below 1 - tolerance;
    * ``unclear``: outside the tolerance but the interval reaches into it (too few customers to tell),
      fewer than ``min_customers`` in the group (a bootstrap over a handful of customers cannot see
      how much their purchases vary), or nothing was bought in the holdout.
    """
    rng = np.random.default_rng(seed)
    rows = {}
    for name, part in groups.items():
        actual, predicted = part["actual"].to_numpy(float), part["predicted"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = predicted.sum() / actual.sum() if actual.sum() > 0 else np.nan
            idx = rng.integers(0, len(part), size=(n_boot, len(part)))
            draws = predicted[idx].sum(axis=1) / actual[idx].sum(axis=1)
        draws = draws[np.isfinite(draws)]
        lo, hi = np.quantile(draws, [0.025, 0.975]) if len(draws) else (np.nan, np.nan)
        if not np.isfinite(ratio) or len(part) < min_customers:
            verdict = "unclear"
        elif abs(ratio - 1) <= tolerance:
            verdict = "close"
        elif lo > 1 + tolerance:
            verdict = "over"
        elif hi < 1 - tolerance:
            verdict = "under"
        else:
            verdict = "unclear"
        rows[name] = {
            "ratio": ratio,
            "lower_95": lo,
            "upper_95": hi,
            "tolerance": tolerance,
            "verdict": verdict,
            "sentence": _holdout_sentence(actual.mean(), predicted.mean(), ratio, lo, hi, tolerance, verdict),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _holdout_sentence(actual, predicted, ratio, lo, hi, tolerance, verdict) -> str:
    shown = (
        f"Predicted {predicted:.2f} repeat purchases per customer against {actual:.2f} observed "
        f"(ratio {ratio:.2f}, 95% interval {lo:.2f}-{hi:.2f})"
    )
    reading = {
        "close": f"within the {tolerance:.0%} tolerance: the order-stream CLV rests on a model that predicted well.",
        "over": f"the model predicts too many purchases, by more than {tolerance:.0%}: read the order-stream CLV "
        "as an upper estimate.",
        "under": f"the model predicts too few purchases, by more than {tolerance:.0%}: read the order-stream CLV "
        "as a lower estimate.",
        "unclear": f"too few customers or purchases to tell whether the model is within the {tolerance:.0%} tolerance.",
    }[verdict]
    return f"{shown}: {reading}"


def plot_holdout_check(table: pd.DataFrame, ax=None, time_unit_label: str = "holdout"):
    """Line plot of mean actual and predicted holdout purchases per calibration-frequency group."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    shown = table.drop(index="all", errors="ignore")
    ax.plot(shown.index, shown["actual"], marker="o", label="actual")
    ax.plot(shown.index, shown["predicted"], marker="s", linestyle="--", label="predicted (BG/NBD)")
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(f"mean purchases in the {time_unit_label}")
    ax.set_title("Holdout check: predicted vs actual purchases")
    ax.legend()
    return ax
