"""From estimates to findings a manager can trust: status, role, rank and sentence of each factor.

A finding is **confirmed** only when the regression finds it clear after correcting for many
factors (Benjamini-Hochberg ``p_adjusted < alpha``) *and* the held-out cross-check agrees: the
boosting model, fitted on earlier contracts, relies on the factor on later ones (permutation
importance at least ``drivers.confirm_min_importance``) and its partial dependence points the same
way. Clear in the regression alone it is **possible, unconfirmed**; a
factor whose direction flips between segments (``stability.SIGN_FLIP_RULE``) **depends on
segment**, and no pooled effect is stated for it; the rest have **no clear effect**.

Each factor also has a **role** from ``drivers.factor_roles``: a *lever* (something the company
does: seminars, QBRs, executive visits), a *symptom* (a warning sign: login silence, open
tickets) or a *trait* (who the account is; any factor not listed). Every finding is an
association: the sentence of a lever says it does not prove that doing more changes renewal.

Findings are ranked by status, then by ``strength`` (the standardised effect's interval end
nearest zero, comparable across 0/1 and numeric factors), then by p.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.drivers.logit import rank_by_evidence
from analysis.drivers.text import p_phrase

if TYPE_CHECKING:
    from analysis.drivers.logit import RenewalDrivers
    from analysis.drivers.nonlinear import NonlinearCheck
    from analysis.params import DriversParams, FactorRolesParams

CONFIRMED, POSSIBLE, DEPENDS, NONE = "confirmed", "possible, unconfirmed", "depends on segment", "no clear effect"
STATUSES = (CONFIRMED, POSSIBLE, DEPENDS, NONE)  # also the order of the report's findings
ROLES = ("lever", "symptom", "trait")
PD_FLAT = 0.005  # a partial-dependence change under half a point of renewal probability has no direction
DRIVERS_TABLE_COLUMNS = [
    "factor",
    "variable",
    "kind",
    "role",
    "status",
    "status_reason",
    "effect",
    "effect_unit",
    "lower_95",
    "upper_95",
    "log_odds",
    "std_error",
    "p",
    "p_adjusted",
    "direction",
    "std_effect",
    "std_lower_95",
    "std_upper_95",
    "strength",
    "gbm_importance",
    "gbm_direction",
    "sign_flip",
    "flip_detail",
    "rank",
    "rate_with",
    "rate_without",
    "method",
    "sentence",
]
CAVEATS = {
    "lever": "An association: it does not show that doing more of it would change renewal.",
    "symptom": "A warning sign to watch, not a cause to act on directly.",
    "trait": "A trait of the account: useful for targeting, not something to change.",
}


def role_of(variable: str, roles: FactorRolesParams) -> str:
    """lever / symptom / trait of a factor (a group ``a + b`` takes its members' common role)."""
    named = {name: role for role in ROLES for name in getattr(roles, role)}
    members = {named.get(m.strip(), "trait") for m in variable.split(" + ")}
    return members.pop() if len(members) == 1 else "trait"


def flip_details(flips: pd.DataFrame) -> dict[str, str]:
    """Design column -> where its direction flips ('industry: higher renewal in retail, lower in healthcare')."""
    if flips.empty:
        return {}
    flagged = flips[flips["sign_flip"]]
    details: dict[str, list[str]] = {}
    for row in flagged.itertuples():
        text = f"{row.split}: higher renewal in {row.clearly_positive}, lower in {row.clearly_negative}"
        details.setdefault(row.factor, []).append(text)
    return {factor: "; ".join(parts) for factor, parts in details.items()}


def _held_out(row: pd.Series, check: NonlinearCheck | None, min_importance: float) -> tuple[bool, str, float, str]:
    """Does the boosting check confirm this clear row? (confirmed, why not, importance, direction)."""
    if check is None:
        return False, "the held-out check could not run (see the problems table)", np.nan, "n/a"
    variable = row["variable"]
    if variable not in check.importance_.index:
        return False, "the held-out check did not use this factor", np.nan, "n/a"
    imp = check.importance_.loc[variable]
    importance = float(imp["importance"])
    if row["kind"] == "category":
        change = float(check.level_effects_.get(row.name, np.nan))
        shape = "n/a" if np.isnan(change) else "flat" if abs(change) < PD_FLAT else "rises" if change > 0 else "falls"
    else:
        shape = str(check.pd_direction_.get(variable, "n/a"))
    want = "rises" if row["log_odds"] > 0 else "falls"
    if not importance >= min_importance:
        return False, f"held-out importance {importance:.3f} is below {min_importance:g}", importance, shape
    if shape != want:
        said = "raises" if want == "rises" else "lowers"
        return (
            False,
            f"the boosting check's curve is {shape} while the regression says it {said} renewal",
            (importance),
            shape,
        )
    return True, f"held-out importance {importance:.3f}, same direction", importance, shape


def findings_table(
    model: RenewalDrivers | None,
    check: NonlinearCheck | None,
    flips: pd.DataFrame,
    section: DriversParams,
) -> pd.DataFrame:
    """The ``drivers`` run table: one row per model term with its status, role, rank and sentence."""
    if model is None:
        return pd.DataFrame(columns=DRIVERS_TABLE_COLUMNS)
    s = model.summary
    out = s.rename(columns={"odds_ratio": "effect", "unit": "effect_unit", "estimate": "log_odds"})
    out["lower_95"], out["upper_95"] = s["or_lower_95"], s["or_upper_95"]
    out["role"] = [role_of(v, section.factor_roles) for v in out["variable"]]
    flipped = flip_details(flips)
    clear = out["p_adjusted"] < section.alpha
    statuses, reasons, importance, shapes = [], [], [], []
    for name, row in out.iterrows():
        confirmed, why, imp, shape = _held_out(row, check, section.confirm_min_importance)
        if name in flipped:
            status, why = DEPENDS, f"its direction flips between segments ({flipped[name]})"
        elif not clear[name]:
            status, why = NONE, f"{p_phrase(row['p_adjusted'], section.alpha)} is not below {section.alpha:g}"
        else:
            status = CONFIRMED if confirmed else POSSIBLE
        statuses.append(status)
        reasons.append(why)
        importance.append(imp)
        shapes.append(shape)
    out["status"], out["status_reason"] = statuses, reasons
    out["gbm_importance"], out["gbm_direction"] = importance, shapes
    out["sign_flip"] = [name in flipped for name in out.index]
    out["flip_detail"] = [flipped.get(name, "") for name in out.index]
    out["rank"] = rank_by_evidence(out, out["status"].map({s: i for i, s in enumerate(STATUSES)}))
    out["sentence"] = [_sentence(row, model) for _, row in out.iterrows()]
    return out.reset_index().sort_values("rank")[DRIVERS_TABLE_COLUMNS].reset_index(drop=True)


def _sentence(row: pd.Series, model: RenewalDrivers) -> str:
    base = row["sentence"]
    caveat = CAVEATS[row["role"]]
    if row["status"] == CONFIRMED:
        return f"{base} Confirmed on later contracts ({row['status_reason']}). {caveat}"
    if row["status"] == POSSIBLE:
        return f"Possible, unconfirmed: {base} Not confirmed on later contracts: {row['status_reason']}. {caveat}"
    if row["status"] == DEPENDS:
        subject = model.label_of(row["variable"])
        if row["kind"] == "category":
            subject = f"{subject} = {str(row.name)[len(row['variable']) + 1 :]}"  # the level (index: factor)
        return (
            f"Depends on segment: the link between {subject} and renewal points different ways in different "
            f"segments ({row['flip_detail']}), so no single effect is stated."
        )
    return base


def reason_factors(table: pd.DataFrame, section: DriversParams) -> list[str]:
    """The factors allowed to give per-account reasons: confirmed ones (``reasons_from: confirmed``)
    or clear ones (``clear``), never a factor with any term whose direction flips between segments."""
    if table.empty:
        return []
    wanted = {CONFIRMED} if section.reasons_from == "confirmed" else {CONFIRMED, POSSIBLE}
    flipping = set(table.loc[table["sign_flip"].astype(bool), "variable"])
    chosen = table.loc[table["status"].isin(wanted), "variable"]
    return [v for v in dict.fromkeys(chosen) if v not in flipping]


def roles_by_factor(table: pd.DataFrame) -> Mapping[str, str]:
    return dict(zip(table["variable"], table["role"])) if not table.empty else {}
