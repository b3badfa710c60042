"""The import graph of Veil's own modules, lazy (function-level) imports included, and its cycles.

    python bench/import_graph.py                  # cycles among reviewer/, crowd/, api/ modules, and layer breaches
    python bench/import_graph.py --edges services # every edge between modules under reviewer/services/

Reads the source with `ast` (nothing is imported), so it sees the imports a function makes when it runs too.
tests/test_import_graph.py asserts there is no cycle and no selector importing a service.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reviewer", "crowd", "api", "config")


def modules(root: Path = ROOT) -> dict[str, Path]:
    """{dotted module name: file} of the project's own packages (migrations aside)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).exists() else []:
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The project module an import names (a module, or a name inside one), else None."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def edges(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: project modules it imports}, at module level or inside functions alike. An import of a name from
    a package (`from reviewer.services import review`) counts as importing that submodule when it is one."""
    known = modules(root)
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1] if node.level > 1 else anchor
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                resolved = _resolve(target, known)
                if resolved and resolved != module:
                    graph[module].add(resolved)
        graph.setdefault(module, set())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted: every cycle lives in
    one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# The core reads crowd data through this module only: crowd may import reviewer, not the reverse.
CROWD_INTERFACE = "crowd.interface"
CORE = ("reviewer", "api")


def _in(module: str, packages) -> bool:
    return any(
        module == p or module.startswith(p + ".") for p in ((packages,) if isinstance(packages, str) else packages)
    )


def layer_breaches(graph: dict[str, set[str]]) -> list[str]:
    """Reads that write: a selector importing a service (or a task); pure imaging importing anything of Django's
    side of the project; and the core (reviewer/, api/) importing a crowd module other than crowd.interface."""
    breaches = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if _in(module, CORE) and _in(target, "crowd") and target != CROWD_INTERFACE:
                breaches.append(f"{module} -> {target} (the core reads crowd data only through {CROWD_INTERFACE})")
            if ".selectors" in module and (".services" in target or ".tasks" in target):
                breaches.append(f"{module} -> {target} (a selector imports a write)")
            if module.startswith("reviewer.imaging") and not target.startswith("reviewer.imaging"):
                breaches.append(f"{module} -> {target} (pure imaging imports Django-side code)")
    return breaches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", metavar="PART", help="print the edges among modules whose name holds PART")
    args = parser.parse_args()
    graph = edges()
    if args.edges:
        for module in sorted(graph):
            if args.edges in module:
                inside = sorted(t for t in graph[module] if args.edges in t)
                print(f"{module} -> {', '.join(inside) if inside else '(none)'}")
    found = cycles(graph)
    print(f"{len(graph)} modules, {sum(len(t) for t in graph.values())} import edges (lazy imports included)")
    for package in PACKAGES:
        inside = [m for m in graph if _in(m, package)]
        print(f"  {package}: {len(inside)} modules, {sum(len(graph[m]) for m in inside)} import edges")
    into_crowd = sorted((m, t) for m in graph if _in(m, CORE) for t in graph[m] if _in(t, "crowd"))
    print(f"core -> crowd: {len(into_crowd)} edge(s), to {', '.join(sorted({t for _m, t in into_crowd})) or 'nothing'}")
    print(f"{len(found)} import cycle(s)" + (":" if found else ""))
    for component in found:
        print("  " + " <-> ".join(component))
    breaches = layer_breaches(graph)
    print(f"{len(breaches)} layer breach(es)" + (":" if breaches else ""))
    for line in breaches:
        print("  " + line)
    print("command: python bench/import_graph.py [--edges services]")


if __name__ == "__main__":
    main()
