"""What a simulated stream is made of: input tracks by source type, and the output streams
an application's output profiles make of them (see :mod:`omeapi._simulated.engine`).

Pure functions of configs and tracks: no state, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from omeapi._config import ApplicationConfig
from omeapi._config.nodes import Item
from omeapi._engine.features import has_llhls_default_playlist
from omeapi._engine.values import (
    AudioInfo,
    OutputStream,
    Playlist,
    Rendition,
    SttTrackInfo,
    SubtitleInfo,
    Track,
    VideoInfo,
)

__all__ = [
    "AAC",
    "H264",
    "PULL_SCHEMES",
    "UNREACHABLE",
    "build_outputs",
    "first",
    "input_tracks",
    "selected_bitrate",
    "track_bitrate",
    "unreachable_host",
]

UNREACHABLE = ".invalid"

H264 = VideoInfo(
    codec="H264",
    width=1280,
    height=720,
    framerate=30.0,
    bitrate=2_500_000,
    max_width=1280,
    max_height=720,
    bitrate_conf=2_500_000,
    bitrate_avg=2_500_000,
    bitrate_latest=2_500_000,
    framerate_conf=30.0,
    framerate_avg=30.0,
    framerate_latest=30.0,
    key_frame_interval=60.0,
    key_frame_interval_avg=60.0,
    key_frame_interval_latest=60.0,
)
AAC = AudioInfo("AAC", 48000, 2, 128_000, False, 128_000, 128_000, 128_000)
_OPUS = AudioInfo("OPUS", 48000, 2, 128_000, False, 128_000, 128_000, 128_000)

#: source type → (video, audio, has a data track); RTMP's layout is what a real OME reports
_SOURCE_LAYOUT: dict[str, tuple[VideoInfo | None, AudioInfo | None, bool]] = {
    "Rtmp": (H264, AAC, True),
    "RtmpPull": (H264, AAC, True),
    "RtspPull": (H264, AAC, False),
    "Ovt": (H264, _OPUS, True),
    "SRT": (H264, AAC, True),
    "Scheduled": (H264, AAC, False),
}

#: pull URL scheme → the source type of the pulled stream
PULL_SCHEMES = {
    "rtsp": "RtspPull",
    "rtsps": "RtspPull",
    "rtmp": "RtmpPull",
    "rtmps": "RtmpPull",
    "ovt": "Ovt",
    "srt": "SRT",
}

#: encode codec name prefix → OME's codec string
_VIDEO_CODECS = {"h264": "H264", "h265": "H265", "hevc": "H265", "vp8": "VP8", "vp9": "VP9"}
_AUDIO_CODECS = {"aac": "AAC", "opus": "OPUS", "mp3": "MP3"}


def input_tracks(source_type: str, *, video: bool = True, audio: bool = True) -> tuple[Track, ...]:
    """The input tracks a simulated source of ``source_type`` has."""
    layout_video, layout_audio, data = _SOURCE_LAYOUT.get(source_type, (H264, AAC, False))
    tracks: list[Track] = []
    if video and layout_video is not None:
        tracks.append(Track(len(tracks), "Video", "Video", video=layout_video))
    if audio and layout_audio is not None:
        tracks.append(Track(len(tracks), "Audio", "Audio", audio=layout_audio))
    if data:
        tracks.append(Track(len(tracks), "Data", "Data"))
    return tuple(tracks)


def _bitrate(value: Any, default: int) -> int:
    """An encode's ``Bitrate`` (``"2.5M"``, ``"128K"``, ``128000``) in bits per second."""
    text = str(value).strip() if value is not None else ""
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        number = float(digits)
    except ValueError:
        return default
    return int(number * scale) if number > 0 else default


def _codec(name: Any, table: dict[str, str], default: str) -> str:
    lowered = str(name or "").lower()
    for prefix, codec in table.items():
        if lowered.startswith(prefix):
            return codec
    return default


def _bypass(encode: Item, source_codec: str, table: dict[str, str]) -> bool:
    if encode.value("Bypass", False):
        return True
    match = encode.item("BypassIfMatch")
    # Only the codec condition is simulated: the others are about values the sim keeps fixed.
    return (
        match is not None
        and str(match.value("Codec", "")).lower() == "eq"
        and _codec(encode.value("Codec"), table, "") == source_codec
    )


def _video_output(encode: Item, source: VideoInfo, track_id: int, name: str) -> Track:
    if _bypass(encode, source.codec, _VIDEO_CODECS):
        return Track(track_id, "Video", name, video=attrs.evolve(source, bypass=True))
    width = int(encode.value("Width", 0) or 0)
    height = int(encode.value("Height", 0) or 0)
    if width <= 0 and height <= 0:
        width, height = source.width, source.height
    elif width <= 0:
        width = source.width * height // max(1, source.height)
    elif height <= 0:
        height = source.height * width // max(1, source.width)
    framerate = float(encode.value("Framerate", 0.0) or 0.0) or source.framerate
    bitrate = _bitrate(encode.value("Bitrate"), source.bitrate)
    video = VideoInfo(
        codec=_codec(encode.value("Codec"), _VIDEO_CODECS, "H264"),
        width=width,
        height=height,
        framerate=framerate,
        bitrate=bitrate,
        max_width=width,
        max_height=height,
        bitrate_conf=bitrate,
        bitrate_avg=bitrate,
        bitrate_latest=bitrate,
        framerate_conf=framerate,
        framerate_avg=framerate,
        framerate_latest=framerate,
        key_frame_interval=framerate * 2,
        key_frame_interval_conf=framerate * 2,
        key_frame_interval_avg=framerate * 2,
        key_frame_interval_latest=framerate * 2,
    )
    return Track(track_id, "Video", name, video=video)


def _audio_output(encode: Item, source: AudioInfo, track_id: int, name: str) -> Track:
    if _bypass(encode, source.codec, _AUDIO_CODECS):
        return Track(track_id, "Audio", name, audio=attrs.evolve(source, bypass=True))
    bitrate = _bitrate(encode.value("Bitrate"), source.bitrate)
    audio = AudioInfo(
        codec=_codec(encode.value("Codec"), _AUDIO_CODECS, "AAC"),
        samplerate=int(encode.value("Samplerate", 0) or 0) or source.samplerate,
        channel=int(encode.value("Channel", 0) or 0) or source.channel,
        bitrate=bitrate,
        bitrate_conf=bitrate,
        bitrate_avg=bitrate,
        bitrate_latest=bitrate,
    )
    return Track(track_id, "Audio", name, audio=audio)


def first(tracks: Sequence[Track], kind: str) -> Track | None:
    return next((t for t in tracks if t.type == kind), None)


def _playlist(item: Item) -> Playlist:
    options = item.item("Options")

    def option(name: str, default: Any) -> Any:
        return default if options is None else options.value(name, default)

    return Playlist(
        str(item.value("Name", "") or ""),
        str(item.value("FileName", "") or ""),
        tuple(
            Rendition(
                str(r.value("Name", "") or ""),
                str(r.value("Video", "") or ""),
                str(r.value("Audio", "") or ""),
            )
            for r in item.items("Rendition")
        ),
        bool(option("WebRtcAutoAbr", True)),
        int(option("HLSChunklistPathDepth", -1)),
        bool(option("EnableTsPackaging", False)),
    )


def stt_rendition_items(app: ApplicationConfig) -> tuple[Item, ...]:
    """The ``<OutputProfiles><MediaOptions><STT><Rendition>`` elements of an app (none when
    STT is absent or not enabled)."""
    profiles = app.node.item("OutputProfiles")
    options = profiles.item("MediaOptions") if profiles is not None else None
    stt = options.item("STT") if options is not None else None
    if stt is None or stt.value("Enable", True) is False:
        return ()
    return stt.items("Rendition")


def _stt_track(rendition: Item, track_id: int) -> Track:
    """The subtitle track a speech-to-text rendition adds to every output stream."""
    label = str(rendition.value("OutputSubtitleLabel", "") or f"stt_{track_id}")
    language = str(rendition.value("SourceLanguage", "") or "")
    stt = SttTrackInfo(
        engine=str(rendition.value("Engine", "") or ""),
        model=str(rendition.value("Model", "") or ""),
        source_language=language,
        translation=rendition.value("Translation", False) is True,
        output_label=label,
    )
    info = SubtitleInfo(
        "WHISPER", "Ready", language=language, auto_select=True, timebase=(1, 1000), stt=stt
    )
    return Track(track_id, "Subtitle", label, subtitle=info)


def default_playlists(tracks: Sequence[Track]) -> tuple[Playlist, ...]:
    """The LL-HLS default playlist of a stream with these tracks (none without video or
    audio)."""
    first_video, first_audio = first(tracks, "Video"), first(tracks, "Audio")
    if not (first_video or first_audio):
        return ()
    rendition = Rendition(
        "default",
        first_video.name if first_video else "",
        first_audio.name if first_audio else "",
    )
    return (Playlist("llhls_default", "llhls", (rendition,), webrtc_auto_abr=False),)


def build_outputs(
    app: ApplicationConfig, stream: str, tracks: Sequence[Track]
) -> tuple[OutputStream, ...]:
    """The output streams the app's output profiles make of an input stream."""
    source_video = first(tracks, "Video")
    source_audio = first(tracks, "Audio")
    llhls_default = has_llhls_default_playlist(app)
    stt_items = stt_rendition_items(app)
    outputs: list[OutputStream] = []
    for profile in app.output_profiles:
        encodes = profile.node.item("Encodes")
        out: list[Track] = []
        for encode in encodes.items("Video") if encodes else ():
            if source_video is not None and source_video.video is not None:
                name = str(encode.value("Name", "") or f"video_{len(out)}")
                out.append(_video_output(encode, source_video.video, len(out), name))
        for encode in encodes.items("Audio") if encodes else ():
            if source_audio is not None and source_audio.audio is not None:
                name = str(encode.value("Name", "") or f"audio_{len(out)}")
                out.append(_audio_output(encode, source_audio.audio, len(out), name))
        # Data tracks (timed metadata) follow the stream through every profile.
        out.extend(attrs.evolve(t, id=len(out) + i) for i, t in enumerate(data(tracks)))
        # So do the subtitle tracks speech to text writes (when there is audio to hear).
        if source_audio is not None:
            out.extend(_stt_track(r, len(out) + i) for i, r in enumerate(stt_items))
        playlists: list[Playlist] = list(default_playlists(out) if llhls_default else ())
        playlists.extend(_playlist(p) for p in profile.node.items("Playlist"))
        name = profile.output_stream_name.replace("${OriginStreamName}", stream)
        outputs.append(OutputStream(name, tuple(out), tuple(playlists)))
    return tuple(outputs)


def data(tracks: Sequence[Track]) -> list[Track]:
    return [t for t in tracks if t.type == "Data"]


def track_bitrate(track: Track) -> int:
    if track.video is not None:
        return track.video.bitrate
    if track.audio is not None:
        return track.audio.bitrate
    return 0


def selected_bitrate(output: OutputStream, track_ids: Sequence[int], names: Sequence[str]) -> int:
    chosen = [
        t
        for t in output.tracks
        if (not track_ids and not names) or t.id in track_ids or t.name in names
    ]
    return sum(track_bitrate(t) for t in chosen)


def unreachable_host(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return True
    return not host or host.rstrip(".").endswith(UNREACHABLE)
