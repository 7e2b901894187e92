"""Which accounts are top-tier: the tiers of the run's scoring step (``scored_accounts``), or a
fallback pyramid on value when the run has none, and the top-tier flag the rules describe."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, InsufficientDataError


def fallback_tiers(value: pd.Series, shares: Sequence[float], names: Sequence[str]) -> pd.Series:
    """Pyramid tiers by quantiles of ``value`` (e.g. trailing revenue), top first: ``shares`` of
    the accounts (best first, summing to 1) get the tier codes ``names``.

    Used only when the scoring step wrote no tiers. Accounts with missing value count as zero;
    ties are broken by account id so the cut is reproducible.
    """
    if len(shares) != len(names) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9) or min(shares) <= 0:
        raise ConfigError(
            f"Pyramid shares {list(shares)} must be positive, sum to 1 and match the tier codes {list(names)} "
            f"(scoring.tiers.pyramid)."
        )
    if value.empty:
        raise InsufficientDataError("No accounts to place in tiers.")
    ordered = value.fillna(0.0).sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    position = np.arange(len(ordered)) / len(ordered)  # share of accounts ranked above
    bins = np.searchsorted(np.cumsum(shares)[:-1], position, side="right")
    return pd.Series(np.asarray(names, dtype=object)[bins], index=ordered.index, name="tier").reindex(value.index)


def resolve_tiers(
    scored: pd.DataFrame | None, value: pd.Series, shares: Sequence[float] | None, codes: Sequence[str]
) -> tuple[pd.Series, str]:
    """Tiers from the run's ``scored_accounts`` table when present, else :func:`fallback_tiers`
    with the pyramid's ``shares`` and ``codes`` (``shares`` None: a pyramid cut on score
    thresholds, which cannot be cut on ``value``; InsufficientDataError).

    Returns the tiers (indexed like ``value``) and a sentence saying where they came from.
    """
    if scored is not None and "tier" in scored.columns:
        frame = scored.set_index("account_id") if "account_id" in scored.columns else scored
        tiers = frame["tier"].astype("object").reindex(value.index)
        unknown = int(tiers.isna().sum())
        note = "Tiers come from the scoring step (run table scored_accounts)."
        if unknown:
            note += f" {unknown} accounts without a scored tier are left out of the rules."
        return tiers.rename("tier"), note
    if shares is None:
        raise InsufficientDataError(
            "No scored_accounts table with a tier column in this run, and the pyramid (scoring.tiers.pyramid) "
            "is cut on score thresholds, not shares, so no fallback can be cut on value; run the scoring step first."
        )
    tiers = fallback_tiers(value, shares, codes)
    note = (
        f"No scored_accounts table with a tier column in this run: tiers are a fallback pyramid on "
        f"{value.name or 'value'} (top {', '.join(f'{s:.0%}' for s in shares)} = {', '.join(codes)})."
    )
    return tiers, note


def present_columns(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(columns of ``columns`` in ``frame``, those absent): optional data may lack some."""
    return [c for c in columns if c in frame.columns], [c for c in columns if c not in frame.columns]


def top_flag(tiers: pd.Series, top_tiers: Iterable[str]) -> pd.Series:
    """True for accounts in a top tier; refuses a book where that is everyone or no one."""
    top_tiers = list(top_tiers)
    known = tiers.dropna()
    if known.empty:
        raise InsufficientDataError("No account has a tier; run the scoring step or pass a value column.")
    levels = sorted(known.unique().tolist(), key=str)
    if len(levels) == 1:
        raise InsufficientDataError(
            f"Every account is in tier {levels[0]!r}; rules describing the top tier need "
            f"top-tier and other accounts (check the scoring step's tier cut points)."
        )
    if not set(top_tiers) & set(levels):
        raise ConfigError(
            f"None of the top tiers {top_tiers} occurs; tiers present are {levels}. "
            f"Set segments.top_tiers to the names the scoring step uses."
        )
    flag = known.isin(top_tiers)
    if flag.all():
        raise InsufficientDataError(
            f"Every account is in a top tier ({top_tiers}); rules describing the top "
            f"tier need other accounts too; narrow segments.top_tiers."
        )
    return flag.rename("is_top")
