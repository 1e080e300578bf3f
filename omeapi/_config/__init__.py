"""OME's Server.xml: the schema table, the generic engine, and typed views.

>>> config = load_server_config("Server.xml")      # doctest: +SKIP
>>> [vhost.name for vhost in config.virtual_hosts]  # doctest: +SKIP
"""

from omeapi._config.model import (
    ApiBinding,
    ApiManager,
    ApplicationConfig,
    CrossDomains,
    HostConfig,
    Managers,
    OutputProfileConfig,
    ServerConfig,
    StorageConfig,
    TlsConfig,
    VirtualHostConfig,
    application_from_json,
    load_server_config,
    output_profile_from_json,
    parse_server_xml,
    virtual_host_from_json,
)
from omeapi._config.nodes import Item, Scalar
from omeapi._config.values import Port, RangedPort, Substitution
from omeapi._errors import ConfigError

__all__ = [
    "ApiBinding",
    "ApiManager",
    "ApplicationConfig",
    "ConfigError",
    "CrossDomains",
    "HostConfig",
    "Item",
    "Managers",
    "OutputProfileConfig",
    "Port",
    "RangedPort",
    "Scalar",
    "ServerConfig",
    "StorageConfig",
    "Substitution",
    "TlsConfig",
    "VirtualHostConfig",
    "application_from_json",
    "load_server_config",
    "output_profile_from_json",
    "parse_server_xml",
    "virtual_host_from_json",
]
