"""What the multi-worker tests serve with the real gunicorn (``gunicorn -w 4``).

omeapi over the shared store ``$OMEAPI_TEST_STORE`` and the Server.xml
``$OMEAPI_TEST_CONFIG``, on a simulated engine whose operations take
``$OMEAPI_TEST_DELAY`` seconds; every answer names the worker process that gave it
(``X-Worker``), so a test can tell that two requests reached two processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from omeapi._simulated.engine import SimulatedEngine
from omeapi_werkzeug import create_app

_api_app = create_app(
    os.environ["OMEAPI_TEST_CONFIG"],
    SimulatedEngine(operation_delay=float(os.environ.get("OMEAPI_TEST_DELAY", "0"))),
    store=os.environ["OMEAPI_TEST_STORE"],
    brake=False,
)
_WORKER = ("X-Worker", str(os.getpid()))


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, _WORKER], exc_info)

    return _api_app(environ, start)
