"""Regenerate ``omeapi/_config/_table_newer.py``: the Server.xml elements OME added after 0.20.

Usage::

    python tools/gen_newer_table.py                  # write the module from the rows below
    python tools/gen_newer_table.py --ome GIT_DIR    # first check the rows against OME's history

The rows below are facts read from OME's config items (names, kinds, Optional flags, explicit
JSON names, default values) and transcribed in our own format; no OME text is copied.  The
0.20 table (``omeapi/_config/_table.py``) was read at OME commit ``0229fcd4``
(``v0.20.0-16``); a row's ``since`` is the first release tag whose tree registers it.

With ``--ome`` (a git directory of OvenMediaEngine with its tags), the tool lists, per config
item header, every registered name that the tags ``v0.20.5`` and ``v0.21.0`` have and the
baseline lacks, and fails unless each such name has a row with that version (and each row's
name is one of them, rows that repeat a reused struct excepted).
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

BASELINE = "0229fcd4"
TAGS = (("v0.20.5", "0.20.5"), ("v0.21.0", "0.21.0"))

APP = "Server.VirtualHosts.VirtualHost.Applications.Application"
PROVIDERS = f"{APP}.Providers"
#: The application providers whose item calls the shared provider registration in 0.21
#: (FILE no longer does: it became a bare deprecated flag).
BASE_PROVIDERS = (
    "RTMP",
    "RTSPPull",
    "RTSP",
    "OVT",
    "SRT",
    "WebRTC",
    "Schedule",
    "Multiplex",
    "MPEGTS",
)

# (path, json_name, kind, flags, default, after, since)
#   flags:  R required, omit (list whose JSON key is its parent's), path (resolved file path),
#           copy (the row repeats a struct the 0.20 table already has elsewhere)
#   after:  the XML name of the sibling it is registered after ("" = first child)
Row = tuple[str, str, str, str, str, str, str]


def _ice_candidates() -> list[Row]:
    rows: list[Row] = []
    for side in ("Providers", "Publishers"):
        base = f"Server.Bind.{side}.WebRTC.IceCandidates"
        rows += [
            (
                f"{base}.TcpIceWorkerCount",
                "tcpIceWorkerCount",
                "int",
                "",
                "0",
                "IceWorkerCount",
                "0.21.0",
            ),
            (
                f"{base}.TcpRelayForce",
                "tcpRelayForce",
                "bool",
                "",
                "false",
                "TcpIceWorkerCount",
                "0.21.0",
            ),
            (
                f"{base}.DefaultTransport",
                "defaultTransport",
                "string",
                "",
                "UDPTCP",
                "TcpRelayForce",
                "0.21.0",
            ),
        ]
    return rows


def _modules() -> list[Row]:
    m = "Server.Modules"
    return [
        (f"{m}.Whisper", "whisper", "item", "", "", "ERTMP", "0.21.0"),
        (f"{m}.Whisper.PreloadModel", "preloadModel", "list_of_item", "", "", "", "0.21.0"),
        (f"{m}.Whisper.PreloadModel.Path", "path", "string", "R", "", "", "0.21.0"),
        (f"{m}.Whisper.PreloadModel.Devices", "devices", "string", "", "", "Path", "0.21.0"),
        (f"{m}.Jemalloc", "jemalloc", "item", "", "", "Whisper", "0.21.0"),
        (f"{m}.Jemalloc.BackgroundPurge", "backgroundPurge", "bool", "", "true", "", "0.21.0"),
        (f"{m}.TaskPool", "taskPool", "item", "", "", "Jemalloc", "0.21.0"),
        (f"{m}.TaskPool.ThreadCount", "threadCount", "int", "", "4", "", "0.21.0"),
        (f"{m}.TaskPool.MaxTasks", "maxTasks", "int", "", "128", "ThreadCount", "0.21.0"),
    ]


def _app_subtitles() -> list[Row]:
    """``<Application><Subtitles>`` registers the same struct as ``MediaOptions.Subtitles``."""
    old = f"{APP}.OutputProfiles.MediaOptions.Subtitles"
    new = f"{APP}.Subtitles"
    rows: list[Row] = [(new, "subtitles", "item", "", "", "EventGenerator", "0.20.5")]
    previous: dict[str, str] = {}
    for path, json_name, kind, flags, default in ROWS_020:
        if not path.startswith(old + "."):
            continue
        parent, _, name = path.rpartition(".")
        words = " ".join([*flags.split(), "copy"])
        rows.append(
            (
                new + path[len(old) :],
                json_name,
                kind,
                words,
                default,
                previous.get(parent, ""),
                "0.20.5",
            )
        )
        previous[parent] = name
    return rows


def _output_profiles() -> list[Row]:
    profile = f"{APP}.OutputProfiles.OutputProfile"
    stt = f"{APP}.OutputProfiles.MediaOptions.STT"
    rendition = f"{stt}.Rendition"
    track_set = f"{profile}.TrackSet"
    rows: list[Row] = [
        (
            f"{profile}.Encodes.Video.ExtraOptions",
            "extraOptions",
            "string",
            "",
            "",
            "Lookahead",
            "0.20.5",
        ),
        (track_set, "tracksets", "list_of_item", "", "", "Playlist", "0.21.0"),
        (f"{track_set}.Name", "name", "string", "R", "", "", "0.21.0"),
        (f"{track_set}.Strict", "strict", "bool", "", "false", "Name", "0.21.0"),
    ]
    after = "Strict"
    for media, json_name in (("Video", "videos"), ("Audio", "audios")):
        rows += [
            (f"{track_set}.{media}", json_name, "list_of_item", "", "", after, "0.21.0"),
            (f"{track_set}.{media}.Name", "name", "string", "R", "", "", "0.21.0"),
            (f"{track_set}.{media}.IndexHint", "indexHint", "int", "", "-1", "Name", "0.21.0"),
        ]
        after = media
    rows += [
        (stt, "stt", "item", "", "", "Overlays", "0.21.0"),
        (f"{stt}.Enable", "enable", "bool", "", "true", "", "0.21.0"),
        (rendition, "rendition", "list_of_item", "", "", "Enable", "0.21.0"),
    ]
    after = ""
    for name, kind, flags, default in (
        ("Engine", "string", "R", ""),
        ("OutputSubtitleLabel", "string", "R", ""),
        ("Model", "string", "R", ""),
        ("InputAudioIndex", "int", "", "0"),
        ("SourceLanguage", "string", "", "auto"),
        ("Translation", "bool", "", "false"),
        ("StepMs", "int", "", "2000"),
        ("LengthMs", "int", "", "10000"),
        ("KeepMs", "int", "", "1500"),
        ("Modules", "string", "", ""),
    ):
        json_name = name[0].lower() + name[1:]
        rows.append((f"{rendition}.{name}", json_name, kind, flags, default, after, "0.21.0"))
        after = name
    return rows


def _providers() -> list[Row]:
    rows: list[Row] = [
        (
            f"{PROVIDERS}.{p}.FirstMediaWaitTimeoutMs",
            "firstMediaWaitTimeoutMs",
            "int",
            "",
            "0",
            "PacketSilenceTimeoutMs",
            "0.21.0",
        )
        for p in BASE_PROVIDERS
    ]
    webrtc = f"{PROVIDERS}.WebRTC"
    rows += [
        (f"{webrtc}.FIRInterval", "firInterval", "int", "", "3000", "CrossDomains", "0.20.5"),
        (
            f"{webrtc}.RtcpBasedTimestamp",
            "rtcpBasedTimestamp",
            "bool",
            "",
            "false",
            "FIRInterval",
            "0.20.5",
        ),
        (f"{webrtc}.Rtx", "rtx", "item", "", "", "RtcpBasedTimestamp", "0.21.0"),
        (f"{webrtc}.Rtx.Enable", "enable", "bool", "", "false", "", "0.21.0"),
        (f"{webrtc}.Rtx.MaxHoldMs", "maxHoldMs", "int", "", "400", "Enable", "0.21.0"),
        (
            f"{PROVIDERS}.MPEGTS.PacketReordering",
            "packetReordering",
            "bool",
            "",
            "false",
            "AudioMap",
            "0.21.0",
        ),
    ]
    return rows


def newer_rows() -> list[Row]:
    """Every row, grouped by the item that registers it."""
    return [*_ice_candidates(), *_modules(), *_app_subtitles(), *_output_profiles(), *_providers()]


# ------------------------------------------------------------------ checking against OME

_REGISTER = re.compile(r'Register(?:<[^>]*>)?\(\s*(?:\{\s*)?"(\w+)"')


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def _registered(git_dir: str, rev: str) -> dict[str, set[str]]:
    """Registered names per item header file name at ``rev``."""
    out: dict[str, set[str]] = {}
    for path in _git(git_dir, "ls-tree", "-r", "--name-only", rev).splitlines():
        if "/config/items/" not in path or not path.endswith(".h"):
            continue
        names = set(_REGISTER.findall(_git(git_dir, "show", f"{rev}:{path}")))
        out.setdefault(path.rsplit("/", 1)[-1], set()).update(names)
    return out


def check_against(git_dir: str, rows: list[Row]) -> list[str]:
    """Problems found comparing ``rows`` with OME's history (empty when they agree)."""
    base = _registered(git_dir, BASELINE)
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    new_names: dict[str, str] = {}
    for tag, version in TAGS:
        for header, names in sorted(_registered(git_dir, tag).items()):
            for name in sorted(names - base.get(header, set())):
                if (header, name) in seen:
                    continue
                seen.add((header, name))
                new_names.setdefault(name, version)
                print(f"{version}\t{header}\t{name}")
    by_name: dict[str, set[str]] = {}
    for path, _j, _k, flags, _d, _a, since in rows:
        if "copy" not in flags.split():
            by_name.setdefault(path.rsplit(".", 1)[-1], set()).add(since)
    for name, version in sorted(new_names.items()):
        if version not in by_name.get(name, set()):
            problems.append(f"{name}: registered since {version}, but no row says so")
    for name, versions in sorted(by_name.items()):
        if name not in new_names:
            problems.append(f"{name}: has a row ({', '.join(sorted(versions))}) but is not new")
    return problems


# ------------------------------------------------------------------------------- output

HEADER = '''"""Server.xml elements OME added after 0.20, as data (by tools/gen_newer_table.py).

One row per element: (path, json_name, kind, flags, default, after, since).  ``flags`` as in
:mod:`omeapi._config._table` (``R``, ``omit``, ``path``), plus ``copy`` for rows that repeat a
struct the 0.20 table has elsewhere.  ``after`` is the XML name of the sibling the element is
registered after (empty: first child); ``since`` is the first OME release that accepts it.
"""

#: The OME source the rows were read from.
SOURCE = "OvenMediaEngine v0.21.0"

ROWS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
'''


def write(rows: list[Row]) -> Path:
    out = ROOT / "omeapi" / "_config" / "_table_newer.py"
    lines = [HEADER.rstrip("\n")]
    lines += [f"    {r!r}," for r in rows]
    lines.append(")")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Committed code is ruff-formatted; the rows' long paths need their tuples split.
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ome", metavar="GIT_DIR", help="check the rows against OME's history")
    args = parser.parse_args(argv)
    rows = newer_rows()
    if args.ome:
        problems = check_against(args.ome, rows)
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        if problems:
            return 1
    out = write(rows)
    print(f"{len(rows)} rows written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
