"""Ctrl-C and SIGTERM handlers installed for a block of work (a batch, a training run), then put back."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def handling(handlers: dict[int, Callable[[int, object], None]]) -> Iterator[None]:
    """Install these handlers in the main thread for the block and restore the previous ones after. A signal the
    process was started with ignored stays ignored (a shell script's background job ignores Ctrl-C: a Ctrl-C typed
    for the foreground job in that terminal must not stop an overnight run)."""
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum, handler in handlers.items():
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
