"""Controllers: one function per route action, looked up by the route table's names."""

from __future__ import annotations

from collections.abc import Callable

from omeapi._controllers import (
    apps,
    channels,
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

__all__ = ["ACTIONS", "Call"]

Action = Callable[[Call], Reply]

#: Route action name → controller.
ACTIONS: dict[str, Action] = {
    "version": server.version,
    "list_vhosts": vhosts.list_vhosts,
    "create_vhosts": vhosts.create_vhosts,
    "get_vhost": vhosts.get_vhost,
    "delete_vhost": vhosts.delete_vhost,
    "list_apps": apps.list_apps,
    "create_apps": apps.create_apps,
    "get_app": apps.get_app,
    "get_app_raw": apps.get_app_raw,
    "patch_app": apps.patch_app,
    "delete_app": apps.delete_app,
    "list_profiles": profiles.list_profiles,
    "create_profiles": profiles.create_profiles,
    "get_profile": profiles.get_profile,
    "patch_profile": profiles.patch_profile,
    "delete_profile": profiles.delete_profile,
    # runtime: streams, stream actions, push/record, channels, stats, certificates
    "list_streams": streams.list_streams,
    "create_stream": streams.create_stream,
    "get_stream": streams.get_stream,
    "delete_stream": streams.delete_stream,
    "hls_dumps": stream_actions.hls_dumps,
    "start_hls_dump": stream_actions.start_hls_dump,
    "stop_hls_dump": stream_actions.stop_hls_dump,
    "send_event": stream_actions.send_event,
    "send_events": stream_actions.send_events,
    "conclude_hls_live": stream_actions.conclude_hls_live,
    "send_subtitles": stream_actions.send_subtitles,
    "start_push": jobs.start_push,
    "stop_push": jobs.stop_push,
    "list_pushes": jobs.list_pushes,
    "start_record": jobs.start_record,
    "stop_record": jobs.stop_record,
    "list_records": jobs.list_records,
    "list_scheduled": channels.list_scheduled,
    "create_scheduled": channels.create_scheduled,
    "get_scheduled": channels.get_scheduled,
    "patch_scheduled": channels.patch_scheduled,
    "delete_scheduled": channels.delete_scheduled,
    "list_multiplex": channels.list_multiplex,
    "create_multiplex": channels.create_multiplex,
    "get_multiplex": channels.get_multiplex,
    "delete_multiplex": channels.delete_multiplex,
    "stats_server": stats.stats_server,
    "stats_vhost": stats.stats_vhost,
    "stats_app": stats.stats_app,
    "stream_stats": stats.stream_stats,
    "stats_internals": stats.stats_internals,
    "stats_queues": stats.stats_queues,
    "vhosts_colon": stats.vhosts_colon,
    "reload_all_certificates": stats.reload_all_certificates,
    "reload_certificate": stats.reload_certificate,
    "reload_certificate_without_vhost": stats.reload_certificate_without_vhost,
    "reload_api_certificate": stats.reload_api_certificate,
}
