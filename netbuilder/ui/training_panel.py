"""The training panel: choose data and settings, start / pause / stop, watch the curves, read the results.

A run trains a snapshot of the graph on a worker thread; while it runs, the document refuses edits
that would change the network (blocks can still be moved).

The panel is the settings column, with Start / Pause / Stop and the progress pinned above its scrolling
form; `tabs` (curves, results, data) is a widget of its own, which the window docks where it has room.
This module imports torch: the window builds the panel once PyTorch has loaded.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.build.weights import WEIGHTS_SUFFIXES, graph_weights, save_state
from ..core.checks.messages import describe
from ..core.training.config import TrainingError
from .data_check import DataCheck
from .document import Document, torch_loader
from .folders import chosen, start_in
from .plots import TrainingPlots
from .results import ResultsView
from .samples import MadeSamples
from .training_settings import SettingsForm
from .weights_in_view import WeightsInView
from .worker import DatasetCache, DownloadRelay, LoadJob, RunOrder, TrainingThread

MOMENTUM_OPTIMIZERS = ("momentum", "nesterov", "rmsprop")
LOCKED = "a training run is using the graph: stop it to change the network (blocks can still be moved)"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


WEIGHTS_FILTERS = "PyTorch weights (*.pt);;safetensors weights (*.safetensors)"


class TrainingPanel(SettingsForm, QWidget):
    running_changed = Signal(bool)
    message = Signal(str)
    error_cleared = Signal()  # the red message went: its cause is gone
    wants_view = Signal()  # Preview: the window brings the Data tab into view
    weights_changed = Signal()  # the weights in view are others now (a run ended, one was chosen, a file loaded)
    run_started = Signal(object)  # the runs.Run a run from this panel is recorded as
    run_ended = Signal(object)  # that run once it has ended (finished, stopped or failed), or None if never made

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.worker: TrainingThread | None = None  # the live run
        self.last_worker: TrainingThread | None = None  # the run that ended last: its trainer holds the model
        self.in_view: WeightsInView | None = None  # the trained model the editor shows and exports
        self.document_runs = None  # the open document's runs (document_runs.DocumentRuns): each run is kept there
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
        self.tabs.setDocumentMode(True)  # no frame around the pages: the dock is the frame
        self.made = MadeSamples()
        self.tabs.addTab(self.plots, "Curves")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.made, "Samples")
        self.tabs.addTab(self.preview, "Data")
        self.tabs.setCornerWidget(self._corner())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._settings(), 1)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.batch_size.valueChanged.connect(self._batch_size_changed)
        self._add_devices() if torch_loader().isFinished() else torch_loader().finished.connect(self._add_devices)
        self.test_fraction = 0.2
        document.replaced.connect(self._graph_replaced)
        document.report_changed.connect(self._show_objective)
        document.report_changed.connect(lambda _report: self._recheck_error("graph"))
        self._follow_settings(lambda: self._recheck_error("settings"))
        self.data_check = DataCheck(self)  # the analysis checks the graph against the chosen dataset at once
        for changed in (self.dataset.currentIndexChanged, self.path.textChanged, self.label_column.textChanged,
                        self.options.textChanged):
            changed.connect(self.data_check.dataset_chosen)
        document.report_changed.connect(self.data_check.schedule)  # the Input's shape may have changed
        self.preview_button.clicked.connect(self.wants_view.emit)
        self.optimizer.currentTextChanged.connect(self._optimizer_chosen)
        self._optimizer_chosen(self.optimizer.currentText())
        self.loss.currentTextChanged.connect(self._show_objective)
        self._graph_replaced()
        self._set_running(False)

    def _download_progress(self, progress) -> None:
        """A classic dataset being fetched (for a run or a preview)."""
        self.status.setText(progress.describe()[:1].upper() + progress.describe()[1:] + "…")
        if progress.total:
            self.progress.setValue(round(1000 * progress.done / progress.total))

    def _optimizer_chosen(self, name: str) -> None:
        """Momentum is a setting of the optimizers that have one: not shown for Adam, AdamW, SGD or Adagrad."""
        uses = name in MOMENTUM_OPTIMIZERS
        grid = self.momentum.parentWidget().layout()
        for layout in [grid, *grid.findChildren(QGridLayout)]:
            index = layout.indexOf(self.momentum)
            if index >= 0 and isinstance(layout, QGridLayout):
                row, column, _, _ = layout.getItemPosition(index)
                label = layout.itemAtPosition(row, column - 1)
                for widget in (self.momentum, label.widget() if label is not None else None):
                    if widget is not None:
                        widget.setVisible(uses)

    def _follow_settings(self, slot) -> None:
        """Call `slot` whenever the user changes a setting of the form."""
        from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

        for widget in self.findChildren(QLineEdit):
            widget.textEdited.connect(lambda *_: slot())
        for widget in self.findChildren(QSpinBox):
            widget.valueChanged.connect(lambda *_: slot())
        for widget in self.findChildren(QComboBox):
            widget.activated.connect(lambda *_: slot())
        for widget in self.findChildren(QCheckBox):
            widget.clicked.connect(lambda *_: slot())

    def _corner(self) -> QWidget:
        """Beside the tabs (no room taken from the pictures): the curves' Clear and Save, and the window's
        buttons (add_corner)."""
        corner = QWidget()
        self.corner_row = QHBoxLayout(corner)
        self.corner_row.setContentsMargins(0, 0, 2, 0)
        self.corner_row.setSpacing(2)
        self.curve_buttons = []
        for text, slot, tip in (("Clear", self.plots.clear, "Take the curves of earlier runs off the plots"),
                                ("Save PNG…", self._save_png, "Save the three plots as one picture")):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            self.corner_row.addWidget(button)
            self.curve_buttons.append(button)
        self.raw_parts_button = QToolButton()
        self.raw_parts_button.setText("Raw parts")
        self.raw_parts_button.setCheckable(True)
        self.raw_parts_button.setAutoRaise(True)
        self.raw_parts_button.setEnabled(False)
        self.raw_parts_button.setToolTip("With several loss blocks: draw each block's own value instead of its part of "
                                         "the objective (weight x value, the parts add up to the loss)")
        self.raw_parts_button.toggled.connect(self.plots.set_raw_parts)
        self.corner_row.insertWidget(0, self.raw_parts_button)
        self.curve_buttons.append(self.raw_parts_button)
        self.tabs.currentChanged.connect(
            lambda i: [b.setVisible(self.tabs.widget(i) is self.plots) for b in self.curve_buttons])
        return corner

    def settings_width(self) -> int:
        """The width the settings column needs to show every field without scrolling sideways."""
        from PySide6.QtWidgets import QScrollArea

        scroll = self.findChild(QScrollArea)
        return scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 16

    def add_corner(self, widget: QWidget) -> None:
        self.corner_row.addWidget(widget)

    def _graph_replaced(self) -> None:
        """Another network: its settings (from its recipe) and no results of the previous one's."""
        self.reset_results()
        self.test_fraction = 0.2
        self.apply_recipe(self.document.graph.recipe)
        self._show_objective()

    def reset_results(self) -> None:
        """Every view of a run's results back to empty: curves (and their axes and titles), results, samples,
        the data preview, the status line, the red error, the progress, and the trained model itself."""
        self.plots.reset()
        self.results.clear()
        self.made.clear()
        self.raw_parts_button.setEnabled(False)
        self.prepared = None
        self.last_worker = None
        self.set_in_view(None)
        if self._preview_job is None or not self._preview_job.isRunning():
            self._preview_job = None
        self._replace_preview(self._preview_hint())
        self.status.setText("Ready.")
        self.error.hide()
        self.error.setText("")
        self.progress.setValue(0)

    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def trained_state(self) -> dict | None:
        """The weights in view (the last run's, or those chosen): weights and input normalization, or None."""
        return self.in_view.state if self.in_view is not None else None

    def set_in_view(self, weights: WeightsInView | None) -> None:
        if weights is not self.in_view:
            self.in_view = weights
            self.weights_changed.emit()

    def start(self, weights: Path | None = None, resume=None, settings: dict | None = None) -> bool:
        """Start a run of the graph with the panel's settings. `weights`: start from these (fine-tuning from a
        run's); `resume`: continue that runs.Run from its checkpoint as a new run, with `settings` (its own, as
        run_view.resumed_settings gives them)."""
        if self.worker is not None:
            return False
        if self.document.report is None and torch_loader().ready:
            self.document.refresh_shapes()  # an edit or an open a moment ago: shapes are one turn away
        report = self.document.report
        if report is None:
            return self._show_error("PyTorch is still loading; try again in a moment", "graph")
        if report.errors:
            return self._show_error(f"fix the graph first: {report.errors[0]}", "graph")
        val_fraction, test_fraction = self.val_percent.value() / 100, self.test_fraction
        try:
            config = self.config()
            spec = self.spec()  # checks what was typed
            if settings is not None:
                from ..core.training.config import TrainConfig

                config = TrainConfig(**{**settings["config"], "threads": config.threads})
                config.check()
                spec, val_fraction, test_fraction = settings["data"], settings["val_fraction"], settings["test_fraction"]
        except TrainingError as e:
            return self._show_error(str(e), "settings")
        except ValueError as e:
            return self._show_error(describe(e), "settings")
        self.error.hide()
        if weights is None:
            weights = graph_weights(self.document.graph, self.document.path)  # an imported model's, to fine-tune
        runs = self.document_runs
        order = None if runs is None else RunOrder(runs.store, self.document.path, resume.checkpoint_file
                                                   if resume is not None else None,
                                                   resume.number if resume is not None else None)
        self.worker = TrainingThread(self.document.graph.copy(), spec, config, val_fraction, self.datasets,
                                     weights=weights if weights is not None and weights.exists() else None,
                                     test_fraction=test_fraction, order=order)
        self.worker.run_created.connect(self.run_started)
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
        self.plots.set_terms(list(trainer.terms) if len(trainer.terms) > 1 else [], trainer.loss_weights)
        self.raw_parts_button.setEnabled(len(trainer.terms) > 1)
        notes = "; ".join(prepared.splits.notes)
        self.objective.setText(trainer.objective.describe()[:1].upper() + trainer.objective.describe()[1:])
        self.status.setText(f"Training on {len(prepared.splits.train):,} samples, {trainer.objective.describe()}, "
                            f"on {trainer.device}." + (f" Data: {notes}." if notes else ""))

    def _picture(self, image) -> None:
        """What the network makes (generated samples, reconstructions) at the end of an epoch."""
        from PySide6.QtGui import QImage

        rgb = image.convert("RGB")
        data = rgb.tobytes()
        qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
        self.made.show_picture(qimage, image.info.get("caption", ""), image.info.get("legend", ()),
                               image.info.get("epoch"))

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
        worker = self.worker  # cleared once its thread has finished, which comes after this
        run = worker.run_record if worker is not None else None
        if worker is not None and worker.state is not None:
            self.set_in_view(WeightsInView(worker.state, f"the last training run (run {run.number})" if run is not None
                                           else "the last training run", run))
        if self.prepared is not None:
            self.results.show_result(result, self.prepared.splits)
            self.results.show_made(self.made.picture.image, self.made.caption.text())
            if result.status != "stopped":
                self.tabs.setCurrentWidget(self.results)
        if run is not None:
            from .run_view import save_shown

            save_shown(run, self.results.view if self.prepared is not None else None, self.made)
        for note in worker.notes if worker is not None else []:
            self.message.emit(note)
        if result.status == "diverged":
            self._show_error(result.message)
        self.message.emit(f"Training {result.status}: {result.message}")

    def _failed(self, message: str) -> None:
        self.status.setText("Not started.")
        self._show_error(message, "data")

    def _thread_finished(self) -> None:
        self.last_worker, self.worker = self.worker, None
        self.document.unlock()
        self._set_running(False)
        self.run_ended.emit(self.last_worker.run_record if self.last_worker is not None else None)

    def _show_error(self, message: str, cause: str = "run") -> bool:
        """A refusal or a failure in red, until its cause is gone: "graph" (a problem in the graph: until shapes
        are inferred without error), "settings" (until a setting is edited), "data" (the graph and the data do not
        fit: until either changes), "run" (what a run ended with: until the next Start)."""
        self.error.setText(message)
        self.error.show()
        self._error_cause = cause
        self.message.emit(message)
        return False

    def _recheck_error(self, changed: str) -> None:
        """The graph ("graph") or a setting ("settings") changed: a red message whose cause may be gone goes."""
        cause = getattr(self, "_error_cause", None)
        if not self.error.isVisibleTo(self) or cause == "run":
            return
        report = self.document.report
        if (cause == "graph" and changed == "graph" and report is not None and not report.errors) \
                or (cause == "settings" and changed == "settings") or (cause == "data"):
            self.error.hide()
            self.error_cleared.emit()

    def wait(self, msecs: int = 30_000) -> bool:
        """Stop a live run and wait for its thread, and for a dataset preview being read (closing the window)."""
        if self._preview_job is not None:
            self._preview_job.wait()
        if self._plan_job is not None:
            self._plan_job.wait()
        self.data_check.wait()
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
        path, kind = QFileDialog.getSaveFileName(self, "Save weights", start_in("weights.pt"), WEIGHTS_FILTERS)
        if chosen(path):
            path = Path(path)
            if path.suffix.lower() not in WEIGHTS_SUFFIXES:  # a name without one: the format chosen in the dialog
                path = path.with_name(path.name + (".safetensors" if "safetensors" in kind else ".pt"))
            self.save_weights_to(path)

    def save_weights_to(self, path: Path) -> bool:
        try:
            save_state(self.trained_state(), path)
        except Exception as e:  # noqa: BLE001 - the disk's refusal, or a bug: a message either way
            return self._show_error(f"could not save {path.name}: {describe(e)}")
        self.message.emit(f"Saved the trained weights to {path}")
        return True

    def _save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the curves", start_in("curves.png"), "PNG images (*.png)")
        if chosen(path) and not self.plots.export_png(path):
            self._show_error(f"could not save {path}")
