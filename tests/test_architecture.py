"""The layers of docs/architecture.md hold: a module imports only its own layer or the layers below."""

import ast
from pathlib import Path

import pytest

import analysis

ROOT = Path(analysis.__file__).parent
# Bottom first. Domains sit side by side and never import each other (they meet in run tables).
RANK = {
    "errors": 0, "paths": 0, "params": 0,
    "core": 1,
    "data": 2, "catalog": 2, "table_schemas": 2,  # the catalog reads and writes run tables through data.io
    "clv": 3, "survival": 3, "drivers": 3, "scoring": 3, "segments": 3,
    "report": 4,
    "run": 5,
}  # fmt: skip
DOMAIN = 3


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "analysis" else None


def _imports(tree: ast.Module):
    """Modules imported anywhere in the file, except under ``if TYPE_CHECKING:`` (types only)."""
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            typing_only |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module == "analysis":
            yield from (f"analysis.{a.name}" for a in node.names)
        elif node.module.startswith("analysis."):
            yield node.module


def violations(module: str, source: str) -> list[str]:
    """Imports of ``module`` (dotted name) that break the layer rule, in words."""
    mine, found = _layer(module), []
    for imported in _imports(ast.parse(source)):
        other = _layer(imported)
        if other is None or other == mine:
            continue
        if other not in RANK:
            found.append(f"{imported}: unknown layer (add it to docs/architecture.md and this test)")
        elif RANK[other] > RANK[mine]:
            found.append(f"{module} ({mine}) imports {imported} ({other}), a higher layer")
        elif RANK[other] == RANK[mine] == DOMAIN:
            found.append(f"{module}: domain {mine} imports domain {other}")
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    module = "analysis." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
    assert violations(module, path.read_text(encoding="utf-8")) == []


def test_the_layer_check_can_fail():
    upward = "from analysis.run.pipeline import run_pipeline\n"
    sideways = "def f():\n    from analysis import drivers\n"
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from analysis.run import notebook\n"
    assert violations("analysis.survival.cox", upward) and violations("analysis.survival.cox", sideways)
    assert violations("analysis.survival.cox", typing_only) == []


def test_every_layer_is_known():
    layers = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in MODULES}
    assert layers <= set(RANK) | {"__init__"}, layers - set(RANK)
