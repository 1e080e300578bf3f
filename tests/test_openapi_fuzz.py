"""schemathesis against the served app: requests generated from ``docs/openapi.yaml`` go
through the Werkzeug adapter in process (the WSGI app ``omeapi serve`` runs), and every answer
must be no server error and must match the schema and media type the document gives for its
status.  Both wires: 0.20's with ``docs/openapi.yaml``, and 0.21's with
``docs/openapi-0.21.yaml`` on the operations that differ (:data:`DIFFERING_0_21`).

Before every request the app is brought back to a known state (a writable vhost ``fuzz``,
apps with every runtime feature, live streams, a scheduled and a multiplex channel, an output
profile), and path parameters are drawn most of the time from those names, so that requests
reach the controllers instead of stopping at a 404.

Bounded and repeatable: ``OMEAPI_FUZZ_EXAMPLES`` examples per operation (default 12) and a
fixed seed (``OMEAPI_FUZZ_SEED``); one to two minutes on two cores.  Longer hunts:
``OMEAPI_FUZZ_EXAMPLES=200 OMEAPI_FUZZ_SEED=$RANDOM OMEAPI_FUZZ_MODE=all python -m pytest
tests/test_openapi_fuzz.py``.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import runtime_xml

schemathesis = pytest.importorskip("schemathesis")
trustme = pytest.importorskip("trustme")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)
from werkzeug.test import Client  # noqa: E402

from omeapi_werkzeug import WsgiApp, create_app  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Each wire's document (0.21's is generated from 0.20's).
DOC_PATHS = {"0.20": DOCS / "openapi.yaml", "0.21": DOCS / "openapi-0.21.yaml"}
#: On the 0.21 wire only the operations whose requests or answers differ from 0.20's are
#: run (the rest is the same code, already run on 0.20's): it keeps the run's time bounded.
DIFFERING_0_21 = (
    r"^/v1/version$"
    r"|^/v1/stats/current/internals/queues$"
    r"|^/v1/vhosts/\{vhost\}/apps(/\{app\})?$"
    r"|^/v1/vhosts/\{vhost\}/apps/\{app\}/streams(/\{stream\})?$"
    r"|:(sendEvents?|enableStt|disableStt|sttStatus)$"
)
TOKEN = "ome-access-token"
AUTH = {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()}
EXAMPLES = int(os.environ.get("OMEAPI_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("OMEAPI_FUZZ_SEED", "20261126"))
#: ``negative`` (or ``all``) also sends requests that break the document; their answers are
#: then only checked for server errors (a broken request may reach another route).
MODE = os.environ.get("OMEAPI_FUZZ_MODE", "positive")

#: Names that exist before every request; path parameters are mostly drawn from these.
NAMES = {
    "vhosts": ["default", "fuzz"],
    "apps": ["app", "live"],
    "streams": ["cam", "ch", "mx"],
    "profiles": ["bypass_stream", "low"],
}
LIKELY = 0.8

#: The documented server errors a client's request can lead to, by operation: a pull whose
#: sources cannot be reached (502 Bad Gateway), and certificate reloads when a vhost's
#: certificate files do not load (500; a vhost created through the API may name files that do
#: not exist, which OME accepts too).  Nothing else may answer 5xx.
EXPECTED_5XX = {
    ("POST", "/v1/vhosts/{vhost}/apps/{app}/streams"): (502, "[HTTP] Could not pull the stream : "),
    **{
        ("POST", path): (
            500,
            "[HTTP] Failed to reload certificate. Check server log for more information. (500)",
        )
        for path in (
            "/v1/vhosts:reloadAllCertificates",
            "/v1/vhosts/{vhost}:reloadAllCertificates",
            "/v1/vhosts/{vhost}:reloadCertificate",
        )
    },
}

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

LIVE_APP = {
    "name": "live",
    "type": "live",
    "providers": {
        "rtmp": {},
        "rtspPull": {},
        "schedule": {"scheduleFilesDir": "fuzz_schedules"},
        "multiplex": {"muxFilesDir": "fuzz_mux"},
    },
    "publishers": {"llhls": {}, "push": {}, "file": {"rootPath": "/recordings"}},
}
PROFILE = {
    "name": "low",
    "outputStreamName": "${OriginStreamName}_low",
    "encodes": {"videos": [{"name": "h264", "codec": "h264", "height": 360, "bitrate": 800000}]},
}
SCHEDULE = {
    "stream": {"name": "ch"},
    "programs": [
        {
            "name": "loop",
            "scheduled": "2020-01-01T00:00:00.000+00:00",
            "repeat": True,
            "items": [{"url": "file://loop.mp4", "duration": 60000}],
        }
    ],
}
MULTIPLEX = {
    "outputStream": {"name": "mx"},
    "sourceStreams": [
        {
            "name": "cam",
            "url": "stream://default/app/cam",
            "trackMap": [{"sourceTrackName": "bypass_video", "newTrackName": "v"}],
        }
    ],
}

#: (method, path, body, the statuses that mean "it is there now")
STATE: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("POST", "/v1/vhosts", [{"name": "fuzz"}], (200, 409)),
    ("POST", "/v1/vhosts/fuzz/apps", [LIVE_APP], (200, 409)),
    ("POST", "/v1/vhosts/fuzz/apps/live/outputProfiles", [PROFILE], (200, 409)),
    *(
        (
            "POST",
            f"/v1/vhosts/{app}/{kind}",
            body,
            (201, 409),
        )
        for app in ("default/apps/app", "fuzz/apps/live")
        for kind, body in (
            ("streams", {"name": "cam", "urls": ["rtsp://camera.example/live"]}),
            ("scheduledChannels", SCHEDULE),
            ("multiplexChannels", MULTIPLEX),
        )
    ),
]


def _restore(client: Client) -> None:
    """Create again whatever the previous requests deleted."""
    for method, path, body, statuses in STATE:
        response = client.open(path, method=method, json=body, headers=AUTH)
        assert response.status_code in statuses, (method, path, response.get_data())


def _schema(version: str) -> tuple[Any, WsgiApp]:
    # Built at import: schemathesis's pytest integration makes one test per operation at
    # collection (its fixture-based loader, ``schemathesis.pytest.from_fixture``, fails on
    # pytest 9 in schemathesis 4.32).  The config, its certificate and the channel files live
    # in a temporary directory.
    directory = Path(tempfile.mkdtemp(prefix="omeapi-fuzz-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    leaf = trustme.CA().issue_cert("localhost")
    leaf.cert_chain_pems[0].write_to_path(str(directory / "api.pem"))
    leaf.private_key_pem.write_to_path(str(directory / "api.key"))
    tls = "<TLS><CertPath>api.pem</CertPath><KeyPath>api.key</KeyPath></TLS>"
    config = directory / "Server.xml"
    config.write_text(runtime_xml(managers_tls=tls), encoding="utf-8")
    app = create_app(config, brake=False, environ={}, ome_version=version)
    settings = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Slow or much-filtered generation is not a finding (and CI machines are slow).
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "generation": {
                "mode": MODE,
                # 0.21's operations are the same code as 0.20's: half as many examples
                "max-examples": EXAMPLES if version == "0.20" else max(1, EXAMPLES // 2),
                "with-security-parameters": False,
                "no-shrink": True,
            },
            "phases": {"stateful": {"enabled": False}},
            "dictionaries": {name: {"values": values} for name, values in NAMES.items()},
            "parameters": {
                f"path.{name}": {"dictionary": dictionary, "probability": LIKELY}
                for name, dictionary in (
                    ("vhost", "vhosts"),
                    ("app", "apps"),
                    ("stream", "streams"),
                    ("profile", "profiles"),
                )
            }
            | {
                "body.outputStreamName": {"dictionary": "streams", "probability": LIKELY},
                "body.stream.name": {"dictionary": "streams", "probability": LIKELY},
            },
        }
    )
    loaded = schemathesis.openapi.from_path(DOC_PATHS[version], config=settings)
    if version != "0.20":
        loaded = loaded.include(path_regex=DIFFERING_0_21)
    loaded.app = app
    return loaded, app


schema, APP = _schema("0.20")
CLIENT = Client(APP)
schema_0_21, APP_0_21 = _schema("0.21")
CLIENT_0_21 = Client(APP_0_21)


@schema.parametrize()
def test_no_server_error_and_answers_match_the_document(case: Any) -> None:
    _check(CLIENT, case)


@schema_0_21.parametrize()
def test_0_21_no_server_error_and_answers_match_its_document(case: Any) -> None:
    _check(CLIENT_0_21, case)


def _check(client: Client, case: Any) -> None:
    _restore(client)
    response = case.call(headers=AUTH)
    checks = CHECKS if MODE == "positive" else [not_a_server_error]
    expected = EXPECTED_5XX.get((case.method.upper(), case.path))
    if expected is not None and response.status_code == expected[0]:
        assert response.json()["message"].startswith(expected[1])
        checks = [c for c in checks if c is not not_a_server_error]
    if checks:  # (no checks would mean "every check schemathesis has")
        case.validate_response(response, checks=checks, headers=AUTH)
