"""The talking-head codec: facial dynamics as a compact stream (docs/codec.md).

    from facedyn import codec, drivers
    codec.encode_motion(drivers.video("clip.mp4").open(tracker), "clip.fdyn", codec.CodecConfig(bitrate=800))
    video = animator.animate(source, codec.StreamDriver(Path("clip.fdyn")))

Streaming: Encoder.push(dynamics) -> bytes, Decoder.feed(bytes) -> decoded frames.
"""

from facedyn.codec.audio import parse_audio_option
from facedyn.codec.bitstream import AudioInfo, Header, StreamError
from facedyn.codec.files import EncodeResult, StreamDriver, encode_motion, read_stream, stream_info
from facedyn.codec.stream import CodecConfig, DecodedFrame, Decoder, Encoder

__all__ = [
    "AudioInfo", "CodecConfig", "DecodedFrame", "Decoder", "EncodeResult", "Encoder", "Header", "StreamDriver",
    "StreamError", "encode_motion", "parse_audio_option", "read_stream", "stream_info",
]
