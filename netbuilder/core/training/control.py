"""Control of a training run from any thread: stop, pause, resume, and work asked of the training thread.

The Trainer (trainer.py) is a RunControl: its loop calls `_wait_paused` between two batches, where paused runs wait
and the work others asked for (`request`: the editor probing a paused run's model) is done.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable

from .config import TrainingError


class RunControl:
    """Thread-safe control of a run: the loop reads `_stop`, `_running` and `_requests` between two batches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._requests: list[tuple[Callable[[], object], Future]] = []
        self._requests_lock = threading.Lock()
        self._requests_closed = False
        self._wake = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        self._wake.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def request(self, work: Callable[[], object]) -> Future:
        """Have work() run on the training thread, between two batches (at once while paused), and get its
        result (or its exception) in a Future: the editor probes a paused run's model this way, without
        blocking and without two threads using the model at once. Work asked after the run has ended fails
        with TrainingError; work left when it ends is done then."""
        future: Future = Future()
        with self._requests_lock:
            if self._requests_closed:
                future.set_exception(TrainingError("the training run has ended"))
                return future
            self._requests.append((work, future))
        self._wake.set()
        return future

    def _serve_requests(self) -> None:
        while True:
            with self._requests_lock:
                if not self._requests:
                    return
                work, future = self._requests.pop(0)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as e:  # noqa: BLE001 - the asker gets it, as the Future's exception
                    future.set_exception(e)

    def _wait_paused(self) -> None:
        """While paused: do what is asked (requests) until resumed or stopped."""
        self._serve_requests()
        while not self._running.is_set():
            self._wake.wait()
            self._wake.clear()
            self._serve_requests()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _close_requests(self) -> None:
        """The run has ended: work asked from now on fails; work left is done now."""
        with self._requests_lock:
            self._requests_closed = True
        self._serve_requests()
