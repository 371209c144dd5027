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

import contextlib
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...base.errors import first_line
from ..runs import RunStore
from ..runs.run import STALE_SECONDS, gone, process_identity
from .definition import PRUNE_STARTUP, PRUNE_WARMUP, SweepDefinition, epoch_figure, metric_kind, resolve_direction
from .space import SweepError, check_params
from .storage import STORAGE_FILE, default_storage, open_storage, quiet, redact
from .table import SweepStudy, TrialRow, trial_row
from .trial import TrialContext, run_trial


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
        settings = {"compile": "off", "statistics": 0, **settings}
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
        self.reaped: list[int] = []  # trials found killed when the study was opened (their values are tried again)

    def _comparable(self) -> dict[str, Any]:
        """The settings that make trials comparable (not the device or threads a machine uses)."""
        return {k: v for k, v in self.settings.items() if k not in ("device", "threads", "report_interval")}

    # ----- the study

    def open(self) -> SweepStudy:
        """Make the study, or continue it when it sweeps the same thing (SweepError when it does not); its
        definition and settings are kept in it."""
        import optuna

        backend = open_storage(self.storage)
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

        return SweepStudy(optuna.load_study(study_name=self.study_name, storage=open_storage(self.storage)))

    def job(self, *, threads: int = 0) -> SweepJob:
        timeout = self.definition.timeout
        return SweepJob(self.graph.to_dict(), self.graph_path, str(self.store.path), self.definition.to_dict(),
                        self.definition.direction, self.settings, self.storage, self.study_name,
                        deadline=time.time() + timeout if timeout else None, threads=threads)

    # ----- running it

    def run(self, *, workers: int = 1, stop: Callable[[], bool] | None = None,
            on_trial: Callable[[TrialRow], None] | None = None, on_poll: Callable[[], None] | None = None,
            stop_event=None) -> SweepStudy:
        """Run trials until the study has its number of trials, the time budget is spent or `stop()` says so:
        here (workers=1) or in `workers` processes of their own, each with its share of the cores. `on_trial`
        hears each trial this command ran as it ends."""
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
            raise SweepError(f"workers must be 1..256, got {str(workers)[:20]}")
        if self.opened is None:
            self.open()
        if workers == 1 and stop_event is None:
            work(self.job(), stop=stop or (lambda: False), on_trial=on_trial)
        else:
            from .workers import run_workers

            run_workers(self.job(threads=max(1, cores() // workers)), workers, on_trial=on_trial, on_poll=on_poll,
                        stop_event=stop_event)
        return self.study()


# ----- one process's part of a sweep

def make_sampler(definition: SweepDefinition, worker: int = 0):
    import optuna

    seed = definition.seed + worker if definition.seed is not None else None
    if definition.sampler == "grid":
        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, study, trial, state, values) -> None:
                pass  # the sweep's own budget (at most the grid's size) ends it; Study.stop is for optimize() only

        return Grid(definition.grid(), seed=seed)
    if definition.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)  # parallel trials do not all ask the same


def make_pruner(definition: SweepDefinition):
    import optuna

    if not definition.prune:
        return optuna.pruners.NopPruner()
    # epochs are steps 1, 2, ...: the first PRUNE_WARMUP epochs of every trial are never judged
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNE_STARTUP, n_warmup_steps=PRUNE_WARMUP + 1)


def work(job: SweepJob, *, worker: int = 0, stop: Callable[[], bool] = lambda: False,
         on_trial: Callable[[TrialRow], None] | None = None) -> None:
    """Ask the study for trials and train them, one at a time, until it has its number of trials, the deadline
    passes or `stop()`. Ctrl+C marks the trial in hand interrupted (tried again later) and goes on up."""
    import optuna

    from ...model.graph import Graph

    quiet()
    if job.threads:
        import torch

        torch.set_num_threads(job.threads)
    definition = SweepDefinition.from_dict(job.definition)
    definition.direction = job.direction
    backend = open_storage(job.storage)
    study = optuna.load_study(study_name=job.study, storage=backend, sampler=make_sampler(definition, worker),
                              pruner=make_pruner(definition))
    context = TrialContext(Graph.from_dict(job.graph), job.graph_path, RunStore(job.store), definition,
                           {**job.settings, "threads": job.threads}, job.study, redact(job.storage), job.direction,
                           epoch_figure(definition, job.direction), threads=job.threads)
    distributions = {p.name: p.distribution() for p in definition.params}
    budget = job.budget(definition)
    while not stop():
        reap(study, backend)
        if job.deadline is not None and time.time() >= job.deadline:
            return
        if used(study) >= budget:
            return
        trial = study.ask(distributions)
        trial.set_user_attr("process", {**process_identity(), "session": job.session})
        if used(study, before=trial.number) >= budget:  # another process took the last one meanwhile
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        try:
            outcome = run_trial(context, trial, stop)
        except BaseException as e:
            _interrupted(study, trial, "interrupted (Ctrl+C)" if isinstance(e, KeyboardInterrupt) else
                         f"its process failed: {first_line(e)}")
            raise
        try:
            if outcome.state == "complete":
                study.tell(trial, outcome.value)
            elif outcome.state == "pruned":
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif outcome.state == "failed":
                trial.set_user_attr("failure", outcome.message or "failed")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                _interrupted(study, trial, "the sweep was stopped during this trial")
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # taken for killed by another process (it heard nothing from this one for too long)
        if on_trial is not None:
            row = trial_row(_frozen(study, trial.number))
            if row is not None:
                on_trial(row)


def _frozen(study, number: int):
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _interrupted(study, trial, why: str) -> None:
    """A trial stopped from outside: failed in the study, marked so (not counted), its values queued again."""
    import optuna

    with contextlib.suppress(Exception):  # the storage is gone too: the next sweep finds the trial's process gone
        trial.set_user_attr("interrupted", why)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number}, skip_if_exists=False)


def used(study, before: int | None = None) -> int:
    """Trials that use up the budget: counted ones and those still running (with a number below `before`)."""
    total = 0
    for trial in study.get_trials(deepcopy=False):
        if before is not None and trial.number >= before:
            continue
        row = trial_row(trial)
        if row is not None and (row.counted or row.state == "running"):
            total += 1
    return total


def reap(study, backend) -> list[int]:
    """Mark the running trials whose process is gone as killed (its pid ended, on this machine; silent for
    STALE_SECONDS, elsewhere), and queue their values again. The numbers of those marked."""
    import optuna

    marked = []
    study_id = backend.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        beat = trial.user_attrs.get("heartbeat")
        start = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        process = trial.user_attrs.get("process")
        if not isinstance(process, dict) and time.time() - start < STALE_SECONDS:
            continue  # just asked for: its process has not said who it is yet
        why = gone(process, beat if isinstance(beat, (int, float)) else start)
        if why is None:
            continue
        trial_id = backend.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            backend.set_trial_user_attr(trial_id, "killed", f"killed: {why}")
            if backend.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL):
                study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number}, skip_if_exists=False)
                marked.append(trial.number)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another process marked it first
    return marked


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


__all__ = ["STALE_SECONDS", "STORAGE_FILE", "Sweep", "SweepJob", "cores", "default_storage", "make_pruner",
           "make_sampler", "open_storage", "reap", "redact", "study_names", "time_left", "used", "work"]
