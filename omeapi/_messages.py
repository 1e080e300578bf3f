"""OME's message texts, as data.  Clients compare them: change nothing here lightly.

``{…}`` fields are filled with ``str.format``.  Error texts are wrapped as
``[HTTP] <text> (<status>)`` by the envelope, except inside multi-item arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

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

# Storage (omeapi: <Managers><API><Storage> works)
STORE_UNAVAILABLE = "The API storage is unavailable"

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

# -- Runtime: streams, actions, push/record, channels, stats, certificates ---------------
# Lookups
STREAM_NOT_FOUND = "Could not find the stream: [{vhost}/{internal}/{stream}]"
SOURCE_STREAM_NOT_FOUND = "Could not find stream: [{vhost}/{app}/{stream}]"
# Half-routes OME answers with 500 (omeapi: 400, contract §2)
VHOST_NAME_REQUIRED = "A virtual host name is required: use /v1/vhosts/<vhost>"
RELOAD_NEEDS_VHOST = (
    "reloadCertificate needs a virtual host: use /v1/vhosts/<vhost>:reloadCertificate"
    " or /v1/vhosts:reloadAllCertificates"
)
STREAM_MUST_BE_OBJECT = "stream must be an object"
# Streams
PULL_NAME_OR_URLS = "Stream name or urls is required"
PULL_URLS_EMPTY = "Urls must be at least one"
PULL_URL_NOT_STRING = "Url must be a string"
PULL_EXISTS = "Stream already exists"
PULL_FAILED = "Could not pull the stream : {url}"
TERMINATE_FAILED = "Could not terminate the stream"
# HLS dumps
DUMP_OUTPUT_REQUIRED = "outputStreamName is required"
DUMP_START_REQUIRED = "id, outputStreamName and outputPath are required"
OUTPUT_STREAM_NOT_FOUND = "Could not find output stream: [{vhost}/{app}/{output}]"
LLHLS_STREAM_NOT_FOUND = "Could not find LLHLS stream: [{vhost}/{app}/{output}]"
DUMP_START_FAILED = "Could not start dump: [{vhost}/{app}/{output}] ({reason})"
DUMP_STOP_FAILED = "Could not stop dump: [{vhost}/{app}/{output}] ({reason})"
DUMP_EXISTS_REASON = "a dump with id '{id}' already exists"
DUMP_UNKNOWN_REASON = "there is no dump with id '{id}'"
# Events
EVENT_FORMAT_AND_EVENTS = "eventFormat(string) and events(array) are required"
EVENTS_REQUIRED = "events(array) is required"
FRAME_TYPE_REQUIRED = "frameType is required in events"
FRAME_TYPE_UNSUPPORTED = "frameType is not supported: [{frame}]"
CUE_TYPE_REQUIRED = "cueType is required in events"
CUE_TYPE_UNSUPPORTED = "cueType is not supported: [{cue}]"
SCTE35_ONLY_SPLICE_INSERT = "Now only spliceInsert is supported"
SCTE35_ID_REQUIRED = "id is required in events"
SCTE35_TYPE_REQUIRED = "type is required in events"
SCTE35_TYPE_VALUE = "type must be 'out' or 'in'"
EVENT_FORMAT_UNSUPPORTED = "eventFormat is not supported: [{format}]"
EVENT_TYPE_NOT_STRING = "eventType must be string"
EVENT_TYPE_UNSUPPORTED = "eventType is not supported: [{type}]"
EVENT_INJECT_FAILED = "Internal Server Error - Could not inject event: [{vhost}/{app}/{stream}]"
CONCLUDE_FAILED = (
    "Internal Server Error - Could not inject ConcludeLive event: [{vhost}/{app}/{stream}]"
)
# Subtitles
SUBTITLES_FORMAT_AND_DATA = "format(string) and data(array) are required"
SUBTITLES_FORMAT_UNSUPPORTED = "format is not supported: [{format}]"
SUBTITLES_LABEL = "label(string) and subtitles(array) are required"
SUBTITLES_TEXT = "text(string) is required in subtitles"
SUBTITLES_SEND_FAILED = "Could not send WebVTT frame: [{vhost}/{app}/{stream}]"
# Push and record (OME's "Could not find publisher/application" when the app has no such
# publisher reads like the app is missing; omeapi says what is wrong)
PUSH_NOT_ENABLED = "The push publisher is not enabled for the application: [{vhost}/{app}]"
FILE_NOT_ENABLED = "The file publisher is not enabled for the application: [{vhost}/{app}]"
PUSH_PROTOCOL_UNKNOWN = "Could not find protocol '{protocol}': [{vhost}/{app}]"
REQUIRED_PARAMETERS = "There is no required parameter [{names}]"
PUSH_URL_UNPARSABLE = "Could not parse url"
PUSH_URL_SCHEME = "Unsupported protocol"
PUSH_SRT_MODE = "Unsupported connection mode"
PUSH_TCP_LISTEN = "Unsupported tcp listen"
PUSH_DUPLICATE = "Duplicate ID"
PUSH_ID_NOT_FOUND = "Could not find id '{id}': [{vhost}/{app}]"
RECORD_INTERVAL_AND_SCHEDULE = "[Interval] and [Schedule] cannot be used at the same time"
RECORD_SCHEDULE_INVALID = "Invalid [schedule] parameter"
RECORD_DUPLICATE = "Duplicate ID already exists"
RECORD_ID_NOT_FOUND = "There is no record information related to the ID [{id}]"
JOB_FAILED = "Internal Server Error"
# Scheduled channels
INVALID_REQUEST_BODY = "Invalid request body"
SCH_STREAM = "Failed to find Stream object"
SCH_STREAM_NAME = "Failed to find Stream.Name object"
SCH_AUDIO_MAP = "audioMap must be an array"
SCH_FALLBACK = "FallbackProgram must be an object"
SCH_PROGRAMS = "programs must be an array"
SCH_SCHEDULED = "Failed to find scheduled object, scheduled is required"
SCH_SCHEDULED_PARSE = "Failed to parse scheduled attribute: {reason}"
SCH_ITEMS = "items must be an array"
SCH_URL = "Failed to find url object, url is required"
SCH_URL_SCHEME = "Failed to parse url attribute, url must be file:// or stream://"
CHANNEL_EXISTS = "Stream '{name}' already exists"
SCH_SAVE_FAILED = "Could not save the schedule file {path}"
SCH_DELETE_FAILED = "Could not delete the schedule file {path}"
SCH_NOT_SCHEDULED = "Stream is not a scheduled stream"
SCH_STREAM_NOT_PATCHABLE = "Stream object could not be patched"
SCH_NO_SCHEDULE = "Could not get the schedule"
INVALID_STREAM_NAME = "Invalid stream name"
# Multiplex channels
MUX_APPLICATION = "Could not get the multiplex application"
MUX_STREAM_NOT_FOUND = "Could not get the multiplex stream <{name}>"
MUX_OUTPUT = "Failed to find outputStream object"
MUX_OUTPUT_NAME = "Failed to find outputStream/name object"
MUX_SOURCES = "Failed to find sourceStreams object"
MUX_SOURCE_NAME = "Failed to find sourceStreams/name object"
MUX_SOURCE_URL = "Failed to find sourceStreams/url object"
MUX_SOURCE_URL_PARSE = "Failed to parse url: {url}"
MUX_TRACK_MAP = "Failed to find sourceStreams/trackMap object"
MUX_TRACK_SOURCE = "Failed to find sourceStreams/trackMap/sourceTrackName object"
MUX_TRACK_NEW = "Failed to find sourceStreams/trackMap/newTrackName object"
MUX_PLAYLIST_NAME = "Failed to find playlists/name object"
MUX_PLAYLIST_FILE = "Failed to find playlists/fileName object"
MUX_RENDITION_NAME = "Failed to find playlists/renditions/name object"
MUX_VARIANT = "Failed to find {kind} variant name {name} in SourceStream/TrackMap object"
MUX_SAVE_FAILED = "Could not save the multiplex file {path}"
MUX_DELETE_FAILED = "Could not delete the multiplex file {path}"
# Certificates
CERT_RELOAD_FAILED = "Failed to reload certificate. Check server log for more information."
API_TLS_NOT_ENABLED = "TLS is not enabled for the API Server"
API_CERT_FAILED = "Failed to create a certificate for the API Server"

#: OME's reason phrases (its own spelling: ``Multi Status``, not ``Multi-Status``).
REASON_PHRASES: Mapping[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    207: "Multi Status",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def reason_phrase(status: int) -> str:
    """OME's reason phrase for ``status`` (``Unknown`` for codes it does not name)."""
    return REASON_PHRASES.get(status, "Unknown")
