"""Frames as players show them: the stream's pixel aspect ratio and display rotation applied."""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.media.frames import VideoInfo


def display_view(img: np.ndarray, info: VideoInfo) -> np.ndarray:
    """A frame as players show it: non-square pixels stretched, display rotation applied."""
    sar = info.sample_aspect_ratio
    if sar and sar != 1:
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(1, round(w * sar)), h), interpolation=cv2.INTER_LINEAR)
    turns = (info.rotation_degrees // 90) % 4  # the display matrix angle is counter-clockwise
    return np.ascontiguousarray(np.rot90(img, turns)) if turns else img
