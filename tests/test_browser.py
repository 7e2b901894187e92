"""The generated report and the run index opened in a real browser (headless Chromium).

Checks: the page loads with no console error, nothing from the data executes (account names
carry <script> and <img onerror> payloads), every image has loaded, and a screenshot is saved
(in the test's tmp folder) for a human look. Skips, saying so, only where Chromium or its driver
is not installed (`python3 tasks.py test` installs Debian's chromium when it can).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OPTIONS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)
ALL_IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver; "
            "`python3 tasks.py test` does it when run as root): the browser check of the report is skipped."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in OPTIONS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, path: Path, screenshot: Path) -> list[dict]:
    """Load ``path``, save a full-page screenshot, return the console entries of this page."""
    from selenium.common.exceptions import NoAlertPresentException

    driver.get_log("browser")  # drop entries of earlier pages
    driver.set_window_size(1280, 1000)
    driver.get(path.resolve().as_uri())
    driver.set_script_timeout(30)
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
    )
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 12000))
    driver.save_screenshot(str(screenshot))
    try:
        alert = driver.switch_to.alert.text
    except NoAlertPresentException:
        alert = None
    assert alert is None, f"a script from the data ran: alert({alert!r})"
    return driver.get_log("browser")


def platform_fonts(driver, selector: str) -> list[dict]:
    """The fonts Chromium really used for the text of the first element matching ``selector``."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def check_page(driver, path: Path, screenshot: Path, min_images: int) -> None:
    log = open_page(driver, path, screenshot)
    severe = [e for e in log if e.get("level") == "SEVERE"]
    assert not severe, f"console errors on {path.name}: {severe}"
    assert driver.execute_script("return document.images.length") >= min_images
    assert driver.execute_script(ALL_IMAGES_LOADED), "an image did not load"
    assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
    assert screenshot.stat().st_size > 10_000


@pytest.mark.parametrize("page", ["second", "zh"])
def test_report_loads_without_errors_and_shows_every_image(e2e, browser, page, tmp_path):
    path = Path(e2e.zh_report) if page == "zh" else e2e.report("second")
    check_page(browser, path, tmp_path / f"report_{page}.png", min_images=3)
    title = browser.find_element("tag name", "h1").text
    assert title == ("客户分层报告" if page == "zh" else "Customer tiering report")
    if page == "zh":  # Chinese text is drawn with the embedded CJK font, not a local font's empty boxes
        for selector in ("h1", "h2", ".report-kpi .l", "table.report-table td"):
            fonts = platform_fonts(browser, selector)
            assert any("CJK" in f["familyName"] for f in fonts), (selector, fonts)
    # The payload is shown as text, where the account appears in a table.
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('td')).filter(td => td.textContent.includes('<script>')).length"
    )
    assert cells > 0


def test_index_lists_runs_and_links_work(e2e, browser, tmp_path):
    index = e2e.path("out") / "index.html"
    check_page(browser, index, tmp_path / "index.png", min_images=0)
    links = [a.get_attribute("href") for a in browser.find_elements("tag name", "a")]
    reports = [h for h in links if h.endswith("/html/07_manager_report.html")]
    assert len(reports) == 2
    browser.get(reports[0])
    assert browser.find_element("tag name", "h1").text == "Customer tiering report"
