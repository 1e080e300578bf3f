"""The runtime half of the engine interface: live streams and what acts on them.

:class:`~omeapi.MediaEngine` extends :class:`RuntimeEngine`; the controllers reach
runtime state only through these methods.  The API has already done OME's lookups and body
checks when a method is called: the vhost and app exist in the registry (the engine may still
not be running the app: a failed restart), request values are parsed and typed, and whether
the app's config enables a publisher or provider has been checked.  What is left to the engine
is what only it knows.

Failures are :class:`~omeapi.EngineError` with a result the API maps to OME's answer:

* ``NOT_EXISTS``: the stream / job / dump / channel is not there (usually 404);
* ``EXISTS``: the name or id is taken (409, or OME's 400 for duplicate push/record ids);
* ``FAILED``: the operation itself failed; ``detail`` is shown where OME shows a reason;
* ``UNAVAILABLE``: the engine cannot do this at all (no speech-to-text, no session control):
  503.

Calls may come from any thread at any time; an engine serialises what it must.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from omeapi._engine.channels import Multiplex, MultiplexInfo, Schedule, ScheduledChannelInfo
from omeapi._engine.values import (
    HlsDump,
    HlsDumpRequest,
    Metrics,
    PullRequest,
    PushInfo,
    PushRequest,
    QueueMetrics,
    RecordInfo,
    RecordRequest,
    SessionInfo,
    StreamEvent,
    StreamInfo,
    SttStatus,
    SubtitleCue,
)
from omeapi._errors import EngineError, EngineResult

__all__ = ["RuntimeEngine", "no_session_control", "no_transcoder"]


def no_transcoder() -> EngineError:
    """What an engine without speech-to-text answers (OME 0.21 without a transcoder: 503)."""
    return EngineError(EngineResult.UNAVAILABLE, "this engine has no speech-to-text")


def no_session_control() -> EngineError:
    """What an engine that cannot list or disconnect sessions answers (503)."""
    return EngineError(EngineResult.UNAVAILABLE, "this engine cannot list or disconnect sessions")


class RuntimeEngine(Protocol):
    """Runtime operations of a media server (see the module docstring for the rules)."""

    # -- streams ----------------------------------------------------------------------

    def list_streams(self, vhost: str, app: str) -> list[str]:
        """Names of the app's *input* streams (not the outputs a profile made), in creation
        order; ``[]`` when the app is not running."""

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        """An input stream with its tracks and output streams, or None."""

    def create_pull_stream(self, vhost: str, app: str, request: PullRequest) -> None:
        """Create an input stream by pulling ``request.urls``; when it returns, the stream
        exists.  ``EXISTS`` if the name is taken, ``FAILED`` if the pull failed, ``INVALID``
        (with the reason as ``detail``) for a request it refuses as invalid."""

    def delete_stream(self, vhost: str, app: str, stream: str) -> None:
        """Terminate an input stream and its outputs (its sessions are dropped).
        ``NOT_EXISTS`` if it is gone, ``FAILED`` if it could not be stopped."""

    # -- LL-HLS dumps, events, subtitles ------------------------------------------------

    def list_hls_dumps(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> list[HlsDump]:
        """The LL-HLS dumps of an output stream of ``stream`` (only ``dump_id`` if given;
        an unknown id gives ``[]``)."""

    def start_hls_dump(self, vhost: str, app: str, stream: str, request: HlsDumpRequest) -> None:
        """Start dumping an output stream's LL-HLS files.  ``EXISTS`` for a dump id in use,
        ``FAILED`` (``detail``: the reason) when it cannot start."""

    def stop_hls_dump(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> None:
        """Stop one dump, or every dump of the output stream when ``dump_id`` is None.
        ``NOT_EXISTS`` for an unknown id, ``FAILED`` (``detail``) otherwise."""

    def send_event(self, vhost: str, app: str, stream: str, event: StreamEvent) -> None:
        """Inject timed metadata (ID3v2, cue, SCTE-35) at the stream's current timestamp.
        ``NOT_EXISTS`` if the stream is gone, ``FAILED`` if it cannot be injected."""

    def conclude_hls_live(self, vhost: str, app: str, stream: str, urgent: bool) -> None:
        """End the stream's HLS playlists (``#EXT-X-ENDLIST``); errors as :meth:`send_event`."""

    def send_subtitles(
        self, vhost: str, app: str, stream: str, cues: Sequence[SubtitleCue]
    ) -> None:
        """Send WebVTT cues on the stream's subtitle tracks; errors as :meth:`send_event`."""

    # -- speech to text (OME 0.21) ----------------------------------------------------------
    # These have bodies: an engine that derives from this protocol (or NoRuntime) and has no
    # speech-to-text gets OME's answer without a transcoder (503); the API gives the same
    # to an engine that does not define them.

    def enable_stt(self, vhost: str, app: str, stream: str) -> None:
        """Resume the stream's speech-to-text encoders.  ``NOT_EXISTS`` when it has none
        (404), ``UNAVAILABLE`` when the engine has no speech-to-text (503)."""
        raise no_transcoder()

    def disable_stt(self, vhost: str, app: str, stream: str) -> None:
        """Pause the stream's speech-to-text encoders; errors as :meth:`enable_stt`."""
        raise no_transcoder()

    def stt_status(self, vhost: str, app: str, stream: str) -> SttStatus:
        """The stream's speech-to-text encoders and whether they run (none: not enabled).
        ``UNAVAILABLE`` when the engine has no speech-to-text."""
        raise no_transcoder()

    # -- sessions (an omeapi extension) -----------------------------------------------------
    # With bodies, as speech-to-text: an engine without session control answers 503
    # (``UNAVAILABLE``), and the API gives the same to an engine that does not define them.

    def list_sessions(self, vhost: str, app: str, stream: str) -> list[SessionInfo]:
        """The sessions of an input stream: its publisher(s) and its viewers, oldest first.
        ``NOT_EXISTS`` if the stream is gone, ``UNAVAILABLE`` when the engine cannot list
        sessions.  A viewer session counts in the stream's ``metrics`` connections (of its
        protocol), and what sessions sent and received is part of its byte totals."""
        raise no_session_control()

    def disconnect_session(self, vhost: str, app: str, stream: str, session_id: str) -> None:
        """Close one session of the stream (its counts in ``metrics`` go with it; bytes
        already counted stay counted).  ``NOT_EXISTS`` for an unknown id or a stream that
        is gone, ``UNAVAILABLE`` as :meth:`list_sessions`."""
        raise no_session_control()

    # -- push -----------------------------------------------------------------------------

    def start_push(self, vhost: str, app: str, request: PushRequest) -> PushInfo:
        """Start re-streaming an output stream (the job starts ``ready`` and waits for the
        stream if needed).  ``EXISTS`` for an id in use."""

    def stop_push(self, vhost: str, app: str, push_id: str) -> PushInfo:
        """Stop a push job (it goes ``stopping`` then ``stopped``).  ``NOT_EXISTS`` for an
        unknown id."""

    def list_pushes(self, vhost: str, app: str, push_id: str | None) -> list[PushInfo]:
        """The app's push jobs (only ``push_id`` if given; unknown: ``[]``)."""

    # -- record ---------------------------------------------------------------------------

    def start_record(self, vhost: str, app: str, request: RecordRequest) -> RecordInfo:
        """Start recording an output stream (``ready`` until it records).  ``EXISTS`` for
        an id in use."""

    def stop_record(self, vhost: str, app: str, record_id: str) -> RecordInfo:
        """Stop a record job; returns it in state ``stopping``.  ``NOT_EXISTS`` for an
        unknown id."""

    def list_records(self, vhost: str, app: str, record_id: str | None) -> list[RecordInfo]:
        """The app's record jobs (only ``record_id`` if given; unknown: ``[]``)."""

    # -- scheduled and multiplex channels ---------------------------------------------------

    def list_scheduled_channels(self, vhost: str, app: str) -> list[str]:
        """Names of the app's input streams that are scheduled channels."""

    def create_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        """Store ``schedule`` as the file ``path`` (the app's schedule directory,
        ``<name>.sch``) and start its stream.  ``EXISTS`` if the stream name is taken,
        ``FAILED`` if the file cannot be written."""

    def get_scheduled_channel(
        self, vhost: str, app: str, stream: str
    ) -> ScheduledChannelInfo | None:
        """A scheduled channel with its current program; None if ``stream`` is not a
        scheduled channel (``NOT_EXISTS`` if its schedule is lost)."""

    def update_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        """Replace a scheduled channel's schedule (same stream name) and its file.
        ``NOT_EXISTS`` if the channel is gone, ``FAILED`` if the file cannot be written."""

    def delete_scheduled_channel(self, vhost: str, app: str, stream: str, path: str) -> None:
        """Stop a scheduled channel and delete its file.  ``NOT_EXISTS`` if it is not a
        scheduled channel, ``FAILED`` if the file cannot be deleted."""

    def list_multiplex_channels(self, vhost: str, app: str) -> list[str]:
        """Names of the app's multiplex channels."""

    def create_multiplex_channel(
        self, vhost: str, app: str, path: str, multiplex: Multiplex
    ) -> None:
        """Store ``multiplex`` as the file ``path`` (``<name>.mux``) and start its stream.
        ``EXISTS`` if the name is taken, ``FAILED`` if the file cannot be written."""

    def get_multiplex_channel(self, vhost: str, app: str, name: str) -> MultiplexInfo | None:
        """A multiplex channel and its state, or None."""

    def delete_multiplex_channel(self, vhost: str, app: str, name: str, path: str) -> None:
        """Stop a multiplex channel and delete its file.  ``NOT_EXISTS`` if there is no
        such channel, ``FAILED`` if the file cannot be deleted."""

    # -- statistics -----------------------------------------------------------------------

    def metrics(self, *scope: str) -> Metrics | None:
        """Traffic statistics of the server (no ``scope``), a vhost ``(vhost)``, an app
        ``(vhost, app)`` or an input stream ``(vhost, app, stream)``; None when the engine
        does not run that scope.  Byte counts and connections add up: the server's are the
        sum of its vhosts', a vhost's the sum of its apps' and so on (history of deleted
        streams stays counted above them)."""

    def queue_metrics(self) -> list[QueueMetrics]:
        """The engine's internal queues (``/v1/stats/current/internals/queues``)."""
