"""Are the renewal drivers the same in every segment and period? Refits and sign flips."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.core.summary import summary_frame
from analysis.drivers.design import DriverDesign, separation_problems
from analysis.drivers.logit import fit_logit
from analysis.drivers.outcome import ACCOUNT, END, OUTCOME, decided_contracts, events_problem, outcome_problems

if TYPE_CHECKING:
    from analysis.params import DriversParams

SIGN_FLIP_RULE = (
    "A sign flip is flagged when, within one split (by size band, industry or period), one segment's "
    "95% interval lies wholly above zero and another's wholly below zero. Opposite signs that are not "
    "both clear are not flagged."
)
STABILITY_COLUMNS = [
    "split",
    "segment",
    "factor",
    "n",
    "events",
    "estimate",
    "std_error",
    "lower_95",
    "upper_95",
    "p",
    "method",
    "status",
]
FLIP_COLUMNS = ["factor", "split", "segments", "clearly_positive", "clearly_negative", "sign_flip"]


def _splits(table: pd.DataFrame, by: list[str], period: str | None):
    for column in by:
        if column in table.columns:
            values = table[column].astype(str)
            for level in sorted(values.unique()):
                yield column, level, (values == level).to_numpy()
    if period and END in table.columns:
        end = pd.to_datetime(table[END])
        labels = (
            end.dt.year.astype(str) if period == "year" else np.where(end <= end.median(), "earlier half", "later half")
        )
        for level in sorted(pd.unique(labels)):
            yield "period", level, np.asarray(labels == level)


def stability(
    contracts: pd.DataFrame,
    section: DriversParams,
    design: DriverDesign | None = None,
    factors: list[str] | None = None,
) -> pd.DataFrame:
    """Refit the logit within each segment (``section.stability_by``) and period
    (``section.stability_period``), on the full book's scaling.

    ``factors`` limits the refit to those variables (``analyse`` passes the ones with a clear
    overall effect: a segment has far fewer events than the book, and 25 terms would leave most
    segments below the events-per-factor minimum).

    Long table: split, segment, factor, n, events, estimate, std_error, lower_95, upper_95, p,
    method, status. A segment that cannot be fitted keeps one row with the reason in ``status``.
    """
    table, _ = decided_contracts(contracts)
    table = table.reset_index(drop=True)
    y = table[OUTCOME]
    design = design if design is not None else DriverDesign.from_params(section).fit(table, y)
    X = design.transform(table)
    owner = design.factor_of()
    if factors is not None:
        X = X[[c for c in X.columns if owner[c] in set(factors)]]
    rows = []
    for split, segment, mask in _splits(table, list(section.stability_by), section.stability_period):
        mask = np.asarray(mask)
        Xs, ys = X[mask], y[mask]
        keep = [c for c in Xs.columns if owner[c] != split and Xs[c].nunique() > 1]
        base = {"split": split, "segment": segment, "n": int(mask.sum()), "events": int(ys.sum())}
        problems = outcome_problems(ys) or events_problem(ys, len(keep), section.min_events_per_factor)
        if problems:
            rows.append({**base, "status": f"skipped: {problems[0]['detail']}"})
            continue
        Xs = Xs[keep]
        separated = bool(separation_problems(Xs, ys, design))
        fit = fit_logit(
            Xs,
            ys,
            table.loc[mask, ACCOUNT],
            penalty=section.penalty,
            max_abs_coef=section.max_abs_coef,
            force_penalty=separated,
        )
        se = np.sqrt(np.diag(fit.cov))[1:]
        est = fit.params.drop("const")
        frame = summary_frame(est.index, est, se)
        for column, r in frame.iterrows():
            rows.append({**base, "factor": column, **r.to_dict(), "method": fit.method, "status": "fitted"})
    return pd.DataFrame(rows).reindex(columns=STABILITY_COLUMNS)


def sign_flips(stab: pd.DataFrame) -> pd.DataFrame:
    """Per factor and split: segments clearly above / below zero, and the flag (``SIGN_FLIP_RULE``)."""
    fitted = stab[stab["status"] == "fitted"]
    rows = []
    for (factor, split), part in fitted.groupby(["factor", "split"], sort=False):
        up = part.loc[part["lower_95"] > 0, "segment"].tolist()
        down = part.loc[part["upper_95"] < 0, "segment"].tolist()
        rows.append(
            {
                "factor": factor,
                "split": split,
                "segments": len(part),
                "clearly_positive": ", ".join(up),
                "clearly_negative": ", ".join(down),
                "sign_flip": bool(up and down),
            }
        )
    return pd.DataFrame(rows, columns=FLIP_COLUMNS)


def stability_table(stab: pd.DataFrame) -> pd.DataFrame:
    """Wide view for the report: odds ratio per factor and segment (* = 95% interval excludes 1)."""
    fitted = stab[stab["status"] == "fitted"].copy()
    if fitted.empty:
        return pd.DataFrame()
    clear = (fitted["lower_95"] > 0) | (fitted["upper_95"] < 0)
    fitted["cell"] = [f"{np.exp(e):.2f}{'*' if c else ''}" for e, c in zip(fitted["estimate"], clear)]
    fitted["column"] = fitted["split"] + ": " + fitted["segment"].astype(str)
    wide = fitted.pivot(index="factor", columns="column", values="cell")
    flips = sign_flips(stab).groupby("factor")["sign_flip"].any()
    wide["sign_flip"] = flips.reindex(wide.index).fillna(False).astype(bool)
    return wide
