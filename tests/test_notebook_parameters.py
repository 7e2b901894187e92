"""The runner reads each notebook's declared parameters from its JSON (no nbformat import before
the first notebook starts): the same names papermill finds, and clear errors for broken cells."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

from analysis.errors import ConfigError
from analysis.paths import NOTEBOOKS_DIR
from analysis.run.plan import declared_parameters

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb")) + sorted(FIXTURES.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_names_are_the_ones_papermill_finds(path):
    assert declared_parameters(path) == list(papermill.inspect_notebook(str(path)))


def notebook_with(tmp_path: Path, *sources: str, tagged: int = 1) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"] if i < tagged else []}, "source": s, "outputs": []}
        for i, s in enumerate(sources)
    ]
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_multi_line_values_and_annotations_are_one_parameter_each(tmp_path):
    path = notebook_with(tmp_path, 'a = 1  # one\nb: int = 2\nc = {\n    "x": 1,\n}\nd, e = 1, 2\nf = g = 3\n')
    assert declared_parameters(path) == ["a", "b", "c", "f", "g"]  # tuple targets are not parameters


def test_broken_parameters_cells_are_refused_with_the_reason(tmp_path):
    with pytest.raises(ConfigError, match="2 cells tagged 'parameters'"):
        declared_parameters(notebook_with(tmp_path, "a = 1", "b = 2", tagged=2))
    with pytest.raises(ConfigError, match="0 cells tagged"):
        declared_parameters(notebook_with(tmp_path, "a = 1", tagged=0))
    with pytest.raises(ConfigError, match="not valid Python"):
        declared_parameters(notebook_with(tmp_path, "a = (1,"))
    broken = tmp_path / "02_y.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable Jupyter notebook"):
        declared_parameters(broken)
