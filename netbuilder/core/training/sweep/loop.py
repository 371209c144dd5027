"""One process's part of a sweep: ask the study for a trial, train it (trial.py), tell the outcome, until the study
has its number of trials, the deadline passes or the process is told to stop. Trials whose process is gone are
found here and marked killed (`reap`); the samplers and the pruner are made here. study.py runs this in the
command's process, workers.py in worker processes."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from ...base.errors import first_line
from ..runs import RunStore
from ..runs.run import STALE_SECONDS, gone, process_identity
from .definition import PRUNE_STARTUP, PRUNE_WARMUP, SweepDefinition, epoch_figure
from .storage import open_storage, quiet, redact
from .table import TrialRow, trial_row
from .trial import TrialContext, run_trial


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


def work(job, *, worker: int = 0, stop: Callable[[], bool] = lambda: False,
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
