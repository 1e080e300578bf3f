"""The layers inside ``omeapi._stores`` and ``omeapi._simulated`` import one way only,
and the simulated engine is composed, not inherited.

Every import statement counts (module level or inside a function, where the SQL drivers are
imported lazily) except those under ``if TYPE_CHECKING:``, which never run.  Each package lists
its modules lowest first; a module may import only modules listed before it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "omeapi"

#: package → its modules, lowest layer first
LAYERS = {
    "_stores": ["base", "generation", "memory", "sql", "sqlite", "postgres", "open"],
    "_simulated": [
        "media",
        "counters",
        "state",
        "jobs",
        "clock",
        "streams",
        "channels",
        "stats",
        "apps",
        "engine",
    ],
}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), TYPE_CHECKING blocks left out."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_module_is_in_a_layer(package: str) -> None:
    present = {p.stem for p in (CORE / package).glob("*.py")} - {"__init__"}
    assert present == set(LAYERS[package])


@pytest.mark.parametrize(
    ("package", "module"), [(p, m) for p, modules in LAYERS.items() for m in modules]
)
def test_imports_point_down(package: str, module: str) -> None:
    order = LAYERS[package]
    prefix = f"omeapi.{package}."
    upward = {
        name
        for name in imports_of(CORE / package / f"{module}.py")
        if name.startswith(prefix)
        and name[len(prefix) :].split(".")[0] in order
        and order.index(name[len(prefix) :].split(".")[0]) >= order.index(module)
    }
    assert upward == set(), f"{module} imports {sorted(upward)} (at or above its layer)"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_the_package_module_imports_none_of_its_layers(package: str) -> None:
    names = imports_of(CORE / package / "__init__.py")
    assert not any(n.startswith(f"omeapi.{package}.") for n in names)


def test_the_simulated_engine_is_composed_of_parts() -> None:
    """One class owns the state; the parts are separate objects (no mixin shares private
    state with a subclass), and building the engine starts no thread."""
    import threading

    from omeapi._simulated.engine import SimulatedEngine
    from omeapi._simulated.state import World

    assert SimulatedEngine.__mro__ == (SimulatedEngine, object)
    before = threading.active_count()
    engine = SimulatedEngine()
    assert threading.active_count() == before
    worlds = [v for v in vars(engine).values() if isinstance(v, World)]
    assert len(worlds) == 1
    parts = [v for v in vars(engine).values() if hasattr(v, "_w")]
    assert len(parts) == 5
    assert all(part._w is worlds[0] for part in parts)
