"""``docs/openapi.yaml`` stays true: it is valid OpenAPI 3.1, it lists exactly the routes of
:data:`omeapi._routes.ROUTES` (plus the ``OPTIONS`` preflight on every path), its examples fit
its schemas, and real answers of :meth:`Api.handle` over a walk through every endpoint
validate against the response schemas it documents for their status.

The document is written by hand; these tests are what keeps it honest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, BARE, Runtime, runtime_xml

from omeapi._routes import ROUTES, Router

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
trustme = pytest.importorskip("trustme")

from referencing.jsonschema import DRAFT202012  # noqa: E402

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
DOC_URI = "urn:omeapi:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def template(pattern: str) -> str:
    """A route regex as an OpenAPI path template (``(?P<app>[^/:]*)`` → ``{app}``)."""
    out = _GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern)
    assert not re.search(r"[\\()\[\]*+?|^$]", out), f"untranslatable route pattern {pattern}"
    return out


def pointer(*parts: str) -> str:
    """A JSON pointer fragment (``#/a~1b/c``)."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(doc: dict[str, Any], node: dict[str, Any], where: tuple[str, ...]) -> tuple:
    """Follow a local ``$ref`` (at most a few hops): the node and where it lives."""
    for _ in range(5):
        ref = node.get("$ref")
        if ref is None:
            return node, where
        assert ref.startswith("#/"), ref
        where = tuple(p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/"))
        node = doc
        for part in where:
            node = node[part]
    raise AssertionError(f"$ref loop at {where}")


class Validator:
    """Validates values against schemas of the document, ``$ref``s resolved in it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        resource = referencing.Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = referencing.Registry().with_resource(DOC_URI, resource)
        self._cache: dict[str, Any] = {}

    def errors(self, where: tuple[str, ...], value: Any) -> list[str]:
        ref = DOC_URI + pointer(*where)
        validator = self._cache.get(ref)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": ref},
                registry=self.registry,
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            )
            self._cache[ref] = validator
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)
        ]

    def response(self, path: str, method: str, status: int) -> tuple[str, ...] | None:
        """Where the schema of the documented answer lives (None: no body documented)."""
        operation = self.doc["paths"][path][method.lower()]
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        assert key in responses, f"{method} {path} documents no {status} and no default"
        node, where = resolve(
            self.doc, responses[key], ("paths", path, method.lower(), "responses", key)
        )
        if "content" not in node:
            return None
        assert "application/json" in node["content"], (method, path, status)
        return (*where, "content", "application/json", "schema")


@pytest.fixture(scope="module")
def validator(doc: dict[str, Any]) -> Validator:
    return Validator(doc)


# -- the document itself ------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    spec_validator = pytest.importorskip("openapi_spec_validator")
    assert doc["openapi"].startswith("3.1")
    spec_validator.validate(doc)


def test_every_schema_is_valid_json_schema(doc: dict[str, Any]) -> None:
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_routes_and_document_list_the_same_operations(doc: dict[str, Any]) -> None:
    routes = {(m, template(r.pattern)) for r in ROUTES for m in r.methods}
    paths = {path for _, path in routes}
    # OPTIONS is answered on every path (the preflight); HEAD is implied by GET.
    expected = routes | {("OPTIONS", path) for path in paths}
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented - expected == set(), "documented but not routed"
    assert expected - documented == set(), "routed but not documented"


def test_operations_are_documented(doc: dict[str, Any]) -> None:
    """Every operation has a summary, tags, a 2xx or a 4xx answer, and 401 unless open; every
    path parameter is declared; bodies are documented where the route reads one."""
    bodies = {(m, template(r.pattern)): r.body for r in ROUTES for m in r.methods}
    ids: set[str] = set()
    for path, item in doc["paths"].items():
        declared = {p.get("$ref", "").rsplit("/", 1)[-1] for p in item.get("parameters", [])}
        names = {resolve(doc, p, ())[0]["name"] for p in item.get("parameters", [])}
        assert names == set(re.findall(r"{(\w+)}", path)), (path, declared)
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert operation.get("summary") and operation.get("tags"), (method, path)
            responses = operation["responses"]
            if method == "options":
                assert operation["security"] == [] and list(responses) == ["204"]
                continue
            assert "401" in responses and "default" in responses, (method, path)
            assert any(code.startswith(("2", "4")) for code in responses), (method, path)
            op_id = operation.get("operationId")
            assert op_id and op_id not in ids, (method, path, op_id)
            ids.add(op_id)
            reads_body = bodies[(method.upper(), path)]
            assert ("requestBody" in operation) == reads_body, (method, path)


def _examples(node: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every media-type example: (where its schema lives, the example)."""
    if isinstance(node, dict):
        if "schema" in node and ("example" in node or "examples" in node):
            schema_at = (*where, "schema")
            if "example" in node:
                yield schema_at, node["example"]
            for example in node.get("examples", {}).values():
                yield schema_at, example["value"]
        for key, child in node.items():
            yield from _examples(child, (*where, str(key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _examples(child, (*where, str(index)))


def test_examples_fit_their_schemas(doc: dict[str, Any], validator: Validator) -> None:
    found = list(_examples(doc["paths"], ("paths",)))
    found += list(_examples(doc["components"], ("components",)))
    assert len(found) > 30
    for where, example in found:
        assert validator.errors(where, example) == [], where
    timestamp = ("components", "schemas", "Timestamp")
    for example in doc["components"]["schemas"]["Timestamp"]["examples"]:
        assert validator.errors(timestamp, example) == []


# -- real answers -----------------------------------------------------------------------------

V = "/v1/vhosts/walk"
A = f"{V}/apps/live"
S = f"{APP}/streams/cam"
SCH = f"{APP}/scheduledChannels"
MUX = f"{APP}/multiplexChannels"
ON_AIR = "2023-11-14T22:13:10.000+00:00"  # 10 s before the simulated clock starts

PROFILE = {
    "name": "low",
    "outputStreamName": "${OriginStreamName}_low",
    "encodes": {
        "videos": [
            {"name": "h264", "codec": "h264", "width": 640, "height": 360, "bitrate": 800000}
        ],
        "audios": [{"name": "aac", "codec": "aac", "bitrate": 96000, "samplerate": 48000}],
    },
}
PUSH = {
    "id": "yt",
    "stream": {"name": "cam", "trackIds": [0, 1], "variantNames": []},
    "protocol": "rtmp",
    "url": "rtmp://live.example/app",
    "streamKey": "key",
}
SCHEDULE = {
    "stream": {"name": "ch", "audioMap": [{"name": "en", "language": "eng"}]},
    "fallbackProgram": {"items": [{"url": "file://fallback.mp4"}]},
    "programs": [
        {
            "name": "morning",
            "scheduled": ON_AIR,
            "repeat": True,
            "items": [{"url": "file://intro.mp4", "duration": 60000}],
        }
    ],
}
MULTIPLEX = {
    "outputStream": {"name": "mx"},
    "sourceStreams": [
        {
            "name": "cam",
            "url": "stream://default/app/cam",
            "trackMap": [
                {"sourceTrackName": "bypass_video", "newTrackName": "v"},
                {"sourceTrackName": "bypass_audio", "newTrackName": "a", "bitrateConf": 96000},
            ],
        }
    ],
    "playlists": [
        {
            "name": "mux",
            "fileName": "mux",
            "options": {"webrtcAutoAbr": False},
            "renditions": [{"name": "r", "video": "v", "audio": "a"}],
        }
    ],
}

#: (method, path, body, expected status); ``advance`` steps move the simulated clock.
Step = tuple[str, str, Any, int]
WALK: list[Step | tuple[str, float]] = [
    ("GET", "/v1/version", None, 200),
    ("GET", "/v1/vhosts", None, 200),
    ("POST", "/v1/vhosts", [{"name": "walk", "host": {"names": ["walk.example"]}}], 200),
    ("POST", "/v1/vhosts", [{"name": "other"}, {"name": "walk"}, {"nope": 1}], 207),
    ("POST", "/v1/vhosts", [{"name": "walk"}], 409),
    ("POST", "/v1/vhosts", {"name": "x"}, 400),
    ("POST", "/v1/vhosts", b"{bad json", 400),
    ("POST", "/v1/vhosts", [], 200),
    ("GET", "/v1/vhosts/default", None, 200),
    ("GET", V, None, 200),
    ("GET", "/v1/vhosts/nope", None, 404),
    ("GET", "/v1/vhosts:", None, 400),
    ("POST", "/v1/vhosts:reloadAllCertificates", None, 200),
    ("POST", "/v1/vhosts:reloadCertificate", {}, 400),
    ("POST", "/v1/vhosts/default:reloadAllCertificates", {}, 200),
    ("POST", "/v1/vhosts/default:reloadCertificate", None, 200),
    ("POST", "/v1/vhosts/nope:reloadCertificate", None, 404),
    ("POST", "/v1/managers/api:reloadCertificate", None, 200),
    # apps
    ("GET", f"{V}/apps", None, 200),
    (
        "POST",
        f"{V}/apps",
        [{"name": "live", "type": "live", "publishers": {"llhls": {}, "push": {}}}],
        200,
    ),
    (
        "POST",
        f"{V}/apps",
        [{"name": "second", "type": "live"}, {"name": "live", "type": "live"}],
        207,
    ),
    ("POST", f"{V}/apps", [{"name": "live", "type": "live"}], 409),
    ("POST", f"{V}/apps", [{"name": "bad", "type": "bogus"}], 400),
    ("POST", "/v1/vhosts/default/apps", [{"name": "x", "type": "live"}], 403),
    ("GET", A, None, 200),
    ("GET", APP, None, 200),
    ("GET", A + ":", None, 200),
    ("GET", APP + ":", None, 200),
    ("GET", f"{V}/apps/nope", None, 404),
    ("PATCH", A, {"publishers": {"appWorkerCount": 2}}, 200),
    ("PATCH", A, {"name": "renamed"}, 400),
    ("PATCH", APP, {"type": "live"}, 403),
    ("DELETE", f"{V}/apps/second", None, 200),
    # output profiles
    ("GET", f"{A}/outputProfiles", None, 200),
    ("POST", f"{A}/outputProfiles", [PROFILE], 200),
    ("POST", f"{A}/outputProfiles", [PROFILE], 409),
    ("POST", f"{A}/outputProfiles", [{"name": "p3"}], 400),
    ("GET", f"{A}/outputProfiles/low", None, 200),
    ("GET", f"{APP}/outputProfiles/bypass_stream", None, 200),
    ("PATCH", f"{A}/outputProfiles/low", {"outputStreamName": "${OriginStreamName}_x"}, 200),
    # values sent through the API are echoed with their JSON types, as OME does
    ("PATCH", f"{A}/outputProfiles/low", {"outputStreamName": 7}, 200),
    ("DELETE", f"{A}/outputProfiles/low", None, 200),
    ("GET", f"{A}/outputProfiles/low", None, 404),
    # streams
    ("GET", f"{APP}/streams", None, 200),
    ("POST", f"{APP}/streams", {"name": "cam", "urls": ["rtsp://cam.example/live"]}, 201),
    ("POST", f"{APP}/streams", {"name": "cam", "urls": ["rtsp://cam.example/live"]}, 409),
    ("POST", f"{APP}/streams", {"name": "gone", "urls": ["rtsp://host.invalid/x"]}, 502),
    ("POST", f"{APP}/streams", [], 400),
    (
        "POST",
        f"{BARE}/streams",
        {"name": "b", "urls": ["rtmp://origin.example/app/b"], "properties": {"retryCount": 2}},
        201,
    ),
    ("GET", S, None, 200),
    ("GET", f"{APP}/streams/nope", None, 404),
    # push and record
    ("POST", f"{APP}:startPush", PUSH, 200),
    ("POST", f"{APP}:startPush", PUSH, 400),
    ("POST", f"{APP}:startPush", {**PUSH, "protocol": "http"}, 400),
    ("POST", f"{BARE}:startPush", PUSH, 404),
    (
        "POST",
        f"{APP}:startRecord",
        {"id": "rec", "stream": {"name": "cam"}, "interval": 60000},
        200,
    ),
    (
        "POST",
        f"{APP}:startRecord",
        {"id": "rec2", "stream": {"name": "cam"}, "schedule": "0 */5 *"},
        200,
    ),
    ("POST", f"{APP}:startRecord", {"stream": {"name": "cam"}}, 400),
    ("advance", 2.0),
    ("POST", f"{APP}:pushes", None, 200),
    ("POST", f"{APP}:pushes", {"id": "yt"}, 200),
    ("GET", f"{APP}:pushes", None, 200),
    ("GET", f"{BARE}:pushes", None, 200),
    ("POST", f"{APP}:records", {}, 200),
    ("GET", f"{APP}:records", None, 200),
    ("GET", f"{BARE}:records", None, 404),
    ("POST", f"{APP}:stopRecord", {"id": "rec"}, 200),
    ("POST", f"{APP}:stopRecord", {"id": "nope"}, 404),
    ("POST", f"{APP}:stopPush", {"id": "yt"}, 200),
    ("POST", f"{APP}:stopPush", {}, 400),
    ("advance", 2.0),
    ("GET", f"{APP}:records", None, 200),
    ("GET", f"{APP}:pushes", None, 200),
    # stream actions
    ("POST", f"{S}:startHlsDump", {"id": "d", "outputStreamName": "cam", "outputPath": "/d"}, 200),
    ("POST", f"{S}:startHlsDump", {"id": "d", "outputStreamName": "cam", "outputPath": "/d"}, 409),
    ("POST", f"{S}:hlsDumps", {"outputStreamName": "cam"}, 200),
    ("POST", f"{S}:hlsDumps", {"outputStreamName": "nope"}, 404),
    ("POST", f"{S}:hlsDumps", {}, 400),
    ("POST", f"{S}:stopHlsDump", {"outputStreamName": "cam", "id": "d"}, 200),
    (
        "POST",
        f"{S}:sendEvent",
        {"eventFormat": "id3v2", "events": [{"frameType": "TXXX", "info": "i", "data": "d"}]},
        200,
    ),
    (
        "POST",
        f"{S}:sendEvent",
        {"eventFormat": "scte35", "events": [{"id": 1, "type": "out", "duration": 30000}]},
        200,
    ),
    ("POST", f"{S}:sendEvent", {"eventFormat": "amf", "events": [{}]}, 400),
    (
        "POST",
        f"{S}:sendEvents",
        [{"eventFormat": "cue", "events": [{"cueType": "out"}]}, {"eventFormat": "x"}],
        207,
    ),
    ("POST", f"{S}:sendEvents", [{"eventFormat": "cue", "events": [{"cueType": "in"}]}], 200),
    ("POST", f"{S}:sendEvents", [], 400),
    ("POST", f"{S}:concludeHlsLive", None, 200),
    (
        "POST",
        f"{S}:sendSubtitles",
        {"format": "webvtt", "data": [{"label": "en", "subtitles": [{"text": "Hi"}]}]},
        200,
    ),
    ("POST", f"{S}:sendSubtitles", {"format": "srt", "data": [{}]}, 400),
    # scheduled channels
    ("GET", SCH, None, 200),
    ("POST", SCH, SCHEDULE, 201),
    ("POST", SCH, SCHEDULE, 409),
    ("POST", SCH, {"stream": {}}, 400),
    ("POST", f"{BARE}/scheduledChannels", SCHEDULE, 403),
    ("GET", f"{SCH}/ch", None, 200),
    ("GET", f"{SCH}/cam", None, 400),
    ("PATCH", f"{SCH}/ch", {"fallbackProgram": {"items": [{"url": "file://b.mp4"}]}}, 201),
    ("advance", 3600.0),
    ("GET", f"{SCH}/ch", None, 200),
    # multiplex channels
    ("GET", MUX, None, 200),
    ("POST", MUX, MULTIPLEX, 201),
    ("POST", MUX, {"outputStream": {}}, 400),
    ("GET", f"{MUX}/mx", None, 200),
    ("GET", f"{MUX}/nope", None, 404),
    ("GET", f"{BARE}/multiplexChannels", None, 404),
    # statistics
    ("GET", "/v1/stats/current", None, 200),
    ("GET", "/v1/stats/current/vhosts/default", None, 200),
    ("GET", "/v1/stats/current/vhosts/default/apps/app", None, 200),
    ("GET", "/v1/stats/current/vhosts/default/apps/app/streams/cam", None, 200),
    ("GET", "/v1/stats/current/vhosts/default/apps/app/streams/nope", None, 404),
    ("GET", "/v1/stats/current/internals", None, 200),
    ("GET", "/v1/stats/current/internals/queues", None, 200),
    # tear down
    ("DELETE", f"{MUX}/mx", None, 200),
    ("DELETE", f"{SCH}/ch", None, 200),
    ("DELETE", S, None, 200),
    ("DELETE", S, None, 404),
    ("DELETE", A, None, 200),
    ("DELETE", APP, None, 403),
    ("DELETE", V, None, 200),
    ("DELETE", "/v1/vhosts/default", None, 403),
    # a vhost whose certificate files do not load is refused, so reloads keep answering 200
    (
        "POST",
        "/v1/vhosts",
        [{"name": "typed", "distribution": 7, "host": {"names": [1], "tls": {"certPath": "x"}}}],
        400,
    ),
    ("POST", "/v1/vhosts:reloadAllCertificates", None, 200),
    ("POST", "/v1/vhosts/typed:reloadCertificate", None, 404),
    ("POST", "/v1/vhosts", [{"name": "typed", "distribution": 7, "host": {"names": [1]}}], 200),
    ("DELETE", "/v1/vhosts/typed", None, 200),
    # errors any operation may answer (the `default` response)
    ("PUT", "/v1/vhosts", [], 405),
    ("GET", "/v1/vhosts", b"x" * (1024 * 1024 + 1), 413),
]


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    """The runtime tests' API (every feature on) with the API's TLS enabled."""
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "api.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "api.key"))
    managers_tls = (
        f"<TLS><CertPath>{tmp_path / 'api.pem'}</CertPath>"
        f"<KeyPath>{tmp_path / 'api.key'}</KeyPath></TLS>"
    )
    return Runtime(tmp_path, runtime_xml(managers_tls=managers_tls))


def test_real_answers_fit_the_document(runtime: Runtime, validator: Validator) -> None:
    router = Router()
    covered: set[tuple[str, str, int]] = set()
    for step in WALK:
        if step[0] == "advance":
            runtime.clock.advance(float(step[1]))
            continue
        method, path, body, expected = step  # type: ignore[misc]
        raw = body if isinstance(body, bytes) else None
        response = runtime.request(method, path, None if raw is not None else body, raw=raw)
        assert response.status == expected, (method, path, response.status, response.body)
        match = router.match(method, path)
        if match is None:  # 405: validated against the operations of that path
            allowed = router.allowed(path)
            assert allowed, (method, path)
            match = router.match(allowed[0], path)
            assert match is not None
            method = allowed[0]
        where = validator.response(template(match.route.pattern), method, response.status)
        assert where is not None, (method, path, response.status)
        decoded = json.loads(response.body)
        assert validator.errors(where, decoded) == [], (method, path, decoded)
        covered.add((method, template(match.route.pattern), response.status))
    # Every routed operation answered at least once with a success.
    successes = {(m, p) for m, p, status in covered if status < 300}
    routes = {(m, template(r.pattern)) for r in ROUTES for m in r.methods}
    half_routes = {("GET", "/v1/vhosts:"), ("POST", "/v1/vhosts:reloadCertificate")}
    assert routes - half_routes - successes == set()


def test_unauthorized_and_preflight_fit_the_document(
    runtime: Runtime, validator: Validator
) -> None:
    from omeapi._wire.request import ApiRequest

    for route in ROUTES:
        path = template(route.pattern).format(vhost="default", app="app", stream="s", profile="p")
        for method in route.methods:
            response = runtime.api.handle(ApiRequest.build(method, path, {"Host": "x"}, b""))
            assert response.status == 401
            assert ("WWW-Authenticate", 'Basic realm="OvenMediaEngine"') in response.headers
            where = validator.response(template(route.pattern), method, 401)
            assert where is not None
            assert validator.errors(where, json.loads(response.body)) == []
        preflight = runtime.api.handle(
            ApiRequest.build("OPTIONS", path, {"Origin": "http://a.example"}, b"")
        )
        assert (preflight.status, preflight.body) == (204, b"")
        assert validator.response(template(route.pattern), "OPTIONS", 204) is None
