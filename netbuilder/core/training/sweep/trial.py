"""One trial of a sweep, as one run of the network's store: its values applied to a copy of the graph and to the
settings, trained with each epoch's validation figure reported to the study (judged by the pruner as it comes, and
a pruned trial stops at the end of that epoch; without a pruner, written at most once a second), recorded like any
run (settings, the swept values, curves, weights, status), and its outcome:

    complete      the figure to optimise
    pruned        the pruner stopped it (the run's status is `pruned`)
    failed        a value that breaks the graph, a loss that diverged, no memory left: the reason in words
    interrupted   stopped from outside (Ctrl+C, the editor's Stop, its process ending): retried when the sweep
                  continues, never counted as done
"""
from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...base.errors import NetbuilderError
from ...model.graph import Graph
from ..runs import RunRecorder, RunStore
from .apply import with_values
from .definition import SweepDefinition

HEARTBEAT_SECONDS = 30.0  # a running trial says it is alive this often (another machine tells a dead one by it)
REPORT_SECONDS = 1.0  # without a pruner, a trial's figures reach the study at most this often (and all at its end)
FIGURE_WORDS = {"val_loss": "validation loss", "val_metric": "validation metric"}


@dataclass
class TrialContext:
    """What every trial of one process shares."""

    graph: Graph  # the network as the sweep started from it
    graph_path: str | None
    store: RunStore
    definition: SweepDefinition
    settings: dict[str, Any]  # the settings trials start from: the recipe's and the command's (data, epochs, ...)
    study_name: str
    storage_text: str  # where the study is, as run.json may show it (no password)
    direction: str
    epoch_figure: str  # val_loss or val_metric: what each epoch reports to the study
    threads: int = 0

    def load(self, spec, input_shape):
        return cached_dataset(spec, input_shape)


_DATASETS: dict = {}


def cached_dataset(spec, input_shape=None):
    """The dataset a spec names, read once per process for all its trials (the last one read is kept: a swept Input
    shape reads it again)."""
    from ...data.specs import load_dataset

    key = (str(spec), tuple(input_shape) if input_shape else None)
    if key not in _DATASETS:
        _DATASETS.clear()
        _DATASETS[key] = load_dataset(spec, input_shape)
    return _DATASETS[key]


@dataclass
class Outcome:
    state: str  # complete, pruned, failed, interrupted
    value: float | None = None
    message: str = ""
    run: Any = None  # the Run it made


def run_trial(context: TrialContext, trial, stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Train one trial (an optuna.Trial whose parameters were sampled) as a new run; its outcome. A failure of the
    trial's own (bad values, divergence, memory) is an outcome, never raised; KeyboardInterrupt goes on (the run is
    recorded as stopped first)."""
    from ..config import TrainConfig

    values = dict(trial.params)
    settings = dict(context.settings)
    try:
        graph, settings = with_values(context.graph, settings, values)
    except NetbuilderError as e:
        graph, failure = context.graph, str(e)
    else:
        failure = None
    fields = TrainConfig.__dataclass_fields__
    recorded = {**TrainConfig().to_dict(), **{k: v for k, v in settings.items() if k in fields},
                **{k: settings[k] for k in ("data", "val_fraction", "test_fraction") if k in settings}}
    recorded["threads"] = context.threads
    run = context.store.create(
        graph, recorded, label=_label(trial.number, recorded), source="sweep",
        graph_path=context.graph_path,
        sweep={"study": context.study_name, "trial": trial.number, "params": values, "storage": context.storage_text,
               "metric": context.definition.metric, "direction": context.direction})
    trial.set_user_attr("run", {"number": run.number, "folder": run.folder})
    beat = _Heartbeat(trial)
    try:
        with RunRecorder(run) as recorder:
            if failure is not None:
                recorder.end("failed", failure)
                return Outcome("failed", message=failure, run=recorder.run)
            return _train(context, trial, recorder, graph, recorded, stop)
    finally:
        beat.stop()


def _train(context: TrialContext, trial, recorder: RunRecorder, graph: Graph, settings: dict,
           stop: Callable[[], bool]) -> Outcome:
    from ...checks.messages import describe
    from ..config import TrainConfig
    from ..experiment import prepare_training
    from ..trainer import Trainer

    definition = context.definition
    pruned: list = []
    interrupted: list = []
    trainer = None
    reports = _Reports(trial, at_once=definition.prune)

    def on_epoch(report) -> None:
        value = getattr(report, context.epoch_figure)
        if value is None or not math.isfinite(value):
            return
        reports.add(float(value), report.epoch)
        if definition.prune and trial.should_prune():
            pruned[:] = [report.epoch, float(value)]
            trainer.stop()

    def on_batch(report) -> None:
        if not interrupted and stop():
            interrupted.append(True)
            trainer.stop()

    try:
        config = TrainConfig(**{k: v for k, v in settings.items() if k in TrainConfig.__dataclass_fields__})
        config.check()
        setup = prepare_training(graph, settings["data"], val_fraction=settings.get("val_fraction", 0.1),
                                 test_fraction=settings.get("test_fraction", 0.2), seed=config.seed,
                                 load=context.load, config=config)
        trainer = Trainer(setup.model, setup.splits, config, objective=setup.objective, on_epoch=on_epoch,
                          on_batch=on_batch)
        recorder.attach(trainer)
        if stop():
            trainer.stop()
            interrupted.append(True)
        result = trainer.fit(checkpoint=recorder.run.checkpoint_file)
        reports.flush()
        if pruned:
            epoch, value = pruned
            words = FIGURE_WORDS[context.epoch_figure]
            message = (f"pruned after epoch {epoch}: its {words} {value:.4g} is worse than the median of the "
                       "earlier trials at that epoch")
            recorder.finish(trainer, result, data=settings["data"], graph_path=context.graph_path, status="pruned",
                            message=message)
            return Outcome("pruned", value, message, recorder.run)
        if interrupted or result.status == "stopped":
            recorder.finish(trainer, result, data=settings["data"], graph_path=context.graph_path,
                            status="stopped", message="the sweep was stopped during this trial")
            return Outcome("interrupted", message="stopped during this trial", run=recorder.run)
        recorder.finish(trainer, result, data=settings["data"], graph_path=context.graph_path)
        if result.status == "diverged":
            return Outcome("failed", message=f"diverged: {result.message}", run=recorder.run)
        value = figure(definition.metric, trainer, result, recorder.run)
        if value is None:
            return Outcome("failed", message=f"it has no {definition.metric.replace('_', ' ')} to compare",
                           run=recorder.run)
        return Outcome("complete", value, result.message, recorder.run)
    except KeyboardInterrupt:
        reports.flush(quietly=True)
        raise
    except Exception as e:  # noqa: BLE001 - a trial's failure is its outcome; the sweep goes on
        reports.flush(quietly=True)
        message = describe(e)
        if _out_of_memory(e):
            message = f"ran out of memory: {message}"
            trainer = None
            _free_memory()
        recorder.end("failed", message)
        return Outcome("failed", message=message, run=recorder.run)


def _label(number: int, settings: dict) -> str:
    """The run's folder name after its number: `trial3-adam-lr0.00321`."""
    lr = settings.get("lr")
    return "-".join([f"trial{number}", str(settings.get("optimizer", "")),
                     *([f"lr{lr:.3g}"] if isinstance(lr, (int, float)) else [])])


def figure(metric: str, trainer, result, run) -> float | None:
    """The figure a finished trial is judged by: of the weights it keeps (the best epoch's after early stopping)."""
    history = trainer.history
    kept = history[-1] if history else {}
    if result.status == "early_stopped":
        scored = [e for e in history if isinstance(e.get("val_loss"), (int, float))]
        kept = min(scored, key=lambda e: e["val_loss"]) if scored else kept
    value = {"val_loss": kept.get("val_loss"), "val_metric": kept.get("val_metric"), "test_loss": result.test_loss,
             "test_metric": result.test_metric}.get(metric)
    if metric == "headline":
        from ..runs import read_run

        headline = read_run(run.path).headline
        value = headline.value if headline is not None else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower() or \
        type(error).__name__ == "OutOfMemoryError"


def _free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Reports:
    """A trial's per-epoch figures on their way to the study. Each report is a transaction of Optuna's (a few
    milliseconds of its ORM after an epoch has pushed it out of the caches, about 5% of a half-second trial of
    ten epochs); without a pruner, which must judge each epoch's figure as it comes, they are written at most every
    REPORT_SECONDS and all of them when the trial ends: the Sweep view's curves lag a second at most."""

    def __init__(self, trial, *, at_once: bool) -> None:
        self.trial, self.at_once = trial, at_once
        self.waiting: list[tuple[float, int]] = []
        self.last = time.monotonic()

    def add(self, value: float, epoch: int) -> None:
        self.waiting.append((value, epoch))
        if self.at_once or time.monotonic() - self.last >= REPORT_SECONDS:
            self.flush()

    def flush(self, *, quietly: bool = False) -> None:
        """Write the waiting figures; `quietly`: a trial already failing does not fail again over them."""
        with contextlib.suppress(Exception) if quietly else contextlib.nullcontext():
            while self.waiting:
                value, epoch = self.waiting[0]
                self.trial.report(value, epoch)
                self.waiting.pop(0)
        self.last = time.monotonic()


class _Heartbeat:
    """Marks a running trial alive in the study every HEARTBEAT_SECONDS (its `heartbeat` user attribute), from a
    thread of its own: a process elsewhere takes a trial silent for long as killed."""

    def __init__(self, trial) -> None:
        self.trial = trial
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sweep heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # a missed beat only makes the trial look older
                self.trial.set_user_attr("heartbeat", time.time())

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
