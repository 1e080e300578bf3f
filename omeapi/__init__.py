"""omeapi: OvenMediaEngine's REST management API for any Python media server.

This module is the public face: everything an embedding program uses is imported from here
(``from omeapi import open_api, ApiRequest, MediaEngine``).  The modules behind it (``omeapi._*``)
are implementation details and may change between releases.

The core is pure: it reads configuration files and otherwise works on plain values.
"""

from omeapi._build import open_api
from omeapi._config import (
    ApplicationConfig,
    Item,
    OutputProfileConfig,
    Port,
    RangedPort,
    Scalar,
    ServerConfig,
    TlsConfig,
    VirtualHostConfig,
    application_from_json,
    load_server_config,
    output_profile_from_json,
    parse_server_xml,
    virtual_host_from_json,
)
from omeapi._config.ome_wire import DEFAULT_OME_VERSION, OME_VERSIONS
from omeapi._engine.base import NoRuntime
from omeapi._engine.channels import (
    Multiplex,
    MultiplexInfo,
    Schedule,
    ScheduledChannelInfo,
)
from omeapi._engine.protocol import MediaEngine, RestartOutcome, RuntimeEngine
from omeapi._engine.values import (
    HlsDump,
    HlsDumpRequest,
    Metrics,
    PullRequest,
    PushInfo,
    PushRequest,
    QueueMetrics,
    RecordInfo,
    RecordRequest,
    StreamEvent,
    StreamInfo,
    SttRendition,
    SttStatus,
    SubtitleCue,
)
from omeapi._errors import (
    ApiError,
    CertificateError,
    ConfigError,
    EngineError,
    EngineResult,
    EngineUnavailable,
    OmeapiError,
    StoreConflict,
    StoreError,
    reason_phrase,
)
from omeapi._handler import DEFAULT_BODY_LIMIT, Api, Forward, Forwarded
from omeapi._simulated.engine import SimulatedEngine
from omeapi._stores.base import AuditRetention, Store
from omeapi._stores.memory import MemoryStore
from omeapi._stores.open import open_store, store_location
from omeapi._version import OME_API_VERSION, __version__
from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_OME_VERSION",
    "OME_API_VERSION",
    "OME_VERSIONS",
    "Api",
    "ApiError",
    "ApiRequest",
    "ApiResponse",
    "ApplicationConfig",
    "AuditRetention",
    "CertificateError",
    "ConfigError",
    "EngineError",
    "EngineResult",
    "EngineUnavailable",
    "Forward",
    "Forwarded",
    "HlsDump",
    "HlsDumpRequest",
    "Item",
    "MediaEngine",
    "MemoryStore",
    "Metrics",
    "Multiplex",
    "MultiplexInfo",
    "NoRuntime",
    "OmeapiError",
    "OutputProfileConfig",
    "Port",
    "PullRequest",
    "PushInfo",
    "PushRequest",
    "QueueMetrics",
    "RangedPort",
    "RecordInfo",
    "RecordRequest",
    "RestartOutcome",
    "RuntimeEngine",
    "Scalar",
    "Schedule",
    "ScheduledChannelInfo",
    "ServerConfig",
    "SimulatedEngine",
    "Store",
    "StoreConflict",
    "StoreError",
    "StreamEvent",
    "StreamInfo",
    "SttRendition",
    "SttStatus",
    "SubtitleCue",
    "TlsConfig",
    "VirtualHostConfig",
    "__version__",
    "application_from_json",
    "load_server_config",
    "open_api",
    "open_store",
    "output_profile_from_json",
    "parse_server_xml",
    "reason_phrase",
    "store_location",
    "virtual_host_from_json",
]
