"""Words of the manager report in English and Chinese: headings, column headers, sentences, notes,
and the words of the page's table widget.

The language comes from the top-level ``language`` of the config (``en`` | ``zh``). Every key
exists in both languages with the same ``{placeholders}`` (a test checks it), so switching the
language can never break a sentence. Feature labels live in ``analysis.report.labels``; tier,
health-band and playbook names come from the ``scoring`` section of the config, where analysts
edit them.
"""

from __future__ import annotations

import string
from typing import Any

from analysis.errors import ConfigError
from analysis.params import ScoringParams
from analysis.report import labels
from analysis.report.texts_en import EN
from analysis.report.texts_zh import ZH

LANGUAGES = ("en", "zh")
TEXT: dict[str, dict[str, str]] = {"en": EN, "zh": ZH}

# DataTables' own words (https://datatables.net/reference/option/language), so the Chinese page has
# no English; "all" and "filter" are the page's filter selects.
DATATABLES_LANGUAGE: dict[str, dict[str, Any]] = {
    "en": {
        "search": "Search:",
        "lengthMenu": "_MENU_ rows per page",
        "info": "Rows _START_ to _END_ of _TOTAL_",
        "infoEmpty": "No rows",
        "infoFiltered": "(filtered from _MAX_)",
        "zeroRecords": "No matching rows",
        "emptyTable": "No rows",
        "paginate": {"first": "«", "last": "»", "next": "›", "previous": "‹"},
        "all": "All",
        "filter": "Filter",
    },
    "zh": {
        "search": "搜索：",
        "lengthMenu": "每页 _MENU_ 行",
        "info": "第 _START_ 至 _END_ 行，共 _TOTAL_ 行",
        "infoEmpty": "没有数据",
        "infoFiltered": "（从 _MAX_ 行中筛选）",
        "zeroRecords": "没有匹配的行",
        "emptyTable": "没有数据",
        "paginate": {"first": "«", "last": "»", "next": "›", "previous": "‹"},
        "all": "全部",
        "filter": "筛选",
    },
}


def t(key: str, lang: str = "en", **values: Any) -> str:
    """The text of ``key`` in ``lang``, with ``values`` filled in."""
    if lang not in TEXT:
        raise ConfigError(f"Unknown report language {lang!r}; use one of {list(LANGUAGES)}.")
    text = TEXT[lang].get(key)
    if text is None:
        raise KeyError(f"No report text {key!r}; add it to analysis.report.texts_en and texts_zh.")
    return text.format(**values) if values else text


def header(column: str, lang: str) -> str:
    """A table column's header: its text when the column is named after a text key, else the name
    itself (columns named by data already in the report language, e.g. tier or band names)."""
    return TEXT[lang].get(str(column), str(column))


def page_words(lang: str) -> dict[str, str]:
    """The page's fixed words (``w_*`` keys) without the prefix, for the templates."""
    return {k[2:]: v for k, v in TEXT[lang].items() if k.startswith("w_")}


def datatables_language(lang: str) -> dict[str, Any]:
    return DATATABLES_LANGUAGE[lang]


def placeholders(text: str) -> set[str]:
    """``{names}`` used in a text (to check that every language fills the same ones)."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def feature_label(name: str, lang: str = "en", scoring: ScoringParams | None = None) -> str:
    """A readable name for a feature column (``analysis.report.labels.label``)."""
    return labels.label(name, lang, scoring)


def tier_codes(scoring: ScoringParams) -> list[str]:
    """Pyramid tier codes, best first."""
    return list(scoring.tiers.pyramid.codes)


def tier_names(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Tier code -> name in ``lang``."""
    return scoring.tiers.pyramid.labels(lang)


def band_names(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Health-band code -> name in ``lang``, best band first."""
    return {b.code: (b.zh if lang == "zh" else b.en) for b in scoring.health.bands}


def playbooks(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Tier code -> recommended service text in ``lang``."""
    return {code: entry.get(lang) or entry.get("en", "") for code, entry in scoring.tiers.playbooks.items()}
