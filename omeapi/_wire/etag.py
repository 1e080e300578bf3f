"""Entity tags of config resources, and ``If-Match`` (an omeapi extension, RFC 9110 §8.8.3
and §13.1.1).

A config resource (vhost, app, output profile) answers with an ``ETag``: a digest of its
stored JSON, so every process computes the same one from the same config.  A ``PATCH`` or
``DELETE`` carrying ``If-Match`` that matches no current tag is refused with 412 and
changes nothing; without ``If-Match`` nothing changes from OME's behaviour.
"""

from __future__ import annotations

import hashlib
from typing import Any

from omeapi import _messages as msg
from omeapi._wire.envelope import Reply, dumps

__all__ = ["check_if_match", "etag_of", "etag_of_json", "with_etag"]


def etag_of(data: bytes) -> str:
    """A strong entity tag for a resource whose canonical JSON is ``data``."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def etag_of_json(value: Any) -> str:
    return etag_of(dumps(value))


def with_etag(reply: Reply, etag: str) -> Reply:
    return Reply(reply.status, reply.body, reply.content_type, (*reply.headers, ("ETag", etag)))


def _matches(header: str, etag: str | None) -> bool:
    if etag is None:
        return False
    if header.strip() == "*":
        return True
    # Strong comparison: a weak tag (W/"…") never matches.
    return any(candidate.strip() == etag for candidate in header.split(","))


def check_if_match(header: str | None, etag: str | None) -> None:
    """412 unless ``header`` (the request's ``If-Match``, None when absent) matches
    ``etag`` (the resource's current tag; None: it does not exist)."""
    if header is not None and not _matches(header, etag):
        raise msg.PRECONDITION_FAILED.error()
