"""Plots of the renewal drivers (the notebook stays thin)."""

from __future__ import annotations

import pandas as pd

from analysis.core.plots import forest_from


def plot_forest(summary: pd.DataFrame, ax=None, top: int | None = None):
    """Odds ratios with 95% intervals, strongest first, on a log axis (``analysis.core.plots.forest``);
    a note instead when the model could not be fitted (an empty summary: the notes say why)."""
    if summary.empty or "unit" not in summary.columns:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 2))
        ax.text(0.5, 0.5, "The renewal model could not be fitted (see the notes above)", ha="center", va="center")
        ax.set_axis_off()
        return ax
    rows = summary.sort_values("rank").head(top) if top else summary.sort_values("rank")
    return forest_from(
        rows,
        "odds_ratio",
        "or_lower_95",
        "or_upper_95",
        [f"{i} ({u})" for i, u in zip(rows.index, rows["unit"])],
        groups=rows["direction"].tolist(),
        colours={"raises renewal": "tab:green", "lowers renewal": "tab:red", "no clear effect": "grey"},
        ax=ax,
        xlabel="odds ratio of renewal (95% CI)",
        legend=True,
    )


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
