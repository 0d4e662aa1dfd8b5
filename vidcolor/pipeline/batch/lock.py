"""One batch per output folder at a time: an advisory lock held for the whole run (released when it ends or dies)."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import ConfigError

try:
    import fcntl
except ImportError:  # not POSIX: no lock (two batches into one folder are then the user's care)
    fcntl = None

LOCK_NAME = ".vidcolor-batch.lock"


class BatchLock:
    """`with BatchLock(outdir):` holds OUTDIR's batch lock, or raises ConfigError naming the batch that holds it."""

    def __init__(self, output_dir: Path) -> None:
        self.path = Path(output_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> "BatchLock":
        if fcntl is None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise ConfigError(f"cannot write in {self.path.parent}: {(e.strerror or str(e)).lower()}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise ConfigError(f"another vidcolor batch{who} is writing into {self.path.parent}; wait for it to "
                              "finish (it records every film, so running again afterwards resumes)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock; the file stays for the next run
            self._fd = None
