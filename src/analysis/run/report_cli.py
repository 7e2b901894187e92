"""``analysis report``: the manager report of a finished run, again: in another language, as a PDF
(headless Chromium), or as the small per-section PNGs of docs/screenshots.

The run's own page (``html/07_manager_report.html``, in the run's language) is never touched; a
page in another language is written next to it as ``07_manager_report.<lang>.html`` from the
same tables (nothing in the run's ``tables/`` or ``exports/`` changes).
"""

from __future__ import annotations

import json
from pathlib import Path

from analysis.errors import ConfigError
from analysis.run import runs

NOTEBOOK = "07_manager_report"


def find_run(run: str | None, out: str | Path) -> Path:
    if run:
        folder = Path(run)
        if not (folder / runs.MANIFEST).exists():
            raise ConfigError(f"{folder} is not a run folder (no {runs.MANIFEST}); pass reports/<run-id>.")
        return folder
    folder = runs.latest_successful_run(Path(out))
    if folder is None:
        raise ConfigError(f"No successful run in {out}; run the pipeline first (analysis run) or pass a run folder.")
    return folder


def page_in(folder: Path, language: str | None) -> Path:
    """The run's page in ``language`` (rendered from the run's tables when it is not the run's own)."""
    from analysis import report
    from analysis.run.notebook import NotebookRun

    manifest = json.loads((folder / runs.MANIFEST).read_text(encoding="utf-8"))
    own = str((manifest.get("parameters") or {}).get("language", "en"))
    page = folder / "html" / report.PAGE
    if language is None or language == own:
        if not page.exists():
            raise ConfigError(f"The run {folder.name} has no manager report page ({page}).")
        return page
    record = next((n for n in manifest.get("notebooks", []) if n.get("name") == NOTEBOOK), None)
    if record is None or not record.get("parameters"):
        raise ConfigError(f"The run {folder.name} did not run {NOTEBOOK}; nothing to render.")
    p = record["parameters"]
    previous = p.get("previous_run_dir")
    if previous and not Path(previous).exists():  # the run was staged under .tmp-<id>; runs move
        previous = None
    run = NotebookRun.open(
        NOTEBOOK, p["data_dir"], p.get("as_of"), folder, folder / "params.yaml", p.get("seed"), previous
    )
    composed = report.compose(run, p.get("run_id", folder.name), language=language, write_tables=False)
    return composed.write(page.with_name(f"{NOTEBOOK}.{language}.html"))


def report_command(args) -> int:
    from analysis.report import pdf

    folder = find_run(args.run, args.out)
    page = page_in(folder, args.language)
    print(f"Report: {page}")
    if args.pdf is not None:
        target = Path(args.pdf) if args.pdf else page.with_suffix(".pdf")
        print(f"PDF: {pdf.page_to_pdf(page, target)}")
    if args.screenshots:
        pages = {lang: page_in(folder, lang) for lang in ("en", "zh")}
        written = pdf.screenshots(pages, Path(args.screenshots))
        pdf.remove_stale(Path(args.screenshots), written)
        print(f"Screenshots: {len(written)} PNGs in {args.screenshots}")
    return 0
