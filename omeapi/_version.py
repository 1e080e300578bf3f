"""Version numbers, kept apart so that any module can read them without importing the face."""

__version__ = "0.1.0"

#: The OME version whose API omeapi speaks (what ``GET /v1/version`` reports).
OME_API_VERSION = "0.20.0"
