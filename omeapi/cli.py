"""The ``omeapi`` command: ``omeapi check FILE`` (and ``omeapi serve`` where installed)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from omeapi.config import load_server_config
from omeapi.errors import ConfigError

__all__ = ["main"]


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
    print(
        f"{args.file}: OK (version {config.version}, {config.type}, "
        f"{len(config.virtual_hosts)} virtual hosts, {apps} applications, API {api})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one subcommand per verb)."""
    parser = argparse.ArgumentParser(prog="omeapi", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="validate a Server.xml and print a summary")
    check.add_argument("file", help="path to Server.xml")
    check.set_defaults(run=_check)
    serve = verbs.add_parser("serve", help="serve the API of a Server.xml")
    serve.add_argument("file", nargs="?", default="Server.xml", help="path to Server.xml")
    serve.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    serve.add_argument("--address", help="listen on this address instead of <IP>")
    serve.add_argument("--port", type=int, help="plain HTTP port instead of <Port>")
    serve.add_argument("--tls-port", type=int, help="TLS port instead of <TLSPort>")
    serve.set_defaults(run=_serve)
    return parser


def _serve(args: argparse.Namespace) -> int:
    # The servers live in the adapter package; the core imports it only for this verb.
    try:
        from omeapi_werkzeug.serve import run
    except ImportError as exc:
        print(f"omeapi serve needs the omeapi_werkzeug adapter: {exc}", file=sys.stderr)
        return 1
    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omeapi`` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
