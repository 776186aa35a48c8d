"""Images and video in and out."""

from facedyn.io.images import MAX_PIXELS, check_image, load_image
from facedyn.io.video import VIDEO_SUFFIXES, VideoInfo, VideoWriter, fit_scale, fits_h264, iter_frames, probe_video

__all__ = ["MAX_PIXELS", "VIDEO_SUFFIXES", "VideoInfo", "VideoWriter", "check_image", "fit_scale", "fits_h264", "iter_frames",
           "load_image", "probe_video"]
