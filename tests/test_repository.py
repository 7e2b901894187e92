"""The repository keeps its promises: pins agree, notebooks are clean and thin, docs match code."""

import ast
import json
import re

import jupytext
import pytest

from analysis.data.contract import to_markdown
from analysis.paths import NOTEBOOKS_DIR, PROJECT_ROOT

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _pins(lines):
    return {
        m.group(1).lower(): m.group(2)
        for line in lines
        if (m := re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s;]+)", line))
    }


def test_environment_yml_carries_the_lock_pins():
    lock = _pins((PROJECT_ROOT / "requirements.lock").read_text().splitlines())
    env = _pins((PROJECT_ROOT / "environment.yml").read_text().splitlines())
    assert lock and env == lock


def test_every_direct_dependency_is_pinned_in_the_lock():
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    lock = _pins((PROJECT_ROOT / "requirements.lock").read_text().splitlines())
    direct = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in direct}
    assert names - set(lock) == set()


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "python3 tasks.py test" in readme and "python3 tasks.py test" in ci


def test_data_contract_document_matches_the_code():
    assert to_markdown() in (PROJECT_ROOT / "docs" / "data_contract.md").read_text()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_with_one_literal_parameters_cell(path):
    nb = json.loads(path.read_text())
    assert not any(c.get("outputs") or c.get("execution_count") for c in nb["cells"]), "strip outputs"
    params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    for node in ast.parse("".join(params[0]["source"])).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds assignments only"
        ast.literal_eval(node.value)  # plain literals only (papermill injects after the cell), e.g. overrides = {}
    assert nb["metadata"]["kernelspec"]["name"] == "b2b-tiering"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_and_paired_with_its_text_version(path):
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))], (
        "a def in a notebook belongs in src/analysis/"
    )
    text = path.with_suffix(".py")
    assert text.exists(), f"{text.name} (jupytext py:percent pair) is missing"
    ipynb_cells = [(c["cell_type"], "".join(c["source"]).strip()) for c in json.loads(path.read_text())["cells"]]
    py_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(text).cells]
    assert ipynb_cells == py_cells, f"run: jupytext --sync {text.relative_to(PROJECT_ROOT)}"
