"""Plots of the renewal drivers (the notebook stays thin)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def plot_forest(summary: pd.DataFrame, ax=None, top: int | None = None):
    """Odds ratios with 95% intervals, strongest first, on a log axis."""
    import matplotlib.pyplot as plt

    rows = summary.sort_values("rank").head(top) if top else summary.sort_values("rank")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * max(len(rows), 3) + 1))
    if rows.empty:
        ax.text(0.5, 0.5, "No factor could be estimated", ha="center", va="center")
        return ax
    y = pd.Series(np.arange(len(rows))[::-1], index=rows.index)
    colours = {"raises renewal": "tab:green", "lowers renewal": "tab:red", "no clear effect": "grey"}
    for direction, part in rows.groupby("direction"):
        ax.errorbar(
            part["odds_ratio"],
            y[part.index],
            fmt="o",
            color=colours.get(direction, "grey"),
            capsize=2,
            xerr=[part["odds_ratio"] - part["or_lower_95"], part["or_upper_95"] - part["odds_ratio"]],
            label=direction,
        )
    ax.legend(loc="best", fontsize=8)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    lo, hi = float(rows["or_lower_95"].min()), float(rows["or_upper_95"].max())
    ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20) if lo / 1.5 <= t <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y.to_numpy(), [f"{i} ({u})" for i, u in zip(rows.index, rows["unit"])])
    ax.set_xlabel("odds ratio of renewal (95% CI)")
    return ax


def plot_importance(importance: pd.DataFrame, ax=None, top: int = 15):
    """Permutation importance (drop in held-out AUC) with its spread over repeats."""
    import matplotlib.pyplot as plt

    rows = importance.sort_values("importance", ascending=False).head(top)[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.3 * max(len(rows), 3) + 1))
    if rows.empty:
        ax.text(0.5, 0.5, "The boosting check could not run (see the notes above)", ha="center", va="center")
        return ax
    ax.barh(
        rows.index,
        rows["importance"],
        xerr=rows["importance_std"],
        color=["tab:blue" if important else "lightgrey" for important in rows["important"]],
    )
    ax.set_xlabel("drop in held-out AUC when shuffled")
    return ax


def plot_partial_dependence(pdp: pd.DataFrame, factors: list[str], axes=None):
    """Partial-dependence curves (predicted renewal probability) of the boosting model."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, max(len(factors), 1), figsize=(3.2 * max(len(factors), 1), 3), squeeze=False)
        axes = axes[0]
    if not factors:
        axes[0].text(0.5, 0.5, "No partial dependence (the boosting check could not run)", ha="center", va="center")
    for ax, name in zip(axes, factors):
        curve = pdp[pdp["factor"] == name]
        if curve["value"].isna().all():
            ax.bar(curve["level"], curve["renewal_probability"])
            ax.tick_params(axis="x", rotation=45)
        else:
            ax.plot(curve["value"], curve["renewal_probability"], marker=".")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("renewal probability")
    return axes
