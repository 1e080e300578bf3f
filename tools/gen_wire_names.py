"""Regenerate ``omeapi/_config/_wire_names.py``: the config JSON names by OME version.

Usage::

    python tools/gen_wire_names.py --ome GIT_DIR

``GIT_DIR`` is a git directory of OvenMediaEngine with its tags.  The tool reads, at the tags
``v0.20.0`` and ``v0.21.0``, every ``Register`` call of the config items (an element's XML
name and, when given, its explicit JSON name; otherwise OME lower-cases the first letter),
and lists the elements whose JSON name differs between the two.  Each is then placed on the
schema paths that carry that XML name under the 0.20 JSON name, and written as one row:
``(path, name in 0.20, name in 0.21)``.  Only facts (names) are taken from OME's source.

Elements that only newer releases have keep one name (the schema table's): the 0.20 wire
has never shown them under another.  The children of ``<Providers><FILE>`` are listed as
removed in 0.21 when the FILE provider's item header is gone from the 0.21 tree.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omeapi._config._table import ROWS as ROWS_020  # noqa: E402

OLD, NEW = "v0.20.0", "v0.21.0"
FILE_PROVIDER = "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE"

_REGISTER = re.compile(r'Register(?:<[^>]*>)?\(\s*(?:\{\s*"(\w+)"\s*,\s*"(\w+)"\s*\}|"(\w+)")')


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def _first_lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def registered(git_dir: str, rev: str) -> dict[tuple[str, str], str]:
    """(header file name, XML name) → JSON name, for every config item at ``rev``."""
    out: dict[tuple[str, str], str] = {}
    for path in _git(git_dir, "ls-tree", "-r", "--name-only", rev).splitlines():
        if "/config/items/" not in path or not path.endswith(".h"):
            continue
        header = path.rsplit("/", 1)[-1]
        for m in _REGISTER.finditer(_git(git_dir, "show", f"{rev}:{path}")):
            xml = m.group(1) or m.group(3)
            out[(header, xml)] = m.group(2) or _first_lower(xml)
    return out


def renamed_rows(git_dir: str) -> list[tuple[str, str, str]]:
    old, new = registered(git_dir, OLD), registered(git_dir, NEW)
    changes = {
        (key[1], old[key]): new[key] for key in old.keys() & new.keys() if old[key] != new[key]
    }
    rows: list[tuple[str, str, str]] = []
    for path, json_name, _kind, _flags, _default in ROWS_020:
        xml = path.rsplit(".", 1)[-1]
        after = changes.get((xml, json_name))
        if after is not None:
            rows.append((path, json_name, after))
    placed = {(p.rsplit(".", 1)[-1], j) for p, j, _ in rows}
    for missing in sorted(changes.keys() - placed):
        print(f"note: {missing} has no 0.20 schema row", file=sys.stderr)
    return rows


def removed_rows(git_dir: str) -> list[str]:
    tree = _git(git_dir, "ls-tree", "-r", "--name-only", NEW)
    if "providers/file_provider.h" in tree:
        return []
    return [p for p, *_ in ROWS_020 if p.startswith(FILE_PROVIDER + ".")]


def flag_rows(git_dir: str) -> list[str]:
    """Items that 0.21 declares as a bare ``bool`` member (the FILE provider)."""
    providers = "src/config/items/virtual_hosts/applications/providers/providers.h"
    try:
        text = _git(git_dir, "show", f"{NEW}:{providers}")
    except subprocess.CalledProcessError:
        return []
    return [FILE_PROVIDER] if re.search(r"\bbool\s+_file_provider\b", text) else []


HEADER = '''"""Config JSON names that differ between OME versions (by tools/gen_wire_names.py).

``RENAMED``: (schema path, JSON name in 0.20, JSON name in 0.21), read from the config items'
``Register`` calls at OME's ``v0.20.0`` and ``v0.21.0`` tags.  ``REMOVED_IN_0_21``: schema
paths 0.21 no longer has (the FILE provider became a bare flag).  ``FLAGS_IN_0_21``: items
that 0.21 reads as a bool (any JSON value, written back as given).
"""

RENAMED: tuple[tuple[str, str, str], ...] = (
'''


def write(renamed: list[tuple[str, str, str]], removed: list[str], flags: list[str]) -> Path:
    out = ROOT / "omeapi" / "_config" / "_wire_names.py"
    lines = [HEADER.rstrip("\n")]
    lines += [f"    {r!r}," for r in renamed]
    lines.append(")")
    lines.append("")
    lines.append("REMOVED_IN_0_21: tuple[str, ...] = (")
    lines += [f"    {p!r}," for p in removed]
    lines.append(")")
    lines.append("")
    lines.append("FLAGS_IN_0_21: tuple[str, ...] = (")
    lines += [f"    {p!r}," for p in flags]
    lines.append(")")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ome", metavar="GIT_DIR", required=True, help="OME's git directory")
    args = parser.parse_args(argv)
    renamed, removed, flags = renamed_rows(args.ome), removed_rows(args.ome), flag_rows(args.ome)
    out = write(renamed, removed, flags)
    print(f"{len(renamed)} renamed, {len(removed)} removed, {len(flags)} flags: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
