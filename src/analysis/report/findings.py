"""Renewal-driver findings in a manager's words: each factor's status (confirmed / possible,
unconfirmed / depends on segment / no clear effect), its role (lever / warning sign / trait) and its
effect in natural units ("each extra 10 points of feature usage: renewal odds +18%").

Reads the drivers table of notebook 05. When that table carries ``status`` and ``role`` columns they
are used as they are; until then they are computed here from the columns already there:
confirmed = clear after correction (``direction``) AND the held-out boosting check agrees
(``drivers_agreement.verdict == "agree"``); depends on segment = the factor's effect is clearly
positive in one segment and clearly negative in another (``drivers_stability``).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from analysis.report import formatting, labels

STATUSES = ("confirmed", "possible", "depends", "no_clear")
ROLES = ("lever", "symptom", "trait")
NO_CLEAR = "no clear effect"
# The role of a factor until the drivers table carries its own (drivers.factor_roles, notebook 05):
# levers are things a manager can do, symptoms are warning signs, traits describe the customer.
FALLBACK_ROLES = {
    "attended_seminar_12m": "lever",
    "seminars_12m": "lever",
    "webinars_12m": "lever",
    "qbrs_12m": "lever",
    "executive_visits_12m": "lever",
    "trainings_12m": "lever",
    "adoption_90d": "symptom",
    "adoption_trend": "symptom",
    "days_since_last_login": "symptom",
    "logins_90d": "symptom",
    "active_users_90d": "symptom",
    "open_severe_tickets": "symptom",
    "tickets_12m": "symptom",
    "severe_tickets_12m": "symptom",
    "max_open_severe_days": "symptom",
    "nps_latest": "symptom",
    "nps_change": "symptom",
    "payment_delay_days": "symptom",
    "late_payment_share": "symptom",
}
STATUS_WORDS = {
    "confirmed": "confirmed",
    "possible, unconfirmed": "possible",
    "possible": "possible",
    "depends on segment": "depends",
    "no clear effect": "no_clear",
}
SD_LINEAR = re.compile(r"^\+1 SD = ([-+0-9.eE,]+)$")
SD_LOG = re.compile(r"^\+1 SD of log\(1 \+ x\) = ([-+0-9.eE,]+)$")
VERSUS = re.compile(r"^vs (.+)$")


def flipping_factors(stability: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """Factor -> (a segment where it clearly raises renewal, one where it clearly lowers it)."""
    if stability is None or not {"factor", "lower_95", "upper_95", "segment"} <= set(stability.columns):
        return {}
    fitted = stability[stability.get("status", "fitted") == "fitted"] if "status" in stability else stability
    out = {}
    for factor, rows in fitted.dropna(subset=["factor"]).groupby("factor"):
        up = rows[rows["lower_95"] > 0]
        down = rows[rows["upper_95"] < 0]
        if len(up) and len(down):
            out[str(factor)] = (str(up["segment"].iloc[0]), str(down["segment"].iloc[0]))
    return out


def statuses(drivers: pd.DataFrame, agreement: pd.DataFrame | None, flips: dict) -> pd.Series:
    """Status code per driver row (see the module docstring)."""
    if "status" in drivers.columns:
        return drivers["status"].astype(str).str.lower().map(STATUS_WORDS).fillna("no_clear")
    variable = drivers["variable"] if "variable" in drivers.columns else drivers["factor"]
    clear = drivers["direction"].astype(str) != NO_CLEAR
    agrees = pd.Series(False, index=drivers.index)
    if agreement is not None and {"factor", "verdict"} <= set(agreement.columns):
        verdict = agreement.drop_duplicates("factor").set_index("factor")["verdict"].astype(str)
        agrees = variable.astype(str).map(verdict).eq("agree")
    flip = variable.astype(str).isin(flips) | drivers["factor"].astype(str).isin(flips)
    return pd.Series(
        np.select([flip, clear & agrees, clear], ["depends", "confirmed", "possible"], "no_clear"), index=drivers.index
    )


def roles(drivers: pd.DataFrame) -> pd.Series:
    if "role" in drivers.columns:
        return drivers["role"].astype(str).str.lower().where(lambda r: r.isin(ROLES), "trait")
    variable = drivers["variable"] if "variable" in drivers.columns else drivers["factor"]
    return variable.astype(str).map(FALLBACK_ROLES).fillna("trait")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def per_step(row: pd.Series) -> tuple[float, float, float, str] | None:
    """(odds multiplier, lower, upper, step kind) for one natural step of a numeric factor.

    The drivers table states effects per +1 SD (``effect_unit`` "+1 SD = 0.204" or, for counts on a
    log scale, "+1 SD of log(1 + x) = 0.197"). One natural step is ``labels.natural_step`` of the
    feature's kind (10 points of a share, 30 days, one ticket...); on the log scale it is a doubling.
    """
    unit = str(row.get("effect_unit") or "")
    variable = str(row.get("variable") or row["factor"])
    for pattern, log in ((SD_LINEAR, False), (SD_LOG, True)):
        m = pattern.match(unit)
        sd = _number(m.group(1)) if m else None
        if not sd or sd <= 0:
            continue
        if log:
            power, how = math.log(2) / sd, "double"
        elif labels.kind_of(variable) == "money":
            return None  # money on its own scale: no natural step; stated for a typical difference
        else:
            power, how = labels.natural_step(variable) / sd, "step"
        return (*(float(row[c]) ** power for c in ("effect", "lower_95", "upper_95")), how)
    return None


def finding_sentence(row: pd.Series, status: str, lang: str, t, label) -> str:
    """One sentence per factor, from its numbers (never the analysis module's English sentence)."""
    variable = str(row.get("variable") or row["factor"])
    name = label(str(row["factor"]) if "=" in str(row["factor"]) else variable)
    return labels.capitalised(_sentence(row, status, lang, t, label, variable, name))


def _sentence(row: pd.Series, status: str, lang: str, t, label, variable: str, name: str) -> str:
    if status == "no_clear":
        return t("finding_no_clear", factor=name)
    if status == "depends":
        return t("finding_depends", factor=name)
    kind = str(row.get("kind") or "")
    effect = (float(row["effect"]), float(row["lower_95"]), float(row["upper_95"]))
    rng = t("odds_range", low=formatting.odds_change(effect[1]), high=formatting.odds_change(effect[2]))
    if kind == "binary" or labels.kind_of(variable) == "flag":
        with_, without = row.get("rate_with"), row.get("rate_without")
        if pd.notna(with_) and pd.notna(without):
            return t(
                "finding_binary",
                factor=name,
                rate_with=formatting.pct(with_),
                rate_without=formatting.pct(without),
                odds=formatting.odds_change(effect[0]),
                range=rng,
            )
        return t("finding_binary_odds", factor=name, odds=formatting.odds_change(effect[0]), range=rng)
    base, level = labels.split_factor(str(row["factor"]))
    if level is not None or kind == "category":
        m = VERSUS.match(str(row.get("effect_unit") or ""))
        reference = labels.level_label(base, m.group(1), lang) if m else ""
        return t(
            "finding_level",
            level=labels.level_label(base, level or "", lang),
            reference=reference,
            factor=label(base),
            odds=formatting.odds_change(effect[0]),
            range=rng,
        )
    step = per_step(row)
    if step is None:
        return t("finding_typical", factor=name, odds=formatting.odds_change(effect[0]), range=rng)
    odds, low, high, how = step
    phrase = t("step_double", factor=name) if how == "double" else labels.step_phrase(variable, lang)
    rng = t("odds_range", low=formatting.odds_change(low), high=formatting.odds_change(high))
    return t("finding_numeric", step=phrase, odds=formatting.odds_change(odds), range=rng)


def forest_rows(findings: pd.DataFrame) -> pd.DataFrame:
    """The odds multipliers per natural step of the findings worth plotting (confirmed and possible)."""
    rows = []
    for _, r in findings[findings["_status"].isin(["confirmed", "possible"])].iterrows():
        step = per_step(
            pd.Series(
                {
                    "effect": r["_effect"],
                    "lower_95": r["_lower_95"],
                    "upper_95": r["_upper_95"],
                    "effect_unit": r["_unit"],
                    "variable": r["_variable"],
                    "factor": r["_factor"],
                }
            )
        )
        effect = (
            step[:3]
            if step is not None and r["_kind"] not in ("binary", "category")
            else (r["_effect"], r["_lower_95"], r["_upper_95"])
        )
        rows.append(
            {
                "label": r["factor"],
                "effect": effect[0],
                "lower_95": effect[1],
                "upper_95": effect[2],
                "group": r["_status"],
            }
        )
    return pd.DataFrame(rows, columns=["label", "effect", "lower_95", "upper_95", "group"])
