"""The manager report's parts on small hand-made tables: notes for missing analyses, English and
Chinese texts, escaping of data text, CRM export columns, headline figures and the CJK font."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from analysis import report
from analysis.errors import ConfigError
from analysis.params import defaults
from analysis.report import exports, i18n, plotting

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
AS_OF = "2025-12-01"
IDS = [f"A{i}" for i in range(1, 9)]
SECTIONS = ("headline", "pyramid", "changes", "drivers", "at_risk", "traits", "playbook", "quality")


@pytest.fixture(scope="module")
def params():
    return defaults()


def zh(params):
    return params.updated(language="zh")


def scored(
    tiers=("key_important", "key_secondary", "key_secondary", "ordinary", "ordinary", "ordinary", "small", "small"),
    bands=("healthy", "healthy", "watch", "watch", "at_risk", "watch", "at_risk", "at_risk"),
):
    return pd.DataFrame(
        {
            "account_id": IDS,
            "score": [90, 70, 65, 50, 45, 40, 20, 10.0],
            "tier": list(tiers),
            "contrib_revenue_12m": [30, 20, 18, 12, 11, 10, 4, 2.0],
            "contrib_margin_12m": [25, 18, 17, 11, 10, 9, 5, 3.0],
            "health_score": [90, 85, 70, 65, 40, 62, 30, 20.0],
            "health_band": list(bands),
            "next_renewal_date": pd.to_datetime(["2026-01-10"] * 8),
            "abcd": list("AABBCCDD"),
            "flag_potential": [False] * 7 + [True],
            "flag_unprofitable": [False] * 8,
            "alerts": [""] * 8,
        }
    )


def run_tables(**overrides) -> dict[str, pd.DataFrame]:
    tables = {
        "features_asof": pd.DataFrame(
            {
                "account_id": IDS,
                "is_active": [True] * 7 + [False],
                "arr": [500, 200, 150, 50, 40, 30, 10, 0.0],
                "revenue_12m": [600, 250, 150, 60, 40, 30, 10, 5.0],
            }
        ),
        "scored_accounts": scored(),
        "scoring_weights_used": pd.DataFrame(
            {"weighting": "expert", "criterion": ["revenue_12m", "margin_12m"], "weight": [0.6, 0.4]}
        ),
        "clv_accounts": pd.DataFrame(
            {
                "account_id": IDS,
                "clv": [1000, 400, 300, 100, 80, 60, 20, 5.0],
                "value_at_risk": [10, 8, 6, 5, 20, 3, 9, 1.0],
            }
        ),
        "churn_risk": pd.DataFrame(
            {
                "account_id": IDS,
                "p_churn_before_renewal": [0.05, 0.1, 0.1, 0.2, 0.6, 0.1, 0.7, 0.9],
                "top_risk_factors": ["adoption_90d low (x1.5)"] * 8,
            }
        ),
        "at_risk_renewals": pd.DataFrame(
            {
                "contract_id": ["C1", "C2", "C3", "C4"],
                "account_id": ["A5", "A5", "A7", "A2"],
                "end": pd.to_datetime(["2025-12-20", "2025-12-20", "2026-01-15", "2026-06-01"]),
                "product_line": ["Core", "Analytics", "Core", "Core"],
                "annual_value": [100.0, 50.0, 40.0, 999.0],
                "p_churn_before_renewal": [0.6, 0.6, 0.7, 0.1],
                "value_at_risk": [60.0, 30.0, 28.0, 99.9],
            }
        ),
        "drivers": pd.DataFrame(
            {
                "factor": ["adoption_90d", "payment_delay_days", "strategic_flag", "noise_1", "industry: retail"],
                "variable": ["adoption_90d", "payment_delay_days", "strategic_flag", "noise_1", "industry"],
                "effect": [2.5, 0.6, 3.0, 1.02, 0.8],
                "lower_95": [2.0, 0.5, 0.5, 0.9, 0.7],
                "upper_95": [3.1, 0.7, 18.0, 1.15, 0.95],
                "p": [1e-7, 1e-5, 0.6, 0.3, 0.002],
                "p_adjusted": [1e-6, 1e-4, 0.7, 0.5, 0.01],
                "effect_unit": ["+1 SD = 0.2", "+1 SD = 12", "yes vs no", "+1 SD = 1", "vs finance"],
                "direction": [
                    "raises renewal",
                    "lowers renewal",
                    "no clear effect",
                    "no clear effect",
                    "lowers renewal",
                ],
                "sentence": [
                    f"Adoption {SCRIPT} matters.",
                    "Late payers renew less.",
                    "No clear link.",
                    "No clear link.",
                    "Retail less.",
                ],
            }
        ),
        "renewal_reasons": pd.DataFrame(
            {
                "account_id": ["A5", "A5", "A7"],
                "side": ["down", "down", "down"],
                "rank": [2, 1, 1],
                "sentence": ["second", "first", f"only {IMG}"],
            }
        ),
        "upgrade_candidates": pd.DataFrame(
            {
                "account_id": ["A6", "A4"],
                "tier": ["ordinary", "ordinary"],
                "revenue_12m": [30.0, 60.0],
                "reason": ["in high-value cluster S1"] * 2,
                "gap_summary": ["arr +100", "arr +50"],
            }
        ),
        "report_renewals_12m": pd.DataFrame(
            {
                "account_id": ["A1", "A2", "A5", "A7"],
                "decided": [2, 1, 1, 2],
                "renewed": [2, 1, 0, 1],
                "decided_value": [500, 200, 40, 20.0],
                "churned_value": [0, 0, 40, 10.0],
            }
        ),
        "validation_problems": pd.DataFrame(columns=["table", "column", "check", "count", "message", "examples"]),
    }
    tables.update(overrides)
    return {k: v for k, v in tables.items() if v is not None}


NAMES = pd.Series(
    [f"Acme {SCRIPT}", f"Globex {IMG}", "Initech", "Umbrella", f"Hooli {SCRIPT}", "Stark", f"Wayne {IMG}", "Tyrell"],
    index=pd.Index(IDS, name="account_id"),
)


def ctx_for(params, tables=None, previous=None, previous_headline=None):
    prev = None
    if previous is not None:
        prev = report.RunTables(
            frames={**previous, **({"headline.json": previous_headline} if previous_headline else {})}
        )
    return report.Context(
        report.RunTables(frames=tables if tables is not None else run_tables()), prev, params, AS_OF, "run-1", NAMES
    )


def all_sections(ctx):
    figures = report.headline_figures(ctx)
    return {
        "headline": report.headline_section(ctx, figures),
        "pyramid": report.pyramid_section(ctx),
        "changes": report.changes_section(ctx),
        "drivers": report.drivers_section(ctx),
        "at_risk": report.at_risk_section(ctx),
        "traits": report.traits_section(ctx),
        "playbook": report.playbook_section(ctx),
        "quality": report.quality_section(ctx, report.method_checks(ctx)),
    }


# --- missing analyses give notes ------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_section_says_why_when_the_run_has_no_tables(params, lang):
    ctx = ctx_for(params.updated(language=lang), tables={})
    sections = all_sections(ctx)
    assert set(sections) == set(SECTIONS)
    missing = {k: s for k, s in sections.items() if k != "playbook"}  # the playbook comes from the config
    for key, sec in missing.items():
        assert not sec.available, key
        assert sec.note.startswith(i18n.t("not_available", lang, why="")[:3]), (key, sec.note)
        html_text = report.section_html(sec, lang, with_tables=True)
        assert "report-note" in html_text and sec.title in html_text
    assert "05_renewal_drivers" in sections["drivers"].note and "drivers" in sections["drivers"].note
    assert "scored_accounts" in sections["pyramid"].note
    assert sections["changes"].note == i18n.t("not_available", lang, why=i18n.t("why_no_previous", lang))
    assert sections["playbook"].available  # no run table needed


def test_missing_column_and_missing_previous_table_are_named(params):
    drivers = run_tables()["drivers"].drop(columns=["effect"])
    sec = report.drivers_section(ctx_for(params, run_tables(drivers=drivers)))
    assert not sec.available and "'drivers'" in sec.note and "effect" in sec.note
    ctx = ctx_for(params, previous={"features_asof": run_tables()["features_asof"]})
    sec = report.changes_section(ctx)
    assert not sec.available and "scored_accounts" in sec.note and "previous run" in sec.note


def test_optional_tables_missing_leave_the_section_with_a_note(params):
    sec = report.pyramid_section(ctx_for(params, run_tables(clv_accounts=None)))
    assert sec.available
    assert any("clv_accounts" in n for n in sec.notes)
    assert sec.tables["pyramid"]["share_clv"].isna().all()
    assert "share_clv" not in sec.data["figure"].columns


def test_method_checks_list_every_model_and_why_one_is_missing(params):
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
            "metric": ["Harrell C", "time-dependent AUC", "time-dependent AUC"],
            "horizon_days": [365, 90, 365],
            "value": [0.71, 0.6, 0.69],
        }
    )
    checks = report.method_checks(ctx_for(params, run_tables(scoring_backtest=bt, churn_model_evaluation=ev)))
    assert list(checks["method_model"].unique()) == [
        i18n.t(k) for k in ("model_clv", "model_churn", "model_drivers", "model_scoring", "model_segments")
    ]
    values = dict(zip(checks["check"], checks["value"]))
    assert values[i18n.t("chk_churn_c")] == "0.71"
    assert values[i18n.t("chk_churn_auc")] == "0.69 (365 d)"
    assert values[i18n.t("chk_scoring_auc")] == "0.74 (0.70-0.78) [expert]"
    assert values[i18n.t("chk_drivers_clear")] == "3 / 5"
    clv_row = checks[checks["method_model"] == i18n.t("model_clv")]
    assert clv_row["value"].iloc[0].startswith("Not available") and "clv_holdout_check" in clv_row["value"].iloc[0]


# --- content on hand-made tables ------------------------------------------------------------


def test_headline_figures_and_change_since_previous_run(params, tmp_path):
    ctx = ctx_for(params)
    figures = report.headline_figures(ctx)
    assert figures["accounts"] == 7 and figures["accounts_total"] == 8
    assert figures["arr"] == pytest.approx(980.0)  # active accounts only
    assert figures["renewal_rate"] == pytest.approx(4 / 6)
    assert figures["churned_value"] == pytest.approx(50.0)
    assert figures["value_at_risk_90d"] == pytest.approx(118.0)  # C4 ends after the 90-day window
    path = report.write_headline(figures, tmp_path)
    assert json.loads(path.read_text())["accounts"] == 7
    first = path.read_bytes()
    assert report.write_headline(figures, tmp_path).read_bytes() == first  # no timestamps: identical runs agree
    previous = {**figures, "accounts": 5, "renewal_rate": 0.5, "as_of": "2025-11-01"}
    sec = report.headline_section(ctx_for(params, previous={}, previous_headline=previous), figures)
    rows = sec.tables["headline"].set_index("_key")
    assert rows.loc["accounts", "change"] == "+2 (+40.0%)"
    assert rows.loc["renewal_rate", "change"] == "+16.7 pts"
    assert "2025-11-01" in sec.text[0]


def test_renewal_history_counts_decisions_in_the_trailing_year_only():
    contracts = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B", "B", "C"],
            "end": pd.to_datetime(["2024-12-01", "2025-06-30", "2025-12-01", "2025-03-01", "2025-04-01", "2025-05-01"]),
            "annual_value": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "renewal_outcome": ["renewed", "not_renewed", "renewed", "renewed", "open", "not_renewed"],
        }
    )
    from analysis.data.history import renewal_history

    out = renewal_history(contracts, dt.date.fromisoformat(AS_OF), 365)
    # 2024-12-01 is exactly 365 days before as-of (in), 2025-12-01 is the as-of day (not yet decided),
    # open is undecided.
    assert out.loc["A", "decided"] == 2 and out.loc["A", "renewed"] == 1 and out.loc["A", "churned_value"] == 20.0
    assert out.loc["B", "decided"] == 1 and out.loc["C", "churned_value"] == 60.0


def test_pyramid_shares_and_rates(params):
    sec = report.pyramid_section(ctx_for(params))
    table = sec.tables["pyramid"].set_index("_tier_code")
    assert table["accounts"].tolist() == [1, 2, 3, 2]
    assert table["share_accounts"].sum() == pytest.approx(1.0)
    assert table["share_revenue"].sum() == pytest.approx(1.0)
    assert table.loc["key_important", "share_revenue"] == pytest.approx(600 / 1145)
    assert table.loc["ordinary", "renewal_rate"] == pytest.approx(0.0)  # A5: 0 of 1
    assert table.loc["small", "renewal_rate"] == pytest.approx(0.5)  # A7: 1 of 2
    assert table.loc["ordinary", "share_health_risk"] == pytest.approx(1 / 3)
    assert table["tier"].tolist() == list(i18n.tier_names(params.scoring, "en").values())
    assert report.pyramid_section(ctx_for(zh(params))).tables["pyramid"]["tier"].tolist() == list(
        i18n.tier_names(params.scoring, "zh").values()
    )


def test_changes_since_last_run(params):
    before = scored(
        tiers=("key_secondary", "key_secondary", "ordinary", "ordinary", "ordinary", "small", "small", "small"),
        bands=("healthy",) * 4 + ("watch", "watch", "at_risk", "at_risk"),
    )
    prev = {
        "scored_accounts": before.iloc[:7],
        "churn_risk": run_tables()["churn_risk"].assign(p_churn_before_renewal=0.1),
    }
    sec = report.changes_section(ctx_for(params, previous=prev, previous_headline={"as_of": "2025-11-01"}))
    counts = sec.data["migration"]
    assert counts.loc["key_secondary", "key_important"] == 1  # A1 moved up
    assert counts.loc["ordinary", "key_secondary"] == 1  # A3 moved up
    assert counts.loc["small", "ordinary"] == 1  # A6 moved up
    assert counts.loc["(new)"].sum() == 1  # A8 was not scored before
    assert set(sec.data["moves"].index) == {"A1", "A3", "A6"}
    # At risk now: worst band (A5, A7, A8) or churn risk >= 0.5 (A5, A7, A8); before: worst band A7 only.
    assert set(sec.data["new_at_risk"].index) == {"A5", "A8"}
    assert "2025-11-01" in sec.text[0]


def test_drivers_ranked_by_effect_clear_ones_first(params):
    sec = report.drivers_section(ctx_for(params))
    f = sec.data["findings"]
    # Clear effects by size; then the rest by evidence, so a wide interval's big estimate does not lead.
    assert f["_factor"].tolist() == [
        "adoption_90d",
        "payment_delay_days",
        "industry: retail",
        "noise_1",
        "strategic_flag",
    ]
    assert f["finding"].iloc[0].startswith("Adoption")  # notebook 04's own sentence in English
    assert "3 of 5" in sec.text[0]
    zh_sec = report.drivers_section(ctx_for(zh(params)))
    assert (
        zh_sec.tables["findings"]["finding"]
        .iloc[0]
        .startswith(i18n.feature_label("adoption_90d", "zh", params.scoring))
    )
    assert zh_sec.tables["findings"]["direction"].iloc[0] == "提高续约"
    assert report.unit_text("+1 SD = 0.2", "zh") == "+1 个标准差 = 0.2"
    assert report.unit_text("vs finance", "zh") == "相对于 finance"


def test_at_risk_renewals_summed_per_account_within_the_window(params):
    sec = report.at_risk_section(ctx_for(params))
    table = sec.tables["at_risk"]
    assert table["account"].tolist() == ["A5", "A7"]  # A2's contract ends after 90 days
    assert table["value_at_risk"].tolist() == [90.0, 28.0]
    assert table["top_reasons"].tolist() == ["first; second", f"only {IMG}"]
    assert table["product_line"].iloc[0] == "Analytics, Core"


# --- escaping -------------------------------------------------------------------------------


def test_data_text_is_escaped_in_every_section(params):
    prev = {"scored_accounts": scored(tiers=("small",) * 8)}
    for lang_params in (params, zh(params)):
        ctx = ctx_for(lang_params, previous=prev, previous_headline={"as_of": "2025-11-01"})
        sections = all_sections(ctx)
        page = report.header_html(ctx, list(sections.values())) + "".join(
            report.section_html(s, ctx.lang, with_tables=True) for s in sections.values()
        )
        assert sections["at_risk"].available and sections["changes"].available and sections["traits"].available
        for payload in (SCRIPT, IMG, "<img"):
            assert payload not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert page.count("<script") == 0


def test_table_html_escapes_headers_and_cells():
    frame = pd.DataFrame({"name": [SCRIPT], f"col {IMG}": ["a & b"], "value_at_risk": [1234.5]})
    out = report.table_html(frame, "en", caption=f"cap {SCRIPT}")
    assert SCRIPT not in out and IMG not in out
    assert "a &amp; b" in out and "1,234" in out and '<td class="num">' in out


# --- languages -------------------------------------------------------------------------------


def test_i18n_has_the_same_keys_and_placeholders_in_every_language():
    en, zh_text = i18n.TEXT["en"], i18n.TEXT["zh"]
    assert set(en) == set(zh_text)
    for key in en:
        assert en[key].strip() and zh_text[key].strip(), key
        assert i18n.placeholders(en[key]) == i18n.placeholders(zh_text[key]), key
    assert set(i18n.TEXT) == set(i18n.LANGUAGES)


def test_config_names_every_tier_band_and_playbook_in_both_languages(params):
    codes = i18n.tier_codes(params.scoring)
    assert codes
    for lang in i18n.LANGUAGES:
        names = i18n.tier_names(params.scoring, lang)
        assert list(names) == codes and all(names[c] != c for c in codes)
        books = i18n.playbooks(params.scoring, lang)
        assert all(books.get(c) for c in codes)
        assert len(i18n.band_names(params.scoring, lang)) >= 2
    assert i18n.tier_names(params.scoring, "zh")[codes[0]] != i18n.tier_names(params.scoring, "en")[codes[0]]
    assert i18n.feature_label("adoption_90d", "zh") == "功能采用率（90天）"
    assert i18n.feature_label("revenue_12m", "zh", params.scoring) == "年销售额"  # the config's label_zh wins
    assert i18n.feature_label("industry=retail", "en") == "Industry: retail"


def test_unknown_language_and_bad_report_settings_are_refused(params):
    from analysis.params import load_params

    with pytest.raises(ConfigError, match="language: Input should be 'en' or 'zh'"):
        load_params(overrides={"language": "fr"})
    with pytest.raises(ConfigError, match="report.n_at_risk: Input should be greater than 0"):
        load_params(overrides={"report.n_at_risk": 0})
    with pytest.raises(ConfigError, match="report.at_risk_threshold: Input should be less than or equal to 1"):
        load_params(overrides={"report.at_risk_threshold": 1.5})
    with pytest.raises(ConfigError, match="report.colour: unknown key"):
        load_params(overrides={"report.colour": "red"})
    assert load_params(overrides={"survival.at_risk_window_days": 60}).report.at_risk_days == 60


# --- exports -------------------------------------------------------------------------------


def test_scored_accounts_export_columns_and_values(params):
    frame, notes = exports.scored_accounts_export(run_tables(), params, NAMES)
    contrib = [f"contrib_{c}" for c in params.scoring.criteria]
    assert list(frame.columns) == exports.SCORED_COLUMNS[:6] + contrib + exports.SCORED_COLUMNS[6:]
    assert frame["account_id"].tolist() == sorted(IDS)
    row = frame.set_index("account_id").loc["A5"]
    assert row["tier"] == "ordinary" and row["tier_name"] == "Ordinary" and row["clv"] == 80.0
    assert row["churn_risk"] == 0.6 and row["top_reasons"] == "first; second"
    assert frame.set_index("account_id")["upgrade_candidate"].to_dict() == {i: i in ("A4", "A6") for i in IDS}
    assert frame["contrib_tenure_days"].isna().all()  # criterion not in the hand-made table: empty, not dropped
    assert str(frame["next_renewal_date"].dtype).startswith("datetime64")
    assert not any("clv" in n for n in notes)


def test_export_without_optional_tables_keeps_columns_and_says_why(params, tmp_path):
    tables = run_tables(clv_accounts=None, churn_risk=None, renewal_reasons=None, upgrade_candidates=None)
    frame, notes = exports.scored_accounts_export(tables, params)
    assert frame["clv"].isna().all() and frame["upgrade_candidate"].isna().all()
    assert any(n.startswith("clv:") for n in notes) and any(n.startswith("upgrade_candidate:") for n in notes)
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
    (tmp_path / exports.WEIGHTS_YAML).write_text(
        "scoring_weights:\n  method: expert\n  weights: {revenue_12m: 0.6, margin_12m: 0.4}\n", encoding="utf-8"
    )
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
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / exports.WEIGHTS_YAML).write_text(
            (tmp_path / exports.WEIGHTS_YAML).read_text(), encoding="utf-8"
        )
        exports.write_exports(tmp_path / d, tables, params, NAMES)
    files = sorted(p.name for p in (tmp_path / "a" / "exports").iterdir())
    assert "weights_used.csv" in files and exports.WEIGHTS_YAML in files
    for name in files:
        assert (tmp_path / "a" / "exports" / name).read_bytes() == (tmp_path / "b" / "exports" / name).read_bytes(), (
            name
        )
    weights = pd.read_csv(tmp_path / "a" / "exports" / "weights_used.csv")
    assert weights.columns.tolist() == exports.WEIGHTS_COLUMNS
    assert weights.set_index("criterion")["lower_95"].to_dict() == {"revenue_12m": 0.5, "margin_12m": 0.3}
    csv = (tmp_path / "a" / "exports" / "scored_accounts.csv").read_text(encoding="utf-8-sig")
    assert SCRIPT in csv  # raw data in the CRM file; escaping belongs to HTML only


# --- the CJK font --------------------------------------------------------------------------


def _glyph_warnings(text: str) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_chinese_text_renders_with_the_bundled_cjk_font():
    path = plotting.cjk_font_path()
    assert path is not None and path.name == plotting.CJK_FONT_FILE, "mplfonts is not installed"
    with matplotlib.rc_context():
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]
        assert _glyph_warnings("客户金字塔"), "control: without the CJK font the glyphs must be reported missing"
        family = plotting.set_theme()
        assert family == "Noto Sans CJK SC"
        from matplotlib import font_manager

        assert font_manager.findfont(font_manager.FontProperties(family=["sans-serif"])) == str(path)
        assert _glyph_warnings(i18n.t("pyramid_figure_title", "zh") + " 重要客户") == []


def test_plots_draw_with_chinese_labels(params):
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():
        plotting.set_theme()
        sec = report.pyramid_section(ctx_for(zh(params)))
        ax = plotting.plot_pyramid(
            sec.data["figure"], sec.data["figure_labels"], i18n.t("pyramid_figure_title", "zh"), "%"
        )
        forest = report.drivers_section(ctx_for(zh(params))).data["forest"]
        ax2 = plotting.plot_forest(forest, i18n.t("forest_title", "zh"), i18n.t("forest_xlabel", "zh"))
        assert [t.get_text() for t in ax.get_yticklabels()] == list(i18n.tier_names(params.scoring, "zh").values())
        assert ax2.get_xscale() == "log" and len(ax2.get_yticklabels()) == len(forest)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ax.figure.canvas.draw()
            ax2.figure.canvas.draw()
        assert not [w for w in caught if "missing from font" in str(w.message)]
        plt.close("all")
    assert np.isfinite(forest["effect"]).all()


def test_chinese_page_embeds_just_the_glyphs_it_uses():
    import base64
    import io as bytes_io
    import re

    from fontTools.ttLib import TTFont

    assert report.embedded_font_css("Only ASCII text, <b>no CJK</b>") == ""
    css = report.embedded_font_css("客户分层报告 ABC")
    data = re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1)
    font = TTFont(bytes_io.BytesIO(base64.b64decode(data)))
    cmap = font.getBestCmap()
    assert all(ord(c) in cmap for c in "客户分层报告")
    assert ord("金") not in cmap and len(data) < 100_000  # a subset, not the 16 MB font


def test_top_reasons_read_value_typical_and_odds_multiplier(params):
    reasons = pd.DataFrame(
        {
            "account_id": ["A1", "A1", "A1"],
            "side": ["down", "up", "down"],
            "rank": [2, 1, 1],
            "factor": ["nps_latest", "adoption_trend", "adoption_90d"],
            "value": ["5", "0.1", "0.34"],
            "typical": ["7.9", "0.003", "0.533"],
            "odds_multiplier": [0.8, 2.0, 0.467],
            "sentence": ["s1", "s2", "s3"],
        }
    )
    en = exports.top_reasons(reasons, None, "en", params.scoring)
    assert en["A1"] == "Feature usage 0.34 (typical 0.533) x0.47; NPS 5 (typical 7.9) x0.80"
    assert exports.top_reasons(reasons, None, "zh", params.scoring)["A1"].startswith(
        "功能使用 0.34 (典型值 0.533) x0.47"
    )
