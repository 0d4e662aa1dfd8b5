"""Temp files beside a final output: their names, which process writes each, and removing those of dead runs.

An output is written to ".{final name}.vidcolor-tmp-{pid}-{random}{suffix}" in the final path's folder and renamed
into place when complete: hidden, it says which output it becomes and which process writes it. Where that name
would pass the file system's limit on a name's length (255 bytes on most), the final name inside it is shortened
and given a hash of the whole name, so the temp name still fits, stays unique and is still found.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tempfile
from pathlib import Path

TEMP_MARKER = ".vidcolor-tmp-"
FALLBACK_NAME_MAX_BYTES = 255  # where the file system does not say (pathconf)
# Mode of a finished output before the umask, as for any file a program creates.
NEW_FILE_MODE = 0o666
_PID_MAX_DIGITS = 10
_RANDOM_CHARS = 8  # tempfile.mkstemp's random part
_NAME_HASH_CHARS = 8
_TEMP_NAME = re.compile(r"^\..*" + re.escape(TEMP_MARKER) + r"(\d+)-[A-Za-z0-9_]+(\.[A-Za-z0-9]+)?$", re.DOTALL)


def name_max_bytes(folder: Path) -> int:
    """The longest file name, in bytes, the file system of `folder` takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return FALLBACK_NAME_MAX_BYTES


def _name_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def name_too_long(path: Path) -> bool:
    """True when `path`'s own name is longer than its folder's file system allows."""
    return len(_name_bytes(path.name)) > name_max_bytes(path.parent)


def _name_in_temp(final: Path) -> str:
    """The final name as the temp name carries it: whole, or shortened with a hash where it would not fit."""
    overhead = 1 + len(TEMP_MARKER) + _PID_MAX_DIGITS + 1 + _RANDOM_CHARS + len(_name_bytes(final.suffix))
    budget = name_max_bytes(final.parent) - overhead
    raw = _name_bytes(final.name)
    if len(raw) <= budget:
        return final.name
    digest = hashlib.sha1(raw).hexdigest()[:_NAME_HASH_CHARS]
    kept = final.name
    while kept and len(_name_bytes(kept)) > budget - _NAME_HASH_CHARS - 1:
        kept = kept[:-1]  # whole characters, never half of one
    return f"{kept}~{digest}"


def temp_prefix(final: Path, pid: int | None = None) -> str:
    """The start of this process's temp names for `final` (tempfile.mkstemp adds the random part)."""
    return f".{_name_in_temp(final)}{TEMP_MARKER}{os.getpid() if pid is None else pid}-"


def temp_files_of(final: Path) -> list[Path]:
    """Every temp file beside `final` that is (or was) becoming it, whichever process writes it."""
    return sorted(final.parent.glob(f".{glob.escape(_name_in_temp(final))}{glob.escape(TEMP_MARKER)}*"))


def writer_pid(name: str) -> int | None:
    """The pid in a temp file's name, or None when the name is not one of vidcolor's temp names."""
    match = _TEMP_NAME.match(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def is_stale_temp(name: str) -> bool:
    """True for a vidcolor temp name whose writing process is gone (a killed run's partial output)."""
    pid = writer_pid(name)
    return pid is not None and not pid_alive(pid)


def remove_stale_temp_files(final: Path) -> list[Path]:
    """Delete temp files left beside `final` by killed runs (their writer's pid is gone); returns them.

    A run still writing the same output is never touched: its pid is alive.
    """
    removed = []
    for tmp in temp_files_of(final):
        if is_stale_temp(tmp.name):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def current_umask() -> int:
    """The process umask (read from /proc where possible: setting it to probe is not thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `path` whole or not at all: into a temp file beside it, renamed into place when written."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, NEW_FILE_MODE & ~current_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
