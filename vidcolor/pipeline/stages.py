"""Thread plumbing for the streaming pipeline: bounded queues that honour a shared stop signal."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

POLL_SECONDS = 0.1


class Stopped(Exception):
    """Raised inside a stage when the run is being torn down."""


@dataclass
class StageFailure:
    """Carries an exception from a worker thread to the consumer, which re-raises it."""

    error: BaseException


END = object()


class Channel:
    """A bounded queue between two stages (back-pressure), aware of the run's stop event.

    It also adds up how long its producer waited for room (the consumer was slower) and how long its
    consumer waited for items (the producer was slower): where a pipeline's time goes."""

    def __init__(self, stop: threading.Event, max_items: int):
        self._q: queue.Queue = queue.Queue(maxsize=max_items)
        self._stop = stop
        self.producer_wait_s = 0.0
        self.consumer_wait_s = 0.0

    def put(self, item: Any) -> None:
        started = time.perf_counter()
        try:
            while True:
                if self._stop.is_set():
                    raise Stopped()
                try:
                    self._q.put(item, timeout=POLL_SECONDS)
                    return
                except queue.Full:
                    continue
        finally:
            self.producer_wait_s += time.perf_counter() - started

    def __iter__(self) -> Iterator[Any]:
        """Items until END; a StageFailure is re-raised here."""
        while True:
            if self._stop.is_set():
                raise Stopped()
            started = time.perf_counter()
            try:
                item = self._q.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            finally:
                self.consumer_wait_s += time.perf_counter() - started
            if item is END:
                return
            if isinstance(item, StageFailure):
                raise item.error
            yield item


def start_stage(name: str, work: Callable[[], None], out: Channel) -> threading.Thread:
    """Run `work` in a daemon thread; any exception travels down `out` as a StageFailure."""

    def runner() -> None:
        try:
            work()
        except Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer, which re-raises
            try:
                out.put(StageFailure(exc))
            except Stopped:
                pass

    thread = threading.Thread(target=runner, name=f"vidcolor-{name}", daemon=True)
    thread.start()
    return thread
