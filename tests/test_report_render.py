"""The page: Jinja2 templates with autoescape, DataTables inlined once, nothing loaded from anywhere,
and Chinese drawn with the bundled CJK font (figures and page)."""

from __future__ import annotations

import base64
import io as bytes_io
import json
import re
import warnings

import matplotlib
import pytest
from _report_tables import all_sections, ctx_for

matplotlib.use("Agg")

from analysis.params import defaults
from analysis.report import i18n, plotting
from analysis.report.render import datatables_assets, embedded_font_css, environment, render_page


@pytest.fixture(scope="module")
def params():
    return defaults()


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


def test_figures_of_the_chinese_report_draw_every_glyph(params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = all_sections(ctx_for(params.updated(language="zh")))
    assert not [w for w in caught if "missing from font" in str(w.message)]
    figures = [f for s in sections.values() for f in s.figures]
    assert len(figures) >= 6
    assert all(f.src.startswith("data:image/png;base64,") for f in figures)


def test_chinese_page_embeds_just_the_glyphs_it_uses():
    from fontTools.ttLib import TTFont

    assert embedded_font_css("Only ASCII text, <b>no CJK</b>") == ""
    css = embedded_font_css("客户分层报告 ABC")
    data = re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1)
    font = TTFont(bytes_io.BytesIO(base64.b64decode(data)))
    cmap = font.getBestCmap()
    assert all(ord(c) in cmap for c in "客户分层报告")
    assert ord("金") not in cmap and len(data) < 100_000  # a subset, not the 16 MB font


def test_the_page_is_self_contained_and_strict(params):
    for lang in ("en", "zh"):
        ctx = ctx_for(params.updated(language=lang))
        page = render_page(ctx, all_sections(ctx).values(), [])
        assert "Content-Security-Policy" in page and "default-src 'none'" in page
        assert not re.search(r'(src|href)="(https?:)?//', page)
        assert page.count("window.ReportDT=") == 1  # the DataTables bundle once
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page
        words = json.loads(
            re.search(r'<script type="application/json" id="dt-language">(.*?)</script>', page, re.S).group(1)
        )
        assert words == i18n.datatables_language(lang)  # the table widget speaks the page's language
        if lang == "zh":
            assert "ReportCJK" in page and words["search"] == "搜索："


def test_templates_escape_by_default():
    template = environment().from_string("<p>{{ x }}</p>")
    assert template.render(x="<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    js, css = datatables_assets()
    assert "</script" not in js and "window.ReportDT=" in js and "dataTable" in css
