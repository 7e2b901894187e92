"""The shape every weighting returns (:class:`WeightResult`), the side-by-side table, the YAML
the run folder keeps of the chosen weights, and the plot of all weightings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.core.summary import summary_frame
from analysis.errors import InsufficientDataError


@dataclass
class WeightResult:
    """Weights (summing to 1) and how they were obtained."""

    weights: pd.Series
    method: str
    description: str
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    draws: pd.DataFrame | None = None  # bootstrap replicates (one row per resample)
    ci: float = 0.95

    @property
    def lower(self) -> pd.Series:
        return self._quantile((1 - self.ci) / 2)

    @property
    def upper(self) -> pd.Series:
        return self._quantile(1 - (1 - self.ci) / 2)

    def _quantile(self, q: float) -> pd.Series:
        if self.draws is None:
            return pd.Series(np.nan, index=self.weights.index)
        return self.draws.quantile(q)

    @property
    def summary(self) -> pd.DataFrame:
        """factor, estimate, std_error, lower_95, upper_95 (bootstrap percentile), method, sentence.

        ``z`` and ``p`` are left empty: a Wald test of a weight bounded at zero is not valid.
        """
        sd = None if self.draws is None else self.draws.std(ddof=1).to_numpy()
        frame = summary_frame(
            self.weights.index,
            self.weights.to_numpy(),
            std_errors=sd,
            lower=self.lower.to_numpy(),
            upper=self.upper.to_numpy(),
        )
        frame[["z", "p"]] = np.nan
        frame["method"] = self.method
        frame["sentence"] = [self._sentence(f) for f in frame.index]
        return frame

    def _sentence(self, factor: str) -> str:
        text = f"{factor}: {self.weights[factor]:.1%} of the score"
        if self.draws is not None:
            text += f" (95% bootstrap interval {self.lower[factor]:.1%}-{self.upper[factor]:.1%})"
        return f"{text}, {self.method}."

    def expanded(self, criteria) -> WeightResult:
        """The same weights over ``criteria``, those it did not see at weight 0 (draws included)."""
        names = list(criteria)
        if list(self.weights.index) == names:
            return self
        weights = self.weights.reindex(names, fill_value=0.0).rename_axis(self.weights.index.name)
        draws = None if self.draws is None else self.draws.reindex(columns=names, fill_value=0.0)
        return replace(self, weights=weights, draws=draws)

    def without(self, dropped: Mapping[str, str]) -> WeightResult:
        """The same weighting with the ``dropped`` criteria (name -> why) at weight 0 and the others
        rescaled in proportion, bootstrap draws included; the reasons join the notes."""
        if not dropped:
            return self
        names = [n for n in dropped if n in self.weights.index]
        weights = self.weights.astype(float).copy()
        weights[names] = 0.0
        if weights.sum() <= 0:
            raise InsufficientDataError(
                f"{self.method}: every criterion with weight is left out ({sorted(dropped)}); nothing is left to score."
            )
        draws = None
        if self.draws is not None:
            draws = self.draws.copy()
            draws[names] = 0.0
            draws = draws.div(draws.sum(axis=1).replace(0, np.nan), axis=0)
        notes = [*self.notes, *(dropped[n] for n in names)]
        return replace(self, weights=(weights / weights.sum()).rename("weight"), notes=notes, draws=draws)

    def to_config(self) -> dict:
        """The weights as a YAML-ready mapping (how they were obtained travels with them)."""
        return {
            "method": self.method,
            "description": self.description,
            "weights": {k: round(float(v), 6) for k, v in self.weights.items()},
            "notes": list(self.notes),
        }


def write_weights_yaml(result: WeightResult, path: str | Path) -> Path:
    """Write the chosen weights as YAML (for the run folder, or to paste into the config)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"scoring_weights": result.to_config()}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return path


def weights_table(results: Mapping[str, WeightResult]) -> pd.DataFrame:
    """Every weighting side by side: one row per (weighting, factor) with interval."""
    frames = [r.summary.reset_index().assign(weighting=name) for name, r in results.items()]
    cols = ["weighting", "factor", "estimate", "lower_95", "upper_95", "method", "sentence"]
    return pd.concat(frames, ignore_index=True)[cols]


def describe(results: Mapping[str, WeightResult], skipped: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per weighting: how it was obtained, its notes, or why it was skipped."""
    rows = [
        {"weighting": k, "method": r.method, "status": "computed", "how": r.description, "notes": " ".join(r.notes)}
        for k, r in results.items()
    ]
    rows += [
        {"weighting": k, "method": k, "status": "skipped", "how": "", "notes": why}
        for k, why in (skipped or {}).items()
    ]
    return pd.DataFrame(rows).set_index("weighting")


def plot_weights(table: pd.DataFrame, ax=None):
    """Weights side by side (one marker per weighting and criterion) with their 95% intervals."""
    import matplotlib.pyplot as plt  # plotting stays optional for the computational code

    ax = ax or plt.subplots(figsize=(7, 0.5 + 0.45 * table["factor"].nunique()))[1]
    factors = pd.Categorical(table["factor"], categories=list(dict.fromkeys(table["factor"])))
    names = pd.Categorical(table["weighting"], categories=list(dict.fromkeys(table["weighting"])))
    width = 0.8 / len(names.categories)
    pos = factors.codes + (names.codes - (len(names.categories) - 1) / 2) * width
    err = np.vstack([table["estimate"] - table["lower_95"], table["upper_95"] - table["estimate"]])
    ax.errorbar(table["estimate"], pos, xerr=np.nan_to_num(err), fmt="none", ecolor="grey", lw=1)
    for code, name in enumerate(names.categories):  # one legend entry per weighting
        sel = names.codes == code
        ax.scatter(table["estimate"][sel], pos[sel], label=name, s=18)
    ax.set_yticks(range(len(factors.categories)), factors.categories)
    ax.invert_yaxis()
    ax.set(xlabel="weight (share of the score)", title="Weights by method (bars: 95% bootstrap interval)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
