"""The statistics operations: the counters of every level, and the internal queues."""

from __future__ import annotations

from collections.abc import Callable

from omeapi._engine.values import DwellStats, Metrics, QueueMetrics
from omeapi._simulated.media import first
from omeapi._simulated.state import World

__all__ = ["Stats"]


#: How long a packet waits in a busy simulated stream's queue (µs): a few hundred at most.
_DWELL = DwellStats(min=12, avg=85, p50=64, p90=192, p99=448, max=960)


class Stats:
    """``metrics`` and ``queue_metrics``; ``tick`` brings the simulation up to now."""

    def __init__(self, world: World, tick: Callable[..., float]) -> None:
        self._w = world
        self._tick = tick

    def metrics(self, *scope: str) -> Metrics | None:
        with self._w.lock:
            now = self._tick(*scope[:2])
            if not scope:
                return self._w.server.metrics(now)
            if scope[0] not in self._w.vhosts:
                return None
            if len(scope) == 1:
                return self._w.vhost_counters[scope[0]].metrics(now)
            state = self._w.app_state(scope[0], scope[1])
            if state is None:
                return None
            if len(scope) == 2:
                return state.counter.metrics(now)
            live = self._w.lives.get((scope[0], scope[1], scope[2]))
            stream = self._w.apps[(scope[0], scope[1])].streams.get(scope[2])
            if live is not None and live.stream is not stream:
                live = None  # ended (a restart dropped it) and not yet forgotten
            if live is None or live.counter is None:
                return None
            return live.counter.metrics(now)

    def queue_metrics(self) -> list[QueueMetrics]:
        with self._w.lock:
            self._tick()
            queues: list[QueueMetrics] = []
            for vhost, app in list(self._w.apps):
                internal = f"#{vhost}#{app}"
                queues.append(
                    QueueMetrics(
                        len(queues) + 1,
                        f"urn:ome:{vhost}:{internal}:applicationworker",
                        "ApplicationWorker",
                        threshold=500,
                    )
                )
                for name, live in self._w.streams(vhost, app):
                    video = first(live.tracks, "Video")
                    packets = int(video.video.framerate) if video and video.video else 0
                    packets += 47 if first(live.tracks, "Audio") else 0  # ~AAC frames/s
                    queues.append(
                        QueueMetrics(
                            len(queues) + 1,
                            f"urn:ome:{vhost}:{internal}:{name}:mediarouter",
                            "MediaRouterStream",
                            threshold=500,
                            peak=2,
                            input_per_second=packets,
                            output_per_second=packets,
                            dwell=_DWELL if packets else DwellStats(),
                            dwell_latest=_DWELL if packets else DwellStats(),
                        )
                    )
            return queues
