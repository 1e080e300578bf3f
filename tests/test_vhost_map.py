"""The registry's persistent vhost map behaves as an insertion-ordered dict, and an update
never changes a map already handed out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omeapi._config import VirtualHostConfig
from omeapi._state.registry import VhostEntry, VhostMap

NAMES = st.sampled_from([f"v{i}" for i in range(300)])
OPS = st.lists(st.tuples(st.booleans(), NAMES, st.integers(0, 3)), max_size=400)


def _entry(revision: int) -> VhostEntry:
    return VhostEntry(VirtualHostConfig.__new__(VirtualHostConfig), {}, revision)


def _same(m: VhostMap, model: dict[str, VhostEntry]) -> None:
    assert list(m) == list(model)
    assert len(m) == len(model)
    assert dict(m.items()) == model
    for name in model:
        assert name in m and m[name] is model[name] and m.get(name) is model[name]


@given(st.lists(NAMES, unique=True, max_size=200), OPS)
def test_updates_match_a_dict_and_leave_older_maps_alone(start: list[str], ops: list) -> None:
    model = {name: _entry(0) for name in start}
    m = VhostMap(model)
    _same(m, model)
    for put, name, revision in ops:
        before, before_model = m, dict(model)
        if put:
            entry = _entry(revision)
            m, model[name] = m.set(name, entry), entry
        else:
            m = m.remove(name)
            model.pop(name, None)
        _same(m, model)
        _same(before, before_model)
    assert "absent" not in m and m.get("absent") is None and 7 not in m  # type: ignore[comparison-overlap]
