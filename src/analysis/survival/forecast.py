"""Per-account churn risk from the renewal-clock model: before the next renewal and within each horizon.

* ``p_churn_before_renewal``: P(the contracts up at the account's next renewal are not renewed)
  (for an account whose contracts all end together, as annual books have them, that is the account
  leaving; for one with contracts on other terms, it is losing what is up for renewal then);
* ``p_churn_<h>d``: P(the account has no contract left within h days). Each running renewal is
  followed on its own clock: it ends ``lead_days`` from now, then every term after that; it is
  lost by h days if one of those renewals is lost (each with its own lead, term and renewal year).
  The account leaves when every running renewal is lost; they are taken as independent given the
  covariates (co-terminous contracts are one renewal already).

The churn date is the day after the end, so a renewal ending in ``lead_days`` counts within h days
when ``lead_days + 1 <= h``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.survival.landmarks import LEAD, SHARE, TERM, YEAR, renewal_year


def later_renewals(running: pd.DataFrame, longest: int) -> pd.DataFrame:
    """Each running renewal and the ones after it (every term) whose churn date falls within
    ``longest`` days: rows with ``step`` (0 = the running one), lead_days, lead_share, renewal_year."""
    term = running[TERM].to_numpy(int)
    steps = np.maximum(0, (longest - 1 - running[LEAD].to_numpy(int)) // np.maximum(term, 1))
    rep = np.repeat(np.arange(len(running)), steps + 1)
    step = np.concatenate([np.arange(k + 1) for k in steps]) if len(steps) else np.zeros(0, int)
    out = running.iloc[rep].reset_index(drop=True)
    out["row"], out["step"] = rep, step
    out[LEAD] = out[LEAD].to_numpy(int) + step * term[rep]
    out[SHARE] = np.where(step == 0, out[SHARE], out[LEAD] / out[TERM])
    churn_day = out["end"] + pd.to_timedelta(step * term[rep] + 1, "D")
    out[YEAR] = renewal_year((churn_day - out["first_seen"]).dt.days)
    return out


def horizon_churn(running: pd.DataFrame, p_lost: np.ndarray, horizons: Sequence[int]) -> pd.DataFrame:
    """P(the account has no contract left within each horizon), from the loss probabilities of
    ``later_renewals`` rows (``p_lost``, aligned with them). Index account_id, one column per horizon."""
    lead = running[LEAD].to_numpy(int)
    out = {}
    for h in horizons:  # a few horizons
        inside = lead + 1 <= h
        survive = pd.Series(np.where(inside, 1 - p_lost, 1.0)).groupby(running["row"].to_numpy()).prod()
        lost_by = 1 - survive.to_numpy()  # per running renewal: lost at one of its renewals within h
        per_account = pd.Series(lost_by).groupby(running.drop_duplicates("row")["account_id"].to_numpy()).prod()
        out[h] = per_account
    return pd.DataFrame(out)


def renewal_churn_risk(model, running: pd.DataFrame, horizons: Sequence[int], top_n: int):
    """(per-account risk, per-renewal risk) at the date of ``running`` (``landmarks.situation_at``).

    Per account (index account_id): ``p_churn_<h>d`` for each horizon, ``p_churn_before_renewal``,
    ``days_to_next_renewal``, ``next_renewal_date``, ``top_risk_factors`` with the structured reason
    columns and ``risk_factors_note`` (from the next renewal's situation). Per renewal: account_id,
    end, p_lost (the probability behind each contract's value at risk)."""
    running = running.reset_index(drop=True)
    chain = later_renewals(running, max(horizons))
    p_chain = model.predict_lost(chain).to_numpy()
    by_horizon = horizon_churn(chain, p_chain, horizons)
    now = chain["step"].to_numpy() == 0
    units = running[["account_id", "end"]].assign(p_lost=p_chain[now])
    first = running.sort_values(["account_id", "end"], kind="stable").drop_duplicates("account_id")
    risk = pd.DataFrame(index=pd.Index(first["account_id"].to_numpy(), name="account_id"))
    for h in horizons:
        risk[f"p_churn_{h}d"] = by_horizon[h].reindex(risk.index).to_numpy()
    risk["p_churn_before_renewal"] = units.loc[first.index, "p_lost"].to_numpy()
    risk["days_to_next_renewal"] = first[LEAD].to_numpy()
    risk["next_renewal_date"] = first["end"].to_numpy()
    reasons = model.risk_factors(first, top_n)
    risk = risk.join(reasons.set_axis(risk.index))
    return risk, units
