"""Health score, bands and early-warning rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import params as config
from analysis.errors import ConfigError, DataContractError
from analysis.params import HealthParams
from analysis.scoring import health


@pytest.fixture(scope="module")
def section():
    return config.defaults().scoring


# Explicit ranges so that these checks do not move when analysts tune the defaults.
HEALTH_SETTINGS = {
    "missing": "neutral",
    "neutral_value": 0.5,
    "zscore_clip": 3.0,
    "normalise_weights": False,
    "max_missing_share": 1.0,
    "ranges": "fixed",
    "quantile_range": [0.05, 0.95],
    "band_max_share": 0.9,
    "band_min_share": 0.02,
    "components": {
        "adoption_90d": {"direction": "benefit", "normalise": "range", "bounds": [0, 1], "weight": 0.40},
        "meeting_minutes_90d": {"direction": "benefit", "normalise": "range", "bounds": [0, 600], "weight": 0.30},
        "tickets_12m": {"direction": "cost", "normalise": "range", "bounds": [0, 10], "weight": 0.20},
        "nps_latest": {"direction": "benefit", "normalise": "range", "bounds": [0, 10], "weight": 0.10},
    },
    "bands": [
        {"code": "healthy", "min": 80, "en": "Healthy", "zh": "健康"},
        {"code": "watch", "min": 60, "en": "Watch", "zh": "关注"},
        {"code": "at_risk", "min": 0, "en": "At risk", "zh": "风险"},
    ],
}
HEALTH = HealthParams(**HEALTH_SETTINGS)


def accounts(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame(cols, index=pd.Index([f"A{i}" for i in range(n)], name="account_id"))


def test_default_components_are_40_30_20_10_with_bands_80_60(section):
    comps = section.health.components
    assert {k: v.weight for k, v in comps.items()} == {
        "adoption_90d": 0.40,
        "meeting_minutes_90d": 0.30,
        "tickets_12m": 0.20,
        "nps_latest": 0.10,
    }
    assert [b.min for b in section.health.bands] == [80, 60, 0]
    assert all(c.normalise == "range" for c in comps.values())  # bands mean the same in every run


def test_health_score_components_and_bands():
    f = accounts(
        adoption_90d=[1.0, 0.5, 0.5, 0.0],
        meeting_minutes_90d=[900.0, 600.0, 300.0, 0.0],
        tickets_12m=[0, 0, 5, 10],
        nps_latest=[10.0, 10.0, 5.0, 0.0],
    )
    out = health.health_score(f, HEALTH, "en")
    # 40*0.5 + 30*1 + 20*1 + 10*1 = 80 -> healthy at exactly the cut point
    assert out["health_score"].tolist() == pytest.approx([100.0, 80.0, 20 + 15 + 10 + 5, 0.0])
    assert out["health_band"].astype(str).tolist() == ["healthy", "healthy", "at_risk", "at_risk"]
    assert out.loc["A1", "health_contrib_adoption_90d"] == pytest.approx(20.0)
    cols = [c for c in out.columns if c.startswith("health_contrib_")]
    np.testing.assert_allclose(out[cols].sum(axis=1), out["health_score"])


def test_watch_band_and_chinese_labels():
    f = accounts(adoption_90d=[0.5], meeting_minutes_90d=[300.0], tickets_12m=[0], nps_latest=[10.0])
    out = health.health_score(f, HEALTH, language="zh")
    assert out["health_score"].iloc[0] == pytest.approx(65.0)
    assert out["health_band"].iloc[0] == "watch" and out["health_band_label"].iloc[0] == "关注"


def test_missing_component_is_reported():
    f = accounts(adoption_90d=[0.5], meeting_minutes_90d=[300.0], tickets_12m=[0], nps_latest=[np.nan])
    out = health.health_score(f, HEALTH, "en")
    assert out["health_missing"].iloc[0] == "nps_latest" and out["health_missing_policy"].iloc[0] == "neutral"


def test_a_book_without_any_health_input_gets_no_score_and_no_band_not_a_crash():
    # A book of only accounts and contracts: usage, meetings, tickets and surveys all absent.
    nan = [np.nan] * 3
    f = accounts(adoption_90d=nan, meeting_minutes_90d=nan, tickets_12m=nan, nps_latest=nan)
    out = health.health_score(f, HEALTH.updated(max_missing_share=0.5), "en")
    assert out["health_score"].isna().all() and out["health_band"].isna().all()
    assert any("No health score" in n for n in out.attrs["notes"])
    bands = health.health_bands(out, HEALTH, "en")
    assert (bands["accounts"] == 0).all()


def test_bad_band_config():
    # The parameter model checks the bands once (analysis.params.HealthParams).
    bands = [{"code": "ok", "min": 50, "en": "OK", "zh": "好"}, {"code": "good", "min": 80, "en": "Good", "zh": "很好"}]
    with pytest.raises(ConfigError, match="descending minimum"):
        HEALTH.updated(bands=bands)


def test_early_warnings_fire_with_the_rule_named(section):
    f = accounts(days_since_last_login=[45, 3, np.nan], nps_change=[-3, 0, -2], max_open_severe_days=[0, 20, 15])
    alerts = health.early_warnings(f, section.warnings, "en")
    fired = set(zip(alerts["account_id"], alerts["rule"]))
    assert fired == {
        ("A0", "no_login_30d"),
        ("A0", "nps_drop"),
        ("A1", "severe_ticket_open"),
        ("A2", "nps_drop"),
        ("A2", "severe_ticket_open"),
    }
    row = alerts[(alerts["account_id"] == "A0") & (alerts["rule"] == "no_login_30d")].iloc[0]
    assert row["threshold"] == ">= 30" and row["value"] == 45 and row["severity"] == "high"
    coverage = health.warning_coverage(f, section.warnings).set_index("rule")
    assert coverage.loc["no_login_30d", "not_evaluable"] == 1  # a missing value never fires silently
    per = health.alerts_per_account(alerts, f.index)
    assert per.loc["A0", "n_alerts"] == 2 and per.loc["A1", "alerts"] == "severe_ticket_open"
    zh = health.early_warnings(f, section.warnings, language="zh")
    assert "30天以上未登录" in set(zh["label"])


def test_bad_warning_rules(section):
    # The parameter model checks each rule's shape (analysis.params.WarningRuleParams); the
    # column can only be checked against the features.
    f = accounts(days_since_last_login=[1])
    rule = {
        "rule": "r",
        "column": "days_since_last_login",
        "op": ">",
        "value": 3,
        "severity": "high",
        "en": "r",
        "zh": "r",
    }
    with pytest.raises(ConfigError, match=r"warnings\.0\.op: Input should be '>', '>='"):
        section.updated(warnings=[{**rule, "op": "=>"}])
    with pytest.raises(DataContractError, match="'logins', which is not in the features"):
        health.early_warnings(f, section.updated(warnings=[{**rule, "column": "logins"}]).warnings, "en")
    with pytest.raises(ConfigError, match=r"warnings\.0\.value: missing"):
        section.updated(warnings=[{k: v for k, v in rule.items() if k != "value"}])


def test_no_alerts_gives_empty_table(section):
    f = accounts(days_since_last_login=[1], nps_change=[0], max_open_severe_days=[0])
    alerts = health.early_warnings(f, section.warnings, "en")
    assert alerts.empty and "rule" in alerts.columns
    assert health.alerts_per_account(alerts, f.index)["n_alerts"].tolist() == [0]
