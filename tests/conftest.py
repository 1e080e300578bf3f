"""Shared fixtures: an :class:`~omeapi.Api` over a small Server.xml, and helpers to
send authorised requests and read envelopes.

The Server.xml mirrors the OME instance that produced ``ome-observed.md`` (token
``ome-access-token``, API CrossDomains, a config vhost ``default`` with an app ``app``), so a
test can compare whole bodies with the observed ones without renaming anything.

Helpers are plain functions and classes too (``from conftest import Client``), for tests that
cannot use function-scoped fixtures (hypothesis state machines, benchmarks).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from omeapi import Api, open_api
from omeapi._config import parse_server_xml
from omeapi._simulated.engine import SimulatedEngine
from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = [
    "APP_PATH",
    "AUTH",
    "AUTH_HEADER",
    "JSON_TYPE",
    "SERVER_XML",
    "TOKEN",
    "Client",
    "app_body",
    "deadline",
    "make_api",
    "profile_body",
]

# Hypothesis profiles.  "ci" makes every run draw the same examples (seeded from each test's
# own source) and ignores any saved example database: a CI checkout starts without one, so
# whether a property test finds a bug must not depend on what an earlier run happened to
# save, nor on luck.  It is registered here rather than relying on hypothesis's built-in
# "ci" profile, which only newer releases than the minimum in setup.cfg have.  Locally the
# default profile keeps drawing new examples (and replays saved failures), which explores
# more over many runs.  HYPOTHESIS_PROFILE picks one explicitly (``ci`` to reproduce CI).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", settings.get_profile("default"))
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

TOKEN = "ome-access-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()  # b21lLWFjY2Vzcy10b2tlbg==
AUTH_HEADER = ("Authorization", AUTH)
JSON_TYPE = "application/json;charset=UTF-8"
APP_PATH = "/v1/vhosts/default/apps/app"

SERVER_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
	<Name>omeapi-tests</Name>
	<Type>origin</Type>
	<IP>*</IP>
	<Bind>
		<Managers>
			<API>
				<Port>48081</Port>
			</API>
		</Managers>
	</Bind>
	<Managers>
		<API>
			<AccessToken>ome-access-token</AccessToken>
			<CrossDomains>
				<Url>*.example.com</Url>
				<Url>http://*.sub.example.org</Url>
				<Url>http?://ome.*</Url>
			</CrossDomains>
		</API>
	</Managers>
	<VirtualHosts>
		<VirtualHost>
			<Name>default</Name>
			<Distribution>ome-oracle</Distribution>
			<Host>
				<Names>
					<Name>*</Name>
				</Names>
			</Host>
			<Applications>
				<Application>
					<Name>app</Name>
					<Type>live</Type>
					<OutputProfiles>
						<OutputProfile>
							<Name>bypass_stream</Name>
							<OutputStreamName>${OriginStreamName}</OutputStreamName>
							<Playlist>
								<Name>default</Name>
								<FileName>master</FileName>
								<Rendition>
									<Name>bypass</Name>
									<Video>bypass_video</Video>
									<Audio>bypass_audio</Audio>
								</Rendition>
							</Playlist>
							<Encodes>
								<Video>
									<Name>bypass_video</Name>
									<Bypass>true</Bypass>
								</Video>
								<Audio>
									<Name>bypass_audio</Name>
									<Bypass>true</Bypass>
								</Audio>
							</Encodes>
						</OutputProfile>
					</OutputProfiles>
					<Providers>
						<RTMP/>
					</Providers>
					<Publishers>
						<AppWorkerCount>1</AppWorkerCount>
						<StreamWorkerCount>1</StreamWorkerCount>
						<LLHLS>
							<ChunkDuration>0.5</ChunkDuration>
							<SegmentDuration>6</SegmentDuration>
							<SegmentCount>10</SegmentCount>
							<CrossDomains>
								<Url>*</Url>
							</CrossDomains>
						</LLHLS>
					</Publishers>
				</Application>
			</Applications>
		</VirtualHost>
	</VirtualHosts>
</Server>
"""


@contextmanager
def deadline(seconds: float = 10.0) -> Iterator[None]:
    """Fail instead of hanging: after ``seconds`` the main thread raises TimeoutError,
    wherever it is (a blocked lock acquire or join is interrupted too)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def make_api(engine: SimulatedEngine | None = None, **options: Any) -> Api:
    """An :class:`Api` over :data:`SERVER_XML` (parsed from text, no file needed).

    The failed-auth brake is off unless ``brake`` is given: tests send many bad tokens.
    """
    options.setdefault("brake", False)
    config = parse_server_xml(SERVER_XML, environ={})
    return open_api(config, engine=engine if engine is not None else SimulatedEngine(), **options)


def app_body(name: str, **fields: Any) -> dict[str, Any]:
    """A POST-apps item: a live app called ``name`` plus any extra fields."""
    return {"name": name, "type": "live", **fields}


def profile_body(name: str, stream: str | None = None, video: str = "bv") -> dict[str, Any]:
    """A valid POST-outputProfiles item (one bypass video encode)."""
    return {
        "name": name,
        "outputStreamName": stream if stream is not None else "${OriginStreamName}_" + name,
        "encodes": {"videos": [{"name": video, "bypass": True}]},
    }


Body = bytes | str | Any


def _body_bytes(body: Body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class Client:
    """Sends requests to an :class:`Api` in process.

    ``body`` may be bytes or str (sent as is), or any other value (sent as JSON; ``None``
    means no body).  Requests carry the right token unless ``auth`` is False or an
    ``Authorization`` header is given.
    """

    def __init__(self, api: Api, *, client: str = "192.0.2.1") -> None:
        self.api = api
        self.client = client

    @property
    def engine(self) -> SimulatedEngine:
        engine = self.api.engine
        assert isinstance(engine, SimulatedEngine)
        return engine

    def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        auth: bool = True,
    ) -> ApiResponse:
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        if auth and not any(name.lower() == "authorization" for name, _ in pairs):
            pairs.insert(0, AUTH_HEADER)
        path, _, query = path.partition("?")
        request = ApiRequest.build(
            method, path, pairs, _body_bytes(body), query=query, client=self.client
        )
        return self.api.handle(request)

    def get(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Body = None, **kw: Any) -> ApiResponse:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Body = None, **kw: Any) -> ApiResponse:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("DELETE", path, **kw)

    def json(self, method: str, path: str, body: Body = None) -> tuple[int, Any]:
        """Status and decoded body of an authorised request."""
        response = self.request(method, path, body)
        return response.status, decode(response)

    def ok(self, method: str, path: str, body: Body = None) -> Any:
        """The ``response`` of a request that must succeed with 200 (or the bare array of a
        multi-item answer whose items all succeeded)."""
        response = self.request(method, path, body)
        assert response.status == 200, (method, path, response.status, response.body)
        decoded = decode(response)
        if isinstance(decoded, list):
            return [item.get("response") for item in decoded]
        return decoded.get("response")

    # -- shortcuts for an API-created vhost ---------------------------------------------

    def create_vhost(self, name: str, *apps: str) -> None:
        """Create vhost ``name`` (writable) with POSTed apps ``apps`` (OME's defaults)."""
        self.ok("POST", "/v1/vhosts", [{"name": name}])
        if apps:
            self.ok("POST", f"/v1/vhosts/{name}/apps", [app_body(a) for a in apps])


def decode(response: ApiResponse) -> Any:
    """The JSON body of a response."""
    return json.loads(response.body)


def envelope(status: int, text: str) -> bytes:
    """OME's error envelope ``E(status, text)`` as bytes."""
    return json.dumps(
        {"message": f"[HTTP] {text} ({status})", "statusCode": status},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def server_xml(tmp_path: Path) -> Path:
    """:data:`SERVER_XML` written to a file."""
    path = tmp_path / "Server.xml"
    path.write_text(SERVER_XML, encoding="utf-8")
    return path


@pytest.fixture
def engine() -> SimulatedEngine:
    return SimulatedEngine()


@pytest.fixture
def api(server_xml: Path, engine: SimulatedEngine) -> Api:
    """The API over :func:`server_xml` on :func:`engine` (brake off)."""
    return open_api(server_xml, environ={}, engine=engine, brake=False)


@pytest.fixture
def client(api: Api) -> Client:
    return Client(api)


@pytest.fixture
def api_factory() -> Callable[..., Api]:
    """``api_factory(engine=None, **options)``: a fresh API over :data:`SERVER_XML`."""
    return make_api


@pytest.fixture
def dyn(client: Client) -> Client:
    """:func:`client` plus a writable vhost ``dynvh`` holding app ``dyn`` (OME's defaults)."""
    client.create_vhost("dynvh", "dyn")
    return client


#: The variable that carries the suite's bytecode directory from the pytest-xdist controller
#: to its workers (see :func:`pytest_configure`).
_PYCACHE_ENV = "OMEAPI_TEST_PYCACHE"


def pytest_configure(config: pytest.Config) -> None:
    """With ``PYTHONDONTWRITEBYTECODE`` set, every Python process the tests start (servers,
    their workers, ``omeapi check``, the fresh interpreters of the purity and docs tests:
    hundreds) would compile omeapi and its adapters from source again.  They share one
    bytecode directory instead (``PYTHONPYCACHEPREFIX``), private to this run and removed
    at its end: still nothing is written next to the sources or the installed packages.
    The pytest processes themselves are left as they were started."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: its controller made it
        prefix = os.environ.get(_PYCACHE_ENV)
    elif os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        prefix = tempfile.mkdtemp(prefix="omeapi-test-pycache-")
        os.environ[_PYCACHE_ENV] = prefix
        config.add_cleanup(lambda: shutil.rmtree(prefix, ignore_errors=True))
    else:
        prefix = None
    # A controller sets it for the processes its tests start, not for its workers: they
    # start as it did (and set it for theirs here).
    worker = hasattr(config, "workerinput")
    if prefix and (worker or not getattr(config.option, "numprocesses", None)):
        os.environ["PYTHONPYCACHEPREFIX"] = prefix
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


#: Modules whose tests share a module-scoped server or state: one pytest-xdist worker runs
#: each of them whole (the other tests are handed out one by one).
TOGETHER = {
    "test_asgi.py": "its tests share one module-scoped Api, in order",
    "test_asgi_served.py": "one server per ASGI server for the whole module",
    "test_core_purity.py": "one fork tree serves all its tests",
    "test_docs.py": "its tests share the programs' directory",
    "test_one_server.py": "one reference server run for the whole module",
    "test_openapi.py": "the document is loaded once for the module",
    "test_robust_xml.py": "one baseline timing for the whole module",
    "test_runtime_fuzz.py": "its tests share one runtime, in order",
    "test_serve_hostile.py": "one granian and one gunicorn server for the module",
    "test_store_workers.py": "one served store per kind for the whole module",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's ``load`` scheduling, with each module of :data:`TOGETHER` one unit of
    work.  (Its ``xdist_group`` marks do not group under pytest 9.2 with pytest-xdist 3.8:
    the group is added to ``item._nodeid``, which pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Together(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module.rpartition("/")[2] in TOGETHER else nodeid

    return Together(config, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands the figures its tests recorded to the controller,
    which prints the summary (see :func:`pytest_testnodedown`)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from robust_report import FIGURES

        workeroutput["robust_figures"] = [list(pair) for pair in FIGURES]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The figures of a pytest-xdist worker that finished, for the controller's summary."""
    from robust_report import FIGURES

    output = getattr(node, "workeroutput", None) or {}
    FIGURES.extend((test, figures) for test, figures in output.get("robust_figures", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The robustness figures (requests sent, 5xx seen, kills, RSS …) for the CI log."""
    from robust_report import FIGURES

    if FIGURES:
        terminalreporter.section("robustness figures")
        for test, figures in FIGURES:
            terminalreporter.write_line(f"{test}: {figures}")
