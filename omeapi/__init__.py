"""omeapi: OvenMediaEngine's REST management API for any Python media server.

The core is pure: it reads configuration files and otherwise works on plain values.
"""

from omeapi.errors import ApiError, ConfigError

__version__ = "0.1.0"

#: The OME version whose API omeapi speaks (what ``GET /v1/version`` reports).
OME_API_VERSION = "0.20.0"

__all__ = ["OME_API_VERSION", "ApiError", "ConfigError", "__version__"]
