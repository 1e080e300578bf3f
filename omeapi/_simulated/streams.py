"""Input streams and what acts on them: pull, terminate, LL-HLS dumps, events, subtitles.

A stream started with ``publish()`` is an RTMP push; ``create_pull_stream`` pulls (``rtsp``,
``rtmp``, ``ovt``, ``srt`` URLs; a host under the reserved ``.invalid`` domain never
answers).  Input tracks are plausible (H264 720p30, AAC or Opus, a data track); outputs
follow the app's output profiles (:mod:`omeapi._simulated.media`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from omeapi._config import ApplicationConfig
from omeapi._engine.features import has_llhls_default_playlist
from omeapi._engine.values import (
    HlsDump,
    HlsDumpRequest,
    Playlist,
    PullRequest,
    SessionInfo,
    StreamEvent,
    StreamInfo,
    SttRendition,
    SttStatus,
    SubtitleCue,
    Track,
)
from omeapi._errors import EngineError, EngineResult
from omeapi._simulated.media import (
    PULL_SCHEMES,
    default_playlists,
    stt_rendition_items,
    unreachable_host,
)
from omeapi._simulated.state import SimulatedStream, World, failed, missing

__all__ = ["Streams", "stt_renditions"]

#: The STT rendition settings the simulation reports, as OME names them.
_STT_PROPERTIES = (
    ("Engine", "engine"),
    ("Model", "model"),
    ("SourceLanguage", "sourceLanguage"),
    ("Translation", "translation"),
    ("OutputSubtitleLabel", "outputLabel"),
)


def stt_renditions(config: ApplicationConfig) -> tuple[SttRendition, ...]:
    """The speech-to-text encoders an app's ``<OutputProfiles><MediaOptions><STT>`` asks
    for (none when it is absent or not enabled)."""
    out = []
    for rendition in stt_rendition_items(config):
        properties = tuple(
            (
                key,
                str(rendition.value(xml)).lower()
                if isinstance(rendition.value(xml), bool)
                else str(rendition.value(xml)),
            )
            for xml, key in _STT_PROPERTIES
            if rendition.value(xml) is not None
        )
        out.append(SttRendition("whisper", properties))
    return tuple(out)


class Streams:
    """The stream operations and the stream test controls; ``tick`` brings the simulation
    up to now."""

    def __init__(self, world: World, tick: Callable[..., float]) -> None:
        self._w = world
        self._tick = tick

    # -- test controls ----------------------------------------------------------------

    def publish(self, vhost: str, app: str, stream: str, *, viewers: int = 0) -> None:
        """Start a stream with one publisher (and ``viewers`` viewers) on a running app."""
        with self._w.lock:
            running = self._w.running(vhost, app)
            running.streams[stream] = SimulatedStream(stream, self._w.clock(), 1, viewers)
            self._w.touch(vhost, app)
            self._w.sessions_of(self._w.stream_live(vhost, app, stream))

    def add_viewers(self, vhost: str, app: str, stream: str, count: int = 1) -> None:
        """Add viewers to a live stream."""
        with self._w.lock:
            self._w.catch_up(vhost, app)
            self._w.running(vhost, app).streams[stream].viewers += count
            self._w.touch(vhost, app)
            self._w.sessions_of(self._w.stream_live(vhost, app, stream))

    def sessions(self, vhost: str, app: str) -> int:
        """Sessions on an app (0 when it is not running)."""
        with self._w.lock:
            running = self._w.apps.get((vhost, app))
            return 0 if running is None else sum(s.sessions for s in running.streams.values())

    def names(self, vhost: str, app: str) -> list[str]:
        """Names of the app's input streams, in creation order."""
        with self._w.lock:
            return list(self._w.running(vhost, app).streams)

    def events(self, vhost: str, app: str, stream: str) -> list[StreamEvent]:
        """Events injected into a live stream, in order."""
        with self._w.lock:
            return list(self._w.stream_live(vhost, app, stream).events)

    def subtitles(self, vhost: str, app: str, stream: str) -> list[SubtitleCue]:
        """Subtitle cues sent to a live stream, in order."""
        with self._w.lock:
            return list(self._w.stream_live(vhost, app, stream).subtitles)

    def concluded(self, vhost: str, app: str, stream: str) -> bool:
        """Whether the stream's HLS playlists were concluded."""
        with self._w.lock:
            return self._w.stream_live(vhost, app, stream).concluded

    # -- streams --------------------------------------------------------------------------

    def list_streams(self, vhost: str, app: str) -> list[str]:
        with self._w.lock:
            self._tick(vhost, app)
            return [name for name, _ in self._w.streams(vhost, app)]

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        with self._w.lock:
            now = self._tick(vhost, app)
            try:
                live = self._w.stream_live(vhost, app, stream)
            except EngineError:
                return None
            tracks = tuple(self._moving(t, now - live.stream.created) for t in live.tracks)
            outputs = tuple(
                attrs.evolve(
                    out,
                    tracks=tuple(self._moving(t, now - live.stream.created) for t in out.tracks),
                )
                for out in self._w.outputs(vhost, app, stream, live)
            )
            relay_playlists: tuple[Playlist, ...] = ()
            if live.relay and has_llhls_default_playlist(self._w.running_config(vhost, app)):
                relay_playlists = default_playlists(tracks)
            return StreamInfo(
                stream,
                live.source_type,
                live.stream.created,
                tracks,
                outputs,
                live.source_url,
                relay=live.relay,
                playlists=relay_playlists,
            )

    @staticmethod
    def _moving(track: Track, elapsed: float) -> Track:
        """A video track with the frame count since its last key frame at this moment."""
        video = track.video
        if video is None or video.key_frame_interval <= 0:
            return track
        frames = int(max(0.0, elapsed) * video.framerate)
        delta = frames % max(1, int(video.key_frame_interval))
        return attrs.evolve(
            track, video=attrs.evolve(video, delta_frames_since_last_key_frame=delta)
        )

    def create_pull_stream(self, vhost: str, app: str, request: PullRequest) -> None:
        with self._w.lock:
            self._w.maybe_fail("create_pull_stream")
            self._tick(vhost, app)
            self._w.running_config(vhost, app)
            if request.name in self._w.apps[(vhost, app)].streams:
                raise EngineError(EngineResult.EXISTS)
            for url in request.urls:
                scheme = url.partition("://")[0].lower() if "://" in url else ""
                source_type = PULL_SCHEMES.get(scheme)
                if source_type is not None and not unreachable_host(url):
                    self._w.new_stream(
                        vhost,
                        app,
                        request.name,
                        source_type,
                        source_url=url,
                        relay=request.properties.relay is True,
                    )
                    return
            raise failed(f"no source of {request.name} could be pulled")

    def delete_stream(self, vhost: str, app: str, stream: str) -> None:
        with self._w.lock:
            self._w.maybe_fail("delete_stream")
            self._tick(vhost, app)
            running = self._w.apps.get((vhost, app))
            if running is None or running.streams.pop(stream, None) is None:
                raise missing()
            self._w.lives.pop((vhost, app, stream), None)
            self._w.touch(vhost, app)
            self._tick(vhost, app)

    # -- sessions -------------------------------------------------------------------------

    def list_sessions(self, vhost: str, app: str, stream: str) -> list[SessionInfo]:
        with self._w.lock:
            self._w.maybe_fail("list_sessions")
            self._tick(vhost, app)
            live = self._w.stream_live(vhost, app, stream)
            sessions = self._w.sessions_of(live)
            counted_in = live.counter.bytes_in if live.counter is not None else 0
            publishers = sum(1 for s in sessions if s.publisher)
            out = []
            for session in sessions:
                # What came in came from the publisher(s).
                bytes_in = counted_in // publishers if session.publisher else 0
                out.append(
                    SessionInfo(
                        session.id,
                        session.protocol,
                        session.remote_address,
                        session.since,
                        bytes_in,
                        session.bytes_out,
                    )
                )
            return out

    def disconnect_session(self, vhost: str, app: str, stream: str, session_id: str) -> None:
        """A viewer leaves; the publisher leaving ends the stream (and its viewers)."""
        with self._w.lock:
            self._w.maybe_fail("disconnect_session")
            live = self._w.stream_live(vhost, app, stream)
            found = next((s for s in self._w.sessions_of(live) if s.id == session_id), None)
            if found is None:
                raise missing(f"no session {session_id} on {vhost}/{app}/{stream}")
            if found.publisher and live.stream.publishers <= 1:
                self.delete_stream(vhost, app, stream)
                return
            # What flowed to it until now is counted at the old counts first.
            self._w.catch_up(vhost, app)
            live.stream.session_list.remove(found)
            if found.publisher:
                live.stream.publishers -= 1
            else:
                live.stream.viewers -= 1
            self._w.touch(vhost, app)
            self._tick(vhost, app)

    # -- HLS dumps, events, subtitles -------------------------------------------------------

    def list_hls_dumps(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> list[HlsDump]:
        with self._w.lock:
            self._tick(vhost, app)
            live = self._w.stream_live(vhost, app, stream)
            return [
                dump
                for (output, ident), dump in live.dumps.items()
                if output == output_stream and (dump_id is None or ident == dump_id)
            ]

    def start_hls_dump(self, vhost: str, app: str, stream: str, request: HlsDumpRequest) -> None:
        with self._w.lock:
            self._w.maybe_fail("start_hls_dump")
            live = self._w.stream_live(vhost, app, stream)
            key = (request.output_stream_name, request.id)
            existing = live.dumps.get(key)
            if existing is not None and existing.enabled:
                raise EngineError(EngineResult.EXISTS)
            live.dumps[key] = HlsDump(
                request.id,
                request.output_stream_name,
                request.output_path,
                True,
                request.playlists,
                request.info_file,
                request.user_data,
            )

    def stop_hls_dump(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> None:
        with self._w.lock:
            self._w.maybe_fail("stop_hls_dump")
            live = self._w.stream_live(vhost, app, stream)
            keys = [
                key
                for key in live.dumps
                if key[0] == output_stream and (dump_id is None or key[1] == dump_id)
            ]
            if dump_id is not None and not keys:
                raise missing()
            for key in keys:
                live.dumps[key] = attrs.evolve(live.dumps[key], enabled=False)

    def send_event(self, vhost: str, app: str, stream: str, event: StreamEvent) -> None:
        with self._w.lock:
            self._w.maybe_fail("send_event")
            self._w.stream_live(vhost, app, stream).events.append(event)

    def conclude_hls_live(self, vhost: str, app: str, stream: str, urgent: bool) -> None:
        with self._w.lock:
            self._w.maybe_fail("conclude_hls_live")
            self._w.stream_live(vhost, app, stream).concluded = True

    def send_subtitles(
        self, vhost: str, app: str, stream: str, cues: Sequence[SubtitleCue]
    ) -> None:
        with self._w.lock:
            self._w.maybe_fail("send_subtitles")
            self._w.stream_live(vhost, app, stream).subtitles.extend(cues)

    # -- speech to text -------------------------------------------------------------------

    def _stt(self, vhost: str, app: str, stream: str) -> tuple[SttRendition, ...]:
        live = self._w.stream_live(vhost, app, stream)
        del live  # the stream must exist (NOT_EXISTS otherwise)
        return stt_renditions(self._w.running_config(vhost, app))

    def enable_stt(self, vhost: str, app: str, stream: str) -> None:
        with self._w.lock:
            self._w.maybe_fail("enable_stt")
            if not self._stt(vhost, app, stream):
                raise missing(f"no STT encoder for {vhost}/{app}/{stream}")
            self._w.stream_live(vhost, app, stream).stt_paused = False

    def disable_stt(self, vhost: str, app: str, stream: str) -> None:
        with self._w.lock:
            self._w.maybe_fail("disable_stt")
            if not self._stt(vhost, app, stream):
                raise missing(f"no STT encoder for {vhost}/{app}/{stream}")
            self._w.stream_live(vhost, app, stream).stt_paused = True

    def stt_status(self, vhost: str, app: str, stream: str) -> SttStatus:
        with self._w.lock:
            renditions = self._stt(vhost, app, stream)
            paused = self._w.stream_live(vhost, app, stream).stt_paused
            return SttStatus(bool(renditions) and not paused, renditions)
