"""What ``omeapi serve`` allows slow clients, for every server it runs.

See docs/deployment.md ("Slow and hostile clients") for what each server withstands.
"""

from __future__ import annotations

__all__ = [
    "BODY_TIMEOUT",
    "HEADER_TIMEOUT",
    "MIN_THREADS",
    "READ_TIMEOUT",
    "STOP_TIMEOUT",
    "body_readers",
    "threads_for",
]

#: Seconds a request may go without sending a byte (headers or body) before its connection
#: is dropped (gunicorn: every read; granian bounds the headers only, see HEADER_TIMEOUT).
READ_TIMEOUT = 10.0

#: Seconds a request's whole body may take to arrive (``omeapi serve --body-timeout``):
#: checked after each piece read, so it bounds a body sent in a great many tiny chunks
#: or trickled a byte at a time (not one that stops: READ_TIMEOUT, or the client closing).
BODY_TIMEOUT = 10.0

#: Seconds a worker gets to finish its requests when the server stops (SIGTERM); then it is
#: killed, so that a stop never hangs on a client (granian waits forever by default,
#: gunicorn 30 s).
STOP_TIMEOUT = 10

#: Seconds granian allows for a request's whole header block.
HEADER_TIMEOUT = 10.0

#: Request threads per worker process, at least (``<WorkerCount>`` may ask for more): a
#: client that trickles its body holds one thread until it stops, so there must be many
#: more than the CPUs need.  Idle threads cost a little memory and nothing else.
MIN_THREADS = 256


def threads_for(worker_count: int) -> int:
    """Request threads per worker process for a ``<WorkerCount>``."""
    return max(worker_count, MIN_THREADS)


def body_readers(worker_count: int) -> int:
    """Requests of one worker process that may read their bodies at once: a quarter of its
    threads.  A body that stops arriving holds its thread until the client closes, so the
    other threads are kept for everything else; past it, 429 at once."""
    return threads_for(worker_count) // 4
