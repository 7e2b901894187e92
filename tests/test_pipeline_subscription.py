"""A subscription-only book (issue 16): contracts of 1, 6 and 12 months, product usage, and no
orders, tickets, surveys or engagements. It passes the data contract, runs end to end to exit 0,
and its manager report (both languages) reads as a manager reads it: every section either filled
or "not available: <a plain reason>", no raw run-table name in the visible text, and no count
about data the book does not have (late payment without invoices, warning rules without their data).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import worlds
from bs4 import BeautifulSoup

from analysis import catalog
from analysis.data.features import OPTIONAL_FEATURES
from analysis.params import load_params
from analysis.report import i18n
from analysis.report.sections import ORDER
from analysis.run.cli import main

pytestmark = pytest.mark.slow

ABSENT = ("orders", "tickets", "surveys", "engagements")
N_ACCOUNTS = 400


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("subscription")
    world = worlds.without_tables(worlds.subscription_only(n_accounts=N_ACCOUNTS, seed=16), *ABSENT)
    book = world.write(root / "book")
    out = root / "reports"
    assert main(["validate", str(book)]) == 0
    assert main(["run", "--data", str(book), "--out", str(out)]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    assert main(["report", str(run_dir), "--language", "zh"]) == 0  # 07_manager_report.zh.html
    return world, run_dir


def page(run_dir: Path, lang: str) -> BeautifulSoup:
    name = "07_manager_report.zh.html" if lang == "zh" else "07_manager_report.html"
    soup = BeautifulSoup((run_dir / "html" / name).read_text(encoding="utf-8"), "html.parser")
    main_part = soup.find("main")
    for tag in main_part.select("script, style, details.report-sources, .report-sources"):
        tag.decompose()  # the folded source-table footers and the notes naming files may name tables
    return main_part


def section_of(soup: BeautifulSoup, key: str):
    sec = soup.find("section", attrs={"data-section": key})
    assert sec is not None, key
    return sec


def test_the_book_has_mixed_terms_and_only_the_subscription_tables(run):
    world, run_dir = run
    assert not set(ABSENT) & set(world.tables)
    contracts = world.tables["contracts"]
    months = (pd.to_datetime(contracts["end"]) - pd.to_datetime(contracts["start"])).dt.days.add(1) / 30.44
    assert {1, 6, 12} <= set(months.round().astype(int))
    overview = pd.read_parquet(run_dir / "tables" / "table_overview.parquet").set_index("table")
    assert not overview.loc[list(ABSENT), "present"].any()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_section_is_filled_or_says_why_not(run, lang):
    soup = page(run[1], lang)
    prefix = i18n.t("not_available", lang, why="\0").split("\0")[0]
    for key in ORDER:
        sec = section_of(soup, key)
        if "unavailable" in (sec.get("class") or []):
            notes = [n.get_text(" ", strip=True) for n in sec.select(".report-note")]
            assert notes and notes[0].startswith(prefix) and len(notes[0]) > len(prefix) + 10, (key, notes)
            if lang == "zh":  # the reason in the page's language
                assert not re.findall(r"[A-Za-z]{2,}", notes[0]), (key, notes[0])
        else:
            assert sec.find_all(["table", "img"]) or sec.select(".report-kpi") or sec.find_all("p"), key


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_raw_table_name_in_the_visible_text(run, lang):
    text = page(run[1], lang).get_text(" ", strip=True)
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    tables = set(catalog.TABLES)
    # English words that are also table names ("drivers", "segments") are fine in prose; quoted or
    # snake_case they are the analyst's names. The Chinese page has no English at all.
    named = tokens & tables if lang == "zh" else {t for t in tokens & tables if "_" in t}
    quoted = {t for t in tables if re.search(rf"['‘“]{re.escape(t)}['’”]", text)}
    assert not named | quoted, sorted(named | quoted)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_count_about_late_payment_without_invoices(run, lang):
    review = section_of(page(run[1], lang), "review")
    text = " ".join(p.get_text(" ", strip=True) for p in review.find_all("p"))
    late_days = f"{load_params().scoring.tiers.flags.unprofitable.late_days:g}"
    late_clause = i18n.t(
        "review_sentence", lang, n="#", active="#", loss="#", late="#", late_days=late_days, per_ticket="#"
    )
    late_clause = late_clause.split("#")[-1]  # the words after the late count ("pay 60 days late ...")
    assert late_clause.strip() and late_clause.strip() not in text, text
    assert i18n.t("review_late_unknown_orders", lang) in text, text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_warning_count_for_a_rule_whose_data_is_absent(run, lang):
    params = load_params()
    source = {col: table for table, cols in OPTIONAL_FEATURES.items() for col in cols}
    blind = [r for r in params.scoring.warnings if source.get(r.column) in ABSENT]
    assert blind  # the shipped rules on NPS and tickets
    sec = section_of(page(run[1], lang), "warnings")
    table = sec.find("table", id="tbl-warnings-rules")
    assert table is not None, sec.get_text(" ", strip=True)[:400]
    rows = {
        tr.find("td").get_text(strip=True): [td.get_text(strip=True) for td in tr.find_all("td")]
        for tr in table.select("tbody tr")
    }
    for rule in blind:
        cells = rows[getattr(rule, lang)]
        assert cells[1] != "0", cells  # not "0 accounts flagged": the rule cannot be evaluated
