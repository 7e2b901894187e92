"""The as-of date: parsed once at the edge (command line, notebook parameters), then a ``datetime.date``.

Every function of the package takes ``as_of`` as a ``datetime.date`` and never parses or
re-resolves it; :func:`require_date` only checks that a caller kept to that.
"""

from __future__ import annotations

import datetime as dt

from analysis.errors import ConfigError


def parse_date(value, what: str = "as-of date") -> dt.date:
    """A ``datetime.date`` from an ISO text (``YYYY-MM-DD``) or a date-like value."""
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"The {what} {value!r} is not a date; use YYYY-MM-DD (e.g. 2025-12-01).") from None


def parse_optional_date(value, what: str = "as-of date") -> dt.date | None:
    """None for an absent value (None, '', 'None' from a notebook parameter), else :func:`parse_date`."""
    return None if value in (None, "", "None") else parse_date(value, what)


def require_date(value, name: str = "as_of") -> dt.date:
    """``value`` itself when it is a ``datetime.date``; the package never parses dates past the edge."""
    if type(value) is not dt.date:  # a datetime or Timestamp is a caller's slip, not a date
        raise TypeError(
            f"{name} must be a datetime.date (parse it once with analysis.data.asof.parse_date), "
            f"got {type(value).__name__} {value!r}."
        )
    return value


def check_in_range(as_of: dt.date, first: dt.date | None, extract_date: dt.date) -> None:
    """Refuse an as-of date after the extract (no outcomes can be known) or before all data."""
    latest_allowed = extract_date + dt.timedelta(days=1)
    if as_of > latest_allowed:
        raise ConfigError(
            f"As-of date {as_of} is after the data's extract date {extract_date}: nothing after "
            f"the extract is known. Use a date up to {latest_allowed}, or omit --as-of for the day "
            f"after the latest date in the data."
        )
    if first is not None and as_of <= first:
        raise ConfigError(
            f"As-of date {as_of} is on or before the earliest date in the data ({first}): there is "
            f"no history to learn from. Use a later date."
        )
