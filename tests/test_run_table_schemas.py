"""The value rules of the run tables (pandera, analysis.table_schemas): each kind of rule refuses a
bad frame with a CatalogError naming table, column and rule, and nothing is written; good frames
are written; the rules hold on the tables of a real run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import catalog
from analysis.errors import CatalogError
from analysis.params import defaults, load_params
from analysis.table_schemas import MAX_EXAMPLES, VOCABULARIES, check_values

CODES = defaults().scoring.tiers.pyramid.codes
BANDS = [band.code for band in defaults().scoring.health.bands]


def churn_risk(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "p_churn_before_renewal": np.linspace(0.0, 1.0, n),
            "top_risk_factors": "",
        }
    )


def at_risk_renewals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contract_id": ["C1", "C2", "C3"],
            "account_id": ["A1", "A1", "A2"],  # an account renews several contracts: not the key
            "end": pd.to_datetime(["2026-02-01", "2026-03-01", "2026-02-15"]),
            "product_line": ["Core", "Analytics", "Core"],
            "annual_value": [1000.0, 250.0, 5000.0],
            "p_churn_before_renewal": [0.2, 0.5, 0.1],
            "value_at_risk": [200.0, 125.0, 500.0],
            "health_band": [BANDS[0], None, BANDS[-1]],  # the scoring step may not know an account
        }
    )


def lapsed_accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["L1", "L2"],
            "lapsed_on": pd.to_datetime(["2025-10-01", None]),
            "days_since_lapse": [92.0, np.nan],
            "revenue_12m": [1200.0, 80.0],
            "margin_12m": [-300.0, 10.0],  # a negative margin is a value, not a breach
            "tier_previous": [CODES[-1], None],
        }
    )


def renewal_reasons() -> pd.DataFrame:
    columns = catalog.TABLES["renewal_reasons"].columns
    frame = pd.DataFrame({c: ["x", "x", "x"] for c in columns})
    frame["account_id"], frame["side"], frame["rank"] = ["A1", "A1", "A1"], ["down", "down", "up"], [1, 2, 1]
    frame["renewal_probability"] = [0.7, 0.7, 0.7]
    return frame


GOOD = {
    "churn_risk": churn_risk,
    "at_risk_renewals": at_risk_renewals,
    "lapsed_accounts": lapsed_accounts,
    "renewal_reasons": renewal_reasons,
}


def _with(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


# (table, broken frame, column named in the message, words of the rule)
BAD = {
    "key missing": ("churn_risk", lambda: _with(churn_risk(), "account_id", 1, None), "account_id", "has a value"),
    "key repeated": ("churn_risk", lambda: _with(churn_risk(), "account_id", 1, "A0"), "account_id", "unique"),
    "composite key repeated": (
        "renewal_reasons",
        lambda: _with(renewal_reasons(), "rank", 1, 1),
        "account_id, side, rank",
        "unique",
    ),
    "probability above 1": (
        "churn_risk",
        lambda: _with(churn_risk(), "p_churn_before_renewal", 2, 1.2),
        "p_churn_before_renewal",
        "in [0, 1]",
    ),
    "probability below 0": (
        "at_risk_renewals",
        lambda: _with(at_risk_renewals(), "p_churn_before_renewal", 0, -0.1),
        "p_churn_before_renewal",
        "in [0, 1]",
    ),
    "probability missing": (
        "churn_risk",
        lambda: _with(churn_risk(), "p_churn_before_renewal", 0, np.nan),
        "p_churn_before_renewal",
        "has a value",
    ),
    "probability as text": (
        "churn_risk",
        lambda: churn_risk().astype({"p_churn_before_renewal": str}),
        "p_churn_before_renewal",
        "in [0, 1]",
    ),
    "money infinite": (
        "at_risk_renewals",
        lambda: _with(at_risk_renewals(), "value_at_risk", 1, np.inf),
        "value_at_risk",
        "finite",
    ),
    "money missing": (
        "lapsed_accounts",
        lambda: _with(lapsed_accounts(), "revenue_12m", 0, np.nan),
        "revenue_12m",
        "has a value",
    ),
    "unknown tier": (
        "lapsed_accounts",
        lambda: _with(lapsed_accounts(), "tier_previous", 0, "gold"),
        "tier_previous",
        "tier codes",
    ),
    "unknown health band": (
        "at_risk_renewals",
        lambda: _with(at_risk_renewals(), "health_band", 0, "Healthy"),  # a label, not the code
        "health_band",
        "health_band codes",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_each_rule_refuses_a_bad_frame_and_nothing_is_written(case, tmp_path):
    table, build, column, rule = BAD[case]
    tables = catalog.RunTables(tmp_path, catalog.writer_of(table))
    with pytest.raises(CatalogError) as refused:
        tables.write(build(), table)
    message = str(refused.value)
    assert f"Table {table!r}" in message and column in message and rule in message
    assert "Nothing was written" in message and catalog.writer_of(table) in message
    assert not (tmp_path / "tables").exists() or not any((tmp_path / "tables").iterdir())


@pytest.mark.parametrize("table", GOOD)
def test_good_frames_pass_and_are_written(table, tmp_path):
    tables = catalog.RunTables(tmp_path, catalog.writer_of(table))
    tables.write(GOOD[table](), table)
    pd.testing.assert_frame_equal(tables.read(table), GOOD[table](), check_dtype=False)


def test_a_failed_write_keeps_the_earlier_table(tmp_path):
    tables = catalog.RunTables(tmp_path, "04_churn_survival")
    tables.write(churn_risk(), "churn_risk")
    before = {p.name: p.read_bytes() for p in (tmp_path / "tables").iterdir()}
    with pytest.raises(CatalogError):
        tables.write(_with(churn_risk(), "p_churn_before_renewal", 0, 7.0), "churn_risk")
    assert {p.name: p.read_bytes() for p in (tmp_path / "tables").iterdir()} == before


def test_every_broken_rule_is_reported_at_once_with_at_most_five_examples(tmp_path):
    frame = churn_risk(12)
    frame["p_churn_before_renewal"] = 2.0  # 12 rows break the range
    frame.loc[3, "account_id"] = "A4"
    with pytest.raises(CatalogError) as refused:
        catalog.RunTables(tmp_path, "04_churn_survival").write(frame, "churn_risk")
    message = str(refused.value)
    assert "unique" in message and "in [0, 1]" in message  # lazy: both rules in one error
    line = next(row for row in message.splitlines() if "in [0, 1]" in row)
    assert "failing rows: 12" in line and line.count("2.0") == MAX_EXAMPLES and "and 7 more" in line


def test_a_key_held_in_the_index_is_checked(tmp_path):
    frame = _with(churn_risk(), "account_id", 2, "A1").set_index("account_id")
    with pytest.raises(CatalogError, match="unique"):
        catalog.RunTables(tmp_path, "04_churn_survival").write(frame, "churn_risk")
    catalog.RunTables(tmp_path, "04_churn_survival").write(churn_risk().set_index("account_id"), "churn_risk")


def scored_accounts(health: bool = True) -> pd.DataFrame:
    params = defaults().scoring.tiers
    frame = pd.DataFrame({c: ["x", "x"] for c in catalog.TABLES["scored_accounts"].columns})
    frame["account_id"], frame["score"] = ["A1", "A2"], [81.0, 12.5]
    frame["tier"], frame["tier_label"] = CODES[:2], list(params.pyramid.labels("en").values())[:2]
    frame["abcd"], frame["abc"] = params.abcd.codes[:2], params.abc.codes[:2]
    frame["revenue_12m"], frame["margin_12m"], frame["arr"] = [1e6, 10.0], [-5.0, 2.0], [0.0, 3.0]
    frame["health_score"], frame["health_band"] = ([90.0, 40.0], BANDS[::2]) if health else (np.nan, None)
    return frame


def test_scored_accounts_may_lack_health_but_not_a_tier(tmp_path):
    """A book without health inputs scores no health (analysis.scoring.health): allowed; a missing
    tier or an infinite score is not."""
    tables = catalog.RunTables(tmp_path, "03_scoring_and_weights")
    for health in (True, False):
        tables.write(scored_accounts(health), "scored_accounts")
    for column, value, rule in [("tier", None, "has a value"), ("score", np.inf, "finite"), ("abc", "D", "abc codes")]:
        with pytest.raises(CatalogError, match=rule):
            tables.write(_with(scored_accounts(), column, 1, value), "scored_accounts")


def test_codes_come_from_the_run_parameters(tmp_path):
    """A config that renames the health bands: its codes pass, the shipped ones are refused."""
    bands = [{"code": "green", "min": 70, "en": "G", "zh": "G"}, {"code": "red", "min": 0, "en": "R", "zh": "R"}]
    params = load_params(None, {"scoring.health.bands": bands})
    tables = catalog.RunTables(tmp_path, "04_churn_survival", params=params)
    renamed = at_risk_renewals().assign(health_band=["green", None, "red"])
    tables.write(renamed, "at_risk_renewals")
    with pytest.raises(CatalogError, match="health_band codes"):
        tables.write(at_risk_renewals(), "at_risk_renewals")
    with pytest.raises(CatalogError, match="health_band codes"):  # without parameters: the shipped codes
        catalog.RunTables(tmp_path, "04_churn_survival").write(renamed, "at_risk_renewals")


def test_every_rule_names_a_promised_column_and_a_known_vocabulary():
    for spec in catalog.TABLES.values():
        assert set(spec.ruled_columns()) <= set(spec.columns), spec.name
        assert set(spec.optional) <= set(spec.ruled_columns()) - set(spec.keys), spec.name
        assert {vocabulary for _, vocabulary in spec.levels} <= set(VOCABULARIES), spec.name
    ruled = [spec for spec in catalog.TABLES.values() if spec.ruled_columns()]
    for name in ("scored_accounts", "at_risk_renewals", "clv_accounts", "churn_risk", "renewal_reasons"):
        assert catalog.TABLES[name] in ruled


def test_the_tables_read_by_notebooks_key_their_accounts():
    for name in ("features_asof", "clv_accounts", "scored_accounts", "tiers_previous"):
        assert catalog.TABLES[name].keys == ("account_id",)
    assert catalog.TABLES["at_risk_renewals"].keys == ("contract_id",)


# --- a real run -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_rules_hold_on_the_tables_of_a_real_run(small_book_dir, tmp_path):
    """The whole pipeline (real notebooks) on the 1,500-account book: every write was validated
    (a breach would fail its notebook), and the files read back still hold every rule."""
    from analysis.run import cli

    out = tmp_path / "reports"
    assert cli.main(["run", "--data", str(small_book_dir), "--as-of", "2025-12-01", "--out", str(out)]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and (p / "tables").exists()]
    checked = []
    for path in sorted((run_dir / "tables").glob("*.parquet")):
        spec = catalog.TABLES.get(path.stem)
        if spec is not None and spec.ruled_columns():
            check_values(pd.read_parquet(path), spec)
            checked.append(path.stem)
    expected = {"features_asof", "clv_accounts", "scored_accounts", "tiers_previous", "churn_risk"}
    assert expected | {"at_risk_renewals", "renewal_reasons", "segments"} <= set(checked)
    assert len(checked) >= 30
