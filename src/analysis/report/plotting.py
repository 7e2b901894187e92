"""The report's figures, drawn with one theme and a real CJK font (Chinese never shows as boxes), and
embedded in the page as PNG data URIs.

The font is Noto Sans CJK SC, shipped inside the ``mplfonts`` package (installed with the project,
no network). It is registered with matplotlib and put first in ``font.sans-serif``; it also covers
Latin letters and digits, so English figures look the same in both languages. Every function draws
on a new figure and returns it; :func:`embed` turns a figure into a :class:`Figure` of the page.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from analysis.core.plots import forest_from

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
PALETTE = ["#1f4e79", "#2e86c1", "#85c1e9", "#d6eaf8", "#a9a9a9"]
GOOD, BAD, NEUTRAL = "#1e8449", "#b03a2e", "#7f8c8d"
DPI = 100


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
    matplotlib.rcParams["text.parse_math"] = False  # an account named "$x$" is text, not a formula
    matplotlib.rcParams["figure.dpi"] = DPI
    return family


@functools.cache
def _themed() -> str | None:
    """The report's theme and CJK font, set once per process before the first figure."""
    return set_theme()


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.figure import Figure

    _themed()
    fig = Figure(figsize=(width, height), dpi=DPI)
    axes = fig.subplots(1, ncols)
    return fig, axes


def embed(fig, alt: str):
    """The figure as a PNG data URI for the page (closed afterwards)."""
    from analysis.report.context import Figure

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=DPI, metadata={"Software": None})
    width, height = (int(v) for v in fig.get_size_inches() * DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Figure(f"data:image/png;base64,{data}", alt, width, height)


def _bars(ax, shares: pd.DataFrame, title: str, xlabel: str) -> None:
    n_rows, n_cols = shares.shape
    height = 0.8 / max(n_cols, 1)
    y = np.arange(n_rows)[::-1]
    for j, col in enumerate(shares.columns):
        values = shares[col].astype(float).fillna(0).to_numpy()
        bars = ax.barh(
            y + (n_cols / 2 - j - 0.5) * height, values * 100, height=height, label=col, color=PALETTE[j % len(PALETTE)]
        )
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=2, fontsize=8)
    ax.set_yticks(y, [str(i) for i in shares.index])
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, 115)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)


def share_bars(panels: Sequence[tuple[pd.DataFrame, str]], xlabel: str):
    """Side-by-side panels of grouped horizontal bars (rows best first; columns are shares 0-1)."""
    rows = max(len(p[0]) for p in panels)
    fig, axes = _figure(6.2 * len(panels), 0.75 * max(rows, 2) + 1.6, len(panels))
    for ax, (shares, title) in zip(np.atleast_1d(axes), panels):
        _bars(ax, shares, title, xlabel)
    fig.tight_layout()
    return fig


def heatmap(counts: pd.DataFrame, title: str, xlabel: str, ylabel: str, fmt: str = "d", cmap: str = "Blues"):
    """A matrix with its values written in the cells (tier migration, renewal rate by segment)."""
    import seaborn as sns

    fig, ax = _figure(1.25 * counts.shape[1] + 2.8, 0.62 * counts.shape[0] + 1.6)
    values = counts.astype(float)
    annot = counts.to_numpy() if fmt == "d" else values.map(lambda v: "" if np.isnan(v) else f"{v:.0%}").to_numpy()
    sns.heatmap(
        values,
        annot=annot,
        fmt="d" if fmt == "d" else "",
        cmap=cmap,
        cbar=False,
        ax=ax,
        linewidths=0.5,
        linecolor="white",
    )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def forest(rows: pd.DataFrame, title: str, xlabel: str, colours: Mapping[str, str]):
    """Changes of renewal odds with their 95% ranges, first row on top, on a log axis.

    ``rows`` columns: label, effect, lower_95, upper_95 (odds multipliers), group (a key of ``colours``).
    """
    fig, ax = _figure(8, 0.4 * max(len(rows), 3) + 1.3)
    forest_from(
        rows,
        "effect",
        "lower_95",
        "upper_95",
        list(rows["label"]),
        groups=list(rows["group"]),
        colours=colours,
        ax=ax,
        xlabel=xlabel,
        title=title,
    )
    fig.tight_layout()
    return fig


def value_bars(values: pd.Series, title: str, xlabel: str, colour: str = PALETTE[0], formatter=None):
    """Horizontal bars of one value per label (largest on top), e.g. value at risk per account."""
    fig, ax = _figure(8, 0.32 * max(len(values), 3) + 1.3)
    y = np.arange(len(values))[::-1]
    bars = ax.barh(y, values.astype(float).to_numpy(), color=colour)
    if formatter is not None:
        ax.bar_label(bars, labels=[formatter(v) for v in values], padding=2, fontsize=8)
        ax.set_xlim(0, float(values.max()) * 1.25 if len(values) and values.max() > 0 else 1)
        # the axis in the same money words as the labels (万 / M), not raw digits
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "0" if v == 0 else formatter(v)))
    ax.set_yticks(y, [str(i) for i in values.index])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def rate_pairs(
    pairs: pd.DataFrame, labels: Mapping[str, str], title: str, xlabel: str, colours: Sequence[str] = (BAD, NEUTRAL)
):
    """Two rates per row (e.g. churn of flagged vs unflagged accounts), as grouped horizontal bars."""
    fig, ax = _figure(8, 0.7 * max(len(pairs), 2) + 1.4)
    frame = pairs.rename(columns=dict(labels))
    n_rows, n_cols = frame.shape
    height = 0.8 / max(n_cols, 1)
    y = np.arange(n_rows)[::-1]
    for j, col in enumerate(frame.columns):
        values = frame[col].astype(float).to_numpy()
        bars = ax.barh(
            y + (n_cols / 2 - j - 0.5) * height,
            np.nan_to_num(values) * 100,
            height=height,
            label=col,
            color=colours[j % len(colours)],
        )
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.0%}" for v in values], padding=2, fontsize=8)
    top = (
        float(np.nanmax(frame.to_numpy(dtype=float))) if frame.size and np.isfinite(frame.to_numpy(float)).any() else 1
    )
    ax.set_xlim(0, top * 100 * 1.3 + 1)
    ax.set_yticks(y, [str(i) for i in frame.index])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def rates_with_intervals(rates: pd.DataFrame, title: str, xlabel: str):
    """One rate per row with its 95% interval (``rate``, ``lower_95``, ``upper_95``), first row on top."""
    fig, ax = _figure(7, 0.55 * max(len(rates), 2) + 1.3)
    y = np.arange(len(rates))[::-1]
    rate = rates["rate"].astype(float).to_numpy() * 100
    low = rates["lower_95"].astype(float).to_numpy() * 100
    high = rates["upper_95"].astype(float).to_numpy() * 100
    ax.barh(y, rate, color=PALETTE[1], height=0.55)
    xerr = [np.clip(rate - low, 0, None), np.clip(high - rate, 0, None)]
    ax.errorbar(rate, y, xerr=xerr, fmt="none", ecolor="#333", capsize=4)
    for yi, r in zip(y, rate):
        ax.text(r / 2, yi, f"{r:.0f}%", va="center", ha="center", color="white", fontsize=9)
    ax.set_yticks(y, [str(i) for i in rates.index])
    ax.set_xlim(0, 105)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def stacked_shares(counts: pd.DataFrame, title: str, xlabel: str, colours: Sequence[str]):
    """Each row's counts as 100% stacked horizontal bars (e.g. health bands per tier)."""
    fig, ax = _figure(8, 0.6 * max(len(counts), 2) + 1.4)
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0) * 100
    y = np.arange(len(shares))[::-1]
    left = np.zeros(len(shares))
    for j, col in enumerate(shares.columns):
        values = shares[col].to_numpy()
        ax.barh(y, values, left=left, color=colours[j % len(colours)], label=str(col), height=0.6)
        for yi, lo, v in zip(y, left, values):
            if v >= 8:
                ax.text(lo + v / 2, yi, f"{v:.0f}%", va="center", ha="center", fontsize=8, color="white")
        left += values
    ax.set_yticks(y, [str(i) for i in shares.index])
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(shares.columns), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
