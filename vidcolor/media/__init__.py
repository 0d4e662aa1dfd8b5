"""Media layer: decode luma with PyAV, encode original Y + predicted chroma, copy the other streams.

container: open a film (one-line errors); source: read it (luma frames, kept packets, seeking); timeline: frame
numbers from packets; sink: write the colorized film atomically; display: frames as players show them;
temp_files: temp names and atomic writes; probe: is this a video file; frames: the plain data passed on.
"""

from vidcolor.media.frames import LumaFrame, VideoInfo
from vidcolor.media.probe import is_video_file, video_error
from vidcolor.media.sink import MediaSink, build_frame, chroma_shape_for, output_pix_fmt, writable_suffix
from vidcolor.media.source import MediaSource, luma_of

__all__ = [
    "LumaFrame",
    "MediaSink",
    "MediaSource",
    "VideoInfo",
    "build_frame",
    "chroma_shape_for",
    "is_video_file",
    "luma_of",
    "output_pix_fmt",
    "video_error",
    "writable_suffix",
]
