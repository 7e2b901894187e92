"""The CRM exports: fixed columns, empty-with-a-note columns, byte-identical rewrites, words for the
human-readable columns, and no spreadsheet formula injection from CSV cells."""

from __future__ import annotations

import pandas as pd
import pytest
from _report_tables import IDS, SCRIPT, run_tables

from analysis.params import defaults
from analysis.report import exports

NAMES = pd.Series(
    [f"Acme {SCRIPT}", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"],
    index=pd.Index(IDS, name="account_id"),
)
REASONS = pd.Series({"A5": "Feature usage (90 days) 4%, typical 51%", "A7": "Feature usage (90 days) 12%, typical 51%"})


@pytest.fixture(scope="module")
def params():
    return defaults()


def test_scored_accounts_export_columns_and_values(params):
    frame, notes = exports.scored_accounts_export(run_tables(), params, NAMES, REASONS)
    contrib = [f"contrib_{c}" for c in params.scoring.criteria]
    assert list(frame.columns) == exports.SCORED_COLUMNS[:6] + contrib + exports.SCORED_COLUMNS[6:]
    assert frame["account_id"].tolist() == sorted(IDS)
    row = frame.set_index("account_id").loc["A5"]
    assert row["tier"] == "ordinary" and row["tier_name"] == "Ordinary" and row["clv"] == 80.0
    assert row["churn_risk"] == 0.6 and row["top_reasons"] == REASONS["A5"]
    assert row["alerts"] == "No login for 30 days or more"  # the rule's words, not its code
    a7 = frame.set_index("account_id").loc["A7", "alerts"]
    assert a7 == "No login for 30 days or more; NPS dropped by 2 points or more"
    assert frame.set_index("account_id")["upgrade_candidate"].to_dict() == {i: i in ("A4", "A6") for i in IDS}
    assert frame["contrib_tenure_days"].isna().all()  # criterion not in the hand-made table: empty, not dropped
    assert str(frame["next_renewal_date"].dtype).startswith("datetime64")
    assert not any("clv" in n for n in notes)


def test_export_without_optional_tables_keeps_columns_and_says_why(params, tmp_path):
    tables = run_tables(clv_accounts=None, churn_risk=None, renewal_reasons=None, upgrade_candidates=None)
    frame, notes = exports.scored_accounts_export(tables, params)
    assert frame["clv"].isna().all() and frame["upgrade_candidate"].isna().all() and frame["top_reasons"].isna().all()
    assert any(n.startswith("clv:") for n in notes) and any(n.startswith("upgrade_candidate:") for n in notes)
    assert any(n.startswith("top_reasons:") for n in notes)
    written, notes = exports.write_exports(tmp_path, tables, params)
    assert {p.name for p in written} == {
        "scored_accounts.csv",
        "scored_accounts.parquet",
        "drivers.csv",
        "drivers.parquet",
    }
    assert any("weights_used" in n for n in notes)
    back = pd.read_parquet(tmp_path / "exports" / "scored_accounts.parquet")
    pd.testing.assert_frame_equal(back, exports.rounded(frame))


def test_exports_are_byte_identical_when_written_twice(params, tmp_path):
    yaml_text = "scoring_weights:\n  method: expert\n  weights: {revenue_12m: 0.6, margin_12m: 0.4}\n"
    tables = run_tables(
        scoring_weights=pd.DataFrame(
            {
                "weighting": ["expert"] * 2,
                "factor": ["revenue_12m", "margin_12m"],
                "lower_95": [0.5, 0.3],
                "upper_95": [0.7, 0.5],
                "method": ["expert"] * 2,
            }
        )
    )
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / exports.WEIGHTS_YAML).write_text(yaml_text, encoding="utf-8")
        exports.write_exports(tmp_path / d, tables, params, NAMES, REASONS)
    files = sorted(p.name for p in (tmp_path / "a" / "exports").iterdir())
    assert "weights_used.csv" in files and exports.WEIGHTS_YAML in files
    for name in files:
        assert (tmp_path / "a" / "exports" / name).read_bytes() == (tmp_path / "b" / "exports" / name).read_bytes(), (
            name
        )
    weights = pd.read_csv(tmp_path / "a" / "exports" / "weights_used.csv")
    assert weights.columns.tolist() == exports.WEIGHTS_COLUMNS
    assert weights.set_index("criterion")["lower_95"].to_dict() == {"revenue_12m": 0.5, "margin_12m": 0.3}
    assert weights.set_index("criterion")["label"].to_dict() == {
        "revenue_12m": "annual sales",
        "margin_12m": "profit contribution",
    }
    csv = (tmp_path / "a" / "exports" / "scored_accounts.csv").read_text(encoding="utf-8-sig")
    assert SCRIPT in csv  # raw data in the CRM file; escaping belongs to HTML only


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote(params, tmp_path, start):
    names = NAMES.copy()
    names["A1"] = f'{start}HYPERLINK("http://evil.example","x")'
    names["A2"] = "Globex - the - company"  # a dash inside the text is harmless
    exports.write_exports(tmp_path, run_tables(), params, names, REASONS)
    csv = pd.read_csv(tmp_path / "exports" / "scored_accounts.csv", encoding="utf-8-sig", keep_default_na=False)
    shown = csv.set_index("account_id")["name"]
    assert shown["A1"] == "'" + names["A1"] if start not in ("\t", "\r") else shown["A1"].startswith("'")
    assert shown["A2"] == "Globex - the - company"
    assert not any(str(v).startswith(("=", "+", "@", "\t", "\r")) for v in csv.select_dtypes("object").stack())
    # Parquet keeps the exact text; numbers (negative scores or margins) are not text and stay numbers
    exact = pd.read_parquet(tmp_path / "exports" / "scored_accounts.parquet").set_index("account_id")
    assert exact.loc["A1", "name"] == names["A1"]
    assert pd.api.types.is_float_dtype(csv["score"])


def test_neutralising_leaves_numbers_and_safe_text_alone():
    frame = pd.DataFrame({"t": ["=1+1", "-5", "ok", None], "n": [-1.0, 2.0, 3.0, 4.0]})
    out = exports.neutralise_formulas(frame)
    assert out["t"].tolist() == ["'=1+1", "'-5", "ok", None]
    assert out["n"].tolist() == [-1.0, 2.0, 3.0, 4.0]
