"""Imports point down: cli → worker → pipeline → jobs → stages (http, parse, clean, …) → store → model → errors.

The graph is read from the source with `ast` (every import, also those inside functions and under
TYPE_CHECKING), so a cycle or an upward import fails here before it can bite at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "tidings"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_pkg: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph() -> dict[str, set[str]]:
    """tidings module → the tidings modules it imports (a package import counts as its __init__)."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_pkg, node.level, node.module)
                # `from . import x` may name a submodule; otherwise the names are attributes of `base`.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # `import tidings.a.b` where only tidings.a exists, say
                    t = t.rpartition(".")[0]
                if t.startswith("tidings") and t != module:
                    graph[module].add(t)
    return graph


GRAPH = import_graph()


def _top(module: str) -> str:
    """The layer a module belongs to: its first component under tidings (tidings.clean.rules → clean)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tidings"


def _imports(module_prefix: str) -> set[str]:
    return {_top(t) for m, ts in GRAPH.items() if _top(m) == module_prefix for t in ts} - {module_prefix}


def test_the_graph_is_read():
    assert "tidings.jobs" in GRAPH["tidings.pipeline"]
    assert "tidings.model" in GRAPH["tidings.parse"]
    assert "tidings.clean.rules" in GRAPH["tidings.clean.sanitize"]


def test_no_import_cycles():
    # Package __init__ files re-export their submodules, so an edge into a package's own
    # submodule from its __init__ is not a cycle between modules.
    def edges(m: str) -> set[str]:
        return {t for t in GRAPH[m] if not (m.endswith("__init__") or t.startswith(m + "."))}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges(m)):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


# What each lower layer may import (top-level modules/packages of tidings). Everything else is above.
ALLOWED = {
    "errors": set(),
    "model": {"errors"},
    "store": {"errors", "model"},
    "dates": {"errors", "model"},
    "charsets": set(),
    "http": {"errors", "model", "charsets"},
    "filters": {"errors", "model"},
    "schedule": {"errors", "model", "http"},
    "parse": {"errors", "model", "store", "dates", "charsets"},
    "clean": {"errors", "model", "store", "http"},
    "fetch": {"errors", "model", "store", "http"},
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_below_them(layer):
    assert _imports(layer) <= ALLOWED[layer], f"{layer} imports {sorted(_imports(layer) - ALLOWED[layer])}"


# Every top-level module or package of tidings, bottom up: each may import only ranks below its own, so a new
# module must be placed here, and an import that points up or sideways fails. Stages sit below jobs.
RANKS: dict[str, int] = {
    "tidings": 0, "errors": 0, "charsets": 0,
    "model": 1,
    "store": 2, "dates": 2, "http": 2, "filters": 2,
    "schedule": 3, "parse": 3, "clean": 3, "fetch": 3,
    "config": 4, "publish": 4, "stories": 4,
    "jobs": 5,
    "pipeline": 6,
    "worker": 7, "display": 7,
    "items_cmd": 8, "catalog": 8, "demo": 8,
    "sources_cmd": 9,
    "cli": 10,
}
# Imports known to point up or sideways, each with where it is. Fixing one fails the test below until its
# entry goes, as a strict xfail would.
KNOWN: dict[tuple[str, str], str] = {}


def test_every_module_has_a_rank():
    assert {_top(m) for m in GRAPH} <= set(RANKS), sorted({_top(m) for m in GRAPH} - set(RANKS))


def test_imports_point_down_the_ranks():
    found = {(_top(m), _top(t)) for m, ts in GRAPH.items() for t in ts
             if _top(m) != _top(t) and RANKS[_top(t)] >= RANKS[_top(m)]}
    assert found == set(KNOWN), f"new: {sorted(found - set(KNOWN))}; fixed (drop from KNOWN): {sorted(set(KNOWN) - found)}"


def test_jobs_never_import_the_pipeline_or_the_cli():
    assert not _imports("jobs") & {"pipeline", "cli", "sources_cmd", "demo", "display"}


def test_pipeline_never_imports_the_cli():
    assert not _imports("pipeline") & {"cli", "sources_cmd", "demo", "display", "worker"}


def test_worker_sits_between_the_pipeline_and_the_commands():
    """worker (the procrastinate tasks) uses jobs and pipeline; only the commands (cli, sources_cmd) use it."""
    assert not _imports("worker") & {"cli", "sources_cmd", "demo", "display"}
    assert not {"jobs", "pipeline"} - _imports("worker")
    users = {_top(m) for m, ts in GRAPH.items() if "tidings.worker" in ts}
    assert users <= {"cli", "sources_cmd"}, users


def test_commands_do_not_import_each_other():
    assert not _imports("sources_cmd") & {"cli", "demo"}
    assert not _imports("demo") & {"cli", "sources_cmd"}


def test_only_the_cli_dispatches_to_commands():
    """cli may import sources_cmd and demo (it dispatches to them); they never import cli."""
    for m, targets in GRAPH.items():
        if "tidings.cli" in targets:
            pytest.fail(f"{m} imports tidings.cli")
