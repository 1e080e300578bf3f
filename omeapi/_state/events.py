"""The event feed (an omeapi extension): Server-Sent Events of config changes, app
restarts, streams, pushes and recordings.

Events go through the store (:class:`~omeapi._stores.base.EventLog`): a config change
appends its event in its own transaction; the process that owns the engine appends the
runtime ones (:meth:`EventFeed.publish`).  So every worker of every machine sees the same
events, in the same order, with the same ids.  Each process runs one poller thread while it
has subscribers; each subscriber has a bounded queue: a reader too slow to keep up gets a
final ``dropped`` event and is closed, so memory never grows without bound.  A subscriber
waits on a :class:`threading.Event` (WSGI, a thread per subscriber, bounded in number) or
is woken by a callback (ASGI: no thread held).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from omeapi import _messages as msg
from omeapi._access.tokens import ADMIN, Identity
from omeapi._errors import StoreError
from omeapi._stores.base import EventLog, EventRecord, Store

__all__ = ["EventFeed", "Subscription", "sse"]

log = logging.getLogger("omeapi")

_HEARTBEAT = b": heartbeat\n\n"


def sse(event: EventRecord) -> bytes:
    """One event as a Server-Sent Events message."""
    data = json.dumps(
        {
            "id": event.id,
            "time": event.time,
            "kind": event.kind,
            "vhost": event.vhost,
            "data": event.data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()


def _final(kind: str, reason: str) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'reason': reason})}\n\n".encode()


class Subscription:
    """One reader of the feed.  :meth:`poll` never blocks; iterate it (WSGI) to block."""

    def __init__(self, feed: EventFeed, identity: Identity, cursor: int) -> None:
        self._feed = feed
        self.identity = identity
        self.cursor = cursor
        self._pending: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._waker: Callable[[], None] | None = None
        self.ended = False
        self._last_sent = feed.clock()

    # -- fed by the poller -------------------------------------------------------------

    def deliver(self, event: EventRecord) -> None:
        if event.id <= self.cursor or self.ended:
            return
        self.cursor = event.id
        identity = self.identity
        if identity.vhosts is not None and event.vhost not in identity.vhosts:
            return
        with self._lock:
            if len(self._pending) >= self._feed.queue_limit:
                self._pending.clear()
                self._pending.append(_final("dropped", "the reader is too slow"))
                self.ended = True
                self._feed.unsubscribe(self)
            else:
                self._pending.append(sse(event))
        self.wake()

    def push(self, chunk: bytes) -> None:
        with self._lock:
            self._pending.append(chunk)
        self.wake()

    def wake(self) -> None:
        self._ready.set()
        waker = self._waker
        if waker is not None:
            try:
                waker()
            except Exception:  # a closed event loop
                log.debug("event subscriber waker failed", exc_info=True)

    # -- read by the server ------------------------------------------------------------

    def set_waker(self, waker: Callable[[], None]) -> None:
        """Call ``waker`` (from any thread) whenever there is something to read."""
        self._waker = waker
        if self._pending:
            waker()

    def poll(self) -> bytes | None:
        """What is ready to send (a heartbeat when due), or None; None with
        :attr:`ended` set means the stream is over."""
        with self._lock:
            self._ready.clear()
            if self._pending:
                chunk = b"".join(self._pending)
                self._pending.clear()
                self._last_sent = self._feed.clock()
                return chunk
        if self.ended:
            return None
        if self.due() <= 0:
            self._last_sent = self._feed.clock()
            return _HEARTBEAT
        return None

    def due(self) -> float:
        """Seconds until the next heartbeat."""
        return max(0.0, self._last_sent + self._feed.heartbeat - self._feed.clock())

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self.poll()
                if chunk is not None:
                    yield chunk
                elif self.ended:
                    return
                else:
                    self._ready.wait(self.due())
        finally:
            self.close()

    def close(self) -> None:
        self.ended = True
        self._feed.unsubscribe(self)


class EventFeed:
    """The feed of one process over ``store`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        poll: float = 0.25,
        heartbeat: float = 15.0,
        max_subscribers: int = 64,
        queue_limit: int = 1100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.log: EventLog | None = store if isinstance(store, EventLog) else None
        self.poll_interval = poll
        self.heartbeat = heartbeat
        self.max_subscribers = max_subscribers
        self.queue_limit = queue_limit
        self.clock = clock
        # Reentrant: a backlog delivered under it may drop (and unsubscribe) its reader.
        self._lock = threading.RLock()
        self._subscribers: list[Subscription] = []
        self._last = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def publish(self, kind: str, vhost: str, data: dict[str, Any]) -> None:
        """Append a runtime event (best effort: a store error is logged, never raised)."""
        if self.log is None:
            return
        try:
            self.log.append_event(kind, vhost, data, time.time())
        except StoreError as exc:
            log.warning("event %s not recorded: %s", kind, exc)

    def subscribe(self, last_id: str | None, identity: Identity = ADMIN) -> Subscription:
        """A new subscriber, resuming after ``last_id`` (the ``Last-Event-ID`` header)
        within the kept window; raises OME-style 503 when there are too many, or the
        store keeps no events."""
        feed_log = self.log
        if feed_log is None:
            raise msg.EVENTS_UNAVAILABLE.error()
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                raise msg.TOO_MANY_SUBSCRIBERS.error(limit=self.max_subscribers)
            try:
                newest = feed_log.last_event_id()
                after = newest
                backlog: list[EventRecord] = []
                missed = False
                if last_id is not None and last_id.strip().isdigit():
                    after = min(int(last_id), newest)
                    backlog = feed_log.events_after(after, 10_000)
                    oldest = backlog[0].id if backlog else newest + 1
                    missed = bool(backlog) and after < oldest - 1
            except StoreError:
                raise msg.STORE_UNAVAILABLE.error() from None
            sub = Subscription(self, identity, after)
            sub.push(b"retry: 2000\n\n")
            if missed:
                sub.push(_final("reset", "events since Last-Event-ID are no longer kept"))
            for event in backlog:
                sub.deliver(event)
            if not self._subscribers:
                self._last = max(self._last, newest)
            self._subscribers.append(sub)
            self._ensure_thread()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="omeapi-events", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        feed_log = self.log
        assert feed_log is not None
        while not self._stop.wait(self.poll_interval):
            with self._lock:
                subscribers = list(self._subscribers)
            if not subscribers:
                continue
            try:
                events = feed_log.events_after(self._last)
            except StoreError as exc:
                log.warning("reading events failed: %s", exc)
                continue
            if events:
                self._last = events[-1].id
            for event in events:
                for sub in subscribers:
                    sub.deliver(event)
            for sub in subscribers:
                if sub.due() <= 0:
                    sub.wake()  # its heartbeat is due

    def close(self) -> None:
        """Stop the poller and end every subscription."""
        self._stop.set()
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for sub in subscribers:
            sub.push(_final("closed", "the server is stopping"))
            sub.ended = True
