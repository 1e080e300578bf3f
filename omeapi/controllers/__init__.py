"""Controllers: one function per route action, looked up by the route table's names."""

from __future__ import annotations

from collections.abc import Callable

from omeapi.controllers import apps, profiles, server, vhosts
from omeapi.controllers.common import Call
from omeapi.envelope import Reply

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
}
