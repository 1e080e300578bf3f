"""A merged PATCH is read reusing the unchanged parts of the app it came from
(``application_from_json(..., previous=app)``): the result must be exactly the full read's.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import application_json

from omeapi import ConfigError
from omeapi._config import application_from_json
from omeapi._controllers.apps import deep_merge
from omeapi._state.lifecycle import same

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: JSON a client may send anywhere in a patch, valid for the schema or not.
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


@st.composite
def patches(draw: st.DrawFn, base: Any, other: Any) -> Any:
    """A patch shaped like ``base``: parts of ``other``, junk, or leaves changed."""
    if not isinstance(other, dict) or not other:
        return draw(st.one_of(st.just(other), JUNK))
    keys = draw(st.lists(st.sampled_from(sorted(other)), unique=True, max_size=len(other)))
    out: dict[str, Any] = {}
    for key in keys:
        below = base.get(key) if isinstance(base, dict) else None
        choice = draw(st.integers(0, 5))
        if choice == 0:
            out[key] = draw(JUNK)
        elif choice == 1 or not isinstance(other[key], dict):
            out[key] = other[key]
        else:
            out[key] = draw(patches(below, other[key]))
    return out


def read(merged: Any, previous: Any = None) -> Any:
    try:
        return application_from_json(merged, environ={}, previous=previous)
    except ConfigError as exc:
        return ("error", exc.text)


@FUZZ
@given(application_json(), application_json(), st.data())
def test_reading_reusing_the_previous_app_equals_reading_all(
    first: dict[str, Any], second: dict[str, Any], data: st.DataObject
) -> None:
    current = application_from_json(first, environ={})
    patch = data.draw(patches(current.json_value, second))
    merged = deep_merge(current.json_value, patch)
    full, reusing = read(merged), read(merged, current)
    if isinstance(full, tuple):
        assert reusing == full  # the same error, word for word
        return
    assert reusing.node == full.node
    assert reusing.json_value == full.json_value
    assert reusing.json_bytes == full.json_bytes
    assert reusing == full
    assert [p.json_value for p in reusing.output_profiles] == [
        p.json_value for p in full.output_profiles
    ]
    assert same(reusing, full) and same(reusing, current) == (full.json_bytes == current.json_bytes)
    # Nothing of the previous app was changed on the way.
    assert current == application_from_json(first, environ={})


@pytest.mark.parametrize(
    "patch",
    [
        {"publishers": {"appWorkerCount": 3}},
        {
            "outputProfiles": {
                "outputProfile": [{"name": "p", "outputStreamName": "${OriginStreamName}"}]
            }
        },
        {"providers": {}},
        {"name": "other"},
    ],
)
def test_unchanged_parts_are_shared_not_copied(patch: dict[str, Any]) -> None:
    body = {
        "name": "app",
        "type": "live",
        "providers": {"rtmp": {}, "srt": {}},
        "publishers": {"appWorkerCount": 1, "webrtc": {"timeout": 30000}},
        "outputProfiles": {
            "outputProfile": [
                {"name": "bypass", "outputStreamName": "${OriginStreamName}"},
            ]
        },
    }
    current = application_from_json(body, environ={})
    new = application_from_json(deep_merge(current.json_value, patch), environ={}, previous=current)
    for key, value in current.json_value.items():
        if key not in patch:
            assert new.json_value[key] is value
            assert new.node.fields[_xml(current, key)] is current.node.fields[_xml(current, key)]
    assert new == application_from_json(deep_merge(current.json_value, patch), environ={})


def _xml(app: Any, json_name: str) -> str:
    return next(cs.xml_name for cs in app.node.spec.children if cs.json_name == json_name)
