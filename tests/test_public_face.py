"""Everything an embedding program or an engine author touches is importable from
``omeapi`` (the types a public class is built from, and the errors the API raises), and
the docs' example engines do what docs/engine.md asks of an engine."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import attrs

import omeapi

PUBLIC = {name: getattr(omeapi, name) for name in omeapi.__all__}


def _classes_in(hint: object) -> Iterator[type]:
    """The classes a type hint names (``X | None``, ``list[X]``, ``tuple[X, ...]`` …)."""
    if isinstance(hint, type) and not isinstance(hint, types.GenericAlias):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes_in(arg)


#: Where the values an engine receives and builds live.  The config's typed views
#: (``ServerConfig.managers`` …) are read through attributes and never built, so they
#: are not asked to be public.
ENGINE_VALUES = ("omeapi._engine.",)


def _private_parts() -> set[str]:
    """Classes of ``omeapi._engine`` reachable through the fields of public attrs classes
    that are not on the face themselves."""
    missing: set[str] = set()
    seen: set[type] = set()
    todo = [c for c in PUBLIC.values() if inspect.isclass(c) and attrs.has(c)]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        module = inspect.getmodule(cls)
        hints = typing.get_type_hints(cls, vars(module) if module else None)
        for field in attrs.fields(cls):
            for part in _classes_in(hints.get(field.name)):
                if not part.__module__.startswith(ENGINE_VALUES):
                    continue
                if PUBLIC.get(part.__name__) is not part:
                    missing.add(part.__name__)
                if attrs.has(part):
                    todo.append(part)
    return missing


def test_the_parts_of_public_values_are_public() -> None:
    # e.g. StreamInfo is built from Track, VideoInfo, AudioInfo, OutputStream, Playlist and
    # Rendition: an engine author must not need omeapi._engine.values to make one.
    assert _private_parts() == set()


def test_the_errors_the_api_raises_are_public() -> None:
    for name in ("AppOperationError", "AppNotFound", "EngineError", "ConfigError", "StoreError"):
        assert issubclass(PUBLIC[name], omeapi.OmeapiError)


DOCS = Path(__file__).resolve().parent.parent / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_docs_example_engines_take_a_lock() -> None:
    # docs/engine.md asks engines to be thread-safe across apps; the examples a newcomer
    # copies must do what it asks.
    engines = [
        (page.name, block)
        for page in sorted(DOCS.glob("*.md"))
        for block in PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))
        if "def create_application(" in block
    ]
    assert {name for name, _ in engines} >= {"embedding.md", "engine.md"}
    assert [name for name, block in engines if "threading.Lock()" not in block] == []
