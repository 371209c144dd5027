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
         on_trial: Callable[[TrialRow], None] | None = None, backend=None) -> None:
    """Ask the study for trials and train them, one at a time, until it has its number of trials, the deadline
    passes or `stop()`. Ctrl+C marks the trial in hand interrupted (tried again later) and goes on up. `backend`:
    the study's storage when this process has it open already (else it is opened from job.storage)."""
    import optuna

    from ...model.graph import Graph

    quiet()
    if job.threads:
        import torch

        torch.set_num_threads(job.threads)
    definition = SweepDefinition.from_dict(job.definition)
    definition.direction = job.direction
    backend = backend if backend is not None else open_storage(job.storage)
    study = optuna.load_study(study_name=job.study, storage=backend, sampler=make_sampler(definition, worker),
                              pruner=make_pruner(definition))
    context = TrialContext(Graph.from_dict(job.graph), job.graph_path, RunStore(job.store), definition,
                           {**job.settings, "threads": job.threads}, job.study, redact(job.storage), job.direction,
                           epoch_figure(definition, job.direction), threads=job.threads)
    distributions = {p.name: p.distribution() for p in definition.params}
    budget = job.budget(definition)
    study_id = backend.get_study_id_from_name(study.study_name)
    while not stop():
        trials = study.get_trials(deepcopy=False)  # one reading of the study serves the reaping and the count
        killed = reap(study, backend, trials, study_id)
        if job.deadline is not None and time.time() >= job.deadline:
            return
        if used(study.get_trials(deepcopy=False) if killed else trials) >= budget:
            return
        trial = study.ask(distributions)
        trial.set_user_attr("process", {**process_identity(), "session": job.session})
        # another process took the last one meanwhile (fewer than `number` trials come before it: read only then)
        if trial.number >= budget and used(study.get_trials(deepcopy=False), before=trial.number) >= budget:
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
            row = trial_row(backend.get_trial(backend.get_trial_id_from_study_id_trial_number(study_id, trial.number)))
            if row is not None:
                on_trial(row)


def settle_heap() -> None:
    """For a process whose work is a sweep's trials (the command's, a worker's): collect what is garbage now and
    freeze the rest (torch, Optuna, SQLAlchemy, the modules: none of it will be garbage), so that the collector's
    full passes between trials walk only what the trials made. Optuna's objects set those passes off every few
    trials, and one over a heap with torch in it costs about 0.1 s (gc.freeze, as long-running servers use it)."""
    import gc

    gc.collect()
    gc.freeze()


def _interrupted(study, trial, why: str) -> None:
    """A trial stopped from outside: failed in the study, marked so (not counted), its values queued again."""
    import optuna

    with contextlib.suppress(Exception):  # the storage is gone too: the next sweep finds the trial's process gone
        trial.set_user_attr("interrupted", why)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number}, skip_if_exists=False)


def used(trials, before: int | None = None) -> int:
    """Of a study's trials (FrozenTrials), those that use up the budget: counted ones and those still running (with
    a number below `before`)."""
    total = 0
    for trial in trials:
        if before is not None and trial.number >= before:
            continue
        row = trial_row(trial)
        if row is not None and (row.counted or row.state == "running"):
            total += 1
    return total


def reap(study, backend, trials=None, study_id: int | None = None) -> list[int]:
    """Mark the running trials whose process is gone as killed (its pid ended, on this machine; silent for
    STALE_SECONDS, elsewhere), and queue their values again. The numbers of those marked. `trials`: the study's
    trials as just read (else they are read here)."""
    import optuna

    marked = []
    running = optuna.trial.TrialState.RUNNING
    if study_id is None:
        study_id = backend.get_study_id_from_name(study.study_name)
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(running,))
    for trial in (t for t in trials if t.state == running):
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
