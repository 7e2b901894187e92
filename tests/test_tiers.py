"""Tiers: pyramid, A/B/C/D, Pareto ABC, flags, labels and playbooks, migration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import params as config
from analysis.errors import ConfigError, DataContractError, InsufficientDataError
from analysis.scoring import score as scoring
from analysis.scoring import tiers

PYRAMID = ["key_important", "key_secondary", "ordinary", "small"]


@pytest.fixture(scope="module")
def section():
    return config.defaults().scoring


def test_pyramid_default_shares_on_1000_accounts():
    value = pd.Series(np.random.default_rng(0).permutation(1000).astype(float))
    t = tiers.quantile_tiers(value, [0.01, 0.19, 0.30, 0.50], PYRAMID)
    assert t.value_counts().reindex(PYRAMID).tolist() == [10, 190, 300, 500]
    assert value[t == "key_important"].min() > value[t == "key_secondary"].max()
    assert value[t == "ordinary"].min() > value[t == "small"].max()


def test_pyramid_small_book_keeps_a_top_tier_and_leaves_missing_untiered():
    value = pd.Series(np.r_[np.arange(50.0), np.nan])
    t = tiers.quantile_tiers(value, [0.01, 0.19, 0.30, 0.50], PYRAMID)
    assert (t == "key_important").sum() == 1 and t[49] == "key_important"
    assert pd.isna(t.iloc[-1]) and t.notna().sum() == 50


def test_ties_are_broken_by_row_order_deterministically():
    value = pd.Series([1.0] * 10)
    t = tiers.quantile_tiers(value, [0.5, 0.5], ["hi", "lo"])
    assert t.tolist() == ["hi"] * 5 + ["lo"] * 5


def test_abcd_thresholds_include_the_cut_point():
    t = tiers.threshold_tiers(pd.Series([70.0, 69.99, 50.0, 30.0, 29.9, np.nan]), [70, 50, 30], list("ABCD"))
    assert t.iloc[:5].tolist() == ["A", "B", "B", "C", "D"] and pd.isna(t.iloc[5])


def test_pareto_abc_by_cumulative_share():
    value = pd.Series([2.0, 50.0, 10.0, 30.0, 5.0, 3.0, -4.0])
    abc = tiers.pareto_classes(value)
    # cumulative share before each account: 50 -> 0, 30 -> .5, 10 -> .8 (A already holds 80%)...
    assert abc.tolist() == ["C", "A", "B", "A", "B", "C", "C"]
    with pytest.raises(InsufficientDataError, match="positive total"):
        tiers.pareto_classes(pd.Series([0.0, -1.0]))


def test_scheme_config_errors(section):
    # The parameter model validates the tier schemes once (analysis.params.TierSchemeParams).
    with pytest.raises(ConfigError, match="sum to 1"):
        section.tiers.pyramid.updated(shares=[0.1, 0.2, 0.3, 0.3])
    with pytest.raises(ConfigError, match="descending"):
        section.tiers.abcd.updated(thresholds=[30, 50, 70])
    with pytest.raises(ConfigError, match="1 names for 4 tiers"):
        section.tiers.pyramid.updated(names={"zh": ["重要客户"]})


def test_default_names_in_english_and_chinese(section):
    pyramid = section.tiers.pyramid
    assert pyramid.labels("en")["key_important"] == "Key-important"
    assert list(pyramid.labels("zh").values()) == ["重要客户", "次重要客户", "普通客户", "小客户"]
    assert list(section.tiers.abcd.labels("zh").values()) == ["顶级", "重要", "普通", "潜力"]
    assert pyramid.labels("fr") == pyramid.labels("en")  # unknown language falls back to English


def features_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"A{i:04d}" for i in range(n)], name="account_id")
    rev = rng.lognormal(10, 1, n)
    return pd.DataFrame(
        {
            "revenue_12m": rev,
            "margin_12m": rev * rng.normal(0.3, 0.2, n),
            "tenure_days": rng.integers(30, 3000, n),
            "market_influence": rng.integers(1, 6, n).astype(float),
            "revenue_growth": rng.normal(0.05, 0.3, n),
            "payment_delay_days": rng.gamma(2, 15, n),
            "late_payment_share": rng.random(n) * 0.6,
            "tickets_12m": rng.poisson(3, n),
        },
        index=idx,
    )


def test_assign_tiers_end_to_end(section):
    f = features_frame()
    scored = scoring.score_accounts(f, scoring.ScoringSpec.from_params(section))
    out = tiers.assign_tiers(scored, f, section.tiers, language="zh")
    assert out["tier"].value_counts().reindex(PYRAMID).tolist() == [4, 76, 120, 200]
    assert set(out["tier_label"]) == {"重要客户", "次重要客户", "普通客户", "小客户"}
    assert (out.loc[out["tier"] == "small", "playbook"].str.startswith("数字化自助服务")).all()
    assert (scored.loc[out["abcd"] == "A", "score"] >= 70).all()
    summary = tiers.tier_summary(out["tier"], f[["revenue_12m"]])
    assert summary["accounts"].sum() == 400 and summary["share_revenue_12m"].sum() == pytest.approx(1.0)


def test_flags_and_reasons(section):
    f = pd.DataFrame(
        {
            "revenue_12m": [100.0, 100.0, 5000.0, 5000.0, 100.0],
            "revenue_growth": [3.0, 0.0, 3.0, 0.0, 0.1],
            "margin_12m": [10.0, -5.0, 900.0, 900.0, 50.0],
            "tickets_12m": [0, 0, 0, 20, 0],
            "payment_delay_days": [5.0, 5.0, 5.0, 5.0, 90.0],
            "late_payment_share": [0.0, 0.0, 0.0, 0.0, 0.2],
        }
    )
    cfg = section.tiers.flags
    pot = tiers.potential_flag(f, cfg.potential)
    assert pot.tolist() == [True, False, False, False, False]  # account 3 grows but is already large
    flag, reason = tiers.unprofitable_flag(f, cfg.unprofitable)
    assert flag.tolist() == [False, True, False, True, True]  # 20 tickets x 50 > 900 margin for account 4
    assert reason[4] == "chronically late payment" and reason[1] == "negative margin after cost to serve"
    with pytest.raises(DataContractError, match="'clv', which is not in the table"):
        tiers.potential_flag(f, cfg.potential.updated(predictor="clv"))


def test_potential_flag_uses_clv_when_given(section):
    f = features_frame(100)
    scored = scoring.score_accounts(f, scoring.ScoringSpec.from_params(section))
    clv = pd.Series(0.0, index=f.index)
    low_value = f["revenue_12m"].idxmin()
    clv[low_value] = 1e9
    out = tiers.assign_tiers(scored, f, section.tiers, "en", predictor=clv)
    assert out.loc[low_value, "flag_potential"]


def test_potential_is_clv_large_for_what_the_account_pays_now(section):
    # CLV grows with revenue: a small account is potential when its CLV is a large multiple of its
    # revenue today, not when CLV is large (then only large accounts would qualify).
    f = features_frame(200)
    scored = scoring.score_accounts(f, scoring.ScoringSpec.from_params(section))
    proportional = f["revenue_12m"] * 3.0
    out = tiers.assign_tiers(scored, f, section.tiers, "en", predictor=proportional)
    assert not out["flag_potential"].any()
    small = f["revenue_12m"] <= f["revenue_12m"].median()
    promising = f.index[small][:10]
    clv = proportional.copy()
    clv[promising] *= 5  # a long expected life / growth for these small accounts
    out = tiers.assign_tiers(scored, f, section.tiers, "en", predictor=clv)
    assert set(out.index[out["flag_potential"]]) == set(promising)


def test_migration_matrix_lists_and_components():
    codes = ["top", "mid", "low"]
    before = pd.DataFrame(
        {
            "tier": ["top", "mid", "low", "low", "mid"],
            "score": [90.0, 60, 20, 25, 55],
            "contrib_rev": [50.0, 30, 10, 10, 30],
            "contrib_nps": [40.0, 30, 10, 15, 25],
        },
        index=pd.Index(["a", "b", "c", "d", "e"], name="account_id"),
    )
    after = pd.DataFrame(
        {
            "tier": ["mid", "mid", "top", "low", "mid"],
            "score": [70.0, 60, 95, 26, 50],
            "contrib_rev": [45.0, 30, 50, 10, 30],
            "contrib_nps": [25.0, 30, 45, 16, 20],
        },
        index=pd.Index(["a", "b", "c", "f", "g"], name="account_id"),
    )
    mig = tiers.migration(before, after, codes)
    assert mig.counts.loc["top", "mid"] == 1 and mig.counts.loc["low", "top"] == 1
    assert mig.counts.loc["mid", "mid"] == 1
    assert mig.counts.loc["low", "(gone)"] == 1 and mig.counts.loc["mid", "(gone)"] == 1
    assert mig.counts.loc["(new)", "low"] == 1 and mig.counts.loc["(new)", "mid"] == 1
    assert mig.counts.to_numpy().sum() == 7  # every account of either snapshot appears once
    assert mig.shares.loc["top"].sum() == pytest.approx(1.0)
    assert mig.upgrades.index.tolist() == ["c"] and mig.downgrades.index.tolist() == ["a"]
    assert mig.downgrades.loc["a", "moved_by"] == "nps -15.0, rev -5.0"
    assert mig.upgrades.loc["c", "moved_by"] == "rev +40.0, nps +35.0"
    assert mig.upgrades.loc["c", "score_change"] == 75.0
