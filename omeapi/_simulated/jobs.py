"""Push and record jobs: OME's state machines on the engine's clock, and the operations.

``ready`` until the output stream exists, then ``connecting`` (push) and
``pushing``/``recording`` :data:`CONNECT_DELAY` seconds later (``error`` for a push target
under ``.invalid`` or a record path with a directory named ``*.invalid``), ``stopping`` on
stop and ``stopped`` :data:`STOP_DELAY` later.  Finished jobs stay listed
:data:`JOB_RETENTION` seconds; their id may be reused at once.

:class:`JobMachine` moves jobs on (the clock calls it); :class:`Jobs` is the
:class:`~omeapi.RuntimeEngine` push/record operations.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from omeapi._engine.features import publisher
from omeapi._engine.values import (
    PushInfo,
    PushRequest,
    RecordInfo,
    RecordRequest,
    record_schedule_fields,
)
from omeapi._errors import EngineError, EngineResult
from omeapi._simulated.media import UNREACHABLE, selected_bitrate, unreachable_host
from omeapi._simulated.state import AppState, Push, Record, World, missing

Job = TypeVar("Job", Push, Record)
Info = TypeVar("Info", PushInfo, RecordInfo)

__all__ = ["CONNECT_DELAY", "JOB_RETENTION", "STOP_DELAY", "JobMachine", "Jobs"]

#: seconds from a job's stream being available to pushing / recording
CONNECT_DELAY = 1.0
#: seconds from a stop request to ``stopped``
STOP_DELAY = 1.0
#: seconds a stopped or failed job stays listed
JOB_RETENTION = 60.0

# -- record file names ----------------------------------------------------------------------

#: Record paths when neither the request nor ``<Publishers><FILE>`` names one; relative
#: paths are under ``RootPath`` (``/tmp`` without one).
_DEFAULT_FILE_PATH = (
    "${VirtualHost}_${Application}_${StreamName}"
    "_${StartTime:YYYYMMDDhhmmss}_${EndTime:YYYYMMDDhhmmss}.ts"
)
_DEFAULT_INFO_PATH = "${VirtualHost}_${Application}_${StreamName}.xml"
_DEFAULT_ROOT = "/tmp"
_MACRO = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")
_TIME_TOKENS = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("hh", "%H"), ("mm", "%M"))


def _time_text(when: float, pattern: str) -> str:
    if when <= 0:
        return ""
    fmt = pattern or "YYYYMMDDhhmmss"
    for token, directive in _TIME_TOKENS:
        fmt = fmt.replace(token, directive)
    fmt = fmt.replace("ss", "%S")
    try:
        return time.strftime(fmt, time.localtime(when))
    except (OverflowError, OSError, ValueError):
        return ""


def _expand(template: str, values: dict[str, str], start: float, end: float) -> str:
    """A record path template with OME's ``${…}`` macros filled in."""

    def fill(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2) or ""
        if name == "StartTime":
            return _time_text(start, arg)
        if name == "EndTime":
            return _time_text(end, arg)
        return values.get(name, m.group(0))

    return _MACRO.sub(fill, template)


def _schedule_splits(schedule: str, start: float, now: float) -> tuple[int, float]:
    """How many scheduled file splits happened in (start, now] and when the last was."""
    sets = record_schedule_fields(schedule)
    if sets is None or now <= start:
        return 0, start
    seconds, minutes, hours = sets
    first, end = int(start) + 1, int(now)
    # Whole days are counted arithmetically; the last day is walked, jumping over hours and
    # minutes that cannot match.
    days = (end - first) // 86400
    count, last = days * len(seconds) * len(minutes) * len(hours), start
    t = first + days * 86400
    while t <= end:
        moment = time.localtime(t)
        if moment.tm_hour not in hours:
            t += 3600 - moment.tm_min * 60 - moment.tm_sec
        elif moment.tm_min not in minutes:
            t += 60 - moment.tm_sec
        else:
            if moment.tm_sec in seconds:
                count, last = count + 1, float(t)
            t += min((s for s in seconds if s > moment.tm_sec), default=60) - moment.tm_sec
    return count, last


def close_push_session(job: Push, now: float) -> None:
    """A push session ended: its bytes and time go to the job's earlier sessions."""
    job.earlier_bytes += job.sent_bytes
    job.earlier_time += int(max(0.0, now - job.start_time) * 1000)
    job.sent_bytes = 0


def close_record_session(job: Record, now: float) -> None:
    """A recording session ended: its time goes to the job's earlier sessions."""
    job.earlier_time += int(max(0.0, now - job.start_time) * 1000)


def record_files(job: Record, now: float) -> tuple[int, float]:
    """The current file's sequence number and when it started."""
    req = job.request
    if job.start_time <= 0:
        return 0, 0.0
    if req.interval > 0:
        elapsed_ms = int(max(0.0, now - job.start_time) * 1000)
        sequence = elapsed_ms // req.interval
        return sequence, job.start_time + sequence * req.interval / 1000
    if req.schedule:
        return _schedule_splits(req.schedule, job.start_time, now)
    return 0, job.start_time


class JobMachine:
    """Moves an app's jobs through their states up to a moment (see the module docstring)."""

    def __init__(self, world: World) -> None:
        self._w = world

    def advance(self, vhost: str, app: str, state: AppState, now: float) -> None:
        for push_id, push in list(state.pushes.items()):
            self._advance_push(vhost, app, push, now)
            if push.state in ("stopped", "error") and now - push.finish_time > JOB_RETENTION:
                del state.pushes[push_id]
        for record_id, record in list(state.records.items()):
            self._advance_record(vhost, app, record, now)
            if record.state in ("stopped", "error") and now - record.finish_time > JOB_RETENTION:
                del state.records[record_id]

    def next_due(self, vhost: str, app: str, state: AppState, now: float) -> float | None:
        """When one of the app's jobs next changes state with no call about it (a connect
        or a stop completing), or None; a job waiting for its stream moves when the stream
        starts, which touches the app."""
        due: list[float] = []
        for push in state.pushes.values():
            if push.state == "connecting":
                due.append(push.since + CONNECT_DELAY)
            elif push.state == "stopping":
                due.append(push.since + STOP_DELAY)
        for record in state.records.values():
            if record.state == "ready":
                source = self._w.output_stream(vhost, app, record.request.stream.name)
                if source is not None:
                    due.append(max(record.since, source[0].stream.created) + CONNECT_DELAY)
            elif record.state == "stopping":
                due.append(record.since + STOP_DELAY)
        return min(due, default=None)

    def _advance_push(self, vhost: str, app: str, job: Push, now: float) -> None:
        source = self._w.output_stream(vhost, app, job.request.stream.name)
        while True:
            if job.state == "ready" and source is not None:
                job.state, job.since = "connecting", max(job.since, source[0].stream.created)
                req = job.request.stream
                job.rate = selected_bitrate(source[1], req.track_ids, req.variant_names)
            elif job.state == "connecting" and job.since + CONNECT_DELAY <= now:
                at = job.since + CONNECT_DELAY
                if unreachable_host(job.request.url):
                    job.state, job.since, job.finish_time = "error", at, at
                else:
                    job.state, job.since, job.start_time = "pushing", at, at
                    job.sequence += 1
                    job.sent_bytes = 0
            elif job.state == "pushing" and source is None:
                # The stream went away: the job waits for it again.
                close_push_session(job, now)
                job.state, job.since = "ready", now
            elif job.state == "stopping" and job.since + STOP_DELAY <= now:
                job.state = "stopped"
                job.finish_time = job.since + STOP_DELAY
            else:
                return

    def _advance_record(self, vhost: str, app: str, job: Record, now: float) -> None:
        source = self._w.output_stream(vhost, app, job.request.stream.name)
        while True:
            if job.state == "ready" and source is not None:
                at = max(job.since, source[0].stream.created) + CONNECT_DELAY
                if at > now:
                    return
                req = job.request.stream
                job.rate = selected_bitrate(source[1], req.track_ids, req.variant_names)
                bad = any(p.endswith(UNREACHABLE) for p in job.file_path.split("/")[:-1])
                if bad:
                    job.state, job.since, job.finish_time = "error", at, at
                else:
                    job.state, job.since, job.start_time = "recording", at, at
            elif job.state == "recording" and source is None:
                close_record_session(job, now)
                job.state, job.since = "ready", now
            elif job.state == "stopping" and job.since + STOP_DELAY <= now:
                job.state = "stopped"
                job.finish_time = job.since + STOP_DELAY
            else:
                return


class Jobs:
    """The push and record operations; ``tick`` brings the simulation up to now."""

    def __init__(self, world: World, tick: Callable[..., float]) -> None:
        self._w = world
        self._tick = tick

    def _jobs(self, vhost: str, app: str) -> AppState:
        self._tick(vhost, app)
        state = self._w.app_state(vhost, app)
        if state is None:
            raise missing(f"{vhost}/{app} is not running")
        return state

    def _push_info(self, vhost: str, app: str, job: Push, now: float) -> PushInfo:
        session_ms = int(max(0.0, now - job.start_time) * 1000) if job.state == "pushing" else 0
        return PushInfo(
            vhost,
            app,
            job.request,
            job.state,
            job.created,
            sent_bytes=job.sent_bytes,
            sent_time=session_ms,
            total_sent_bytes=job.earlier_bytes + job.sent_bytes,
            total_sent_time=job.earlier_time + session_ms,
            sequence=job.sequence,
            start_time=job.start_time,
            finish_time=job.finish_time,
        )

    def start_push(self, vhost: str, app: str, request: PushRequest) -> PushInfo:
        with self._w.lock:
            self._w.maybe_fail("start_push")
            state = self._jobs(vhost, app)
            existing = state.pushes.get(request.id)
            if existing is not None and existing.state not in ("stopped", "error"):
                raise EngineError(EngineResult.EXISTS)
            now = self._w.clock()
            job = Push(request, now, since=now)
            state.pushes[request.id] = job
            self._w.touch(vhost, app)
            # The answer shows the job as created; it moves on at the next tick.
            return self._push_info(vhost, app, job, now)

    def stop_push(self, vhost: str, app: str, push_id: str) -> PushInfo:
        with self._w.lock:
            self._w.maybe_fail("stop_push")
            state = self._jobs(vhost, app)
            job = state.pushes.get(push_id)
            if job is None:
                raise missing()
            now = self._w.clock()
            if job.state == "pushing":
                close_push_session(job, now)
            if job.state not in ("stopping", "stopped", "error"):
                job.state, job.since = "stopping", now
            self._w.touch(vhost, app)
            return self._push_info(vhost, app, job, now)

    def list_pushes(self, vhost: str, app: str, push_id: str | None) -> list[PushInfo]:
        return self._listed(vhost, app, push_id, lambda state: state.pushes, self._push_info)

    def _listed(
        self,
        vhost: str,
        app: str,
        wanted: str | None,
        jobs_of: Callable[[AppState], Mapping[str, Job]],
        info: Callable[[str, str, Job, float], Info],
    ) -> list[Info]:
        """The app's jobs (pushes or records) as ``info`` shows them, after a tick; only
        the one with id ``wanted`` when given."""
        with self._w.lock:
            now = self._tick(vhost, app)
            state = self._w.app_state(vhost, app)
            if state is None:
                return []
            return [
                info(vhost, app, job, now)
                for ident, job in jobs_of(state).items()
                if wanted is None or ident == wanted
            ]

    def _record_info(self, vhost: str, app: str, job: Record, now: float) -> RecordInfo:
        recording = job.state == "recording"
        until = now if recording else (job.finish_time or job.since)
        sequence, file_start = record_files(job, until)
        if job.start_time > 0 and (recording or job.state in ("stopping", "stopped")):
            file_ms = int(max(0.0, until - file_start) * 1000)
            total_ms = job.earlier_time + int(max(0.0, until - job.start_time) * 1000)
        else:
            file_ms, total_ms = 0, job.earlier_time
        values = {
            "VirtualHost": vhost,
            "Application": app,
            "StreamName": job.request.stream.name,
            "Stream": job.request.stream.name,
            "Id": job.request.id,
            "Sequence": str(sequence),
        }
        end = until if job.state in ("stopping", "stopped") else 0.0
        active = job.start_time > 0
        return RecordInfo(
            vhost,
            app,
            job.request,
            job.state,
            job.created,
            file_path=job.file_path,
            info_path=job.info_path,
            output_file_path=_expand(job.file_path, values, file_start, end) if active else "",
            output_info_path=_expand(job.info_path, values, file_start, end) if active else "",
            record_bytes=int(file_ms / 1000 * job.rate / 8),
            record_time=file_ms,
            total_record_bytes=int(total_ms / 1000 * job.rate / 8),
            total_record_time=total_ms,
            sequence=sequence,
            start_time=job.start_time,
            finish_time=job.finish_time,
        )

    def start_record(self, vhost: str, app: str, request: RecordRequest) -> RecordInfo:
        with self._w.lock:
            self._w.maybe_fail("start_record")
            state = self._jobs(vhost, app)
            existing = state.records.get(request.id)
            if existing is not None and existing.state not in ("stopped", "error"):
                raise EngineError(EngineResult.EXISTS)
            config = publisher(self._w.running_config(vhost, app), "FILE")
            root = (str(config.value("RootPath", "") or "") if config else "") or _DEFAULT_ROOT
            file_path = request.file_path or (
                str(config.value("FilePath", "") or "") if config else ""
            )
            info_path = request.info_path or (
                str(config.value("InfoPath", "") or "") if config else ""
            )
            now = self._w.clock()
            job = Record(
                request,
                now,
                os.path.join(root, file_path or _DEFAULT_FILE_PATH),
                os.path.join(root, info_path or _DEFAULT_INFO_PATH),
                since=now,
            )
            state.records[request.id] = job
            self._w.touch(vhost, app)
            return self._record_info(vhost, app, job, now)

    def stop_record(self, vhost: str, app: str, record_id: str) -> RecordInfo:
        with self._w.lock:
            self._w.maybe_fail("stop_record")
            state = self._jobs(vhost, app)
            job = state.records.get(record_id)
            if job is None:
                raise missing()
            now = self._w.clock()
            if job.state not in ("stopping", "stopped", "error"):
                job.state, job.since = "stopping", now
            self._w.touch(vhost, app)
            return self._record_info(vhost, app, job, now)

    def list_records(self, vhost: str, app: str, record_id: str | None) -> list[RecordInfo]:
        return self._listed(vhost, app, record_id, lambda state: state.records, self._record_info)
