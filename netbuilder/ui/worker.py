"""Heavy work off the GUI thread: a training run, and loading a dataset for its preview.

The Trainer reports through plain callbacks on the worker thread; here they become Qt signals, which
Qt queues to the GUI thread. Every error becomes one readable message: nothing raised here reaches
the user as a traceback or takes the application down.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from ..core.checks.messages import describe
from ..core.model.graph import Graph
from ..core.training.config import TrainConfig
from ..core.training.experiment import prepare_training
from ..core.training.runs import RunStore
from ..core.training.trainer import Trainer


class DatasetCache:
    """The last few datasets read, so that run after run (and the preview) does not read the files again.
    A training run and a preview may load at once, from two worker threads: the lock guards the entries."""

    def __init__(self, size: int = 2, progress=None) -> None:
        self.size = size
        self.entries: dict[tuple, object] = {}
        self.lock = threading.Lock()
        self.progress = progress  # hears a classic dataset's download (from a worker thread: a signal's emit)

    def load(self, spec, input_shape: tuple[int, ...] | None):
        from ..core.data.specs import DataSpec, load_dataset

        spec = DataSpec.parse(spec)
        key = (spec, input_shape if spec.kind == "images" else None)  # only image folders depend on it
        with self.lock:
            if key in self.entries:
                self.entries[key] = self.entries.pop(key)  # most recently used last
                return self.entries[key]
        source = load_dataset(spec, input_shape, progress=self.progress)
        with self.lock:
            self.entries[key] = source
            while len(self.entries) > self.size:
                self.entries.pop(next(iter(self.entries)))
        return source


@dataclass
class RunOrder:
    """Where a run from the editor is kept (the open document's store) and what it continues or starts from."""

    store: RunStore
    graph_path: Path | None = None  # the document's file (None: not saved yet)
    resume: Path | None = None  # a run's checkpoint to continue from, as a new run
    resumed_from: int | None = None  # that run's number


class TrainingThread(QThread):
    """One training run of a snapshot of the graph, from loading its data to its result. With a RunOrder the run is
    recorded in the document's run store as it goes (curves, then weights, metrics, pictures and its status), so
    that closing the window never loses it."""

    prepared = Signal(object)  # experiment.TrainingSetup: the data as it will be used
    batch = Signal(object)  # train.BatchReport
    epoch = Signal(object)  # train.EpochReport
    done = Signal(object)  # train.TrainResult
    failed = Signal(str)

    picture = Signal(object)  # a Pillow image of what the network makes, after an epoch
    statistics = Signal(object)  # the epoch's per-block statistics (block_stats.py), when they are recorded
    run_created = Signal(object)  # the runs.Run this run is recorded as (before its first batch)

    def __init__(self, graph: Graph, spec: str, config: TrainConfig, val_fraction: float,
                 datasets: DatasetCache, weights: Path | None = None, test_fraction: float = 0.2,
                 order: RunOrder | None = None) -> None:
        super().__init__()
        self.graph, self.spec, self.config = graph, spec, config
        self.val_fraction, self.test_fraction, self.weights, self.datasets = val_fraction, test_fraction, weights, datasets
        self.order = order
        self.run_record = None  # the runs.Run, once created (and as it ended)
        self.state: dict | None = None  # the trained model (weights and input normalization) once it has ended
        self.notes: list[str] = []  # what went wrong after the result was kept (its pictures)
        self._last_picture = 0.0
        self.trainer: Trainer | None = None
        self._stop_requested = False

    def run(self) -> None:
        try:
            setup = prepare_training(self.graph, self.spec, val_fraction=self.val_fraction,
                                     test_fraction=self.test_fraction, seed=self.config.seed, weights=self.weights,
                                     load=self.datasets.load, config=self.config)
            self.trainer = Trainer(setup.model, setup.splits, self.config, objective=setup.objective,
                                   on_batch=self.batch.emit, on_epoch=self._epoch)
            self.prepared.emit(setup)
            if self._stop_requested:
                self.trainer.stop()
            self.done.emit(self._recorded(setup) if self.order is not None else self._fit(None))
        except Exception as e:  # noqa: BLE001 - a bug, too, must not take the editor (and the user's work) down
            self.failed.emit(describe(e))

    def _fit(self, checkpoint):
        from ..core.training.experiment import trained_state

        result = self.trainer.fit(resume_from=self.order.resume if self.order else None, checkpoint=checkpoint)
        self.state = trained_state(self.trainer)
        return result

    def _recorded(self, setup):
        """Train as a new run of the document's store, recorded as it goes (runs.RunRecorder)."""
        from ..core.training.runs import RunRecorder

        order = self.order
        settings = {**self.config.to_dict(), "data": str(self.spec), "val_fraction": self.val_fraction,
                    "test_fraction": self.test_fraction}
        graph_path = str(order.graph_path) if order.graph_path else None
        run = order.store.create(self.graph, settings, source="editor", graph_path=graph_path,
                                 resumed_from=order.resumed_from, weights_from=str(self.weights) if self.weights else None)
        self.run_record = run
        self.run_created.emit(run)
        with RunRecorder(run) as recorder:
            recorder.attach(self.trainer)
            result = self._fit(run.checkpoint_file)
            recorder.finish(self.trainer, result, data=str(self.spec), graph_path=graph_path,
                            pictures=lambda folder: self._pictures(folder, setup))
        self.run_record = recorder.run
        return result

    def _pictures(self, folder: Path, setup) -> list[str]:
        """The run's pictures (samples.png, reconstructions.png); a failure is said, never the end of the run."""
        from ..core.inside.pictures import write_pictures

        try:
            return write_pictures(folder, self.graph, setup, self.trainer)
        except Exception as e:  # noqa: BLE001 - the weights and figures are kept whatever happens to a picture
            self.notes.append(f"the run's pictures were not written: {describe(e)}")
            return []

    def _epoch(self, report) -> None:
        """On this thread: report the epoch, and at most once a second draw what the network makes."""
        if self.trainer.statistics is not None and self.trainer.statistics.epochs:
            self.statistics.emit(self.trainer.statistics.epochs[-1])
        self.epoch.emit(report)
        now = time.perf_counter()
        if now - self._last_picture < 1.0 and report.epoch != report.epochs:
            return
        self._last_picture = now
        from ..core.inside.pictures import preview

        try:
            image = preview(self.graph, self.trainer)
        except Exception:  # noqa: BLE001 - a picture is a nicety: never let it end a run
            return
        if image is not None:
            image.info["epoch"] = (report.epoch, report.epochs)
            self.picture.emit(image)

    def stop(self) -> None:
        self._stop_requested = True
        if self.trainer is not None:
            self.trainer.stop()

    def set_paused(self, paused: bool) -> None:
        if self.trainer is not None:
            self.trainer.pause() if paused else self.trainer.resume()


class DownloadRelay(QObject):
    """Brings a dataset's download progress from the worker thread that fetches it to the window."""

    progress = Signal(object)  # data.download.DownloadProgress


class LoadJob(QThread):
    """Run a function that may take a while (reading a dataset) and hand back its result or its error."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, work) -> None:
        super().__init__()
        self.work = work

    def run(self) -> None:
        try:
            self.done.emit(self.work())
        except Exception as e:  # noqa: BLE001 - each error becomes its one line; a bug says it is one
            self.failed.emit(describe(e))
