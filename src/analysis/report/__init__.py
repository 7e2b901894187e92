"""The manager report (see docs/report.md): ``compose(run)`` builds every section from the run's
tables, writes the report's own tables, the headline and the CRM exports; ``page.write()`` renders
the self-contained HTML page from the Jinja2 templates.

Layout: ``context`` (what sections read and return), ``sections/`` (one module per part of the page),
``findings`` and ``reasons`` (renewal drivers and per-account reasons in plain words), ``checks``
(model checks with computed verdicts), ``profiles`` (one page per account), ``labels`` and
``formatting`` (every feature's words and unit; money, percentages, days), ``i18n`` (texts in
English and Chinese), ``plotting`` (figures), ``render`` and ``templates/`` (the page), ``exports``
(CRM files), ``pdf`` (headless Chromium: PDF and screenshots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import io
from analysis.report.checks import method_checks
from analysis.report.context import Context, ReportTables, Section
from analysis.report.history import report_inputs
from analysis.report.profiles import Profile, build_profiles
from analysis.report.render import embedded_font_css, render_page, write_page
from analysis.report.sections import build_sections
from analysis.report.sections.headline import headline_figures, write_headline

PAGE = "07_manager_report.html"
ACCOUNT_COLUMNS = ("account_id", "name", "industry", "region", "size_band", "owner")

__all__ = [
    "PAGE",
    "Context",
    "ManagerReport",
    "ReportTables",
    "Section",
    "compose",
    "embedded_font_css",
    "headline_figures",
    "method_checks",
    "write_headline",
]


@dataclass
class ManagerReport:
    """The sections of one run's manager report, its account profiles and the CRM exports."""

    ctx: Context
    figures: dict[str, Any]
    sections: dict[str, Section]
    profiles: list[Profile] = field(default_factory=list)
    exports: list[Path] = field(default_factory=list)
    export_notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Section:
        return self.sections[key]

    @property
    def lang(self) -> str:
        return self.ctx.lang

    def html(self) -> str:
        files = ", ".join(sorted(p.name for p in self.exports)) or "-"
        extra = [self.ctx.t("exports_written", files=files)]
        return render_page(self.ctx, self.sections.values(), self.profiles, extra)

    def write(self, path: str | Path | None = None) -> Path:
        """The page, by default ``<run>/html/07_manager_report.html`` (``.zh.html`` etc. for another
        language than the run's)."""
        if path is None:
            run_dir = self.ctx.tables.run_dir
            if run_dir is None:
                raise ValueError("No run folder to write the report into; pass a path.")
            path = Path(run_dir) / "html" / PAGE
        return write_page(self.html(), path)

    def summary(self) -> pd.DataFrame:
        """Per section: available or why not (for the analyst's notebook)."""
        return pd.DataFrame(
            {
                "section": [s.title for s in self.sections.values()],
                "shown": [s.available for s in self.sections.values()],
                "note": [s.notes[0] if s.notes else "" for s in self.sections.values()],
            }
        )


def compose(run, run_id: str = "", language: str | None = None, write_tables: bool = True) -> ManagerReport:
    """Build every section from the run's tables (``run``: RunInputs with ``tables.run_dir`` and
    ``tables.previous_run_dir``); unless ``write_tables`` is False, write the report tables, the
    headline and the CRM exports. ``language`` renders in another language than the run's."""
    from analysis.report import exports, plotting

    plotting.set_theme()  # the CJK font first, so Chinese figure text never shows as boxes
    params = run.params if language is None else run.params.updated(language=language)
    present = set(run.book.tables.get("accounts", ()))
    accounts = run.book.df("accounts", [c for c in ACCOUNT_COLUMNS if c in present or c in ("account_id", "name")])
    run_dir = run.tables.run_dir
    frames = report_inputs(run)
    ctx = Context.for_run(run_dir, run.tables.previous_run_dir, params, run.as_of, run_id, accounts)
    ctx.tables = ReportTables(run_dir, frames)
    figures = headline_figures(ctx)
    sections, _, reasons = build_sections(ctx, figures)
    ids = [i for s in sections.values() for i in s.profile_ids]
    profiles = build_profiles(ctx, ids, sections, reasons)
    page = ManagerReport(ctx, figures, sections, profiles)
    if write_tables and run_dir is not None:
        for name, frame in frames.items():
            io.write_table(frame, run_dir, name)
        write_headline(figures, run_dir)
        write_section_tables(sections.values(), run_dir)
        has_reasons = ctx.optional("renewal_reasons") is not None or ctx.optional("churn_risk") is not None
        page.exports, page.export_notes = exports.write_exports(
            run_dir,
            {n: ctx.tables.get(n) for n in exports.INPUTS},
            params,
            ctx.accounts["name"] if ctx.accounts is not None else None,
            reasons if has_reasons else None,
        )
    return page


def write_section_tables(sections, run_dir: str | Path) -> list[str]:
    """Every table shown in the report, and the complete lists behind shortened ones, as
    ``report_<section>_<table>`` in the run (so every number on the page can be traced)."""
    names = []
    for sec in sections:
        frames = {t.name: t.frame for t in sec.tables} | sec.full
        for name, frame in frames.items():
            table = f"report_{sec.key}" if name == sec.key else f"report_{sec.key}_{name}"
            clean = frame.copy()
            clean.columns = [str(c) for c in clean.columns]
            io.write_table(clean.astype({c: str for c in clean.columns if clean[c].dtype == object}), run_dir, table)
            names.append(table)
    return names
