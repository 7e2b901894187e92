"""Every sentence of the report that reads a number is chosen from the value and a threshold of
``report.verdicts``: each verdict tested both ways (and on the cases the issue reported)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _report_tables import ctx_for, run_tables

from analysis.params import defaults
from analysis.report import checks, i18n
from analysis.report.history import rule_verdict
from analysis.report.sections.health import band_verdict, health_section
from analysis.report.sections.weights import baseline_verdict, chance_verdict, weights_section


@pytest.fixture(scope="module")
def params():
    return defaults()


def test_ranking_verdict_both_ways():
    assert checks.ranking_verdict(0.83, 0.70) == "v_rank_useful"
    assert checks.ranking_verdict(0.62, 0.70) == "v_rank_weak"
    assert checks.ranking_verdict(0.49, 0.70) == "v_rank_chance"


def test_boosting_against_logit_reads_the_two_values():
    # The case: boosting 0.87 next to the logit's 0.89 is not "much higher"
    assert checks.nonlinear_verdict(0.87, 0.89, 0.02) != "v_gbm_nonlinear"
    assert checks.nonlinear_verdict(0.73, 0.76, 0.02) == "v_gbm_logit_better"
    assert checks.nonlinear_verdict(0.80, 0.73, 0.02) == "v_gbm_nonlinear"
    assert checks.nonlinear_verdict(0.745, 0.74, 0.02) == "v_gbm_same"


def test_calibration_verdicts_both_ways():
    close, over, under = "v_clv_close", "v_clv_over", "v_clv_under"
    assert checks.ratio_verdict(0.77 / 0.67, 0.10, over, under, close) == over  # the seasonal orders
    assert checks.ratio_verdict(0.65 / 0.63, 0.10, over, under, close) == close
    assert checks.ratio_verdict(0.50 / 0.63, 0.10, over, under, close) == under


def test_method_checks_list_every_model_with_a_verdict_and_why_one_is_missing(params):
    bt = pd.DataFrame(
        {
            "weighting": ["expert", "expert", "equal"],
            "metric": ["renewal_auc", "top20_margin_share", "renewal_auc"],
            "estimate": [0.74, 0.7, 0.6],
            "lower_95": [0.7, 0.65, 0.5],
            "upper_95": [0.78, 0.75, 0.7],
        }
    )
    ev = pd.DataFrame(
        {
            "metric": ["Harrell C", "time-dependent AUC", "time-dependent AUC", "predicted / observed churn"],
            "horizon_days": [365, 90, 365, 365],
            "value": [0.71, 0.6, 0.69, 1.3],
        }
    )
    mc = pd.DataFrame({"metric": ["held-out AUC, logit", "held-out AUC, gradient boosting"], "value": [0.89, 0.87]})
    found = checks.method_checks(
        ctx_for(params, run_tables(scoring_backtest=bt, churn_model_evaluation=ev, drivers_model_check=mc))
    )
    assert list(found["method_model"].unique()) == [
        i18n.t(k) for k in ("model_clv", "model_churn", "model_drivers", "model_scoring", "model_segments")
    ]
    rows = found.set_index("_key")
    assert rows.loc["chk_churn_c", "value"] == "0.71" and rows.loc["chk_churn_c", "_verdict"] == "v_rank_useful"
    assert rows.loc["chk_churn_auc", "value"] == "0.69 at 365 days"
    assert rows.loc["chk_churn_auc", "_verdict"] == "v_rank_weak"
    assert rows.loc["chk_churn_ratio", "_verdict"] == "v_churn_over"
    assert rows.loc["chk_scoring_auc", "value"] == "0.74 (0.70 to 0.78)"
    assert rows.loc["chk_scoring_auc", "_verdict"] == "v_score_better"
    assert rows.loc["chk_drivers_clear", "value"] == "3 / 5"
    assert rows.loc["chk_drivers_auc_gbm", "_verdict"] == "v_gbm_same"
    assert "not straight lines" not in rows.loc["chk_drivers_auc_gbm", "meaning"]
    assert rows.loc["chk_rules", "_verdict"] == "v_rule_reliable"  # best rule 0.8 >= 0.70
    clv = found[found["method_model"] == i18n.t("model_clv")]
    assert clv["value"].iloc[0].startswith("Not available") and "clv_holdout_check" in clv["value"].iloc[0]


def test_a_verdict_code_written_by_the_drivers_notebook_is_used(params):
    mc = pd.DataFrame(
        {
            "metric": ["held-out AUC, logit", "held-out AUC, gradient boosting"],
            "value": [0.80, 0.81],
            "verdict": [None, "nonlinear"],
        }
    )
    rows = checks.method_checks(ctx_for(params, run_tables(drivers_model_check=mc))).set_index("_key")
    assert rows.loc["chk_drivers_auc_gbm", "_verdict"] == "v_gbm_nonlinear"


def _retention(fit_check: str, term: str = "annual") -> pd.DataFrame:
    return pd.DataFrame(
        {"segment": ["all", "small"], "term_class": [term, term], "fit_check": [fit_check, "fits"]}
        | {"renewal_rate_observed": [0.9, 0.8], "model": ["sBG", "sBG"]}
    )


@pytest.mark.parametrize(
    ("fit_check", "verdict"), [("fits", "v_sbg_fits"), ("misfit", "v_sbg_misfit"), ("not tested", "v_sbg_untested")]
)
def test_the_renewal_model_fit_check_reaches_the_trust_table(params, fit_check, verdict):
    hold = pd.DataFrame({"customers": [100], "actual": [1.0], "predicted": [1.0]})
    tables = run_tables(clv_holdout_check=hold, clv_retention_segments=_retention(fit_check, "semi-annual"))
    rows = checks.method_checks(ctx_for(params, tables)).set_index("_key")
    assert rows.loc["chk_sbg_fit", "_verdict"] == verdict  # one row: the book as a whole, not each segment
    assert rows.loc["chk_sbg_fit", "value"] == "half-yearly: 90% renew"
    zh = checks.method_checks(ctx_for(params.updated(language="zh"), tables)).set_index("_key")
    assert zh.loc["chk_sbg_fit", "meaning"] == i18n.t(verdict, "zh")


def _k_table(close: bool, share: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": [3, 4, 5],
            "chosen_kmeans": [True, False, False],
            "chosen_gmm": [False, True, False],
            "bootstrap_share": [share, 1 - share, 0.0],
            "runner_up": [False, True, False],
            "close": [close] * 3,
        }
    )


@pytest.mark.parametrize(("close", "verdict"), [(True, "v_k_close"), (False, "v_k_clear")])
def test_a_close_choice_of_the_number_of_segments_is_said(params, close, verdict):
    rules = pd.DataFrame({"precision_test": [0.8], "coverage_test": [0.4]})
    tables = run_tables(segment_rules=rules, segment_k_selection=_k_table(close, 0.6 if close else 0.9))
    rows = checks.method_checks(ctx_for(params, tables)).set_index("_key")
    assert rows.loc["chk_segment_count", "_verdict"] == verdict
    assert rows.loc["chk_segment_count", "value"].startswith("3 / 4")


def _bands(rates, lower, upper, accounts=(300, 1200, 2100)):
    return pd.DataFrame(
        {"rate": rates, "lower_95": lower, "upper_95": upper, "accounts": accounts},
        index=["Healthy", "Watch", "At risk"],
    )


def test_health_band_verdicts_every_way():
    assert band_verdict(_bands([0.99, 0.95, 0.85], [0.98, 0.94, 0.84], [1.0, 0.96, 0.86]), 0.9)[0] == "separate"
    verdict, values = band_verdict(_bands([0.99, 0.976, 0.87], [0.98, 0.967, 0.86], [1.0, 0.985, 0.89]), 0.9)
    assert verdict == "overlap" and values == {"better": "Healthy", "worse": "Watch"}
    verdict, values = band_verdict(_bands([0.90, 0.95, 0.85], [0.88, 0.94, 0.84], [0.92, 0.96, 0.86]), 0.9)
    assert verdict == "not_ordered" and values["worse"] == "Watch"
    assert (
        band_verdict(_bands([np.nan, 0.95, 0.85], [np.nan, 0.9, 0.8], [np.nan, 1, 0.9], (0, 50, 50)), 0.9)[0] == "empty"
    )
    assert band_verdict(_bands([0.99, 0.95, 0.85], [0.9, 0.9, 0.8], [1, 1, 0.9], (1, 1, 98)), 0.9)[0] == "dominant"


def test_health_section_phrases_the_verdict(params):
    bad = run_tables()["health_band_renewal"].assign(rate=[0.80, 0.90, 0.85])
    sec = health_section(ctx_for(params, run_tables(health_band_renewal=bad)))
    assert sec.data["verdict"] == "not_ordered"
    assert any(t.startswith("The bands do not order renewals") for t in sec.text)
    good = health_section(ctx_for(params))
    assert good.data["verdict"] == "separate" and i18n.t("bands_separate") in good.text


def test_warning_record_verdicts_every_way(params):
    v = params.report.verdicts
    assert rule_verdict(100, 40, 900, 90, v)[0] == "trusted"  # 40% vs 10%: 4x, beyond chance
    assert rule_verdict(2000, 250, 3000, 300, v)[0] == "weak"  # 12.5% vs 10%: beyond chance, but only 1.25x
    assert rule_verdict(400, 50, 600, 60, v)[0] == "no_signal"  # the same shares on few accounts: within chance
    assert rule_verdict(100, 10, 900, 90, v)[0] == "no_signal"  # the same share left
    assert rule_verdict(5, 5, 900, 90, v)[0] == "too_few"


def test_chosen_weighting_worse_than_chance_or_baseline_is_said_plainly(params):
    assert chance_verdict(0.45, 0.41, 0.49) == "wrong_way"  # the expert weights
    assert chance_verdict(0.52, 0.47, 0.57) == "chance"
    assert chance_verdict(0.76, 0.74, 0.79) == "better"
    assert baseline_verdict(-0.026, -0.034, -0.018) == "worse"
    assert baseline_verdict(0.03, 0.014, 0.043) == "better"
    assert baseline_verdict(-0.002, -0.008, 0.006) == "same"
    bt = pd.DataFrame(
        {
            "weighting": ["expert", "expert", "equal", "equal"],
            "metric": ["renewal_auc", "top20_margin_share"] * 2,
            "estimate": [0.45, 0.30, 0.55, 0.40],
            "lower_95": [0.41, 0.25, 0.50, 0.35],
            "upper_95": [0.49, 0.35, 0.60, 0.45],
        }
    )
    diffs = pd.DataFrame(
        {
            "weighting": ["expert", "expert"],
            "baseline": ["equal", "equal"],
            "metric": ["renewal_auc", "top20_margin_share"],
            "difference": [-0.10, -0.10],
            "lower_95": [-0.15, -0.15],
            "upper_95": [-0.05, -0.05],
            "better": [False, False],
        }
    )
    sec = weights_section(ctx_for(params, run_tables(scoring_backtest=bt, scoring_backtest_differences=diffs)))
    text = " ".join(sec.text)
    assert sec.data["chance_verdict"] == "wrong_way" and "predicts the wrong way" in text
    assert "worse on renewals" in text and "worse on next-year margin" in text and "consider switching" in text
    mixed = diffs.assign(difference=[-0.10, 0.08], lower_95=[-0.15, 0.05], upper_95=[-0.05, 0.10])
    sec = weights_section(ctx_for(params, run_tables(scoring_backtest=bt, scoring_backtest_differences=mixed)))
    text = " ".join(sec.text)
    assert "better on next-year margin" in text and "consider switching" not in text


def test_the_headline_gives_the_renewal_rate_per_contract_term_only_when_terms_differ(params):
    from analysis.report.sections.headline import term_sentence

    two = pd.DataFrame(
        {
            "term_class": ["annual", "monthly"],
            "decided": [100, 300],
            "renewal_rate": [0.95, 0.91],
            "share_of_contracts": [0.25, 0.75],
        }
    )
    text = term_sentence(ctx_for(params, run_tables(renewal_rates_by_term=two)))
    assert text.index("monthly 91% (75% of decisions)") < text.index("annual 95% (25% of decisions)")
    zh = term_sentence(ctx_for(params.updated(language="zh"), run_tables(renewal_rates_by_term=two)))
    assert "月付 91%" in zh and "年付 95%" in zh
    assert term_sentence(ctx_for(params, run_tables(renewal_rates_by_term=two.iloc[:1]))) is None
