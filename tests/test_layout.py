"""The architecture rules of seqlab/, checked on the source so they cannot drift.

- no function body longer than 60 lines (a command's parameter list is declaration, not
  logic), no module longer than 300;
- engine/ never imports analysis/ (readers depend on the engine, not the other way);
- nothing outside models/, config/ and the registry compares a family or task name, and
  nothing asks a model or task what it can do with hasattr/getattr: capabilities are
  declared on the registry's specs and the Task class.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from seqlab.registry import MODELS, TASKS

PACKAGE = Path(__file__).resolve().parents[1] / "seqlab"
SOURCES = sorted(PACKAGE.rglob("*.py"))
DECLARERS = ("models/", "config/", "registry.py")


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_sources_found():
    assert len(SOURCES) > 40


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_module_and_function_lengths(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 300, f"{rel(path)} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.body[0].lineno + 1
            assert length <= 60, f"{rel(path)}:{node.lineno} {node.name} has {length} lines"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_engine_never_imports_analysis():
    offenders = {rel(p): sorted(m for m in imported_modules(p) if m.startswith("seqlab.analysis"))
                 for p in SOURCES if rel(p).startswith("engine/")}
    assert not {k: v for k, v in offenders.items() if v}


NAMES = "|".join(sorted(map(re.escape, {*MODELS, *TASKS})))
NAME_COMPARISON = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({NAMES})["']""")


@pytest.mark.parametrize("path", [p for p in SOURCES if not rel(p).startswith(DECLARERS)], ids=rel)
def test_no_name_branches_or_capability_probes(path):
    text = path.read_text()
    assert not NAME_COMPARISON.search(text), f"{rel(path)} compares a family or task name"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr"):
            target = ast.unparse(node.args[0])
            assert not re.search(r"\b(model|task|core)\b", target), \
                f"{rel(path)}:{node.lineno} probes {target} with {node.func.id}"
