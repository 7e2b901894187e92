"""The whole pipeline on a small synthetic book: two monthly runs, a run on broken data, a repeated
run and the manager report checked against the run's tables and the book's planted truths.

Slow (a few minutes: three pipeline runs of every notebook on 2,000 accounts, shared with
test_browser.py through one session fixture), but part of the default suite and of CI.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _e2e import FIRST, IMG, SCRIPT, SECOND
from bs4 import BeautifulSoup

from analysis.params import load_params
from analysis.paths import NOTEBOOKS_DIR
from analysis.report import exports, i18n
from analysis.report.sections import ORDER
from analysis.run import runs
from analysis.scoring.tiers import GONE, NEW

pytestmark = pytest.mark.slow

PARAMS = load_params()
CODES = i18n.tier_codes(PARAMS.scoring)
TIER_NAMES = i18n.tier_names(PARAMS.scoring, "en")


def page_text(path: Path) -> str:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").get_text(" ", strip=True)


def read_export(run: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / "exports" / f"{name}.parquet")


# --- the pipeline runs, the report and the index are filed --------------------------------


def test_every_notebook_runs_and_the_index_lists_both_reports(e2e):
    expected = sorted(p.stem for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert "07_manager_report" in expected
    for run in ("first", "second", "repro"):
        manifest = e2e.manifest(run)
        assert manifest["outcome"] == "ok" and manifest["exit_code"] == 0
        assert [n["name"] for n in manifest["notebooks"]] == expected
        assert all(n["status"] == "ok" for n in manifest["notebooks"])
        assert e2e.report(run).exists()
    index = (e2e.path("out") / "index.html").read_text(encoding="utf-8")
    for run in ("first", "second"):
        link = f"{e2e.path(run).name}/html/07_manager_report.html"
        assert f'href="{link}"' in index
    headline = json.loads((e2e.path("second") / "tables" / "headline.json").read_text(encoding="utf-8"))
    for key in ("accounts", "arr", "renewal_rate", "churned_value"):
        assert isinstance(headline[key], (int, float)) and headline[key] > 0, key
    assert f"{headline['accounts']:,}" in index  # the index shows the run's headline figures
    assert headline["as_of"] == SECOND


def test_report_is_code_free_and_self_contained(e2e):
    text = e2e.report("second").read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "html.parser")
    assert not soup.select(".jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt")
    assert "import " not in soup.get_text()
    images = soup.find_all("img")
    assert len(images) >= 3  # pyramid, migration, forest plot
    assert all(img["src"].startswith("data:image/png;base64,") for img in images)
    assert not re.search(r'(src|href)="https?://', text)
    assert not soup.find_all("script", src=True)
    for key in ORDER:  # the old sections, and the new ones of the second version
        heading = soup.find(id=key)
        assert heading is not None, key
        note = heading.find_next_sibling()
        assert "report-note" not in (note.get("class") or []) if note else True, f"{key}: {note.get_text()}"


# --- since the last run --------------------------------------------------------------------


def test_second_report_compares_with_the_first_runs_tables(e2e):
    second = e2e.manifest("second")
    report_params = next(n["parameters"] for n in second["notebooks"] if n["name"] == "07_manager_report")
    assert Path(report_params["previous_run_dir"]).name == e2e.path("first").name

    before = e2e.table("first", "scored_accounts").set_index("account_id")["tier"].astype(str)
    after = e2e.table("second", "scored_accounts").set_index("account_id")["tier"].astype(str)
    both = before.index.union(after.index)
    b, a = before.reindex(both).fillna(NEW), after.reindex(both).fillna(GONE)
    expected = pd.crosstab(b, a).reindex(index=CODES + [NEW], columns=CODES + [GONE], fill_value=0)
    shown = e2e.table("second", "report_changes_migration").set_index("tier_before")
    names = {**TIER_NAMES, NEW: i18n.t("new_accounts"), GONE: i18n.t("gone_accounts")}
    expected = expected.rename(index=names, columns=names)
    assert shown.index.tolist() == expected.index.tolist()
    np.testing.assert_array_equal(shown[expected.columns].to_numpy(dtype=int), expected.to_numpy())

    rank = {c: i for i, c in enumerate(CODES)}
    common = before.index.intersection(after.index)
    step = after[common].map(rank) - before[common].map(rank)
    up, down = int((step < 0).sum()), int((step > 0).sum())
    new, gone = int((~after.index.isin(before.index)).sum()), int((~before.index.isin(after.index)).sum())
    sentence = i18n.t("changes_sentence", previous_as_of=FIRST, up=up, down=down, new=new, gone=gone)
    assert sentence in page_text(e2e.report("second"))
    moves = e2e.table("second", "report_changes_upgrades")
    assert set(moves["account"]) <= set(common[step < 0])

    worst = list(i18n.band_names(PARAMS.scoring))[-1]
    threshold = PARAMS.report.at_risk_threshold

    def at_risk(run):
        s = e2e.table(run, "scored_accounts").set_index("account_id")
        c = e2e.table(run, "churn_risk").set_index("account_id")["p_churn_before_renewal"]
        return set(s.index[s["health_band"] == worst]) | set(c.index[c >= threshold])

    newly = at_risk("second") - at_risk("first")
    assert set(e2e.table("second", "report_changes_new_at_risk_all")["account"]) == newly
    shown_new = e2e.table("second", "report_changes_new_at_risk")
    assert set(shown_new["account"]) <= newly and len(shown_new) == min(len(newly), PARAMS.report.n_moves)
    assert i18n.t("new_at_risk_sentence", n=len(newly)) in page_text(e2e.report("second"))


def test_headline_change_is_against_the_first_run(e2e):
    first = json.loads((e2e.path("first") / "tables" / "headline.json").read_text(encoding="utf-8"))
    second = json.loads((e2e.path("second") / "tables" / "headline.json").read_text(encoding="utf-8"))
    table = e2e.table("second", "report_headline").set_index("_key")
    assert float(table.loc["accounts", "_previous"]) == first["accounts"]
    assert table.loc["accounts", "change"].startswith(f"{second['accounts'] - first['accounts']:+,}")
    first_table = e2e.table("first", "report_headline")
    assert (first_table["change"].fillna("") == "").all()  # nothing to compare with in the first run


# --- failures leave earlier reports alone ------------------------------------------------


def test_run_on_broken_data_exits_2_and_changes_nothing(e2e):
    assert e2e.exit_codes["bad"] == 2
    assert "end not before start" in e2e.bad_output and "unknown account" in e2e.bad_output
    assert e2e.digest_after_bad == e2e.digest_before_bad
    assert runs.latest_successful_run(e2e.path("out")) == e2e.path("second")
    assert e2e.report("first").exists() and e2e.report("second").exists()


# --- reproducible exports ----------------------------------------------------------------


def test_same_data_parameters_and_seed_give_identical_exports_and_tables(e2e):
    first, repro = e2e.path("first") / "exports", e2e.path("repro") / "exports"
    names = sorted(p.name for p in first.iterdir())
    assert {
        "scored_accounts.csv",
        "scored_accounts.parquet",
        "drivers.csv",
        "weights_used.csv",
        exports.WEIGHTS_YAML,
    } <= set(names)
    assert names == sorted(p.name for p in repro.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (repro / name).read_bytes(), name
    assert e2e.manifest("first")["data"]["sha256"] == e2e.manifest("repro")["data"]["sha256"]
    tables = e2e.manifest("first")["tables"]
    assert tables.keys() == e2e.manifest("repro")["tables"].keys()
    # Every run table agrees too; to the last bit for most of them. A few differ in the last bits of
    # floating-point sums, which DuckDB adds up in parallel in varying order (see docs/report.md),
    # hence a relative tolerance here and rounding in the exports.
    for name in (n for n in tables if n.endswith(".parquet")):
        a = pd.read_parquet(e2e.path("first") / "tables" / name)
        b = pd.read_parquet(e2e.path("repro") / "tables" / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, obj=name)


def test_scored_accounts_export_has_the_crm_columns(e2e):
    frame = read_export(e2e.path("second"), "scored_accounts")
    contrib = [f"contrib_{c}" for c in PARAMS.scoring.criteria]
    assert frame.columns.tolist() == exports.SCORED_COLUMNS[:6] + contrib + exports.SCORED_COLUMNS[6:]
    scored = e2e.table("second", "scored_accounts")
    assert frame["account_id"].tolist() == sorted(scored["account_id"])
    for col in ("tier", "score", "health_band", "clv", *contrib):
        assert frame[col].notna().all(), col
    churn = e2e.table("second", "churn_risk")["account_id"]
    has_risk = frame.set_index("account_id")["churn_risk"].notna()
    assert set(has_risk.index[has_risk]) == set(churn) & set(frame["account_id"])  # active accounts
    assert frame["next_renewal_date"].notna().sum() >= len(churn) * 0.99
    assert frame["upgrade_candidate"].sum() == len(e2e.table("second", "upgrade_candidates"))
    assert (frame["top_reasons"].fillna("") != "").mean() > 0.5


# --- the report states the planted truths ---------------------------------------------------


def test_report_finds_the_planted_top_renewal_drivers_with_the_right_direction(e2e):
    """The four strongest planted drivers (largest |beta x SD|, computed from the ground truth) are
    reported as clear effects, hence among the findings the report lists first, with the planted
    direction and an interval on the right side of 1; no planted noise feature is reported clear."""
    truth = e2e.ground_truth()["renewal"]
    decisions = pd.read_csv(e2e.path("book") / "ground_truth_decisions.csv")
    beta = truth["log_odds_per_unit"]
    strength = {f: abs(b) * decisions[f].std() for f, b in beta.items()}
    planted = sorted(strength, key=strength.get, reverse=True)[:4]
    assert set(planted) == {"adoption_90d", "adoption_trend", "payment_delay_days", "nps_latest"}
    findings = e2e.table("second", "report_drivers_findings_all")
    clear = findings[findings["_direction"] != "no clear effect"]
    assert clear.index.tolist() == list(range(len(clear)))  # clear findings come first
    shown = e2e.table("second", "report_drivers_findings")
    text = page_text(e2e.report("second"))
    for factor in planted:
        rows = clear[clear["_variable"] == factor]
        assert len(rows) == 1, f"{factor} is not a clear finding: {clear['_variable'].tolist()}"
        row = rows.iloc[0]
        assert row["_direction"] == ("raises renewal" if beta[factor] > 0 else "lowers renewal"), factor
        assert (row["_lower_95"] > 1) if beta[factor] > 0 else (row["_upper_95"] < 1), factor
        assert factor in shown["_variable"].tolist() and row["finding"] in text
    assert not set(clear["_variable"]) & set(truth["noise_features"])


def test_tier_table_matches_the_scored_accounts_export(e2e):
    export = read_export(e2e.path("second"), "scored_accounts")
    pyramid = e2e.table("second", "report_grades_pyramid").set_index("_tier_code")
    counts = export["tier"].value_counts().reindex(CODES, fill_value=0)
    assert pyramid.loc[CODES, "accounts"].tolist() == counts.tolist()
    features = e2e.table("second", "features_asof").set_index("account_id")["revenue_12m"]
    revenue = features.reindex(export["account_id"]).clip(lower=0).fillna(0).to_numpy()
    shares = pd.Series(revenue).groupby(export["tier"].to_numpy()).sum() / revenue.sum()
    np.testing.assert_allclose(pyramid.loc[CODES, "share_revenue"], shares.reindex(CODES), rtol=1e-9)
    rows = (
        BeautifulSoup(e2e.report("second").read_text(encoding="utf-8"), "html.parser")
        .find(id="tbl-grades-pyramid")  # the pyramid table of the grades section
        .find_all("tr")[1:]
    )
    shown = {r.find_all("td")[0].get_text(): r.find_all("td")[1].get_text() for r in rows}
    assert shown == {TIER_NAMES[c]: f"{n:,}" for c, n in counts.items()}


# --- escaping -------------------------------------------------------------------------------


def test_account_names_with_markup_are_escaped_in_the_report(e2e):
    for page in (e2e.report("second"), Path(e2e.zh_report)):
        text = page.read_text(encoding="utf-8")
        assert (
            SCRIPT not in text and IMG not in text and "onerror=alert" not in text.replace("onerror=alert(1)&gt;", "")
        )
        assert html.escape(SCRIPT) in text and html.escape(IMG) in text
        soup = BeautifulSoup(text, "html.parser")
        # no script holds the payload (the DataTables bundle mentions "alert" as one of its error modes)
        assert not soup.find_all("script", string=re.compile(r"alert\(1\)"))
        assert not soup.find_all("img", attrs={"onerror": True})


def test_chinese_report_has_chinese_headings_and_tier_names(e2e):
    text = page_text(Path(e2e.zh_report))
    for key in ("report_title", "h_headline", "h_grades", "h_changes", "h_drivers", "h_playbook"):
        assert i18n.t(key, "zh") in text, key
    for name in i18n.tier_names(PARAMS.scoring, "zh").values():
        assert name in text
    assert i18n.t("h_headline", "en") not in text
