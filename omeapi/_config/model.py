"""Typed, frozen views of the parts of a config that the API layer uses.

Each view keeps the generic :class:`~omeapi._config.nodes.Item` it was built from (``node``),
so nothing in the source is lost and :meth:`to_json` gives OME's JSON form back.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree.ElementTree import Element

import attrs

from omeapi._config.nodes import Item, JsonValue
from omeapi._config.schema import Spec
from omeapi._config.source import XmlFile, make_include, parse_bytes, parse_file
from omeapi._config.tree import (
    SCHEMA,
    ErrorFn,
    JsonReader,
    Previous,
    XmlReader,
    spec_at,
    to_json,
    unset_variables,
)
from omeapi._config.values import Port, Substitution, c_stoi
from omeapi._errors import ConfigError
from omeapi._messages import EMPTY_TOKEN
from omeapi._wire.envelope import dumps

__all__ = [
    "ApiBinding",
    "ApiManager",
    "ApplicationConfig",
    "CrossDomains",
    "HostConfig",
    "Managers",
    "OutputProfileConfig",
    "ServerConfig",
    "StorageConfig",
    "TlsConfig",
    "VirtualHostConfig",
    "application_from_json",
    "load_server_config",
    "output_profile_from_json",
    "parse_server_xml",
    "virtual_host_from_json",
]

SUPPORTED_VERSIONS = (8, 9, 10)


# Configs never change once built, so their JSON is made once (``json_value``, one walk of
# the tree) and serialised once (``json_bytes``); ``to_json`` copies are decoded from these
# bytes, several times cheaper than walking the tree again.
def _tree_json(node: Item, previous: Previous | None = None) -> dict[str, JsonValue]:
    out = to_json(node, previous)
    assert isinstance(out, dict)  # an app's or profile's item is an object
    return out


VHOST_SPEC = spec_at("Server.VirtualHosts.VirtualHost")
APP_SPEC = spec_at("Server.VirtualHosts.VirtualHost.Applications.Application")
PROFILE_SPEC = spec_at(
    "Server.VirtualHosts.VirtualHost.Applications.Application.OutputProfiles.OutputProfile"
)
API_SPEC = spec_at("Server.Managers.API")
BIND_API_SPEC = spec_at("Server.Bind.Managers.API")


@attrs.frozen
class CrossDomains:
    """A ``<CrossDomains>`` block: ``<Url>`` patterns and custom ``<Header>`` entries."""

    urls: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_item(cls, item: Item | None) -> CrossDomains | None:
        if item is None:
            return None
        headers = tuple(
            (str(h.value("Key", "")), str(h.value("Value", ""))) for h in item.items("Header")
        )
        return cls(item.strings("Url"), headers)


@attrs.frozen
class TlsConfig:
    """Certificate files (paths already resolved)."""

    cert_path: str = ""
    key_path: str = ""
    chain_cert_path: str = ""

    @classmethod
    def from_item(cls, item: Item | None) -> TlsConfig | None:
        if item is None:
            return None
        return cls(
            str(item.value("CertPath", "")),
            str(item.value("KeyPath", "")),
            str(item.value("ChainCertPath", "")),
        )


@attrs.frozen
class HostConfig:
    """A ``<Host>`` block: ``names`` is None when ``<Names>`` is absent."""

    names: tuple[str, ...] | None = None
    tls: TlsConfig | None = None

    @classmethod
    def from_item(cls, item: Item | None) -> HostConfig | None:
        if item is None:
            return None
        names = item.item("Names")
        return cls(
            names.strings("Name") if names is not None else None,
            TlsConfig.from_item(item.item("TLS")),
        )


@attrs.frozen
class ApiBinding:
    """``<Bind><Managers><API>``: where the API listens."""

    port: Port | None = None
    tls_port: Port | None = None
    worker_count: int | None = None


@attrs.frozen
class StorageConfig:
    """``<Managers><API><Storage>``."""

    enabled: bool = True
    path: str = ""


@attrs.frozen
class ApiManager:
    """``<Managers><API>``: token, storage and the API's own CORS."""

    access_token: str | None = None
    storage: StorageConfig | None = None
    cross_domains: CrossDomains | None = None


@attrs.frozen
class Managers:
    """``<Managers>``."""

    host: HostConfig | None = None
    api: ApiManager | None = None


@attrs.frozen
class OutputProfileConfig:
    """One ``<OutputProfile>``."""

    name: str
    output_stream_name: str
    node: Item = attrs.field(repr=False)

    @classmethod
    def from_item(cls, item: Item) -> OutputProfileConfig:
        return cls(str(item.value("Name", "")), str(item.value("OutputStreamName", "")), item)

    @functools.cached_property
    def json_bytes(self) -> bytes:
        """:meth:`to_json` serialised (compact, keys sorted), computed once."""
        return dumps(self.json_value)

    @functools.cached_property
    def json_value(self) -> dict[str, JsonValue]:
        """OME's JSON form of the profile, made once and shared: read it, serialise it,
        merge it into a new value; never change it (:meth:`to_json` gives a copy)."""
        return _tree_json(self.node)

    def to_json(self) -> dict[str, JsonValue]:
        """OME's JSON form of the profile (a fresh copy the caller may change)."""
        out: dict[str, JsonValue] = json.loads(self.json_bytes)
        return out


@attrs.frozen
class ApplicationConfig:
    """One ``<Application>``: name, type, output profiles, and everything else in ``node``."""

    name: str
    type: str
    output_profiles: tuple[OutputProfileConfig, ...]
    node: Item = attrs.field(repr=False)

    @classmethod
    def from_item(cls, item: Item, previous: ApplicationConfig | None = None) -> ApplicationConfig:
        """The app of ``item``; profiles whose node is one of ``previous``'s are kept (with
        their JSON made once)."""
        profiles = item.item("OutputProfiles")
        kept = {id(p.node): p for p in previous.output_profiles} if previous else {}
        return cls(
            str(item.value("Name", "")),
            str(item.value("Type", "")),
            tuple(
                kept.get(id(p)) or OutputProfileConfig.from_item(p)
                for p in (profiles.items("OutputProfile") if profiles else ())
            ),
            item,
        )

    @functools.cached_property
    def json_bytes(self) -> bytes:
        """:meth:`to_json` serialised (compact, keys sorted), computed once."""
        return dumps(self.json_value)

    @functools.cached_property
    def json_value(self) -> dict[str, JsonValue]:
        """OME's JSON form of the app, made once and shared: read it, serialise it, merge
        it into a new value; never change it (:meth:`to_json` gives a copy)."""
        return _tree_json(self.node)

    def to_json(self) -> dict[str, JsonValue]:
        """OME's JSON form of the app (without the ``dynamic`` flag the API adds); a fresh
        copy the caller may change."""
        out: dict[str, JsonValue] = json.loads(self.json_bytes)
        return out

    def profile(self, name: str) -> OutputProfileConfig | None:
        """The output profile called ``name``, if any."""
        for profile in self.output_profiles:
            if profile.name == name:
                return profile
        return None


@attrs.frozen
class VirtualHostConfig:
    """One ``<VirtualHost>``. ``read_only`` is true for vhosts declared in Server.xml."""

    name: str
    host: HostConfig | None
    applications: tuple[ApplicationConfig, ...]
    read_only: bool
    node: Item = attrs.field(repr=False)

    @classmethod
    def from_item(cls, item: Item, *, read_only: bool) -> VirtualHostConfig:
        apps = item.item("Applications")
        return cls(
            str(item.value("Name", "")),
            HostConfig.from_item(item.item("Host")),
            tuple(
                ApplicationConfig.from_item(a) for a in (apps.items("Application") if apps else ())
            ),
            read_only,
            item,
        )

    @property
    def host_names(self) -> tuple[str, ...]:
        """The ``<Host><Names>`` patterns (empty when there are none)."""
        if self.host is None or self.host.names is None:
            return ()
        return self.host.names

    @functools.cached_property
    def json_value(self) -> dict[str, JsonValue]:
        """:meth:`to_json`, made once and shared: read it, serialise it; never change it."""
        return self.to_json()

    @functools.cached_property
    def json_bytes(self) -> bytes:
        """:meth:`to_json` serialised (compact, keys sorted), computed once."""
        return dumps(self.json_value)

    def to_json(self) -> dict[str, JsonValue]:
        """OME's JSON form of the vhost, without ``applications`` (as GET shows it); a
        fresh copy the caller may change."""
        out: dict[str, JsonValue] = to_json(self.node)
        out.pop("applications", None)
        return out


@attrs.frozen
class ServerConfig:
    """A whole Server.xml."""

    version: int
    name: str
    type: str
    ips: tuple[str, ...]
    api_binding: ApiBinding | None
    managers: Managers | None
    defaults_cross_domains: CrossDomains | None
    virtual_hosts: tuple[VirtualHostConfig, ...]
    node: Item = attrs.field(repr=False)
    file: str | None = None
    config_dir: str = ""
    #: the environment ``${env:…}`` was read from; REST bodies are read with it too
    environ: Mapping[str, str] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def api_enabled(self) -> bool:
        """The API is served when ``<Bind><Managers><API>`` has a Port or TLSPort."""
        binding = self.api_binding
        return binding is not None and (binding.port is not None or binding.tls_port is not None)

    @property
    def api_manager(self) -> ApiManager | None:
        """``<Managers><API>``, if present."""
        return self.managers.api if self.managers else None

    def virtual_host(self, name: str) -> VirtualHostConfig | None:
        """The vhost called ``name``, if declared."""
        for vhost in self.virtual_hosts:
            if vhost.name == name:
                return vhost
        return None

    @classmethod
    def from_item(
        cls,
        item: Item,
        *,
        file: str | None,
        config_dir: str,
        environ: Mapping[str, str] | None = None,
    ) -> ServerConfig:
        bind = item.item("Bind")
        bind_managers = bind.item("Managers") if bind else None
        bind_api = bind_managers.item("API") if bind_managers else None
        managers = item.item("Managers")
        defaults = item.item("Defaults")
        vhosts = item.item("VirtualHosts")
        return cls(
            version=c_stoi(str(item.value("version", ""))),
            name=str(item.value("Name", "")),
            type=str(item.value("Type", "")),
            ips=item.strings("IP"),
            api_binding=None
            if bind_api is None
            else ApiBinding(
                bind_api.value("Port"), bind_api.value("TLSPort"), bind_api.value("WorkerCount")
            ),
            managers=None if managers is None else _managers(managers),
            defaults_cross_domains=CrossDomains.from_item(
                defaults.item("CrossDomains") if defaults else None
            ),
            virtual_hosts=tuple(
                VirtualHostConfig.from_item(v, read_only=True)
                for v in (vhosts.items("VirtualHost") if vhosts else ())
            ),
            node=item,
            file=file,
            config_dir=config_dir,
            environ={} if environ is None else environ,
        )

    def to_json(self) -> JsonValue:
        """OME's JSON form of the whole config."""
        return to_json(self.node)


def _managers(item: Item) -> Managers:
    api = item.item("API")
    storage = api.item("Storage") if api else None
    return Managers(
        HostConfig.from_item(item.item("Host")),
        None
        if api is None
        else ApiManager(
            api.value("AccessToken"),
            None
            if storage is None
            else StorageConfig(
                bool(storage.value("Enabled", True)), str(storage.value("Path", ""))
            ),
            CrossDomains.from_item(api.item("CrossDomains")),
        ),
    )


def _check_version(text: str) -> int:
    # ``text`` is already substituted (attributes are, like every value): a second pass
    # would break the single-pass rule.
    version = c_stoi(text)
    if version == 0:
        raise ConfigError(
            "Could not obtain version in your XML. If you have upgraded OME, see "
            "misc/conf_examples/Server.xml"
        )
    if version not in SUPPORTED_VERSIONS:
        raise ConfigError(
            f"The version of Server.xml is outdated (Your XML version: {version}).\n"
            "If you have upgraded OME, see misc/conf_examples/Server.xml\n"
            f"omeapi reads Server.xml versions {', '.join(map(str, SUPPORTED_VERSIONS))}."
        )
    return version


def _read_server(
    xml: XmlFile,
    *,
    environ: Mapping[str, str] | None,
    warn: Callable[[str], None] | None,
    require_access_token: bool,
) -> ServerConfig:
    config_dir = os.path.dirname(os.path.abspath(xml.path))
    # A snapshot: REST bodies read later resolve ${env:…} as this load did.
    env = dict(os.environ) if environ is None else environ
    subst = Substitution(environ=env, home=os.path.dirname(config_dir))
    warn_fn = warn or (lambda message: None)
    locate = xml.error_fn()
    if xml.root.tag != "Server":
        raise ConfigError(
            f"Could not find the root element: <Server> in {xml.path}", file=xml.path, line=1
        )
    spots: dict[Spec, tuple[Element, ErrorFn] | None] = {API_SPEC: None, BIND_API_SPEC: None}
    reader = XmlReader(
        file=xml.path,
        base_dir=config_dir,
        subst=subst,
        include=make_include(warn_fn),
        on_error=locate,
        warn=warn_fn,
        spots=spots,
    )
    item = reader.read_item(SCHEMA, xml.root, "Server", False)
    try:
        _check_version(str(item.value("version", "")))
    except ConfigError as exc:
        raise locate(exc, xml.root, "Server") from None
    config = ServerConfig.from_item(item, file=xml.path, config_dir=config_dir, environ=env)
    if require_access_token:
        _require_token(config, spots, subst)
    return config


def _require_token(
    config: ServerConfig,
    spots: Mapping[Spec, tuple[Element, ErrorFn] | None],
    subst: Substitution,
) -> None:
    """The API's own refusal of an empty token (``AuthVerifier.from_config``), made while
    loading, so that ``omeapi check`` and ``omeapi serve`` agree, with the file and line of
    ``<AccessToken>`` (or of ``<API>`` when there is none)."""
    manager = config.api_manager
    if not config.api_enabled or (manager is not None and manager.access_token):
        return
    exc = ConfigError(EMPTY_TOKEN)
    spot = spots.get(API_SPEC) or spots.get(BIND_API_SPEC)
    if spot is None:
        raise exc
    element, locate = spot
    token = next((c for c in element if c.tag == "AccessToken" and c.get("ignore") != "true"), None)
    # OME's text says "Empty" either way; say which it is.
    if token is None:
        exc.hint = f"<{element.tag}> has no <AccessToken>"
    else:
        exc.hint = unset_variables(token.text or "", subst)
    raise locate(exc, element if token is None else token, "Server.managers.api")


def load_server_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
    require_access_token: bool = True,
) -> ServerConfig:
    """Load a Server.xml file the way OME 0.20 does.

    ``environ`` replaces the process environment for ``${env:…}`` (and is kept as
    :attr:`ServerConfig.environ`); ``warn`` receives OME's warnings (ignored unknown items).
    With the API enabled, an empty or missing ``<AccessToken>`` is refused unless
    ``require_access_token`` is false (for an embedder that runs :class:`~omeapi.Api` with
    ``allow_no_auth=True``).  Raises :class:`~omeapi.ConfigError` with the file, line and
    element path of the first problem.
    """
    file = os.fspath(path)
    return _read_server(
        parse_file(file, (SCHEMA, "Server")),
        environ=environ,
        warn=warn,
        require_access_token=require_access_token,
    )


def parse_server_xml(
    text: str | bytes,
    *,
    file: str = "Server.xml",
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
    require_access_token: bool = False,
) -> ServerConfig:
    """Parse Server.xml text; ``file`` names it in errors and anchors relative paths.

    Unlike :func:`load_server_config`, an empty ``<AccessToken>`` is only refused on request
    (``require_access_token=True``): text given directly is often a fragment under test, and
    :class:`~omeapi.Api` still refuses it unless told ``allow_no_auth``.
    """
    data = text.encode() if isinstance(text, str) else text
    return _read_server(
        parse_bytes(data, file, (SCHEMA, "Server")),
        environ=environ,
        warn=warn,
        require_access_token=require_access_token,
    )


def _json_reader(environ: Mapping[str, str] | None) -> JsonReader:
    # A new Substitution per body: each document gets its own expansion allowance.
    return JsonReader(Substitution(environ=os.environ if environ is None else environ))


def virtual_host_from_json(
    value: Any, *, environ: Mapping[str, str] | None = None
) -> VirtualHostConfig:
    """A vhost from a REST body (``POST /v1/vhosts`` item); it is writable.

    ``${env:…}`` reads ``environ`` (pass the loaded config's :attr:`ServerConfig.environ`;
    the process environment when None); the expansion per body is bounded.
    """
    item = _json_reader(environ).read_root(VHOST_SPEC, value)
    return VirtualHostConfig.from_item(item, read_only=False)


def application_from_json(
    value: Any,
    *,
    environ: Mapping[str, str] | None = None,
    previous: ApplicationConfig | None = None,
) -> ApplicationConfig:
    """An app from a REST body (``POST …/apps`` item, or a merged PATCH); ``environ`` as for
    :func:`virtual_host_from_json`.

    ``previous`` is the app a merged PATCH started from (``value`` built from its
    :attr:`~ApplicationConfig.json_value` without changing it): the parts the patch left
    alone are taken from it instead of being read again, with the same result.
    """
    if previous is None:
        return ApplicationConfig.from_item(_json_reader(environ).read_root(APP_SPEC, value))
    before = (previous.node, previous.json_value)
    item = _json_reader(environ).read_root(APP_SPEC, value, before)
    app = ApplicationConfig.from_item(item, previous)
    # Seeded from the previous app's JSON, shared where the nodes are (the slot the cached
    # property would fill on first use).
    object.__setattr__(app, "json_value", _tree_json(item, before))
    return app


def output_profile_from_json(
    value: Any, *, environ: Mapping[str, str] | None = None
) -> OutputProfileConfig:
    """An output profile from a REST body; ``environ`` as for :func:`virtual_host_from_json`."""
    return OutputProfileConfig.from_item(_json_reader(environ).read_root(PROFILE_SPEC, value))
