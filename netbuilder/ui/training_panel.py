"""The training panel: choose data and settings, start / pause / stop, watch the curves, read the results.

A run trains a snapshot of the graph on a worker thread; while it runs, the document refuses edits
that would change the network (blocks can still be moved).

The panel is the settings column, with Start / Pause / Stop and the progress pinned above its scrolling
form; `tabs` (curves, results, data) is a widget of its own, which the window docks where it has room.
This module imports torch: the window builds the panel once PyTorch has loaded.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.build.weights import WEIGHTS_SUFFIXES, graph_weights, save_state
from ..core.checks.messages import describe
from ..core.training.config import TrainingError
from .document import Document, torch_loader
from .plots import TrainingPlots
from .results import ResultsView
from .training_settings import SettingsForm
from .worker import DatasetCache, DownloadRelay, LoadJob, TrainingThread

LOCKED = "a training run is using the graph: stop it to change the network (blocks can still be moved)"
def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


WEIGHTS_FILTERS = "PyTorch weights (*.pt);;safetensors weights (*.safetensors)"


class TrainingPanel(SettingsForm, QWidget):
    running_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.worker: TrainingThread | None = None  # the live run
        self.last_worker: TrainingThread | None = None  # the run that ended last: its trainer holds the model
        self.prepared = None
        self._preview_job: LoadJob | None = None
        self._downloads = DownloadRelay()
        self._downloads.progress.connect(self._download_progress)
        self.datasets = DatasetCache(progress=self._downloads.progress.emit)
        self.statistics_every = 20  # per-block statistics: a step observed every N batches; 0: off (probe_view)

        self.plots = TrainingPlots()
        self.results = ResultsView()
        self.results.save_weights.connect(self.save_weights)
        self.preview = QWidget()
        QVBoxLayout(self.preview)
        self._replace_preview(self._preview_hint())
        self.tabs = QTabWidget()
        self.generated = QLabel("A generator's samples, or an autoencoder's reconstructions, appear here "
                                "while it trains.")
        self.generated.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.generated_caption = QLabel()
        samples_page = QWidget()
        samples_layout = QVBoxLayout(samples_page)
        samples_layout.addWidget(self.generated, 1)
        samples_layout.addWidget(self.generated_caption)
        self.tabs.addTab(self._curves_page(), "Curves")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(samples_page, "Samples")
        self.tabs.addTab(self.preview, "Data")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._settings(), 1)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.batch_size.valueChanged.connect(self._batch_size_changed)
        self._add_devices() if torch_loader().isFinished() else torch_loader().finished.connect(self._add_devices)
        self.test_fraction = 0.2
        document.replaced.connect(self._graph_replaced)
        document.report_changed.connect(self._show_objective)
        self.loss.currentTextChanged.connect(self._show_objective)
        self._graph_replaced()
        self._set_running(False)

    def _download_progress(self, progress) -> None:
        """A classic dataset being fetched (for a run or a preview)."""
        self.status.setText(progress.describe()[:1].upper() + progress.describe()[1:] + "…")
        if progress.total:
            self.progress.setValue(round(1000 * progress.done / progress.total))

    def _curves_page(self) -> QWidget:
        page = QWidget()
        clear = QPushButton("Clear")
        clear.clicked.connect(self.plots.clear)
        save = QPushButton("Save as PNG…")
        save.clicked.connect(self._save_png)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(clear)
        row.addWidget(save)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addLayout(row)
        return page

    def _graph_replaced(self) -> None:
        self.plots.clear()
        self.test_fraction = 0.2
        self.apply_recipe(self.document.graph.recipe)
        self._show_objective()

    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def trained_state(self) -> dict | None:
        """The last finished run's trained model (its weights and input normalization), or None."""
        from ..core.training.experiment import trained_state

        trainer = self.last_worker.trainer if self.last_worker is not None else None
        return trained_state(trainer) if trainer is not None else None

    def start(self) -> bool:
        if self.worker is not None:
            return False
        if self.document.report is None and torch_loader().ready:
            self.document.refresh_shapes()  # an edit or an open a moment ago: shapes are one turn away
        report = self.document.report
        if report is None:
            return self._show_error("PyTorch is still loading; try again in a moment")
        if report.errors:
            return self._show_error(f"fix the graph first: {report.errors[0]}")
        try:
            config = self.config()
            spec = self.spec()  # checks what was typed
        except TrainingError as e:
            return self._show_error(str(e))
        except ValueError as e:
            return self._show_error(describe(e))
        self.error.hide()
        weights = graph_weights(self.document.graph, self.document.path)  # an imported model's, to fine-tune
        self.worker = TrainingThread(self.document.graph.copy(), spec, config, self.val_percent.value() / 100,
                                     self.datasets,
                                     weights=weights if weights is not None and weights.exists() else None,
                                     test_fraction=self.test_fraction)
        self.worker.picture.connect(self._picture)
        self.worker.prepared.connect(self._prepared)
        self.worker.batch.connect(self._batch)
        self.worker.epoch.connect(self._epoch)
        self.worker.done.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.worker.finished.connect(self._thread_finished)
        self.document.lock(LOCKED)
        self.plots.start_run()  # now, while the CPU is free: creating curves mid-run would stall the window
        self.progress.setValue(0)
        self.status.setText(f"Preparing {spec}…")
        self._set_running(True)
        self.tabs.setCurrentIndex(0)
        self.worker.start()
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status.setText("Stopping…")

    def _pause_toggled(self, paused: bool) -> None:
        if self.worker is not None:
            self.worker.set_paused(paused)
            self.pause_button.setText("Resume" if paused else "Pause")
            self.status.setText("Paused." if paused else "Resuming…")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        self.running_changed.emit(running)

    def _prepared(self, prepared) -> None:
        self.prepared = prepared
        trainer = self.worker.trainer
        self.plots.set_metric(trainer.metric_name)
        self.plots.set_terms(list(trainer.terms) if len(trainer.terms) > 1 else [])
        notes = "; ".join(prepared.splits.notes)
        self.objective.setText(trainer.objective.describe()[:1].upper() + trainer.objective.describe()[1:])
        self.status.setText(f"Training on {len(prepared.splits.train):,} samples, {trainer.objective.describe()}, "
                            f"on {trainer.device}." + (f" Data: {notes}." if notes else ""))

    def _picture(self, image) -> None:
        """What the network makes (generated samples, reconstructions) at the end of an epoch."""
        from PySide6.QtGui import QImage, QPixmap

        rgb = image.convert("RGB")
        data = rgb.tobytes()
        qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
        self.generated.setPixmap(QPixmap.fromImage(qimage))
        self.generated_caption.setText(image.info.get("caption", ""))

    def _batch(self, report) -> None:
        self.plots.add_batches(report)
        self.progress.setValue(round(report.progress * 1000))
        self.status.setText(f"epoch {report.epoch}/{self.worker.config.epochs} · batch {report.batch}/{report.batches} · "
                            f"{report.samples_per_s:,.0f} samples/s · {_duration(report.eta_s)} left")

    def _epoch(self, report) -> None:
        self.plots.add_epoch(report)

    def _done(self, result) -> None:
        self.progress.setValue(1000 if result.status == "finished" else self.progress.value())
        self.status.setText(result.message[:1].upper() + result.message[1:] + ".")
        if self.prepared is not None:
            self.results.show_result(result, self.prepared.splits)
            if result.status != "stopped":
                self.tabs.setCurrentWidget(self.results)
        if result.status == "diverged":
            self._show_error(result.message)
        self.message.emit(f"Training {result.status}: {result.message}")

    def _failed(self, message: str) -> None:
        self.status.setText("Not started.")
        self._show_error(message)

    def _thread_finished(self) -> None:
        self.last_worker, self.worker = self.worker, None
        self.document.unlock()
        self._set_running(False)

    def _show_error(self, message: str) -> bool:
        self.error.setText(message)
        self.error.show()
        self.message.emit(message)
        return False

    def wait(self, msecs: int = 30_000) -> bool:
        """Stop a live run and wait for its thread, and for a dataset preview being read (closing the window)."""
        if self._preview_job is not None:
            self._preview_job.wait()
        if self._plan_job is not None:
            self._plan_job.wait()
        worker = self.worker
        if worker is None:
            return True
        worker.stop()
        worker.set_paused(False)
        return worker.wait(msecs)

    # ----- files

    def save_weights(self) -> None:
        if self.trained_state() is None:
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Save weights", "weights.pt", WEIGHTS_FILTERS)
        if path:
            path = Path(path)
            if path.suffix.lower() not in WEIGHTS_SUFFIXES:  # a name without one: the format chosen in the dialog
                path = path.with_name(path.name + (".safetensors" if "safetensors" in chosen else ".pt"))
            self.save_weights_to(path)

    def save_weights_to(self, path: Path) -> bool:
        try:
            save_state(self.trained_state(), path)
        except Exception as e:  # noqa: BLE001 - the disk's refusal, or a bug: a message either way
            return self._show_error(f"could not save {path.name}: {describe(e)}")
        self.message.emit(f"Saved the trained weights to {path}")
        return True

    def _save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the curves", "curves.png", "PNG images (*.png)")
        if path and not self.plots.export_png(path):
            self._show_error(f"could not save {path}")
