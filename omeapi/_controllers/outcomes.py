"""How the engine's outcomes are answered: one table per action, applied in one place.

An engine method either succeeds or raises :class:`~omeapi.EngineError` with a result
(``EXISTS``, ``NOT_EXISTS``, ``FAILED``).  Each controller names, per engine call, the
:class:`~omeapi._errors.Message` OME answers for each result; :func:`answering` turns the
error into that message, filled with the call's fields and the engine's ``detail`` (or the
reason phrase when the engine gave none).  A result the table does not name is answered
as its ``FAILED`` row, and without one by :data:`DEFAULT`; ``UNAVAILABLE`` (the engine
cannot do this at all) is always a 503, OME's text where the table names one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from omeapi import _messages as msg
from omeapi._errors import (
    ApiError,
    AppNotFound,
    EngineError,
    EngineResult,
    Message,
    reason_phrase,
)

__all__ = ["DEFAULT", "Outcomes", "answer", "answering"]

#: Engine result → the message answering it.
Outcomes = Mapping[EngineResult, Message]

#: What a result no table names is answered with.
DEFAULT: Outcomes = {
    EngineResult.NOT_EXISTS: Message(404, "{detail}"),
    EngineResult.EXISTS: Message(409, "{detail}"),
    EngineResult.FAILED: Message(500, "{detail}"),
    EngineResult.INVALID: Message(400, "{detail}"),
    EngineResult.UNAVAILABLE: Message(503, "{detail}"),
}


def answer(outcomes: Outcomes, exc: EngineError, **fields: object) -> ApiError:
    """The error answering ``exc`` under ``outcomes`` (an ApiError with OME's text)."""
    message = outcomes.get(exc.result)
    if message is None:
        # The engine cannot do this at all: never a 500 (a table's FAILED row).
        unavailable = exc.result is EngineResult.UNAVAILABLE
        fallback = None if unavailable else outcomes.get(EngineResult.FAILED)
        message = fallback or DEFAULT[exc.result]
    return message.error(**fields, detail=exc.detail or reason_phrase(message.status))


@contextlib.contextmanager
def answering(outcomes: Outcomes, **fields: object) -> Iterator[None]:
    """Run engine (or coordinator) calls; an :class:`~omeapi.EngineError` they raise is
    answered by ``outcomes`` (see the module docstring), an app that is gone by OME's
    lookup 404."""
    try:
        yield
    except EngineError as exc:
        raise answer(outcomes, exc, **fields) from None
    except AppNotFound as exc:
        raise msg.APP_NOT_FOUND.error(vhost=exc.vhost, app=exc.app) from None
