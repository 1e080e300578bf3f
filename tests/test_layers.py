"""The shape of the package, checked: no import cycles, arrows pointing down, pure layers.

Imports are read from the source with :mod:`ast` (nothing is imported).  An import inside
``if TYPE_CHECKING:`` is for type checkers only and does not count; a function-level import
does (it is an arrow all the same).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "omeapi"

#: The layers, lowest first: a module may import its own layer and those below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("omeapi._version", "omeapi._errors", "omeapi._audit_source"),
    ("omeapi._messages",),
    ("omeapi._wire", "omeapi._access"),
    ("omeapi._config",),
    ("omeapi._engine", "omeapi._services"),
    ("omeapi._stores",),
    ("omeapi._state", "omeapi._simulated", "omeapi._ops"),
    ("omeapi._console",),
    ("omeapi._controllers",),
    ("omeapi._routes",),
    ("omeapi._handler",),
    ("omeapi._build",),
    ("omeapi", "omeapi.cli", "omeapi.testing"),
)

#: Packages whose modules do no I/O of their own and start no threads.
PURE = (
    "omeapi._version",
    "omeapi._audit_source",
    "omeapi._errors",
    "omeapi._messages",
    "omeapi._wire",
    "omeapi._access",
    "omeapi._config",
    "omeapi._engine",
    "omeapi._services",
    "omeapi._controllers",
    "omeapi._routes",
    "omeapi._handler",
    "omeapi._console",
)
FORBIDDEN_IN_PURE = {"sqlite3", "psycopg", "ssl", "socket", "threading", "werkzeug"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, typing: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run (``typing``: and those under TYPE_CHECKING too)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node) and not typing:
            for child in node.orelse:
                yield from _imports(child)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node, typing)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every module an import statement names (``from pkg import sub`` names ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([base] if base else [])])
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in MODULES else base


def _graph(typing: bool = False) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {t for node in _imports(tree, typing) for t in _targets(module, node)}
    return graph


GRAPH = _graph()
#: with the imports type checkers alone follow
TYPING_GRAPH = _graph(typing=True)


def _internal(module: str, graph: dict[str, set[str]] = GRAPH) -> set[str]:
    # A module's own package (its __init__) is not an arrow to itself.
    return {t for t in graph[module] if t in MODULES and t != module}


def _owner(module: str) -> str:
    owners = [n for names in LAYERS for n in names if module == n or module.startswith(n + ".")]
    return max(owners, key=len) if owners else ""


def _layer_of(module: str) -> int:
    owner = _owner(module)
    return next(i for i, names in enumerate(LAYERS) if owner in names)


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if not _owner(m)] == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (of more than one module) over ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(_internal(node, graph)):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_no_import_cycles_even_for_type_checkers() -> None:
    # A cycle only TYPE_CHECKING imports close still ties the modules together for
    # whoever reads them, and is one runtime import away from a real one.
    assert _cycles(TYPING_GRAPH) == []


def test_arrows_point_down() -> None:
    upward = [
        (module, target)
        for module in sorted(MODULES)
        for target in sorted(_internal(module))
        if _layer_of(target) > _layer_of(module)
    ]
    assert upward == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _owner(m) in PURE))
def test_pure_modules_import_no_io_or_threads(module: str) -> None:
    external = {t.split(".")[0] for t in GRAPH[module] if not t.startswith("omeapi")}
    assert external & FORBIDDEN_IN_PURE == set()
    impure = {t for t in _internal(module) if _owner(t) not in PURE}
    assert impure == set()
