"""The web console: a static page the API serves itself when asked to (docs/console.md).

The page is public static content (it holds no data and no secret); everything it shows it
fetches from the API with the token the operator types, so the console adds no way in.
This module maps a path under the console's path to a response; it reads the assets (with
:mod:`importlib.resources`) once, the first time one is asked for.
"""

from __future__ import annotations

import functools
import importlib.resources
import re

import attrs

from omeapi._errors import ConfigError
from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = ["CONSOLE_PATH", "Asset", "Console"]

#: Where ``open_api(..., console=True)`` serves the console.
CONSOLE_PATH = "/console"

#: The assets, by the name they are served under (``""`` is the page itself).
_FILES: dict[str, tuple[str, str]] = {
    "": ("index.html", "text/html; charset=utf-8"),
    "console.css": ("console.css", "text/css; charset=utf-8"),
    "console.js": ("console.js", "text/javascript; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}

# The page loads only its own files and talks only to its own origin; nothing may frame it.
_HEADERS = (
    ("Server", "OvenMediaEngine"),
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)

# One segment, so that the page finds the API at ``../`` wherever the app is mounted.
_SEGMENT = re.compile(r"/[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
_NOT_FOUND = b"Not found\n"


@attrs.frozen
class Asset:
    """One console answer: status, content type, body (and where a redirect points)."""

    status: int
    content_type: str
    body: bytes
    location: str | None = None


@functools.cache
def _assets() -> dict[str, Asset]:
    static = importlib.resources.files(__package__).joinpath("static")
    return {
        name: Asset(200, content_type, static.joinpath(file).read_bytes())
        for name, (file, content_type) in _FILES.items()
    }


class Console:
    """The console under ``path`` (one segment such as ``/console``), or none for None.

    :meth:`lookup` maps any path to an :class:`Asset` (None outside the console);
    :meth:`respond` answers a ``GET`` or ``HEAD`` for it.  The assets are read on the first
    lookup that needs them, so making a console does no I/O.
    """

    def __init__(self, path: str | None = CONSOLE_PATH) -> None:
        if path is not None and (not _SEGMENT.fullmatch(path) or path == "/v1"):
            raise ConfigError(
                f"the console path must be one path segment other than /v1, such as "
                f"{CONSOLE_PATH}: {path!r}"
            )
        self.path = path
        self._prefix = f"{path}/"
        #: path → the asset's name in ``_FILES``
        self._names: dict[str, str] = {}
        self._redirect: Asset | None = None
        if path is not None:
            # Without the slash the page's relative links would miss: send the browser to it.
            self._redirect = Asset(301, "text/plain; charset=utf-8", b"", f"{path[1:]}/")
            self._names = {self._prefix + name: name for name in _FILES}

    def lookup(self, path: str) -> Asset | None:
        """The answer for ``path``: an asset, a redirect, a 404, or None (not the console's)."""
        name = self._names.get(path)
        if name is not None:
            return _assets()[name]
        if self._redirect is None:
            return None
        if path == self.path:
            return self._redirect
        if path.startswith(self._prefix):
            return Asset(404, "text/plain; charset=utf-8", _NOT_FOUND)
        return None

    def respond(self, request: ApiRequest) -> ApiResponse | None:
        """The response to a console ``GET`` or ``HEAD``; None for any other request."""
        if request.method not in ("GET", "HEAD"):
            return None
        asset = self.lookup(request.path)
        if asset is None:
            return None
        location = (("Location", asset.location),) if asset.location is not None else ()
        headers = (
            *_HEADERS,
            *location,
            ("Content-Type", asset.content_type),
            ("Content-Length", str(len(asset.body))),
        )
        return ApiResponse(asset.status, headers, b"" if request.method == "HEAD" else asset.body)
