"""Live use: a camera, an iPhone (Live Link Face) or a remote sender drives a photo in real
time; only codec packets travel, authenticated under a shared key (docs/live.md).

    from facedyn import live
    key = live.load_key("key.txt")
    with live.StreamSender(key, ("host", 9000), fps=25) as sender: ...
    with live.StreamReceiver(key, ("127.0.0.1", 9000)) as receiver: ...
"""

from facedyn.live.camera import Camera, CapturedFrame, parse_camera
from facedyn.live.keys import generate_key, load_key
from facedyn.live.livelink import LiveLinkReceiver, build_packet, parse_packet
from facedyn.live.session import (
    FaceFollower,
    LiveReport,
    Player,
    played,
    run_camera,
    run_livelink,
    run_receiver,
)
from facedyn.live.sinks import RecordingSink, Sink, VirtualCameraSink, WindowSink
from facedyn.live.transport import (
    LinkConfig,
    LinkState,
    LinkStats,
    ReceivedFrame,
    StreamReceiver,
    StreamSender,
    parse_address,
)

__all__ = [
    "Camera", "CapturedFrame", "FaceFollower", "LinkConfig", "LinkState", "LinkStats", "LiveLinkReceiver", "LiveReport",
    "Player", "ReceivedFrame", "RecordingSink", "Sink", "StreamReceiver", "StreamSender", "VirtualCameraSink",
    "WindowSink", "build_packet", "generate_key", "load_key", "parse_address", "parse_camera", "parse_packet", "played",
    "run_camera", "run_livelink", "run_receiver",
]
