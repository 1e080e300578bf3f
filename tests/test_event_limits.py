"""The event feed's bounds, in one process: a reader that never reads is dropped with a final
event and its memory stays bounded; subscribers beyond the limit get 503; and the limit
leaves the WSGI servers' threads for other requests (each WSGI subscriber holds one).
Through real servers: tests/test_extensions_served.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from test_runtime_support import HOST, TOKEN, Runtime

from omeapi import ApiRequest
from omeapi._state.events import EventFeed
from omeapi._stores.memory import MemoryStore
from omeapi_werkzeug.limits import body_readers, threads_for


def _feed(**options: float) -> EventFeed:
    return EventFeed(MemoryStore(), poll=0.01, **options)  # type: ignore[arg-type]


def test_a_reader_that_never_reads_is_dropped_with_memory_bounded() -> None:
    feed = _feed(queue_limit=50)
    assert feed.log is not None
    sub = feed.subscribe(None)
    try:
        # The poller delivers; nobody reads.
        for number in range(200):
            feed.log.append_event("config.changed", "default", {"n": number}, 0.0)
            for event in feed.log.events_after(sub.cursor):
                sub.deliver(event)
            assert len(sub._pending) <= 51  # never more than the limit (and the final event)
        assert sub.ended
        assert feed.subscribers == 0  # unsubscribed: the poller forgets it
        chunk = sub.poll()
        assert chunk is not None
        assert b"event: dropped" in chunk and b"too slow" in chunk
        assert b"config.changed" not in chunk  # what it missed is not kept for it
        assert sub.poll() is None and sub.ended
    finally:
        feed.close()


def test_subscribers_beyond_the_limit_get_503(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    feed = rt.api.services.events
    assert feed is not None
    feed.max_subscribers = 2
    headers = {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode(), "Host": HOST}

    def subscribe() -> tuple[int, object]:
        response = rt.api.handle(ApiRequest.build("GET", "/x-omeapi/v1/events", headers, b""))
        return response.status, response

    first, second = subscribe()[1], subscribe()[1]
    status, third = subscribe()
    assert status == 503
    body = json.loads(third.body)  # type: ignore[attr-defined]
    assert body["message"] == "[HTTP] Too many event subscribers (limit: 2); try again (503)"
    first.stream.close()  # type: ignore[attr-defined]
    status, fourth = subscribe()
    assert status == 200  # a place came free
    for response in (second, fourth):
        response.stream.close()  # type: ignore[attr-defined]
    rt.api.close()


def test_the_limit_leaves_wsgi_threads_for_other_requests() -> None:
    """Under a WSGI server each subscriber holds a request thread, and so may each body
    being read: both limits together leave most threads of the smallest pool free."""
    feed = _feed()
    threads = threads_for(1)
    assert feed.max_subscribers + body_readers(1) <= threads // 2
    feed.close()
