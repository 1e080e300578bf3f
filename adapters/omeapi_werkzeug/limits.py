"""What ``omeapi serve`` allows slow clients, for every server it runs.

See docs/deployment.md ("Slow and hostile clients") for what each server withstands.
"""

from __future__ import annotations

__all__ = ["BODY_TIMEOUT", "HEADER_TIMEOUT", "MIN_THREADS", "READ_TIMEOUT"]

#: Seconds a request may go without sending a byte (headers or body) before its connection
#: is dropped (gunicorn: every read; granian bounds the headers only, see HEADER_TIMEOUT).
READ_TIMEOUT = 10.0

#: Seconds a request's whole body may take to arrive (``omeapi serve --body-timeout``):
#: checked after each piece read, so it bounds a body sent in a great many tiny chunks
#: or trickled a byte at a time (not one that stops: READ_TIMEOUT, or the client closing).
BODY_TIMEOUT = 10.0

#: Seconds granian allows for a request's whole header block.
HEADER_TIMEOUT = 10.0

#: Request threads per worker process, at least (``<WorkerCount>`` may ask for more): a
#: client that trickles its body holds one thread until it stops, so there must be many
#: more than the CPUs need.  Idle threads cost a little memory and nothing else.
MIN_THREADS = 256
