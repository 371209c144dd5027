"""A sweep as an Optuna study: made or continued (`load_if_exists`) in a storage, by any number of processes on any
number of machines, each asking the study for a trial, training it as a run (trial.py) and telling the outcome.

    sweep = Sweep(graph, definition, settings, graph_path="net.json")    # checks it all before anything starts
    sweep.run(workers=1, on_trial=print)                                 # in this process; workers=K: K processes
    sweep.study().best()                                                 # table.py

The storage is an SQLAlchemy URL (`sqlite:///sweep.db`; `postgresql://...` or `mysql://...` for machines that
share it); by default `NAME.runs/sweeps.db` beside the network. The study's name defaults to one made from what it
sweeps (definition.py), so the same command run again continues the same study. Trials are counted over the study:
complete, pruned and failed ones use up the budget; a trial whose process was killed (found by its pid on this
machine, by its silence elsewhere) is marked killed, its values queued to be tried again, and not counted.
"""
from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...base.errors import first_line
from ..runs import RunStore
from .definition import SweepDefinition, metric_kind, resolve_direction
from .loop import reap, work
from .space import SweepError, check_params
from .storage import STORAGE_FILE, default_storage, open_storage, redact
from .table import SweepStudy, TrialRow

MACHINE_SETTINGS = ("device", "threads", "report_interval", "compile", "tune", "bf16", "fp16", "statistics")


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass
class SweepJob:
    """What a process taking part in a sweep needs (plain data: it goes to worker processes as it is)."""

    graph: dict
    graph_path: str | None
    store: str
    definition: dict
    direction: str
    settings: dict
    storage: str
    study: str
    session: str = field(default_factory=lambda: secrets.token_hex(4))
    deadline: float | None = None  # time.time() after which no trial starts
    threads: int = 0  # torch threads per process (0: torch's own choice)

    def budget(self, definition: SweepDefinition) -> int:
        return min(definition.trials, definition.grid_size()) if definition.sampler == "grid" else definition.trials


class Sweep:
    """A sweep of one network, checked as it is made: the parameters exist and take the values given, the settings
    name a dataset, the figure to optimise is one this network has (its direction decided), the study either new or
    sweeping the same thing. Nothing is trained or created until `run`."""

    def __init__(self, graph, definition: SweepDefinition, settings: dict[str, Any], *,
                 graph_path: str | os.PathLike | None = None, store: RunStore | None = None,
                 storage: str | None = None, study: str | None = None, source=None) -> None:
        definition.check()
        if store is None and graph_path is None:
            raise SweepError("a sweep keeps its trials as runs beside its network: save the network first")
        self.graph, self.definition = graph, definition
        self.graph_path = str(graph_path) if graph_path is not None else None
        self.store = store or RunStore.beside(graph_path)
        from ..config import TrainConfig

        defaults = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("threads", "report_interval")}
        settings = {**defaults, "compile": "off", "statistics": 0, **settings}
        if not settings.get("data"):
            raise SweepError("no dataset: give --data SPEC (the graph carries no recipe that names one)")
        settings.setdefault("val_fraction", 0.1)
        settings.setdefault("test_fraction", 0.2)
        self.settings = settings
        check_params(definition.params, graph, settings)
        if (definition.metric.startswith("val_") or definition.prune) and not settings["val_fraction"]:
            raise SweepError(f"{'pruning' if definition.prune else definition.metric} needs a validation split; "
                             "the settings keep none (val_fraction 0)")
        metric, loss = None, "auto"
        if definition.metric not in ("val_loss", "test_loss"):
            from ...data.specs import DataSpec, load_dataset

            spec = DataSpec.parse(settings["data"])
            source = source if source is not None else load_dataset(spec)
            metric, loss = metric_kind(graph, source)
        definition.direction = resolve_direction(definition, graph, metric, loss)
        self.storage = storage or default_storage(self.store)
        self.study_name = study or definition.default_study_name(self._comparable())
        self.opened: SweepStudy | None = None
        self._backend = None  # the study's storage, opened once by open() for this process's part of the sweep
        self.reaped: list[int] = []  # trials found killed when the study was opened (their values are tried again)

    def _comparable(self) -> dict[str, Any]:
        """The settings that make trials comparable: not how a machine runs them (device, threads, compiling,
        precision, statistics), nor those the sweep varies."""
        swept = {p.name for p in self.definition.params if p.block is None}
        return {k: v for k, v in self.settings.items() if k not in MACHINE_SETTINGS and k not in swept}

    # ----- the study

    def open(self) -> SweepStudy:
        """Make the study, or continue it when it sweeps the same thing (SweepError when it does not); its
        definition and settings are kept in it."""
        import optuna

        backend = self._backend = open_storage(self.storage)
        direction = self.definition.direction
        try:
            study = optuna.create_study(storage=backend, study_name=self.study_name, direction=direction,
                                        load_if_exists=True)
        except Exception as e:  # noqa: BLE001 - the database said no (locked, read-only, another schema)
            raise SweepError(f"cannot open study {self.study_name!r} in {redact(self.storage)}: {first_line(e)}") \
                from None
        found = SweepStudy(study)
        held = study.user_attrs.get("definition")
        if held is None and study.trials:
            raise SweepError(f"study {self.study_name!r} in {redact(self.storage)} was not made by a netbuilder sweep: "
                             "give another --study")
        if held is not None:
            self._check_same(found)
        mine = self.definition.to_dict()
        if held != mine:
            study.set_user_attr("definition", mine)  # the number of trials and the time budget may change
        if held is None:
            study.set_user_attr("settings", self._comparable())
            study.set_user_attr("graph", self.graph_path)
        self.reaped = reap(study, backend)
        self.opened = found
        return found

    def _check_same(self, found: SweepStudy) -> None:
        theirs, mine = found.definition, self.definition
        what = f"study {self.study_name!r}"
        if [p.text for p in theirs.params] != [p.text for p in mine.params]:
            raise SweepError(f"{what} sweeps {' '.join(p.text for p in theirs.params)}; this sweep is "
                             f"{' '.join(p.text for p in mine.params)}: give another --study, or the same parameters")
        for name in ("metric", "direction", "sampler", "prune"):
            if getattr(theirs, name) != getattr(mine, name):
                raise SweepError(f"{what} has {name} {getattr(theirs, name)}; this sweep {getattr(mine, name)}: give "
                                 "another --study")
        theirs_settings, mine_settings = found.settings, self._comparable()
        differ = sorted(k for k in set(theirs_settings) | set(mine_settings)
                        if theirs_settings.get(k) != mine_settings.get(k))
        if differ:
            k = differ[0]
            raise SweepError(f"{what} trains with {k} {theirs_settings.get(k)!r}; this sweep with "
                             f"{mine_settings.get(k)!r}: give the same settings, or another --study")

    def study(self) -> SweepStudy:
        import optuna

        backend = self._backend if self._backend is not None else open_storage(self.storage)
        return SweepStudy(optuna.load_study(study_name=self.study_name, storage=backend))

    def job(self, *, threads: int = 0) -> SweepJob:
        timeout = self.definition.timeout
        return SweepJob(self.graph.to_dict(), self.graph_path, str(self.store.path), self.definition.to_dict(),
                        self.definition.direction, self.settings, self.storage, self.study_name,
                        deadline=time.time() + timeout if timeout else None, threads=threads)

    # ----- running it

    def run(self, *, workers: int = 1, stop: Callable[[], bool] | None = None,
            on_trial: Callable[[TrialRow], None] | None = None, on_poll: Callable[[], None] | None = None,
            stop_event=None, threads: int | None = None) -> SweepStudy:
        """Run trials until the study has its number of trials, the time budget is spent or `stop()` says so:
        here (workers=1) or in `workers` processes of their own, each with its share of the cores (or `threads`
        torch threads each). `on_trial` hears each trial this command ran as it ends."""
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
            raise SweepError(f"workers must be 1..256, got {str(workers)[:20]}")
        if self.opened is None:
            self.open()
        if workers == 1 and stop_event is None:
            work(self.job(), stop=stop or (lambda: False), on_trial=on_trial, backend=self._backend)
        else:
            from .workers import run_workers

            share = threads if threads is not None else max(1, cores() // workers)
            run_workers(self.job(threads=share), workers, on_trial=on_trial, on_poll=on_poll, stop_event=stop_event)
        return self.study()


def study_names(storage: str) -> list[str]:
    import optuna

    return list(optuna.study.get_all_study_names(open_storage(storage)))


def time_left(rows: list[TrialRow], budget: int, workers: int, deadline: float | None) -> float | None:
    """Seconds until the sweep ends, by the trials' mean duration so far (and the deadline), or None."""
    done = [r.seconds for r in rows if r.counted and r.seconds]
    if not done:
        return max(0.0, deadline - time.time()) if deadline else None
    remaining = max(0, budget - sum(r.counted for r in rows))
    running = [r for r in rows if r.state == "running"]
    mean = sum(done) / len(done)
    estimate = math.ceil(remaining / max(1, workers)) * mean - sum(min(r.seconds or 0, mean) for r in running) / \
        max(1, workers)
    estimate = max(0.0, estimate)
    return min(estimate, max(0.0, deadline - time.time())) if deadline else estimate


__all__ = ["STORAGE_FILE", "Sweep", "SweepJob", "cores", "default_storage", "open_storage", "redact", "study_names",
           "time_left"]
