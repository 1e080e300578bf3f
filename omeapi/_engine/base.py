"""A base for engines without a runtime: :class:`NoRuntime`.

An embedding program whose media server only starts and stops applications subclasses
:class:`NoRuntime` and writes :class:`~omeapi.MediaEngine`'s lifecycle methods; every
runtime operation then answers "not there", which the API turns into OME's 4xx answers
(``404`` for a stream, push, record or channel, empty lists, no statistics).
"""

from __future__ import annotations

from collections.abc import Sequence

from omeapi._engine.channels import Multiplex, MultiplexInfo, Schedule, ScheduledChannelInfo
from omeapi._engine.runtime import RuntimeEngine
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
    StreamEvent,
    StreamInfo,
    SubtitleCue,
)
from omeapi._errors import EngineError, EngineResult

__all__ = ["NoRuntime"]


def _absent(what: str) -> EngineError:
    return EngineError(EngineResult.NOT_EXISTS, f"{what}: this engine has no runtime")


class NoRuntime(RuntimeEngine):
    """Every :class:`~omeapi.RuntimeEngine` method as "not there": lookups give ``[]`` or
    None, actions raise :class:`~omeapi.EngineError` with ``NOT_EXISTS``.

    Subclass it and add the app lifecycle (``create_virtual_host`` … ``apply_live``) to
    have a complete :class:`~omeapi.MediaEngine`; override any runtime method the media
    server does have.
    """

    # -- streams ----------------------------------------------------------------------

    def list_streams(self, vhost: str, app: str) -> list[str]:
        return []

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        return None

    def create_pull_stream(self, vhost: str, app: str, request: PullRequest) -> None:
        raise _absent("create_pull_stream")

    def delete_stream(self, vhost: str, app: str, stream: str) -> None:
        raise _absent("delete_stream")

    # -- LL-HLS dumps, events, subtitles ----------------------------------------------

    def list_hls_dumps(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> list[HlsDump]:
        raise _absent("list_hls_dumps")

    def start_hls_dump(self, vhost: str, app: str, stream: str, request: HlsDumpRequest) -> None:
        raise _absent("start_hls_dump")

    def stop_hls_dump(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> None:
        raise _absent("stop_hls_dump")

    def send_event(self, vhost: str, app: str, stream: str, event: StreamEvent) -> None:
        raise _absent("send_event")

    def conclude_hls_live(self, vhost: str, app: str, stream: str, urgent: bool) -> None:
        raise _absent("conclude_hls_live")

    def send_subtitles(
        self, vhost: str, app: str, stream: str, cues: Sequence[SubtitleCue]
    ) -> None:
        raise _absent("send_subtitles")

    # -- push and record --------------------------------------------------------------

    def start_push(self, vhost: str, app: str, request: PushRequest) -> PushInfo:
        raise _absent("start_push")

    def stop_push(self, vhost: str, app: str, push_id: str) -> PushInfo:
        raise _absent("stop_push")

    def list_pushes(self, vhost: str, app: str, push_id: str | None) -> list[PushInfo]:
        return []

    def start_record(self, vhost: str, app: str, request: RecordRequest) -> RecordInfo:
        raise _absent("start_record")

    def stop_record(self, vhost: str, app: str, record_id: str) -> RecordInfo:
        raise _absent("stop_record")

    def list_records(self, vhost: str, app: str, record_id: str | None) -> list[RecordInfo]:
        return []

    # -- scheduled and multiplex channels ---------------------------------------------

    def list_scheduled_channels(self, vhost: str, app: str) -> list[str]:
        return []

    def create_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        raise _absent("create_scheduled_channel")

    def get_scheduled_channel(
        self, vhost: str, app: str, stream: str
    ) -> ScheduledChannelInfo | None:
        return None

    def update_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        raise _absent("update_scheduled_channel")

    def delete_scheduled_channel(self, vhost: str, app: str, stream: str, path: str) -> None:
        raise _absent("delete_scheduled_channel")

    def list_multiplex_channels(self, vhost: str, app: str) -> list[str]:
        return []

    def create_multiplex_channel(
        self, vhost: str, app: str, path: str, multiplex: Multiplex
    ) -> None:
        raise _absent("create_multiplex_channel")

    def get_multiplex_channel(self, vhost: str, app: str, name: str) -> MultiplexInfo | None:
        return None

    def delete_multiplex_channel(self, vhost: str, app: str, name: str, path: str) -> None:
        raise _absent("delete_multiplex_channel")

    # -- statistics -------------------------------------------------------------------

    def metrics(self, *scope: str) -> Metrics | None:
        return None

    def queue_metrics(self) -> list[QueueMetrics]:
        return []
