"""Tell video files from everything else by their content, not their name."""

from __future__ import annotations

import os
from pathlib import Path

from vidcolor.errors import MediaError


def video_error(path: str | os.PathLike) -> str | None:
    """None when `path` is a readable video file, else the one-sentence reason it is not."""
    from vidcolor.media.source import MediaSource

    try:
        with MediaSource(path):
            return None
    except MediaError as e:
        return str(e)


def is_video_file(path: str | os.PathLike) -> bool:
    """True when `path` opens with PyAV and has a video stream with a decodable frame."""
    p = Path(path)
    if not p.is_file() or p.name.startswith(".") and ".vidcolor-tmp-" in p.name:
        return False
    return video_error(p) is None
