"""A seeded sequence of API operations over every route family, a Server.xml for it, and the
normalisation that makes two servers' answers comparable.

Shared by ``tests/test_one_server.py`` (the same sequence against servers with one and with
several workers must get the same answers) and meant for benchmarks that want a realistic mix
of requests.  No test lives here.

The generator keeps a rough model of what exists (vhosts, apps, streams, jobs, channels) so
that most operations hit something real, and it adds invalid and duplicate ones on purpose:
the answers to those must agree too.  The model only steers choices; nothing here predicts an
answer.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AUTH",
    "TOKEN",
    "Op",
    "normalise",
    "operations",
    "send",
    "server_xml",
]

TOKEN = "one-server-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()


def server_xml(port: int = 48081) -> str:
    """A Server.xml on 127.0.0.1:``port`` (``omeapi serve --port`` overrides it) with a
    config vhost ``default`` holding ``app`` (pull, push, file, schedule and multiplex
    enabled, channel files in directories relative to the config) and ``bare`` (none of
    them), so both the happy and the 403/404 paths of every runtime route are reachable."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
  <Name>one-server</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>{port}</Port></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>*</Name></Names></Host>
    <API><AccessToken>{TOKEN}</AccessToken></API>
  </Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Host><Names><Name>*</Name></Names></Host>
      <Applications>
        <Application>
          <Name>app</Name>
          <Type>live</Type>
          <OutputProfiles>
            <OutputProfile>
              <Name>bypass_stream</Name>
              <OutputStreamName>${{OriginStreamName}}</OutputStreamName>
              <Encodes>
                <Video><Name>bypass_video</Name><Bypass>true</Bypass></Video>
                <Audio><Name>bypass_audio</Name><Bypass>true</Bypass></Audio>
              </Encodes>
            </OutputProfile>
          </OutputProfiles>
          <Providers>
            <RTMP/><RTSPPull/>
            <Schedule><ScheduleFilesDir>schedules</ScheduleFilesDir></Schedule>
            <Multiplex><MuxFilesDir>mux</MuxFilesDir></Multiplex>
          </Providers>
          <Publishers>
            <LLHLS><ChunkDuration>0.5</ChunkDuration></LLHLS>
            <Push/>
            <FILE><RootPath>/recordings</RootPath></FILE>
          </Publishers>
        </Application>
        <Application>
          <Name>bare</Name>
          <Type>live</Type>
          <OutputProfiles>
            <OutputProfile>
              <Name>bypass_stream</Name>
              <OutputStreamName>${{OriginStreamName}}</OutputStreamName>
              <Encodes><Video><Name>bypass_video</Name><Bypass>true</Bypass></Video></Encodes>
            </OutputProfile>
          </OutputProfiles>
          <Providers><RTMP/><RTSPPull/></Providers>
          <Publishers><WebRTC/></Publishers>
        </Application>
      </Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
"""


@dataclass(frozen=True)
class Op:
    """One request: ``family`` names the route family (for coverage counts and reports)."""

    family: str
    method: str
    path: str
    body: Any = None

    def __str__(self) -> str:
        body = "" if self.body is None else " " + json.dumps(self.body, sort_keys=True)
        return f"{self.method} {self.path}{body}"


def send(port: int, op: Op, timeout: float = 30.0) -> tuple[int, Any]:
    """``op`` on a new connection to 127.0.0.1:``port``: the status and the decoded body (the
    raw text when it is not JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if op.body is None else json.dumps(op.body).encode()
        headers = {"Authorization": AUTH}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(op.method, op.path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


# -- normalisation ---------------------------------------------------------------------------

#: OME's times (``2023-11-14T22:13:20.000+00:00``) and the ISO forms close to it.
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")

#: Keys whose values are counters, rates or durations that grow with wall time (statistics,
#: push and record progress, a video track's frames since its key frame).
_COUNTERS = frozenset(
    {
        "totalBytesIn",
        "totalBytesOut",
        "totalConnections",
        "maxTotalConnections",
        "connections",
        "avgThroughputIn",
        "avgThroughputOut",
        "maxThroughputIn",
        "maxThroughputOut",
        "lastThroughputIn",
        "lastThroughputOut",
        "sentBytes",
        "sentTime",
        "totalsentBytes",  # (OME's spelling)
        "totalsentTime",
        "totalDuration",
        # a track's measured bitrates (the configured ``bitrate``/``bitrateConf`` are compared)
        "bitrateAvg",
        "bitrateLatest",
        "recordBytes",
        "recordTime",
        "totalRecordBytes",
        "totalRecordTime",
        "deltaFramesSinceLastKeyFrame",
        # where a scheduled channel's current item is at
        "currentPosition",
        # a push's sessions and a record's file splits: 0 until the job first connects,
        # which happens CONNECT_DELAY of wall time after it was asked for
        "sequence",
        # internal queues' traffic
        "avgWaitingTime",
        "drop",
        "inputPerSecond",
        "outputPerSecond",
        "peak",
        "size",
    }
)

#: Job states in the order a job goes through them on the engine's clock.  Which one a
#: listing shows depends on how much wall time passed since the job started or was stopped,
#: so states are compared by phase: started (not yet asked to stop) or stopping.  A job that
#: exists on one server and not on another still differs (the lists differ in length, or one
#: answer is a 404).
_PHASES = {
    "ready": "<started>",
    "connecting": "<started>",
    "pushing": "<started>",
    "recording": "<started>",
    "stopping": "<stopping>",
    "stopped": "<stopping>",
}

#: A push's or record's progress: what it has sent or written and when it started and
#: finished.  OME leaves a field out while it is zero or empty (a job that has not connected
#: yet has no ``startTime``, no ``outputFilePath``), so with wall time not only the values
#: move but whether the keys are there at all.  The request the job was made from (``id``,
#: ``stream``, ``url``, ``filePath`` and ``infoPath`` templates …) is still compared.
_JOB_PROGRESS = frozenset(
    {
        "outputFilePath",
        "outputInfoPath",
        "startTime",
        "finishTime",
        "sentBytes",
        "sentTime",
        "totalsentBytes",  # (OME's spelling)
        "totalsentTime",
        "recordBytes",
        "recordTime",
        "totalRecordBytes",
        "totalRecordTime",
        "sequence",
    }
)


def normalise(value: Any, server: str = "") -> Any:
    """``value`` (a decoded answer) with what legitimately depends on wall time replaced by
    placeholders, and everything else untouched.

    - timestamps (any string in OME's ``YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`` form, or close to it)
      become ``"<time>"``;
    - counters, throughputs and durations (:data:`_COUNTERS`: statistics' bytes, throughputs
      and connection counts, push and record bytes, times and sequence numbers, queue
      traffic, a video track's frames since its key frame) become ``"<n>"``; a ``connections``
      object keeps its keys;
    - a push's or record's ``state`` becomes its phase (:data:`_PHASES`): ``ready``,
      ``connecting``, ``pushing`` and ``recording`` read ``<started>``, ``stopping`` and
      ``stopped`` read ``<stopping>``, and its progress fields (:data:`_JOB_PROGRESS`:
      bytes, times, sequence, output paths, start and finish times) are left out, since
      whether OME includes them at all depends on how far the job got.

    And ``server``, the address the server listens on (``127.0.0.1:port``), becomes
    ``<server>`` where an answer quotes it (a failed pull's 502 names the request's URL):
    each server under comparison listens on its own port.

    Keys, list lengths, names, ids, error texts and statuses are never touched otherwise.
    """
    if isinstance(value, dict):
        job = "state" in value and "id" in value and "stream" in value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if job and key in _JOB_PROGRESS:
                continue
            if key in _COUNTERS:
                out[key] = {k: "<n>" for k in item} if isinstance(item, dict) else _count(item)
            elif job and key == "state" and isinstance(item, str):
                out[key] = _PHASES.get(item, item)
            else:
                out[key] = normalise(item, server)
        return out
    if isinstance(value, list):
        return [normalise(item, server) for item in value]
    if isinstance(value, str):
        if _TIME.fullmatch(value):
            return "<time>"
        return value.replace(server, "<server>") if server else value
    return value


def _count(value: Any) -> Any:
    return "<n>" if isinstance(value, (int, float)) and not isinstance(value, bool) else value


# -- the sequence ----------------------------------------------------------------------------

#: The config app with every runtime feature, and one with none of them.
CONFIG_APP = ("default", "app")
BARE_APP = ("default", "bare")
_API_VHOSTS = ("v1", "v2", "v3")
_API_APPS = ("live", "cam")
_STREAMS = ("s1", "s2", "s3")
_PROFILES = ("low", "mid")
_CHANNELS = ("ch1", "ch2")
_MUXES = ("mx1", "mx2")
_ACTIONS = (
    "startHlsDump",
    "hlsDumps",
    "stopHlsDump",
    "sendEvent",
    "sendEvents",
    "concludeHlsLive",
    "sendSubtitles",
)


def _app_body(vhost: str, name: str) -> dict[str, Any]:
    # Each app has its own channel directories: a shared one would make one app's channel
    # files appear in another.
    return {
        "name": name,
        "type": "live",
        "providers": {
            "rtmp": {},
            "rtspPull": {},
            "schedule": {"scheduleFilesDir": f"sch_{vhost}_{name}"},
            "multiplex": {"muxFilesDir": f"mux_{vhost}_{name}"},
        },
        "publishers": {"llhls": {}, "push": {}, "file": {"rootPath": f"/rec/{vhost}"}},
    }


def _profile_body(name: str, height: int) -> dict[str, Any]:
    return {
        "name": name,
        "outputStreamName": "${OriginStreamName}_" + name,
        "encodes": {
            "videos": [{"name": f"{name}_v", "codec": "h264", "height": height, "bitrate": 800000}],
            "audios": [{"name": f"{name}_a", "codec": "opus", "bitrate": 96000}],
        },
    }


def _schedule_body(name: str, item: str) -> dict[str, Any]:
    # One program on air for ten years from 2024, one item as long: the current program and
    # item are the same whenever the sequence runs (only their positions, durations, move).
    return {
        "stream": {"name": name},
        "programs": [
            {
                "name": "always",
                "scheduled": "2024-01-01T00:00:00.000+00:00",
                "repeat": False,
                "items": [{"url": f"file://{item}.mp4", "duration": 315_360_000_000}],
            }
        ],
    }


def _multiplex_body(name: str, source: str) -> dict[str, Any]:
    return {
        "outputStream": {"name": name},
        "sourceStreams": [
            {
                "name": "src",
                "url": f"stream://default/app/{source}",
                "trackMap": [{"sourceTrackName": "bypass_video", "newTrackName": "v"}],
            }
        ],
    }


@dataclass
class _Model:
    """What the generator believes exists: only used to pick plausible targets."""

    vhosts: set[str] = field(default_factory=set)
    apps: set[tuple[str, str]] = field(default_factory=set)
    streams: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: job ids ever used per app and kind: a stopped job's id is never reused, since whether
    #: it may be depends on whether the stop finished (wall time)
    used_jobs: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    live_jobs: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    counter: int = 0

    def runtime_apps(self) -> list[tuple[str, str]]:
        return [CONFIG_APP, *sorted(self.apps)]


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.m = _Model()
        self.families: list[tuple[str, int, Callable[[], Op]]] = [
            ("vhost", 6, self.vhost),
            ("app", 6, self.app),
            ("profile", 5, self.profile),
            ("stream", 12, self.stream),
            ("action", 10, self.action),
            ("push", 9, self.push),
            ("record", 8, self.record),
            ("scheduled", 6, self.scheduled),
            ("multiplex", 6, self.multiplex),
            ("stats", 9, self.stats),
        ]

    # -- helpers ------------------------------------------------------------------------

    def pick_app(self, *, bare: float = 0.08, unknown: float = 0.04) -> tuple[str, str]:
        r = self.rng.random()
        if r < bare:
            return BARE_APP
        if r < bare + unknown:
            return self.rng.choice([("default", "nope"), ("nohost", "app")])
        return self.rng.choice(self.m.runtime_apps())

    def pick_stream(self, key: tuple[str, str], *, unknown: float = 0.1) -> str:
        known = sorted(self.m.streams.get(key, ()))
        if not known or self.rng.random() < unknown:
            return self.rng.choice([*_STREAMS, "ghost"])
        return self.rng.choice(known)

    @staticmethod
    def ap(key: tuple[str, str]) -> str:
        return f"/v1/vhosts/{key[0]}/apps/{key[1]}"

    def fresh(self, prefix: str) -> str:
        self.m.counter += 1
        return f"{prefix}{self.m.counter}"

    # -- families -----------------------------------------------------------------------

    def vhost(self) -> Op:
        rng, m = self.rng, self.m
        r = rng.random()
        name = rng.choice(_API_VHOSTS)
        if r < 0.35:
            # sometimes a duplicate, sometimes two at once (a multi-item answer)
            body = [{"name": name}]
            if rng.random() < 0.2:
                body.append({"name": rng.choice(_API_VHOSTS)})
            for item in body:
                m.vhosts.add(item["name"])
            return Op("vhost", "POST", "/v1/vhosts", body)
        if r < 0.5:
            return Op("vhost", "GET", "/v1/vhosts")
        if r < 0.7:
            return Op("vhost", "GET", f"/v1/vhosts/{rng.choice([*_API_VHOSTS, 'default'])}")
        if r < 0.8:
            # the config vhost: 403
            return Op("vhost", "DELETE", "/v1/vhosts/default")
        # rarely: a vhost deletion takes its apps, streams and jobs with it
        if rng.random() < 0.3:
            m.vhosts.discard(name)
            for key in [k for k in m.apps if k[0] == name]:
                self.forget_app(key)
            return Op("vhost", "DELETE", f"/v1/vhosts/{name}")
        return Op("vhost", "GET", "/v1/vhosts")

    def forget_app(self, key: tuple[str, str]) -> None:
        self.m.apps.discard(key)
        self.m.streams.pop(key, None)
        for kind in ("push", "record"):
            self.m.live_jobs.pop((*key, kind), None)

    def app(self) -> Op:
        rng, m = self.rng, self.m
        vhost = rng.choice(sorted(m.vhosts) or ["v1"])
        name = rng.choice(_API_APPS)
        key = (vhost, name)
        path = f"/v1/vhosts/{vhost}/apps"
        r = rng.random()
        if r < 0.35:
            if vhost in m.vhosts:
                m.apps.add(key)
            return Op("app", "POST", path, [_app_body(vhost, name)])
        if r < 0.45:
            return Op("app", "POST", "/v1/vhosts/default/apps", [_app_body("default", "x")])
        if r < 0.6:
            return Op("app", "GET", path)
        if r < 0.75:
            return Op("app", "GET", f"{path}/{rng.choice([name, 'app'])}")
        if r < 0.9:
            # a change of publishers restarts the app: its streams and jobs go
            if key in m.apps:
                self.forget_app(key)
                m.apps.add(key)
            body: dict[str, Any] = {"publishers": {"llhls": {}, "push": {}, "webrtc": {}}}
            if rng.random() < 0.2:
                body = {"name": "renamed"}  # not patchable: 400
            return Op("app", "PATCH", f"{path}/{name}", body)
        self.forget_app(key)
        return Op("app", "DELETE", f"{path}/{name}")

    def profile(self) -> Op:
        rng, m = self.rng, self.m
        key = rng.choice(sorted(m.apps) or [CONFIG_APP])
        if rng.random() < 0.1:
            key = CONFIG_APP  # read-only: 403 on changes
        path = f"{self.ap(key)}/outputProfiles"
        name = rng.choice(_PROFILES)
        r = rng.random()
        # Profile changes restart the app (its streams and jobs go).
        if r < 0.3:
            if key in m.apps:
                self.forget_app(key)
                m.apps.add(key)
            return Op("profile", "POST", path, [_profile_body(name, rng.choice((360, 480)))])
        if r < 0.45:
            if key in m.apps:
                self.forget_app(key)
                m.apps.add(key)
            body = _profile_body(name, 720)
            if rng.random() < 0.85:
                del body["name"]  # naming the profile in a PATCH is a 400
            return Op("profile", "PATCH", f"{path}/{name}", body)
        if r < 0.6:
            return Op("profile", "GET", path)
        if r < 0.85:
            return Op("profile", "GET", f"{path}/{rng.choice([*_PROFILES, 'bypass_stream'])}")
        if key in m.apps:
            self.forget_app(key)
            m.apps.add(key)
        return Op("profile", "DELETE", f"{path}/{name}")

    def stream(self) -> Op:
        rng, m = self.rng, self.m
        key = self.pick_app()
        path = f"{self.ap(key)}/streams"
        r = rng.random()
        if r < 0.4:
            name = rng.choice(_STREAMS)
            host = "cam.example" if rng.random() < 0.9 else "cam.invalid"  # .invalid: 502
            if key in m.runtime_apps() and host == "cam.example":
                m.streams.setdefault(key, set()).add(name)
            return Op(
                "stream",
                "POST",
                path,
                {"name": name, "urls": [f"rtsp://{host}/{name}"]},
            )
        if r < 0.6:
            return Op("stream", "GET", path)
        if r < 0.85:
            return Op("stream", "GET", f"{path}/{self.pick_stream(key)}")
        name = self.pick_stream(key, unknown=0.05)
        m.streams.get(key, set()).discard(name)
        return Op("stream", "DELETE", f"{path}/{name}")

    def live_stream(self) -> tuple[tuple[str, str], str]:
        """Mostly a stream the model believes exists, else any app and stream."""
        known = sorted((key, name) for key, names in self.m.streams.items() for name in names)
        if known and self.rng.random() < 0.85:
            return self.rng.choice(known)
        key = self.pick_app(bare=0.2)
        return key, self.pick_stream(key)

    def action(self) -> Op:
        rng = self.rng
        key, stream = self.live_stream()
        path = f"{self.ap(key)}/streams/{stream}"
        out = stream if rng.random() < 0.9 else f"{stream}_nope"
        kind = rng.choice(_ACTIONS)
        if rng.random() < 0.03:
            kind = "bad"
        body: Any
        if kind == "startHlsDump":
            body = {
                "outputStreamName": out,
                "id": rng.choice(["d1", "d2"]),
                "outputPath": f"/dumps/{stream}",
                "playlist": ["llhls.m3u8"],
            }
            if rng.random() < 0.1:
                del body["outputPath"]
        elif kind in ("hlsDumps", "stopHlsDump"):
            body = {"outputStreamName": out}
            if rng.random() < 0.5:
                body["id"] = rng.choice(["d1", "d2"])
        elif kind == "sendEvent":
            body = rng.choice(
                [
                    {"eventFormat": "id3v2", "events": [{"frameType": "TIT2", "data": "x"}]},
                    {"eventFormat": "cue", "events": [{"cueType": "out", "duration": 1000}]},
                    {"eventFormat": "id3v2", "events": [{"frameType": "ZZZZ"}]},
                    {"eventFormat": "amf", "events": [{}]},
                ]
            )
        elif kind == "sendEvents":
            body = [{"eventFormat": "cue", "events": [{"cueType": "in"}]}, {"eventFormat": 1}]
        elif kind == "concludeHlsLive":
            body = rng.choice([{}, {"urgent": True}, {"urgent": "yes"}])
        elif kind == "sendSubtitles":
            body = {
                "format": rng.choice(["webvtt", "webvtt", "srt"]),
                "data": [{"label": "en", "subtitles": [{"text": "Hi", "durationMs": 500}]}],
            }
        else:
            kind, body = "dumps", {}  # not an action: 404
        return Op("action", "POST", f"{path}:{kind}", body)

    def _job(self, kind: str) -> Op:
        """A push (``kind`` "push") or record operation."""
        rng, m = self.rng, self.m
        key, stream = self.live_stream()
        jkey = (*key, kind)
        used = m.used_jobs.setdefault(jkey, set())
        live = m.live_jobs.setdefault(jkey, set())
        action = {"push": ("startPush", "pushes", "stopPush")}.get(
            kind, ("startRecord", "records", "stopRecord")
        )
        path = self.ap(key)
        r = rng.random()
        if r < 0.4:
            # now and then a duplicate of a running job's id: 409
            duplicate = live and rng.random() < 0.2
            ident = rng.choice(sorted(live)) if duplicate else self.fresh(kind[0])
            if rng.random() < 0.1:
                stream = "ghost"  # the job waits for a stream that never comes
            body: dict[str, Any] = {"id": ident, "stream": {"name": stream}}
            if kind == "push":
                body.update(protocol="rtmp", url="rtmp://live.example/app", streamKey=ident)
            else:
                body["filePath"] = "${StreamName}_${Id}.ts"
            if rng.random() < 0.05:
                del body["id"]  # 400
            elif key in m.runtime_apps():
                used.add(ident)
                live.add(ident)
            return Op(kind, "POST", f"{path}:{action[0]}", body)
        if r < 0.7:
            if rng.random() < 0.5:
                return Op(kind, "GET", f"{path}:{action[1]}")
            wanted = {} if not used or rng.random() < 0.4 else {"id": rng.choice(sorted(used))}
            return Op(kind, "POST", f"{path}:{action[1]}", wanted)
        # Stops: of a started job, of one never started (404), and again of a stopped one.
        if live and rng.random() < 0.7:
            ident = rng.choice(sorted(live))
            live.discard(ident)
        elif used and rng.random() < 0.7:
            ident = rng.choice(sorted(used))
        else:
            ident = "never"
        return Op(kind, "POST", f"{path}:{action[2]}", {"id": ident})

    def push(self) -> Op:
        return self._job("push")

    def record(self) -> Op:
        return self._job("record")

    def scheduled(self) -> Op:
        rng = self.rng
        key = self.pick_app()
        path = f"{self.ap(key)}/scheduledChannels"
        name = rng.choice(_CHANNELS)
        r = rng.random()
        if r < 0.3:
            body: Any = _schedule_body(name, rng.choice(["intro", "loop"]))
            if rng.random() < 0.1:
                body = {"stream": {"name": name}, "programs": {}}  # 400
            return Op("scheduled", "POST", path, body)
        if r < 0.45:
            return Op("scheduled", "GET", path)
        if r < 0.7:
            return Op("scheduled", "GET", f"{path}/{rng.choice([*_CHANNELS, 's1'])}")
        if r < 0.85:
            body = {"programs": _schedule_body(name, "patched")["programs"]}
            if rng.random() < 0.15:
                body = {"stream": {"name": name}}  # 400: not patchable
            return Op("scheduled", "PATCH", f"{path}/{name}", body)
        return Op("scheduled", "DELETE", f"{path}/{name}")

    def multiplex(self) -> Op:
        rng = self.rng
        key = self.pick_app()
        path = f"{self.ap(key)}/multiplexChannels"
        name = rng.choice(_MUXES)
        r = rng.random()
        if r < 0.3:
            body: Any = _multiplex_body(name, rng.choice(_STREAMS))
            if rng.random() < 0.1:
                body = {"outputStream": {"name": name}}  # 400
            return Op("multiplex", "POST", path, body)
        if r < 0.45:
            return Op("multiplex", "GET", path)
        if r < 0.7:
            return Op("multiplex", "GET", f"{path}/{rng.choice([*_MUXES, 's1'])}")
        if r < 0.8:
            # there is no PATCH for multiplex channels: the answer to that must agree too
            return Op("multiplex", "PATCH", f"{path}/{name}", _multiplex_body(name, "s1"))
        return Op("multiplex", "DELETE", f"{path}/{name}")

    def stats(self) -> Op:
        rng = self.rng
        r = rng.random()
        base = "/v1/stats/current"
        if r < 0.15:
            return Op("stats", "GET", base)
        if r < 0.22:
            return Op("stats", "GET", f"{base}/internals/queues")
        if r < 0.25:
            return Op("stats", "GET", f"{base}/internals")
        key = self.pick_app(bare=0.05, unknown=0.08)
        if r < 0.4:
            return Op("stats", "GET", f"{base}/vhosts/{key[0]}")
        if r < 0.6:
            return Op("stats", "GET", f"{base}/vhosts/{key[0]}/apps/{key[1]}")
        stream = self.pick_stream(key)
        return Op("stats", "GET", f"{base}/vhosts/{key[0]}/apps/{key[1]}/streams/{stream}")

    # -- the sequence -------------------------------------------------------------------

    def setup(self) -> list[Op]:
        """A known start: an API vhost with an app, and pulled streams in both runtime apps,
        so the random part finds runtime state from its first operation."""
        self.m.vhosts.add("v1")
        self.m.apps.add(("v1", "live"))
        ops = [
            Op("vhost", "POST", "/v1/vhosts", [{"name": "v1"}]),
            Op("app", "POST", "/v1/vhosts/v1/apps", [_app_body("v1", "live")]),
        ]
        for key in (CONFIG_APP, ("v1", "live")):
            for name in _STREAMS[:2]:
                self.m.streams.setdefault(key, set()).add(name)
                body = {"name": name, "urls": [f"rtsp://cam.example/{name}"]}
                ops.append(Op("stream", "POST", f"{self.ap(key)}/streams", body))
        return ops

    def next(self) -> Op:
        weights = [w for _, w, _ in self.families]
        _, _, make = self.rng.choices(self.families, weights)[0]
        return make()


def operations(seed: int, count: int = 240) -> list[Op]:
    """``count`` operations (a fixed setup, then random ones over every route family) from
    ``seed``: the same seed always gives the same list."""
    gen = _Generator(random.Random(seed))
    ops = gen.setup()
    while len(ops) < count:
        ops.append(gen.next())
    return ops
