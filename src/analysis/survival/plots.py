"""The plots of the churn notebook: Kaplan-Meier curves, hazard-ratio forest, calibration."""

from __future__ import annotations

import pandas as pd

from analysis.core.plots import forest_from
from analysis.survival.km import KMResult


def plot_km(result: KMResult, ax=None, max_days: float | None = None):
    """Kaplan-Meier curves of one grouping with 95% bands."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for km in result.curves.values():  # one line per group
        km.plot_survival_function(ax=ax, ci_show=True)
    title = f"Account survival by {result.group}"
    if result.logrank:
        title += f" (log-rank p = {result.logrank['p']:.2g})"
    ax.set(xlabel="tenure (days)", ylabel="share of accounts still customers", title=title, ylim=(0, 1.02))
    if max_days:
        ax.set_xlim(0, max_days)
    return ax


def plot_forest(summary: pd.DataFrame, ratio: str = "hazard_ratio", ax=None):
    """Ratios with 95% intervals on a log axis, largest effect at the top (``analysis.core.plots.forest``)."""
    lower, upper = ("hr_lower_95", "hr_upper_95") if ratio == "hazard_ratio" else ("or_lower_95", "or_upper_95")
    table = summary.sort_values(ratio, ascending=False)
    return forest_from(
        table, ratio, lower, upper, list(table.index), ax=ax, xlabel=ratio.replace("_", " ") + " (95% CI, log scale)"
    )


def plot_calibration(calibration: pd.DataFrame, ax=None):
    """The back-test's calibration (``evaluation.risk_calibration``): per risk decile, the mean
    predicted probability of losing the next renewal against the share of next renewals lost, with
    that share's 95% interval."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 5))[1]
    observed = calibration["observed"]
    err = [observed - calibration["observed_lower"], calibration["observed_upper"] - observed]
    ax.errorbar(calibration["predicted"], calibration["observed"], yerr=err, fmt="o", capsize=3)
    top = float(max(calibration["predicted"].max(), calibration["observed_upper"].max())) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle="--")
    ax.set(
        xlabel="predicted probability of losing the next renewal (decile mean)",
        ylabel="share of next renewals lost (95% CI)",
        title="Calibration by risk decile (time-ordered back-test)",
        xlim=(0, top),
        ylim=(0, top),
    )
    return ax
