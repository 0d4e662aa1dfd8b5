"""Synthesize tiny, real media files with PyAV for the tests (no binary fixtures in the repo)."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AUDIO_KINDS = {
    # kind: (codec, layout, sample_rate, encoder sample format)
    "aac": ("aac", "stereo", 48000, "fltp"),
    "aac51": ("aac", "5.1", 48000, "fltp"),
    "ac3": ("ac3", "stereo", 48000, "fltp"),
    "ac351": ("ac3", "5.1(side)", 48000, "fltp"),
    "pcm": ("pcm_s16le", "stereo", 16000, "s16"),
    "mp3": ("libmp3lame", "stereo", 44100, "s16p"),
    "mp2": ("mp2", "stereo", 48000, "s16"),
    "opus": ("libopus", "stereo", 48000, "s16"),
    "alac": ("alac", "stereo", 48000, "s16p"),  # lossless; Matroska stores its packets without durations
}

VFR_PATTERN_MS = (40, 40, 80, 33, 50, 120, 40, 67)


def frame_rgb(i: int, width: int, height: int, gray: bool) -> np.ndarray:
    """One synthetic RGB picture: a gradient background and moving shapes."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    base = (xx * 200 // max(width - 1, 1) + 20).astype(np.uint8)
    img[..., 0] = base
    img[..., 1] = (yy * 180 // max(height - 1, 1) + 30).astype(np.uint8)
    img[..., 2] = ((xx + yy + 7 * i) % 256).astype(np.uint8)
    s = max(min(width, height) // 4, 2)
    x0 = (3 * i) % max(width - s, 1)
    y0 = (2 * i) % max(height - s, 1)
    img[y0 : y0 + s, x0 : x0 + s] = (230, 40, 40)
    x1 = (width - s - 2 * i) % max(width - s, 1)
    img[height // 2 : height // 2 + s, x1 : x1 + s] = (40, 60, 220)
    if gray:
        luma = (0.2126 * img[..., 0] + 0.7152 * img[..., 1] + 0.0722 * img[..., 2]).astype(np.uint8)
        img[:] = luma[..., None]
    return img


def _video_codec_for(pix_fmt: str, ext: str) -> str:
    if pix_fmt in ("gray", "gray10le", "gray16le") and ext in (".mkv", ".avi"):
        return "ffv1"  # h264 decoders hand 4:0:0 back as yuv420p; ffv1 keeps a true gray format
    if pix_fmt in ("rgb24", "bgr24", "gbrp"):
        return "libx264rgb" if ext in (".mp4", ".mov", ".mkv") else "ffv1"
    return "libx264"


def _audio_frames(kind: str, duration_s: float, stream: av.audio.stream.AudioStream):
    codec, layout, rate, fmt = AUDIO_KINDS[kind]
    channels = av.AudioLayout(layout).nb_channels
    frame_size = stream.codec_context.frame_size or 1024
    total = int(duration_s * rate)
    t0 = 0
    while t0 < total:
        n = min(frame_size, total - t0)
        if stream.codec_context.frame_size and n < frame_size:
            n = frame_size  # fixed-size encoders need full frames; a few samples of padding is fine
        t = (np.arange(t0, t0 + n) / rate)[None, :]
        freqs = (220.0 * (1 + np.arange(channels)))[:, None]
        wave = 0.3 * np.sin(2 * np.pi * freqs * t)
        if fmt == "fltp":
            data = wave.astype(np.float32)
        elif fmt == "s16p":
            data = (wave * 32767).astype(np.int16)
        else:  # packed s16
            data = (wave.T * 32767).astype(np.int16).reshape(1, -1)
        af = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        af.sample_rate = rate
        af.pts = t0
        af.time_base = Fraction(1, rate)
        yield af
        t0 += n


def _add_audio_stream(out: av.container.OutputContainer, kind: str) -> av.audio.stream.AudioStream:
    """An audio stream of AUDIO_KINDS[kind] (codec, layout, rate, sample format) in `out`."""
    codec, layout, rate, fmt = AUDIO_KINDS[kind]
    stream = out.add_stream(codec, rate=rate, layout=layout)
    stream.codec_context.format = fmt
    return stream


def _encode_gray_pictures(out: av.container.OutputContainer, vs: av.video.stream.VideoStream, count: int,
                          fps: int, first_pts: int = 0) -> None:
    """Encode the gray test pictures 0..count-1 (frame_rgb) into `vs` at pts first_pts.., encoder flush included."""
    for i in range(count):
        rgb = frame_rgb(i, vs.width, vs.height, True)
        f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=vs.pix_fmt)
        f.pts, f.time_base = first_pts + i, Fraction(1, fps)
        for p in vs.encode(f):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)


def _mux_audio(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, kind: str,
               duration_s: float) -> None:
    """Encode `duration_s` of the test tone into `stream` and mux it, encoder flush included."""
    for af in _audio_frames(kind, duration_s, stream):
        out.mux(stream.encode(af))
    out.mux(stream.encode())


def make_clip(
    path: str | Path,
    *,
    width: int = 96,
    height: int = 64,
    frames: int = 24,
    fps: int = 24,
    gray: bool = True,
    audio: str | None = None,
    rotation: int = 0,
    vfr: bool = False,
    subtitles: bool = False,
    pix_fmt: str = "yuv420p",
    full_range: bool = False,
    title: str | None = None,
    chapters: bool = False,
    language: str | None = None,
    sar: Fraction | None = None,
    gop: int = 12,
    b_frames: int | None = None,
    timecode: str | None = None,
) -> Path:
    """Write a small real clip; the container follows the file extension.

    `b_frames`: libx264's B-frames (default 2, none in AVI, which has no presentation times to reorder by).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if pix_fmt == "yuv420p" and (width % 2 or height % 2):
        pix_fmt = "yuv444p"  # libx264 refuses odd sizes in 4:2:0
    out = av.open(str(path), "w")
    try:
        codec = _video_codec_for(pix_fmt, ext)
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = pix_fmt
        if vfr:
            tb = Fraction(1, 1000)
            vs.codec_context.time_base = tb
            vs.time_base = tb
        else:
            tb = Fraction(1, fps)
            vs.codec_context.time_base = tb
        vs.codec_context.gop_size = gop
        if codec.startswith("libx264"):
            bf = b_frames if b_frames is not None else (0 if ext == ".avi" else 2)
            vs.codec_context.options = {"preset": "ultrafast", "crf": "18", "bf": str(bf)}
        vs.codec_context.color_range = 2 if full_range else 1
        if sar is not None:
            vs.codec_context.sample_aspect_ratio = sar
        if rotation:
            vs.set_display_rotation(rotation)
        if language:
            vs.metadata["language"] = language
        if timecode:
            vs.metadata["timecode"] = timecode  # MOV/MP4: a tmcd track; Matroska: a TIMECODE tag

        aus = None
        if audio:
            aus = _add_audio_stream(out, audio)
            if language:
                aus.metadata["language"] = language

        ss = None
        if subtitles:
            scodec = "subrip" if ext == ".mkv" else "mov_text"
            ss = out.add_mux_stream(scodec, time_base=Fraction(1, 1000))
            ss.metadata["language"] = language or "eng"

        if title:
            out.metadata["title"] = title
        duration_ms = 0
        pts_list = []
        for i in range(frames):
            pts_ms = sum(VFR_PATTERN_MS[j % len(VFR_PATTERN_MS)] for j in range(i)) if vfr else None
            pts_list.append(pts_ms if vfr else i)
        if vfr:
            duration_ms = pts_list[-1] + VFR_PATTERN_MS[(frames - 1) % len(VFR_PATTERN_MS)]
        else:
            duration_ms = frames * 1000 // fps
        if chapters:
            half = duration_ms // 2
            out.set_chapters(
                [
                    {"id": 1, "start": 0, "end": half, "time_base": Fraction(1, 1000), "metadata": {"title": "One"}},
                    {"id": 2, "start": half, "end": duration_ms, "time_base": Fraction(1, 1000), "metadata": {"title": "Two"}},
                ]
            )

        for i, pts in enumerate(pts_list):
            rgb = frame_rgb(i, width, height, gray)
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pix_fmt not in ("rgb24",):
                f = f.reformat(format=pix_fmt, dst_colorspace="itu709", dst_color_range=2 if full_range else 1)
            f.color_range = 2 if full_range else 1
            f.pts = pts
            f.time_base = tb
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)

        if aus is not None:
            _mux_audio(out, aus, audio, duration_ms / 1000.0)

        if ss is not None:
            for k, (start, text) in enumerate([(100, b"Hello"), (duration_ms // 2, b"World")]):
                data = text if ext == ".mkv" else struct.pack(">H", len(text)) + text
                pk = av.Packet(data)
                pk.pts = pk.dts = start
                pk.duration = 300
                pk.time_base = Fraction(1, 1000)
                pk.stream = ss
                out.mux(pk)
    finally:
        out.close()
    return path


BROADCAST_CODECS = {  # containers vidcolor reads but does not write: (video codec, AUDIO_KINDS key)
    ".mpg": ("mpeg2video", "mp2"),  # MPEG program stream, as from DVDs and capture cards
    ".ts": ("libx264", "ac3"),  # MPEG transport stream, as from DVB recordings
    ".webm": ("libvpx-vp9", "opus"),
}


def make_broadcast_clip(path: str | Path, *, width: int = 96, height: int = 64, frames: int = 12,
                        fps: int = 25) -> Path:
    """A gray clip with a second of sound in a container of BROADCAST_CODECS (by extension)."""
    path = Path(path)
    vcodec, audio = BROADCAST_CODECS[path.suffix]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        aus = _add_audio_stream(out, audio)
        _encode_gray_pictures(out, vs, frames, fps)
        _mux_audio(out, aus, audio, 1.0)
    return path


ADTS_SYNC = b"\xff\xf1"  # the start of an ADTS header (MPEG-4 AAC, no CRC), as AAC is carried in MPEG-TS


def make_damaged_aac_ts(path: str | Path, *, frames: int = 24, fps: int = 24) -> Path:
    """An MPEG-TS of gray H.264 and AAC (ADTS) in which the first 4 bytes of the first AAC frame after the middle
    of the file are zeroed, as a dropout in a DVB recording does: FFmpeg still reads it and every video frame
    decodes, but the AAC parser resyncs into packets that are no ADTS frames (here 2 of them)."""
    path = Path(path)
    with av.open(str(path), "w", format="mpegts") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "bf": "0"}
        aus = _add_audio_stream(out, "aac")
        _encode_gray_pictures(out, vs, frames, fps)
        _mux_audio(out, aus, "aac", frames / fps)
    data = bytearray(path.read_bytes())
    pos = data.index(ADTS_SYNC, len(data) // 2)
    data[pos : pos + 4] = bytes(4)
    path.write_bytes(bytes(data))
    return path


def make_non_video(path: str | Path, kind: str = "text") -> Path:
    """Write a file that is not a video: plain text, or an audio-only file (kind='audio')."""
    path = Path(path)
    if kind == "text":
        path.write_text("this is not a video\n" * 20)
        return path
    out = av.open(str(path), "w")
    try:
        aus = out.add_stream("aac", rate=48000, layout="stereo")
        _mux_audio(out, aus, "aac", 0.2)
    finally:
        out.close()
    return path


def read_packets(path: str | Path, kind: str = "audio") -> list[tuple[bytes, Fraction, Fraction]]:
    """(bytes, pts seconds, dts seconds) of every non-empty packet of the first stream of a kind."""
    res = []
    with av.open(str(path)) as c:
        st = getattr(c.streams, {"audio": "audio", "subtitle": "subtitles"}[kind])[0]
        for p in c.demux(st):
            if p.size == 0 or p.dts is None:
                continue
            res.append((bytes(p), p.pts * st.time_base, p.dts * st.time_base))
    return res


def read_frames(path: str | Path) -> list[tuple[Fraction, np.ndarray]]:
    """(pts seconds, Y plane copy) of every decoded video frame."""
    res = []
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        for f in c.decode(st):
            pl = f.planes[0]
            y = np.frombuffer(pl, np.uint8).reshape(pl.height, pl.line_size)[:, : f.width].copy()
            res.append((f.pts * st.time_base, y))
    return res


# ---------------------------------------------------------------- robustness helpers (issue 7)


def make_image_file(path: str | Path, width: int = 64, height: int = 48) -> Path:
    """Write a real PNG picture at `path` whatever its extension (an image posing as a video)."""
    path = Path(path)
    frame = av.VideoFrame.from_ndarray(frame_rgb(0, width, height, gray=False), format="rgb24")
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as out:
        st = out.add_stream("png", rate=1)
        st.width, st.height, st.pix_fmt = width, height, "rgb24"
        for p in st.encode(frame):
            out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path


def truncate_file(path: str | Path, keep_fraction: float = 0.5) -> Path:
    """Cut a file to the first keep_fraction of its bytes (a copy interrupted half way)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def make_zero_frame_clip(path: str | Path, width: int = 64, height: int = 48) -> Path:
    """A container whose video stream is declared but holds no frame at all."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast"}
        out.start_encoding()
    return path


def make_corrupt_clip(
    path: str | Path,
    *,
    corrupt: tuple[int, ...] = (9, 10, 11),
    seed: int = 7,
    **clip_kwargs,
) -> Path:
    """A clip (make_clip arguments) whose video packets at the given demux positions hold random bytes.

    The container stays valid: only the payload of those packets (after its first 4 bytes) is garbage,
    as on a scratched tape.
    """
    path = make_clip(path, **clip_kwargs)
    with av.open(str(path)) as c:
        spans = [(p.pos, p.size) for p in c.demux(video=0) if p.size and p.pos is not None]
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    for k in corrupt:
        start, size = spans[k]
        data[start + 4 : start + size] = rng.integers(0, 256, size - 4, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def make_multi_stream_clip(
    path: str | Path,
    *,
    audio: tuple[str, ...] = ("aac", "ac3", "aac"),
    width: int = 96,
    height: int = 64,
    frames: int = 12,
    fps: int = 24,
) -> Path:
    """A gray clip with several audio streams (one per kind in `audio`), each tagged with a language."""
    path = Path(path)
    languages = ("eng", "fra", "deu", "ita", "spa", "nld")
    out = av.open(str(path), "w")
    try:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = Fraction(1, fps)
        vs.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        streams = []
        for k, kind in enumerate(audio):
            acodec, layout, rate, fmt = AUDIO_KINDS[kind]
            s = out.add_stream(acodec, rate=rate, layout=layout)
            s.codec_context.format = fmt
            s.metadata["language"] = languages[k % len(languages)]
            streams.append((kind, s))
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(frame_rgb(i, width, height, True), format="rgb24")
            f = f.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
            f.pts = i
            f.time_base = Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for kind, s in streams:
            _mux_audio(out, s, kind, frames / fps)
    finally:
        out.close()
    return path


def make_size_change_ts(path: str | Path, *, frames_each: int = 12) -> Path:
    """An MPEG transport stream whose picture size changes half-way (160x96, then 320x192), as a DVB recording
    does when an SD programme gives way to an HD one: two recordings joined byte for byte."""
    path = Path(path)
    parts = []
    for k, (w, h) in enumerate(((160, 96), (320, 192))):
        buf = io.BytesIO()
        with av.open(buf, "w", format="mpegts") as out:
            vs = out.add_stream("libx264", rate=25)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.codec_context.options = {"preset": "ultrafast", "bf": "0"}
            _encode_gray_pictures(out, vs, frames_each, 25, first_pts=k * frames_each)
        parts.append(buf.getvalue())
    path.write_bytes(b"".join(parts))
    return path


def make_dv_clip(path: str | Path, *, frames: int = 6) -> Path:
    """PAL DV (720x576, interlaced, bottom field first by the DV standard), in .dv or .avi."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("dvvideo", rate=25)
        vs.width, vs.height, vs.pix_fmt = 720, 576, "yuv420p"
        _encode_gray_pictures(out, vs, frames, 25)
    return path


def make_interlaced_clip(path: str | Path, *, width: int = 96, height: int = 64, frames: int = 12) -> Path:
    """A gray h264 clip coded as interlaced fields (top field first)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 25)
        vs.codec_context.options = {"preset": "ultrafast", "crf": "18", "x264-params": "tff=1"}
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(frame_rgb(i, width, height, True), format="rgb24")
            f = f.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
            f.pts = i
            f.time_base = Fraction(1, 25)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path
