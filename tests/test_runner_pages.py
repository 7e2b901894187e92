"""The runner's start-up savings change nothing a user sees: one HTML exporter renders every page
as a fresh exporter would, and nbformat works without the IRI grammar the warm-up leaves out."""

import base64
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis.run import execute

PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
    )
).decode()


def _notebook(title: str, text: str, with_image: bool):
    outputs = [new_output("stream", name="stdout", text=text)]
    if with_image:
        outputs.append(new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"}))
    return new_notebook(
        cells=[new_markdown_cell(f"# {title}"), new_code_cell("print(1)", execution_count=1, outputs=outputs)]
    )


def test_one_exporter_renders_each_page_as_a_fresh_exporter_would(tmp_path):
    books = {
        "a": _notebook("First page", "accounts at risk: 12", with_image=True),
        "b": _notebook("Second page", "no image here", with_image=False),
    }
    for name, nb in books.items():
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    fresh = {}
    for name in books:
        execute._EXPORTERS.__dict__.clear()
        fresh[name] = execute.render_html(tmp_path / f"{name}.ipynb", tmp_path / f"{name}.fresh.html").read_text()
    for name in ("b", "a", "b"):  # the same exporter, pages in another order
        reused = execute.render_html(tmp_path / f"{name}.ipynb", tmp_path / f"{name}.html").read_text()
        assert reused == fresh[name]
    assert "First page" in fresh["a"] and "data:image/png;base64," in fresh["a"] and "print(1)" not in fresh["a"]
    assert "First page" not in fresh["b"]


def test_the_warm_up_leaves_out_the_iri_grammar_and_nothing_else(tmp_path):
    pytest.importorskip("rfc3987_syntax")  # installed with JupyterLab (jupyter-events); nothing to skip without it
    script = f"""
import sys
from analysis.run.pipeline import _warm_imports
_warm_imports().join()
assert "papermill" in sys.modules and "nbconvert.exporters.html" in sys.modules
assert "jsonschema._format" in sys.modules and "rfc3987_syntax" not in sys.modules
import nbformat
nb = nbformat.read({str(tmp_path / "nb.ipynb")!r}, as_version=4)
nbformat.validate(nb)
import rfc3987_syntax  # still importable for anyone who asks for it
print("ok")
"""
    nbformat.write(_notebook("Page", "text", with_image=True), tmp_path / "nb.ipynb")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
