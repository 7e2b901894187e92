"""The one forest plot of the package: ratios (odds, hazard) with 95% intervals on a log axis.

The drivers and churn notebooks and the manager report each show effects this way; they call
:func:`forest` with their own columns, labels and colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NICE_TICKS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)


def forest(
    effect: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    colours: Mapping[str, str] | None = None,
    ax=None,
    xlabel: str = "",
    title: str = "",
    legend: bool = False,
    empty_text: str = "No factor could be estimated",
):
    """One row per effect, the first on top; a vertical line at 1 (no effect); one colour per group."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    effect = np.asarray(effect, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.38 * max(len(effect), 3) + 1.2))
    if len(effect) == 0:
        ax.text(0.5, 0.5, empty_text, ha="center", va="center")
        return ax
    y = np.arange(len(effect))[::-1]
    group = np.asarray(groups if groups is not None else [""] * len(effect), dtype=object)
    err = np.clip(np.vstack([effect - lower, upper - effect]), 0, None)
    for g in dict.fromkeys(group):  # errorbar takes one colour per call: one call per group
        m = group == g
        colour = (colours or {}).get(g, "#808080" if colours else None)
        ax.errorbar(effect[m], y[m], xerr=err[:, m], fmt="o", color=colour, ecolor=colour, capsize=3, label=g or None)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    lo, hi = float(np.nanmin(lower)), float(np.nanmax(upper))
    ticks = [t for t in NICE_TICKS if lo / 1.5 <= t <= hi * 1.5] or [1]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [str(v) for v in labels])
    ax.set(xlabel=xlabel, title=title)
    if legend and groups is not None:
        ax.legend(loc="best", fontsize=8)
    return ax


def forest_from(table: pd.DataFrame, effect: str, lower: str, upper: str, labels: Sequence[str], **kwargs):
    """:func:`forest` on the columns of a table."""
    return forest(table[effect], table[lower], table[upper], labels, **kwargs)
