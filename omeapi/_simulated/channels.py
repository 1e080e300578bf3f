"""Scheduled and multiplex channels: files (see :mod:`omeapi._engine.channels`) and
streams; the files found in an app's directories when it first runs become streams too."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs

from omeapi._engine.channels import (
    MULTIPLEX_SUFFIX,
    SCHEDULE_SUFFIX,
    Multiplex,
    MultiplexInfo,
    Schedule,
    ScheduledChannelInfo,
    current_program,
    delete_channel_file,
    parse_multiplex,
    parse_schedule,
    read_channel_files,
    write_channel_file,
)
from omeapi._engine.features import channel_dir
from omeapi._engine.values import Track
from omeapi._errors import ApiError, EngineError, EngineResult
from omeapi._simulated.media import AAC, H264, input_tracks
from omeapi._simulated.state import Live, RunningApp, World, failed, missing

__all__ = ["Channels"]


class Channels:
    """The channel operations; ``tick`` brings the simulation up to now.  :meth:`load` is
    the world's ``on_app_start``."""

    def __init__(self, world: World, tick: Callable[..., float]) -> None:
        self._w = world
        self._tick = tick

    def load(self, vhost: str, app: str, running: RunningApp) -> None:
        """Start the channels whose files are in the app's directories (OME's providers
        read them when the app starts)."""
        for kind, suffix in (("Schedule", SCHEDULE_SUFFIX), ("Multiplex", MULTIPLEX_SUFFIX)):
            directory = channel_dir(running.config, kind, self._w.config_dir)
            if directory is None:
                continue
            for path, document in read_channel_files(directory, suffix):
                name = os.path.basename(path)[: -len(suffix)]
                if name in running.streams:
                    continue
                try:
                    if kind == "Schedule":
                        schedule = parse_schedule(document, self._w.clock())
                        if schedule.stream.name == name:
                            self._start_channel(vhost, app, name, schedule=schedule)
                    else:
                        multiplex = parse_multiplex(document)
                        if multiplex.name == name:
                            self._start_channel(vhost, app, name, multiplex=multiplex)
                except ApiError:
                    continue  # not a channel file omeapi can read: leave it alone

    def _start_channel(
        self,
        vhost: str,
        app: str,
        name: str,
        *,
        schedule: Schedule | None = None,
        multiplex: Multiplex | None = None,
    ) -> None:
        if schedule is not None:
            tracks = input_tracks(
                "Scheduled",
                video=schedule.stream.video_track,
                audio=schedule.stream.audio_track,
            )
            self._w.new_stream(
                vhost, app, name, "Scheduled", publishers=0, tracks=tracks, schedule=schedule
            )
        elif multiplex is not None:
            tracks = self._mux_tracks(multiplex)
            self._w.new_stream(
                vhost, app, name, "Multiplex", publishers=0, tracks=tracks, multiplex=multiplex
            )

    def _mux_source(self, url: str) -> Live | None:
        parts = url.partition("://")[2].split("/")
        if len(parts) < 3:
            return None
        try:
            return self._w.stream_live(parts[0], parts[1], "/".join(parts[2:]))
        except EngineError:
            return None

    def _mux_tracks(self, multiplex: Multiplex) -> tuple[Track, ...]:
        tracks: list[Track] = []
        for source in multiplex.sources:
            live = self._mux_source(source.url)
            for entry in source.track_map:
                # Without the source live, the kind is guessed from the name, as a placeholder.
                kind = "Audio" if "audio" in entry.source_track_name.lower() else "Video"
                found = next(
                    (t for t in (live.tracks if live else ()) if t.name == entry.source_track_name),
                    None,
                )
                if found is None:
                    video, audio = (H264, None) if kind == "Video" else (None, AAC)
                    found = Track(0, kind, video=video, audio=audio)
                tracks.append(attrs.evolve(found, id=len(tracks), name=entry.new_track_name))
        return tuple(tracks)

    def _channels(self, vhost: str, app: str, kind: str) -> list[str]:
        self._tick(vhost, app)
        return [
            name
            for name, live in self._w.streams(vhost, app)
            if (live.schedule if kind == "Schedule" else live.multiplex) is not None
        ]

    def _create_channel(
        self, vhost: str, app: str, name: str, path: str, document: dict[str, Any], **extra: Any
    ) -> None:
        self._tick(vhost, app)
        self._w.running_config(vhost, app)
        if name in self._w.apps[(vhost, app)].streams:
            raise EngineError(EngineResult.EXISTS)
        try:
            write_channel_file(path, document)
        except OSError as exc:
            raise failed(str(exc)) from None
        self._start_channel(vhost, app, name, **extra)

    def list_scheduled_channels(self, vhost: str, app: str) -> list[str]:
        with self._w.lock:
            return self._channels(vhost, app, "Schedule")

    def create_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        with self._w.lock:
            self._w.maybe_fail("create_scheduled_channel")
            # OME's provider drops programs that are over when it reads the file.
            schedule = schedule.without_ended(self._w.clock())
            self._create_channel(
                vhost, app, schedule.stream.name, path, schedule.to_json(), schedule=schedule
            )

    def get_scheduled_channel(
        self, vhost: str, app: str, stream: str
    ) -> ScheduledChannelInfo | None:
        with self._w.lock:
            now = self._tick(vhost, app)
            try:
                live = self._w.stream_live(vhost, app, stream)
            except EngineError:
                return None
            if live.schedule is None:
                return None
            return ScheduledChannelInfo(live.schedule, current_program(live.schedule, now))

    def update_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        with self._w.lock:
            self._w.maybe_fail("update_scheduled_channel")
            self._tick(vhost, app)
            live = self._w.stream_live(vhost, app, schedule.stream.name)
            if live.schedule is None:
                raise missing()
            schedule = schedule.without_ended(self._w.clock())
            try:
                write_channel_file(path, schedule.to_json())
            except OSError as exc:
                raise failed(str(exc)) from None
            live.schedule = schedule

    def delete_scheduled_channel(self, vhost: str, app: str, stream: str, path: str) -> None:
        with self._w.lock:
            self._w.maybe_fail("delete_scheduled_channel")
            self._delete_channel(vhost, app, stream, path, "Schedule")

    def _delete_channel(self, vhost: str, app: str, stream: str, path: str, kind: str) -> None:
        self._tick(vhost, app)
        live = self._w.stream_live(vhost, app, stream)
        if (live.schedule if kind == "Schedule" else live.multiplex) is None:
            raise missing()
        try:
            delete_channel_file(path)
        except OSError as exc:
            raise failed(str(exc)) from None
        self._w.apps[(vhost, app)].streams.pop(stream, None)
        self._w.lives.pop((vhost, app, stream), None)
        self._w.touch(vhost, app)

    def list_multiplex_channels(self, vhost: str, app: str) -> list[str]:
        with self._w.lock:
            return self._channels(vhost, app, "Multiplex")

    def create_multiplex_channel(
        self, vhost: str, app: str, path: str, multiplex: Multiplex
    ) -> None:
        with self._w.lock:
            self._w.maybe_fail("create_multiplex_channel")
            self._create_channel(
                vhost, app, multiplex.name, path, multiplex.to_json(), multiplex=multiplex
            )

    def get_multiplex_channel(self, vhost: str, app: str, name: str) -> MultiplexInfo | None:
        with self._w.lock:
            self._tick(vhost, app)
            try:
                live = self._w.stream_live(vhost, app, name)
            except EngineError:
                return None
            if live.multiplex is None:
                return None
            waiting = [s.url for s in live.multiplex.sources if self._mux_source(s.url) is None]
            if waiting:
                return MultiplexInfo(
                    live.multiplex, "Pulling", "Waiting for source streams: " + ", ".join(waiting)
                )
            return MultiplexInfo(live.multiplex, "Playing")

    def delete_multiplex_channel(self, vhost: str, app: str, name: str, path: str) -> None:
        with self._w.lock:
            self._w.maybe_fail("delete_multiplex_channel")
            self._delete_channel(vhost, app, name, path, "Multiplex")
