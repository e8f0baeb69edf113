"""Which way the imports go: embeddings never imports recommender, and no project module imports itself back.

The graph is read from the source (every import statement, at module level or inside a function), so a lazy import
that would close a cycle at run time is caught as well.
"""

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("recommender", "embeddings")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in the file names (`from a import b` gives both a and a.b)."""
    names: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        module: {name for name in imported_names(path, module) if name in modules and name != module}
        for module, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as [a, b, ..., a], or [] when the graph has none (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    # known edges, one at module level and one inside a function, so an empty graph cannot pass
    assert "embeddings.jobs" in graph["embeddings.tasks"]
    assert "embeddings.pipeline" in graph["embeddings.jobs"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_project_modules() -> None:
    assert find_cycle(import_graph()) == []


def test_embeddings_never_imports_recommender() -> None:
    graph = import_graph()
    wrong = {
        module: sorted(t for t in targets if t.split(".")[0] == "recommender")
        for module, targets in graph.items()
        if module.split(".")[0] == "embeddings"
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}
    # the same check on raw names, for imports of recommender modules that do not exist (yet)
    for module, path in project_modules().items():
        if module.startswith("embeddings"):
            assert not {n for n in imported_names(path, module) if n.split(".")[0] == "recommender"}, module
