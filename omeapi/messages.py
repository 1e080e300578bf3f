"""OME's message texts, as data.  Clients compare them: change nothing here lightly.

``{…}`` fields are filled with ``str.format``.  Error texts are wrapped as
``[HTTP] <text> (<status>)`` by the envelope, except inside multi-item arrays.
"""

from __future__ import annotations

# Routing and bodies
CONTROLLER_NOT_FOUND = "Controller not found"
METHOD_NOT_ALLOWED = "Method not allowed: {method}"
BODY_TOO_LARGE = "Request body is too large: {size} bytes (limit: {limit} bytes)"
JSON_ERROR = "[JSON] * Line {line}, Column {column}\n  {reason}\n"
BODY_MUST_BE_ARRAY = "Request body must be an array"
BODY_MUST_BE_OBJECT = "Request body must be an object"
ITEMS_MUST_BE_OBJECTS = "Request body must be an array of objects"

# Lookups
VHOST_NOT_FOUND = "Could not find the virtual host: [{vhost}]"
APP_NOT_FOUND = "Could not find the application: [{vhost}/{app}]"
PROFILE_NOT_FOUND = "Could not find the output profile: [{vhost}/{app}/{profile}]"
READ_ONLY = "The VirtualHost is read-only: [{vhost}]"

# Virtual hosts
VHOST_EXISTS = "The virtual host already exists: [{vhost}]"
VHOST_CREATE_FAILED = "Failed to create the virtual host: [{vhost}]"
VHOST_DELETE_FAILED = "Failed to delete the virtual host: [{vhost}]"
VHOST_NOT_EXISTS = "The virtual host not exists: [{vhost}]"

# Applications
CANNOT_CHANGE = "Cannot change [{key}] using this API"

# Output profiles
PROFILE_REQUIRED = 'Invalid request body: "name", "outputStreamName", "encodes" are required'
PROFILE_TYPES = 'Invalid request body: "name" must be a string and "encodes" must be an object'
PROFILE_NO_ENCODES = (
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)'
)
PROFILE_VIDEOS_ARRAY = 'Invalid request body: "encodes.videos" must be an array'
PROFILE_AUDIOS_ARRAY = 'Invalid request body: "encodes.audios" must be an array'
PROFILE_EMPTY_ENCODES = (
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)'
    " and each item must have at least one item"
)
PROFILE_EXISTS = 'The output profile "{name}" already exists'
PROFILE_NAME_IN_PATCH = "The {key} entry cannot be specified in the modification"
PROFILE_NOT_FOUND_AFTER = "Output profile is created, but not found"
