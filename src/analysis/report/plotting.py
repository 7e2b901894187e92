"""One look for every figure of the report, with a real CJK font so Chinese labels never show as boxes.

The font is Noto Sans CJK SC, shipped inside the ``mplfonts`` package (installed with the
project, no network). It is registered with matplotlib and put first in ``font.sans-serif``; it
also covers Latin letters and digits, so English figures look the same in both languages.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd

from analysis.core.plots import forest_from

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
PALETTE = ["#1f4e79", "#2e86c1", "#85c1e9", "#d6eaf8", "#a9a9a9"]
DIRECTION_COLOURS = {"raises renewal": "#1e8449", "lowers renewal": "#b03a2e"}


def cjk_font_path() -> Path | None:
    """The Noto Sans CJK SC file inside the installed ``mplfonts`` package, or None."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / CJK_FONT_FILE
    return path if path.exists() else None


def register_cjk_font() -> str | None:
    """Register the CJK font with matplotlib; return its family name (None when not installed)."""
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def set_theme() -> str | None:
    """Seaborn theme for the report plus the CJK font first in line; returns the font family used."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    family = register_cjk_font()
    if family:
        fallback = [f for f in matplotlib.rcParams["font.sans-serif"] if f != family]
        matplotlib.rcParams["font.sans-serif"] = [family, *fallback]
        matplotlib.rcParams["font.family"] = "sans-serif"
    # CJK fonts draw the ASCII hyphen well but not always U+2212; keep minus signs visible.
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["figure.dpi"] = 100
    matplotlib.rcParams["savefig.bbox"] = "tight"
    return family


def _axes(ax, size: tuple[float, float]):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def plot_pyramid(shares: pd.DataFrame, labels: Mapping[str, str], title: str, xlabel: str, ax=None):
    """Grouped horizontal bars: one group per tier (best on top), one bar per share column.

    ``shares``: index = tier names, columns = share columns (0-1); ``labels`` names the columns.
    """
    ax = _axes(ax, (8, 0.9 * max(len(shares), 2) + 1.2))
    frame = shares.rename(columns=dict(labels))
    n_rows, n_cols = frame.shape
    height = 0.8 / max(n_cols, 1)
    y = np.arange(n_rows)[::-1]
    for j, col in enumerate(frame.columns):
        values = frame[col].astype(float).fillna(0).to_numpy()
        bars = ax.barh(
            y + (n_cols / 2 - j - 0.5) * height, values * 100, height=height, label=col, color=PALETTE[j % len(PALETTE)]
        )
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=2, fontsize=8)
    ax.set_yticks(y, [str(i) for i in frame.index])
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, 110)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_migration(counts: pd.DataFrame, title: str, xlabel: str, ylabel: str, ax=None):
    """Heat map of a tier migration matrix (rows: before, columns: now), counts written in the cells."""
    import seaborn as sns

    ax = _axes(ax, (1.3 * counts.shape[1] + 2.5, 0.7 * counts.shape[0] + 1.5))
    sns.heatmap(
        counts.astype(float),
        annot=counts.to_numpy(),
        fmt="d",
        cmap="Blues",
        cbar=False,
        ax=ax,
        linewidths=0.5,
        linecolor="white",
    )
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    return ax


def plot_forest(
    findings: pd.DataFrame, title: str, xlabel: str, ax=None, colours: Mapping[str, str] = DIRECTION_COLOURS
):
    """Odds ratios with 95% intervals, first row on top, on a log axis (``analysis.core.plots.forest``).

    ``findings`` columns: label, effect, lower_95, upper_95, direction (raises / lowers / no clear effect).
    """
    ax = _axes(ax, (8, 0.38 * max(len(findings), 3) + 1.2))
    return forest_from(
        findings,
        "effect",
        "lower_95",
        "upper_95",
        list(findings["label"]),
        groups=list(findings["direction"]),
        colours=colours,
        ax=ax,
        xlabel=xlabel,
        title=title,
    )


def plot_value_bars(values: pd.Series, title: str, xlabel: str, ax=None, colour: str = PALETTE[0]):
    """Horizontal bars of one value per label (largest on top), e.g. value at risk per account."""
    ax = _axes(ax, (8, 0.35 * max(len(values), 3) + 1.2))
    y = np.arange(len(values))[::-1]
    ax.barh(y, values.astype(float).to_numpy(), color=colour)
    ax.set_yticks(y, [str(i) for i in values.index])
    ax.set(xlabel=xlabel, title=title)
    return ax
