"""The report's words: every text in both languages, every feature's label and unit in one place,
money in compact form with the book's currency, effects in natural units, and no raw column name
or statistician's unit in what a manager reads (on hand-made tables; tests/test_end_to_end.py checks
the real pages)."""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd
import pytest
from _report_tables import all_sections, ctx_for, run_tables

from analysis.data import contract
from analysis.params import CurrencyParams, defaults
from analysis.report import findings, formatting, i18n, labels
from analysis.report.sections import ORDER
from analysis.report.sections.headline import HEADLINE_KEYS

DYNAMIC_KEYS = {
    "m_{}": HEADLINE_KEYS,
    "bands_{}": ("empty", "dominant", "separate", "overlap", "not_ordered"),
    "record_{}": ("too_few", "trusted", "weak", "no_signal"),
    "role_{}": findings.ROLES,
    "status_{}": findings.STATUSES,
    "score_{}": ("wrong_way", "chance", "better"),
    "vs_auc_{}": ("worse", "better", "same"),
    "vs_margin_{}": ("worse", "better", "same"),
    "versus_{}": ("worse", "better", "same"),
    "stage_{}": ("onboarding", "adoption", "renewal", "expansion"),
    "stage_{}_rule": ("onboarding", "adoption", "renewal", "expansion"),
    "weighting_{}": ("expert", "equal", "ahp", "entropy", "critic", "calibrated", "blend"),
    "direction_{}": ("up", "down"),
    "level_{}": ("low", "high", "yes", "no"),
}


@pytest.fixture(scope="module")
def params():
    return defaults()


def test_every_text_exists_in_both_languages_with_the_same_placeholders():
    en, zh = i18n.TEXT["en"], i18n.TEXT["zh"]
    assert set(en) == set(zh)
    for key in en:
        assert en[key].strip() or key in ("list_sep", "names_sep", "reason_sep", "full_stop"), key
        assert i18n.placeholders(en[key]) == i18n.placeholders(zh[key]), key
    for pattern, values in DYNAMIC_KEYS.items():  # keys the sections build from codes
        for value in values:
            assert pattern.format(value) in en, pattern.format(value)
    assert set(i18n.TEXT) == set(i18n.LANGUAGES)
    assert set(i18n.DATATABLES_LANGUAGE["en"]) == set(i18n.DATATABLES_LANGUAGE["zh"])


def test_the_chinese_texts_have_no_english_words():
    allowed = {"exports"}  # the folder name of the CRM files
    for key, text in i18n.TEXT["zh"].items():
        words = set(re.findall(r"[A-Za-z]{3,}", string.Formatter().vformat(text, (), _Blank())))
        assert not words - allowed, (key, words)
    from analysis.report.render import _strings

    for text in _strings(i18n.DATATABLES_LANGUAGE["zh"]):
        assert not re.findall(r"[A-Za-z]{3,}", re.sub(r"_[A-Z]+_", "", text)), text  # _TOTAL_ etc. are filled in


class _Blank(dict):
    def __missing__(self, key):
        return ""

    def __getitem__(self, key):
        return ""


def test_every_feature_of_the_book_has_a_label_and_a_unit_in_both_languages():
    columns = {c.name for t in contract.TABLES.values() for c in t.columns}
    features = set(labels.FEATURES)
    for name in sorted(features):
        en, zh = labels.label(name, "en"), labels.label(name, "zh")
        assert en != name or "_" not in name, name
        assert not re.search(r"[A-Za-z]{3,}", zh.replace("NPS", "")), (name, zh)
        assert labels.kind_of(name) in labels.KINDS
    for name in ("industry", "region", "size_band", "product_line"):
        assert name in columns | {"product_line"}
    assert labels.label("industry=retail", "zh") == "行业：零售"
    assert labels.label("size_band=mid-market", "en") == "company size: mid-market"
    assert labels.level_label("region", "Mars", "zh") == "Mars"  # unknown data levels shown as they are


def test_config_labels_win_for_score_components(params):
    assert labels.label("revenue_12m", "zh", params.scoring) == "年销售额"
    assert labels.label("revenue_12m", "en", params.scoring) == "annual sales"  # mid-sentence case
    assert labels.label("revenue_12m", "en") == "revenue (12 months)"  # the feature itself
    assert i18n.feature_label("adoption_90d", "zh") == "功能使用率（90天）"
    extra = {"industry": {"retail": params.report.retention_play.updated(en="shops", zh="零售商店")}}
    assert labels.level_label("industry", "retail", "zh", extra) == "零售商店"


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (331_400_000, "en", "331.4 M"),
        (331_400_000, "zh", "3.31 亿"),
        (12_345, "en", "12.3 K"),
        (12_345, "zh", "1.2 万"),
        (9_876, "en", "9,876"),
        (-2_500_000, "en", "-2.5 M"),
        (1_200_000_000, "en", "1.2 B"),
    ],
)
def test_money_is_compact(value, lang, expected):
    assert formatting.money(value, lang) == expected


def test_money_carries_the_configured_currency():
    assert formatting.money(331_400_000, "en", CurrencyParams(code="EUR", symbol="€")) == "€331.4 M"
    assert formatting.money(331_400_000, "en", CurrencyParams(code="EUR", symbol=None)) == "331.4 M EUR"
    assert formatting.money(331_400_000, "zh", CurrencyParams(code="CNY", symbol="¥")) == "¥3.31 亿"
    assert formatting.money(-5_000, "en", CurrencyParams(code=None, symbol="$"), signed=True) == "-$5,000"
    assert formatting.money(float("nan")) == "" and formatting.money(None) == ""


def test_values_in_their_units():
    assert formatting.value_of("adoption_90d", 0.04) == "4%"
    assert formatting.value_of("tenure_days", 1262) == "3.5 years"
    assert formatting.value_of("tenure_days", 1262, "zh") == "3.5 年"
    assert formatting.value_of("payment_delay_days", 61.0, "zh") == "61 天"
    assert formatting.value_of("adoption_trend", -0.0276) == "-2.8 points"
    assert formatting.value_of("revenue_growth", 0.396) == "+40%"
    assert formatting.value_of("attended_seminar_12m", 1, "zh") == "是"
    assert formatting.value_of("nps_change", -3.0) == "-3"
    assert formatting.change_of("tenure_days", 610) == "+1.7 years"
    assert formatting.change_of("arr", 87_515) == "+87.5 K"
    assert formatting.points(0.167, "zh") == "+16.7 个百分点"
    assert formatting.odds_change(1.18) == "+18%" and formatting.odds_change(0.61) == "-39%"


def test_effects_per_natural_step():
    row = pd.Series(
        {
            "factor": "adoption_90d",
            "variable": "adoption_90d",
            "effect": 2.5,
            "lower_95": 2.0,
            "upper_95": 3.1,
            "effect_unit": "+1 SD = 0.2",
        }
    )
    odds, low, _high, how = findings.per_step(row)
    assert how == "step" and odds == pytest.approx(2.5**0.5) and low == pytest.approx(2.0**0.5)
    log_row = row.copy()
    log_row[["factor", "variable", "effect_unit", "effect"]] = [
        "tickets_12m",
        "tickets_12m",
        "+1 SD of log(1 + x) = 0.5",
        0.8,
    ]
    odds, *_, how = findings.per_step(log_row)
    assert how == "double" and odds == pytest.approx(0.8 ** (0.693147 / 0.5), rel=1e-4)
    money = row.copy()
    money[["factor", "variable"]] = ["arr", "arr"]
    assert findings.per_step(money) is None  # stated for a typical difference instead


def test_no_raw_column_name_or_statistician_unit_in_the_visible_sections(params):
    columns = {c.name for t in contract.TABLES.values() for c in t.columns} | set(run_tables()["features_asof"].columns)
    snake = {c for c in columns if "_" in c}
    for lang_params in (params, params.updated(language="zh")):
        sections = all_sections(ctx_for(lang_params))
        for key in ORDER:
            sec = sections[key]
            visible = [sec.title, *sec.text, *sec.notes]
            for table in sec.tables:
                visible.append(table.caption or "")
                visible += [i18n.header(c, lang_params.language) for c in table.visible]
                for col in table.visible:
                    if col not in ("name", "account"):
                        visible += [str(v) for v in table.frame[col]]
            text = " ".join(visible)
            tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
            assert not tokens & snake, (key, sorted(tokens & snake))
            for unit in ("+1 SD", "log(1", " SD ", "odds ratio", " pts", "[expert]"):
                assert unit not in text, (key, unit)
            assert not re.search(r"\bx\d\.\d", text), key  # "x0.61" multipliers are not explained words


def test_a_category_reason_names_its_level_in_the_report_language():
    # The contract term of a mixed-term book is a category factor: its reason carries a level, no value.
    from analysis.report import labels
    from analysis.report.reasons import from_renewal_reasons

    reasons = pd.DataFrame(
        {
            "account_id": ["S1", "S2"],
            "side": ["down", "down"],
            "rank": [1, 1],
            "factor": ["term_class", "adoption_90d"],
            "value": [np.nan, 0.04],
            "typical": [np.nan, 0.51],
            "level": ["semi-annual", None],
        }
    )
    for lang, term, half in (("en", "contract term", "half-yearly"), ("zh", "合同期限", "半年付")):
        text = from_renewal_reasons(
            reasons,
            {"term_class", "adoption_90d"},
            lambda f, lang=lang: labels.label(f, lang),
            lambda f, v, lang=lang: formatting.value_of(f, v, lang),
            lambda key, lang=lang, **kw: i18n.t(key, lang, **kw),
            lambda column, v, lang=lang: labels.level_label(column, v, lang),
        )
        assert term in text["S1"].lower() and half in text["S1"], text["S1"]
        assert "typical" not in text["S1"] and "典型值" not in text["S1"]
        assert "51%" in text["S2"]
