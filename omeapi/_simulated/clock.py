"""The simulation's time: nothing moves until someone asks.  Every operation first brings
the simulation up to ``clock()`` (:meth:`Clock.tick`): jobs move on, and bytes flow at the
tracks' bitrates, in from the source, out to each viewer (counted as ``llhls``
connections) and to each pushing job (``push``); a recording job counts as a ``file``
connection.  Counts are integers added to the stream, its app, its vhost and the server at
once, so every level is the sum of the one below.

A tick advances only what the call needs (see :meth:`Clock.tick`), so that its cost grows
with the busy apps of the scope asked about, not with every vhost and app; the answers are
those of a tick that advances everything (``tests/test_simulated_scope.py`` compares the
two; docs/performance.md has the figures).
"""

from __future__ import annotations

import heapq

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

    def tick(self, *scope: str) -> float:
        """Bring jobs and statistics up to ``clock()`` for ``scope`` (``()`` for the whole
        server, ``(vhost,)`` or ``(vhost, app)``); returns that time.

        Advanced are the apps of the scope with streams or jobs, every app changed since
        the last tick and every app with a job due: so each level a call shows is up to
        date, and every change of rates or connections is seen at the next tick whatever
        it asks about (as if all were advanced).  What is left behind is only bytes still
        flowing at unchanged rates, counted when a call looks there.
        """
        w = self._w
        now = w.last_tick = w.clock()
        keys, w.dirty = w.dirty, {}
        due = w.due
        while due and due[0][0] <= now:
            _, vhost, app = heapq.heappop(due)
            if w.next_due.get((vhost, app), now + 1) <= now:
                del w.next_due[(vhost, app)]
                keys[(vhost, app)] = None
        if not scope:
            for vhost, apps in w.busy.items():
                for app in apps:
                    keys[(vhost, app)] = None
        else:
            busy = w.busy.get(scope[0])
            if busy is not None:
                for app in busy if len(scope) == 1 else (a for a in scope[1:2] if a in busy):
                    keys[(scope[0], app)] = None
        vhosts: dict[str, Counter] = {}
        for key in keys:
            self._advance(key, now, vhosts)
        for key in keys:
            w.dirty.pop(key, None)  # touched while advancing (its channels started): done
        self._settle(vhosts, now)
        return now

    def catch_up(self, vhost: str, app: str) -> None:
        """Count the app's traffic up to the last tick, as a tick advancing everything
        would have: called before its sessions or config change, so that what flowed at
        the old counts is counted at them."""
        if app in self._w.busy.get(vhost, ()):
            now = self._w.last_tick
            vhosts: dict[str, Counter] = {}
            self._advance((vhost, app), now, vhosts)
            # The levels above too, as after a tick: what they show (lastRecvTime …) is
            # settled from what was just added to them.
            self._settle(vhosts, now)

    def _settle(self, vhosts: dict[str, Counter], now: float) -> None:
        for counter in vhosts.values():
            counter.settle(now)
        self._w.server.settle(now)

    def _advance(self, key: tuple[str, str], now: float, vhosts: dict[str, Counter]) -> None:
        """Recount one app up to ``now``: what it added to the levels above is taken back
        and added again as it is now, so each level stays the sum of the one below."""
        w = self._w
        vhost, app = key
        vhost_counter = vhosts.get(vhost)
        if vhost_counter is None:
            vhost_counter = vhosts[vhost] = w.vhost_counters.setdefault(vhost, Counter(now))
        above = (w.server, vhost_counter)
        added = w.added.pop(key, None)
        if added is not None:
            # From the vhost counter it was added to: the vhost may have been deleted and
            # made again since, with a counter that never had this app's share.
            then, rate_in, rate_out, conns = added
            _withdraw((w.server, then), rate_in, rate_out, conns)
        state = w.app_state(vhost, app)
        if state is None:  # stopped: nothing of it is left
            for name in w.app_lives.pop(key, ()):
                w.lives.pop((vhost, app, name), None)
            self._set_busy(key, False)
            return
        counter = state.counter
        counter.reset_rates()
        chain = [*above, counter]
        self._jobs.advance(vhost, app, state, now)
        alive: set[str] = set()
        for name, live in w.streams(vhost, app):
            alive.add(name)
            if live.stream.created <= now:  # (a catch-up does not reach later streams)
                self._flow(vhost, app, name, live, state, chain, now)
        counter.settle(now)
        if counter.rate_in or counter.rate_out or counter.connections:
            w.added[key] = (
                vhost_counter,
                counter.rate_in,
                counter.rate_out,
                dict(counter.connections),
            )
        names = w.app_lives.get(key)
        if names is not None and len(names) != len(alive):
            for name in names - alive:
                w.lives.pop((vhost, app, name), None)
            names &= alive
        self._set_busy(key, bool(state.owner.streams or state.pushes or state.records))
        when = self._jobs.next_due(vhost, app, state, now)
        if when is not None and when < w.next_due.get(key, float("inf")):
            w.next_due[key] = when
            heapq.heappush(w.due, (when, vhost, app))

    def _set_busy(self, key: tuple[str, str], busy: bool) -> None:
        vhost, app = key
        apps = self._w.busy.get(vhost)
        if busy:
            if apps is None:
                apps = self._w.busy[vhost] = {}
            apps[app] = None
        elif apps is not None and apps.pop(app, 0) is None and not apps:
            del self._w.busy[vhost]

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
        if viewer_bytes:
            # Each viewer's share, so that the sessions add up to what the stream sent.
            viewers = [s for s in self._w.sessions_of(live) if not s.publisher]
            share, rest = divmod(viewer_bytes, len(viewers))
            for index, session in enumerate(viewers):
                session.bytes_out += share + (index < rest)
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


def _withdraw(
    levels: tuple[Counter, ...], rate_in: int, rate_out: int, conns: dict[str, int]
) -> None:
    """Take an app's rates and connections back out of the levels above it."""
    for level in levels:
        level.rate_in -= rate_in
        level.rate_out -= rate_out
        for kind, count in conns.items():
            left = level.connections.get(kind, 0) - count
            if left:
                level.connections[kind] = left
            else:
                level.connections.pop(kind, None)
