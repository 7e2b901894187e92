"""Why something is missing, in a manager's words, chosen from which tables the book lacks (issue
16): the CLV holdout check without orders, warning rules without their data, late payment without
invoices. Each sentence is tested on the case that calls for it and on the one that does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _report_tables import ctx_for, features, run_tables

from analysis.params import defaults
from analysis.report import absent, checks, i18n
from analysis.report.sections.review import review_section
from analysis.report.sections.warnings import warnings_section

RULES = ("no_login_30d", "nps_drop", "severe_ticket_open")  # the shipped rules


@pytest.fixture(scope="module")
def params():
    return defaults()


def overview(*absent_tables: str) -> pd.DataFrame:
    names = ["accounts", "contracts", "orders", "usage", "tickets", "surveys", "engagements"]
    return pd.DataFrame({"table": names, "present": [n not in absent_tables for n in names]})


def coverage(not_evaluable=(0, 7, 7), fired=(2, 0, 0), accounts=7) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule": list(RULES),
            "condition": ["days_since_last_login >= 30", "nps_change <= -2", "max_open_severe_days > 14"],
            "fired": list(fired),
            "not_evaluable": list(not_evaluable),
            "accounts": [accounts] * 3,
        }
    )


def no_alerts() -> pd.DataFrame:
    return run_tables()["early_warnings"].iloc[0:0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_clv_check_without_orders_says_there_is_no_order_history(params, lang):
    p = params.updated(language=lang)
    ctx = ctx_for(p, run_tables(table_overview=overview("orders")))
    rows = checks.method_checks(ctx)
    clv = rows[rows["_source"] == "clv_holdout_check"]
    why = i18n.t("why_no_orders_holdout", lang)
    assert clv["value"].tolist() == [i18n.t("not_available", lang, why=why)]
    assert "clv_holdout_check" not in " ".join(rows["value"])


def test_the_clv_check_missing_for_another_reason_keeps_the_analysts_reason(params):
    # orders present (or unknown): their absence is not the reason, so the sentence does not claim it
    for tables in (run_tables(table_overview=overview()), run_tables(table_overview=None)):
        rows = checks.method_checks(ctx_for(params, tables))
        value = rows.loc[rows["_source"] == "clv_holdout_check", "value"].iloc[0]
        assert i18n.t("why_no_orders_holdout") not in value
        assert "clv_holdout_check" in value


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_rule_evaluable_names_the_absent_data(params, lang):
    tables = run_tables(
        early_warnings=no_alerts(),
        early_warning_coverage=coverage(not_evaluable=(7, 7, 7), fired=(0, 0, 0)),
        table_overview=overview("usage", "tickets", "surveys"),
    )
    sec = warnings_section(ctx_for(params.updated(language=lang), tables))
    assert not sec.available
    names = [absent.table_name(t, lang) for t in ("usage", "surveys", "tickets")]  # in the rules' order
    lacks = i18n.t("data_absent", lang, data=i18n.t("names_sep", lang).join(names))
    assert sec.note == i18n.t("not_available", lang, why=i18n.t("why_no_rule_evaluable", lang, lacks=lacks))


def test_a_rule_whose_table_is_present_but_empty_says_absent_or_empty(params):
    # usage present, yet no customer has a login date: the data is empty, not absent
    tables = run_tables(
        early_warnings=no_alerts(),
        early_warning_coverage=coverage(not_evaluable=(7, 7, 7), fired=(0, 0, 0)),
        table_overview=overview("tickets", "surveys"),
    )
    note = warnings_section(ctx_for(params, tables)).note
    assert i18n.t("data_absent_or_empty", data="product usage, surveys (NPS), support tickets") in note


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rules_evaluated_but_none_fired_say_so_and_the_blind_ones_have_no_count(params, lang):
    tables = run_tables(
        early_warnings=no_alerts(),
        early_warning_coverage=coverage(fired=(0, 0, 0)),
        table_overview=overview("orders", "tickets", "surveys", "engagements"),
    )
    p = params.updated(language=lang)
    sec = warnings_section(ctx_for(p, tables))
    assert sec.available
    login = p.scoring.warnings[0]
    assert i18n.t("warnings_none_fired", lang, active="7", rules=getattr(login, lang)) in sec.text
    blind_names = i18n.t("names_sep", lang).join(getattr(r, lang) for r in p.scoring.warnings[1:])
    data = i18n.t("names_sep", lang).join(absent.table_name(t, lang) for t in ("surveys", "tickets"))
    lacks = i18n.t("data_absent", lang, data=data)
    assert i18n.t("warnings_blind", lang, rules=blind_names, lacks=lacks) in sec.text
    rules = sec.table("rules").frame.set_index("_rule")
    assert rules.loc["no_login_30d", "accounts"] == 0  # evaluated: a true zero
    assert rules.loc[["nps_drop", "severe_ticket_open"], "accounts"].isna().all()  # not evaluated: no count
    assert rules.loc[["nps_drop", "severe_ticket_open"], "flagged_then"].isna().all()
    assert (rules.loc[["nps_drop", "severe_ticket_open"], "_verdict"] == "not_evaluable").all()
    surveys = i18n.t("data_absent", lang, data=absent.table_name("surveys", lang))
    assert rules.loc["nps_drop", "record"] == i18n.t("record_blind", lang, lacks=surveys)


def test_fired_alerts_keep_their_counts_next_to_the_blind_sentence(params):
    tables = run_tables(early_warning_coverage=coverage(not_evaluable=(0, 0, 7)), table_overview=overview("tickets"))
    sec = warnings_section(ctx_for(params, tables))
    rules = sec.table("rules").frame.set_index("_rule")
    assert rules.loc["no_login_30d", "accounts"] == 2  # A5 and A7 (A8 is no customer any more)
    assert rules.loc["nps_drop", "accounts"] == 1
    assert np.isnan(rules.loc["severe_ticket_open", "accounts"])
    assert any(t.startswith(i18n.t("warnings_sentence", n="2", value="", rules="3")[:10]) for t in sec.text)
    assert any(t.startswith("Not evaluated: Severe ticket open") for t in sec.text)
    assert not any(t.startswith(i18n.t("warnings_none_fired", active="", rules="")[:12]) for t in sec.text)


def test_without_coverage_an_empty_alert_table_keeps_the_old_reason(params):
    sec = warnings_section(ctx_for(params, run_tables(early_warnings=no_alerts())))
    assert sec.note == i18n.t("not_available", why=i18n.t("why_empty", table="early_warnings"))


def no_payments() -> pd.DataFrame:
    return features().assign(payment_delay_days=np.nan, late_payment_share=np.nan)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_review_without_orders_says_late_payment_cannot_be_judged(params, lang):
    p = params.updated(language=lang)
    tables = run_tables(features_asof=no_payments(), table_overview=overview("orders"))
    ctx = ctx_for(p, tables)
    sec = review_section(ctx)
    cases = sec.data["cases"]
    assert not cases["late"].any() and cases["loss"].any()  # only the losses are counted
    expected = i18n.t(
        "review_sentence_no_late",
        lang,
        n=str(len(cases)),
        active="7",
        loss=str(int(cases["loss"].sum())),
        per_ticket=ctx.money(p.scoring.tiers.flags.unprofitable.cost_to_serve_per_ticket),
        why=i18n.t("review_late_unknown_orders", lang),
    )
    assert sec.text[0] == expected
    late_days = f"{p.scoring.tiers.flags.unprofitable.late_days:g}"
    assert late_days not in sec.text[0]  # no "0 pay 60 days late"


def test_review_with_orders_but_no_payment_dates_says_so(params):
    tables = run_tables(features_asof=no_payments(), table_overview=overview())
    text = review_section(ctx_for(params, tables)).text[0]
    assert i18n.t("review_late_unknown_dates") in text
    assert i18n.t("review_late_unknown_orders") not in text


def test_review_with_payment_figures_counts_the_late_payers(params):
    text = review_section(ctx_for(params, run_tables(table_overview=overview("orders")))).text[0]
    late_days = f"{params.scoring.tiers.flags.unprofitable.late_days:g}"
    assert f"pay {late_days} days late" in text  # figures present: counted, whatever the overview says
    assert "cannot be judged" not in text
