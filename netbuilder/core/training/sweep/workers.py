"""A sweep's trials in worker processes on this machine: K processes (spawned: no state shared but the study), each
running study.work with its share of the cores, while this process watches the study and hears each trial they
end. Stopping (`stop_event`, Ctrl+C, SIGTERM) reaches every worker: the trial in hand stops at its next batch and is
marked interrupted, to be tried again when the sweep continues. A worker whose parent is gone stops the same way.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

from .space import SweepError
from .table import SweepStudy, TrialRow

POLL_SECONDS = 0.5
STOP_WAIT_SECONDS = 60.0  # how long stopped workers have to record their trial before they are terminated


def _context():
    import multiprocessing

    return multiprocessing.get_context("spawn")  # never fork a process that holds torch's threads (or Qt's)


def new_stop_event():
    """An event that stops a sweep's worker processes when set (from any thread)."""
    return _context().Event()


def run_workers(job, workers: int, *, on_trial: Callable[[TrialRow], None] | None = None,
                on_poll: Callable[[], None] | None = None, stop_event=None, poll: float = POLL_SECONDS) -> None:
    """Run `workers` processes on the sweep `job` until they are done; `on_trial` hears each trial they end, `on_poll`
    is called every `poll` seconds meanwhile. SweepError with the first worker's failure (after all have ended)."""
    from multiprocessing.connection import wait

    import optuna

    from .storage import open_storage

    context = _context()
    stop_event = stop_event if stop_event is not None else context.Event()
    errors = context.Queue()
    processes = [context.Process(target=_worker, args=(job, index, stop_event, errors, os.getpid()),
                                 name=f"netbuilder sweep worker {index}") for index in range(workers)]
    study = SweepStudy(optuna.load_study(study_name=job.study, storage=open_storage(job.storage)))
    heard: set[int] = set()
    for process in processes:
        process.start()
    try:
        while any(p.is_alive() for p in processes):
            wait([p.sentinel for p in processes if p.is_alive()], timeout=poll)
            _hear(study, job.session, heard, on_trial)
            if on_poll is not None:
                on_poll()
    except BaseException:
        stop_event.set()
        _end(processes)
        raise
    _end(processes)
    _hear(study, job.session, heard, on_trial)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    if failures:
        raise SweepError(f"a worker process failed: {failures[0]}")


def _hear(study: SweepStudy, session: str, heard: set[int], on_trial) -> None:
    if on_trial is None:
        return
    for row in study.rows():
        if row.session == session and row.state not in ("running", "waiting") and row.number not in heard:
            heard.add(row.number)
            on_trial(row)


def _end(processes) -> None:
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    for process in processes:
        process.join(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():  # it did not stop in time: its trial is found killed when the sweep continues
            process.terminate()
            process.join(timeout=10)


def _worker(job, index: int, stop_event, errors, parent: int) -> None:
    from ...checks.messages import describe
    from .loop import settle_heap, work

    def stop() -> bool:
        return stop_event.is_set() or os.getppid() != parent

    try:
        settle_heap()
        work(job, worker=index, stop=stop)
    except KeyboardInterrupt:
        pass
    except BaseException as e:  # noqa: BLE001 - said by the process that started it, in one line
        errors.put(describe(e))
