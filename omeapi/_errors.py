"""Errors that carry their own answer.

Every failure the API can report is an exception that knows the HTTP status it maps to and the
text OME would show.  Only :mod:`omeapi._wire.envelope` turns them into bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import attrs

__all__ = [
    "REASON_PHRASES",
    "ApiError",
    "AppNotFound",
    "AppOperationError",
    "AuthError",
    "CertificateError",
    "ConfigError",
    "EngineError",
    "EngineResult",
    "EngineUnavailable",
    "ItemError",
    "Location",
    "Message",
    "OmeapiError",
    "PlainStatusError",
    "StoreConflict",
    "StoreError",
    "TooManyAttempts",
    "WouldBlock",
    "reason_phrase",
]


#: OME's reason phrases (its own spelling: ``Multi Status``, not ``Multi-Status``).
REASON_PHRASES: Mapping[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    207: "Multi Status",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def reason_phrase(status: int) -> str:
    """OME's reason phrase for ``status`` (``Unknown`` for codes it does not name)."""
    return REASON_PHRASES.get(status, "Unknown")


class OmeapiError(Exception):
    """The base of every error omeapi raises: a host program can catch this one class."""


class ApiError(OmeapiError):
    """An HTTP error answered with OME's envelope.

    The wire message is ``[HTTP] <text> (<status>)``; ``headers`` are added to the response
    (``WWW-Authenticate``, ``Allow``, ``Retry-After`` ...).
    """

    __slots__ = ("headers", "status", "text")

    def __init__(self, status: int, text: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = tuple(headers)

    @property
    def message(self) -> str:
        """The envelope's ``message`` as OME writes it."""
        return f"[HTTP] {self.text} ({self.status})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.text!r})"


@attrs.frozen
class Message:
    """One of OME's error texts and the status it is answered with."""

    status: int
    text: str

    def format(self, **fields: object) -> str:
        """The text with its ``{…}`` fields filled."""
        return self.text.format(**fields) if fields else self.text

    def error(self, headers: Sequence[tuple[str, str]] = (), /, **fields: object) -> ApiError:
        """The :class:`ApiError` that answers with this message (and ``headers``)."""
        return ApiError(self.status, self.format(**fields), headers)


class PlainStatusError(ApiError):
    """A bare status whose message is only the reason phrase (OME's ``S(403)``)."""

    def __init__(self, status: int) -> None:
        super().__init__(status, reason_phrase(status))

    @property
    def message(self) -> str:
        return self.text


class ItemError(ApiError):
    """An error that OME reports with its raw text (no ``[HTTP]`` decoration)."""

    @property
    def message(self) -> str:
        return self.text


REALM_HEADER = ("WWW-Authenticate", 'Basic realm="OvenMediaEngine"')


class AuthError(ApiError):
    """A 401 with OME's ``WWW-Authenticate`` challenge."""

    def __init__(self, text: str) -> None:
        super().__init__(401, text, (REALM_HEADER,))


class TooManyAttempts(ApiError):
    """A 429 from the brute-force brake, with ``Retry-After`` in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            429,
            "Too many failed authentication attempts",
            (("Retry-After", str(self.retry_after)),),
        )


class Location:
    """Where in a configuration source something was found."""

    __slots__ = ("file", "line", "path")

    def __init__(self, file: str | None = None, line: int | None = None, path: str = "") -> None:
        self.file = file
        self.line = line
        self.path = path

    def __repr__(self) -> str:
        return f"Location(file={self.file!r}, line={self.line!r}, path={self.path!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        return (self.file, self.line, self.path) == (other.file, other.line, other.path)

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.path))


class ConfigError(OmeapiError):
    """A configuration problem, with OME's text and where it was found.

    ``text`` is OME's message without the ``[Config] `` prefix; :attr:`message` adds it, as the
    API reports it.  ``file`` and ``line`` point at the offending element when it came from a
    file; ``path`` is the element path (``Server.bind.managers.api``).  ``hint`` is what
    OME's text leaves out and a person needs (an unset ``${env:…}``, a line and column): it
    is shown by :meth:`located`, never in the API's answer.
    """

    def __init__(
        self,
        text: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(text)
        self.text = text
        self.file = file
        self.line = line
        self.path = path
        self.hint = hint

    @property
    def message(self) -> str:
        """The text as the API reports it: ``[Config] <text>``."""
        return f"[Config] {self.text}"

    def located(self) -> str:
        """``FILE:LINE: text`` (or as much of it as is known), for people."""
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.text}" + (f" ({self.hint})" if self.hint else "")

    def __repr__(self) -> str:
        return f"ConfigError({self.text!r}, file={self.file!r}, line={self.line!r})"


class EngineResult(enum.Enum):
    """Why an engine operation failed (OME's orchestrator results)."""

    FAILED = "failed"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    #: the engine has no such module at all (OME 0.21: no transcoder for STT): 503
    UNAVAILABLE = "unavailable"
    #: the request is one the engine refuses as invalid, ``detail`` says why (OME 0.21's
    #: INVALID_REQUEST: a 400 where the wire separates it, else answered as FAILED)
    INVALID = "invalid"


class EngineError(OmeapiError):
    """An engine operation that did not succeed; ``result`` says how."""

    def __init__(self, result: EngineResult = EngineResult.FAILED, detail: str = "") -> None:
        super().__init__(detail or result.value)
        self.result = result
        self.detail = detail


class WouldBlock(Exception):
    """Raised on the non-blocking path (``Api.handle_nonblocking``) where answering would
    wait on the engine, the store or a file, or count something: nothing of the request has
    been done yet, so it is answered again, whole, where blocking is allowed."""


class EngineUnavailable(ApiError):
    """The media engine lives in another process that cannot be reached now (it is down or
    restarting): 503 with ``Retry-After``, never a hang.  ``detail`` (why) is for logs only."""

    #: the envelope's text (``_messages.ENGINE_UNAVAILABLE``)
    TEXT = "The media engine is unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__(503, self.TEXT, (("Retry-After", "1"),))
        self.detail = detail


class AppOperationError(EngineError):
    """The engine refused to ``op`` (``create`` or ``delete``) an app; ``result`` says how.

    A domain error: each controller's outcome table turns it into OME's answer (the
    coordinator never speaks HTTP).
    """

    def __init__(self, op: str, vhost: str, app: str, result: EngineResult) -> None:
        super().__init__(result, f"{op} {vhost}/{app}: {result.value}")
        self.op = op
        self.vhost = vhost
        self.app = app


class AppNotFound(OmeapiError):
    """The app to change does not exist (any more: deleted meanwhile, perhaps elsewhere)."""

    def __init__(self, vhost: str, app: str) -> None:
        super().__init__(f"{vhost}/{app} does not exist")
        self.vhost = vhost
        self.app = app


class StoreError(OmeapiError):
    """The store cannot be used: unreachable database, I/O error, unreadable file."""


class StoreConflict(OmeapiError):
    """A change whose precondition does not hold in the store (another process changed it
    first).  ``reason`` is one of the ``Change.*_EXISTS`` / ``*_MISSING`` constants."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class CertificateError(OmeapiError):
    """A certificate that could not be loaded; the text says why (as OME logs it)."""
