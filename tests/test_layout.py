"""The architecture rules of seqlab/, checked on the source so they cannot drift.

- no function body longer than 60 lines (a command's parameter list is declaration, not
  logic), no module longer than 400;
- the top-level parts of seqlab/ (its packages and modules) import each other without a cycle,
  counting every import (also those inside functions; typing-only ones under TYPE_CHECKING
  excepted), and engine/ reaches neither analysis/ nor commands/ through any chain;
- engine/ holds at most 15 modules; a model family lives in its own folder under models/, and
  outside it one file of seqlab/ names it (the registry's list of families);
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
    assert len(text.splitlines()) <= 400, f"{rel(path)} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.body[0].lineno + 1
            assert length <= 60, f"{rel(path)}:{node.lineno} {node.name} has {length} lines"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test) == "TYPE_CHECKING" for n in ast.walk(node)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def part(module: str) -> str:
    """The top-level part of seqlab/ a module belongs to: `seqlab.engine.step` -> `engine`."""
    return module.split(".")[1] if module.count(".") else ""


def part_graph() -> dict[str, set[str]]:
    """Top-level part -> the other parts it imports."""
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        here = rel(path).split("/")[0].removesuffix(".py")
        for module in imported_modules(path):
            if module.startswith("seqlab.") and part(module) not in ("", here):
                graph.setdefault(here, set()).add(part(module))
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_cycle_between_top_level_parts():
    graph = part_graph()
    cycles = sorted(p for p in graph if p in reachable(graph, p))
    assert not cycles, f"parts that import themselves through a chain: {cycles}; edges: {graph}"


def test_engine_reaches_neither_analysis_nor_commands():
    assert not reachable(part_graph(), "engine") & {"analysis", "commands", "launch", "tracking"}


def test_a_cycle_is_caught():
    graph = {"engine": {"runs"}, "runs": {"registry"}, "registry": {"engine"}, "models": set()}
    assert reachable(graph, "engine") >= {"engine"} and "models" not in reachable(graph, "models")


def test_engine_is_small():
    modules = [p for p in SOURCES if rel(p).startswith("engine/")]
    assert len(modules) <= 15, [rel(p) for p in modules]


def test_a_family_lives_in_its_folder():
    naming = [rel(p) for p in SOURCES if re.search(r"\bbigram\b", p.read_text(), re.I)
              and not rel(p).startswith("models/bigram/")]
    assert naming == ["registry.py"]


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


def test_every_package_and_config_group_ships_in_the_wheel():
    """pyproject.toml lists its packages: a new folder of seqlab/ or conf/ must be named there."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {".".join(("seqlab", *p.parent.relative_to(PACKAGE).parts)) for p in PACKAGE.rglob("__init__.py")}
    conf = PACKAGE.parent / "conf"
    groups = {".".join(("seqlab", "conf", *d.relative_to(conf).parts)) for d in [conf, *conf.rglob("*")] if d.is_dir()}
    folders = {p.parent for p in SOURCES if "__pycache__" not in p.parts}
    assert all((f / "__init__.py").exists() for f in folders), "a folder of modules without __init__.py"
    assert packages | groups == set(config["packages"])
    assert groups == set(config["package-data"])


def test_the_suites_slowest_first_list_names_test_files():
    from conftest import SLOWEST_FIRST

    missing = [name for name in SLOWEST_FIRST if not (PACKAGE.parent / "tests" / name).is_file()]
    assert not missing, f"tests/conftest.py's SLOWEST_FIRST names files that do not exist: {missing}"
