"""The run-table catalog: the notebook order follows the data flow, reads of later tables are refused."""

import ast
import re

import pandas as pd
import pytest

from analysis import catalog
from analysis.errors import CatalogError
from analysis.paths import NOTEBOOKS_DIR
from analysis.run.pipeline import discover_notebooks

NOTEBOOK_FILES = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
READ_CALL = re.compile(r"""\b(?:run|ctx|tables)\.(?:read|need|optional|previous)\(\s*["'](\w+)["']""")


def _string_args(source: str, method: str) -> list[str]:
    """Table names passed as literal first arguments to ``<x>.<method>(...)`` in a notebook."""
    names = []
    for node in ast.walk(ast.parse(source)):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
        if call and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.append(node.args[0].value)
    return names


def test_the_file_numbering_is_the_order_the_catalog_derives():
    stems = [p.stem for p in NOTEBOOK_FILES]
    assert stems == catalog.sequence(stems)
    assert [p.stem for p in discover_notebooks()] == stems


def test_every_declared_notebook_exists_and_every_notebook_is_declared():
    assert {p.stem for p in NOTEBOOK_FILES} == set(catalog.READS)


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_a_notebook_reads_only_tables_written_before_it(path):
    """The check that fails when a notebook reads a table a later notebook writes (or an undeclared one)."""
    source = path.read_text(encoding="utf-8")
    name = path.stem
    reads = set(_string_args(source, "read")) | set(READ_CALL.findall(source))
    for table in reads:
        writer = catalog.writer_of(table)
        assert writer == name or table in catalog.READS[name], f"{name} reads {table!r} without declaring it"
        assert writer == name or writer in catalog.upstream(name), f"{name} reads {table!r}, written later by {writer}"
    for table in _string_args(source, "write"):
        assert catalog.writer_of(table) == name, f"{name} writes {table!r}, which the catalog gives to another"


def test_a_read_of_a_later_table_is_refused_at_run_time(tmp_path):
    early = catalog.RunTables(tmp_path, "03_scoring_and_weights")
    with pytest.raises(CatalogError, match="does not declare it|writes later"):
        early.read("churn_risk")  # written by 04, after 03
    with pytest.raises(CatalogError, match="not in the run-table catalog"):
        early.read("scored_acounts")
    assert early.read("clv_accounts") is None  # declared and upstream, just not written here


def test_the_order_check_itself_can_fail(monkeypatch):
    """Guard on the guard: declaring that churn reads a table drivers writes puts drivers first, and a
    cycle is refused."""
    monkeypatch.setitem(catalog.READS, "04_churn_survival", (*catalog.READS["04_churn_survival"], "drivers"))
    order = catalog.sequence()
    assert order.index("05_renewal_drivers") < order.index("04_churn_survival")
    assert order != sorted(order)
    monkeypatch.setitem(catalog.READS, "05_renewal_drivers", ("churn_risk",))
    with pytest.raises(CatalogError, match="cycle"):
        catalog.run_order()


def test_writes_are_checked_for_owner_and_promised_columns(tmp_path):
    tables = catalog.RunTables(tmp_path, "04_churn_survival")
    with pytest.raises(CatalogError, match="gives to 03_scoring_and_weights"):
        tables.write(pd.DataFrame({"account_id": ["A"]}), "scored_accounts")
    with pytest.raises(CatalogError, match="lacks the columns"):
        tables.write(pd.DataFrame({"account_id": ["A"]}), "churn_risk")
    tables.write(
        pd.DataFrame({"account_id": ["A"], "p_churn_before_renewal": [0.1], "top_risk_factors": [""]}), "churn_risk"
    )
    assert tables.read("churn_risk")["account_id"].tolist() == ["A"]


def test_independent_notebooks_share_a_wave():
    waves = catalog.run_order()
    assert waves[0][0] == "01_data_quality" and waves[-1] == ["07_manager_report"]
    wave_of = {nb: i for i, wave in enumerate(waves) for nb in wave}
    assert wave_of["03_scoring_and_weights"] < wave_of["04_churn_survival"]  # churn reads the tiers
    assert wave_of["04_churn_survival"] == wave_of["06_high_value_traits"]  # neither reads the other


def test_the_architecture_document_lists_the_catalog():
    from analysis.paths import PROJECT_ROOT

    assert catalog.to_markdown() in (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
