"""Helpers of the runtime tests (no tests here): a Server.xml whose app enables every runtime
feature, an API over it with a hand-driven clock, and a small client.

``default/app`` mirrors the app of the OME instance behind ``ome-observed.md`` (profile
``bypass_stream``, playlist ``master``, LL-HLS) and adds the push and file publishers and the
schedule and multiplex providers.  ``default/bare`` has none of them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omeapi import open_api
from omeapi._config import parse_server_xml
from omeapi._simulated.engine import SimulatedEngine
from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = [
    "APP",
    "BARE",
    "HOST",
    "START",
    "Clock",
    "Runtime",
    "err",
    "runtime_xml",
]

TOKEN = "ome-access-token"
HOST = "localhost:48081"
APP = "/v1/vhosts/default/apps/app"
BARE = "/v1/vhosts/default/apps/bare"
#: 2023-11-14T22:13:20Z: where every simulated clock starts
START = 1_700_000_000.0

_APP_XML = """\
<Application>
  <Name>app</Name>
  <Type>live</Type>
  <OutputProfiles>
    <OutputProfile>
      <Name>bypass_stream</Name>
      <OutputStreamName>${{OriginStreamName}}</OutputStreamName>
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
        <Video><Name>bypass_video</Name><Bypass>true</Bypass></Video>
        <Audio><Name>bypass_audio</Name><Bypass>true</Bypass></Audio>
      </Encodes>
    </OutputProfile>
    {extra_profiles}
  </OutputProfiles>
  <Providers>
    <RTMP/>
    <Schedule><ScheduleFilesDir>schedules</ScheduleFilesDir></Schedule>
    <Multiplex><MuxFilesDir>mux</MuxFilesDir></Multiplex>
  </Providers>
  <Publishers>
    <LLHLS><ChunkDuration>0.5</ChunkDuration></LLHLS>
    <Push/>
    <FILE><RootPath>/recordings</RootPath></FILE>
  </Publishers>
</Application>
"""

_BARE_XML = """\
<Application>
  <Name>bare</Name>
  <Type>live</Type>
  <OutputProfiles>
    <OutputProfile>
      <Name>bypass_stream</Name>
      <OutputStreamName>${OriginStreamName}</OutputStreamName>
      <Encodes><Video><Name>bypass_video</Name><Bypass>true</Bypass></Video></Encodes>
    </OutputProfile>
  </OutputProfiles>
  <Providers><RTMP/></Providers>
  <Publishers><WebRTC/></Publishers>
</Application>
"""

#: A second output profile: an H264 360p + Opus rendition called ``<stream>_low``.
LOW_PROFILE = """\
<OutputProfile>
  <Name>low</Name>
  <OutputStreamName>${OriginStreamName}_low</OutputStreamName>
  <Encodes>
    <Video><Name>h264_360</Name><Codec>h264</Codec><Height>360</Height><Bitrate>800K</Bitrate>
      <Framerate>25</Framerate></Video>
    <Audio><Name>opus</Name><Codec>opus</Codec><Bitrate>96000</Bitrate><Samplerate>48000</Samplerate>
      <Channel>2</Channel></Audio>
  </Encodes>
</OutputProfile>
"""


def runtime_xml(*, extra_profiles: str = "", tls: str = "", managers_tls: str = "") -> str:
    """The tests' Server.xml; ``tls`` goes into the vhost's ``<Host>``, ``managers_tls``
    into ``<Managers><Host>`` (which also enables the API's TLSPort)."""
    api_port = "<Port>48081</Port>" + ("<TLSPort>48082</TLSPort>" if managers_tls else "")
    managers_host = f"<Host><Names><Name>*</Name></Names>{managers_tls}</Host>"
    return f"""\
<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
  <Name>omeapi-runtime-tests</Name>
  <Type>origin</Type>
  <IP>*</IP>
  <Bind><Managers><API>{api_port}</API></Managers></Bind>
  <Managers>
    {managers_host}
    <API><AccessToken>{TOKEN}</AccessToken></API>
  </Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Host><Names><Name>*</Name></Names>{tls}</Host>
      <Applications>
        {_APP_XML.format(extra_profiles=extra_profiles)}
        {_BARE_XML}
      </Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def err(status: int, text: str) -> dict[str, Any]:
    """OME's error envelope ``E(status, text)``."""
    return {"message": f"[HTTP] {text} ({status})", "statusCode": status}


class Runtime:
    """An :class:`Api` over :func:`runtime_xml` in ``directory`` (its channel files go
    there), a simulated engine on a :class:`Clock`, and request helpers."""

    def __init__(self, directory: Path, xml: str | None = None, clock: Clock | None = None):
        self.directory = directory
        self.clock = clock or Clock()
        config = parse_server_xml(
            xml if xml is not None else runtime_xml(),
            file=str(directory / "Server.xml"),
            environ={},
        )
        self.engine = SimulatedEngine(clock=self.clock, config_dir=config.config_dir)
        self.api = open_api(config, self.engine, brake=False)

    @property
    def headers(self) -> dict[str, str]:
        """An authorised request's headers."""
        return {
            "Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode(),
            "Host": HOST,
        }

    def request(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> ApiResponse:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.api.handle(ApiRequest.build(method, path, self.headers, data))

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        """Status and decoded JSON body."""
        response = self.request(method, path, body, **kw)
        return response.status, json.loads(response.body)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """The ``response`` of a call that must answer 200 with data (the items' responses
        for a multi-item answer)."""
        status, decoded = self.call(method, path, body)
        assert status == 200, (method, path, status, decoded)
        if isinstance(decoded, list):  # a multi-item answer whose items all succeeded
            return [item.get("response") for item in decoded]
        assert decoded["message"] == "OK" and decoded["statusCode"] == 200
        return decoded["response"]

    def plain(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        """A call that must answer a plain success (reason phrase, no ``response``)."""
        got = self.call(method, path, body)
        phrase = {200: "OK", 201: "Created"}[status]
        assert got == (status, {"message": phrase, "statusCode": status}), (method, path, got)

    def pull(self, name: str = "s1", *urls: str) -> None:
        """Create a pulled stream (201)."""
        self.plain(
            "POST",
            f"{APP}/streams",
            {"name": name, "urls": list(urls or ["rtmp://origin.example/app/" + name])},
            201,
        )


def keys_and_types(value: Any) -> Any:
    """The shape of a JSON value: keys and the JSON types of leaves (lists: each element)."""
    if isinstance(value, dict):
        return {k: keys_and_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_and_types(v) for v in value]
    return type(value).__name__


def paths(value: Any, prefix: str = "") -> Iterable[str]:
    """Every key path of a JSON value (for readable shape diffs)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, f"{prefix}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, f"{prefix}[{index}]")
    else:
        yield f"{prefix}:{type(value).__name__}"
