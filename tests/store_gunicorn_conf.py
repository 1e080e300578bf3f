"""gunicorn settings for the multi-worker tests: the server stops by itself.

The master watches the test process (``$OMEAPI_TEST_PARENT``) and stops gracefully when it
is gone, or after ``$OMEAPI_TEST_LIFETIME`` seconds at most, so no server outlives a test
run that was interrupted.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

graceful_timeout = 5
accesslog = None


def on_starting(server: Any) -> None:
    parent = int(os.environ["OMEAPI_TEST_PARENT"])
    deadline = time.monotonic() + float(os.environ.get("OMEAPI_TEST_LIFETIME", "300"))
    master = os.getpid()

    def watch() -> None:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)
            except OSError:
                break
        os.kill(master, signal.SIGTERM)  # gunicorn's graceful stop, workers included

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
