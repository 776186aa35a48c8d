"""Images and video in and out."""

from facedyn.io.images import MAX_PIXELS, load_image
from facedyn.io.video import VideoInfo, VideoWriter, iter_frames, probe_video

__all__ = ["MAX_PIXELS", "VideoInfo", "VideoWriter", "iter_frames", "load_image", "probe_video"]
