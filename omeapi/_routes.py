"""The route table (data) and its matcher.

Routes are tried in OME's registration order; the first whose method and path both match
handles the request.  Paths are anchored regexes over the whole path, case-sensitive.  For
speed, the routes of each method are compiled into one alternation, so a lookup is one regex
match whatever the number of routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs

from omeapi._controllers import (
    apps,
    channels,
    extensions,
    jobs,
    profiles,
    server,
    stats,
    stream_actions,
    streams,
    vhosts,
)
from omeapi._controllers.call import Call
from omeapi._wire.envelope import Reply

__all__ = [
    "NEWER_STREAM_ACTIONS",
    "ROUTES",
    "STREAM_ACTIONS",
    "Controller",
    "Route",
    "RouteMatch",
    "Router",
    "routes_for",
]

#: A controller answers one routed call.
Controller = Callable[[Call], Reply]

_VHOST = r"/v1/vhosts/(?P<vhost>[^/]*)"
_APPS = _VHOST + r"/apps"
_APP = _APPS + r"/(?P<app>[^/:]*)"
_STREAM = r"(?P<stream>[^/]*)"
_VHOST_ACTION = r"/v1/vhosts/(?P<vhost>[^/:]*):"
_STATS_VHOST = r"/v1/stats/current/vhosts/(?P<vhost>[^/]*)"

#: ``POST …/streams/{stream}:<action>`` → its controller: each action is its own route.
STREAM_ACTIONS: dict[str, Controller] = {
    "hlsDumps": stream_actions.hls_dumps,
    "startHlsDump": stream_actions.start_hls_dump,
    "stopHlsDump": stream_actions.stop_hls_dump,
    "sendEvent": stream_actions.send_event,
    "sendEvents": stream_actions.send_events,
    "concludeHlsLive": stream_actions.conclude_hls_live,
    "sendSubtitles": stream_actions.send_subtitles,
}

#: Stream actions of newer OME versions (routed where the wire lists them, after the rest).
NEWER_STREAM_ACTIONS: dict[str, Controller] = {
    "enableStt": stream_actions.enable_stt,
    "disableStt": stream_actions.disable_stt,
    "sttStatus": stream_actions.stt_status,
}


@attrs.frozen
class Route:
    """One entry: the methods, the path regex (named groups become parameters), the
    controller that answers, whether the body is parsed as JSON before anything else,
    whether the answer is a function of the registry snapshot and the request alone (then
    it is kept per snapshot, :class:`~omeapi._wire.answers.Answers`), and whether any
    process can answer it (``local``: it neither reaches the engine nor changes config).
    Where the engine lives in another process, the others are answered there
    (``Api(forward=…)``): one engine, and one place that orders changes.  ``pure``: the
    answer is computed from the registry snapshot and the request alone, with no I/O and
    nothing counted, so an event loop may run it (``Api.handle_nonblocking``)."""

    methods: frozenset[str]
    pattern: str
    controller: Controller
    body: bool = False
    of_snapshot: bool = False
    local: bool = False
    pure: bool = False

    @property
    def action(self) -> str:
        """The controller's name (what logs and tests call the route)."""
        return self.controller.__name__


def _r(
    methods: str,
    pattern: str,
    controller: Controller,
    *,
    body: bool = False,
    of_snapshot: bool = False,
    local: bool = False,
    pure: bool = False,
) -> Route:
    pure = pure or of_snapshot
    return Route(
        frozenset(methods.split()),
        pattern,
        controller,
        body,
        of_snapshot,
        local or pure,
        pure,
    )


#: OME 0.20's v1 routes that omeapi serves, in OME's registration order.
ROUTES: tuple[Route, ...] = (
    _r("GET", r"/v1/version", server.version, of_snapshot=True),
    _r("POST", r"/v1/vhosts", vhosts.create_vhosts, body=True),
    _r("GET", r"/v1/vhosts", vhosts.list_vhosts, of_snapshot=True),
    _r("GET", _VHOST, vhosts.get_vhost, of_snapshot=True),
    _r("DELETE", _VHOST, vhosts.delete_vhost),
    _r("GET", r"/v1/vhosts:", stats.vhosts_colon, pure=True),
    # Certificates are the API process's own (its listeners, its subscribers): local.
    _r(
        "POST",
        r"/v1/vhosts:reloadAllCertificates",
        stats.reload_all_certificates,
        body=True,
        local=True,
    ),
    _r(
        "POST",
        r"/v1/vhosts:reloadCertificate",
        stats.reload_certificate_without_vhost,
        body=True,
        local=True,
    ),
    _r(
        "POST",
        _VHOST_ACTION + r"reloadAllCertificates",
        stats.reload_all_certificates,
        body=True,
        local=True,
    ),
    _r(
        "POST",
        _VHOST_ACTION + r"reloadCertificate",
        stats.reload_certificate,
        body=True,
        local=True,
    ),
    _r("POST", _APPS, apps.create_apps, body=True),
    _r("GET", _APPS, apps.list_apps, of_snapshot=True),
    _r("GET", _APP, apps.get_app, of_snapshot=True),
    _r("PATCH", _APP, apps.patch_app, body=True),
    _r("DELETE", _APP, apps.delete_app),
    _r("GET", _APP + r":", apps.get_app_raw, pure=True),
    _r("POST", _APP + r":records", jobs.list_records, body=True),
    _r("POST", _APP + r":startRecord", jobs.start_record, body=True),
    _r("POST", _APP + r":stopRecord", jobs.stop_record, body=True),
    _r("GET", _APP + r":records", jobs.list_records),
    _r("POST", _APP + r":pushes", jobs.list_pushes, body=True),
    _r("POST", _APP + r":startPush", jobs.start_push, body=True),
    _r("POST", _APP + r":stopPush", jobs.stop_push, body=True),
    _r("GET", _APP + r":pushes", jobs.list_pushes),
    _r("POST", _APP + r"/streams", streams.create_stream, body=True),
    _r("GET", _APP + r"/streams", streams.list_streams),
    _r("GET", _APP + r"/streams/" + _STREAM, streams.get_stream),
    _r("DELETE", _APP + r"/streams/" + _STREAM, streams.delete_stream),
    *(
        _r("POST", _APP + r"/streams/" + _STREAM + ":" + suffix, action, body=True)
        for suffix, action in STREAM_ACTIONS.items()
    ),
    _r("GET", _APP + r"/scheduledChannels", channels.list_scheduled),
    _r("POST", _APP + r"/scheduledChannels", channels.create_scheduled, body=True),
    _r("GET", _APP + r"/scheduledChannels/" + _STREAM, channels.get_scheduled),
    _r("PATCH", _APP + r"/scheduledChannels/" + _STREAM, channels.patch_scheduled, body=True),
    _r("DELETE", _APP + r"/scheduledChannels/" + _STREAM, channels.delete_scheduled),
    _r("GET", _APP + r"/multiplexChannels", channels.list_multiplex),
    _r("POST", _APP + r"/multiplexChannels", channels.create_multiplex, body=True),
    _r("GET", _APP + r"/multiplexChannels/" + _STREAM, channels.get_multiplex),
    _r("DELETE", _APP + r"/multiplexChannels/" + _STREAM, channels.delete_multiplex),
    _r("POST", _APP + r"/outputProfiles", profiles.create_profiles, body=True),
    _r("GET", _APP + r"/outputProfiles", profiles.list_profiles, of_snapshot=True),
    _r(
        "GET",
        _APP + r"/outputProfiles/(?P<profile>[^/]*)",
        profiles.get_profile,
        of_snapshot=True,
    ),
    _r("PATCH", _APP + r"/outputProfiles/(?P<profile>[^/]*)", profiles.patch_profile, body=True),
    _r("DELETE", _APP + r"/outputProfiles/(?P<profile>[^/]*)", profiles.delete_profile),
    _r("GET", r"/v1/stats/current", stats.stats_server),
    _r("GET", _STATS_VHOST, stats.stats_vhost),
    # OME's app group here admits ":" (unlike every other app segment).
    _r("GET", _STATS_VHOST + r"/apps/(?P<app>[^/]*)", stats.stats_app),
    _r("GET", _STATS_VHOST + r"/apps/(?P<app>[^/:]*)/streams/" + _STREAM, stats.stream_stats),
    _r("GET", r"/v1/stats/current/internals", stats.stats_internals),
    _r("GET", r"/v1/stats/current/internals/queues", stats.stats_queues),
    _r(
        "POST",
        r"/v1/managers/api:reloadCertificate",
        stats.reload_api_certificate,
        body=True,
        local=True,
    ),
)


_X = extensions.EXTENSION_PREFIX
_X_STREAM = _X + r"/vhosts/(?P<vhost>[^/]*)/apps/(?P<app>[^/:]*)/streams/" + _STREAM

#: omeapi's own routes (docs/compatibility.md, "Extensions"), after OME's.
EXTENSION_ROUTES: tuple[Route, ...] = (
    # Answered where the request arrives: the feed is read from the store.
    _r("GET", _X + r"/events", extensions.events, local=True),
    # Sessions are the engine's: answered where it runs (forwarded from other workers).
    _r("GET", _X_STREAM + r"/sessions", extensions.list_sessions),
    _r("DELETE", _X_STREAM + r"/sessions/(?P<session>[^/]*)", extensions.disconnect_session),
)


def routes_for(actions: Sequence[str] = ()) -> tuple[Route, ...]:
    """:data:`ROUTES` with the newer stream actions named (OME 0.21 registers its STT
    actions after ``:sendSubtitles``).  None of them is local: they reach the engine."""
    if not actions:
        return (*ROUTES, *EXTENSION_ROUTES)
    last = next(i for i, r in enumerate(ROUTES) if r.controller is stream_actions.send_subtitles)
    extra = tuple(
        _r("POST", f"{_APP}/streams/{_STREAM}:{suffix}", NEWER_STREAM_ACTIONS[suffix], body=True)
        for suffix in actions
    )
    return (*ROUTES[: last + 1], *extra, *ROUTES[last + 1 :], *EXTENSION_ROUTES)


@attrs.frozen
class RouteMatch:
    """A route and the path parameters it captured."""

    route: Route
    params: dict[str, str]


_GROUP = re.compile(r"\(\?P<(\w+)>")
#: A regex metacharacter: a pattern without any matches only itself.
_META = re.compile(r"[\\.^$*+?{}\[\]|()]")


class _MethodTable:
    """All routes of one method as one compiled alternation."""

    def __init__(self, routes: Sequence[Route]) -> None:
        parts: list[str] = []
        #: per alternative: (route, index of its first parameter group, parameter names)
        self.slots: dict[int, tuple[Route, int, tuple[str, ...]]] = {}
        group = 0
        for route in routes:
            names = tuple(_GROUP.findall(route.pattern))
            outer = group + 1
            # Parameter groups are renamed to plain groups: names repeat across routes.
            parts.append("(" + _GROUP.sub("(", route.pattern) + ")")
            self.slots[outer] = (route, outer + 1, names)
            group = outer + len(names)
        self.regex = re.compile("|".join(parts)) if parts else None
        # Paths that are literal patterns (``/v1/vhosts``, ``/v1/stats/current`` …) answered
        # by a dictionary lookup, with what the alternation itself picks for them (so the
        # order of the routes decides, as for any path).  Only the routes' own literals are
        # kept: the table's size is fixed, whatever the requests.
        self.literal: dict[str, Route] = {}
        for route in routes:
            if not _META.search(route.pattern):
                found = self._search(route.pattern)
                if found is not None and not found.params:
                    self.literal.setdefault(route.pattern, found.route)

    def match(self, path: str) -> RouteMatch | None:
        route = self.literal.get(path)
        if route is not None:
            return RouteMatch(route, {})
        return self._search(path)

    def _search(self, path: str) -> RouteMatch | None:
        if self.regex is None:
            return None
        m = self.regex.fullmatch(path)
        if m is None or m.lastindex is None:
            return None
        route, first, names = self.slots[m.lastindex]
        groups = m.groups()
        return RouteMatch(route, {name: groups[first - 1 + i] for i, name in enumerate(names)})


class Router:
    """Finds the route for a method and path; knows which methods a path allows."""

    def __init__(self, routes: Sequence[Route] = ROUTES) -> None:
        methods = sorted({m for r in routes for m in r.methods})
        self._tables = {m: _MethodTable([r for r in routes if m in r.methods]) for m in methods}
        # HEAD is answered wherever GET is.
        if "GET" in self._tables:
            self._tables["HEAD"] = self._tables["GET"]

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The first route for ``method`` whose pattern matches ``path``."""
        table = self._tables.get(method)
        return None if table is None else table.match(path)

    def allowed(self, path: str) -> list[str]:
        """Every method some route accepts for ``path`` (for 405's ``Allow``)."""
        return sorted(m for m, table in self._tables.items() if table.match(path) is not None)
