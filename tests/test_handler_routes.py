"""Routes and routing: every success and error of ome-rest-api.md §4.1–4.4 and the rules of
§1–3, as tables.

* ``OBSERVED_*``: requests that a real OME 0.20 answered (``ome-observed.md``), with its
  bodies byte for byte.  The fixture's Server.xml mirrors that OME's, so no name is adapted.
* ``SPEC_ROWS``: one row per success and per error of §4.1–4.4 that the observed run did not
  cover, on a world with a config vhost ``default`` (app ``app``) and an API-created vhost
  ``dynvh`` (app ``dyn`` with OME's defaults plus an output profile ``p2``).
* Routing (§1–3 and contract §2): auth before routing, 404 vs 405 with ``Allow``, HEAD,
  OPTIONS, trailing slashes, ``:`` in names, query strings, case, body limit, strict JSON.

Every response of every table is also checked for the envelope form: compact JSON with
sorted keys, ``Content-Type: application/json;charset=UTF-8``, ``Server: OvenMediaEngine``,
``Vary: Origin`` and a ``Content-Length`` equal to the body's length.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest
from conftest import AUTH, JSON_TYPE, Client, make_api, profile_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omeapi import _messages as msg
from omeapi._version import OME_API_VERSION, __version__
from omeapi._wire.envelope import ItemResult, multi, reason_phrase
from omeapi._wire.request import ApiResponse

CFG = "/v1/vhosts/default/apps/app"
DYN = "/v1/vhosts/dynvh/apps/dyn"
UNAUTH_BODY = (
    b'{"message":"[HTTP] Authorization header is required to call API (401)","statusCode":401}'
)
NOT_FOUND = b'{"message":"[HTTP] Controller not found (404)","statusCode":404}'


# -- expected bodies ------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def E(status: int, text: str) -> bytes:
    """OME's thrown-error envelope."""
    return dumps({"message": f"[HTTP] {text} ({status})", "statusCode": status})


def C(text: str) -> bytes:
    """A config error that reached the top level."""
    return dumps({"message": f"[Config] {text}", "statusCode": 400})


def S(status: int) -> bytes:
    """A plain success: the reason phrase as the message."""
    return dumps({"message": reason_phrase(status), "statusCode": status})


def OK(response: Any) -> bytes:
    return dumps({"message": "OK", "response": response, "statusCode": 200})


def item(status: int, text: str) -> dict[str, Any]:
    """A failed entry of a multi-item answer (raw text)."""
    return {"message": text, "statusCode": status}


def ok_item(response: Any) -> dict[str, Any]:
    return {"message": "OK", "response": response, "statusCode": 200}


def M(*items: dict[str, Any]) -> bytes:
    """A multi-item answer: the bare array."""
    return dumps(list(items))


def check_envelope_form(response: ApiResponse, *, head: bool = False) -> None:
    """What every JSON answer of the API carries (ome-rest-api.md §3.5, contract §1)."""
    headers = dict(response.headers)
    assert len(headers) == len(response.headers), response.headers  # no header twice
    assert headers["Content-Type"] == JSON_TYPE
    assert headers["Server"] == "OvenMediaEngine"
    assert headers["Vary"] == "Origin"
    if head:
        assert response.body == b""
        return
    assert headers["Content-Length"] == str(len(response.body))
    value = json.loads(response.body)
    assert dumps(value) == response.body, "not compact with sorted keys"
    if isinstance(value, dict):
        assert value["statusCode"] == response.status
        assert set(value) <= {"message", "response", "statusCode"}
    else:  # a multi-item answer
        assert isinstance(value, list)
        for entry in value:
            assert set(entry) <= {"message", "response", "statusCode"}


# -- the observed OME -----------------------------------------------------------------------------


class Observed(NamedTuple):
    case: int  # the case number in ome-observed.md
    method: str
    path: str
    body: bytes | None
    status: int
    expected: bytes


#: Observed cases on the Server.xml vhost ``default`` and its app ``app`` (state unchanged).
OBSERVED_CONFIG = [
    # 15. Correct token
    Observed(
        15,
        "GET",
        "/v1/vhosts",
        None,
        200,
        b'{"message":"OK","response":["default"],"statusCode":200}',
    ),
    # 17. GET vhost default
    Observed(
        17,
        "GET",
        "/v1/vhosts/default",
        None,
        200,
        (
            b'{"message":"OK","response":{"distribution":"ome-oracle","host":{"names'
            b'":["*"]},"name":"default"},"statusCode":200}'
        ),
    ),
    # 18. GET vhost nope
    Observed(
        18,
        "GET",
        "/v1/vhosts/nope",
        None,
        404,
        b'{"message":"[HTTP] Could not find the virtual host: [nope] (404)","statusCode":404}',
    ),
    # 19. DELETE config vhost default
    Observed(
        19,
        "DELETE",
        "/v1/vhosts/default",
        None,
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 20. GET apps
    Observed(
        20,
        "GET",
        "/v1/vhosts/default/apps",
        None,
        200,
        b'{"message":"OK","response":["app"],"statusCode":200}',
    ),
    # 21. GET app 'app'
    Observed(
        21,
        "GET",
        "/v1/vhosts/default/apps/app",
        None,
        200,
        (
            b'{"message":"OK","response":{"dynamic":false,"name":"app","outputProfil'
            b'es":{"outputProfile":[{"encodes":{"audios":[{"bypass":"true","name":"b'
            b'ypass_audio"}],"videos":[{"bypass":"true","name":"bypass_video"}]},"na'
            b'me":"bypass_stream","outputStreamName":"${OriginStreamName}","playlist'
            b's":[{"fileName":"master","name":"default","renditions":[{"audio":"bypa'
            b'ss_audio","name":"bypass","video":"bypass_video"}]}]}]},"providers":{"'
            b'rtmp":{}},"publishers":{"appWorkerCount":"1","llhls":{"chunkDuration":'
            b'"0.5","crossDomains":{"urls":["*"]},"segmentCount":"10","segmentDurati'
            b'on":"6"},"streamWorkerCount":"1"},"type":"live"},"statusCode":200}'
        ),
    ),
    # 22. GET app nope
    Observed(
        22,
        "GET",
        "/v1/vhosts/default/apps/nope",
        None,
        404,
        (
            b'{"message":"[HTTP] Could not find the application: [default/nope] (404'
            b')","statusCode":404}'
        ),
    ),
    # 23. POST create app 'dyn' on config vhost
    Observed(
        23,
        "POST",
        "/v1/vhosts/default/apps",
        b'[{"name":"dyn","type":"live"}]',
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 24. POST with object body (not array)
    Observed(
        24,
        "POST",
        "/v1/vhosts/default/apps",
        b'{"name":"dyn","type":"live"}',
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 25. PATCH config app 'app'
    Observed(
        25,
        "PATCH",
        "/v1/vhosts/default/apps/app",
        b'{"type":"live"}',
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 26. DELETE config app 'app'
    Observed(
        26,
        "DELETE",
        "/v1/vhosts/default/apps/app",
        None,
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 27. Invalid JSON body
    Observed(
        27,
        "POST",
        "/v1/vhosts/default/apps",
        b"{bad json",
        400,
        (
            b'{"message":"[HTTP] [JSON] * Line 1, Column 2\\n  Missing \'}\' or object '
            b'member name\\n (400)","statusCode":400}'
        ),
    ),
    # 28. Empty body POST
    Observed(
        28,
        "POST",
        "/v1/vhosts/default/apps",
        None,
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 42. GET outputProfiles on config app
    Observed(
        42,
        "GET",
        "/v1/vhosts/default/apps/app/outputProfiles",
        None,
        200,
        b'{"message":"OK","response":["bypass_stream"],"statusCode":200}',
    ),
    # 43. GET outputProfile bypass_stream on config app
    Observed(
        43,
        "GET",
        "/v1/vhosts/default/apps/app/outputProfiles/bypass_stream",
        None,
        200,
        (
            b'{"message":"OK","response":{"encodes":{"audios":[{"bypass":"true","nam'
            b'e":"bypass_audio"}],"videos":[{"bypass":"true","name":"bypass_video"}]'
            b'},"name":"bypass_stream","outputStreamName":"${OriginStreamName}","pla'
            b'ylists":[{"fileName":"master","name":"default","renditions":[{"audio":'
            b'"bypass_audio","name":"bypass","video":"bypass_video"}]}]},"statusCode'
            b'":200}'
        ),
    ),
    # 44. POST outputProfile on config app (read-only)
    Observed(
        44,
        "POST",
        "/v1/vhosts/default/apps/app/outputProfiles",
        (
            b'[{"name":"p2","outputStreamName":"${OriginStreamName}_p2","encodes":{"'
            b'videos":[{"name":"bv","bypass":true}]}}]'
        ),
        403,
        b'{"message":"[HTTP] The VirtualHost is read-only: [default] (403)","statusCode":403}',
    ),
    # 85. Unknown path /v1/nope
    Observed(
        85,
        "GET",
        "/v1/nope",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
    # 86. Unknown path /nope
    Observed(
        86,
        "GET",
        "/nope",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
    # 87. Unknown version /v2/vhosts
    Observed(
        87,
        "GET",
        "/v2/vhosts",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
    # 88. Root /
    Observed(
        88,
        "GET",
        "/",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
    # 89. Trailing slash /v1/vhosts/
    Observed(
        89,
        "GET",
        "/v1/vhosts/",
        None,
        404,
        b'{"message":"[HTTP] Could not find the virtual host: [] (404)","statusCode":404}',
    ),
    # 90. Trailing slash /v1/vhosts/default/
    Observed(
        90,
        "GET",
        "/v1/vhosts/default/",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
    # 91. Trailing slash /v1/vhosts/default/apps/
    Observed(
        91,
        "GET",
        "/v1/vhosts/default/apps/",
        None,
        404,
        (b'{"message":"[HTTP] Could not find the application: [default/] (404)","statusCode":404}'),
    ),
    # 92. Query string /v1/vhosts?x=1
    Observed(
        92,
        "GET",
        "/v1/vhosts?x=1",
        None,
        200,
        b'{"message":"OK","response":["default"],"statusCode":200}',
    ),
    # 94. Case: /V1/vhosts
    Observed(
        94,
        "GET",
        "/V1/vhosts",
        None,
        404,
        b'{"message":"[HTTP] Controller not found (404)","statusCode":404}',
    ),
]

#: Observed cases 29–54 and 75–80: one session on an API-created vhost, in order.
OBSERVED_SEQUENCE = [
    # 29. POST create vhost 'dynvh'
    Observed(
        29,
        "POST",
        "/v1/vhosts",
        b'[{"name":"dynvh","host":{"names":["dynvh.local"]}}]',
        200,
        (
            b'[{"message":"OK","response":{"host":{"names":["dynvh.local"]},"name":"'
            b'dynvh"},"statusCode":200}]'
        ),
    ),
    # 30. GET vhosts after create
    Observed(
        30,
        "GET",
        "/v1/vhosts",
        None,
        200,
        b'{"message":"OK","response":["default","dynvh"],"statusCode":200}',
    ),
    # 31. GET vhost dynvh
    Observed(
        31,
        "GET",
        "/v1/vhosts/dynvh",
        None,
        200,
        (
            b'{"message":"OK","response":{"host":{"names":["dynvh.local"]},"name":"d'
            b'ynvh"},"statusCode":200}'
        ),
    ),
    # 32. POST create vhost 'dynvh' again (conflict)
    Observed(
        32,
        "POST",
        "/v1/vhosts",
        b'[{"name":"dynvh","host":{"names":["dynvh.local"]}}]',
        409,
        b'[{"message":"The virtual host already exists: [dynvh]","statusCode":409}]',
    ),
    # 33. POST create app 'dyn' on dynvh (minimal body)
    Observed(
        33,
        "POST",
        "/v1/vhosts/dynvh/apps",
        b'[{"name":"dyn","type":"live"}]',
        200,
        (
            b'[{"message":"OK","response":{"dynamic":false,"name":"dyn","outputProfi'
            b'les":{"outputProfile":[{"encodes":{"audios":[{"bitrate":128000,"bypass'
            b'IfMatch":{"codec":"eq"},"channel":2,"codec":"opus","name":"opus","samp'
            b'lerate":48000},{"bitrate":128000,"bypassIfMatch":{"codec":"eq"},"chann'
            b'el":2,"codec":"aac","name":"aac","samplerate":48000}],"videos":[{"bypa'
            b'ss":true,"name":"bypass_video"}]},"name":"default","outputStreamName":'
            b'"${OriginStreamName}"}]},"providers":{"ovt":{},"rtmp":{},"rtspPull":{}'
            b',"srt":{},"webrtc":{}},"publishers":{"llhls":{},"ovt":{},"webrtc":{}},'
            b'"type":"live"},"statusCode":200}]'
        ),
    ),
    # 34. GET apps on dynvh
    Observed(
        34,
        "GET",
        "/v1/vhosts/dynvh/apps",
        None,
        200,
        b'{"message":"OK","response":["dyn"],"statusCode":200}',
    ),
    # 35. GET app dyn
    Observed(
        35,
        "GET",
        "/v1/vhosts/dynvh/apps/dyn",
        None,
        200,
        (
            b'{"message":"OK","response":{"dynamic":false,"name":"dyn","outputProfil'
            b'es":{"outputProfile":[{"encodes":{"audios":[{"bitrate":128000,"bypassI'
            b'fMatch":{"codec":"eq"},"channel":2,"codec":"opus","name":"opus","sampl'
            b'erate":48000},{"bitrate":128000,"bypassIfMatch":{"codec":"eq"},"channe'
            b'l":2,"codec":"aac","name":"aac","samplerate":48000}],"videos":[{"bypas'
            b's":true,"name":"bypass_video"}]},"name":"default","outputStreamName":"'
            b'${OriginStreamName}"}]},"providers":{"ovt":{},"rtmp":{},"rtspPull":{},'
            b'"srt":{},"webrtc":{}},"publishers":{"llhls":{},"ovt":{},"webrtc":{}},"'
            b'type":"live"},"statusCode":200}'
        ),
    ),
    # 36. POST create app 'dyn' again (conflict)
    Observed(
        36,
        "POST",
        "/v1/vhosts/dynvh/apps",
        b'[{"name":"dyn","type":"live"}]',
        409,
        (
            b'[{"message":"Could not create the application: [dynvh/dyn] already exi'
            b'sts","statusCode":409}]'
        ),
    ),
    # 37. POST two apps, one invalid (multi-status?)
    Observed(
        37,
        "POST",
        "/v1/vhosts/dynvh/apps",
        b'[{"name":"dyn2","type":"live"},{"name":"dyn","type":"live"}]',
        207,
        (
            b'[{"message":"OK","response":{"dynamic":false,"name":"dyn2","outputProf'
            b'iles":{"outputProfile":[{"encodes":{"audios":[{"bitrate":128000,"bypas'
            b'sIfMatch":{"codec":"eq"},"channel":2,"codec":"opus","name":"opus","sam'
            b'plerate":48000},{"bitrate":128000,"bypassIfMatch":{"codec":"eq"},"chan'
            b'nel":2,"codec":"aac","name":"aac","samplerate":48000}],"videos":[{"byp'
            b'ass":true,"name":"bypass_video"}]},"name":"default","outputStreamName"'
            b':"${OriginStreamName}"}]},"providers":{"ovt":{},"rtmp":{},"rtspPull":{'
            b'},"srt":{},"webrtc":{}},"publishers":{"llhls":{},"ovt":{},"webrtc":{}}'
            b',"type":"live"},"statusCode":200},{"message":"Could not create the app'
            b'lication: [dynvh/dyn] already exists","statusCode":409}]'
        ),
    ),
    # 38. POST app with invalid type
    Observed(
        38,
        "POST",
        "/v1/vhosts/dynvh/apps",
        b'[{"name":"dyn3","type":"bogus"}]',
        400,
        b'{"message":"[Config] Unknown type: bogus","statusCode":400}',
    ),
    # 39. PATCH app dyn
    Observed(
        39,
        "PATCH",
        "/v1/vhosts/dynvh/apps/dyn",
        b'{"publishers":{"appWorkerCount":2}}',
        200,
        (
            b'{"message":"OK","response":{"dynamic":false,"name":"dyn","outputProfil'
            b'es":{"outputProfile":[{"encodes":{"audios":[{"bitrate":128000,"bypassI'
            b'fMatch":{"codec":"eq"},"channel":2,"codec":"opus","name":"opus","sampl'
            b'erate":48000},{"bitrate":128000,"bypassIfMatch":{"codec":"eq"},"channe'
            b'l":2,"codec":"aac","name":"aac","samplerate":48000}],"videos":[{"bypas'
            b's":true,"name":"bypass_video"}]},"name":"default","outputStreamName":"'
            b'${OriginStreamName}"}]},"providers":{"ovt":{},"rtmp":{},"rtspPull":{},'
            b'"srt":{},"webrtc":{}},"publishers":{"appWorkerCount":2,"llhls":{},"ovt'
            b'":{},"webrtc":{}},"type":"live"},"statusCode":200}'
        ),
    ),
    # 40. PATCH app dyn: change name (rejected)
    Observed(
        40,
        "PATCH",
        "/v1/vhosts/dynvh/apps/dyn",
        b'{"name":"other"}',
        400,
        b'{"message":"[HTTP] Cannot change [name] using this API (400)","statusCode":400}',
    ),
    # 41. PATCH app dyn: array body
    Observed(
        41,
        "PATCH",
        "/v1/vhosts/dynvh/apps/dyn",
        b"[]",
        400,
        b'{"message":"[HTTP] Request body must be an object (400)","statusCode":400}',
    ),
    # 45. GET outputProfiles on dyn
    Observed(
        45,
        "GET",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles",
        None,
        200,
        b'{"message":"OK","response":["default"],"statusCode":200}',
    ),
    # 46. POST outputProfile p2 on dyn
    Observed(
        46,
        "POST",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles",
        (
            b'[{"name":"p2","outputStreamName":"${OriginStreamName}_p2","encodes":{"'
            b'videos":[{"name":"bv","bypass":true}]}}]'
        ),
        200,
        (
            b'[{"message":"OK","response":{"encodes":{"videos":[{"bypass":true,"name'
            b'":"bv"}]},"name":"p2","outputStreamName":"${OriginStreamName}_p2"},"st'
            b'atusCode":200}]'
        ),
    ),
    # 47. POST outputProfile p2 again (conflict)
    Observed(
        47,
        "POST",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles",
        (
            b'[{"name":"p2","outputStreamName":"${OriginStreamName}_p2","encodes":{"'
            b'videos":[{"name":"bv","bypass":true}]}}]'
        ),
        409,
        b'[{"message":"The output profile \\"p2\\" already exists","statusCode":409}]',
    ),
    # 48. POST outputProfile missing encodes
    Observed(
        48,
        "POST",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles",
        b'[{"name":"p3","outputStreamName":"x"}]',
        400,
        (
            b'{"message":"[HTTP] Invalid request body: \\"name\\", \\"outputStreamName\\'
            b'", \\"encodes\\" are required (400)","statusCode":400}'
        ),
    ),
    # 49. GET outputProfile p2
    Observed(
        49,
        "GET",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        None,
        200,
        (
            b'{"message":"OK","response":{"encodes":{"videos":[{"bypass":true,"name"'
            b':"bv"}]},"name":"p2","outputStreamName":"${OriginStreamName}_p2"},"sta'
            b'tusCode":200}'
        ),
    ),
    # 50. PATCH outputProfile p2
    Observed(
        50,
        "PATCH",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        b'{"outputStreamName":"${OriginStreamName}_renamed"}',
        200,
        (
            b'{"message":"OK","response":{"name":"p2","outputStreamName":"${OriginSt'
            b'reamName}_renamed"},"statusCode":200}'
        ),
    ),
    # 51. GET outputProfile p2 after patch
    Observed(
        51,
        "GET",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        None,
        200,
        (
            b'{"message":"OK","response":{"name":"p2","outputStreamName":"${OriginSt'
            b'reamName}_renamed"},"statusCode":200}'
        ),
    ),
    # 52. DELETE outputProfile p2
    Observed(
        52,
        "DELETE",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        None,
        200,
        b'{"message":"OK","statusCode":200}',
    ),
    # 53. GET outputProfile p2 after delete
    Observed(
        53,
        "GET",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        None,
        404,
        (
            b'{"message":"[HTTP] Could not find the output profile: [dynvh/dyn/p2] ('
            b'404)","statusCode":404}'
        ),
    ),
    # 54. DELETE outputProfile p2 again
    Observed(
        54,
        "DELETE",
        "/v1/vhosts/dynvh/apps/dyn/outputProfiles/p2",
        None,
        404,
        (
            b'{"message":"[HTTP] Could not find the output profile: [dynvh/dyn/p2] ('
            b'404)","statusCode":404}'
        ),
    ),
    # 75. DELETE app dyn
    Observed(
        75,
        "DELETE",
        "/v1/vhosts/dynvh/apps/dyn",
        None,
        200,
        b'{"message":"OK","statusCode":200}',
    ),
    # 76. DELETE app dyn again
    Observed(
        76,
        "DELETE",
        "/v1/vhosts/dynvh/apps/dyn",
        None,
        404,
        (
            b'{"message":"[HTTP] Could not find the application: [dynvh/dyn] (404)",'
            b'"statusCode":404}'
        ),
    ),
    # 77. GET apps on dynvh after delete
    Observed(
        77,
        "GET",
        "/v1/vhosts/dynvh/apps",
        None,
        200,
        b'{"message":"OK","response":["dyn2"],"statusCode":200}',
    ),
    # 78. DELETE app dyn2 (created by the multi-status POST)
    Observed(
        78,
        "DELETE",
        "/v1/vhosts/dynvh/apps/dyn2",
        None,
        200,
        b'{"message":"OK","statusCode":200}',
    ),
    # 79. DELETE vhost dynvh
    Observed(
        79,
        "DELETE",
        "/v1/vhosts/dynvh",
        None,
        200,
        b'{"message":"OK","statusCode":200}',
    ),
    # 80. GET vhosts after delete
    Observed(
        80,
        "GET",
        "/v1/vhosts",
        None,
        200,
        b'{"message":"OK","response":["default"],"statusCode":200}',
    ),
]


def _send(client: Client, row: Observed) -> ApiResponse:
    return client.request(row.method, row.path, row.body)


@pytest.mark.parametrize("row", OBSERVED_CONFIG, ids=lambda r: f"case{r.case}")
def test_observed_on_config_vhost(client: Client, row: Observed) -> None:
    response = _send(client, row)
    assert (response.status, response.body) == (row.status, row.expected)
    check_envelope_form(response)


@pytest.mark.parametrize(
    "index", range(len(OBSERVED_SEQUENCE)), ids=lambda i: f"case{OBSERVED_SEQUENCE[i].case}"
)
def test_observed_sequence(client: Client, index: int) -> None:
    """Replays the observed session up to one case, then compares that case's answer."""
    for earlier in OBSERVED_SEQUENCE[:index]:
        assert _send(client, earlier).status == earlier.status, f"case {earlier.case}"
    row = OBSERVED_SEQUENCE[index]
    response = _send(client, row)
    assert (response.status, response.body) == (row.status, row.expected)
    check_envelope_form(response)


def test_observed_head(client: Client) -> None:
    """Case 84: HEAD answers like GET (status, headers, Content-Length 56) without a body."""
    response = client.request("HEAD", "/v1/vhosts")
    assert response.status == 200
    assert response.body == b""
    assert response.header("Content-Length") == "56"
    check_envelope_form(response, head=True)


@pytest.mark.parametrize("path", ["/v1/vhosts", "/nope"], ids=["case1", "case14"])
def test_observed_no_auth(client: Client, path: str) -> None:
    """Cases 1 and 14: authentication runs before routing, so an unknown path is 401 too."""
    response = client.get(path, auth=False)
    assert (response.status, response.body) == (401, UNAUTH_BODY)
    assert response.header("WWW-Authenticate") == 'Basic realm="OvenMediaEngine"'
    check_envelope_form(response)


@pytest.mark.parametrize(
    ("case", "method", "path", "allow"),
    [
        (81, "PUT", "/v1/vhosts", "GET, HEAD, POST, OPTIONS"),
        (82, "DELETE", "/v1/vhosts", "GET, HEAD, POST, OPTIONS"),
        (83, "POST", "/v1/version", "GET, HEAD, OPTIONS"),
    ],
)
def test_observed_wrong_method_is_405(
    client: Client, case: int, method: str, path: str, allow: str
) -> None:
    """Cases 81–83: OME says 404 ``Controller not found``; contract §2: 405 with ``Allow``."""
    response = client.request(method, path, b"[]" if method == "PUT" else None)
    assert response.status == 405
    assert response.body == E(405, f"Method not allowed: {method}")
    assert response.header("Allow") == allow
    check_envelope_form(response)


# -- the world of SPEC_ROWS -----------------------------------------------------------------------

_OBSERVED = {row.case: row for row in OBSERVED_SEQUENCE}
#: What OME answers for an app POSTed as ``{"name": "dyn", "type": "live"}`` (case 35).
DYN_DEFAULTS: dict[str, Any] = json.loads(_OBSERVED[35].expected)["response"]
P2 = profile_body("p2")  # as POSTed in case 46
P3 = profile_body("p3")
DEFAULT_PROFILE = DYN_DEFAULTS["outputProfiles"]["outputProfile"][0]


def default_app(name: str, **changes: Any) -> dict[str, Any]:
    """The JSON of an app POSTed with only a name and ``type: live``."""
    return {**DYN_DEFAULTS, "name": name, **changes}


def dyn_json(*profiles: dict[str, Any], dynamic: bool | None = False) -> dict[str, Any]:
    out = default_app("dyn", outputProfiles={"outputProfile": [DEFAULT_PROFILE, *profiles]})
    if dynamic is None:
        del out["dynamic"]
    return out


@pytest.fixture
def world(dyn: Client) -> Client:
    """Config vhost ``default``/``app``; API vhost ``dynvh``/``dyn`` with profile ``p2``."""
    dyn.ok("POST", DYN + "/outputProfiles", [P2])
    return dyn


class Row(NamedTuple):
    id: str
    method: str
    path: str
    body: Any  # JSON value (None: no body) or raw bytes
    status: int
    expected: bytes


R = Row
NOT_ARRAY = E(400, msg.BODY_MUST_BE_ARRAY.text)
NOT_OBJECT = E(400, msg.BODY_MUST_BE_OBJECT.text)
NOT_OBJECTS = E(400, "Request body must be an array of objects")  # OME: a jsoncpp 500
BAD_JSON = b"{bad json"
BAD_JSON_ERROR = E(400, "[JSON] * Line 1, Column 2\n  Missing '}' or object member name\n")
RO = E(403, "The VirtualHost is read-only: [default]")
NO_VHOST = E(404, "Could not find the virtual host: [nope]")
NO_APP = E(404, "Could not find the application: [dynvh/nope]")
NO_PROFILE = E(404, "Could not find the output profile: [dynvh/dyn/nope]")
PROFILE_REQUIRED = E(
    400, 'Invalid request body: "name", "outputStreamName", "encodes" are required'
)
PROFILE_TYPES = E(
    400, 'Invalid request body: "name" must be a string and "encodes" must be an object'
)
PROFILE_NO_ENCODES = E(
    400,
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)',
)
PROFILE_EMPTY_ENCODES = E(
    400,
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)'
    " and each item must have at least one item",
)
VIDEO = {"name": "bv", "bypass": True}


def _profile(**fields: Any) -> dict[str, Any]:
    return {"name": "p3", "outputStreamName": "s", "encodes": {"videos": [VIDEO]}, **fields}


# fmt: off
SPEC_ROWS = [
    # ---- §4.1 version ----
    R("version", "GET", "/v1/version", None, 200,
      OK({"gitVersion": f"omeapi-{__version__}", "version": OME_API_VERSION})),
    # ---- §4.2 GET /v1/vhosts: config order, then creation order ----
    R("vhosts-list", "GET", "/v1/vhosts", None, 200, OK(["default", "dynvh"])),
    # ---- POST /v1/vhosts (multi) ----
    R("vhosts-post-object", "POST", "/v1/vhosts", {"name": "v2"}, 400, NOT_ARRAY),
    R("vhosts-post-no-body", "POST", "/v1/vhosts", None, 400, NOT_ARRAY),
    R("vhosts-post-string", "POST", "/v1/vhosts", b'"v2"', 400, NOT_ARRAY),
    R("vhosts-post-bad-json", "POST", "/v1/vhosts", BAD_JSON, 400, BAD_JSON_ERROR),
    R("vhosts-post-empty", "POST", "/v1/vhosts", [], 200, b"[]"),
    R("vhosts-post-one", "POST", "/v1/vhosts",
      [{"name": "v2", "distribution": "d", "host": {"names": ["a", "b"]}}], 200,
      M(ok_item({"distribution": "d", "host": {"names": ["a", "b"]}, "name": "v2"}))),
    R("vhosts-post-apps-not-echoed", "POST", "/v1/vhosts",
      [{"name": "v2", "applications": {"application": [{"name": "a", "type": "live"}]}}], 200,
      M(ok_item({"name": "v2"}))),
    R("vhosts-post-no-name", "POST", "/v1/vhosts", [{}], 400,
      M(item(400, "[Config] virtualHost.name is not optional"))),
    R("vhosts-post-null-item", "POST", "/v1/vhosts", [None], 400,
      M(item(400, "[Config] virtualHost.name is not optional"))),
    R("vhosts-post-unknown-key", "POST", "/v1/vhosts", [{"name": "v2", "bogus": 1}], 400,
      M(item(400, "[Config] Unknown item found: virtualHost.bogus"))),
    R("vhosts-post-exists-config", "POST", "/v1/vhosts", [{"name": "default"}], 409,
      M(item(409, "The virtual host already exists: [default]"))),
    R("vhosts-post-exists-api", "POST", "/v1/vhosts", [{"name": "dynvh"}], 409,
      M(item(409, "The virtual host already exists: [dynvh]"))),
    R("vhosts-post-twice-in-one", "POST", "/v1/vhosts", [{"name": "v2"}, {"name": "v2"}], 207,
      M(ok_item({"name": "v2"}), item(409, "The virtual host already exists: [v2]"))),
    R("vhosts-post-all-400", "POST", "/v1/vhosts", [{}, {"name": "v2", "bogus": 1}], 400,
      M(item(400, "[Config] virtualHost.name is not optional"),
        item(400, "[Config] Unknown item found: virtualHost.bogus"))),
    R("vhosts-post-mixed", "POST", "/v1/vhosts", [{"name": "v2"}, None, {"name": "dynvh"}], 207,
      M(ok_item({"name": "v2"}), item(400, "[Config] virtualHost.name is not optional"),
        item(409, "The virtual host already exists: [dynvh]"))),
    R("vhosts-post-app-fails", "POST", "/v1/vhosts",
      [{"name": "v2", "applications": {"application": [{"name": "a", "type": "live"}] * 2}}],
      400, M(item(400, "Failed to create the virtual host: [v2]"))),
    # ---- GET /v1/vhosts/{vhost} ----
    R("vhost-get-api", "GET", "/v1/vhosts/dynvh", None, 200, OK({"name": "dynvh"})),
    R("vhost-get-missing", "GET", "/v1/vhosts/nope", None, 404, NO_VHOST),
    R("vhost-get-empty-name", "GET", "/v1/vhosts/", None, 404,
      E(404, "Could not find the virtual host: []")),
    R("vhost-get-colon", "GET", "/v1/vhosts/default:reloadCertificate", None, 404,
      E(404, "Could not find the virtual host: [default:reloadCertificate]")),
    R("vhost-get-case", "GET", "/v1/vhosts/DEFAULT", None, 404,
      E(404, "Could not find the virtual host: [DEFAULT]")),
    R("vhost-get-ignores-body", "GET", "/v1/vhosts/dynvh", BAD_JSON, 200, OK({"name": "dynvh"})),
    # ---- DELETE /v1/vhosts/{vhost}: lookup, then read-only ----
    R("vhost-delete-api", "DELETE", "/v1/vhosts/dynvh", None, 200, S(200)),
    R("vhost-delete-config", "DELETE", "/v1/vhosts/default", None, 403, RO),
    R("vhost-delete-missing", "DELETE", "/v1/vhosts/nope", None, 404, NO_VHOST),
    R("vhost-delete-empty-name", "DELETE", "/v1/vhosts/", None, 404,
      E(404, "Could not find the virtual host: []")),
    R("vhost-delete-ignores-body", "DELETE", "/v1/vhosts/dynvh", BAD_JSON, 200, S(200)),
    # ---- §4.3 GET …/apps ----
    R("apps-list-config", "GET", "/v1/vhosts/default/apps", None, 200, OK(["app"])),
    R("apps-list-api", "GET", "/v1/vhosts/dynvh/apps", None, 200, OK(["dyn"])),
    R("apps-list-missing-vhost", "GET", "/v1/vhosts/nope/apps", None, 404, NO_VHOST),
    # ---- POST …/apps: body parse → vhost → read-only → array ----
    R("apps-post-bad-json-first", "POST", "/v1/vhosts/nope/apps", BAD_JSON, 400, BAD_JSON_ERROR),
    R("apps-post-vhost-before-shape", "POST", "/v1/vhosts/nope/apps", {}, 404, NO_VHOST),
    R("apps-post-ro-before-shape", "POST", "/v1/vhosts/default/apps", [5], 403, RO),
    R("apps-post-object", "POST", "/v1/vhosts/dynvh/apps", {"name": "a"}, 400, NOT_ARRAY),
    R("apps-post-no-body", "POST", "/v1/vhosts/dynvh/apps", None, 400, NOT_ARRAY),
    R("apps-post-empty", "POST", "/v1/vhosts/dynvh/apps", [], 200, b"[]"),
    R("apps-post-one", "POST", "/v1/vhosts/dynvh/apps", [{"name": "a", "type": "live"}], 200,
      M(ok_item(default_app("a")))),
    R("apps-post-vod", "POST", "/v1/vhosts/dynvh/apps", [{"name": "a", "type": "vod"}], 200,
      M(ok_item(default_app("a", type="vod")))),
    R("apps-post-keeps-given", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live", "providers": {"rtmp": {}}}], 200,
      M(ok_item(default_app("a", providers={"rtmp": {}})))),
    R("apps-post-two", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live"}, {"name": "b", "type": "live"}], 200,
      M(ok_item(default_app("a")), ok_item(default_app("b")))),
    R("apps-post-all-exist", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "dyn", "type": "live"}] * 2, 409,
      M(*[item(409, "Could not create the application: [dynvh/dyn] already exists")] * 2)),
    R("apps-post-twice-in-one", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live"}] * 2, 207,
      M(ok_item(default_app("a")),
        item(409, "Could not create the application: [dynvh/a] already exists"))),
    R("apps-post-config-error-aborts", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live"}, {"name": "b", "type": "bogus"}], 400,
      C("Unknown type: bogus")),
    R("apps-post-no-name", "POST", "/v1/vhosts/dynvh/apps", [{"type": "live"}], 400,
      C("application.name is not optional")),
    R("apps-post-no-type", "POST", "/v1/vhosts/dynvh/apps", [{"name": "a"}], 400,
      C("application.type is not optional")),
    R("apps-post-dynamic", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live", "dynamic": False}], 400,
      C("Unknown item found: application.dynamic")),
    R("apps-post-unknown-key", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live", "bogus": {}}], 400,
      C("Unknown item found: application.bogus")),
    R("apps-post-null-item", "POST", "/v1/vhosts/dynvh/apps", [None], 400,
      C("application.name is not optional")),
    R("apps-post-scalar-item", "POST", "/v1/vhosts/dynvh/apps", [5], 400, NOT_OBJECTS),
    # ---- GET …/apps/{app} ----
    R("app-get-api", "GET", DYN, None, 200, OK(dyn_json(P2))),
    R("app-get-vhost-first", "GET", "/v1/vhosts/nope/apps/nope", None, 404, NO_VHOST),
    R("app-get-missing", "GET", "/v1/vhosts/dynvh/apps/nope", None, 404, NO_APP),
    R("app-get-empty-name", "GET", "/v1/vhosts/dynvh/apps/", None, 404,
      E(404, "Could not find the application: [dynvh/]")),
    R("app-get-case", "GET", "/v1/vhosts/dynvh/apps/DYN", None, 404,
      E(404, "Could not find the application: [dynvh/DYN]")),
    R("app-get-raw", "GET", DYN + ":", None, 200, OK(dyn_json(P2, dynamic=None))),
    R("app-get-raw-missing", "GET", "/v1/vhosts/dynvh/apps/nope:", None, 404, NO_APP),
    # ---- PATCH …/apps/{app}: body → vhost → app → read-only → object → keys ----
    R("app-patch-bad-json-first", "PATCH", "/v1/vhosts/nope/apps/nope", BAD_JSON, 400,
      BAD_JSON_ERROR),
    R("app-patch-vhost", "PATCH", "/v1/vhosts/nope/apps/dyn", {}, 404, NO_VHOST),
    R("app-patch-app", "PATCH", "/v1/vhosts/dynvh/apps/nope", [], 404, NO_APP),
    R("app-patch-ro-before-shape", "PATCH", CFG, [], 403, RO),
    R("app-patch-ro-before-keys", "PATCH", CFG, {"name": "x"}, 403, RO),
    R("app-patch-no-body", "PATCH", DYN, None, 400, NOT_OBJECT),
    R("app-patch-string", "PATCH", DYN, b'"x"', 400, NOT_OBJECT),
    R("app-patch-array", "PATCH", DYN, [{}], 400, NOT_OBJECT),
    R("app-patch-name", "PATCH", DYN, {"name": "dyn"}, 400,
      E(400, "Cannot change [name] using this API")),
    R("app-patch-dynamic", "PATCH", DYN, {"dynamic": False}, 400,
      E(400, "Cannot change [dynamic] using this API")),
    R("app-patch-output-profiles", "PATCH", DYN, {"outputProfiles": {}}, 400,
      E(400, "Cannot change [outputProfiles] using this API")),
    R("app-patch-name-checked-first", "PATCH", DYN,
      {"outputProfiles": {}, "dynamic": True, "name": "x"}, 400,
      E(400, "Cannot change [name] using this API")),
    R("app-patch-dynamic-checked-second", "PATCH", DYN, {"outputProfiles": {}, "dynamic": True},
      400, E(400, "Cannot change [dynamic] using this API")),
    R("app-patch-keys-case-sensitive", "PATCH", DYN, {"Name": "x"}, 400,
      C("Unknown item found: application.Name")),
    R("app-patch-unknown", "PATCH", DYN, {"bogus": 1}, 400,
      C("Unknown item found: application.bogus")),
    R("app-patch-nested-unknown", "PATCH", DYN, {"providers": {"bogus": {}}}, 400,
      C("Unknown item found: application.providers.bogus")),
    R("app-patch-bad-type", "PATCH", DYN, {"type": "bogus"}, 400, C("Unknown type: bogus")),
    R("app-patch-deep-merge", "PATCH", DYN, {"publishers": {"llhls": {"chunkDuration": 0.5}}},
      200, OK(dyn_json(P2) | {"publishers": {"llhls": {"chunkDuration": 0.5}, "ovt": {},
                                             "webrtc": {}}})),
    R("app-patch-array-replaces", "PATCH", DYN,
      {"publishers": {"llhls": {"crossDomains": {"urls": ["b"]}}}}, 200,
      OK(dyn_json(P2) | {"publishers": {"llhls": {"crossDomains": {"urls": ["b"]}}, "ovt": {},
                                        "webrtc": {}}})),
    R("app-patch-nothing", "PATCH", DYN, {}, 200, OK(dyn_json(P2))),
    # ---- DELETE …/apps/{app} ----
    R("app-delete", "DELETE", DYN, None, 200, S(200)),
    R("app-delete-ro", "DELETE", CFG, None, 403, RO),
    R("app-delete-ro-missing-app", "DELETE", "/v1/vhosts/default/apps/nope", None, 404,
      E(404, "Could not find the application: [default/nope]")),
    R("app-delete-vhost", "DELETE", "/v1/vhosts/nope/apps/dyn", None, 404, NO_VHOST),
    R("app-delete-missing", "DELETE", "/v1/vhosts/dynvh/apps/nope", None, 404, NO_APP),
    R("app-delete-ignores-body", "DELETE", DYN, BAD_JSON, 200, S(200)),
    # ---- §4.4 GET …/outputProfiles ----
    R("profiles-list", "GET", DYN + "/outputProfiles", None, 200, OK(["default", "p2"])),
    R("profiles-list-app", "GET", "/v1/vhosts/dynvh/apps/nope/outputProfiles", None, 404, NO_APP),
    R("profiles-list-vhost", "GET", "/v1/vhosts/nope/apps/dyn/outputProfiles", None, 404,
      NO_VHOST),
    # ---- GET …/outputProfiles/{profile} ----
    R("profile-get", "GET", DYN + "/outputProfiles/p2", None, 200, OK(P2)),
    R("profile-get-default", "GET", DYN + "/outputProfiles/default", None, 200,
      OK(DEFAULT_PROFILE)),
    R("profile-get-missing", "GET", DYN + "/outputProfiles/nope", None, 404, NO_PROFILE),
    R("profile-get-empty-name", "GET", DYN + "/outputProfiles/", None, 404,
      E(404, "Could not find the output profile: [dynvh/dyn/]")),
    R("profile-get-colon", "GET", DYN + "/outputProfiles/p2:x", None, 404,
      E(404, "Could not find the output profile: [dynvh/dyn/p2:x]")),
    R("profile-get-case", "GET", DYN + "/outputProfiles/P2", None, 404,
      E(404, "Could not find the output profile: [dynvh/dyn/P2]")),
    R("profile-get-app", "GET", "/v1/vhosts/dynvh/apps/nope/outputProfiles/p2", None, 404,
      NO_APP),
    # ---- POST …/outputProfiles: body → vhost → app → read-only → array → each item ----
    R("profiles-post-bad-json-first", "POST", "/v1/vhosts/nope/apps/x/outputProfiles", BAD_JSON,
      400, BAD_JSON_ERROR),
    R("profiles-post-vhost", "POST", "/v1/vhosts/nope/apps/dyn/outputProfiles", {}, 404,
      NO_VHOST),
    R("profiles-post-app", "POST", "/v1/vhosts/dynvh/apps/nope/outputProfiles", {}, 404, NO_APP),
    R("profiles-post-ro-before-shape", "POST", CFG + "/outputProfiles", {}, 403, RO),
    R("profiles-post-object", "POST", DYN + "/outputProfiles", P3, 400, NOT_ARRAY),
    R("profiles-post-no-body", "POST", DYN + "/outputProfiles", None, 400, NOT_ARRAY),
    R("profiles-post-empty", "POST", DYN + "/outputProfiles", [], 200, b"[]"),
    R("profiles-post-one", "POST", DYN + "/outputProfiles", [P3], 200, M(ok_item(P3))),
    R("profiles-post-audio-only", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"audios": [{"name": "a", "bypass": True}]})], 200,
      M(ok_item(_profile(encodes={"audios": [{"name": "a", "bypass": True}]})))),
    R("profiles-post-exists", "POST", DYN + "/outputProfiles", [P2], 409,
      M(item(409, 'The output profile "p2" already exists'))),
    R("profiles-post-all-exist", "POST", DYN + "/outputProfiles",
      [P2, profile_body("default")], 409,
      M(item(409, 'The output profile "p2" already exists'),
        item(409, 'The output profile "default" already exists'))),
    R("profiles-post-twice-in-one", "POST", DYN + "/outputProfiles", [P3, P3], 207,
      M(ok_item(P3), item(409, 'The output profile "p3" already exists'))),
    R("profiles-post-mixed", "POST", DYN + "/outputProfiles", [P2, P3], 207,
      M(item(409, 'The output profile "p2" already exists'), ok_item(P3))),
    R("profiles-post-no-name", "POST", DYN + "/outputProfiles",
      [{"outputStreamName": "s", "encodes": {"videos": [VIDEO]}}], 400, PROFILE_REQUIRED),
    R("profiles-post-no-stream-name", "POST", DYN + "/outputProfiles",
      [{"name": "p3", "encodes": {"videos": [VIDEO]}}], 400, PROFILE_REQUIRED),
    R("profiles-post-no-encodes", "POST", DYN + "/outputProfiles",
      [{"name": "p3", "outputStreamName": "s"}], 400, PROFILE_REQUIRED),
    R("profiles-post-null-item", "POST", DYN + "/outputProfiles", [None], 400, PROFILE_REQUIRED),
    R("profiles-post-empty-item", "POST", DYN + "/outputProfiles", [{}], 400, PROFILE_REQUIRED),
    R("profiles-post-name-type", "POST", DYN + "/outputProfiles", [_profile(name=3)], 400,
      PROFILE_TYPES),
    R("profiles-post-stream-name-type", "POST", DYN + "/outputProfiles",
      [_profile(outputStreamName=None)], 400, PROFILE_TYPES),
    R("profiles-post-encodes-type", "POST", DYN + "/outputProfiles",
      [_profile(encodes=[VIDEO])], 400, PROFILE_TYPES),
    R("profiles-post-encodes-empty", "POST", DYN + "/outputProfiles", [_profile(encodes={})],
      400, PROFILE_NO_ENCODES),
    R("profiles-post-encodes-other", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"images": []})], 400, PROFILE_NO_ENCODES),
    R("profiles-post-videos-type", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"videos": VIDEO})], 400,
      E(400, 'Invalid request body: "encodes.videos" must be an array')),
    R("profiles-post-audios-type", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"videos": [VIDEO], "audios": "x"})], 400,
      E(400, 'Invalid request body: "encodes.audios" must be an array')),
    R("profiles-post-videos-empty", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"videos": []})], 400, PROFILE_EMPTY_ENCODES),
    R("profiles-post-both-empty", "POST", DYN + "/outputProfiles",
      [_profile(encodes={"videos": [], "audios": []})], 400, PROFILE_EMPTY_ENCODES),
    R("profiles-post-invalid-aborts", "POST", DYN + "/outputProfiles", [P3, {}], 400,
      PROFILE_REQUIRED),
    R("profiles-post-scalar-item", "POST", DYN + "/outputProfiles", [P3, 5], 400, NOT_OBJECTS),
    R("profiles-post-config-error", "POST", DYN + "/outputProfiles", [_profile(bogus=1)], 400,
      E(400, "[Config] Unknown item found: outputProfile.bogus")),
    # ---- PATCH …/outputProfiles/{profile}: body → lookups → RO → object → profile → name ----
    R("profile-patch-bad-json-first", "PATCH", "/v1/vhosts/nope/apps/x/outputProfiles/y",
      BAD_JSON, 400, BAD_JSON_ERROR),
    R("profile-patch-vhost", "PATCH", "/v1/vhosts/nope/apps/dyn/outputProfiles/p2", {}, 404,
      NO_VHOST),
    R("profile-patch-app", "PATCH", "/v1/vhosts/dynvh/apps/nope/outputProfiles/p2", {}, 404,
      NO_APP),
    R("profile-patch-ro", "PATCH", CFG + "/outputProfiles/bypass_stream", {"name": "x"}, 403, RO),
    R("profile-patch-ro-before-profile", "PATCH", CFG + "/outputProfiles/nope", [], 403, RO),
    R("profile-patch-object-before-profile", "PATCH", DYN + "/outputProfiles/nope", [], 400,
      NOT_OBJECT),
    R("profile-patch-no-body", "PATCH", DYN + "/outputProfiles/p2", None, 400, NOT_OBJECT),
    R("profile-patch-missing", "PATCH", DYN + "/outputProfiles/nope", {"name": "x"}, 404,
      NO_PROFILE),
    R("profile-patch-name", "PATCH", DYN + "/outputProfiles/p2", {"name": "p2"}, 400,
      E(400, "The name entry cannot be specified in the modification")),
    R("profile-patch-name-any-case", "PATCH", DYN + "/outputProfiles/p2", {"NaMe": "x"}, 400,
      E(400, "The NaMe entry cannot be specified in the modification")),
    R("profile-patch-replaces", "PATCH", DYN + "/outputProfiles/p2",
      {"outputStreamName": "s2", "encodes": {"audios": [{"name": "a", "bypass": True}]}}, 200,
      OK({"encodes": {"audios": [{"bypass": True, "name": "a"}]}, "name": "p2",
          "outputStreamName": "s2"})),
    R("profile-patch-config-error", "PATCH", DYN + "/outputProfiles/p2",
      {"outputStreamName": "s", "bogus": 1}, 400,
      E(400, "[Config] Unknown item found: outputProfile.bogus")),
    R("profile-patch-empty", "PATCH", DYN + "/outputProfiles/p2", {}, 400,
      E(400, "[Config] outputProfile.outputStreamName is not optional")),
    # ---- DELETE …/outputProfiles/{profile} ----
    R("profile-delete", "DELETE", DYN + "/outputProfiles/p2", None, 200, S(200)),
    R("profile-delete-default", "DELETE", DYN + "/outputProfiles/default", None, 200, S(200)),
    R("profile-delete-missing", "DELETE", DYN + "/outputProfiles/nope", None, 404, NO_PROFILE),
    R("profile-delete-ro", "DELETE", CFG + "/outputProfiles/bypass_stream", None, 403, RO),
    R("profile-delete-ro-before-profile", "DELETE", CFG + "/outputProfiles/nope", None, 403, RO),
    R("profile-delete-app", "DELETE", "/v1/vhosts/dynvh/apps/nope/outputProfiles/p2", None, 404,
      NO_APP),
    R("profile-delete-vhost", "DELETE", "/v1/vhosts/nope/apps/dyn/outputProfiles/p2", None, 404,
      NO_VHOST),
]
# fmt: on


def world_state(client: Client) -> dict[str, Any]:
    """Everything the API shows: every vhost's JSON, apps and app JSON, in order."""
    state: dict[str, Any] = {}
    for vhost in client.ok("GET", "/v1/vhosts"):
        apps = client.ok("GET", f"/v1/vhosts/{vhost}/apps")
        state[vhost] = (
            client.ok("GET", f"/v1/vhosts/{vhost}"),
            [(app, client.ok("GET", f"/v1/vhosts/{vhost}/apps/{app}")) for app in apps],
        )
    return state


def assert_engine_agrees(client: Client) -> None:
    """The engine runs exactly the registry's apps, each with the registry's config."""
    snapshot = client.api.registry.snapshot
    expected = {
        (vhost.name, app.name): app.config.to_json()
        for vhost in snapshot.vhosts.values()
        for app in vhost.apps.values()
        if not client.api.coordinator.failed(vhost.name, app.name)
    }
    running = {key: config.to_json() for key, config in client.engine.applications().items()}
    assert running == expected
    assert client.engine.virtual_hosts() == list(snapshot.vhosts)


#: Rows whose error leaves earlier items of the same request in place (as OME does).
PARTIAL_ROWS = {"apps-post-config-error-aborts"}

#: What a successful row changed, seen through GETs: row id → [(path, expected response)].
EFFECTS: dict[str, list[tuple[str, Any]]] = {
    "vhosts-post-one": [("/v1/vhosts", ["default", "dynvh", "v2"])],
    "vhosts-post-apps-not-echoed": [
        ("/v1/vhosts/v2/apps", ["a"]),
        ("/v1/vhosts/v2/apps/a", {"dynamic": False, "name": "a", "type": "live"}),
    ],
    "vhosts-post-twice-in-one": [("/v1/vhosts", ["default", "dynvh", "v2"])],
    "vhosts-post-mixed": [("/v1/vhosts", ["default", "dynvh", "v2"])],
    "vhosts-post-app-fails": [("/v1/vhosts", ["default", "dynvh"])],
    "vhost-delete-api": [("/v1/vhosts", ["default"])],
    "apps-post-one": [("/v1/vhosts/dynvh/apps", ["dyn", "a"])],
    "apps-post-two": [("/v1/vhosts/dynvh/apps", ["dyn", "a", "b"])],
    "apps-post-twice-in-one": [("/v1/vhosts/dynvh/apps", ["dyn", "a"])],
    "apps-post-config-error-aborts": [("/v1/vhosts/dynvh/apps", ["dyn", "a"])],
    "app-delete": [("/v1/vhosts/dynvh/apps", [])],
    "profiles-post-one": [(DYN + "/outputProfiles", ["default", "p2", "p3"])],
    "profiles-post-mixed": [(DYN + "/outputProfiles", ["default", "p2", "p3"])],
    "profiles-post-twice-in-one": [(DYN + "/outputProfiles", ["default", "p2", "p3"])],
    "profile-patch-replaces": [
        (DYN + "/outputProfiles", ["default", "p2"]),
        (
            DYN + "/outputProfiles/p2",
            {
                "encodes": {"audios": [{"bypass": True, "name": "a"}]},
                "name": "p2",
                "outputStreamName": "s2",
            },
        ),
    ],
    "profile-delete": [(DYN + "/outputProfiles", ["default"])],
    "profile-delete-default": [(DYN + "/outputProfiles", ["p2"])],
}
EFFECTS["app-patch-deep-merge"] = [
    (
        DYN,
        json.loads(next(r for r in SPEC_ROWS if r.id == "app-patch-deep-merge").expected)[
            "response"
        ],
    )
]


def _explain(response: ApiResponse) -> str:
    try:
        return json.dumps(json.loads(response.body), indent=1)
    except ValueError:
        return repr(response.body)


@pytest.mark.parametrize("row", SPEC_ROWS, ids=lambda r: r.id)
def test_spec_row(world: Client, row: Row) -> None:
    before = world_state(world)
    response = world.request(row.method, row.path, row.body)
    assert response.status == row.status, _explain(response)
    assert response.body == row.expected, _explain(response)
    check_envelope_form(response)
    if row.id in EFFECTS:
        for path, expected in EFFECTS[row.id]:
            assert world.ok("GET", path) == expected, path
    elif row.status >= 400 and row.id not in PARTIAL_ROWS:
        assert world_state(world) == before, "a refused request changed something"
    assert_engine_agrees(world)


SPEC_MESSAGES = [
    "VHOST_NOT_FOUND",
    "APP_NOT_FOUND",
    "PROFILE_NOT_FOUND",
    "READ_ONLY",
    "VHOST_EXISTS",
    "VHOST_CREATE_FAILED",
    "CANNOT_CHANGE",
    "PROFILE_REQUIRED",
    "PROFILE_TYPES",
    "PROFILE_NO_ENCODES",
    "PROFILE_VIDEOS_ARRAY",
    "PROFILE_AUDIOS_ARRAY",
    "PROFILE_EMPTY_ENCODES",
    "PROFILE_EXISTS",
    "PROFILE_NAME_IN_PATCH",
    "BODY_MUST_BE_ARRAY",
    "BODY_MUST_BE_OBJECT",
    "ITEMS_MUST_BE_OBJECTS",
]


def test_spec_rows_cover_every_message() -> None:
    """Every error text of messages.py that §4.1–4.4 can produce appears in some row."""
    expected = b"".join(row.expected for row in SPEC_ROWS) + b"".join(
        row.expected for row in OBSERVED_CONFIG + OBSERVED_SEQUENCE
    )
    for name in SPEC_MESSAGES:
        text: str = getattr(msg, name).text
        head = text.split("{")[0]
        assert dumps(head)[1:-1] in expected, name


# -- engine failures ------------------------------------------------------------------------------


class Failure(NamedTuple):
    id: str
    operation: str  # the SimulatedEngine operation that fails once
    method: str
    path: str
    body: Any
    status: int
    expected: bytes
    unchanged: bool  # whether the API state is as before


F = Failure
# fmt: off
ENGINE_FAILURES = [
    F("vhosts-post", "create_virtual_host", "POST", "/v1/vhosts", [{"name": "v2"}], 400,
      M(item(400, "Failed to create the virtual host: [v2]")), True),
    F("vhosts-post-app", "create_application", "POST", "/v1/vhosts",
      [{"name": "v2", "applications": {"application": [{"name": "a", "type": "live"}]}}], 400,
      M(item(400, "Failed to create the virtual host: [v2]")), True),
    F("vhosts-post-mixed", "create_virtual_host", "POST", "/v1/vhosts",
      [{"name": "v2"}, {"name": "v3"}], 207,
      M(item(400, "Failed to create the virtual host: [v2]"), ok_item({"name": "v3"})), False),
    F("vhost-delete", "delete_virtual_host", "DELETE", "/v1/vhosts/dynvh", None, 500,
      E(500, "Failed to delete the virtual host: [dynvh]"), False),  # its apps are gone
    F("apps-post", "create_application", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live"}], 500,
      M(item(500, "Failed to create the application: [dynvh/a]")), True),
    F("apps-post-mixed", "create_application", "POST", "/v1/vhosts/dynvh/apps",
      [{"name": "a", "type": "live"}, {"name": "b", "type": "live"}], 207,
      M(item(500, "Failed to create the application: [dynvh/a]"), ok_item(default_app("b"))),
      False),
    F("app-delete", "delete_application", "DELETE", DYN, None, 500,
      E(500, "Failed to delete the application: [dynvh/dyn]"), True),
    F("app-patch", "restart_application", "PATCH", DYN, {"publishers": {"appWorkerCount": 2}},
      500, E(500, "Failed to create the application: [dynvh/dyn]"), True),
    F("profiles-post", "restart_application", "POST", DYN + "/outputProfiles", [P3], 500,
      E(500, "Failed to create the application: [dynvh/dyn]"), True),
    F("profile-patch", "restart_application", "PATCH", DYN + "/outputProfiles/p2",
      {"outputStreamName": "x"}, 500, E(500, "Failed to create the application: [dynvh/dyn]"),
      True),
    F("profile-delete", "restart_application", "DELETE", DYN + "/outputProfiles/p2", None, 500,
      E(500, "Failed to create the application: [dynvh/dyn]"), True),
]
# fmt: on


@pytest.mark.parametrize("row", ENGINE_FAILURES, ids=lambda r: r.id)
def test_engine_failure(world: Client, row: Failure) -> None:
    """OME's orchestrator messages (the only 5xx: the engine's, not the input's)."""
    before = world_state(world)
    world.engine.fail_next(row.operation)
    response = world.request(row.method, row.path, row.body)
    assert (response.status, response.body) == (row.status, row.expected), _explain(response)
    check_envelope_form(response)
    if row.unchanged:
        assert world_state(world) == before
    assert_engine_agrees(world)


def test_vhost_delete_not_running(world: Client) -> None:
    """The engine no longer knows the vhost: OME's NotExists mapping."""
    world.engine.delete_virtual_host("dynvh")
    response = world.delete("/v1/vhosts/dynvh")
    assert (response.status, response.body) == (
        404,
        E(404, "The virtual host not exists: [dynvh]"),
    )


# -- routing: 404, 405, auth, OPTIONS, HEAD -------------------------------------------------------

UNKNOWN_PATHS = [
    "",
    "*",
    "/",
    "/nope",
    "/v1",
    "/v1/",
    "/v2/vhosts",
    "/V1/vhosts",
    "/v1/VHOSTS",
    "/v1/Vhosts",
    "//v1/vhosts",
    "/v1//vhosts",
    "/v1/version/",
    "/v1/vhosts/default/",
    "/v1/vhosts/default/Apps",
    "/v1/vhosts/default/apps/app/",
    "/v1/vhosts/default/apps/app:foo",
    "/v1/vhosts/default/apps/app:Records",
    "/v1/vhosts/default/apps/a:b",
    "/v1/vhosts/default/apps/app/outputprofiles",
    "/v1/vhosts/default/apps/app/outputProfiles/x/",
    "/v1/vhosts/default/apps/app/outputProfiles/x/y",
    "/v1/vhosts/default/apps/app/outputProfiles:x",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "FOO"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_is_controller_not_found(client: Client, method: str, path: str) -> None:
    """No route matches the path for any method: 404, never 405 (§3.2, contract §2)."""
    response = client.request(method, path, b"[]")
    assert response.status == 404
    assert response.header("Allow") is None
    if method == "HEAD":
        assert response.header("Content-Length") == str(len(NOT_FOUND))
        check_envelope_form(response, head=True)
    else:
        assert response.body == NOT_FOUND
        check_envelope_form(response)


# fmt: off
WRONG_METHODS = [
    ("PUT", "/v1/vhosts", "GET, HEAD, POST, OPTIONS"),
    ("PATCH", "/v1/vhosts", "GET, HEAD, POST, OPTIONS"),
    ("FOO", "/v1/vhosts", "GET, HEAD, POST, OPTIONS"),
    ("POST", "/v1/version", "GET, HEAD, OPTIONS"),
    ("DELETE", "/v1/version", "GET, HEAD, OPTIONS"),
    ("POST", "/v1/vhosts/default", "DELETE, GET, HEAD, OPTIONS"),
    ("PATCH", "/v1/vhosts/nope", "DELETE, GET, HEAD, OPTIONS"),
    ("POST", "/v1/vhosts/", "DELETE, GET, HEAD, OPTIONS"),
    ("PUT", "/v1/vhosts/default:reloadCertificate", "DELETE, GET, HEAD, POST, OPTIONS"),
    ("DELETE", "/v1/vhosts/default/apps", "GET, HEAD, POST, OPTIONS"),
    ("PUT", CFG, "DELETE, GET, HEAD, PATCH, OPTIONS"),
    ("POST", CFG, "DELETE, GET, HEAD, PATCH, OPTIONS"),
    ("POST", "/v1/vhosts/nope/apps/", "DELETE, GET, HEAD, PATCH, OPTIONS"),
    ("DELETE", CFG + ":", "GET, HEAD, OPTIONS"),
    ("PATCH", CFG + "/outputProfiles", "GET, HEAD, POST, OPTIONS"),
    ("POST", CFG + "/outputProfiles/x", "DELETE, GET, HEAD, PATCH, OPTIONS"),
    ("PUT", CFG + "/outputProfiles/", "DELETE, GET, HEAD, PATCH, OPTIONS"),
]
# fmt: on


@pytest.mark.parametrize(("method", "path", "allow"), WRONG_METHODS)
def test_wrong_method_is_405_with_allow(client: Client, method: str, path: str, allow: str) -> None:
    """Contract §2: a known path with a wrong method is 405 with ``Allow``; the body is not
    read (no JSON error, no body limit) and nothing is looked up."""
    response = client.request(method, path, BAD_JSON)
    assert response.status == 405
    assert response.body == E(405, f"Method not allowed: {method}")
    assert response.header("Allow") == allow
    check_envelope_form(response)


AUTH_CASES = [
    ("GET", "/v1/vhosts"),
    ("POST", "/v1/vhosts"),
    ("DELETE", "/v1/vhosts/default"),
    ("PATCH", CFG),
    ("GET", "/nope"),
    ("GET", ""),
    ("PUT", "/v1/vhosts"),  # wrong method: 401, not 405
    ("FOO", "/v1/nope"),
    ("HEAD", "/v1/vhosts"),
]


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Authorization header is required to call API"),
        ("Basic d3Jvbmc=", "Invalid credential"),
        ("Bearer ome-access-token", "Not supported credential type: Bearer"),
    ],
    ids=["none", "wrong", "bearer"],
)
@pytest.mark.parametrize(("method", "path"), AUTH_CASES)
def test_auth_before_routing(
    client: Client, method: str, path: str, authorization: str | None, message: str
) -> None:
    """§3.3: authentication runs on every method but OPTIONS, before routing and body
    parsing, so unknown paths and wrong methods are 401 too."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.request(method, path, BAD_JSON, headers, auth=False)
    assert response.status == 401
    assert response.header("WWW-Authenticate") == 'Basic realm="OvenMediaEngine"'
    expected = E(401, message)
    if method == "HEAD":
        assert response.header("Content-Length") == str(len(expected))
        check_envelope_form(response, head=True)
    else:
        assert response.body == expected
        check_envelope_form(response)


def test_lowercase_basic_accepted(client: Client) -> None:
    """Observed case 6."""
    response = client.get("/v1/vhosts", headers={"Authorization": "basic " + AUTH.split()[1]})
    assert (response.status, response.body) == (200, OK(["default"]))


@pytest.mark.parametrize(
    "path",
    ["/v1/vhosts", "/v1/vhosts/default", CFG, "/nope", "", "*", "/v1/vhosts/nope/apps/"],
)
@pytest.mark.parametrize("authorization", [None, "Basic d3Jvbmc=", AUTH])
def test_options_is_204_without_auth(client: Client, path: str, authorization: str | None) -> None:
    """§3.4: every OPTIONS gets 204, no body, no Content-Length, no auth, on any path."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.request("OPTIONS", path, BAD_JSON, headers, auth=False)
    assert response.status == 204
    assert response.body == b""
    assert response.header("Content-Length") is None
    assert response.header("Content-Type") == "text/html"
    assert response.header("Server") == "OvenMediaEngine"
    assert response.header("Vary") == "Origin"
    assert response.header("WWW-Authenticate") is None


def test_options_preflight_observed(client: Client) -> None:
    """Observed case 95 (header order aside)."""
    response = client.request(
        "OPTIONS",
        "/v1/vhosts",
        headers={
            "Origin": "http://a.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        auth=False,
    )
    assert response.status == 204
    headers = dict(response.headers)
    assert headers == {
        "Access-Control-Allow-Headers": "authorization, content-type",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE",
        "Access-Control-Allow-Origin": "http://a.example.com",
        "Content-Type": "text/html",
        "Server": "OvenMediaEngine",
        "Vary": "Origin",
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/nope", None),
        ("PUT", "/v1/vhosts", None),
        ("POST", "/v1/vhosts", BAD_JSON),
        ("GET", "/v1/vhosts/nope", None),
        ("GET", "/v1/vhosts", None),
    ],
)
def test_cors_headers_on_errors_too(client: Client, method: str, path: str, body: Any) -> None:
    response = client.request(method, path, body, {"Origin": "http://a.example.com"})
    assert response.header("Access-Control-Allow-Origin") == "http://a.example.com"
    assert response.header("Access-Control-Allow-Credentials") == "true"
    check_envelope_form(response)


HEAD_PATHS = [
    "/v1/version",
    "/v1/vhosts",
    "/v1/vhosts/dynvh",
    "/v1/vhosts/nope",
    "/v1/vhosts/dynvh/apps",
    DYN,
    DYN + ":",
    "/v1/vhosts/dynvh/apps/nope",
    DYN + "/outputProfiles",
    DYN + "/outputProfiles/p2",
    DYN + "/outputProfiles/nope",
    "/nope",
]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_is_get_without_body(world: Client, path: str) -> None:
    """§2.1: HEAD answers like GET (status, headers, Content-Length) with no body."""
    get = world.get(path)
    head = world.request("HEAD", path)
    assert head.status == get.status
    assert head.headers == get.headers
    assert head.body == b""
    assert head.header("Content-Length") == str(len(get.body))


# -- paths: query strings, ':' in names, trailing slashes -----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        ("GET", "/v1/vhosts?x=1", None, 200, OK(["default", "dynvh"])),
        ("GET", "/v1/vhosts?", None, 200, OK(["default", "dynvh"])),
        ("GET", "/v1/vhosts?path=/v1/nope", None, 200, OK(["default", "dynvh"])),
        ("GET", DYN + "/outputProfiles?name=default", None, 200, OK(["default", "p2"])),
        ("POST", DYN + "/outputProfiles?x=y", [P3], 200, M(ok_item(P3))),
        ("DELETE", DYN + "/outputProfiles/p2?force=true", None, 200, S(200)),
        ("GET", "/nope?x=/v1/vhosts", None, 404, NOT_FOUND),
        ("GET", "/v1/vhosts/nope?x", None, 404, NO_VHOST),
    ],
)
def test_query_string_ignored(
    world: Client, method: str, path: str, body: Any, status: int, expected: bytes
) -> None:
    response = world.request(method, path, body)
    assert (response.status, response.body) == (status, expected)


def test_names_with_colon(world: Client) -> None:
    """§3.2: vhost and profile segments may hold ``:``; app segments may not."""
    world.ok("POST", "/v1/vhosts", [{"name": "v:1"}])
    assert world.ok("GET", "/v1/vhosts/v:1") == {"name": "v:1"}
    assert world.ok("GET", "/v1/vhosts/v:1/apps") == []
    world.ok("POST", "/v1/vhosts/v:1/apps", [{"name": "a", "type": "live"}])
    assert world.ok("GET", "/v1/vhosts/v:1/apps/a")["name"] == "a"

    # An app whose name has a ':' could not be addressed: omeapi refuses to create it.
    status, items = world.json("POST", "/v1/vhosts/dynvh/apps", [{"name": "a:b", "type": "live"}])
    assert (status, items[0]["statusCode"]) == (400, 400)
    assert world.ok("GET", "/v1/vhosts/dynvh/apps") == ["dyn"]
    for method in ("GET", "PATCH", "DELETE"):
        response = world.request(method, "/v1/vhosts/dynvh/apps/a:b", {})
        assert (response.status, response.body) == (404, NOT_FOUND), method
    # "a:" is the raw-config route of app "a" (which does not exist in dynvh).
    assert world.get("/v1/vhosts/dynvh/apps/a:").body == E(
        404, "Could not find the application: [dynvh/a]"
    )

    world.ok("POST", DYN + "/outputProfiles", [profile_body("p:1")])
    assert world.ok("GET", DYN + "/outputProfiles/p:1") == profile_body("p:1")
    assert world.delete(DYN + "/outputProfiles/p:1").status == 200
    assert world.delete("/v1/vhosts/v:1").status == 200
    assert world.ok("GET", "/v1/vhosts") == ["default", "dynvh"]


def test_empty_names_are_lookups(world: Client) -> None:
    """Trailing slashes are not normalised: they name an empty resource (§3.2)."""
    assert world.delete("/v1/vhosts/dynvh/apps/").body == E(
        404, "Could not find the application: [dynvh/]"
    )
    assert world.patch(DYN + "/outputProfiles/", {}).body == E(
        404, "Could not find the output profile: [dynvh/dyn/]"
    )
    assert world.post("/v1/vhosts//apps", []).body == E(404, "Could not find the virtual host: []")


# -- bodies: limit and strict JSON ----------------------------------------------------------------


@pytest.fixture
def small_limit() -> Client:
    return Client(make_api(body_limit=16))


def test_body_limit(small_limit: Client) -> None:
    exact = b'[{"name":"abc"}]'
    assert len(exact) == 16
    assert small_limit.post("/v1/vhosts", exact).status == 200
    over = b'[{"name":"abcd"}]'
    response = small_limit.post("/v1/vhosts", over)
    assert response.status == 413
    assert response.body == E(413, "Request body is too large: 17 bytes (limit: 16 bytes)")
    check_envelope_form(response)
    assert small_limit.ok("GET", "/v1/vhosts") == ["default", "abc"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/vhosts", b"{" * 17, 413),  # before JSON parsing
        ("POST", "/v1/vhosts/nope/apps", b"[" + b" " * 15 + b"]", 413),  # before lookups
        ("PATCH", CFG, b"{" + b" " * 15 + b"}", 413),  # before the read-only check
        ("POST", "/nope", b"x" * 17, 404),  # after routing
        ("PUT", "/v1/vhosts", b"x" * 17, 405),
    ],
)
def test_body_limit_order(
    small_limit: Client, method: str, path: str, body: bytes, status: int
) -> None:
    assert small_limit.request(method, path, body).status == status
    assert small_limit.request(method, path, body, auth=False).status == 401


def test_default_body_limit_is_one_mebibyte(client: Client) -> None:
    limit = 1024 * 1024
    assert client.post("/v1/vhosts", b"[" + b" " * (limit - 2) + b"]").body == b"[]"
    response = client.post("/v1/vhosts", b"[" + b" " * (limit - 1) + b"]")
    assert response.body == E(
        413, f"Request body is too large: {limit + 1} bytes (limit: {limit} bytes)"
    )


SYNTAX = "Syntax error: value, object or array expected."

# fmt: off
JSON_ERRORS = [
    # (body, line, column, reason)
    (b"{bad json", 1, 2, "Missing '}' or object member name"),  # observed case 27
    (b" ", 1, 2, SYNTAX),  # whitespace only
    (b"\n\n", 3, 1, SYNTAX),
    (b"[1,]", 1, 4, SYNTAX),  # no trailing commas
    (b'{"a":1,}', 1, 8, "Missing '}' or object member name"),
    (b"// comment\n[]", 1, 1, SYNTAX),  # no comments
    (b"/* comment */ []", 1, 1, SYNTAX),
    (b"[] x", 1, 4, "Extra non-whitespace after JSON value."),  # no trailing garbage
    (b"{}{}", 1, 3, "Extra non-whitespace after JSON value."),
    (b'[\n{"a" 1}]', 2, 6, "Missing ':' after object member name"),
    (b'{"a":1 "b":2}', 1, 8, "Missing ',' or '}' in object declaration"),
    (b'"x', 1, 1, "Missing '\"' at the end of the string"),
    (b"[tru]", 1, 2, SYNTAX),
    (b"'x'", 1, 1, SYNTAX),
    (b"[NaN]", 1, 1, "NaN is not JSON"),
    (b"[Infinity]", 1, 1, "Infinity is not JSON"),
    (b"[-Infinity]", 1, 1, "-Infinity is not JSON"),
    (b"[1e400]", 1, 1, "Number out of range: 1e400"),
    (b"[\xff]", 1, 2, "Invalid UTF-8"),
]
# fmt: on


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"), JSON_ERRORS, ids=[repr(r[0][:16]) for r in JSON_ERRORS]
)
@pytest.mark.parametrize(
    "path", ["/v1/vhosts", "/v1/vhosts/nope/apps", CFG, CFG + "/outputProfiles"]
)
def test_strict_json(
    client: Client, path: str, body: bytes, line: int, column: int, reason: str
) -> None:
    """Contract §2: strict RFC 8259 JSON, errors in OME's ``[HTTP] [JSON] …`` shape, before
    any lookup or read-only check."""
    method = "PATCH" if path == CFG else "POST"
    response = client.request(method, path, body)
    assert response.status == 400
    expected = f"[HTTP] [JSON] * Line {line}, Column {column}\n  {reason}\n (400)"
    assert json.loads(response.body) == {"message": expected, "statusCode": 400}
    check_envelope_form(response)


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"\xef\xbb\xbf[]", 200, b"[]"),  # a UTF-8 BOM is skipped, as OME does
        (b" \t\r\n[] \n", 200, b"[]"),
        (b"5", 400, NOT_ARRAY),  # a scalar root is valid JSON
        (b"null", 400, NOT_ARRAY),
        (b'[{"name":"a","name":"v2"}]', 200, M(ok_item({"name": "v2"}))),  # last key wins
        (
            b'[{"name":"\\u00e9t\\u00e9"}]',
            200,
            b'[{"message":"OK","response":{"name":"\\u00e9t\\u00e9"},"statusCode":200}]',
        ),
    ],
)
def test_json_accepted(client: Client, body: bytes, status: int, expected: bytes) -> None:
    response = client.post("/v1/vhosts", body)
    assert (response.status, response.body) == (status, expected)


def test_non_ascii_names_escaped(client: Client) -> None:
    """Non-ASCII is written as ``\\uXXXX`` (surrogate pairs above U+FFFF), ``/`` unescaped."""
    client.ok("POST", "/v1/vhosts", [{"name": "été🎥", "distribution": "a/b"}])
    assert client.get("/v1/vhosts").body == (
        b'{"message":"OK","response":["default","\\u00e9t\\u00e9\\ud83c\\udfa5"],"statusCode":200}'
    )
    assert b'"distribution":"a/b"' in client.get("/v1/vhosts/été🎥").body


# -- multi-item aggregation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "status"),
    [
        ([], 200),
        ([200], 200),
        ([200, 200, 200], 200),
        ([409], 409),
        ([409, 409], 409),
        ([400, 400], 400),
        ([500], 500),
        ([200, 409], 207),
        ([409, 200], 207),
        ([400, 409, 409], 207),
        ([200, 500], 207),
    ],
)
def test_multi_status_aggregation(statuses: list[int], status: int) -> None:
    """§3.7: the bare array; one shared status when all items agree, else 207."""
    reply = multi([ItemResult(s, "x") for s in statuses])
    assert reply.status == status
    assert json.loads(reply.body) == [{"message": "x", "statusCode": s} for s in statuses]


def test_reason_phrases() -> None:
    assert reason_phrase(207) == "Multi Status"
    assert S(200) == b'{"message":"OK","statusCode":200}'
    assert [reason_phrase(s) for s in (201, 400, 403, 404, 405, 409, 413, 500)] == [
        "Created",
        "Bad Request",
        "Forbidden",
        "Not Found",
        "Method Not Allowed",
        "Conflict",
        "Payload Too Large",
        "Internal Server Error",
    ]


# -- no input yields a 500 ------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "live", "vod", "dyn", "p2", "default", "${OriginStreamName}"])
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "type",
                    "outputStreamName",
                    "encodes",
                    "videos",
                    "audios",
                    "bypass",
                    "providers",
                    "publishers",
                    "rtmp",
                    "llhls",
                    "host",
                    "names",
                    "applications",
                    "application",
                    "dynamic",
                    "outputProfiles",
                    "outputProfile",
                    "codec",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
BODY_ROUTES = [
    ("POST", "/v1/vhosts"),
    ("POST", "/v1/vhosts/dynvh/apps"),
    ("PATCH", DYN),
    ("POST", DYN + "/outputProfiles"),
    ("PATCH", DYN + "/outputProfiles/p2"),
    ("DELETE", DYN + "/outputProfiles/p2"),
]
_fuzz_world: list[Client] = []


def _fuzz_client() -> Client:
    if not _fuzz_world:
        client = Client(make_api())
        client.create_vhost("dynvh", "dyn")
        _fuzz_world.append(client)
    client = _fuzz_world[0]
    if client.api.registry.app("dynvh", "dyn") is None:
        client.ok("POST", "/v1/vhosts/dynvh/apps", [{"name": "dyn", "type": "live"}])
    if client.api.registry.app("dynvh", "dyn").config.profile("p2") is None:  # type: ignore[union-attr]
        client.request("POST", DYN + "/outputProfiles", [P2])
    return client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(BODY_ROUTES), body=_json | st.lists(_json, max_size=3))
def test_no_json_body_gives_500(route: tuple[str, str], body: Any) -> None:
    client = _fuzz_client()
    response = client.request(*route, body)
    assert response.status < 500, _explain(response)
    check_envelope_form(response)
    assert_engine_agrees(client)


@settings(max_examples=200, deadline=None)
@given(route=st.sampled_from(BODY_ROUTES), body=st.binary(max_size=40))
def test_no_raw_body_gives_500(route: tuple[str, str], body: bytes) -> None:
    response = _fuzz_client().request(*route, body)
    assert response.status < 500, _explain(response)
    check_envelope_form(response)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([*METHODS, "OPTIONS"]),
    path=st.lists(
        st.sampled_from(
            [
                "v1",
                "vhosts",
                "dynvh",
                "apps",
                "dyn",
                "outputProfiles",
                "p2",
                "",
                ":",
                "a:b",
                "%20",
                "V1",
            ]
        ),
        max_size=7,
    ).map(lambda parts: "/" + "/".join(parts)),
)
def test_no_path_gives_500(method: str, path: str) -> None:
    response = _fuzz_client().request(method, path)
    assert response.status < 500
    if method != "OPTIONS":
        check_envelope_form(response, head=method == "HEAD")
