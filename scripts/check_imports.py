#!/usr/bin/env python3
"""Two rules of the layout (docs/ARCHITECTURE.md) that import-linter does not check, over src/migrakit:

1. No import cycle between migrakit's modules, counting every import: top-level, inside a function, and under
   `if TYPE_CHECKING:` (a cycle there is still a tangle a reader has to untie, and the lazy import that hides it
   at run time only moves the failure to the first call).
2. No module over 400 lines (MAX_LINES), except those in OVERSIZED, which name why they are allowed for now.
3. No package holding more than 15 modules directly (MAX_MODULES; a sub-package's modules are its own).

Reads the files with ast, imports nothing. Exit 0 when all three hold, 1 with every offence listed otherwise.
  .venv/bin/python scripts/check_imports.py [SRC_DIR]
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_LINES = 400
MAX_MODULES = 15
# Modules allowed over MAX_LINES, with the reason: none (the last, sources/config.py, was split by job). An entry
# would be a module to split by job; a listed module that is back under the limit is reported too.
OVERSIZED: dict[str, str] = {}  # an allowed oversized module -> why it is left for now
# Import cycles known today, each allowed only while its modules stay within the listed set. Removed by the
# redesign's branches in parallel: the lead deletes each entry when the branch that unties it lands (an entry that
# matches no cycle any more is reported, like a stale ignore).
KNOWN_CYCLES: dict[frozenset[str], str] = {}  # an allowed cycle: its modules -> why it is left for now


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, module: str, is_package: bool, modules: set[str]) -> Iterator[tuple[str, int]]:
    """(module of `modules`, line) for every import anywhere in the tree, inside functions and `if TYPE_CHECKING:`
    too. `from X import n` is the module X.n when there is one, else X (n is a name defined in X); the implicit
    import of a parent package's __init__ is not counted (packages that import their children would all cycle)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            for alias in node.names:
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base), node.lineno


def package_sizes(modules: Iterable[str], packages: set[str]) -> dict[str, int]:
    """package -> how many modules (.py files, `__init__` aside) it holds directly: a sub-package is a room of its
    own, counted on its own."""
    sizes: dict[str, int] = {}
    for module in modules:
        parent = module.rpartition(".")[0]
        if parent in packages and module not in packages:
            sizes[parent] = sizes.get(parent, 0) + 1
    return sizes


def build_graph(src: Path) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """module -> {imported module under src: first line}, and module -> its number of lines."""
    files = {module_name(p, src): p for p in sorted(src.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    lines: dict[str, int] = {}
    for module, path in files.items():
        text = path.read_text(encoding="utf-8")
        lines[module] = len(text.splitlines())
        tree = ast.parse(text, filename=str(path))
        edges: dict[str, int] = {}
        for target, line in imported_modules(tree, module, path.name == "__init__.py", set(files)):
            if target in files and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph, lines


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def one_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    path = [start, node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path[1:]), start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "src"
    graph, lines = build_graph(src)
    problems: list[str] = []
    used: set[frozenset[str]] = set()
    for component in cycles(graph):
        known = next((k for k in KNOWN_CYCLES if set(component) <= k), None)
        if known is not None:
            used.add(known)
            continue
        path = one_cycle(graph, component)
        steps = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(path, path[1:], strict=False))
        problems.append(f"import cycle among {', '.join(component)}: {steps} -> {path[-1]}")
    for module, count in sorted(lines.items()):
        if count > MAX_LINES and module not in OVERSIZED:
            problems.append(f"{module} has {count} lines (limit {MAX_LINES}): split it by job")
        elif count <= MAX_LINES and module in OVERSIZED:
            problems.append(f"{module} has {count} lines now: delete its entry in OVERSIZED ({Path(__file__).name})")
    packages = {module_name(p, src) for p in src.rglob("__init__.py")}
    for package, count in sorted(package_sizes(lines, packages).items()):
        if count > MAX_MODULES:
            problems.append(f"{package} holds {count} modules directly (limit {MAX_MODULES}): group them by job")
    for known in KNOWN_CYCLES:
        if known not in used:
            problems.append(f"the known cycle among {', '.join(sorted(known))} is gone or grew: update KNOWN_CYCLES")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    oversized = sorted(m for m in OVERSIZED if lines.get(m, 0) > MAX_LINES)
    print(
        f"{len(graph)} modules, {sum(map(len, graph.values()))} imports between them (function-level and "
        f"TYPE_CHECKING included): {len(problems)} problem(s); allowed for now: "
        f"{len(used)} known cycle(s), over {MAX_LINES} lines "
        + (", ".join(f"{m} ({lines[m]})" for m in oversized) or "none")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
