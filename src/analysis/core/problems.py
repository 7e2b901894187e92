"""One shape for a model's diagnostics: the ``problems_`` frame.

Every model and analysis reports what it could not estimate, what it estimated differently and
what is worth knowing as rows of one table (``problems_``), so the notebooks and the report show
any of them the same way. Severity: ``fatal`` (nothing could be estimated), ``dropped`` (an input
was left out), ``adjusted`` (fitted differently from what was asked: merged, penalised,
stratified, imputed), ``note`` (fitted as asked, worth knowing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

PROBLEM_COLUMNS = ["factor", "problem", "severity", "detail", "action"]
SEVERITIES = ("fatal", "dropped", "adjusted", "note")


def problem(factor: str, kind: str, severity: str, detail: str, action: str = "") -> dict:
    """One row of a ``problems_`` frame (``kind`` is the short name of the problem)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    return {"factor": factor, "problem": kind, "severity": severity, "detail": detail, "action": action}


def note(detail: str, factor: str = "(model)", kind: str = "note", action: str = "") -> dict:
    return problem(factor, kind, "note", detail, action)


def problems_frame(rows: Iterable[Mapping] = ()) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=PROBLEM_COLUMNS)


def concat(*frames: pd.DataFrame | None) -> pd.DataFrame:
    parts = [f for f in frames if f is not None and len(f)]
    return pd.concat(parts, ignore_index=True)[PROBLEM_COLUMNS] if parts else problems_frame()


def fatal_message(frame: pd.DataFrame, what: str) -> str:
    fatal = frame[frame["severity"] == "fatal"]
    reasons = "; ".join(f"{r.detail} ({r.action})" if r.action else r.detail for r in fatal.itertuples())
    return f"{what} cannot be estimated: {reasons or 'see problems_'}"


def as_text(frame: pd.DataFrame, severities: Iterable[str] = SEVERITIES) -> list[str]:
    """One line per problem, for a notebook's "what could not be estimated, and why" cell."""
    keep = frame[frame["severity"].isin(list(severities))]
    return [
        f"{r.factor}: {r.problem} ({r.severity}) - {r.detail}" + (f"; {r.action}" if r.action else "")
        for r in keep.itertuples()
    ]
