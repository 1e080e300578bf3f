"""Config JSON names that differ between OME versions (by tools/gen_wire_names.py).

``RENAMED``: (schema path, JSON name in 0.20, JSON name in 0.21), read from the config items'
``Register`` calls at OME's ``v0.20.0`` and ``v0.21.0`` tags.  ``REMOVED_IN_0_21``: schema
paths 0.21 no longer has (the FILE provider became a bare flag).  ``FLAGS_IN_0_21``: items
that 0.21 reads as a bool (any JSON value, written back as given).
"""

RENAMED: tuple[tuple[str, str, str], ...] = (
    ("Server.Modules.HTTP2", "hTTP2", "http2"),
    ("Server.Modules.LLHLS", "lLHLS", "llhls"),
    ("Server.Modules.ERTMP", "eRTMP", "ertmp"),
    ("Server.Alert.Rules.Egress.LLHLSReady", "lLHLSReady", "llhlsReady"),
    ("Server.Alert.Rules.Egress.HLSReady", "hLSReady", "hlsReady"),
    (
        "Server.VirtualHosts.VirtualHost.Origins.Origin.IgnoreRtcpSRTimestamp",
        "ignoreRtcpSRTimestamp",
        "ignoreRtcpSrTimestamp",
    ),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.OutputProfiles.OutputProfile.Encodes.Audio.BypassIfMatch.SAR",
        "sAR",
        "sar",
    ),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.OutputProfiles.OutputProfile.Encodes.Video.BypassIfMatch.SAR",
        "sAR",
        "sar",
    ),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.OutputProfiles.OutputProfile.Encodes.Image.BypassIfMatch.SAR",
        "sAR",
        "sar",
    ),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.OutputProfiles.OutputProfile.Playlist.Options.HLSChunklistPathDepth",
        "hLSChunklistPathDepth",
        "hlsChunklistPathDepth",
    ),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.RTMP.EventGenerator.Event.HLSID3v2",
        "hLSID3v2",
        "hlsId3v2",
    ),
    ("Server.VirtualHosts.VirtualHost.Applications.Application.Publishers.LLHLS.DVR", "dVR", "dvr"),
    ("Server.VirtualHosts.VirtualHost.Applications.Application.Publishers.LLHLS.DRM", "dRM", "drm"),
    ("Server.VirtualHosts.VirtualHost.Applications.Application.Publishers.HLS.DVR", "dVR", "dvr"),
    (
        "Server.VirtualHosts.VirtualHost.Applications.Application.Publishers.MPEGTSPush",
        "mPEGTSPush",
        "mpegtsPush",
    ),
)

REMOVED_IN_0_21: tuple[str, ...] = (
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.MaxConnection",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.TimestampMode",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.UseIncomingTimestamp",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.PacketSilenceTimeoutMs",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.RootPath",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.StreamMap",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.StreamMap.Stream",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.StreamMap.Stream.Name",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.StreamMap.Stream.Path",
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE.PassthroughOutputProfile",
)

FLAGS_IN_0_21: tuple[str, ...] = (
    "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE",
)
