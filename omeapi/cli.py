"""The ``omeapi`` command: ``omeapi check FILE``, ``omeapi audit [FILE]``, ``omeapi token
add|list|revoke`` (and ``omeapi serve`` where installed); ``omeapi --version``."""

# The module docstring is reST for the docs; --help prints DESCRIPTION, in plain text.

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from omeapi._config import load_server_config
from omeapi._config.ome_wire import DEFAULT_OME_VERSION, OME_VERSIONS
from omeapi._config.source import parse_file
from omeapi._config.versions import describe, newer_elements
from omeapi._console import CONSOLE_PATH, Console
from omeapi._errors import ConfigError
from omeapi._version import OME_API_VERSION, __version__

__all__ = ["build_parser", "main"]

#: What ``omeapi --help`` says before the verbs.
DESCRIPTION = (
    "OvenMediaEngine's REST management API: validate a Server.xml (omeapi check FILE), "
    "serve its API (omeapi serve [FILE]), read the audit log of its store "
    "(omeapi audit [FILE]) or manage scoped access tokens (omeapi token add|list|revoke). "
    "FILE defaults to Server.xml where it may be left out."
)

#: The help of a FILE argument that may be left out.
_FILE_HELP = "path to Server.xml (default: Server.xml in the current directory)"


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_server_config(args.file, warn=lambda text: print(f"warning: {text}"))
    except ConfigError as exc:
        print(exc.located(), file=sys.stderr)
        return 1
    apps = sum(len(v.applications) for v in config.virtual_hosts)
    binding = config.api_binding
    api = "disabled"
    if config.api_enabled and binding is not None:
        ports = [str(p) for p in (binding.port, binding.tls_port) if p is not None]
        api = "on " + ", ".join(ports)
    summary = (
        f"version {config.version}, {config.type}, "
        f"{len(config.virtual_hosts)} virtual hosts, {apps} applications, API {api}"
    )
    # Elements only a newer OME accepts: name the release the config needs (0.20 ones: none).
    uses = newer_elements(parse_file(args.file))
    if uses:
        summary += "; " + describe(uses, args.file)
    print(f"{args.file}: OK ({summary})")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, except that ``serve --console`` takes the next word as its PATH only when
    it looks like one (starts with ``/`` and is not an ``.xml`` file): ``serve --console
    Server.xml`` serves Server.xml with the console, not a console at "Server.xml"."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        serving = False
        for i, word in enumerate(words[:-1]):
            serving = serving or word == "serve"
            if serving and word == "--console" and not _console_like(words[i + 1]):
                words[i] = _CONSOLE_FLAG
        return super().parse_known_args(words, namespace)


def _console_like(word: str) -> bool:
    return word.startswith("/") and not word.lower().endswith(".xml")


#: ``--console`` with no PATH, as :class:`_Parser` rewrites it (hidden from --help).
_CONSOLE_FLAG = "--console-at-default-path"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one subcommand per verb)."""
    parser = _Parser(prog="omeapi", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=VERSION_TEXT)
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="validate a Server.xml and print a summary")
    check.add_argument("file", help="path to Server.xml")
    check.set_defaults(run=_check)
    serve = verbs.add_parser("serve", help="serve the API of a Server.xml")
    serve.add_argument("file", nargs="?", default="Server.xml", help=_FILE_HELP)
    serve.add_argument(
        "--server",
        choices=("granian", "gunicorn", "uvicorn", "hypercorn"),
        default="granian",
        help="granian or gunicorn (WSGI), uvicorn or hypercorn (the ASGI adapter)",
    )
    serve.add_argument("--address", help="listen on this address instead of <IP>")
    serve.add_argument("--port", type=_port, help="plain HTTP port instead of <Port>")
    serve.add_argument("--tls-port", type=_port, help="TLS port instead of <TLSPort>")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="worker processes per listener (default: one per CPU); without a store they "
        "share a private SQLite file removed at exit",
    )
    serve.add_argument(
        "--console",
        nargs="?",
        type=_console_path,
        const=True,
        default=None,
        metavar="PATH",
        help=f"serve the web console at {CONSOLE_PATH} (or at PATH: one segment such as /ops); "
        "log in with the <AccessToken>",
    )
    serve.add_argument(
        _CONSOLE_FLAG, dest="console", action="store_const", const=True, help=argparse.SUPPRESS
    )
    serve.add_argument(
        "--access-log",
        "--log-format",
        dest="access_log",
        choices=("text", "json"),
        help="log one line per request (logger omeapi.access) in this format",
    )
    serve.add_argument(
        "--metrics-path",
        metavar="PATH",
        type=_url_path,
        help="serve Prometheus metrics at PATH (e.g. /metrics) to authenticated requests",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="answer 408 to a request whose body is still arriving after SECONDS (default: 10)",
    )
    serve.add_argument(
        "--ome-version",
        choices=OME_VERSIONS,
        default=None,
        help=f"the OME version whose REST wire to speak (default: {DEFAULT_OME_VERSION}; "
        "docs/compatibility.md)",
    )
    serve.add_argument("--store", metavar="LOCATION", help=_STORE_HELP)
    serve.add_argument(
        "--engine",
        metavar="WHERE",
        type=_engine_address,
        help="the media engine: unix:PATH (an engine your program publishes on a socket) or "
        "module:factory (built in the engine host); default: the simulated engine",
    )
    serve.set_defaults(run=_serve)
    audit = verbs.add_parser("audit", help="print the audit log of the API's store")
    audit.add_argument(
        "file",
        nargs="?",
        default="Server.xml",
        help="Server.xml naming the store in <Storage> (default: Server.xml in the current "
        "directory)",
    )
    audit.add_argument(
        "--since",
        metavar="WHEN",
        help="only changes since WHEN: a duration (15m, 2h, 3d), an ISO date or time, or "
        "POSIX seconds",
    )
    audit.add_argument("--store", metavar="LOCATION", help=_STORE_HELP)
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.add_argument(
        "--prune-days",
        metavar="N",
        type=_positive_days,
        help="delete the records older than N days (instead of printing the log)",
    )
    audit.add_argument(
        "--prune-rows",
        metavar="N",
        type=_positive,
        help="delete all but the newest N records (instead of printing the log)",
    )
    audit.set_defaults(run=_audit)
    token = verbs.add_parser(
        "token",
        help="manage scoped access tokens kept in the API's store (read-only, some vhosts)",
    )
    token_verbs = token.add_subparsers(dest="token_verb", metavar="add|list|revoke")
    token_verbs.required = True
    add = token_verbs.add_parser("add", help="create a token and print it (once)")
    add.add_argument("name", help="what the audit log calls the token's changes (one word)")
    add.add_argument("--read-only", action="store_true", help="reads only (GET, stats)")
    add.add_argument(
        "--vhost",
        action="append",
        default=[],
        metavar="NAME",
        help="limit the token to this virtual host (repeat for several; default: all)",
    )
    listing = token_verbs.add_parser("list", help="list the tokens (never the secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = token_verbs.add_parser("revoke", help="delete a token (by id or name)")
    revoke.add_argument("token", metavar="ID_OR_NAME")
    for sub in (add, listing, revoke):
        sub.add_argument(
            "--file",
            default="Server.xml",
            help="Server.xml naming the store in <Storage> (default: Server.xml)",
        )
        sub.add_argument("--store", metavar="LOCATION", help=_STORE_HELP)
    token.set_defaults(run=_token)
    return parser


#: What ``omeapi --version`` prints.
VERSION_TEXT = f"omeapi {__version__} (OvenMediaEngine REST API v1, as OME {OME_API_VERSION})"

_STORE_HELP = (
    "the store instead of <Managers><API><Storage>: a SQLite file or directory, "
    "a postgresql:// URL, or 'memory'"
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535: {text}")
    return value


def _console_path(text: str) -> str:
    try:
        Console(text)  # the core's own rule for the path
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.text) from None
    return text


def _url_path(text: str) -> str:
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"must be a path starting with '/': {text}")
    return text


def _positive_number(unit: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of {unit}: {text}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive number of {unit}: {text}")
        return value

    return parse


_positive_days = _positive_number("days")
_positive_seconds = _positive_number("seconds")


def _audit(args: argparse.Namespace) -> int:
    from omeapi._errors import StoreError
    from omeapi._state.audit import format_record, parse_since
    from omeapi._stores.base import AuditPruning, AuditRetention
    from omeapi._stores.open import open_store, sqlite_file, store_location

    pruning = args.prune_days is not None or args.prune_rows is not None
    if pruning and args.since is not None:
        print(
            "omeapi audit: --since reads the log, --prune-* deletes from it: not both",
            file=sys.stderr,
        )
        return 2

    try:
        since = None if args.since is None else parse_since(args.since)
    except ValueError as exc:
        print(f"omeapi audit: {exc}", file=sys.stderr)
        return 2
    if args.store is not None:
        location = args.store
    else:
        try:
            config = load_server_config(args.file)
        except ConfigError as exc:
            print(exc.located(), file=sys.stderr)
            return 1
        location = store_location(config)
        if location is None:
            print(
                f"omeapi audit: {args.file} keeps no store (<Managers><API><Storage> is absent "
                "or disabled): the in-memory store's log ends with its process",
                file=sys.stderr,
            )
            return 1
    if location == "memory":
        print("omeapi audit: the in-memory store keeps no log to read", file=sys.stderr)
        return 1
    if "://" not in location:
        location = sqlite_file(location)
        if not os.path.exists(location):  # reading must not create an empty store
            print(f"omeapi audit: no store at {location}", file=sys.stderr)
            return 1
    try:
        store = open_store(location)
        try:
            if pruning:
                retention = AuditRetention(days=args.prune_days, rows=args.prune_rows)
                if not isinstance(store, AuditPruning):  # pragma: no cover - ours all prune
                    print(f"omeapi audit: {store.location} cannot prune", file=sys.stderr)
                    return 1
                pruned = store.prune_audit(retention)
                print(f"omeapi audit: pruned {pruned} records from {store.location}")
                return 0
            records = store.audit_log(since)
        finally:
            store.close()
    except StoreError as exc:
        print(f"omeapi audit: {exc}", file=sys.stderr)
        return 1
    for record in records:
        print(format_record(record, as_json=args.json))
    return 0


def _cli_store_location(file: str, override: str | None, verb: str) -> str | None:
    """The store ``omeapi audit`` / ``omeapi token`` works on, or None (said why)."""
    from omeapi._stores.open import store_location

    if override is not None:
        location = override
    else:
        try:
            config = load_server_config(file)
        except ConfigError as exc:
            print(exc.located(), file=sys.stderr)
            return None
        found = store_location(config)
        if found is None:
            print(
                f"omeapi {verb}: {file} keeps no store (<Managers><API><Storage> is absent "
                "or disabled)",
                file=sys.stderr,
            )
            return None
        location = found
    if location == "memory":
        print(f"omeapi {verb}: the in-memory store ends with its process", file=sys.stderr)
        return None
    return location


def _token(args: argparse.Namespace) -> int:
    import json

    from omeapi._access.tokens import new_token
    from omeapi._errors import StoreConflict, StoreError
    from omeapi._stores.base import TokenStore
    from omeapi._stores.open import open_store, sqlite_file

    location = _cli_store_location(args.file, args.store, "token")
    if location is None:
        return 1
    if "://" not in location:
        location = sqlite_file(location)
        if args.token_verb != "add" and not os.path.exists(location):
            print(f"omeapi token: no store at {location}", file=sys.stderr)
            return 1
    try:
        store = open_store(location)
        try:
            if not isinstance(store, TokenStore):  # pragma: no cover - ours all keep tokens
                print(f"omeapi token: {store.location} keeps no tokens", file=sys.stderr)
                return 1
            if args.token_verb == "add":
                try:
                    secret, stored = new_token(
                        args.name, read_only=args.read_only, vhosts=args.vhost
                    )
                    store.add_token(stored)
                except ValueError as exc:
                    print(f"omeapi token: {exc}", file=sys.stderr)
                    return 2
                except StoreConflict:
                    print(f"omeapi token: a token named {args.name} exists", file=sys.stderr)
                    return 1
                scope = ("read-only" if stored.read_only else "read-write") + (
                    f", vhosts {', '.join(stored.vhosts)}" if stored.vhosts else ", all vhosts"
                )
                print(
                    f"omeapi token: added {stored.name} (id {stored.id}; {scope})", file=sys.stderr
                )
                print(secret)
                return 0
            if args.token_verb == "revoke":
                gone = store.revoke_token(args.token)
                if gone is None:
                    print(f"omeapi token: no token {args.token}", file=sys.stderr)
                    return 1
                print(f"omeapi token: revoked {gone.name} (id {gone.id})")
                return 0
            tokens = store.load().tokens
        finally:
            store.close()
    except StoreError as exc:
        print(f"omeapi token: {exc}", file=sys.stderr)
        return 1
    for t in tokens:
        if args.json:
            print(
                json.dumps(
                    {
                        "id": t.id,
                        "name": t.name,
                        "readOnly": t.read_only,
                        "vhosts": list(t.vhosts),
                        "created": t.created,
                    },
                    sort_keys=True,
                )
            )
        else:
            scope = "read-only" if t.read_only else "read-write"
            print(f"{t.id} {t.name} {scope} {','.join(t.vhosts) or '*'}")
    return 0


def _engine_address(text: str) -> str:
    """``unix:PATH`` or ``module:factory``; no network address (the engine's socket carries
    no token: only its owner may reach it)."""
    kind, _, rest = text.partition(":")
    if not kind or not rest:
        raise argparse.ArgumentTypeError("expected unix:PATH or module:factory")
    if kind.lower() in ("tcp", "http", "https") or rest.startswith("//"):
        raise argparse.ArgumentTypeError(
            "an engine is reached over a Unix socket (unix:PATH), never over the network"
        )
    return text


def _serve(args: argparse.Namespace) -> int:
    # The servers live with the adapter (the `serve` extra); the core loads it only for
    # this verb, so that `omeapi check` and `omeapi audit` work without Werkzeug.
    try:
        from omeapi_werkzeug.serve import run
    except ImportError as exc:
        print(f"{SERVE_EXTRA_MISSING} ({exc})", file=sys.stderr)
        return 1
    return run(args)


#: What `omeapi serve` says when the adapter or its servers are not installed.
SERVE_EXTRA_MISSING = (
    "omeapi serve needs the Werkzeug adapter and a server: pip install 'omeapi[serve]'"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omeapi`` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
