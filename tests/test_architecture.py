"""The package boundaries, checked on the source: no import cycles among the modules of `voice_app`, `telephony`
and `consent`, and `telephony` and `consent` never import `voice_app`.

Read from the source with `ast`, not by importing, so every module counts, including ones no test imports, and
imports inside functions and under TYPE_CHECKING count as well: an import moved into a function to dodge a cycle
still ties the two modules together."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("voice_app", "telephony", "consent")
# Libraries only ever needed for serving the web consoles; the user operations must work without them.
WEB_FRAMEWORKS = ("flask", "flask_login", "flask_wtf", "werkzeug", "wtforms")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module name `module` imports, as written: `from a.b import c` gives a.b.c, since c may be a module."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import counts from the module's package (from the package itself for an __init__).
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


@cache
def _import_graph() -> dict[str, frozenset[str]]:
    """Each module to the modules of the three packages it imports."""
    modules = _modules()
    return {
        module: frozenset(name for name in _imported_names(module, path) if name in modules and name != module)
        for module, path in modules.items()
    }


def _strongly_connected(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that all reach each other."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    lowlink[work[-1][0]] = min(lowlink[work[-1][0]], lowlink[node])
                if lowlink[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


def _one_cycle(graph: dict[str, frozenset[str]], group: list[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, to name the cycle in the failure."""
    members = set(group)
    start = group[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & members):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{group} is not a cycle")


def import_cycles() -> list[str]:
    graph = _import_graph()
    return [
        f"{', '.join(group)} import each other, e.g. " + " -> ".join(_one_cycle(graph, group))
        for group in _strongly_connected(graph)
        if len(group) > 1
    ]


def test_the_graph_sees_every_module_and_their_imports():
    graph = _import_graph()
    assert {"voice_app.cli", "telephony.audio", "consent.ledger"} <= graph.keys()
    assert "consent.models" in graph["consent.ledger"]


def test_no_module_imports_itself_through_others():
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_telephony_and_consent_never_import_voice_app():
    crossings = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if module.split(".")[0] in ("telephony", "consent")
        for name in _imported_names(module, path)
        if name.split(".")[0] == "voice_app"
    ]
    assert not crossings, "\n".join(crossings)


def test_the_users_package_has_no_web_code():
    users = {module: path for module, path in _modules().items() if module.split(".")[:2] == ["voice_app", "users"]}
    assert users, "voice_app.users is where the user operations live"
    web_imports = [
        f"{module} imports {name}"
        for module, path in users.items()
        for name in _imported_names(module, path)
        if name.split(".")[0] in WEB_FRAMEWORKS or name.startswith("voice_app.web")
    ]
    assert not web_imports, "\n".join(web_imports)
