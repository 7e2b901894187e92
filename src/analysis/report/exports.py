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

CSV files are opened by spreadsheets, which run a cell that begins with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula ("formula injection", e.g. an account named
``=HYPERLINK(...)``). Every such text cell of a CSV export is written with a leading single quote
(the OWASP rule); numbers are not text and stay as they are. Parquet files keep the exact text.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.params import Params
from analysis.report import i18n, labels

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
    "upgrade_candidates",
    "drivers",
    "scoring_weights",
)
WEIGHTS_COLUMNS = ["criterion", "label", "weight", "lower_95", "upper_95", "method"]
# A text cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
FORMULA_START = r"^[=+\-@\t\r]"


def _keyed(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.set_index("account_id") if "account_id" in frame.columns else frame


def _column(frame: pd.DataFrame | None, column: str, index: pd.Index) -> pd.Series | None:
    frame = _keyed(frame)
    if frame is None or column not in frame.columns:
        return None
    return frame[column].reindex(index)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading single quote (OWASP)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            text = out[col]
            risky = text.astype("string").str.match(FORMULA_START, na=False).to_numpy(dtype=bool)
            if risky.any():
                out[col] = text.astype(object).where(~risky, "'" + text.astype("string").astype(object))
    return out


def scored_accounts_export(
    tables: Mapping[str, pd.DataFrame | None],
    params: Params,
    names: pd.Series | None = None,
    reasons: pd.Series | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The CRM table and notes on every column left empty (and why).

    ``tables``: run tables by name (``scored_accounts`` required; ``clv_accounts``, ``churn_risk``,
    ``upgrade_candidates`` optional); ``names``: account_id -> display name; ``reasons``:
    account_id -> the report's reason sentence ("feature usage (90 days) 4%, typical 51%"; only
    clear effects, see ``analysis.report.reasons``), None when the run has no reasons.
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
    if out["alerts"].notna().any():  # rule codes ("no_login_30d;nps_drop") as the rules' words
        words = {r.rule: getattr(r, lang, None) or r.en for r in params.scoring.warnings}
        out["alerts"] = [
            "; ".join(words.get(code, code) for code in str(v).split(";") if code) if isinstance(v, str) else v
            for v in out["alerts"]
        ]
    for col in contrib:
        out[col] = scored[col] if col in scored.columns else np.nan
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
            "label": [labels.label(c, lang, params.scoring) for c in w.index],
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
    # CRLF line ends (RFC 4180): the csv writer then quotes any field holding a bare carriage return,
    # which with "\n" endings it leaves bare, and every reader splits that row in two
    neutralise_formulas(frame).to_csv(
        csv, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d", lineterminator="\r\n"
    )
    frame.to_parquet(parquet, index=False)
    return [csv, parquet]


def write_exports(
    run_dir: str | Path,
    tables: Mapping[str, pd.DataFrame | None],
    params: Params,
    names: pd.Series | None = None,
    reasons: pd.Series | None = None,
) -> tuple[list[Path], list[str]]:
    """Write every export the run's tables allow; returns the files and notes on what was left out."""
    written: list[Path] = []
    notes: list[str] = []
    if tables.get("scored_accounts") is not None:
        frame, more = scored_accounts_export(tables, params, names, reasons)
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
