"""A sweep off the GUI thread: a QThread that makes the Sweep (which may read the dataset), runs its trials in worker
processes (never in the window's process: the window stays responsive and a crashing trial takes nothing with it),
and sends a snapshot of the study (its rows, the best, each parameter's importance) every half second. Loading a
study to look at it runs on a thread too (Optuna and the database are not the window's business)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

from ..core.checks.messages import describe


@dataclass
class Snapshot:
    """What the Sweep view shows of a study at one moment."""

    study: str
    storage: str
    metric: str
    direction: str
    params: list  # SweepParam
    rows: list  # TrialRow
    best: Any = None  # the best TrialRow
    settings: dict = field(default_factory=dict)  # what the trials start from
    importances: dict | None = None
    importance_note: str = ""
    budget: int = 0
    workers: int = 1
    deadline: float | None = None
    running: bool = False
    definition: Any = None  # the SweepDefinition the study keeps

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


def take_snapshot(study, storage: str, *, importance: bool = True, previous: Snapshot | None = None,
                  workers: int = 1, deadline: float | None = None, running: bool = False) -> Snapshot:
    """A Snapshot of a SweepStudy (importance computed again only when a trial has completed since `previous`)."""
    from ..core.training.sweep import SweepError, redact

    rows = study.rows()
    definition = study.definition
    params = definition.params if definition is not None else []
    budget = 0
    if definition is not None:
        budget = min(definition.trials, definition.grid_size()) if definition.sampler == "grid" else definition.trials
    snapshot = Snapshot(study.name, redact(storage), study.metric, study.direction, params, rows, study.best(rows),
                        study.settings, budget=budget, workers=workers, deadline=deadline, running=running,
                        definition=definition)
    complete = sum(r.state == "complete" for r in rows)
    if previous is not None and previous.study == snapshot.study and \
            sum(r.state == "complete" for r in previous.rows) == complete:
        snapshot.importances, snapshot.importance_note = previous.importances, previous.importance_note
    elif importance:
        try:
            snapshot.importances = study.importances()
        except SweepError as e:
            snapshot.importance_note = str(e)
    return snapshot


class StudyLoader(QThread):
    """Reads one study on a thread (None: the latest), and the names of the storage's studies: `loaded(Snapshot,
    names)`, else `failed` (one line)."""

    loaded = Signal(object, object)
    failed = Signal(str)

    def __init__(self, storage: str, name: str | None) -> None:
        super().__init__()
        self.storage, self.name = storage, name

    def run(self) -> None:
        from ..core.training.sweep import SweepStudy, study_names

        try:
            snapshot = take_snapshot(SweepStudy.load(self.storage, self.name), self.storage)
            self.loaded.emit(snapshot, study_names(self.storage))
        except Exception as e:  # noqa: BLE001 - every failure is one line in the view
            self.failed.emit(describe(e))


class SweepThread(QThread):
    """One sweep: `made` (the Sweep, once checked), a `snapshot` every half second, then `ended` (a sentence) or
    `failed` (one line)."""

    made = Signal(object)
    snapshot = Signal(object)
    ended = Signal(str)
    failed = Signal(str)

    def __init__(self, make: Callable[[], Any], workers: int) -> None:
        super().__init__()
        from ..core.training.sweep.workers import new_stop_event

        self.make, self.workers = make, workers
        self.stop_event = new_stop_event()
        self.sweep = None
        self._study = None
        self._last: Snapshot | None = None
        self._deadline: float | None = None

    def stop(self) -> None:
        """Stop the trials at their next batch (they are tried again when the sweep continues)."""
        self.stop_event.set()

    def run(self) -> None:
        from ..core.training.sweep import SweepStudy

        try:
            self.sweep = sweep = self.make()
            opened = sweep.open()
            self._study = SweepStudy(opened.study)
            timeout = sweep.definition.timeout
            self._deadline = time.time() + timeout if timeout else None
            self.made.emit(sweep)
            self._poll(running=True)
            from ..core.training.sweep import cores

            share = max(1, (cores() - 1) // self.workers)  # one core stays with the window, so it stays smooth
            sweep.run(workers=self.workers, stop_event=self.stop_event, on_poll=lambda: self._poll(running=True),
                      threads=share)
            self._poll(running=False)
        except Exception as e:  # noqa: BLE001 - a bad definition, a storage that says no, a worker that failed
            self.failed.emit(describe(e))
            return
        rows = self._last.rows if self._last else []
        done = sum(r.counted for r in rows)
        word = "stopped" if self.stop_event.is_set() else "finished"
        self.ended.emit(f"The sweep {word}: {done} trials done" + (
            f"; best {self._last.metric} {self._last.best.value:.4g} (trial {self._last.best.number})"
            if self._last and self._last.best else ""))

    def _poll(self, running: bool) -> None:
        self._last = take_snapshot(self._study, self.sweep.storage, previous=self._last, workers=self.workers,
                                   deadline=self._deadline, running=running)
        self.snapshot.emit(self._last)
