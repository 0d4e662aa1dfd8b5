"""Ctrl-C (or SIGTERM) while training: finish the step, save the state, never give a save up by accident."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from ..errors import Terminated
from ..stop_signals import handling

# The stop signal that gives up the save under way (checkpoints are written atomically: the file on disk stays whole).
ABANDON_PRESSES = 3
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the training; the message says what was saved and how to go on."""

    def __init__(self, message: str, steps_saved: int | None, path: Path, terminated: bool = False) -> None:
        super().__init__(message)
        self.steps_saved = steps_saved
        self.path = path
        self.terminated = terminated  # SIGTERM, not Ctrl-C

    def __str__(self) -> str:
        return str(self.args[0])


class StopSignals:
    """SIGINT and SIGTERM while training. The first: `requested`; the loop stops at the end of its step, so
    weights and optimizer agree, and saves. The second: a note that the save goes on. The third:
    KeyboardInterrupt (Terminated for SIGTERM), giving the save up. Inside `immediate()` (work with no step to
    finish) the first one raises at once.

    A signal ignored when training starts (Ctrl-C in a script's background job) stays ignored, as in `vidcolor run`.
    """

    def __init__(self) -> None:
        self.presses = 0
        self.terminated = False  # a SIGTERM came
        self._immediate = False

    @property
    def requested(self) -> bool:
        """True once a stop signal came."""
        return self.presses > 0

    @property
    def abandoned(self) -> bool:
        """True once stop signals came often enough to give up the save."""
        return self.presses >= ABANDON_PRESSES

    @property
    def cause(self) -> str:
        """What stopped the training, for messages."""
        return "SIGTERM" if self.terminated else "Ctrl-C"

    def _handle(self, signum, frame) -> None:
        self.presses += 1
        self.terminated = self.terminated or signum == signal.SIGTERM
        if self.abandoned or (self._immediate and self.presses == 1):
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.presses == ABANDON_PRESSES - 1:
            tqdm.write(f"vidcolor: {self.cause}: saving the checkpoint first (press Ctrl-C again to quit without "
                       f"saving)", file=sys.stderr)

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """Within this block the first stop signal raises at once."""
        self._immediate = True
        try:
            yield
        finally:
            self._immediate = False

    def __enter__(self) -> "StopSignals":
        self._handling = handling({signum: self._handle for signum in STOP_SIGNALS})
        self._handling.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._handling.__exit__(None, None, None)
