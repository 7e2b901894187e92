"""The report in headless Chromium: a PDF for managers who mail one (``analysis report --pdf``) and the
screenshots of docs/screenshots (``analysis report --screenshots``).

Chromium prints with the page's print stylesheet (A4, no search boxes or paging, long tables cut to
``report.print_rows`` rows); Chrome DevTools' ``Page.printToPDF`` fires the page's ``beforeprint``,
and the page's own hook is called as well so the tables are expanded either way. Needs Chromium and
its driver (Debian: ``apt-get install chromium chromium-driver``); without them a named error says so.
"""

from __future__ import annotations

import base64
import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import AnalysisError

OPTIONS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    # every host name resolves to nothing: the page cannot reach the internet even if it tried
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1280,1000",
)
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#666">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
WIDTH = 1280
MAX_HEIGHT = 16000


class BrowserUnavailableError(AnalysisError):
    """Chromium, its driver or selenium is not installed."""


def browser_paths() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@contextmanager
def browser(profile_dir: str | Path | None = None, logs: bool = False) -> Iterator:
    """A headless Chromium driven by selenium (console and network logs on with ``logs``)."""
    chromium, driver_path = browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserUnavailableError(
            f"selenium is not installed ({exc}); install the project's requirements."
        ) from None
    if not (chromium and driver_path):
        raise BrowserUnavailableError(
            "Chromium or chromedriver is not installed; on Debian: apt-get install chromium chromium-driver."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in OPTIONS:
        options.add_argument(arg)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as tmp:
        options.add_argument(f"--user-data-dir={profile_dir or tmp}")
        if logs:
            options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
            options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        driver.set_page_load_timeout(120)
        driver.set_script_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()


def open_page(driver, url: str) -> None:
    """Load ``url`` and wait until the tables are enhanced and the fonts are loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && document.documentElement.dataset.tablesReady === '1'"
        )
    )
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
    )


def print_pdf(driver, target: Path) -> Path:
    """``Page.printToPDF`` of the loaded page (the CSS @page size wins), long tables expanded first."""
    driver.execute_script("window.reportPrint && window.reportPrint.expand()")
    params = {
        "printBackground": True,
        "preferCSSPageSize": True,
        "displayHeaderFooter": True,
        "headerTemplate": "<span></span>",
        "footerTemplate": FOOTER,
        "marginTop": 0.4,
        "marginBottom": 0.5,
    }
    result = driver.execute_cdp_cmd("Page.printToPDF", params)
    driver.execute_script("window.reportPrint && window.reportPrint.restore()")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(base64.b64decode(result["data"]))
    return target


def page_to_pdf(page: Path, target: Path | None = None) -> Path:
    """The PDF of a report page (default: next to it, ``.pdf``)."""
    page = Path(page)
    if not page.exists():
        raise AnalysisError(f"No report page {page}; run the pipeline (analysis run) first.")
    with browser() as driver:
        open_page(driver, page.resolve().as_uri())
        return print_pdf(driver, target or page.with_suffix(".pdf"))


def small_png(png: bytes, scale: float, colours: int = 128) -> bytes:
    """Downscaled and quantised (a few tens of KB instead of a few MB)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if scale != 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _frames(driver, n: int = 2) -> None:
    """Wait ``n`` animation frames (the layout after a change of the viewport has settled)."""
    driver.execute_async_script(
        "let n = arguments[0]; const done = arguments[arguments.length - 1];"
        "const step = () => (--n > 0 ? requestAnimationFrame(step) : done()); requestAnimationFrame(step);",
        n,
    )


def full_height_viewport(driver, width: int = WIDTH) -> None:
    """A viewport as tall as the page, so nothing re-flows while parts of it are captured (tables
    re-size themselves when the window does)."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    _frames(driver)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
    _frames(driver, 3)


def element_png(driver, selector: str, scale: float = 0.6) -> bytes:
    """A screenshot of the first element matching ``selector`` (call ``full_height_viewport`` first)."""
    box = driver.execute_script(
        "const e = document.querySelector(arguments[0]); const r = e.getBoundingClientRect();"
        "return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height};",
        selector,
    )
    clip = {"x": box["x"], "y": box["y"], "width": box["w"], "height": min(box["h"], MAX_HEIGHT), "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return small_png(base64.b64decode(shot["data"]), scale)


def screenshots(pages: dict[str, Path], folder: Path, profile: str | None = None) -> list[Path]:
    """Per page (``{"en": path, "zh": path}``) one small PNG per section, plus one account profile."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with browser() as driver:
        for lang, page in pages.items():
            url = Path(page).resolve().as_uri()
            open_page(driver, url)
            # ten rows of each long table are enough to show it (and keep the PNGs small)
            driver.execute_script("Object.values(window.reportTables).forEach(dt => dt.page.len(10).draw(false))")
            full_height_viewport(driver)
            for key in section_keys(driver):
                path = folder / f"{lang}_{key}.png"
                path.write_bytes(element_png(driver, f"#section-{key}"))
                written.append(path)
            account = profile or driver.execute_script(
                "const a = document.querySelector('table.js-dt a[href^=\"#acct-\"]'); return a && a.hash.slice(6);"
            )
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            if account:
                open_page(driver, f"{url}#acct-{account}")
                full_height_viewport(driver, 1000)
                path = folder / f"{lang}_profile.png"
                path.write_bytes(element_png(driver, f"#acct-{account} .profile-card", scale=0.7))
                written.append(path)
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return written


def section_keys(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('section[data-section]')).map(s => s.dataset.section)"
    )


def remove_stale(folder: Path, keep: Iterable[Path]) -> None:
    """Screenshots of sections that no longer exist are removed (the folder mirrors the page)."""
    keep = {Path(p).resolve() for p in keep}
    for path in Path(folder).glob("*.png"):
        if path.resolve() not in keep:
            path.unlink()
