"""The one place that writes JSON envelopes, messages and reason phrases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from omeapi._errors import REASON_PHRASES, ApiError, ConfigError, reason_phrase

if TYPE_CHECKING:
    from omeapi._wire.request import ResponseStream

__all__ = [
    "JSON_CONTENT_TYPE",
    "REASON_PHRASES",
    "ItemResult",
    "Reply",
    "config_error",
    "dumps",
    "error",
    "multi",
    "ok",
    "ok_raw",
    "plain",
    "reason_phrase",
]


# Made once: json.dumps with options builds an encoder per call (encoding keeps no state).
_ENCODE = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode


def dumps(value: Any) -> bytes:
    """Serialise like OME's JSON writer: compact, keys sorted, ASCII only."""
    return _ENCODE(value).encode()


JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class Reply:
    """A status and an already-serialised body (what a controller answers): JSON unless
    ``content_type`` says otherwise; ``headers`` to add (an answer given by another process
    brings its error's headers along)."""

    __slots__ = ("body", "content_type", "headers", "status", "stream")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON_CONTENT_TYPE,
        headers: tuple[tuple[str, str], ...] = (),
        stream: ResponseStream | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.stream = stream
        self.content_type = content_type
        self.headers = headers

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body!r})"


_OK_HEAD = b'{"message":"OK","response":'
_OK_TAIL = b',"statusCode":200}'


def ok(value: Any) -> Reply:
    """200 with ``response``: ``{"message":"OK","response":…,"statusCode":200}``."""
    return Reply(200, _OK_HEAD + dumps(value) + _OK_TAIL)


def ok_raw(response_json: bytes) -> Reply:
    """Like :func:`ok` for a ``response`` that is already serialised (cached)."""
    return Reply(200, _OK_HEAD + response_json + _OK_TAIL)


def plain(status: int) -> Reply:
    """A success (or bare status) without data: the reason phrase as the message."""
    return Reply(status, dumps({"message": reason_phrase(status), "statusCode": status}))


def error(exc: ApiError) -> Reply:
    """The envelope of an :class:`~omeapi.ApiError`."""
    return Reply(exc.status, dumps({"message": exc.message, "statusCode": exc.status}))


def config_error(exc: ConfigError) -> Reply:
    """A config problem that reached the top level: 400 ``[Config] <text>``."""
    return Reply(400, dumps({"message": exc.message, "statusCode": 400}))


class ItemResult:
    """One entry of a multi-item answer: raw message, no ``[HTTP]`` decoration."""

    __slots__ = ("message", "response", "status")

    _NO_RESPONSE: Any = object()

    def __init__(self, status: int, message: str, response: Any = _NO_RESPONSE) -> None:
        self.status = status
        self.message = message
        self.response = response

    @classmethod
    def success(cls, response: Any = _NO_RESPONSE) -> ItemResult:
        """``{"message":"OK","response":…,"statusCode":200}``."""
        return cls(200, "OK", response)

    @classmethod
    def failure(cls, exc: ApiError | ConfigError) -> ItemResult:
        """An error as a multi-item entry (OME's raw text; ``[Config] …`` for config)."""
        if isinstance(exc, ConfigError):
            return cls(400, exc.message)
        return cls(exc.status, exc.text)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "statusCode": self.status}
        if self.response is not self._NO_RESPONSE:
            out["response"] = self.response
        return out


def multi(results: list[ItemResult]) -> Reply:
    """A bare array of entries; the status is theirs when they agree, else 207."""
    statuses = {r.status for r in results}
    status = statuses.pop() if len(statuses) == 1 else (200 if not results else 207)
    return Reply(status, dumps([r.as_json() for r in results]))
