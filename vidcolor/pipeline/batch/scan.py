"""Find the films under a directory (by content), name their mirrored outputs, hash the settings."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from itertools import chain, count
from pathlib import Path
from typing import Callable, Iterator

from ...errors import MediaError
from ...media import MediaSource, writable_suffix
from ...media.sink import FORMATS
from ...media.temp_files import TEMP_MARKER
from ..config import PipelineConfig
from .ledger import LEDGER_NAME

# Files with these extensions are expected to be films: when they are not, the batch says so.
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m2v", ".ts", ".mts", ".m2ts",
    ".vob", ".flv", ".wmv", ".asf", ".ogv", ".3gp", ".3g2", ".dv", ".mxf", ".y4m", ".nut", ".f4v", ".divx",
})
# Files with these extensions are never films; other unknown files are opened to find out (.ogg holds Theora
# films as often as music).
NOT_VIDEO_EXTENSIONS = frozenset({
    ".txt", ".md", ".nfo", ".srt", ".ass", ".ssa", ".sub", ".idx", ".vtt", ".json", ".xml", ".csv", ".html",
    ".htm", ".pdf", ".doc", ".docx", ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp",
    ".heic", ".mp3", ".aac", ".ac3", ".flac", ".wav", ".opus", ".m4a", ".wma", ".zip", ".7z",
    ".rar", ".gz", ".tar", ".sqlite", ".db", ".py", ".sh", ".log", ".torrent", ".pt", ".toml", ".yaml",
})
# Settings that do not change the pictures written, left out of the settings hash. A setting added later must be
# listed here (or hashed only away from its default), or every ledger written before it redoes all its films.
_UNHASHED_SETTINGS = ("name", "queue_frames", "batch_size", "model_calls_in_flight")
_LATER_SETTING_DEFAULTS = {"keep_10_bit": False}  # added since; hashed only when set otherwise
# Thread counts (capped when films share a machine): hashed always at their defaults, as ledgers written before
# they were left out have them, so that capping them neither redoes finished films nor upsets older ledgers.
_THREAD_SETTING_DEFAULTS = {"decode_threads": 0, "encode_threads": 0, "opencv_threads": 0}


@dataclass
class FoundFile:
    """A file under the input directory that is (or claims by its name to be) a film."""

    rel: str  # POSIX path relative to the input directory
    path: Path
    size: int
    mtime_ns: int


@dataclass
class Probe:
    """What opening a film told us: its mirrored output name, or why it cannot be colorized."""

    output_rel: str
    duration_s: float | None = None
    error: str | None = None


def settings_hash(config: PipelineConfig, model_id: str, smoothing: bool, reuse_global: bool) -> str:
    """A short hash of everything that changes the output pixels: settings, model, switches."""
    settings = {k: _THREAD_SETTING_DEFAULTS.get(k, v) for k, v in asdict(config).items()
                if k not in _UNHASHED_SETTINGS and not (k in _LATER_SETTING_DEFAULTS and v == _LATER_SETTING_DEFAULTS[k])}
    payload = json.dumps({"config": settings, "model": model_id, "smoothing": smoothing,
                          "reuse_global": reuse_global}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


FINGERPRINT_SAMPLE_BYTES = 1 << 20  # bytes read at the start, middle and end of a film to fingerprint it


def fingerprint(path: Path, size: int) -> str:
    """A short hash of a film's size and of 1 MiB at its start, middle and end: the same for a copy or a touched
    file, different for another version (a re-encode, a new transfer) at far less cost than hashing it all."""
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - FINGERPRINT_SAMPLE_BYTES // 2),
                              max(0, size - FINGERPRINT_SAMPLE_BYTES)}):
            f.seek(offset)
            digest.update(f.read(FINGERPRINT_SAMPLE_BYTES))
    return digest.hexdigest()[:24]


def as_text(rel: str) -> str:
    """A relative path as text the ledger, the report and a terminal take: a name's bytes that are not UTF-8
    (an old Latin-1 archive's) are written as \\xNN, which also names the mirrored output."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _skip_name(name: str) -> bool:
    return name.startswith(".") or TEMP_MARKER in name


def walk_files(input_dir: Path, exclude: Path | None = None,
               on_output_folder: Callable[[Path], None] | None = None) -> Iterator[FoundFile]:
    """Every candidate film under input_dir, sorted, skipping hidden entries, the excluded folder and every other
    batch's output folder (one holding a ledger: its films are colorized already), told to `on_output_folder`.

    Symlinked subfolders are followed (archives link in folders from other drives), each real folder once (a
    real subfolder before a link to it; a link back up the tree is not walked again).
    """
    exclude = exclude.resolve() if exclude else None
    walked: set[tuple[int, int]] = set()

    def first_visit(folder: Path) -> bool:
        try:
            st = folder.stat()
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in walked:
            return False
        walked.add(key)
        return True

    first_visit(input_dir)
    for root, dirs, files in os.walk(input_dir, followlinks=True):
        root_path = Path(root)
        kept = [d for d in sorted(dirs) if not _skip_name(d)
                and (exclude is None or (root_path / d).resolve() != exclude)]
        outputs = [d for d in kept if (root_path / d / LEDGER_NAME).is_file()]
        for d in outputs:
            if on_output_folder is not None:
                on_output_folder(root_path / d)
        kept = [d for d in kept if d not in outputs]
        real = [d for d in kept if not (root_path / d).is_symlink() and first_visit(root_path / d)]
        linked = [d for d in kept if (root_path / d).is_symlink() and first_visit(root_path / d)]
        dirs[:] = sorted(real + linked)
        for name in sorted(files):
            if _skip_name(name):
                continue
            ext = Path(name).suffix.lower()
            if ext in NOT_VIDEO_EXTENSIONS:
                continue
            path = root_path / name
            try:
                st = path.stat()
            except OSError:
                continue
            if not path.is_file():
                continue
            found = FoundFile(as_text(path.relative_to(input_dir).as_posix()), path, st.st_size, st.st_mtime_ns)
            if ext in VIDEO_EXTENSIONS or _opens_as_video(path):
                yield found


def _opens_as_video(path: Path) -> bool:
    """True when a file without a film extension is one anyway (content, not name)."""
    try:
        with MediaSource(path):
            return True
    except (MediaError, OSError):
        return False


def output_key(rel: str) -> str:
    """An output path as compared for clashes: case-folded, as case-insensitive file systems (macOS, Windows) see it."""
    return rel.casefold()


def probe(found: FoundFile, is_taken: Callable[[str], bool]) -> Probe:
    """Open the film; choose its mirrored output path (same name, a fallback container if needed).

    is_taken: whether another film holds an output (by `output_key`): inputs written in their own container
    keep their names, films already planned keep theirs.
    """
    rel = Path(found.rel)
    try:
        with MediaSource(found.path) as source:
            duration = source.video.duration_seconds
            suffix = writable_suffix(source, rel.suffix)
    except MediaError as e:
        return Probe(found.rel, error=str(e))
    except OSError as e:
        return Probe(found.rel, error=f"{rel.name} cannot be read: {e.strerror or e}")
    if suffix is None:
        return Probe(found.rel, duration, f"no output container (.mp4, .mkv) can hold the streams of {rel.name}")
    if suffix == rel.suffix:
        return Probe(found.rel, duration)
    # a.webm -> a.mkv, unless that clashes (with a real a.mkv, or an a.ts also written as a.mkv): a.webm.mkv
    candidates = chain([rel.with_suffix(suffix), rel.with_name(rel.name + suffix)],
                       (rel.with_name(f"{rel.name}.{n}{suffix}") for n in count(2)))
    out = next(c for c in candidates if not is_taken(output_key(c.as_posix())))
    return Probe(out.as_posix(), duration)
