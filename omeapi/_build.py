"""The composition root: one place that opens what an API needs and wires it together.

:func:`open_api` reads the config (if given a path), opens the store, restores the
registry from it, loads the TLS certificates, starts the config's vhosts and apps on the
engine and hands all of it to :class:`~omeapi._handler.Api` as one frozen
:class:`~omeapi._services.Services`.  It starts no thread: a shared store's follower is
started by whoever serves the API (:meth:`Api.start`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from omeapi._access.auth import Brake
from omeapi._config import ServerConfig, load_server_config
from omeapi._config.ome_wire import wire_for
from omeapi._console import CONSOLE_PATH, Console
from omeapi._engine.protocol import MediaEngine
from omeapi._errors import ConfigError, StoreError
from omeapi._handler import DEFAULT_BODY_LIMIT, Api, Forward, Observer
from omeapi._ops.access_log import AccessLog
from omeapi._ops.metrics import PrometheusMetrics
from omeapi._services import Services
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.brake import FailureBrake
from omeapi._state.certificates import Certificates
from omeapi._state.events import EventFeed
from omeapi._state.follow import StoreFollower
from omeapi._state.registry import Registry
from omeapi._state.restart import RestartCoordinator
from omeapi._stores.base import Store
from omeapi._stores.open import open_store, shown_location, store_location

__all__ = ["open_api"]


def open_api(
    config: ServerConfig | str | os.PathLike[str],
    engine: MediaEngine | None = None,
    *,
    store: Store | str | None = None,
    environ: Mapping[str, str] | None = None,
    allow_no_auth: bool = False,
    body_limit: int = DEFAULT_BODY_LIMIT,
    brake: Brake | bool = True,
    start_engine: bool = True,
    access_log: str | None = None,
    metrics_path: str | None = None,
    health: bool = True,
    console: bool | str = False,
    follow: bool = True,
    forward: Forward | None = None,
    ome_version: str | None = None,
) -> Api:
    """The API for ``config`` (a parsed config, or a Server.xml path read with ``environ``).

    ``engine`` defaults to a :class:`~omeapi.SimulatedEngine`; ``start_engine`` starts the
    config's (and the store's) vhosts and apps on it, otherwise they are taken as running.
    ``store`` keeps API-created resources: a :class:`~omeapi.Store`, a location (a SQLite
    path, a ``postgresql://`` URL, ``memory``), or None for what
    ``<Managers><API><Storage>`` says (in memory without it).  A store given as a location
    is closed by :meth:`Api.close`; one passed in belongs to the caller.  ``console`` serves
    the web console at ``/console`` (True) or at the path given (docs/console.md).

    ``brake``: True for the failed-login brake (shared through a shared store), False for
    none, or a brake to use.  ``access_log`` (``"text"`` or ``"json"``) writes a line per
    request to the ``omeapi.access`` logger; ``metrics_path`` (e.g. ``"/metrics"``) serves
    Prometheus metrics there to authenticated requests (the ``metrics`` extra); ``health``
    answers ``/healthz`` and ``/readyz``.

    ``follow``: with a store other processes share, make the engine follow their changes
    (False when another process owns the engine and follows the store for it; the
    registry follows either way).  ``forward``: the engine lives in another process, which
    answers the routes that reach it or change config (see :class:`~omeapi.Api`; the
    ``omeapi_remote`` package makes one); ``engine`` is then that process's engine as seen
    from here, and ``start_engine`` should be False.

    ``ome_version``: the OME version whose wire the API speaks, ``"0.20"`` or ``"0.21"``
    (None: the default, docs/compatibility.md): routes, config JSON names in both
    directions, answer fields, request defaults and ``/v1/version``.

    Raises :class:`~omeapi.ConfigError` for a config or store that cannot be used, and
    :class:`~omeapi.EngineError` if the engine cannot start a vhost or app of Server.xml.
    """
    try:
        wire = wire_for(ome_version)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    console_path = CONSOLE_PATH if console is True else console or None
    Console(console_path)  # a bad path is a config error before anything is opened
    if not isinstance(config, ServerConfig):
        config = load_server_config(config, environ=environ, require_access_token=not allow_no_auth)
    if engine is None:
        engine = SimulatedEngine(config_dir=config.config_dir)
    owned = not isinstance(store, Store)
    opened = _open_store(config, store)
    try:
        registry = Registry(
            config.virtual_hosts,
            store=opened,
            source=config.file or "Server.xml",
            environ=config.environ,
        )
        coordinator = RestartCoordinator(registry, engine)
        if start_engine:
            coordinator.start()
        else:
            coordinator.adopt()
    except StoreError as exc:
        if owned:
            opened.close()
        raise ConfigError(f"cannot read the store {opened.location}: {exc}") from None
    except BaseException:
        if owned:
            opened.close()
        raise
    feed = EventFeed(opened)
    coordinator.subscribe(
        lambda event: feed.publish(
            f"app.{event.kind}",
            event.vhost,
            {
                "app": event.app,
                "cause": event.cause,
                "sessionsDropped": event.sessions_dropped,
            },
        )
    )
    services = Services(
        config=config,
        engine=engine,
        store=opened,
        registry=registry,
        coordinator=coordinator,
        certificates=Certificates(config),
        follower=StoreFollower(registry, coordinator, reconcile=follow) if opened.shared else None,
        owns_store=owned,
        wire=wire,
        events=feed,
    )
    observers: list[Observer] = []
    if access_log is not None:
        observers.append(AccessLog(access_log))
    metrics: PrometheusMetrics | None = None
    if metrics_path is not None:
        metrics = PrometheusMetrics()
        observers.append(metrics)
        coordinator.subscribe(metrics.on_app_event)
    return Api(
        services,
        allow_no_auth=allow_no_auth,
        body_limit=body_limit,
        brake=FailureBrake.for_store(opened) if brake is True else brake or None,
        observers=observers,
        health=health,
        metrics_path=metrics_path,
        metrics=metrics.render if metrics is not None else None,
        console_path=console_path,
        forward=forward,
    )


def _open_store(config: ServerConfig, store: Store | str | None) -> Store:
    if isinstance(store, Store):
        return store
    location = store_location(config, store)
    try:
        return open_store(location)
    except StoreError as exc:
        # Never the password of a postgresql:// URL; and a location given by the caller
        # (--store) is not the config's element.
        where = "<Managers><API><Storage>: " if store is None else ""
        raise ConfigError(
            f"{where}cannot open the store {shown_location(location)}: {exc}",
            file=config.file,
        ) from None
