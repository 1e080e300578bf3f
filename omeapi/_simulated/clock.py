"""The simulation's time: nothing moves until someone asks.  Every operation first brings
the simulation up to ``clock()`` (:meth:`Clock.tick`): jobs move on, and bytes flow at the
tracks' bitrates, in from the source, out to each viewer (counted as ``llhls``
connections) and to each pushing job (``push``); a recording job counts as a ``file``
connection.  Counts are integers added to the stream, its app, its vhost and the server at
once, so every level is the sum of the one below.
"""

from __future__ import annotations

from omeapi._simulated.counters import Counter
from omeapi._simulated.jobs import JobMachine
from omeapi._simulated.media import track_bitrate
from omeapi._simulated.state import AppState, Live, World

__all__ = ["Clock"]


class Clock:
    """Brings jobs and statistics up to the world's ``clock()``."""

    def __init__(self, world: World, jobs: JobMachine) -> None:
        self._w = world
        self._jobs = jobs

    def tick(self) -> float:
        """Bring jobs and statistics up to ``clock()``; returns that time."""
        now = self._w.clock()
        self._w.server.reset_rates()
        # Only the active apps are visited (see ``World.active``): an idle app adds nothing
        # to any level, and a vhost with no active app keeps its (idle) counter as it is.
        vhosts: dict[str, Counter] = {}
        alive: set[tuple[str, str, str]] = set()
        active = self._w.active
        visited = len(active)
        for key in list(active):
            vhost, app = key
            vhost_counter = vhosts.get(vhost)
            if vhost_counter is None:
                vhost_counter = self._w.vhost_counters.setdefault(vhost, Counter(now))
                vhost_counter.reset_rates()
                vhosts[vhost] = vhost_counter
            state = self._w.app_state(vhost, app)
            if state is None:
                del active[key]  # stopped: what it added is gone with the reset above
                continue
            state.counter.reset_rates()
            chain = [self._w.server, vhost_counter, state.counter]
            self._jobs.advance(vhost, app, state, now)
            for name, live in self._w.streams(vhost, app):
                alive.add((vhost, app, name))
                self._flow(vhost, app, name, live, state, chain, now)
            state.counter.settle(now)
            if not (state.owner.streams or state.pushes or state.records):
                # Idle now, its rates and connections just reset to nothing: later ticks
                # would change nothing until something touches it again.
                del active[key]
        if len(active) < visited:
            # A dict keeps the slots of deleted keys and walks them: a fresh copy keeps the
            # next tick's walk as short as the active apps (not as long as the most ever).
            self._w.active = dict(active)
        # Every stream is in an active app, so what was not seen has ended.
        for gone in [k for k in self._w.lives if k not in alive]:
            del self._w.lives[gone]
        for counter in vhosts.values():
            counter.settle(now)
        self._w.server.settle(now)
        return now

    def _flow(
        self,
        vhost: str,
        app: str,
        name: str,
        live: Live,
        state: AppState,
        chain: list[Counter],
        now: float,
    ) -> None:
        """Count one stream's traffic since the last tick into it and every level above."""
        stream = live.stream
        if live.counter is None:
            live.counter = Counter(stream.created)
            live.viewer_bytes_until = stream.created
        counter = live.counter
        counter.reset_rates()
        levels = [*chain, counter]
        rate_in = sum(track_bitrate(t) for t in live.tracks)
        bytes_in = int(max(0.0, now - stream.created) * rate_in / 8) - counter.bytes_in
        outputs = self._w.outputs(vhost, app, name, live)
        per_viewer = sum(track_bitrate(t) for t in outputs[0].tracks) if outputs else 0
        viewer_rate = per_viewer * stream.viewers
        viewer_bytes = int(max(0.0, now - live.viewer_bytes_until) * viewer_rate / 8)
        live.viewer_bytes_until = now
        push_bytes = push_rate = pushing = 0
        output_names = {o.name for o in outputs}
        for job in state.pushes.values():
            if job.request.stream.name in output_names and job.state == "pushing":
                sent = int(max(0.0, now - job.start_time) * job.rate / 8)
                push_bytes += sent - job.sent_bytes
                job.sent_bytes = sent
                push_rate += job.rate
                pushing += 1
        recording = sum(
            1
            for job in state.records.values()
            if job.request.stream.name in output_names and job.state == "recording"
        )
        for level in levels:
            level.add(max(0, bytes_in), viewer_bytes + push_bytes, rate_in, viewer_rate + push_rate)
            level.connect("llhls", stream.viewers)
            level.connect("push", pushing)
            level.connect("file", recording)
        counter.settle(now)
