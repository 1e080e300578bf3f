"""The engine in another process (``omeapi_remote``), in process: the wire form of every
engine value, engine calls and errors across the socket, request forwarding, the socket's
privacy, and answers that do not depend on which side of the socket answers.

The served behaviour (``omeapi serve``'s engine host, SIGKILL, one server per port) is in
``tests/test_serve_engine_host.py``.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("cattrs")
pytest.importorskip("msgspec")

from omeapi import (
    Api,
    ApiRequest,
    EngineError,
    EngineResult,
    EngineUnavailable,
    MediaEngine,
    PullRequest,
    SimulatedEngine,
    application_from_json,
    load_server_config,
    open_api,
)
from omeapi._engine.channels import MuxPlaylist, MuxRendition
from omeapi.testing.strategies import application_json
from omeapi_remote import (
    RemoteEngineFault,
    publish_engine,
    remote_engine,
    worker_options,
)
from omeapi_remote.channel import ChannelClient, ChannelClosed, ChannelServer
from omeapi_remote.engine import _CONVERTER, _DECODE, _ENCODE, SIGNATURES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "Server.xml"
AUTH = {"Host": "localhost", "Authorization": "Basic Y2hhbmdlLW1l"}
_CONFIGS = {"ApplicationConfig", "VirtualHostConfig"}


# -- the wire form --------------------------------------------------------------------------


def _kinds() -> list[Any]:
    """Every type an engine call carries (arguments and answers), configs left out."""
    seen: dict[str, Any] = {}
    for signature in SIGNATURES.values():
        for kind in (*signature.params, signature.varargs, signature.returns):
            if kind is not None and getattr(kind, "__name__", "") not in _CONFIGS:
                seen.setdefault(repr(kind), kind)
    return [seen[key] for key in sorted(seen)]


# A playlist option is any JSON scalar: hypothesis has no strategy for `Any`.
st.register_type_strategy(
    MuxPlaylist,
    st.builds(
        MuxPlaylist,
        name=st.text(),
        file_name=st.text(),
        renditions=st.lists(st.from_type(MuxRendition)).map(tuple),
        options=st.lists(
            st.tuples(st.text(), st.one_of(st.booleans(), st.integers(-(2**31), 2**31), st.text()))
        ).map(tuple),
    ),
)


def _wire(value: Any, kind: Any) -> bytes:
    return _ENCODE(_CONVERTER.unstructure(value, kind))


def test_every_protocol_method_has_a_wire_signature() -> None:
    expected = {
        name
        for name in dir(MediaEngine)
        if not name.startswith("_") and callable(getattr(MediaEngine, name))
    }
    assert set(SIGNATURES) == expected
    assert len(SIGNATURES) >= 34


@pytest.mark.parametrize("kind", _kinds(), ids=repr)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_values_round_trip_through_the_wire(kind: Any, data: st.DataObject) -> None:
    value = data.draw(st.from_type(kind))
    try:
        sent = _wire(value, kind)
    except OverflowError:
        assume(False)  # integers beyond 64 bits: a fault, below
    back = _CONVERTER.structure(_DECODE(sent), kind)
    # Equal, or (NaN in a float is not equal to itself) the same on the wire again: a
    # field the converter lost would come back as its default and differ either way.
    assert back == value or _wire(back, kind) == sent


@settings(max_examples=25, deadline=None)
@given(raw=application_json())
def test_application_configs_round_trip(raw: dict[str, object]) -> None:
    try:
        app = application_from_json(raw)
    except Exception:  # the strategy also makes configs the schema refuses
        return
    kind = type(app)
    back = _CONVERTER.structure(_DECODE(_wire(app, kind)), kind)
    assert back.json_bytes == app.json_bytes


def test_vhost_configs_round_trip_with_their_apps_and_read_only_mark() -> None:
    vhost = load_server_config(EXAMPLE).virtual_hosts[0]
    back = _CONVERTER.structure(_DECODE(_wire(vhost, type(vhost))), type(vhost))
    assert back.read_only is vhost.read_only is True
    assert back.json_bytes == vhost.json_bytes
    assert [a.json_bytes for a in back.applications] == [a.json_bytes for a in vhost.applications]


# -- engine calls -------------------------------------------------------------------------------


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    return directory


class _Broken(SimulatedEngine):
    def queue_metrics(self) -> Any:
        raise RuntimeError("a bug in the engine")

    def list_multiplex_channels(self, vhost: str, app: str) -> Any:
        return [2**70]  # no wire form (and not the declared type either)


def test_remote_engine_answers_as_the_engine_does(private_dir: Path) -> None:
    config = load_server_config(EXAMPLE)
    local = SimulatedEngine(clock=lambda: 1000.0)
    published = _Broken(clock=lambda: 1000.0)
    path = str(private_dir / "engine.sock")
    with publish_engine(published, path):
        remote = remote_engine(path)
        for engine in (local, remote):
            vhost = config.virtual_hosts[0]
            engine.create_virtual_host(vhost)
            for app in vhost.applications:
                engine.create_application(vhost.name, app)
            engine.create_pull_stream("studio", "live", PullRequest("cam", ("ovt://h/a/s",)))
        assert remote.list_streams("studio", "live") == local.list_streams("studio", "live")
        assert remote.get_stream("studio", "live", "cam") == local.get_stream(
            "studio", "live", "cam"
        )
        assert remote.get_stream("studio", "live", "nope") is None
        assert remote.metrics("studio", "live", "cam") == local.metrics("studio", "live", "cam")
        assert remote.metrics() == local.metrics()
        assert remote.live_fields() == local.live_fields()
        with pytest.raises(EngineError) as caught:
            remote.create_pull_stream("studio", "live", PullRequest("cam", ("ovt://h/a/s",)))
        assert caught.value.result is EngineResult.EXISTS
        with pytest.raises(RemoteEngineFault, match="a bug in the engine"):
            remote.queue_metrics()
        with pytest.raises(RemoteEngineFault, match="no wire form"):
            remote.list_multiplex_channels("studio", "live")
        assert remote.list_streams("studio", "live") == ["cam"]  # the connection goes on
        assert isinstance(remote, MediaEngine)
    with pytest.raises(EngineUnavailable) as down:
        remote.list_streams("studio", "live")
    assert down.value.status == 503


def test_remote_engine_sees_a_republished_engine(private_dir: Path) -> None:
    path = str(private_dir / "engine.sock")
    restarted = threading.Event()
    with publish_engine(SimulatedEngine(), path):
        remote = remote_engine(path, on_restart=restarted.set)
        assert remote.list_streams("v", "a") == []
    with publish_engine(SimulatedEngine(), path):
        assert remote.list_streams("v", "a") == []  # a new connection, a new engine
    assert restarted.is_set()


# -- the socket is its owner's --------------------------------------------------------------------


def test_socket_is_owner_only(private_dir: Path) -> None:
    path = private_dir / "engine.sock"
    with publish_engine(SimulatedEngine(), str(path)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()  # removed when closed


def test_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="others may write"):
        publish_engine(SimulatedEngine(), str(shared / "engine.sock"))


def test_a_missing_directory_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "engine.sock"
    with publish_engine(SimulatedEngine(), str(path)):
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_live_socket_is_not_taken_over(private_dir: Path) -> None:
    path = str(private_dir / "engine.sock")
    with (
        publish_engine(SimulatedEngine(), path),
        pytest.raises(OSError, match="another process is serving"),
    ):
        publish_engine(SimulatedEngine(), path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_user_cannot_reach_the_engine(tmp_path: Path) -> None:
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    # The directory must be searchable for the other user to even try the socket.
    tmp_path.chmod(0o755)
    directory.chmod(0o711)
    path = str(directory / "engine.sock")
    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({path!r})\n"
        "except PermissionError:\n"
        "    sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    with publish_engine(SimulatedEngine(), path):
        done = subprocess.run([sys.executable, "-c", probe], timeout=30, check=False)
    assert done.returncode == 0


# -- the channel ----------------------------------------------------------------------------


def test_channel_bounds_each_wait(private_dir: Path) -> None:
    path = str(private_dir / "slow.sock")
    release = threading.Event()

    def handle(frame: bytes) -> bytes:
        release.wait(5)
        return frame

    server = ChannelServer(path, handle)
    try:
        client = ChannelClient(path, timeout=0.2)
        with pytest.raises(ChannelClosed, match="no answer"):
            client.call(b"x")
    finally:
        release.set()
        server.close()
    with pytest.raises(ChannelClosed):
        ChannelClient(path, connect_timeout=0.2).call(b"x")


def test_channel_replaces_a_dead_kept_connection(private_dir: Path) -> None:
    path = str(private_dir / "echo.sock")
    server = ChannelServer(path, lambda frame: frame[::-1])
    client = ChannelClient(path)
    assert client.call(b"abc") == b"cba"
    server.close()
    server = ChannelServer(path, lambda frame: frame.upper())
    try:
        assert client.call(b"abc") == b"ABC"  # the kept connection died with its server
    finally:
        server.close()


def test_a_bad_frame_closes_only_its_connection(private_dir: Path) -> None:
    path = str(private_dir / "engine.sock")
    with publish_engine(SimulatedEngine(), path):
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        raw.recv(64)  # the greeting
        raw.sendall(b"\x00\x00\x00\x03\xc1\xc1\xc1")  # not MessagePack
        assert raw.recv(64) == b""
        raw.close()
        assert remote_engine(path).list_streams("v", "a") == []


# -- forwarding: a worker answers as the engine's own process does ---------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Api, Api, Api]]:
    """An engine host's API, a worker's API forwarding to it (both on one SQLite store),
    and a plain one-process API as the reference."""
    store = str(tmp_path / "omeapi.sqlite3")
    clock = lambda: 1_700_000_000.0  # noqa: E731
    host = open_api(EXAMPLE, SimulatedEngine(clock=clock), store=store, brake=False)
    host.start()
    path = str(tmp_path / "run" / "engine.sock")
    publication = publish_engine(host.engine, path, api=host)
    engine, options = worker_options(path)
    worker = open_api(EXAMPLE, engine, store=store, **options)
    worker.start()
    alone = open_api(EXAMPLE, SimulatedEngine(clock=clock))
    try:
        yield host, worker, alone
    finally:
        worker.close()
        publication.close()
        host.close()
        alone.close()


_STEPS: list[tuple[str, str, bytes]] = [
    ("GET", "/v1/vhosts", b""),
    ("POST", "/v1/vhosts", b'[{"name": "v2"}]'),
    ("POST", "/v1/vhosts", b'[{"name": "v2"}]'),
    ("POST", "/v1/vhosts/v2/apps", b'[{"name": "a2", "type": "live"}]'),
    ("POST", "/v1/vhosts/v2/apps/a2/streams", b'{"name": "cam", "urls": ["ovt://h/a/s"]}'),
    ("POST", "/v1/vhosts/v2/apps/a2/streams", b'{"name": "cam", "urls": ["ovt://h/a/s"]}'),
    ("GET", "/v1/vhosts/v2/apps/a2/streams", b""),
    ("GET", "/v1/vhosts/v2/apps/a2/streams/cam", b""),
    ("GET", "/v1/vhosts/v2/apps/a2/streams/nope", b""),
    ("POST", "/v1/vhosts/v2/apps/a2/streams", b"{not json"),
    ("PATCH", "/v1/vhosts/v2/apps/a2", b'{"dynamic": true}'),
    ("PATCH", "/v1/vhosts/v2/apps/a2", b'{"publishers": {"appWorkerCount": 3}}'),
    ("GET", "/v1/vhosts/v2/apps/a2", b""),
    ("GET", "/v1/vhosts/v2/apps/a2/streams", b""),
    ("POST", "/v1/vhosts/studio/apps", b'[{"name": "x", "type": "live"}]'),
    ("GET", "/v1/stats/current/vhosts/v2/apps/a2", b""),
    ("DELETE", "/v1/vhosts/v2/apps/a2", b""),
    ("GET", "/v1/vhosts/v2/apps/a2/streams", b""),
    ("DELETE", "/v1/vhosts/v2", b""),
    ("GET", "/v1/vhosts", b""),
]


def test_worker_answers_as_one_process_does(pair: tuple[Api, Api, Api]) -> None:
    _host, worker, alone = pair
    for method, path, body in _STEPS:
        request = ApiRequest.build(
            method, path, {**AUTH, "Origin": "http://a.example"}, body, client="10.0.0.9"
        )
        mine, reference = worker.handle(request), alone.handle(request)
        assert (mine.status, mine.headers, mine.body) == (
            reference.status,
            reference.headers,
            reference.body,
        ), (method, path)


def test_changes_reach_the_engine_once_and_are_audited_with_their_client(
    pair: tuple[Api, Api, Api],
) -> None:
    host, worker, _alone = pair
    calls: list[str] = []
    host.coordinator.subscribe(lambda event: calls.append(event.kind))
    for method, path, body in _STEPS[:5]:
        worker.handle(ApiRequest.build(method, path, AUTH, body, client="10.0.0.9"))
    patch = b'{"publishers": {"appWorkerCount": 2}}'
    worker.handle(ApiRequest.build("PATCH", "/v1/vhosts/v2/apps/a2", AUTH, patch))
    assert calls == ["restart"]
    # The worker never ran an engine of its own: the stream lives in the host's.
    assert host.engine.list_streams("v2", "a2") == []  # dropped by the restart
    records = host.store.audit_log(None)
    assert records[0].client == "10.0.0.9"


def test_engine_down_is_503_and_config_reads_go_on(pair: tuple[Api, Api, Api]) -> None:
    _host, worker, _alone = pair
    # The worker's link points at a socket nobody answers on any more.
    engine, options = worker_options(str(Path(worker.store.location).parent / "gone.sock"))
    lonely = open_api(EXAMPLE, engine, store=worker.store, **options)
    response = lonely.handle(ApiRequest.build("GET", "/v1/vhosts/studio/apps/live/streams", AUTH))
    assert response.status == 503
    assert response.header("Retry-After") == "1"
    assert response.body == (
        b'{"message":"[HTTP] The media engine is unavailable (503)","statusCode":503}'
    )
    assert lonely.handle(ApiRequest.build("GET", "/v1/vhosts", AUTH)).status == 200
    assert lonely.handle(ApiRequest.build("GET", "/v1/vhosts/studio/apps/live", AUTH)).status == 200


# -- the ASGI adapter forwards from the event loop -------------------------------------------


def test_asgi_forwards_without_a_thread(pair: tuple[Api, Api, Api], tmp_path: Path) -> None:
    pytest.importorskip("anyio")
    from asgi_support import call

    from omeapi_asgi import create_app
    from omeapi_remote import AsyncHostLink

    _host, worker, alone = pair
    path = str(tmp_path / "run" / "engine.sock")
    app = create_app(worker, forward_async=AsyncHostLink(path).forward)
    threaded: list[str] = []
    handle = worker.handle

    def spy(request: ApiRequest) -> Any:
        threaded.append(f"{request.method} {request.path}")
        return handle(request)

    worker.handle = spy  # type: ignore[method-assign]
    headers = [("host", "localhost"), ("authorization", AUTH["Authorization"])]
    for method, target, body in _STEPS:
        framed = [*headers, ("content-length", str(len(body)))] if body else headers
        answer = call(app, method, target, body=body, headers=framed)
        reference = alone.handle(ApiRequest.build(method, target, AUTH, body))
        assert (answer.status, answer.body) == (reference.status, reference.body), target
    # No change took a thread, and no read did but the first after a change (the worker
    # reads the shared store once before it answers from its snapshot again).
    changes = sum(method != "GET" for method, _, _ in _STEPS)
    assert all(line.startswith("GET ") for line in threaded), threaded
    assert len(threaded) <= changes
    threaded.clear()

    gone = create_app(worker, forward_async=AsyncHostLink(str(tmp_path / "gone.sock")).forward)
    answer = call(gone, "GET", "/v1/vhosts/studio/apps/live/streams", headers=headers)
    assert answer.status == 503
    assert threaded == []
