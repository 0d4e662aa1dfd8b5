"""End-to-end `colorize_video` on real little clips: timing, sound, size, rotation kept; luma untouched."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import media_factory as mf
from vidcolor.errors import ConfigError
from vidcolor.model.colorizer import Colorizer
import vidcolor.pipeline.colorize as colorize_module
from vidcolor.pipeline.colorize import RunOptions, check_output_path, colorize_video, default_output_path
from vidcolor.pipeline.config import load_pipeline_config

FAST = load_pipeline_config("default").replace(x264_preset="ultrafast", batch_size=4, keyframe_lookahead_frames=6)


@pytest.fixture(scope="module")
def tiny(tiny_model) -> Colorizer:
    return Colorizer(tiny_model, device="cpu")


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".vidcolor-tmp-" in p.name]


def _chroma_std(path: Path) -> float:
    """Spread of the Cb/Cr planes over the whole output (0 for a gray video)."""
    values = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            arr = frame.to_ndarray(format="yuv444p")
            values.append(arr[1:].astype(np.float32))
    return float(np.std(np.stack(values)))


@pytest.mark.parametrize("name,audio", [("a.mp4", "aac"), ("b.mkv", "ac3"), ("c.mkv", "aac51"), ("d.mov", "aac")])
def test_frames_timestamps_and_audio_survive(clip_factory, tiny, tmp_path, name, audio):
    src = clip_factory(name, audio=audio, frames=30)
    out = tmp_path / f"out{src.suffix}"
    stats = colorize_video(src, out, FAST, tiny, RunOptions(progress=False))
    assert stats.frames == 30 and out.is_file()
    src_frames, out_frames = mf.read_frames(src), mf.read_frames(out)
    assert [t for t, _ in out_frames] == [t for t, _ in src_frames]
    assert mf.read_packets(out, "audio") == mf.read_packets(src, "audio")
    for (_, y_in), (_, y_out) in zip(src_frames, out_frames):  # luma passes through (encoder noise only)
        assert np.abs(y_in.astype(int) - y_out.astype(int)).mean() < 2.0
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert b.streams.audio[0].codec_context.channels == a.streams.audio[0].codec_context.channels
        fd = 1 / 24
        assert abs(float(b.duration - a.duration) / 1e6) <= fd + 1e-6
    assert not _temp_files(tmp_path)


def test_odd_size_rotation_and_vfr(clip_factory, tiny, tmp_path):
    src = clip_factory("odd.mp4", width=65, height=49, rotation=90, vfr=True, frames=20)
    out = tmp_path / "odd.out.mp4"
    colorize_video(src, out, FAST, tiny, RunOptions(progress=False))
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        assert (vs.codec_context.width, vs.codec_context.height) == (65, 49)
        first = next(c.decode(video=0))
        assert abs(first.rotation) == 90
    assert [t for t, _ in mf.read_frames(out)] == [t for t, _ in mf.read_frames(src)]


def test_global_features_are_reused_within_a_shot(clip_factory, tiny, tmp_path):
    src = clip_factory("shot.mp4", frames=48)
    stats = colorize_video(src, tmp_path / "o.mp4", FAST, tiny, RunOptions(progress=False))
    assert stats.global_calls == stats.groups * FAST.keyframe_samples
    assert stats.global_calls * 10 <= stats.frames
    per_frame = colorize_video(src, tmp_path / "p.mp4", FAST, tiny, RunOptions(progress=False, reuse_global=False))
    assert per_frame.global_calls == 48


def test_shipped_model_colours_the_sample_clip(sample_clip, shipped_model, tmp_path):
    clip = tmp_path / "short.mp4"
    with av.open(str(sample_clip)) as src, av.open(str(clip), "w") as dst:  # first second only, keeps it fast
        vs = dst.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == 25:
                break
            frame.pts = None
            dst.mux(vs.encode(frame))
        dst.mux(vs.encode(None))
    assert _chroma_std(clip) < 0.5  # the input really is gray
    out = tmp_path / "short.color.mp4"
    colorize_video(clip, out, FAST, Colorizer(shipped_model, device="cpu"), RunOptions(progress=False))
    assert _chroma_std(out) > 2.0


def test_existing_output_needs_overwrite_and_input_is_never_the_output(gray_clip, tiny, tmp_path):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(ConfigError, match="--overwrite"):
        colorize_video(gray_clip, out, FAST, tiny, RunOptions(progress=False))
    assert out.read_bytes() == b"keep me"
    colorize_video(gray_clip, out, FAST, tiny, RunOptions(progress=False, overwrite=True))
    assert out.stat().st_size > 1000
    with pytest.raises(ConfigError, match="input"):
        colorize_video(gray_clip, gray_clip, FAST, tiny, RunOptions(progress=False, overwrite=True))
    named = mf.make_clip(tmp_path / "a.b.mkv", frames=2)
    assert default_output_path(named) == tmp_path / "a.b.color.mkv"


def test_namesakes_in_other_containers_get_distinct_default_outputs(tmp_path):
    ts = mf.make_clip(tmp_path / "tc.ts", frames=2)  # written as Matroska
    mkv = mf.make_clip(tmp_path / "tc.mkv", frames=2)  # kept as it is
    assert default_output_path(mkv) == tmp_path / "tc.color.mkv"
    assert default_output_path(ts) == tmp_path / "tc.ts.color.mkv"  # not the .mkv film's tc.color.mkv
    alone = mf.make_clip(tmp_path / "solo.ts", frames=2)
    assert default_output_path(alone) == tmp_path / "solo.color.mkv"
    (tmp_path / "solo.color.mkv").write_bytes(b"solo.ts colorized before solo.mkv came")
    late = mf.make_clip(tmp_path / "solo.mkv", frames=2)
    with pytest.raises(ConfigError, match="maybe the colorized copy of solo.ts; give this film another name with -o"):
        check_output_path(late, default_output_path(late), overwrite=False)


def test_an_input_written_to_while_it_is_read_is_said(tiny, tmp_path, monkeypatch, caplog):
    film = mf.make_clip(tmp_path / "copying.mkv", frames=12)
    real_write = colorize_module.MediaSink.write_frame
    grown = []

    def write_while_copying(self, *args):
        if not grown:  # the copy goes on while the film is read
            with open(film, "ab") as f:
                f.write(b"\0" * 4096)
            grown.append(True)
        return real_write(self, *args)

    monkeypatch.setattr(colorize_module.MediaSink, "write_frame", write_while_copying)
    with caplog.at_level("WARNING"):
        stats = colorize_video(film, tmp_path / "out.mkv", FAST, tiny, RunOptions(progress=False))
    assert stats.input_changed and "copying.mkv changed while it was read" in caplog.text
    monkeypatch.setattr(colorize_module.MediaSink, "write_frame", real_write)
    caplog.clear()
    with caplog.at_level("WARNING"):
        again = colorize_video(film, tmp_path / "out.mkv", FAST, tiny, RunOptions(progress=False, overwrite=True))
    assert not again.input_changed and "changed while" not in caplog.text


def test_failure_mid_run_leaves_no_file(gray_clip, tiny, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = tiny.predict_ab

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("model exploded")
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny, "predict_ab", flaky)
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError, match="exploded"):
        colorize_video(gray_clip, out, FAST, tiny, RunOptions(progress=False))
    assert not out.exists()
    assert not _temp_files(tmp_path)


@pytest.mark.parametrize("calls", [1, 2])
def test_a_long_shot_is_streamed_with_bounded_memory(clip_factory, tiny, tmp_path, monkeypatch, calls):
    """One 400-frame shot with no cut and no time split: the model stage never holds more than
    the keyframe lookahead plus the batches in flight, however long the shot."""
    src = clip_factory("long.mp4", width=64, height=48, frames=400, fps=25)
    config = FAST.replace(max_group_seconds=1000.0, model_calls_in_flight=calls)
    seen = {}
    real_run = colorize_module.ChromaPredictor.run

    def spy(self, source, out):
        real_run(self, source, out)
        seen["max_pending"] = self.max_pending

    monkeypatch.setattr(colorize_module.ChromaPredictor, "run", spy)
    stats = colorize_video(src, tmp_path / "long.out.mp4", config, tiny, RunOptions(progress=False))
    assert stats.frames == 400 and stats.groups == 1 and stats.global_calls == config.keyframe_samples
    assert seen["max_pending"] <= config.keyframe_lookahead_frames + calls * config.batch_size + 1


def _luma10(path: Path) -> list[np.ndarray]:
    """Each frame's Y plane in 10-bit code values (an 8-bit file's codes times 4)."""
    with av.open(str(path)) as c:
        planes = []
        for f in c.decode(video=0):
            deep = f.format.name.endswith("10le")
            p = f.planes[0]
            y = np.frombuffer(p, np.uint16 if deep else np.uint8).reshape(p.height, -1)[:, :f.width]
            planes.append(y.astype(int) * (1 if deep else 4))
    return planes


def test_a_10_bit_master_keeps_its_10_bit_luma(clip_factory, tiny, tmp_path):
    """With keep_10_bit the luma written is the source's at 10 bits (crf 0: only x264's rounding), not the
    8-bit copy's quarter-steps; an 8-bit source is still written 8-bit."""
    src = clip_factory("master.mkv", pix_fmt="yuv420p10le", gray=False, frames=6)
    config = FAST.replace(crf=0)
    source_luma = _luma10(src)
    errors = {}
    for keep in (True, False):
        out = tmp_path / f"keep{keep}.mkv"
        colorize_video(src, out, config.replace(keep_10_bit=keep), tiny, RunOptions(progress=False))
        with av.open(str(out)) as c:
            assert c.streams.video[0].codec_context.pix_fmt == ("yuv420p10le" if keep else "yuv420p")
        errors[keep] = np.mean([np.abs(a - b).mean() for a, b in zip(source_luma, _luma10(out))])
    assert errors[True] < 0.5 < errors[False]
    eight = tmp_path / "eight.out.mkv"
    colorize_video(clip_factory("eight.mkv", frames=4), eight, config.replace(keep_10_bit=True), tiny,
                   RunOptions(progress=False))
    with av.open(str(eight)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_queues_hold_fewer_frames_when_frames_are_large():
    """Three queues of 48 4K frames held 3.1 GiB (10-bit: 6 GiB); they are sized by bytes, within bounds."""
    depth = colorize_module.queue_depth
    assert depth(48, 640 * 360 * 3 // 2) == 48  # small frames: the preset's depth
    uhd_8bit, uhd_10bit = 3840 * 2160 * 3 // 2, 3840 * 2160 * 3
    assert 8 <= depth(48, uhd_8bit) <= 12 and depth(48, uhd_10bit) == colorize_module.MIN_QUEUE_FRAMES
    assert depth(48, uhd_8bit) * uhd_8bit <= colorize_module.QUEUE_BUDGET_BYTES


def _x264_threads(path: Path) -> int:
    """The thread count libx264 records in its settings message at the start of the stream."""
    with av.open(str(path)) as c:
        for packet in c.demux(video=0):
            data = bytes(packet)
            at = data.find(b" threads=")
            if at >= 0:
                return int(data[at + 9:].split(b" ")[0])
    raise AssertionError("no x264 settings message in the stream")


def test_encoder_threads_follow_the_config(clip_factory, tiny, tmp_path):
    src = clip_factory("big.mp4", width=320, height=240, frames=8)  # tall enough for x264 to use 2 threads
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}.mp4"
        colorize_video(src, out, FAST.replace(encode_threads=threads, decode_threads=threads), tiny,
                       RunOptions(progress=False))
        assert _x264_threads(out) == threads


def test_negative_thread_counts_are_refused():
    with pytest.raises(ConfigError, match="encode_threads"):
        FAST.replace(encode_threads=-1)


def test_opencv_threads_are_capped_for_the_run_and_restored(clip_factory, tiny, tmp_path, monkeypatch):
    src = clip_factory("cv.mp4", frames=4)
    seen = []
    real_compose = colorize_module.ChromaComposer.compose

    def spy(self, item):
        seen.append(cv2.getNumThreads())
        return real_compose(self, item)

    monkeypatch.setattr(colorize_module.ChromaComposer, "compose", spy)
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(16)
        colorize_video(src, tmp_path / "auto.mp4", FAST, tiny, RunOptions(progress=False))
        assert set(seen) == {colorize_module.OPENCV_AUTO_MAX_THREADS} and cv2.getNumThreads() == 16
        seen.clear()
        colorize_video(src, tmp_path / "one.mp4", FAST.replace(opencv_threads=1), tiny, RunOptions(progress=False))
        assert set(seen) == {1} and cv2.getNumThreads() == 16
    finally:
        cv2.setNumThreads(before)
    with pytest.raises(ConfigError, match="opencv_threads"):
        FAST.replace(opencv_threads=-1)


def test_each_batch_is_handed_on_as_soon_as_it_is_done():
    """At a group's start the lookahead holds several batches; the compose stage gets the first one
    while the model works on the next, not all of them at the end."""
    config = FAST.replace(batch_size=2, keyframe_lookahead_frames=6, keyframe_samples=1)
    sent: list = []

    class Recorder:  # stands in for the Colorizer: notes how many frames were handed on before each batch
        model_id, global_calls = "recorder", 0
        handed_on_before_batch: list[int] = []

        def scene_features(self, grays):
            return np.zeros((1, 1), np.float32)

        def predict_ab(self, gray, vecs, temperature=None):
            self.handed_on_before_batch.append(len(sent))
            return np.zeros((*gray.shape, 2), np.float32)

    class Out:
        def put(self, item):
            sent.append(item)

    frames = [colorize_module.WorkFrame(luma=None, gray=np.zeros((4, 4), np.uint8), cut=i == 0, group_start=i == 0)
              for i in range(6)]
    recorder = Recorder()
    colorize_module.ChromaPredictor(recorder, config).run(iter(frames), Out())
    assert recorder.handed_on_before_batch == [0, 2, 4]
    assert sent[:6] == frames and sent[6] is colorize_module.END


@pytest.mark.parametrize("source_hw", [(1080, 1920), (2160, 3840), (720, 1280), (360, 640)])
def test_frames_are_area_averaged_to_working_size(source_hw):
    h, w = source_hw
    work_hw = colorize_module.working_size(h, w, 192)
    rng = np.random.default_rng(3)
    scene = cv2.resize(rng.integers(0, 256, (45, 80), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    frame = cv2.add(scene, rng.integers(0, 24, (h, w), dtype=np.uint8))  # film grain on top of the shapes
    tv_to_full = colorize_module.luma_to_gray_lut("tv")
    small = colorize_module.shrink_luma(frame, work_hw, tv_to_full)
    exact = cv2.resize(cv2.LUT(frame, tv_to_full), (work_hw[1], work_hw[0]), interpolation=cv2.INTER_AREA)
    assert small.shape == work_hw
    # The same picture as the exact area mean of the full-range plane (a plain bilinear shrink is 3.6-4.8 off).
    assert np.abs(small.astype(int) - exact.astype(int)).mean() < 0.5
