"""OME's message texts, as data.  Clients compare them: change nothing here lightly.

Each error is a :class:`Message` row: the status it is answered with and its text, whose
``{…}`` fields are filled with ``str.format``.  The envelope wraps an error's text as
``[HTTP] <text> (<status>)``, except inside multi-item arrays, where the raw text stands.
Plain strings are fragments that go inside other messages.
"""

from __future__ import annotations

from omeapi._errors import EngineUnavailable, Message

# Authentication: OME's five 401s (answered with WWW-Authenticate), in its order of checks
AUTH_MISSING_HEADER = Message(401, "Authorization header is required to call API")
AUTH_BAD_HEADER = Message(401, "Invalid authorization header")
AUTH_UNSUPPORTED_TYPE = Message(401, "Not supported credential type: {}")
AUTH_BAD_FORMAT = Message(401, "Invalid credential format")
AUTH_BAD_CREDENTIAL = Message(401, "Invalid credential")
#: a config error (omeapi: an API without a token is never an accident)
EMPTY_TOKEN = "Empty <AccessToken> is not allowed"
# omeapi: <Managers><Host><Names> decides which Host may reach the API
HOST_NOT_ALLOWED = Message(403, "Host is not allowed: [{host}]")

# omeapi: scoped access tokens (docs/compatibility.md, "Extensions")
TOKEN_READ_ONLY = Message(403, "The access token is read-only: [{token}]")
TOKEN_SERVER_WIDE = Message(
    403, "The access token is limited to some virtual hosts and cannot call this: [{token}]"
)
TOKEN_NOT_FOR_VHOST = Message(
    403, "The access token may not reach the virtual host: [{token}] [{vhost}]"
)
# omeapi: If-Match on config resources (docs/compatibility.md, "Extensions")
PRECONDITION_FAILED = Message(
    412, "The resource has changed since it was read (If-Match does not match its ETag)"
)

# omeapi: the event feed and sessions (docs/compatibility.md, "Extensions")
EVENTS_UNAVAILABLE = Message(503, "The event feed needs a store that keeps events")
TOO_MANY_SUBSCRIBERS = Message(503, "Too many event subscribers (limit: {limit}); try again")
SESSIONS_NOT_SUPPORTED = Message(503, "The media engine does not support sessions")
SESSION_NOT_FOUND = Message(404, "Could not find the session: [{session}]")

# Routing and bodies
INTERNAL_ERROR = Message(500, "Internal Server Error")
CONTROLLER_NOT_FOUND = Message(404, "Controller not found")
METHOD_NOT_ALLOWED = Message(405, "Method not allowed: {method}")
BODY_TOO_LARGE = Message(413, "Request body is too large: {size} bytes (limit: {limit} bytes)")
BODY_TIMEOUT = Message(408, "Request body was not received within {seconds} seconds")
BODIES_BUSY = Message(
    429, "Too many request bodies are being received at once (limit: {limit}); try again"
)
JSON_ERROR = Message(400, "[JSON] * Line {line}, Column {column}\n  {reason}\n")
BODY_MUST_BE_ARRAY = Message(400, "Request body must be an array")
BODY_MUST_BE_OBJECT = Message(400, "Request body must be an object")
ITEMS_MUST_BE_OBJECTS = Message(400, "Request body must be an array of objects")
# omeapi: bounds on what one request may ask for (docs/compatibility.md)
JSON_TOO_COMPLEX = Message(400, "Request body is too complex: more than {limit}")
TOO_MANY_ITEMS = Message(400, "Request body has too many items: {count} (limit: {limit})")
UNREACHABLE_NAME = Message(
    400, "Invalid {kind} name: [{name}] (the name cannot contain {characters})"
)

# Lookups
VHOST_NOT_FOUND = Message(404, "Could not find the virtual host: [{vhost}]")
APP_NOT_FOUND = Message(404, "Could not find the application: [{vhost}/{app}]")
PROFILE_NOT_FOUND = Message(404, "Could not find the output profile: [{vhost}/{app}/{profile}]")
READ_ONLY = Message(403, "The VirtualHost is read-only: [{vhost}]")

# Virtual hosts
VHOST_EXISTS = Message(409, "The virtual host already exists: [{vhost}]")
VHOST_CREATE_FAILED = Message(400, "Failed to create the virtual host: [{vhost}]")
VHOST_DELETE_FAILED = Message(500, "Failed to delete the virtual host: [{vhost}]")
VHOST_NOT_EXISTS = Message(404, "The virtual host not exists: [{vhost}]")
# omeapi: TLS files are tried when a vhost is created (docs/compatibility.md)
VHOST_TLS_INVALID = Message(400, "Invalid TLS files for the virtual host: [{vhost}] ({detail})")

# Storage (omeapi: <Managers><API><Storage> works)
STORE_UNAVAILABLE = Message(503, "The API storage is unavailable")
# omeapi: the engine of `omeapi serve` lives in its own process (docs/engine.md)
ENGINE_UNAVAILABLE = Message(503, EngineUnavailable.TEXT)

# Applications (OME's orchestrator results; a restart fails as a create)
APP_CREATE_FAILED = Message(500, "Failed to create the application: [{vhost}/{app}]")
APP_CREATE_EXISTS = Message(409, "Could not create the application: [{vhost}/{app}] already exists")
APP_CREATE_NOT_EXISTS = Message(404, "Could not create the application: [{vhost}/{app}] not exists")
APP_DELETE_FAILED = Message(500, "Failed to delete the application: [{vhost}/{app}]")
APP_DELETE_EXISTS = Message(409, "Could not delete the application: [{vhost}/{app}] already exists")
APP_DELETE_NOT_EXISTS = Message(404, "Could not delete the application: [{vhost}/{app}] not exists")
CANNOT_CHANGE = Message(400, "Cannot change [{key}] using this API")

# Output profiles
PROFILE_REQUIRED = Message(
    400, 'Invalid request body: "name", "outputStreamName", "encodes" are required'
)
PROFILE_TYPES = Message(
    400, 'Invalid request body: "name" must be a string and "encodes" must be an object'
)
PROFILE_NO_ENCODES = Message(
    400,
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)',
)
PROFILE_VIDEOS_ARRAY = Message(400, 'Invalid request body: "encodes.videos" must be an array')
PROFILE_AUDIOS_ARRAY = Message(400, 'Invalid request body: "encodes.audios" must be an array')
PROFILE_EMPTY_ENCODES = Message(
    400,
    'Invalid request body: "encodes" must have at least one item (videos array or audios array)'
    " and each item must have at least one item",
)
PROFILE_EXISTS = Message(409, 'The output profile "{name}" already exists')
PROFILE_NAME_IN_PATCH = Message(400, "The {key} entry cannot be specified in the modification")
PROFILE_NOT_FOUND_AFTER = Message(500, "Output profile is created, but not found")

# -- Runtime: streams, actions, push/record, channels, stats, certificates ---------------
# Lookups
STREAM_NOT_FOUND = Message(404, "Could not find the stream: [{vhost}/{internal}/{stream}]")
SOURCE_STREAM_NOT_FOUND = Message(404, "Could not find stream: [{vhost}/{app}/{stream}]")
# Half-routes OME answers with 500 (omeapi: 400, docs/compatibility.md)
VHOST_NAME_REQUIRED = Message(400, "A virtual host name is required: use /v1/vhosts/<vhost>")
RELOAD_NEEDS_VHOST = Message(
    400,
    "reloadCertificate needs a virtual host: use /v1/vhosts/<vhost>:reloadCertificate"
    " or /v1/vhosts:reloadAllCertificates",
)
STREAM_MUST_BE_OBJECT = Message(400, "stream must be an object")
# Streams
PULL_NAME_OR_URLS = Message(400, "Stream name or urls is required")
PULL_URLS_EMPTY = Message(400, "Urls must be at least one")
PULL_URL_NOT_STRING = Message(400, "Url must be a string")
PULL_EXISTS = Message(409, "Stream already exists")
PULL_FAILED = Message(502, "Could not pull the stream : {url}")
# OME 0.21: the URL list is checked before a provider is asked (a 400, not a 502)
PULL_INVALID_URL = Message(400, "Invalid URL: {url}")
PULL_MIXED_SCHEMES = Message(400, "Only urls with the same scheme can be sent as a group.")
PULL_INVALID = Message(400, "{detail}")
TERMINATE_FAILED = Message(500, "Could not terminate the stream")
TERMINATE_GONE = Message(404, TERMINATE_FAILED.text)
# Speech to text (OME 0.21)
STT_NO_TRANSCODER = Message(503, "Transcoder module is not available")
STT_NO_ENCODER = Message(404, "Could not find STT encoder for stream: [{vhost}/{app}/{stream}]")
# HLS dumps
DUMP_OUTPUT_REQUIRED = Message(400, "outputStreamName is required")
DUMP_START_REQUIRED = Message(400, "id, outputStreamName and outputPath are required")
OUTPUT_STREAM_NOT_FOUND = Message(404, "Could not find output stream: [{vhost}/{app}/{output}]")
LLHLS_STREAM_NOT_FOUND = Message(404, "Could not find LLHLS stream: [{vhost}/{app}/{output}]")
DUMP_START_FAILED = Message(500, "Could not start dump: [{vhost}/{app}/{output}] ({detail})")
DUMP_START_EXISTS = Message(409, DUMP_START_FAILED.text)
DUMP_STOP_FAILED = Message(500, "Could not stop dump: [{vhost}/{app}/{output}] ({detail})")
DUMP_STOP_UNKNOWN = Message(404, DUMP_STOP_FAILED.text)
DUMP_EXISTS_REASON = "a dump with id '{id}' already exists"
DUMP_UNKNOWN_REASON = "there is no dump with id '{id}'"
# Events
EVENT_FORMAT_AND_EVENTS = Message(400, "eventFormat(string) and events(array) are required")
EVENTS_REQUIRED = Message(400, "events(array) is required")
FRAME_TYPE_REQUIRED = Message(400, "frameType is required in events")
FRAME_TYPE_UNSUPPORTED = Message(400, "frameType is not supported: [{frame}]")
CUE_TYPE_REQUIRED = Message(400, "cueType is required in events")
CUE_TYPE_UNSUPPORTED = Message(400, "cueType is not supported: [{cue}]")
SCTE35_ONLY_SPLICE_INSERT = Message(400, "Now only spliceInsert is supported")
SCTE35_ID_REQUIRED = Message(400, "id is required in events")
SCTE35_TYPE_REQUIRED = Message(400, "type is required in events")
SCTE35_TYPE_VALUE = Message(400, "type must be 'out' or 'in'")
EVENT_FORMAT_UNSUPPORTED = Message(400, "eventFormat is not supported: [{format}]")
EVENT_TYPE_NOT_STRING = Message(400, "eventType must be string")
EVENT_TYPE_UNSUPPORTED = Message(400, "eventType is not supported: [{type}]")
EVENT_INJECT_FAILED = Message(
    500, "Internal Server Error - Could not inject event: [{vhost}/{app}/{stream}]"
)
CONCLUDE_FAILED = Message(
    500, "Internal Server Error - Could not inject ConcludeLive event: [{vhost}/{app}/{stream}]"
)
# Subtitles
SUBTITLES_FORMAT_AND_DATA = Message(400, "format(string) and data(array) are required")
SUBTITLES_FORMAT_UNSUPPORTED = Message(400, "format is not supported: [{format}]")
SUBTITLES_LABEL = Message(400, "label(string) and subtitles(array) are required")
SUBTITLES_TEXT = Message(400, "text(string) is required in subtitles")
SUBTITLES_SEND_FAILED = Message(500, "Could not send WebVTT frame: [{vhost}/{app}/{stream}]")
# Push and record (OME's "Could not find publisher/application" when the app has no such
# publisher reads like the app is missing; omeapi says what is wrong)
PUSH_NOT_ENABLED = Message(
    404, "The push publisher is not enabled for the application: [{vhost}/{app}]"
)
FILE_NOT_ENABLED = Message(
    404, "The file publisher is not enabled for the application: [{vhost}/{app}]"
)
PUSH_PROTOCOL_UNKNOWN = Message(400, "Could not find protocol '{protocol}': [{vhost}/{app}]")
REQUIRED_PARAMETERS = Message(400, "There is no required parameter [{names}]")
PUSH_URL_UNPARSABLE = Message(400, "Could not parse url")
PUSH_URL_SCHEME = Message(400, "Unsupported protocol")
PUSH_SRT_MODE = Message(400, "Unsupported connection mode")
PUSH_TCP_LISTEN = Message(400, "Unsupported tcp listen")
PUSH_DUPLICATE = Message(400, "Duplicate ID")
PUSH_ID_NOT_FOUND = Message(404, "Could not find id '{id}': [{vhost}/{app}]")
RECORD_INTERVAL_AND_SCHEDULE = Message(
    400, "[Interval] and [Schedule] cannot be used at the same time"
)
RECORD_SCHEDULE_INVALID = Message(400, "Invalid [schedule] parameter")
RECORD_DUPLICATE = Message(400, "Duplicate ID already exists")
RECORD_ID_NOT_FOUND = Message(404, "There is no record information related to the ID [{id}]")
#: an engine failure OME has no text for: the engine's reason (or the reason phrase)
JOB_FAILED = Message(500, "{detail}")
# Scheduled channels
INVALID_REQUEST_BODY = Message(400, "Invalid request body")
SCH_STREAM = Message(400, "Failed to find Stream object")
SCH_STREAM_NAME = Message(400, "Failed to find Stream.Name object")
SCH_AUDIO_MAP = Message(400, "audioMap must be an array")
SCH_FALLBACK = Message(400, "FallbackProgram must be an object")
SCH_PROGRAMS = Message(400, "programs must be an array")
SCH_SCHEDULED = Message(400, "Failed to find scheduled object, scheduled is required")
SCH_SCHEDULED_PARSE = Message(400, "Failed to parse scheduled attribute: {reason}")
SCH_ITEMS = Message(400, "items must be an array")
SCH_URL = Message(400, "Failed to find url object, url is required")
SCH_URL_SCHEME = Message(400, "Failed to parse url attribute, url must be file:// or stream://")
CHANNEL_EXISTS = Message(409, "Stream '{name}' already exists")
SCH_SAVE_FAILED = Message(500, "Could not save the schedule file {path}")
SCH_DELETE_FAILED = Message(500, "Could not delete the schedule file {path}")
SCH_NOT_SCHEDULED = Message(400, "Stream is not a scheduled stream")
SCH_STREAM_NOT_PATCHABLE = Message(400, "Stream object could not be patched")
SCH_NO_SCHEDULE = Message(404, "Could not get the schedule")
INVALID_STREAM_NAME = Message(400, "Invalid stream name")
# Multiplex channels
MUX_APPLICATION = Message(404, "Could not get the multiplex application")
MUX_STREAM_NOT_FOUND = Message(404, "Could not get the multiplex stream <{name}>")
MUX_OUTPUT = Message(400, "Failed to find outputStream object")
MUX_OUTPUT_NAME = Message(400, "Failed to find outputStream/name object")
MUX_SOURCES = Message(400, "Failed to find sourceStreams object")
MUX_SOURCE_NAME = Message(400, "Failed to find sourceStreams/name object")
MUX_SOURCE_URL = Message(400, "Failed to find sourceStreams/url object")
MUX_SOURCE_URL_PARSE = Message(400, "Failed to parse url: {url}")
MUX_TRACK_MAP = Message(400, "Failed to find sourceStreams/trackMap object")
MUX_TRACK_SOURCE = Message(400, "Failed to find sourceStreams/trackMap/sourceTrackName object")
MUX_TRACK_NEW = Message(400, "Failed to find sourceStreams/trackMap/newTrackName object")
MUX_PLAYLIST_NAME = Message(400, "Failed to find playlists/name object")
MUX_PLAYLIST_FILE = Message(400, "Failed to find playlists/fileName object")
MUX_RENDITION_NAME = Message(400, "Failed to find playlists/renditions/name object")
MUX_VARIANT = Message(
    400, "Failed to find {kind} variant name {name} in SourceStream/TrackMap object"
)
MUX_SAVE_FAILED = Message(500, "Could not save the multiplex file {path}")
MUX_DELETE_FAILED = Message(500, "Could not delete the multiplex file {path}")
# Certificates
CERT_RELOAD_FAILED = Message(
    500, "Failed to reload certificate. Check server log for more information."
)
API_TLS_NOT_ENABLED = Message(400, "TLS is not enabled for the API Server")
API_CERT_FAILED = Message(500, "Failed to create a certificate for the API Server")
