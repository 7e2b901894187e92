"""The generated report (English and Chinese) and the run index in a real browser (headless Chromium).

Checks: no console error or warning and no request leaves the page (every host resolves to nothing,
and the page's CSP allows nothing; a control page proves the checks catch a request), nothing from
the data executes (account names carry <script> and <img onerror> payloads), every image loads,
the long tables search, sort and filter, every profile link resolves and opens, Chinese is drawn
with the embedded CJK font, every section's screenshot shows content and no raw column name, and
the page prints to an A4 PDF. Skips, saying so, only where Chromium or its driver is not installed
(`python3 tasks.py test` installs Debian's chromium when it can).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from analysis.data import contract
from analysis.report import i18n, pdf

pytestmark = pytest.mark.slow

ALL_IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
AT_RISK = "tbl-at_risk-at_risk"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = pdf.browser_paths()
    if not (chromium and driver):
        pytest.skip(
            "Chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver; "
            "`python3 tasks.py test` does it when run as root): the browser check of the report is skipped."
        )
    with pdf.browser(tmp_path_factory.mktemp("chromium-profile"), logs=True) as d:
        yield d


def requests_of(driver) -> list[str]:
    """URLs the page asked for since the last call (DevTools Network.requestWillBeSent)."""
    out = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            out.append(msg["params"]["request"]["url"])
        elif msg["method"] == "Network.webSocketCreated":
            out.append(msg["params"]["url"])
    return out


def load(driver, url: str) -> tuple[list[dict], list[str]]:
    """Open ``url`` fresh; the console entries and requests of that load."""
    driver.get("about:blank")
    driver.get_log("browser"), requests_of(driver)
    pdf.open_page(driver, url)
    return driver.get_log("browser"), requests_of(driver)


def js(driver, code, *args):
    return driver.execute_script(code, *args)


def page_path(e2e, page: str) -> Path:
    return Path(e2e.zh_report) if page == "zh" else e2e.report("second")


@pytest.mark.parametrize("page", ["en", "zh"])
def test_report_loads_without_errors_or_requests_and_shows_every_image(e2e, browser, page):
    from selenium.common.exceptions import NoAlertPresentException

    url = page_path(e2e, page).resolve().as_uri()
    log, requests = load(browser, url)
    assert [e for e in log if e["level"] in ("SEVERE", "WARNING")] == [], log
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (a script from the data would have raised an alert)
    outside = [r for r in requests if r != url and not r.startswith("data:")]
    assert outside == [] and url in requests, requests  # the log does record requests: the page itself
    assert js(browser, "return document.images.length") >= 8
    assert js(browser, ALL_IMAGES_LOADED), "an image did not load"
    assert js(browser, "return document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
    title = browser.find_element("tag name", "h1").text
    assert title == i18n.t("report_title", "zh" if page == "zh" else "en")
    cells = js(
        browser,
        "return Array.from(document.querySelectorAll('td')).filter(td => td.textContent.includes('<script>')).length",
    )
    assert cells > 0  # the payload is shown as text


def test_control_the_checks_catch_a_request(browser, tmp_path):
    """A page that asks for an internet image and script is caught by the same checks."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="https://example.com/x.png">'
        '<script>fetch("https://cdn.example.com/lib.js").catch(() => {})</script></body></html>',
        encoding="utf-8",
    )
    browser.get("about:blank")
    browser.get_log("browser"), requests_of(browser)
    browser.get(bad.as_uri())
    time.sleep(1)
    log, requests = browser.get_log("browser"), requests_of(browser)
    assert "https://example.com/x.png" in requests
    assert [e for e in log if e["level"] == "SEVERE"]


@pytest.mark.parametrize("page", ["en", "zh"])
def test_long_tables_search_sort_and_filter(e2e, browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    load(browser, page_path(e2e, page).resolve().as_uri())
    dt = f"reportTables['{AT_RISK}']"
    total = js(browser, f"return {dt}.rows().count()")
    assert total > 25 and js(browser, "return Object.keys(reportTables).length") >= 5
    # search: type an account's name; only rows holding it remain
    name = js(browser, f"return {dt}.row(3).node().cells[0].textContent")
    box = browser.find_element(By.CSS_SELECTOR, f"#{AT_RISK}_wrapper .dt-search input")
    box.send_keys(name)
    WebDriverWait(browser, 10).until(lambda d: js(d, f"return {dt}.page.info().recordsDisplay") < total)
    shown = js(browser, f"return {dt}.rows({{search: 'applied'}}).nodes().toArray().map(tr => tr.textContent)")
    assert shown and all(name in row for row in shown)
    box.clear()
    js(browser, f"{dt}.search('').draw()")
    # sort: click the header of the expected loss (a number shown as "12.3 K"): numeric order
    headers = js(
        browser, f"return Array.from(document.querySelectorAll('#{AT_RISK} thead th')).map(th => th.textContent)"
    )
    col = next(
        i for i, h in enumerate(headers) if h.startswith(i18n.t("value_at_risk", "zh" if page == "zh" else "en"))
    )
    browser.find_elements(By.CSS_SELECTOR, f"#{AT_RISK} thead th")[col].click()
    WebDriverWait(browser, 10).until(lambda d: js(d, f"return {dt}.order()") == [[col, "asc"]])
    values = js(
        browser,
        f"return Array.from(document.querySelectorAll('#{AT_RISK} tbody td:nth-child({col + 1})'))"
        ".map(td => +td.dataset.order)",
    )
    assert values == sorted(values) and len(values) == 25
    # filter: the tier select in the header keeps one tier only, and choosing it did not sort
    select = browser.find_element(By.CSS_SELECTOR, f"#{AT_RISK} thead select.dt-filter-select")
    options = [o.get_attribute("value") for o in Select(select).options if o.get_attribute("value")]
    Select(select).select_by_value(options[0])
    tiers = js(browser, f"return {dt}.rows({{search: 'applied'}}).nodes().toArray().map(tr => tr.cells[1].textContent)")
    assert tiers and set(tiers) == {options[0]}
    assert js(browser, f"return {dt}.order()") == [[col, "asc"]]


@pytest.mark.parametrize("page", ["en", "zh"])
def test_every_profile_link_resolves_and_opens(e2e, browser, page):
    from selenium.webdriver.common.by import By

    url = page_path(e2e, page).resolve().as_uri()
    load(browser, url)
    # all rows, not only the page shown: DataTables keeps the row nodes of a table it enhanced
    broken = js(
        browser,
        """const hrefs = [...document.querySelectorAll('main a[href^="#acct-"]')].map(a => a.getAttribute('href'))
            .concat(Object.values(reportTables).flatMap(dt => Array.from(dt.rows().nodes()))
            .flatMap(tr => Array.from(tr.querySelectorAll('a[href^="#acct-"]'))).map(a => a.getAttribute('href')));
        window._n_links = hrefs.length;
        return hrefs.filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));""",
    )
    assert broken == [] and js(browser, "return window._n_links") > 50
    link = browser.find_element(By.CSS_SELECTOR, f"#{AT_RISK} tbody tr:first-child a")
    name, target = link.text, link.get_attribute("href").split("#")[1]
    link.click()
    profile = browser.find_element(By.ID, target)
    assert profile.is_displayed() and profile.find_element(By.TAG_NAME, "h2").text == name
    assert i18n.t("w_score_parts", "zh" if page == "zh" else "en") in profile.text
    profile.find_element(By.CSS_SELECTOR, "a.close").click()
    assert not profile.is_displayed()


def test_chinese_is_drawn_with_the_embedded_cjk_font(e2e, browser):
    load(browser, Path(e2e.zh_report).resolve().as_uri())
    browser.execute_cdp_cmd("DOM.enable", {})
    browser.execute_cdp_cmd("CSS.enable", {})
    # the tier column of the at-risk table (Chinese words; the name column is the data's Latin text)
    for selector in ("h1", "h2", ".report-kpi .l", f"#{AT_RISK} td:nth-child(2)", ".dt-search label"):
        root = browser.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = browser.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = browser.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert any("CJK" in f["familyName"] for f in fonts), (selector, fonts)


@pytest.mark.parametrize("page", ["en", "zh"])
def test_screenshots_show_every_section_filled_and_no_raw_column_name(e2e, browser, page, tmp_path):
    from PIL import Image

    load(browser, page_path(e2e, page).resolve().as_uri())
    columns = {c.name for t in contract.TABLES.values() for c in t.columns if "_" in c.name}
    columns |= {c for c in e2e.table("second", "features_asof").columns if "_" in c}
    pdf.full_height_viewport(browser)
    for key in pdf.section_keys(browser):
        info = js(
            browser,
            """const s = document.getElementById('section-' + arguments[0]);
            const h = s.querySelector('h2').getBoundingClientRect().height;
            const parts = ':scope > p:not(.report-sources), td, th, .report-kpi, .report-caption';
            const text = Array.from(s.querySelectorAll(parts)).map(e => e.innerText).join(' ');
            return {height: s.getBoundingClientRect().height, heading: h, text: text,
                    note: !!s.querySelector(':scope > .report-note') && s.classList.contains('unavailable')};""",
            key,
        )
        assert not info["note"], key
        assert info["height"] > info["heading"] + 80, f"section {key} is empty"
        raw = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", info["text"])) & columns
        assert not raw, (key, sorted(raw))
        png = tmp_path / f"{page}_{key}.png"
        png.write_bytes(pdf.element_png(browser, f"#section-{key}"))
        colours = Image.open(png).convert("L").getcolors(256) or []
        assert len(colours) > 8, f"the screenshot of {key} is blank"
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) is not installed")
def test_the_report_prints_to_an_a4_pdf(e2e, tmp_path):
    target = pdf.page_to_pdf(e2e.report("second"), tmp_path / "report.pdf")
    info = subprocess.run(["pdfinfo", str(target)], capture_output=True, text=True, check=True).stdout
    assert "A4" in info and int(re.search(r"Pages:\s+(\d+)", info).group(1)) > 3
    text = subprocess.run(["pdftotext", "-layout", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert i18n.t("report_title") in text and i18n.t("h_warnings") in text
    assert "Search:" not in text and i18n.t("w_back") not in text  # no widgets, no profiles on paper
    assert "Printed: the first" in text  # long tables are cut to report.print_rows, and say so


def test_index_lists_runs_and_links_work(e2e, browser):
    url = (e2e.path("out") / "index.html").resolve().as_uri()
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(url)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    links = [a.get_attribute("href") for a in browser.find_elements("tag name", "a")]
    reports = [h for h in links if h.endswith("/html/07_manager_report.html")]
    assert len(reports) == 2
    browser.get(reports[0])
    assert browser.find_element("tag name", "h1").text == "Customer tiering report"
