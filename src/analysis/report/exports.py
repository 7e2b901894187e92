"""Exports for the CRM: one file set per run under ``<run>/exports/``, CSV and Parquet.

* ``scored_accounts``: one row per scored account with tier, score and its components, health,
  CLV, churn risk, next renewal date, top reasons and the upgrade-candidate flag. The columns
  are fixed (``SCORED_COLUMNS`` + one ``contrib_<criterion>`` per scoring criterion) so a CRM
  import mapping never breaks; a value whose analysis is missing from the run is left empty and
  a note says why.
* ``drivers``: the renewal drivers table of notebook 05 as it is.
* ``weights_used``: the weights behind the tiers (``scoring_weights.yaml`` of notebook 03), with
  their bootstrap intervals when the run has them; the YAML file is copied next to it.

Rows are sorted by key, numbers rounded (money to cents, the rest to 6 decimals) and nothing
time-dependent is written, so two runs on the same data, parameters and seed give byte-identical
files.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.params import Params, ScoringParams
from analysis.report import i18n

EXPORTS_DIR = "exports"
WEIGHTS_YAML = "scoring_weights.yaml"
CONTRIB = "contrib_"

# Fixed columns of the scored-accounts export; contrib_<criterion> columns follow "score".
SCORED_COLUMNS = [
    "account_id",
    "name",
    "tier",
    "tier_name",
    "abcd",
    "score",
    "health_score",
    "health_band",
    "clv",
    "churn_risk",
    "value_at_risk",
    "next_renewal_date",
    "top_reasons",
    "upgrade_candidate",
    "flag_potential",
    "flag_unprofitable",
    "alerts",
]
DTYPES = {
    "account_id": "string",
    "name": "string",
    "tier": "string",
    "tier_name": "string",
    "abcd": "string",
    "health_band": "string",
    "top_reasons": "string",
    "alerts": "string",
    "score": "float64",
    "health_score": "float64",
    "clv": "float64",
    "churn_risk": "float64",
    "value_at_risk": "float64",
    "upgrade_candidate": "boolean",
    "flag_potential": "boolean",
    "flag_unprofitable": "boolean",
    "next_renewal_date": "datetime64[ns]",
}
MONEY_COLUMNS = frozenset({"clv", "value_at_risk", "revenue_12m", "margin_12m", "arr", "annual_value"})
MONEY_DECIMALS, DECIMALS = 2, 6
# Run tables the exports read.
INPUTS = (
    "scored_accounts",
    "clv_accounts",
    "churn_risk",
    "renewal_reasons",
    "upgrade_candidates",
    "drivers",
    "scoring_weights",
)
WEIGHTS_COLUMNS = ["criterion", "label", "weight", "lower_95", "upper_95", "method"]


def _keyed(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.set_index("account_id") if "account_id" in frame.columns else frame


def _column(frame: pd.DataFrame | None, column: str, index: pd.Index) -> pd.Series | None:
    frame = _keyed(frame)
    if frame is None or column not in frame.columns:
        return None
    return frame[column].reindex(index)


def top_reasons(
    renewal_reasons: pd.DataFrame | None,
    churn_risk: pd.DataFrame | None,
    lang: str = "en",
    scoring: ScoringParams | None = None,
) -> pd.Series | None:
    """Per account: the factors pushing renewal down (notebook 05), else the churn risk factors (04).

    Each reason reads "Feature usage 0.34 (typical 0.53) x0.47": the account's value, the book's
    typical value and the factor's multiplier on the odds of renewal.
    """
    if renewal_reasons is not None and {"account_id", "sentence"} <= set(renewal_reasons.columns):
        down = renewal_reasons
        if "side" in down.columns:
            down = down[down["side"] == "down"]
        down = down.sort_values([c for c in ("account_id", "rank") if c in down.columns], kind="stable")
        if {"factor", "value", "typical", "odds_multiplier"} <= set(down.columns):
            typical = i18n.t("typical", lang)
            text = pd.Series(
                [
                    f"{i18n.feature_label(f, lang, scoring)} {v} ({typical} {t}) x{m:.2f}"
                    for f, v, t, m in zip(down["factor"], down["value"], down["typical"], down["odds_multiplier"])
                ],
                index=down.index,
            )
        else:
            text = down["sentence"].astype(str)
        return text.groupby(down["account_id"], sort=True).agg("; ".join)
    return _column(churn_risk, "top_risk_factors", _keyed(churn_risk).index) if churn_risk is not None else None


def scored_accounts_export(
    tables: Mapping[str, pd.DataFrame | None], params: Params, names: pd.Series | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The CRM table and notes on every column left empty (and why).

    ``tables``: run tables by name (``scored_accounts`` required; ``clv_accounts``, ``churn_risk``,
    ``renewal_reasons``, ``upgrade_candidates`` optional); ``names``: account_id -> display name.
    """
    scored = _keyed(tables.get("scored_accounts"))
    if scored is None or "tier" not in scored.columns:
        raise KeyError("scored_accounts with a tier column is needed for the export (notebook 03).")
    index = scored.index.sort_values()
    scored = scored.reindex(index)
    lang = params.language
    criteria = list(params.scoring.criteria)
    contrib = [f"{CONTRIB}{c}" for c in criteria] or sorted(c for c in scored.columns if c.startswith(CONTRIB))
    notes: list[str] = []
    out = pd.DataFrame(index=index)
    out["name"] = names.reindex(index) if names is not None else None
    out["tier"] = scored["tier"].astype(object)
    out["tier_name"] = out["tier"].map(i18n.tier_names(params.scoring, lang))
    sources = {
        "abcd": (scored, "abcd", "scored_accounts"),
        "score": (scored, "score", "scored_accounts"),
        "health_score": (scored, "health_score", "scored_accounts"),
        "health_band": (scored, "health_band", "scored_accounts"),
        "clv": (tables.get("clv_accounts"), "clv", "clv_accounts"),
        "churn_risk": (tables.get("churn_risk"), "p_churn_before_renewal", "churn_risk"),
        "value_at_risk": (tables.get("clv_accounts"), "value_at_risk", "clv_accounts"),
        "next_renewal_date": (scored, "next_renewal_date", "scored_accounts"),
        "flag_potential": (scored, "flag_potential", "scored_accounts"),
        "flag_unprofitable": (scored, "flag_unprofitable", "scored_accounts"),
        "alerts": (scored, "alerts", "scored_accounts"),
    }
    for target, (frame, column, table) in sources.items():  # a fixed list of columns, not data
        values = _column(frame, column, index)
        if values is None:
            notes.append(f"{target}: empty, the run has no {table} table with a '{column}' column.")
        out[target] = values.astype(object) if values is not None else None
    for col in contrib:
        out[col] = scored[col] if col in scored.columns else np.nan
    reasons = top_reasons(tables.get("renewal_reasons"), tables.get("churn_risk"), lang, params.scoring)
    if reasons is None:
        notes.append("top_reasons: empty, the run has neither renewal_reasons (05) nor churn_risk (04).")
    out["top_reasons"] = reasons.reindex(index).fillna("") if reasons is not None else None
    candidates = _keyed(tables.get("upgrade_candidates"))
    if candidates is None:
        notes.append("upgrade_candidate: empty, the run has no upgrade_candidates table (06).")
        out["upgrade_candidate"] = None
    else:
        out["upgrade_candidate"] = index.isin(candidates.index)
    out = out.rename_axis("account_id").reset_index()
    columns = SCORED_COLUMNS[:6] + contrib + SCORED_COLUMNS[6:]
    return typed(out[columns]), notes


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed dtypes (nullable), so Parquet schemas match from run to run even when a column is empty."""
    out = frame.copy()
    for col in out.columns:
        dtype = DTYPES.get(col, "float64" if col.startswith(CONTRIB) else None)
        if dtype == "boolean":
            out[col] = out[col].astype("boolean")
        elif dtype == "datetime64[ns]":
            out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
        elif dtype:
            out[col] = (pd.to_numeric(out[col], errors="coerce") if dtype == "float64" else out[col]).astype(dtype)
    return out


def weights_used(run_dir: str | Path, params: Params, weights_table: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The weights behind the tiers from the run's ``scoring_weights.yaml`` (None when absent)."""
    path = Path(run_dir) / WEIGHTS_YAML
    if not path.exists():
        return None
    chosen = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("scoring_weights") or {}
    method = str(chosen.get("method", ""))
    lang = params.language
    w = pd.Series(chosen.get("weights") or {}, dtype=float)
    out = pd.DataFrame(
        {
            "criterion": w.index,
            "label": [i18n.feature_label(c, lang, params.scoring) for c in w.index],
            "weight": w.to_numpy(),
            "lower_95": np.nan,
            "upper_95": np.nan,
            "method": method,
        }
    )
    if weights_table is not None and {"method", "factor", "lower_95", "upper_95"} <= set(weights_table.columns):
        rows = (
            weights_table[weights_table["method"].astype(str) == method].drop_duplicates("factor").set_index("factor")
        )
        out["lower_95"] = out["criterion"].map(rows["lower_95"]).astype(float)
        out["upper_95"] = out["criterion"].map(rows["upper_95"]).astype(float)
    return out[WEIGHTS_COLUMNS]


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Money to cents, other numbers to 6 decimals.

    Enough for any CRM, and it keeps the files identical from run to run: DuckDB adds floating
    point numbers in parallel in varying order, so sums may differ in their last bits (about
    1e-16 relative), far below these roundings.
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(MONEY_DECIMALS if col in MONEY_COLUMNS else DECIMALS)
    return out


def write_export(frame: pd.DataFrame, run_dir: str | Path, name: str) -> list[Path]:
    """``<run>/exports/<name>.csv`` (UTF-8 with BOM, which Excel and most CRMs read) and ``.parquet``."""
    folder = Path(run_dir) / EXPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    frame = rounded(frame)
    frame.to_csv(csv, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d")
    frame.to_parquet(parquet, index=False)
    return [csv, parquet]


def write_exports(
    run_dir: str | Path, tables: Mapping[str, pd.DataFrame | None], params: Params, names: pd.Series | None = None
) -> tuple[list[Path], list[str]]:
    """Write every export the run's tables allow; returns the files and notes on what was left out."""
    written: list[Path] = []
    notes: list[str] = []
    if tables.get("scored_accounts") is not None:
        frame, more = scored_accounts_export(tables, params, names)
        written += write_export(frame, run_dir, "scored_accounts")
        notes += more
    else:
        notes.append("scored_accounts: not exported, the run has no scored_accounts table (notebook 03).")
    drivers = tables.get("drivers")
    if drivers is not None:
        written += write_export(drivers, run_dir, "drivers")
    else:
        notes.append("drivers: not exported, the run has no drivers table (notebook 05).")
    weights = weights_used(run_dir, params, tables.get("scoring_weights"))
    if weights is not None:
        written += write_export(weights, run_dir, "weights_used")
        target = Path(run_dir) / EXPORTS_DIR / WEIGHTS_YAML
        shutil.copyfile(Path(run_dir) / WEIGHTS_YAML, target)
        written.append(target)
    else:
        notes.append(f"weights_used: not exported, the run has no {WEIGHTS_YAML} (notebook 03).")
    return written, notes
