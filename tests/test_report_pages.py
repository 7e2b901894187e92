"""The pages of the end-to-end scenario (tests/_e2e.py) read as a manager reads them: every section
filled in both languages, the first run's movement too, no raw column name of the data contract or
of the feature snapshot in the visible text, no English in the Chinese page, a profile for every
listed account."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from analysis.data import contract
from analysis.report import i18n
from analysis.report.sections import ORDER

pytestmark = pytest.mark.slow

# Words of the Chinese page that are not English: file references and the table widget's arrows.
ZH_ALLOWED = frozenset()


@functools.cache
def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(Path(path).read_text(encoding="utf-8"), "html.parser")


def pages(e2e) -> dict[str, Path]:
    return {"first": e2e.report("first"), "second": e2e.report("second"), "zh": Path(e2e.zh_report)}


@functools.cache
def visible_text(path: Path) -> str:
    """The text a reader sees in the report (not the hidden profiles), without account names and ids
    (data: every account name is a link to its profile), owners' names, the run id and file references."""
    main = BeautifulSoup(Path(path).read_text(encoding="utf-8"), "html.parser").find("main")
    for tag in main.select('script, style, .report-sources, a[href^="#acct-"], td.data'):
        tag.decompose()
    text = main.get_text(" ", strip=True)
    text = re.sub(r"\b\d{4}-\d\d-\d\dT\d{6}_asof-\d{4}-\d\d-\d\d\S*", " ", text)  # the run id
    return re.sub(r"\bA\d{6}\b", " ", text)  # account ids


def contract_and_feature_columns(e2e) -> set[str]:
    columns = {c.name for t in contract.TABLES.values() for c in t.columns}
    return columns | set(e2e.table("second", "features_asof").columns)


@pytest.mark.parametrize("page", ["first", "second", "zh"])
def test_every_section_is_filled(e2e, page):
    soup = soup_of(pages(e2e)[page])
    for key in ORDER:
        sec = soup.find("section", attrs={"data-section": key})
        assert sec is not None, key
        assert "unavailable" not in (sec.get("class") or []), (key, sec.get_text(" ", strip=True)[:300])
        body = [p for p in sec.find_all(["p", "table", "img"]) if "report-sources" not in (p.get("class") or [])]
        assert body and (sec.find_all(["table", "img"]) or sec.select(".report-kpi")), key  # more than a heading
        assert not sec.select(".report-note") or key in ("changes", "segments"), (key, sec.select(".report-note"))


def test_the_first_runs_movement_compares_with_the_book_a_year_earlier(e2e):
    sec = soup_of(e2e.report("first")).find("section", attrs={"data-section": "changes"})
    assert sec.find(id="tbl-changes-year_migration") is not None
    assert sec.find(id="tbl-changes-year_moves") is not None
    assert "Not available" not in sec.get_text()
    year = e2e.table("first", "report_changes_year_migration")
    assert year.drop(columns="tier_year_before").to_numpy().sum() > 0
    moves = e2e.table("first", "report_changes_year_moves_all")
    assert len(moves) > 0 and moves["why"].str.match(r"^(Up|Down): |^Its own components").all()


@pytest.mark.parametrize("page", ["first", "second", "zh"])
def test_no_raw_column_name_in_the_visible_text(e2e, page):
    columns = contract_and_feature_columns(e2e)
    text = visible_text(pages(e2e)[page])
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    snake = {c for c in columns if "_" in c}
    assert not tokens & snake, sorted(tokens & snake)
    if page == "zh":  # no column name at all, not even one that is an English word
        assert not tokens & columns, sorted(tokens & columns)
    for unit in ("+1 SD", "log(1", "odds ratio", " pts", "[expert]", "(365 d)"):
        assert unit not in text, unit
    assert not re.search(r"\bx\d\.\d\d\b", text)


def test_the_chinese_page_has_no_english(e2e):
    text = visible_text(Path(e2e.zh_report))
    words = set(re.findall(r"[A-Za-z]{2,}", text)) - ZH_ALLOWED
    assert not words, sorted(words)[:50]
    assert i18n.t("report_title", "zh") in text


def test_every_listed_account_has_a_profile(e2e):
    soup = soup_of(e2e.report("second"))
    links = {a["href"][1:] for a in soup.select('main a[href^="#acct-"]')}
    assert len(links) > 50
    profiles = {s["id"] for s in soup.select("section.profile")}
    assert links <= profiles
    card = soup.find(id=sorted(links)[0])
    text = card.get_text(" ", strip=True)
    assert i18n.t("w_score_parts") in text and i18n.t("w_playbook") in text
    for key in ("score", "health_score", "churn_probability", "m_clv"):
        assert i18n.t(key) in text, key


def test_every_feature_column_of_the_snapshot_has_a_label(e2e):
    from analysis.report import labels

    ids = {"account_id", "as_of", "first_seen", "parent_account_id", "next_renewal_date", "name"}
    missing = sorted(
        c for c in e2e.table("second", "features_asof").columns if c not in ids and c not in labels.FEATURES
    )
    assert not missing, missing


def test_the_long_tables_filter_by_tier_region_and_owner(e2e):
    # The scenario's book names an owner per account (analysis.data.synth): each long table a manager
    # works from offers it as a filter next to the tier and the region.
    soup = soup_of(e2e.report("second"))
    for key in ("at_risk", "warnings", "review"):
        tables = soup.select(f'section[data-section="{key}"] table.js-dt')
        assert tables, key
        table = tables[-1]
        headers = [th.get_text(" ", strip=True) for th in table.select("thead th")]
        filtered = {headers[int(i)] for i in table["data-filter-cols"].split(",")}  # column positions
        wanted = {i18n.header(c, "en") for c in ("tier", "region", "owner")}
        assert wanted <= filtered, (key, filtered)
