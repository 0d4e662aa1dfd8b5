"""Speed plumbing (issue 8): OOM recovery by halving, overlapped stages, exact inference shortcuts."""

from __future__ import annotations

import threading
import time
import weakref

import numpy as np
import pytest
import torch

import vidcolor.pipeline.colorize as colorize_mod
from vidcolor.errors import ConfigError
from vidcolor.model.colorizer import Colorizer, fold_batch_norms
from vidcolor.model.unet import ColorNet, NetConfig
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config

FAST = load_pipeline_config("fast").replace(batch_size=8)


# What a GPU raises for a batch larger than it can take: out of memory, or (measured on an H100 with
# a 5999-frame batch that fit in its memory) a kernel's 32-bit index limit.
TOO_LARGE = {
    "oom": lambda: torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)"),
    "int_max": lambda: RuntimeError("upsample_bilinear2d_nhwc only supports output tensors with less than "
                                    "INT_MAX elements, but got [5999, 128, 48, 84]"),
}


class _OomAbove:
    """Wraps the colour net: raises CUDA's out-of-memory error (or `error`) for batches larger than `limit`."""

    def __init__(self, net, limit: int, error=TOO_LARGE["oom"]):
        self.net, self.limit, self.error, self.sizes = net, limit, error, []

    def __getattr__(self, name):
        return getattr(self.net, name)

    def __call__(self, x, vec):
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise self.error()
        return self.net(x, vec)


@pytest.mark.parametrize("error", sorted(TOO_LARGE))
def test_out_of_memory_halves_the_batch_and_skips_no_frame(tiny_model, error):
    c = Colorizer(tiny_model, device="cpu", precision="fp32")
    gray = np.random.default_rng(1).integers(0, 256, size=(7, 64, 96), dtype=np.uint8)
    vec = c.global_features(gray[0])
    expected = np.concatenate([c.predict_ab(g[None], vec) for g in gray])
    c.net = _OomAbove(c.net, limit=2, error=TOO_LARGE[error])
    got = c.predict_ab(gray, vec)
    assert got.shape == (7, 64, 96, 2)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert c.oom_splits >= 1 and c.max_batch <= 2
    c.net.sizes.clear()
    c.predict_ab(gray, vec)  # later batches are pre-split: no new out-of-memory attempt
    assert max(c.net.sizes) <= 2


class _OomHoldingMemory(_OomAbove):
    """Like _OomAbove, but each call holds an activation in its frame, as a real net's forward does, and
    records whether the last failed call's activation was still alive when the next call began."""

    def __init__(self, net, limit: int):
        super().__init__(net, limit)
        self.failed_activation = None
        self.alive_at_next_call: list[bool] = []

    def __call__(self, x, vec):
        if self.failed_activation is not None:
            self.alive_at_next_call.append(self.failed_activation() is not None)
        activation = torch.empty(x.shape[0], 64, 1024)
        self.failed_activation = weakref.ref(activation) if x.shape[0] > self.limit else None
        return super().__call__(x, vec)


def test_out_of_memory_retry_frees_the_failed_attempt_first(tiny_model):
    # Retrying inside the except block keeps the traceback, and with it the failed attempt's tensors
    # (on a GPU: its memory), alive; found on an H100 that then ran out again at every halving.
    c = Colorizer(tiny_model, device="cpu", precision="fp32")
    c.net = _OomHoldingMemory(c.net, limit=2)
    gray = np.zeros((4, 32, 32), np.uint8)
    assert c.predict_ab(gray, c.global_features(gray[0])).shape[0] == 4
    assert c.net.alive_at_next_call == [False]


def test_other_runtime_errors_are_not_taken_for_a_batch_too_large(tiny_model):
    c = Colorizer(tiny_model, device="cpu")
    c.net = _OomAbove(c.net, limit=0, error=lambda: RuntimeError("expected scalar type Float but found Half"))
    gray = np.zeros((4, 32, 32), np.uint8)
    with pytest.raises(RuntimeError, match="scalar type"):
        c.predict_ab(gray, c.global_features(gray[0]))
    assert c.net.sizes == [4] and c.oom_splits == 0


def test_out_of_memory_at_batch_one_is_raised(tiny_model):
    c = Colorizer(tiny_model, device="cpu")
    c.net = _OomAbove(c.net, limit=0)
    gray = np.zeros((3, 32, 32), np.uint8)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        c.predict_ab(gray, c.global_features(gray[0]))


def test_pipeline_under_out_of_memory_writes_every_frame(tiny_model, clip_factory, tmp_path):
    clip = clip_factory("oom.mp4", frames=30, width=96, height=64)
    c = Colorizer(tiny_model, device="cpu")
    c.net = _OomAbove(c.net, limit=2)
    stats = colorize_video(clip, tmp_path / "out.mp4", FAST, c, RunOptions(progress=False))
    assert stats.frames == 30 and c.oom_splits >= 1
    import av

    with av.open(str(tmp_path / "out.mp4")) as out:
        assert sum(1 for _ in out.decode(video=0)) == 30


def test_model_and_compose_stages_overlap(tiny_model, clip_factory, tmp_path, monkeypatch):
    """The model and compose stages run in their own threads and work at the same time (not in turns)."""
    frames, delay_s = 24, 0.03
    clip = clip_factory("overlap.mp4", frames=frames, width=96, height=64)
    c = Colorizer(tiny_model, device="cpu")
    config = FAST.replace(batch_size=1)
    busy: dict[str, list[tuple[float, float, str]]] = {"model": [], "compose": []}
    real_predict, real_planes = c.predict_ab, colorize_mod.chroma_planes

    def timed(kind, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            time.sleep(delay_s)  # GIL-free work stand-in
            out = fn(*args, **kwargs)
            busy[kind].append((t0, time.perf_counter(), threading.current_thread().name))
            return out
        return wrapper

    monkeypatch.setattr(c, "predict_ab", timed("model", real_predict))
    monkeypatch.setattr(colorize_mod, "chroma_planes", timed("compose", real_planes))
    stats = colorize_video(clip, tmp_path / "b.mp4", config, c, RunOptions(progress=False))
    assert stats.frames == frames
    model_threads = {name for *_, name in busy["model"]}
    compose_threads = {name for *_, name in busy["compose"]}
    assert model_threads.isdisjoint(compose_threads) and threading.main_thread().name not in compose_threads
    overlapping = sum(1 for a0, a1, _ in busy["model"] for b0, b1, _ in busy["compose"] if a0 < b1 and b0 < a1)
    assert overlapping >= frames // 4, overlapping


def test_two_model_batches_run_at_once_and_leave_in_order():
    """With two calls in flight a slow batch does not hold the next one back, and the frames (with the
    packets between them) still leave in order, each with its own chroma."""
    config = FAST.replace(batch_size=2, keyframe_lookahead_frames=2, keyframe_samples=1)
    lock = threading.Lock()
    running, most = [0], [0]

    class Echo:  # stands in for the Colorizer: ab = the frame's gray; every other batch is slow
        model_id, global_calls = "echo", 0

        def scene_features(self, grays):
            return np.zeros((1, 1), np.float32)

        def predict_ab(self, gray, vecs, temperature=None):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.06 if gray[0, 0, 0] % 4 == 0 else 0.01)
            with lock:
                running[0] -= 1
            return np.repeat(gray[..., None].astype(np.float32), 2, axis=-1)

    items: list = []
    for i in range(12):
        items.append(colorize_mod.WorkFrame(luma=None, gray=np.full((4, 4), i, np.uint8), cut=i == 0,
                                            group_start=i == 0))
        if i % 3 == 0:
            items.append(f"packet after frame {i}")
    sent: list = []

    class Out:
        def put(self, item):
            sent.append(item)

    colorize_mod.ChromaPredictor(Echo(), config, calls_in_flight=2).run(iter(items), Out())
    assert sent[:-1] == items and sent[-1] is colorize_mod.END
    assert all(f.ab[0, 0, 0] == f.gray[0, 0] for f in items if isinstance(f, colorize_mod.WorkFrame))
    assert most[0] == 2


def test_torch_threads_are_shared_by_the_batches_in_flight_and_restored(tiny_model, clip_factory, tmp_path,
                                                                       monkeypatch):
    clip = clip_factory("threads.mp4", frames=20, width=96, height=64)
    c = Colorizer(tiny_model, device="cpu")
    seen: set[tuple[str, int]] = set()
    real_predict = c.predict_ab

    def spy(*args, **kwargs):
        seen.add((threading.current_thread().name, torch.get_num_threads()))
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(c, "predict_ab", spy)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        stats = colorize_video(clip, tmp_path / "auto.mp4", FAST, c, RunOptions(progress=False))
        assert torch.get_num_threads() == 4
        assert stats.frames == 20
        assert {threads for _, threads in seen} == {2}
        assert all(name.startswith("vidcolor-model") for name, _ in seen)
        seen.clear()
        colorize_video(clip, tmp_path / "one.mp4", FAST.replace(model_calls_in_flight=1), c,
                       RunOptions(progress=False))
        assert {threads for _, threads in seen} == {4} and torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="model_calls_in_flight"):
        FAST.replace(model_calls_in_flight=-1)


def test_folded_batch_norms_give_the_same_output():
    torch.manual_seed(0)
    net = ColorNet(NetConfig(base_channels=8, bin_count=20))
    for m in net.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    folded = fold_batch_norms(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x, v = torch.rand(2, 1, 64, 96) * 100, torch.randn(2, 1280)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x, v), net(x, v), atol=1e-4, rtol=1e-4)


def test_decode_matches_the_annealed_mean(tiny_model):
    c = Colorizer(tiny_model, device="cpu")
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        for layout in (torch.channels_last, torch.contiguous_format):  # the bf16 net's output, the int8 net's
            z = (torch.randn(2, c.bins.count, 48, 100) * 4).to(dtype).contiguous(memory_format=layout)
            torch.testing.assert_close(c.decode(z, 0.38), c.bins.annealed_mean(z, 0.38), atol=1e-3, rtol=1e-4)


def test_precision_setting(tiny_model):
    gray = np.random.default_rng(2).integers(0, 256, size=(2, 64, 96), dtype=np.uint8)
    fp32 = Colorizer(tiny_model, device="cpu", precision="fp32")
    bf16 = Colorizer(tiny_model, device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    vec = fp32.global_features(gray[0])
    diff = np.abs(fp32.predict_ab(gray, vec) - bf16.predict_ab(gray, vec))
    assert diff.mean() < 1.0  # ab units (range about +-110): bf16 noise, not a different answer
    with pytest.raises(ConfigError):
        Colorizer(tiny_model, device="cpu", precision="fp8")
