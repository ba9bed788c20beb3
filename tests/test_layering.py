"""The package layering holds: api -> portal -> hashing, and no import cycle inside portal/.

Every import counts, also one inside a function: a function-level import that
only hides a cycle is still a cycle. The graph is read from the source (ast),
so nothing has to be imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.services import ROOT

PACKAGES = ("portal", "api", "hashing")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `name` imports (a `from package import module` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in targets if target in known and target != name}


def _read_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


# Read once, when the module is collected, before any test runs: late in a long run
# CPython 3.11.7's ast.parse once failed with "AST constructor recursion depth mismatch"
# (interpreter state left by an earlier test, not the parsed file).
_GRAPH = _read_graph()


def _graph() -> dict[str, set[str]]:
    return _GRAPH


def _cycle(graph: dict[str, set[str]], within: str) -> list[str] | None:
    """One import cycle among the modules under `within`, or None."""
    nodes = {n for n in graph if n == within or n.startswith(within + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node] & nodes):
            # A package's __init__ importing its own submodules is not a cycle.
            if state.get(target) == 1 and not node.startswith(target + "."):
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_imports_inside_portal_form_no_cycle() -> None:
    graph = _graph()
    assert _cycle(graph, "portal") is None, " -> ".join(_cycle(graph, "portal") or [])
    assert _cycle(graph, "api") is None, " -> ".join(_cycle(graph, "api") or [])


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"portal.a": {"portal.b"}, "portal.b": {"portal.c"}, "portal.c": {"portal.a"}}
    assert _cycle(graph, "portal") == ["portal.a", "portal.b", "portal.c", "portal.a"]
    assert _cycle({"portal.a": {"portal.b"}, "portal.b": set()}, "portal") is None


def test_layers_point_one_way() -> None:
    for name, targets in _graph().items():
        layer = name.split(".")[0]
        if layer == "hashing":
            assert not {t for t in targets if t.startswith(("portal", "api"))}, name
        if layer == "portal":
            assert not {t for t in targets if t.startswith("api")}, name
        # cases sits at the bottom of the domain: it knows nothing of platforms.
        if name.startswith("portal.cases"):
            assert not {t for t in targets if t.startswith("portal.platforms")}, name
