"""Numbers as a manager reads them: money with the book's currency in compact form (331.4 M / 3.31 亿),
percentages, days and counts with their units, and a feature's value in its own unit.

Every function returns "" for a missing value, so a table cell stays empty instead of showing "nan".
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from analysis.params import CurrencyParams
from analysis.report import labels

NO_CURRENCY = CurrencyParams(code=None, symbol=None)


def missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float | None:
    if missing(value) or isinstance(value, str):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def compact(value: float, lang: str = "en") -> str:
    """1,234 / 12.3 K / 331.4 M / 1.2 B in English; 1,234 / 12.3 万 / 3.31 亿 in Chinese."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    if lang == "zh":
        if v >= 1e8:
            return f"{sign}{v / 1e8:,.2f} 亿"
        if v >= 1e4:
            return f"{sign}{v / 1e4:,.1f} 万"
        return f"{sign}{v:,.0f}"
    for threshold, size, unit in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K")):
        if v >= threshold:
            return f"{sign}{v / size:,.1f} {unit}"
    return f"{sign}{v:,.0f}"


def money(value: Any, lang: str = "en", currency: CurrencyParams = NO_CURRENCY, signed: bool = False) -> str:
    """Compact money with the configured currency: "€331.4 M", "331.4 M EUR", or "331.4 M" (none set)."""
    v = _number(value)
    if v is None:
        return ""
    text = compact(abs(v) if signed else v, lang)
    if currency.symbol:
        text = f"{currency.symbol}{text}"
    elif currency.code:
        text = f"{text} {currency.code}"
    if signed:
        text = ("+" if v >= 0 else "-") + text
    return text


def pct(value: Any, digits: int = 0, signed: bool = False) -> str:
    v = _number(value)
    if v is None:
        return ""
    return f"{v * 100:+.{digits}f}%" if signed else f"{v * 100:.{digits}f}%"


def points(value: Any, lang: str = "en", digits: int = 1) -> str:
    """A difference of two percentages: "+3.2 points" / "+3.2 个百分点"."""
    v = _number(value)
    if v is None:
        return ""
    unit = "个百分点" if lang == "zh" else ("point" if abs(round(v * 100, digits)) == 1 else "points")
    return f"{v * 100:+.{digits}f} {unit}"


def count(value: Any) -> str:
    v = _number(value)
    return "" if v is None else f"{v:,.0f}"


def days(value: Any, lang: str = "en") -> str:
    v = _number(value)
    if v is None:
        return ""
    if lang == "zh":
        return f"{v:,.0f} 天"
    return f"{v:,.0f} day" if round(v) == 1 else f"{v:,.0f} days"


def years(value_days: Any, lang: str = "en") -> str:
    v = _number(value_days)
    if v is None:
        return ""
    y = v / 365.25
    return f"{y:.1f} 年" if lang == "zh" else f"{y:.1f} years"


def date(value: Any) -> str:
    if missing(value):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    return pd.Timestamp(value).date().isoformat()


def number(value: Any, digits: int = 1) -> str:
    v = _number(value)
    if v is None:
        return ""
    return f"{v:,.{digits}f}"


def value_of(feature: str, value: Any, lang: str = "en", currency: CurrencyParams = NO_CURRENCY) -> str:
    """A feature's value in its unit: feature usage 0.04 -> "4%", tenure 1,262 days -> "3.5 years"."""
    if missing(value):
        return ""
    kind = labels.kind_of(feature)
    if kind in ("flag", "category"):
        base, _ = labels.split_factor(feature)
        key = str(bool(value)) if kind == "flag" and not isinstance(value, str) else str(value)
        return labels.level_label("flag" if kind == "flag" else base, key, lang)
    v = _number(value)
    if v is None:
        return str(value)
    if kind == "share":
        return pct(v)
    if kind == "share_change":
        return points(v, lang)
    if kind == "growth":
        return pct(v, signed=True)
    if kind == "days":
        return days(v, lang)
    if kind == "years":
        return years(v, lang)
    if kind == "money":
        return money(v, lang, currency)
    if kind == "minutes":
        return f"{v / 60:,.1f} 小时" if lang == "zh" else f"{v / 60:,.1f} hours"
    if kind == "points":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return f"{v:,.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:,.1f}"


def change_of(feature: str, delta: Any, lang: str = "en", currency: CurrencyParams = NO_CURRENCY) -> str:
    """A signed difference of a feature in its unit: "+1.7 years", "+5 users", "+12 points"."""
    v = _number(delta)
    if v is None:
        return ""
    kind = labels.kind_of(feature)
    if kind in ("share", "share_change"):
        return points(v, lang, digits=0)
    if kind == "growth":
        return points(v, lang, digits=0)
    if kind == "money":
        return money(v, lang, currency, signed=True)
    text = value_of(feature, abs(v), lang, currency)
    return ("+" if v >= 0 else "-") + text


def odds_change(multiplier: Any) -> str:
    """An odds multiplier as a change a manager reads: 1.18 -> "+18%", 0.61 -> "-39%"."""
    v = _number(multiplier)
    if v is None:
        return ""
    return f"{(v - 1) * 100:+.0f}%"
