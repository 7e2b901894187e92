"""The report as one self-contained HTML page, rendered from Jinja2 templates (``templates/``) with
autoescape on: every text from data or config is escaped by Jinja, so an account named
``<script>...`` shows as text. Nothing is loaded from anywhere (a Content-Security-Policy says so):
figures are PNG data URIs, the CJK glyphs the page uses are embedded as a font subset, and the
search/sort/filter of the long tables is DataTables from the ``itables`` wheel, inlined once.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from analysis.report import formatting, i18n
from analysis.report.context import NOWRAP, Context, Section, Table
from analysis.report.plotting import cjk_font_path

TEMPLATES = Path(__file__).parent / "templates"
PAGE_LENGTH = 25
# The embedded CJK subset comes first: text laid out before a later-listed web font loads keeps a
# local font's empty boxes in Chromium. Its unicode-range leaves Latin text to the system fonts.
FONT_STACK = (
    '"ReportCJK", system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def datatables_assets() -> tuple[str, str]:
    """(script to inline in ``<script type="module">``, stylesheet) of the DataTables bundle of itables.

    The bundle is an ES module ending in ``export{...}``; that statement becomes
    ``window.ReportDT = {...}`` so the page's own module can use it. Written by hand because
    itables' offline mode base64-encodes the bundle into a blob: import (a third larger, a ``blob:``
    request and a looser CSP). Sequences the HTML parser treats specially inside a script
    (``</script``, ``<!--``, ``<script``) are written as JavaScript escapes.
    """
    import itables.options

    path = Path(itables.options.dt_bundle)
    js = path.read_text(encoding="utf-8")
    css = path.with_suffix(".css").read_text(encoding="utf-8")
    found = list(re.finditer(r"export\s*\{([^}]*)\}\s*;?", js))  # the last one; a license comment follows
    if not found:
        raise RuntimeError(f"Unexpected DataTables bundle {path}: no final export statement (itables changed?).")
    m = found[-1]
    pairs = [p.strip().split(" as ") for p in m.group(1).split(",")]
    names = {alias.strip(): local.strip() for local, alias in pairs}
    exports = ",".join(f"{alias}:{local}" for alias, local in names.items())
    js = f"{js[: m.start()]}window.ReportDT={{{exports},DataTable:{names['default']}}};{js[m.end() :]}"
    js = js.replace("</script", "<\\/script").replace("<!--", "\\x3C!--").replace("<script", "\\x3Cscript")
    if "</style" in css.lower():
        raise RuntimeError(f"Unexpected DataTables stylesheet {path}: it closes a style element.")
    return js, css


def embedded_font_css(text: str) -> str:
    """``@font-face`` with the CJK characters of ``text`` cut from the bundled Noto Sans CJK SC.

    Readers without a Chinese font (many Linux servers, some intranet PCs) would otherwise see empty
    boxes. Only the glyphs the page uses are embedded (some 150-250 KB for the Chinese report), so the
    page stays one self-contained file. Empty when the text has no CJK character or no font is installed.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    chars = "".join(sorted(c for c in set(text) if ord(c) >= 0x2E80))  # set() first: the page is megabytes
    path = cjk_font_path()
    if not chars or path is None:
        return ""
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(subset.Options())
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'@font-face{{font-family:"ReportCJK";unicode-range:U+2E80-FFFF;'
        f'src:url(data:font/otf;base64,{data}) format("opentype");}}'
    )


# --- tables as the template shows them ------------------------------------------------------


def cell(ctx: Context, kind: str, value: Any, account: str | None, profiles: set[str]) -> dict:
    """One table cell: text, a sort key for numbers and dates, a profile link for account names."""
    out: dict[str, Any] = {"text": "", "order": None, "href": None}
    if kind in ("int", "money", "pct", "num0", "num1", "num2", "signed1"):
        number = None if formatting.missing(value) else float(value)
        out["order"] = "" if number is None else repr(number)
        out["text"] = {
            "int": formatting.count,
            "money": ctx.money,
            "pct": lambda v: formatting.pct(v, 1),
            "num0": lambda v: formatting.number(v, 0),
            "num1": lambda v: formatting.number(v, 1),
            "num2": lambda v: formatting.number(v, 2),
            "signed1": lambda v: "" if formatting.missing(v) else f"{float(v):+.1f}",
        }[kind](value)
    elif kind == "date":
        out["text"] = out["order"] = formatting.date(value)
    else:
        out["text"] = "" if formatting.missing(value) else str(value)
        if kind == "account" and account in profiles:
            out["href"] = f"#acct-{account}"
    return out


# Columns of sentences: kept wide enough to read (a wide table scrolls sideways instead).
SENTENCE_COLUMNS = frozenset(
    {
        "top_reasons",
        "why",
        "finding",
        "warnings",
        "record",
        "play",
        "gaps",
        "candidate_reason",
        "suggested_action",
        "review_why",
        "stage_rule",
        "playbook",
        "meaning",
        "check",
        "rule",
        "at_risk_why",
        "problem",
    }
)


def column_class(kind: str, column: str) -> str:
    if kind in ("int", "money", "pct", "num0", "num1", "num2", "signed1"):
        return "num"
    if column == "owner":
        return "nw data"  # a person's name: data, like an account's name
    if kind == "date" or column in NOWRAP or kind == "id":
        return "nw"
    return "text" if column in SENTENCE_COLUMNS else ""


def table_view(ctx: Context, sec: Section, table: Table, profiles: set[str]) -> dict:
    columns = table.visible
    kinds = [table.kind(c) for c in columns]
    accounts = table.frame["account"].astype(str).tolist() if "account" in table.frame.columns else None
    rows = [
        [cell(ctx, k, v, accounts[i] if accounts else None, profiles) for k, v in zip(kinds, values)]
        for i, values in enumerate(table.frame[columns].itertuples(index=False, name=None))
    ]
    return {
        "id": f"tbl-{sec.key}-{table.name}",
        "caption": table.caption,
        "note": table.note,
        "interactive": table.interactive and len(rows) > 0,
        "filters": [columns.index(c) for c in table.filters if c in columns],
        "cols": [{"label": i18n.header(c, ctx.lang), "cls": column_class(k, c)} for c, k in zip(columns, kinds)],
        "rows": rows,
        "print_rows": int(ctx.settings.print_rows) if table.interactive else 0,
        "print_note": ctx.t("printed_rows", n=ctx.settings.print_rows, total=f"{len(rows):,}")
        if table.interactive and len(rows) > ctx.settings.print_rows
        else "",
    }


def section_view(ctx: Context, sec: Section, profiles: set[str]) -> dict:
    return {
        "key": sec.key,
        "title": sec.title,
        "available": sec.available,
        "text": sec.text,
        "notes": sec.notes,
        "figures": sec.figures,
        "kpis": sec.tables[0].frame.to_dict("records") if sec.key == "headline" and sec.tables else [],
        "tables": [
            table_view(ctx, sec, t, profiles)
            for t in sec.tables
            if not (sec.key == "headline" and t.name == "headline")
        ],
        "sources": ", ".join(sec.sources) if sec.sources else "",
    }


def render_page(ctx: Context, sections: Iterable[Section], profiles: list, extra: Iterable[str] = ()) -> str:
    """The whole page: header, sections, profiles, DataTables and the page's own script, once each."""
    sections = list(sections)
    ids = {p.id for p in profiles}
    dt_js, dt_css = datatables_assets()
    words = i18n.page_words(ctx.lang)
    context = {
        "lang": ctx.lang,
        "title": ctx.t("report_title"),
        "subtitle": ctx.t("report_subtitle", as_of=ctx.as_of.isoformat(), run_id=ctx.run_id),
        "intro": ctx.t("report_intro"),
        "sections": [section_view(ctx, s, ids) for s in sections],
        "profiles": profiles,
        "words": words,
        "dt_language": i18n.datatables_language(ctx.lang),
        "page_length": PAGE_LENGTH,
        "extra": list(extra),
        "dt_css": dt_css,
        "dt_js": dt_js,
        "init_js": (TEMPLATES / "init.js").read_text(encoding="utf-8"),
        "report_css": (TEMPLATES / "report.css").read_text(encoding="utf-8").replace("FONT_STACK", FONT_STACK),
        "font_css": "",
    }
    template = environment().get_template("report.html.j2")
    draft = template.render(**context)
    # Subset the CJK font from every character the page shows, including DataTables' words.
    visible = re.sub(r"<(script|style)\b.*?</\1>", "", draft, flags=re.S)
    context["font_css"] = embedded_font_css(visible + " ".join(str(v) for v in _strings(context["dt_language"])))
    return template.render(**context)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def write_page(html: str, path: str | Path) -> Path:
    """Write the page atomically (a reader never sees half a page)."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
