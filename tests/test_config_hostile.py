"""Server.xml and REST bodies under hostile or careless input: includes at every depth, size
and expansion bounds, special files, the empty token, and the config package's own hygiene
(no process-wide side effects, no import cycles).

No test here times anything: each asserts the outcome and, where speed is the point, a
structural bound (how many elements were built, how many files were read).
"""

from __future__ import annotations

import ast
import gc
import os
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_XML, Client, app_body

from omeapi import SimulatedEngine, open_api
from omeapi._access.auth import EMPTY_TOKEN
from omeapi._config import (
    ConfigError,
    application_from_json,
    load_server_config,
    parse_server_xml,
    source,
    values,
    virtual_host_from_json,
)
from omeapi.cli import main

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def server_file(tmp_path: Path, body: str = "", bind: str = "<Bind/>") -> Path:
    return write(
        tmp_path / "Server.xml",
        f'<Server version="8"><Type>origin</Type><IP>*</IP>{bind}{body}</Server>',
    )


def load_error(path: Path, **options: Any) -> ConfigError:
    options.setdefault("environ", {})
    with pytest.raises(ConfigError) as info:
        load_server_config(path, **options)
    return info.value


# ----------------------------------------------------------------- includes at every depth

BIND_B1 = '<Bind include="b1.xml"/>'


def test_an_included_root_that_includes_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "b1.xml", '<Bind include="b2.xml"/>')
    write(tmp_path / "b2.xml", "<Bind><Managers><API><Port>8081</Port></API></Managers></Bind>")
    config = load_server_config(
        server_file(tmp_path, bind=BIND_B1), environ={}, require_access_token=False
    )
    assert config.api_binding is not None
    assert config.api_binding.port is not None and config.api_binding.port.number == 8081


def test_an_unknown_element_two_includes_down_is_found(tmp_path: Path) -> None:
    write(tmp_path / "b1.xml", '<Bind include="b2.xml"/>')
    b2 = write(tmp_path / "b2.xml", "<Bind>\n<Bogus/>\n</Bind>")
    exc = load_error(server_file(tmp_path, bind=BIND_B1))
    assert exc.text == f"Unknown item found: Server.bind.Bogus in {b2}"
    assert (exc.file, exc.line) == (str(b2), 2)


def test_the_including_roots_own_children_are_still_checked(tmp_path: Path) -> None:
    b1 = write(tmp_path / "b1.xml", '<Bind include="b2.xml">\n<Bogus/>\n</Bind>')
    write(tmp_path / "b2.xml", "<Bind/>")
    exc = load_error(server_file(tmp_path, bind=BIND_B1))
    assert (exc.file, exc.line) == (str(b1), 2)
    assert exc.text.startswith("Unknown item found: Server.bind.Bogus")


def test_an_include_loop_through_roots_is_refused_naming_the_chain(tmp_path: Path) -> None:
    b1 = write(tmp_path / "b1.xml", '<Bind include="b2.xml"/>')
    b2 = write(tmp_path / "b2.xml", '<Bind include="b1.xml"/>')
    main_file = server_file(tmp_path, bind=BIND_B1)
    exc = load_error(main_file)
    assert exc.text == f"Include loop: {main_file} -> {b1} -> {b2} -> {b1}"
    assert (exc.file, exc.line) == (str(b2), 1)


def test_a_list_element_include_is_followed_at_every_depth(tmp_path: Path) -> None:
    write(tmp_path / "a1.xml", '<Application include="a2.xml"/>')
    write(tmp_path / "a2.xml", "<Application><Name>deep</Name><Type>live</Type></Application>")
    path = server_file(
        tmp_path,
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications>"
        '<Application include="a1.xml"/></Applications></VirtualHost></VirtualHosts>',
    )
    config = load_server_config(path, environ={})
    assert [a.name for a in config.virtual_hosts[0].applications] == ["deep"]


def test_a_nested_single_include_must_name_one_file(tmp_path: Path) -> None:
    b1 = write(tmp_path / "b1.xml", '<Bind include="none-*.xml"/>')
    exc = load_error(server_file(tmp_path, bind=BIND_B1))
    assert exc.text.startswith("There is no file to include for path: Server.bind")
    assert exc.file == str(b1)


def chain_of_includes(tmp_path: Path, levels: int) -> Path:
    """Server.xml → b1.xml → … → b<levels>.xml, each a ``<Bind>`` including the next."""
    for level in range(1, levels):
        write(tmp_path / f"b{level}.xml", f'<Bind include="b{level + 1}.xml"/>')
    write(tmp_path / f"b{levels}.xml", "<Bind/>")
    return server_file(tmp_path, bind=BIND_B1)


def test_includes_may_nest_up_to_the_limit(tmp_path: Path) -> None:
    load_server_config(chain_of_includes(tmp_path, source.MAX_INCLUDE_DEPTH), environ={})


def test_includes_nested_past_the_limit_are_refused(tmp_path: Path) -> None:
    depth = source.MAX_INCLUDE_DEPTH
    exc = load_error(chain_of_includes(tmp_path, depth + 1))
    assert exc.text.startswith(f"Includes nested too deeply (more than {depth} levels): ")
    assert exc.text.endswith(f"b{depth}.xml -> {tmp_path}/b{depth + 1}.xml")
    assert (exc.file, exc.line) == (str(tmp_path / f"b{depth}.xml"), 1)


def test_the_number_of_included_files_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "MAX_INCLUDED_FILES", 3)
    for i in range(4):
        write(tmp_path / f"app{i}.xml", f"<Application><Name>a{i}</Name></Application>")
    path = server_file(
        tmp_path,
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications>"
        '<Application include="app*.xml"/></Applications></VirtualHost></VirtualHosts>',
    )
    exc = load_error(path)
    assert exc.text.startswith("Too many included files (more than 3): ")
    assert (exc.file, exc.line) == (str(path), 1)


# --------------------------------------------------------------------- expansion bounds


def test_many_references_to_a_big_variable_are_a_located_error(tmp_path: Path) -> None:
    refs = "${env:BIG}" * 50_000
    path = write(
        tmp_path / "Server.xml",
        f'<Server version="8">\n<Name>{refs}</Name>\n<Type>origin</Type><IP>*</IP><Bind/></Server>',
    )
    exc = load_error(path, environ={"BIG": "x" * 1_000_000})
    assert exc.text.startswith("Substituted values are too large: ${env:BIG} brings")
    assert f"past {values.MAX_EXPANSION} characters" in exc.text
    assert (exc.file, exc.line) == (str(path), 2)


def test_the_expansion_budget_is_per_document_not_per_value() -> None:
    # Each value alone is small; together they pass the limit.
    subst = values.Substitution(environ={"V": "v" * 100}, limit=1000)
    for _ in range(10):
        subst("${env:V}")
    with pytest.raises(ConfigError):
        subst("${env:V}")
    # A new document (a new Substitution) starts again.
    assert values.Substitution(environ={"V": "v" * 100}, limit=1000)("${env:V}") == "v" * 100


def test_ome_references_count_too() -> None:
    subst = values.Substitution(environ={}, home="/h" * 100, limit=1000)
    assert subst("${ome:Home}").startswith("/h/h")
    with pytest.raises(ConfigError):
        subst("${ome:Home}" * 10)


def test_defaults_written_in_the_document_do_not_count() -> None:
    subst = values.Substitution(environ={}, limit=10)
    assert subst("${env:NOPE:" + "d" * 100 + "}") == "d" * 100


def test_a_rest_body_with_many_references_is_refused_per_body() -> None:
    big = {"B": "b" * 100_000}
    body = {"name": "${env:B}" * 12_000, "type": "live"}  # 96 KB of text
    with pytest.raises(ConfigError) as info:
        application_from_json(body, environ=big)
    assert info.value.text.startswith("Substituted values are too large")
    # A body under the limit is fine, and the next body gets its own allowance.
    assert application_from_json({"name": "${env:B}", "type": "live"}, environ=big).name == (
        "b" * 100_000
    )
    assert application_from_json({"name": "${env:B}", "type": "live"}, environ=big).name


def test_the_api_answers_an_expansion_bomb_with_400() -> None:
    config = parse_server_xml(SERVER_XML, environ={"B": "b" * 100_000})
    client = Client(open_api(config, engine=SimulatedEngine(), brake=False))
    client.create_vhost("dyn")
    response = client.post("/v1/vhosts/dyn/apps", [app_body("${env:B}" * 12_000)])
    assert response.status == 400
    assert b"[Config] Substituted values are too large" in response.body


# ------------------------------------------------- REST bodies read the config's environment


def test_json_readers_use_the_given_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMEAPI_TEST_X", "from-process")
    env = {"OMEAPI_TEST_X": "from-config"}
    app = application_from_json({"name": "a-${env:OMEAPI_TEST_X}", "type": "live"}, environ=env)
    assert app.name == "a-from-config"
    vhost = virtual_host_from_json({"name": "${env:OMEAPI_TEST_X}"}, environ=env)
    assert vhost.name == "from-config"


def test_the_config_keeps_the_environment_it_was_loaded_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"OMEAPI_TEST_X": "given"}
    assert parse_server_xml(SERVER_XML, environ=env).environ == env
    monkeypatch.setenv("OMEAPI_TEST_X", "at-load")
    snapshot = parse_server_xml(SERVER_XML).environ
    monkeypatch.setenv("OMEAPI_TEST_X", "later")
    assert snapshot["OMEAPI_TEST_X"] == "at-load"  # a snapshot, not the live environment


def test_api_bodies_resolve_from_the_configs_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMEAPI_TEST_X", "from-process")
    config = parse_server_xml(SERVER_XML, environ={"OMEAPI_TEST_X": "cfg"})
    api = open_api(config, engine=SimulatedEngine(), brake=False)
    client = Client(api)
    client.create_vhost("dyn-${env:OMEAPI_TEST_X}")
    assert "dyn-cfg" in api.registry.snapshot.vhosts
    response = client.post("/v1/vhosts/dyn-cfg/apps", [app_body("app-${env:OMEAPI_TEST_X}")])
    assert response.status == 200, response.body
    assert "app-cfg" in api.registry.snapshot.vhosts["dyn-cfg"].apps


# ------------------------------------------------------------------------ special files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_server_xml_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Server.xml"
    os.mkfifo(fifo)
    # No writer ever opens it: a blocking open or read would hang here forever.
    exc = load_error(fifo)
    assert exc.text == f"Could not read the file: {fifo} (reason: Not a regular file, offset: 0)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_an_include_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "b1.xml"
    os.mkfifo(fifo)
    exc = load_error(server_file(tmp_path, bind=BIND_B1))
    assert exc.text == f"Could not read the file: {fifo} (reason: Not a regular file, offset: 0)"


def test_directories_are_not_included(tmp_path: Path) -> None:
    (tmp_path / "apps.d.xml").mkdir()
    write(tmp_path / "app1.xml", "<Application><Name>one</Name><Type>live</Type></Application>")
    path = server_file(
        tmp_path,
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications>"
        '<Application include="app*.xml"/></Applications></VirtualHost></VirtualHosts>',
    )
    assert [a.name for a in load_server_config(path, environ={}).virtual_hosts[0].applications] == [
        "one"
    ]


# ------------------------------------------------------- millions of unknown elements


class CountingBuilder(source._GuardedBuilder):
    """The guarded builder, counting what it built (the structural bound)."""

    built = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Any:
        CountingBuilder.built += 1
        return super().start(tag, attrs)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingBuilder]:
    CountingBuilder.built = 0
    monkeypatch.setattr(source, "_GuardedBuilder", CountingBuilder)
    return CountingBuilder


def test_three_million_junk_elements_stop_at_the_first_few(
    tmp_path: Path, counting: type[CountingBuilder]
) -> None:
    path = tmp_path / "Server.xml"
    path.write_text(
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind/>\n'
        + "<Junk/>" * 3_000_000
        + "</Server>"
    )
    exc = load_error(path)
    assert exc.text == f"Unknown item found: Server.Junk in {path}"
    assert (exc.file, exc.line) == (str(path), 2)
    # Refused once the threshold was reached, not after building 3 M elements.
    assert counting.built == source.EARLY_UNKNOWN_AFTER


def test_junk_deep_inside_is_found_early_too(counting: type[CountingBuilder]) -> None:
    junk = "<Junk/>" * (2 * source.EARLY_UNKNOWN_AFTER)
    text = (
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind/><VirtualHosts><VirtualHost>'
        f"<Name>v</Name><Host>{junk}</Host></VirtualHost></VirtualHosts></Server>"
    )
    with pytest.raises(ConfigError) as info:
        parse_server_xml(text, environ={})
    assert info.value.text == "Unknown item found: VirtualHost.host.Junk in Server.xml"
    assert counting.built == source.EARLY_UNKNOWN_AFTER


def test_a_small_file_keeps_the_readers_order_of_errors() -> None:
    # Unknown children of one element are found before any child is read (OME's order) …
    text = '<Server version="8"><Type>nope</Type><IP>*</IP><Bind/><Junk/></Server>'
    with pytest.raises(ConfigError) as info:
        parse_server_xml(text, environ={})
    assert info.value.text == "Unknown item found: Server.Junk in Server.xml"
    # … but <Type> (a bad value) is read before the vhost with the unknown element.
    text = (
        '<Server version="8"><Type>nope</Type><IP>*</IP><Bind/><VirtualHosts><VirtualHost>'
        "<Name>v</Name><Junk/></VirtualHost></VirtualHosts></Server>"
    )
    with pytest.raises(ConfigError) as info:
        parse_server_xml(text, environ={})
    assert info.value.text == "Unknown type: nope"


PADDING = "<IP>*</IP>" * source.EARLY_UNKNOWN_AFTER  # valid, and past the threshold

ACCEPTED_IN_A_LARGE_FILE = [
    # What the reader never looks at must not be refused early either.
    pytest.param("<Name>text<Junk/></Name>", id="inside a scalar"),
    pytest.param("<Bind/><Bind><Junk/></Bind>", id="in a second single item"),
    pytest.param('<Junk ignore="true"/>', id="unknown but ignored"),
    pytest.param('<Managers ignore="true"><Junk/></Managers>', id="inside an ignored item"),
]


@pytest.mark.parametrize("extra", ACCEPTED_IN_A_LARGE_FILE)
def test_the_early_check_never_refuses_what_the_reader_accepts(extra: str) -> None:
    text = f'<Server version="8"><Type>origin</Type>{PADDING}{extra}<Bind/></Server>'
    config = parse_server_xml(text, environ={})
    assert len(config.ips) == source.EARLY_UNKNOWN_AFTER


def test_a_list_element_with_include_is_left_to_the_reader(tmp_path: Path) -> None:
    write(tmp_path / "a.xml", "<Application><Name>a</Name><Type>live</Type></Application>")
    path = server_file(
        tmp_path,
        f"{PADDING}<VirtualHosts><VirtualHost><Name>v</Name><Applications>"
        '<Application include="a.xml"><Junk/></Application>'
        "</Applications></VirtualHost></VirtualHosts>",
    )
    assert load_server_config(path, environ={}).virtual_hosts[0].applications[0].name == "a"


@pytest.mark.parametrize(
    ("doctype", "reason"),
    [
        ('<!DOCTYPE s [<!ENTITY a "aaaa">]>', "DTDs are not allowed"),
        ('<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "DTDs are not allowed"),
        ('<!DOCTYPE Server SYSTEM "http://example.invalid/s.dtd">', "DTDs are not allowed"),
    ],
)
def test_dtds_are_refused_before_any_entity_is_read(doctype: str, reason: str) -> None:
    text = f'{doctype}<Server version="8"><Name>&a;</Name></Server>'
    with pytest.raises(ConfigError) as info:
        parse_server_xml(text, environ={})
    assert info.value.text == f"Could not read the file: Server.xml (reason: {reason}, offset: 0)"


# --------------------------------------------------------------------- the empty token

API_BIND = "<Bind><Managers><API><Port>8081</Port></API></Managers></Bind>"


def test_a_token_that_expands_to_nothing_is_refused_at_its_line(tmp_path: Path) -> None:
    path = server_file(
        tmp_path,
        "<Managers>\n<API>\n<AccessToken>${env:UNSET}</AccessToken>\n</API>\n</Managers>",
        bind=API_BIND,
    )
    exc = load_error(path)
    assert exc.text == EMPTY_TOKEN
    assert (exc.file, exc.line) == (str(path), 3)


def test_a_missing_token_is_refused_at_the_api_element(tmp_path: Path) -> None:
    path = server_file(tmp_path, "<Managers>\n<API>\n</API>\n</Managers>", bind=API_BIND)
    exc = load_error(path)
    assert (exc.text, exc.file, exc.line) == (EMPTY_TOKEN, str(path), 2)


def test_no_managers_at_all_is_refused_at_the_bound_api(tmp_path: Path) -> None:
    path = server_file(
        tmp_path, bind="<Bind>\n<Managers>\n<API><Port>8081</Port></API>\n</Managers></Bind>"
    )
    exc = load_error(path)
    assert (exc.text, exc.file, exc.line) == (EMPTY_TOKEN, str(path), 3)


def test_a_token_in_an_included_file_is_located_there(tmp_path: Path) -> None:
    inc = write(
        tmp_path / "m.xml", "<Managers>\n<API>\n<AccessToken></AccessToken></API></Managers>"
    )
    path = server_file(tmp_path, '<Managers include="m.xml"/>', bind=API_BIND)
    exc = load_error(path)
    assert (exc.file, exc.line) == (str(inc), 3)


def test_the_token_is_not_required_when_the_api_is_off_or_opted_out(tmp_path: Path) -> None:
    off = server_file(tmp_path, "<Managers><API/></Managers>")
    assert not load_server_config(off, environ={}).api_enabled
    on = server_file(tmp_path, "<Managers><API/></Managers>", bind=API_BIND)
    config = load_server_config(on, environ={}, require_access_token=False)
    api = open_api(config, engine=SimulatedEngine(), allow_no_auth=True, start_engine=False)
    assert api.auth is None
    api.close()


def test_a_real_token_loads(tmp_path: Path) -> None:
    path = server_file(
        tmp_path, "<Managers><API><AccessToken>${env:T}</AccessToken></API></Managers>", API_BIND
    )
    config = load_server_config(path, environ={"T": "secret"})
    assert config.api_manager is not None and config.api_manager.access_token == "secret"


def test_check_and_the_loader_agree_on_the_empty_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMEAPI_TEST_UNSET", raising=False)
    path = server_file(
        tmp_path,
        "<Managers><API>\n<AccessToken>${env:OMEAPI_TEST_UNSET}</AccessToken></API></Managers>",
        bind=API_BIND,
    )
    assert main(["check", str(path)]) == 1
    # OME's text, and the reason it leaves out.
    err = capsys.readouterr().err.strip()
    assert err == f"{path}:2: {EMPTY_TOKEN} (${{env:OMEAPI_TEST_UNSET}} is empty or not set)"


# ----------------------------------------------------- no process-wide side effects


def test_loading_never_touches_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden() -> None:
        raise AssertionError("the config parser must not switch the collector off")

    monkeypatch.setattr(gc, "disable", forbidden)
    monkeypatch.setattr(gc, "enable", forbidden)
    assert parse_server_xml(SERVER_XML, environ={}).virtual_hosts
    assert gc.isenabled()


def test_another_thread_sees_the_collector_on_during_a_load() -> None:
    seen: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(gc.isenabled())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(20):
            parse_server_xml(SERVER_XML, environ={})
    finally:
        stop.set()
        watcher.join()
    assert seen and all(seen)


def config_modules() -> dict[str, ast.Module]:
    package = REPO / "omeapi" / "_config"
    return {
        f"omeapi._config.{p.stem}" if p.stem != "__init__" else "omeapi._config": ast.parse(
            p.read_text(encoding="utf-8")
        )
        for p in sorted(package.glob("*.py"))
    }


def imports_of(tree: ast.Module) -> set[str]:
    """Every module an AST imports, at any level (TYPE_CHECKING blocks and functions too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_config_package_imports_no_socket() -> None:
    for name, tree in config_modules().items():
        assert "socket" not in imports_of(tree), name


def test_no_import_cycles_in_the_config_package() -> None:
    modules = config_modules()
    graph = {
        name: {m for m in imports_of(tree) if m in modules and m != name}
        for name, tree in modules.items()
        if name != "omeapi._config"  # the package face imports everything, by design
    }
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            assert state.get(target) != 1, " -> ".join([*path, name, target])
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_access_never_imports_config() -> None:
    for path in sorted((REPO / "omeapi" / "_access").glob("*.py")):
        imported = imports_of(ast.parse(path.read_text(encoding="utf-8")))
        assert not any(m.startswith("omeapi._config") for m in imported), path.name
