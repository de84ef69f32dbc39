"""The package's layers, held: an import goes down the order below, never up, and no
module imports itself back through others. The order is written here once; each folder's
``__init__`` says what it owns."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"

# Top to bottom. A module may import modules of its own layer (without a circle) and of any
# layer below it; the package root (the public API) and the command line sit on top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("perfkit", "perfkit.__main__", "perfkit.cli"),
    ("perfkit.report",),
    ("perfkit.profiling",),
    ("perfkit.engine",),
    ("perfkit.backends", "perfkit.workloads"),
    ("perfkit.integrations", "perfkit.classic", "perfkit.datasets", "perfkit.native"),
    ("perfkit.verdict", "perfkit.machine", "perfkit.vcs"),
    ("perfkit.records",),
    ("perfkit.model",),
)
MAX_LINES = 450
MAX_TOP_LEVEL_MODULES = 10


def _modules(root: Path = SOURCE) -> dict[str, Path]:
    found = {}
    for path in sorted((root / "perfkit").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The perfkit modules ``module`` imports, at module level or inside functions alike
    (a lazy import is still an arrow)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            full = (f"{base}.{alias.name}" for alias in node.names)
            names = [name if name in known else base for name in full]
        for name in names:
            found = name
            while found and found not in known:
                found = found.rpartition(".")[0]
            if found and found != module:
                yield found


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    known = _modules(root)
    return {m: set(_imported(m, p, known)) for m, p in known.items()}


def layer_of(module: str) -> int:
    best, index = -1, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            exact = prefix in ("perfkit", "perfkit.__main__")
            inside = module == prefix or (not exact and module.startswith(prefix + "."))
            if inside and len(prefix) > best:
                best, index = len(prefix), i
    if index < 0:
        raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")
    return index


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) < layer_of(module)
    )


def test_no_import_goes_up_a_layer() -> None:
    assert upward(import_graph()) == []


def test_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_every_module_is_in_a_layer() -> None:
    for module in import_graph():
        layer_of(module)


def test_the_checks_see_a_circle_and_an_upward_import() -> None:
    """The two checks above would fail on a planted circle and a planted upward arrow."""
    graph = {"perfkit.model.a": {"perfkit.model.b"}, "perfkit.model.b": {"perfkit.model.a"}}
    assert cycles(graph) == [["perfkit.model.a", "perfkit.model.b"]]
    assert upward({"perfkit.model.a": {"perfkit.cli.parser"}}) == [
        "perfkit.model.a imports perfkit.cli.parser"
    ]


def test_a_lazy_and_a_relative_import_are_arrows(tmp_path: Path) -> None:
    package = tmp_path / "perfkit" / "model"
    package.mkdir(parents=True)
    (tmp_path / "perfkit" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from perfkit.cli import parser\n")
    (package / "b.py").write_text("from . import a\n")
    (tmp_path / "perfkit" / "cli").mkdir()
    (tmp_path / "perfkit" / "cli" / "__init__.py").write_text("")
    (tmp_path / "perfkit" / "cli" / "parser.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["perfkit.model.a"] == {"perfkit.cli.parser"}
    assert graph["perfkit.model.b"] == {"perfkit.model.a"}


@pytest.mark.parametrize("path", sorted(_modules().values()), ids=lambda p: p.name)
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SOURCE)} has {lines} lines"


def test_few_modules_beside_the_subpackages() -> None:
    top = sorted(p.name for p in (SOURCE / "perfkit").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_package_says_what_it_owns() -> None:
    for init in sorted((SOURCE / "perfkit").rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(SOURCE)} has no docstring"
        assert len(doc.split()) >= 8, f"{init.relative_to(SOURCE)} says too little"
