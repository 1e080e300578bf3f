"""How the coordinator's domain errors are answered: OME's orchestrator texts.

The one place that maps :class:`~omeapi._errors.AppOperationError` and
:class:`~omeapi._errors.AppNotFound` to HTTP (the coordinator never speaks HTTP).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from omeapi import _messages as msg
from omeapi._errors import ApiError, AppNotFound, AppOperationError, EngineResult

__all__ = ["answered", "app_operation_error"]

#: OME's answer per orchestrator result: status and text (``{op}``: create/delete).
_RESULT_STATUS = {
    EngineResult.FAILED: (500, "Failed to {op} the application: [{path}]"),
    EngineResult.EXISTS: (409, "Could not {op} the application: [{path}] already exists"),
    EngineResult.NOT_EXISTS: (404, "Could not {op} the application: [{path}] not exists"),
}


def app_operation_error(exc: AppOperationError | AppNotFound) -> ApiError:
    """OME's HTTP error for a failed app operation or a missing app."""
    if isinstance(exc, AppNotFound):
        return ApiError(404, msg.APP_NOT_FOUND.format(vhost=exc.vhost, app=exc.app))
    status, template = _RESULT_STATUS[exc.result]
    return ApiError(status, template.format(op=exc.op, path=f"{exc.vhost}/{exc.app}"))


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """Turn the coordinator's domain errors raised inside into their HTTP errors."""
    try:
        yield
    except (AppOperationError, AppNotFound) as exc:
        raise app_operation_error(exc) from None
