"""The restart coordinator called directly: it speaks the domain (never HTTP), owns each
app's lifecycle state, and runs a change's mutation outside its locks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from conftest import Client, make_api

from omeapi._config import ApplicationConfig, application_from_json
from omeapi._controllers import apps
from omeapi._controllers.outcomes import Outcomes, answering
from omeapi._errors import ApiError, AppNotFound, AppOperationError, EngineResult
from omeapi._state.lifecycle import Phase
from omeapi._state.restart import RestartCoordinator


@pytest.fixture
def client() -> Client:
    client = Client(make_api())
    client.create_vhost("vh", "a")
    return client


def coordinator(client: Client) -> RestartCoordinator:
    return client.api.coordinator


def workers(count: int) -> Callable[[ApplicationConfig], ApplicationConfig]:
    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        body = {**current.json_value, "publishers": {"appWorkerCount": count}}
        return application_from_json(body)

    return mutate


# fmt: off
#: (the action's outcome table, error, status, OME's text)
OUTCOME_ROWS = [
    (apps.APP_CHANGE, AppOperationError("create", "v", "a", EngineResult.FAILED), 500,
     "Failed to create the application: [v/a]"),
    (apps._DELETE, AppOperationError("delete", "v", "a", EngineResult.FAILED), 500,
     "Failed to delete the application: [v/a]"),
    (apps.APP_CHANGE, AppOperationError("create", "v", "a", EngineResult.EXISTS), 409,
     "Could not create the application: [v/a] already exists"),
    (apps._DELETE, AppOperationError("delete", "v", "a", EngineResult.NOT_EXISTS), 404,
     "Could not delete the application: [v/a] not exists"),
    (apps.APP_CHANGE, AppNotFound("v", "a"), 404, "Could not find the application: [v/a]"),
]
# fmt: on


@pytest.mark.parametrize(("table", "error", "status", "text"), OUTCOME_ROWS)
def test_domain_errors_map_to_omes_answers(
    table: Outcomes, error: AppOperationError | AppNotFound, status: int, text: str
) -> None:
    with pytest.raises(ApiError) as mapped, answering(table, vhost="v", app="a"):
        raise error
    assert (mapped.value.status, mapped.value.text) == (status, text)


def test_the_coordinator_raises_domain_errors(client: Client) -> None:
    coord = coordinator(client)
    app = application_from_json({"name": "a", "type": "live"})
    with pytest.raises(AppOperationError) as created:
        coord.create_app("vh", app)
    assert (created.value.op, created.value.result) == ("create", EngineResult.EXISTS)
    with pytest.raises(AppOperationError) as deleted:
        coord.delete_app("vh", "nope")
    assert (deleted.value.op, deleted.value.result) == ("delete", EngineResult.NOT_EXISTS)
    with pytest.raises(AppNotFound):
        coord.change_app("vh", "nope", lambda c: c, "test")
    client.engine.fail_next("restart_application")
    with pytest.raises(AppOperationError) as changed:
        coord.change_app("vh", "a", workers(5), "test")
    assert not isinstance(changed.value, ApiError)
    assert (changed.value.op, changed.value.result) == ("create", EngineResult.FAILED)


def test_failed_is_the_lifecycle_state(client: Client) -> None:
    coord = coordinator(client)
    assert coord.state("vh", "a").phase is Phase.RUNNING
    client.engine.fail_next("restart_application")
    client.engine.fail_next("create_application")
    with pytest.raises(AppOperationError):
        coord.change_app("vh", "a", workers(5), "test")
    assert coord.failed("vh", "a")
    entry = client.api.registry.app("vh", "a")
    assert entry is not None and coord.state("vh", "a").config is entry.config
    coord.delete_app("vh", "a")  # the engine does not have it: deleting forgets it
    assert coord.state("vh", "a").phase is Phase.ABSENT
    assert not coord.failed("vh", "a")


def test_mutation_runs_outside_the_app_lock(client: Client) -> None:
    coord = coordinator(client)
    held: list[bool] = []

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        held.append(coord.app_lock("vh", "a").locked())
        return application_from_json({**current.json_value, "publishers": {}})

    coord.change_app("vh", "a", mutate, "test")
    assert held == [False]


def test_a_change_committed_meanwhile_is_not_lost(client: Client) -> None:
    """The mutation is computed from the entry it saw and committed only if that entry
    is still there; otherwise it is computed again from the new one."""
    coord = coordinator(client)
    seen: list[object] = []

    def add_thread_pool(current: ApplicationConfig) -> ApplicationConfig:
        publishers = current.json_value.get("publishers")
        seen.append(publishers)
        if len(seen) == 1:  # another request commits first (no lock is held here)
            done = threading.Thread(target=coord.change_app, args=("vh", "a", workers(7), "other"))
            done.start()
            done.join()
        assert isinstance(publishers, dict)
        return application_from_json(
            {**current.json_value, "publishers": {**publishers, "streamWorkerCount": 3}}
        )

    entry = coord.change_app("vh", "a", add_thread_pool, "test")
    assert seen[1] == {"appWorkerCount": 7}  # computed again, from the other change
    assert entry.config.json_value["publishers"] == {"appWorkerCount": 7, "streamWorkerCount": 3}


def test_json_value_is_cached_and_to_json_is_a_copy(client: Client) -> None:
    entry = client.api.registry.app("vh", "a")
    assert entry is not None
    config = entry.config
    assert config.json_value is config.json_value
    copy = config.to_json()
    assert copy == config.json_value and copy is not config.json_value
    copy["type"] = "changed"
    assert config.json_value["type"] == "live"
    for profile in config.output_profiles:
        assert profile.json_value is profile.json_value
        assert profile.to_json() is not profile.json_value
    vhost = client.api.registry.vhost("vh")
    assert vhost is not None
    assert vhost.config.json_value is vhost.config.json_value
    assert json.loads(vhost.config.json_bytes) == vhost.config.to_json()


def test_changes_never_alter_a_shared_json_value(client: Client) -> None:
    """Everything the PATCH path hands the shared values to (merge, audit diff, store,
    answers) only reads them."""
    entry = client.api.registry.app("vh", "a")
    assert entry is not None
    before = entry.config
    frozen = json.loads(before.json_bytes)
    client.ok("PATCH", "/v1/vhosts/vh/apps/a", {"publishers": {"appWorkerCount": 3}})
    client.ok("PATCH", "/v1/vhosts/vh/apps/a", {"providers": {"rtmp": None}})
    client.ok(
        "POST",
        "/v1/vhosts/vh/apps/a/outputProfiles",
        [{"name": "p", "outputStreamName": "p", "encodes": {"videos": [{"bypass": True}]}}],
    )
    client.ok("DELETE", "/v1/vhosts/vh/apps/a/outputProfiles/p")
    client.ok("GET", "/v1/vhosts/vh/apps/a")
    assert before.json_value == frozen
    now = client.api.registry.app("vh", "a")
    assert now is not None
    assert now.config.json_value == json.loads(now.config.json_bytes)
