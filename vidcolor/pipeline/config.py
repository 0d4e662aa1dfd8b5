"""Pipeline settings as plain data, loaded from named presets in pipelines/*.toml or a TOML file."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import ConfigError

PRESETS_DIR = Path(__file__).resolve().parents[2] / "pipelines"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of a run; presets set them, the CLI may override a few."""

    name: str = "default"
    # model
    working_short_side_px: int = 192
    temperature: float = 0.38
    batch_size: int = 8
    # shots and global features
    max_group_seconds: float = 8.0
    cut_threshold: float = 0.25
    keyframe_lookahead_frames: int = 24
    keyframe_samples: int = 3  # frames of the lookahead whose global features are averaged per group
    # temporal smoothing (0 turns it off)
    smoothing_strength: float = 0.7
    flow_preset: str = "fast"
    # encoding
    crf: int = 18
    x264_preset: str = "medium"
    # streaming
    queue_frames: int = 48
    # threads of the H.264 decoder and of libx264; 0 lets each library size itself to the machine's cores
    # (set them when several films run side by side on one machine)
    decode_threads: int = 0
    encode_threads: int = 0
    # OpenCV's worker threads (cut detection, flow, chroma planes: small images); 0: up to 4. More only
    # burn the cores x264 needs (H100 box, 16 cores: 3x the CPU for the same compose time)
    opencv_threads: int = 0
    # model batches running at once; 0: automatic (2 on the cpu, each with half of torch's threads; 1 on a GPU)
    model_calls_in_flight: int = 0
    # a source deeper than 8 bits (ProRes, DNxHR, 10-bit HEVC, film scans) is written 10-bit (H.264 High 10),
    # its luma kept at 10 bits; off: 8-bit output, which every player shows (High 10: VLC, mpv, FFmpeg; not
    # QuickTime, browsers or most phones)
    keep_10_bit: bool = False

    def validate(self) -> "PipelineConfig":
        if self.working_short_side_px < 64 or self.working_short_side_px > 1024:
            raise ConfigError("working_short_side_px must be between 64 and 1024")
        if not 0.01 <= self.temperature <= 10:
            raise ConfigError("temperature must be between 0.01 and 10")
        if self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        if not 0.0 <= self.smoothing_strength < 1.0:
            raise ConfigError("smoothing_strength must be in [0, 1)")
        if self.x264_preset not in X264_PRESETS:
            raise ConfigError(f"x264_preset must be one of {', '.join(X264_PRESETS)}")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf must be between 0 and 51")
        if not 1 <= self.keyframe_samples <= self.keyframe_lookahead_frames:
            raise ConfigError("keyframe_samples must be between 1 and keyframe_lookahead_frames")
        if self.max_group_seconds <= 0:
            raise ConfigError("max_group_seconds must be positive")
        if not 0 < self.cut_threshold <= 1:  # a cut scores 0..1
            raise ConfigError("cut_threshold must be above 0 and at most 1 (1: no cut is ever detected)")
        if self.queue_frames < 1:
            raise ConfigError("queue_frames must be at least 1")
        if min(self.decode_threads, self.encode_threads, self.opencv_threads, self.model_calls_in_flight) < 0:
            raise ConfigError("decode_threads, encode_threads, opencv_threads and model_calls_in_flight must be "
                              "0 (automatic) or more")
        if not isinstance(self.keep_10_bit, bool):
            raise ConfigError("keep_10_bit must be true or false")
        if self.flow_preset not in ("ultrafast", "fast", "medium"):
            raise ConfigError("flow_preset must be ultrafast, fast or medium")
        return self

    def replace(self, **changes) -> "PipelineConfig":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None}).validate()


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


# The settings' types (as their annotations spell them) in a user's words.
_TYPE_WORDS = {"int": "a whole number", "float": "a number", "str": "text in quotes", "bool": "true or false"}


def _has_type(value: object, annotation: str) -> bool:
    """True when a TOML value fits a setting annotated `annotation` (a whole number fits a float setting)."""
    if annotation == "bool" or isinstance(value, bool):
        return annotation == "bool" and isinstance(value, bool)
    allowed = {"int": (int,), "float": (int, float), "str": (str,)}.get(annotation)
    return allowed is None or isinstance(value, allowed)


def load_pipeline_config(name_or_path: str = "default") -> PipelineConfig:
    """A preset name from pipelines/ or a path to a TOML file of the same keys."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PRESETS_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ConfigError(f"unknown pipeline preset {name_or_path!r}; available: {', '.join(preset_names())}")
    if not path.is_file():
        raise ConfigError(f"pipeline file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    known = {f.name for f in fields(PipelineConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    for f in fields(PipelineConfig):
        if f.name in data and not _has_type(data[f.name], f.type):
            raise ConfigError(f"{path}: {f.name} must be {_TYPE_WORDS[f.type]}, not {data[f.name]!r}")
    data.setdefault("name", path.stem)
    try:
        return PipelineConfig(**data).validate()
    except (TypeError, ConfigError) as exc:  # say which file holds the value
        raise ConfigError(f"{path}: {exc}") from None
