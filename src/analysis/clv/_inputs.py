"""Time units and the checks every CLV model runs on its input before fitting or predicting."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataContractError, InsufficientDataError

DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
RFM_COLUMNS = ("frequency", "recency", "T")


def unit_days(time_unit: str) -> float:
    """Length of one ``time_unit`` in days; an unknown unit is a ConfigError."""
    try:
        return DAYS_PER_UNIT[time_unit]
    except KeyError:
        raise ConfigError(
            f"Unknown time unit {time_unit!r}; use one of {sorted(DAYS_PER_UNIT)} and say which one "
            f"the recency, T and horizon are measured in."
        ) from None


def convert_time(values, from_unit: str, to_unit: str):
    """``values`` measured in ``from_unit`` expressed in ``to_unit``."""
    return values * (unit_days(from_unit) / unit_days(to_unit))


def require_columns(data: pd.DataFrame, columns, what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataContractError(
            f"{what} needs a pandas DataFrame with columns {list(columns)}, got {type(data).__name__}."
        )
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataContractError(
            f"{what} needs columns {list(columns)}; missing {missing}. Build them with analysis.clv.rfm_summary."
        )


def _examples(data: pd.DataFrame, mask: np.ndarray, columns) -> str:
    return data.loc[mask, list(columns)].head(3).to_string()


def check_rfm(data: pd.DataFrame, what: str = "The BG/NBD model") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate frequency / recency / T and return them as arrays (frequency as int64).

    frequency counts *repeat* purchases (an integer >= 0), recency is the age of the customer at
    the last purchase (0 without repeats) and T the age at the end of the observation window.
    """
    require_columns(data, RFM_COLUMNS, what)
    if len(data) == 0:
        raise InsufficientDataError(f"{what} got an empty table; it needs at least one customer with a first purchase.")
    x = data["frequency"].to_numpy(dtype=float)
    t = data["recency"].to_numpy(dtype=float)
    T = data["T"].to_numpy(dtype=float)
    problems = []
    finite = np.isfinite(x) & np.isfinite(t) & np.isfinite(T)
    checks = [
        (~finite, "missing or infinite values"),
        (
            finite & ((x < 0) | (x != np.round(x))),
            "frequency that is not a whole number >= 0 (count of repeat purchases)",
        ),
        (finite & (t < 0), "negative recency"),
        (finite & (T < 0), "negative T (customer age at the end of the window)"),
        (finite & (t > T * (1 + 1e-9)), "recency greater than T (last purchase after the end of the window)"),
        (finite & (x == 0) & (t != 0), "recency != 0 with frequency 0 (recency is 0 without repeat purchases)"),
    ]
    for mask, text in checks:
        if mask.any():
            problems.append(f"- {int(mask.sum())} rows with {text}, e.g.\n{_examples(data, mask, RFM_COLUMNS)}")
    if problems:
        raise DataContractError(
            f"{what} cannot use this input:\n"
            + "\n".join(problems)
            + "\nFix or drop these rows (see analysis.clv.rfm_summary)."
        )
    return x.astype(np.int64), t, T


def check_weights(weights, n: int) -> np.ndarray:
    """Row weights (counts of identical customers); default 1."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise DataContractError("weights must be one finite count >= 0 per row, with a positive total.")
    return w


def group_rfm(data: pd.DataFrame, columns=RFM_COLUMNS) -> pd.DataFrame:
    """Collapse identical rows into one row with a ``weight`` column (pass it as ``weights=``).

    Worth it when times are whole days: many customers then share (frequency, recency, T).
    """
    return data.groupby(list(columns), sort=False, observed=True).size().rename("weight").reset_index()
