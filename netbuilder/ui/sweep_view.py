"""The Sweep view: a sweep of the open network as it goes and after. Progress (trials done, running, pruned, the best
so far, the time left), a table of the trials sortable by any column (the best in bold), their validation curves
overlaid (pruned ones faded), a parallel-coordinates plot and each parameter's importance. Apply writes the best
trial's block parameters into the graph (and, when asked, its settings into the recipe) as one undoable edit, and
its settings into the training panel. The studies shown are those of the open network's store (NAME.runs/sweeps.db).

`SweepDock` puts it in the window: Train > Sweep…, a dock tabbed with the curves, View > Panels > Sweep.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.messages import describe
from .commands import RecordedEdit
from .sweep_plots import Importance, ParallelCoordinates, TrialCurves
from .sweep_table import duration, fill_table
from .sweep_thread import Snapshot, StudyLoader, SweepThread


def _redacted(storage: str | None) -> str | None:
    from ..core.training.sweep import redact

    return redact(storage) if storage else None


def document_store(document):
    """The run store of the open document: the one its runs go to (document_runs.py: beside it, an example's under
    its name, an unsaved network's in the user's data folder); None for an unsaved network without an id."""
    from ..core.training.runs import RunStore

    runs = getattr(document, "runs", None)
    if runs is not None:
        return runs.store
    if document.path is not None:
        return RunStore.beside(document.path)
    document_id = getattr(document, "document_id", None)
    return RunStore.unsaved(document_id) if document_id else None


class SweepView(QWidget):
    message = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, document) -> None:
        super().__init__()
        self.document = document
        self.training = None  # the TrainingPanel: the settings trials start from, and where Apply puts them
        self.sweep_thread: SweepThread | None = None
        self.loader: StudyLoader | None = None
        self.snapshot: Snapshot | None = None
        self.last_definition: dict | None = None

        self.status = QLabel("No sweep yet: Train > Sweep… searches settings and block parameters over many runs.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.studies = QComboBox()
        self.studies.setToolTip("The sweeps of this network (its store's sweeps.db)")
        self.studies.setMinimumContentsLength(18)
        self.studies.activated.connect(lambda _index: self.load_study(self.studies.currentText()))
        self.new_button = QPushButton("New Sweep…")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Run the shown study's remaining trials (killed or stopped ones again)")
        self.stop_button = QPushButton("Stop")
        self.apply_button = QPushButton("Apply Best…")
        self.apply_button.setToolTip("The best trial's block parameters into the graph (one undoable edit) and its "
                                     "settings into the training panel")
        self.continue_button.clicked.connect(self.continue_sweep)
        self.stop_button.clicked.connect(self.stop)
        self.apply_button.clicked.connect(lambda: self.apply_best())

        self.table = QTableWidget(0, 0)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.curves, self.parallel, self.importance = TrialCurves(), ParallelCoordinates(), Importance()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves.widget, "Curves")
        self.tabs.addTab(self.parallel.widget, "Parallel Coordinates")
        self.tabs.addTab(self.importance.widget, "Importance")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setSizes([520, 600])
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)
        top.addWidget(self.studies)
        for button in (self.new_button, self.continue_button, self.stop_button, self.apply_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        document.replaced.connect(self.document_changed)
        document.path_changed.connect(self.refresh_studies)
        self._set_running(False)

    # ----- which study

    @property
    def is_running(self) -> bool:
        return self.sweep_thread is not None

    def storage(self) -> str | None:
        """The open network's study storage, when it has one already."""
        from ..core.training.sweep import STORAGE_FILE

        store = document_store(self.document)
        if store is None or not (store.path / STORAGE_FILE).is_file():
            return None
        return f"sqlite:///{(store.path / STORAGE_FILE).resolve()}"

    def document_changed(self) -> None:
        """Another network: its sweeps, never the previous one's."""
        if self.is_running:
            return  # the running sweep's network stays in view until it ends
        self.snapshot = None
        self.show_snapshot(None)
        self.status.setText("No sweep yet: Train > Sweep… searches settings and block parameters over many runs.")
        self.refresh_studies(load=True)

    def refresh_studies(self, load: bool = False) -> None:
        """List the network's studies again (on a thread); with `load`, show the one in view (else the latest)."""
        storage = self.storage()
        if storage is None:
            self._list_studies([])
            return
        current = self.snapshot.study if self.snapshot else None
        if load or current is not None:
            self.load_study(current)

    def _list_studies(self, names: list[str]) -> None:
        current = self.snapshot.study if self.snapshot else None
        self.studies.blockSignals(True)
        self.studies.clear()
        self.studies.addItems(names)
        if current in names:
            self.studies.setCurrentText(current)
        self.studies.blockSignals(False)
        self.studies.setEnabled(bool(names) and not self.is_running)

    def load_study(self, name: str | None) -> None:
        """Show a study of the network (None: the latest), read on a thread."""
        storage = self.storage()
        if storage is None or self.is_running:
            return
        if self.loader is not None and self.loader.isRunning():
            self.loader.wait()
        self.loader = StudyLoader(storage, name)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self.message.emit)
        self.loader.start()

    def _loaded(self, snapshot: Snapshot, names: list[str]) -> None:
        if self.is_running or snapshot.storage != _redacted(self.storage()):
            return  # another network was opened, or a sweep started, meanwhile
        self.show_snapshot(snapshot)
        self._list_studies(names)

    # ----- running

    def start(self, definition, workers: int = 1, study: str | None = None) -> bool:
        """Start a sweep of the open network (a snapshot of it) from the training panel's settings."""
        if self.is_running:
            self.message.emit("A sweep is running: stop it first")
            return False
        store = document_store(self.document)
        if store is None:
            self.message.emit("Save the network first: a sweep keeps its trials as runs beside it")
            return False
        try:
            settings = self.settings()
        except ValueError as e:
            self.message.emit(describe(e))
            return False
        from ..core.training.sweep import Sweep

        graph, path = self.document.graph.copy(), self.document.path
        self.last_definition = definition.to_dict()

        def make():
            return Sweep(graph, definition, settings, graph_path=path, store=store, study=study)

        self.sweep_thread = SweepThread(make, workers)
        self.sweep_thread.made.connect(lambda sweep: self.status.setText(f"Sweep {sweep.study_name}: starting "
                                                                   f"{workers} worker process(es)…"))
        self.sweep_thread.snapshot.connect(self.show_snapshot)
        self.sweep_thread.failed.connect(self._failed)
        self.sweep_thread.ended.connect(self.message.emit)
        self.sweep_thread.finished.connect(self._thread_done)
        self._set_running(True)
        self.status.setText("Checking the sweep and reading the dataset…")
        self.sweep_thread.start()
        return True

    def settings(self) -> dict:
        """What trials start from: the training panel's settings (dataset, epochs, optimizer, ...)."""
        if self.training is None:
            from ..core.training.sweep import SweepError

            raise SweepError("the training settings are not ready yet (PyTorch is loading)")
        config = self.training.config().to_dict()
        settings = {k: v for k, v in config.items() if k not in ("threads", "report_interval")}
        settings.update(data=str(self.training.spec()), val_fraction=self.training.val_percent.value() / 100,
                        test_fraction=self.training.test_fraction, statistics=0)
        return settings

    def continue_sweep(self) -> None:
        """Run the shown study's remaining trials (its own definition; this network and the panel's settings: the
        study refuses them when they differ from those it was made with)."""
        s = self.snapshot
        if s is None or s.definition is None:
            self.message.emit("This study holds no sweep definition to continue")
            return
        self.start(s.definition, max(1, s.workers), s.study)

    def stop(self) -> None:
        if self.sweep_thread is not None:
            self.sweep_thread.stop()
            self.status.setText("Stopping: each running trial stops at its next batch…")

    def wait(self) -> None:
        """Stop the sweep and wait for its processes (closing the window)."""
        if self.sweep_thread is not None:
            self.sweep_thread.stop()
            self.sweep_thread.wait()
        if self.loader is not None:
            self.loader.wait()

    def _failed(self, text: str) -> None:
        self.status.setText(f"The sweep could not go on: {text}")
        self.message.emit(text)

    def _thread_done(self) -> None:
        self.sweep_thread = None
        self._set_running(False)
        if self.snapshot is not None and self.snapshot.storage != _redacted(self.storage()):
            self.document_changed()  # another network was opened while the sweep ran: show its own sweeps now
            return
        self.refresh_studies()
        if self.snapshot is not None:
            self.snapshot.running = False
            self._show_status(self.snapshot)

    def _set_running(self, running: bool) -> None:
        self.new_button.setEnabled(not running and self.training is not None)
        self.continue_button.setEnabled(not running and self.snapshot is not None)
        self.stop_button.setEnabled(running)
        self.apply_button.setEnabled(self.snapshot is not None and self.snapshot.best is not None)
        self.studies.setEnabled(not running and self.studies.count() > 0)
        self.progress.setVisible(running)
        self.running_changed.emit(running)

    # ----- showing a study

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self._fill_table(snapshot)
        if snapshot is None:
            self.curves.show([], None, "validation figure", False)
            self.parallel.show([], None, [], "figure", False)
            self.importance.show(None, "no sweep shown")
            self._set_running(self.is_running)
            return
        best = snapshot.best.number if snapshot.best else None
        figure = "validation metric" if snapshot.metric in ("val_metric", "test_metric") or (
            snapshot.metric == "headline" and snapshot.maximize) else "validation loss"
        self.curves.show(snapshot.rows, best, figure, snapshot.maximize)
        self.parallel.show(snapshot.rows, best, snapshot.params, snapshot.metric, snapshot.maximize)
        self.importance.show(snapshot.importances, snapshot.importance_note)
        if self.studies.findText(snapshot.study) < 0:
            self.studies.addItem(snapshot.study)
        self.studies.setCurrentText(snapshot.study)
        self._show_status(snapshot)
        self._set_running(self.is_running)

    def _show_status(self, s: Snapshot) -> None:
        from ..core.training.sweep import time_left

        counts = {state: sum(r.state == state for r in s.rows) for state in
                  ("complete", "pruned", "failed", "running", "killed", "interrupted")}
        done = counts["complete"] + counts["pruned"] + counts["failed"]
        parts = [f"{done} of {s.budget} trials done" if s.budget else f"{done} trials done"]
        parts += [f"{counts[k]} {k}" for k in ("running", "pruned", "failed", "killed", "interrupted") if counts[k]]
        text = f"Study {s.study}: " + ", ".join(parts)
        if s.best is not None:
            text += f" · best {s.metric} {s.best.value:.4g} (trial {s.best.number})"
        if s.running:
            left = time_left(s.rows, s.budget, s.workers, s.deadline)
            if left is not None:
                text += f" · about {duration(left)} left"
        self.status.setText(text)
        self.progress.setRange(0, max(1, s.budget))
        self.progress.setValue(min(done, s.budget))

    def _fill_table(self, s: Snapshot | None) -> None:
        fill_table(self.table, s)

    # ----- apply the best

    def apply_best(self, keep_recipe: bool | None = None) -> bool:
        """Write the best trial's block parameters into the graph and, when `keep_recipe` (asked when None), its
        settings into the recipe, as one undoable edit; its settings go into the training panel."""
        from ..core.training.sweep import apply_trial, params_text, setting_value

        s = self.snapshot
        if s is None or s.best is None:
            self.message.emit("No complete trial to apply yet")
            return False
        best = s.best
        blocks = {k: v for k, v in best.params.items() if "." in k}
        settings = {k: setting_value(k, v) for k, v in best.params.items() if "." not in k}
        if keep_recipe is None:
            keep = self._ask(best, blocks, settings)
            if keep is None:
                return False
            keep_recipe = keep
        graph = self.document.graph
        try:
            new, recipe = apply_trial(graph, best.params, {**s.settings, **settings} if keep_recipe else None)
        except ValueError as e:
            self.message.emit(describe(e))
            return False
        changed = bool(blocks) or (keep_recipe and recipe != graph.recipe)
        if changed:
            def work(g) -> None:
                for name in blocks:
                    block, param = name.split(".", 1)
                    g.set_param(g.find(block).id, param, new.find(block).params[param])
                if keep_recipe:
                    g.set_recipe(recipe)

            command = RecordedEdit(graph, f"Apply sweep trial {best.number}", work,
                                   changes_model=bool(blocks))
            if not self.document.push(command):
                return False
        if settings and self.training is not None:
            try:
                current = self.training.recipe()
            except ValueError:
                current = dict(graph.recipe)
            self.training.apply_recipe({**current, **settings})
        self.message.emit(f"Applied trial {best.number} of {s.study}: {params_text(best.params)}")
        return True

    def _ask(self, best, blocks: dict, settings: dict) -> bool | None:
        from ..core.training.sweep import params_text

        box = QMessageBox(self)
        box.setWindowTitle("Apply the best trial")
        what = []
        if blocks:
            what.append(f"its block parameters into the graph ({params_text(blocks)})")
        if settings:
            what.append(f"its settings into the training panel ({params_text(settings)})")
        box.setText(f"Apply trial {best.number}: " + "; ".join(what) + ". Undo takes it back.")
        keep = QCheckBox("Keep its settings in the document's recipe too")
        keep.setChecked(not blocks)
        box.setCheckBox(keep)
        box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Ok:
            return None
        return keep.isChecked()


class SweepDock:
    """The Sweep view in the window: its dock (tabbed with the curves when first shown), Train > Sweep…, and its entry
    in View > Panels. `enable(training)` once the training panel is built."""

    def __init__(self, window, train_menu, panels_menu) -> None:
        self.window = window
        self.view = SweepView(window.document)
        self.dock = QDockWidget("Sweep", window)
        self.dock.setObjectName("Sweep")
        self.dock.setWidget(self.view)
        self.dock.setTitleBarWidget(QWidget())
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self._tabbed = False
        self.action = QAction("S&weep…", window)
        self.action.setStatusTip("Search settings and block parameters over many runs (an Optuna study)")
        self.action.triggered.connect(self.new_sweep)
        self.action.setEnabled(False)
        train_menu.addSeparator()
        train_menu.addAction(self.action)
        panels_menu.addAction(self.dock.toggleViewAction())
        self.view.new_button.clicked.connect(self.new_sweep)
        self.view.message.connect(window.show_message)

    def enable(self, training) -> None:
        self.view.training = training
        self.action.setEnabled(True)
        self.view._set_running(self.view.is_running)
        self.view.refresh_studies(load=True)

    def show(self) -> None:
        if not self._tabbed and self.window.curves_dock.isVisible():
            self._tabbed = True
            self.window.tabifyDockWidget(self.window.curves_dock, self.dock)
        self.dock.show()
        self.dock.raise_()

    def new_sweep(self) -> bool:
        from .sweep_dialog import SweepDialog

        view = self.view
        if view.is_running:
            self.show()
            self.window.show_message("A sweep is running: stop it before starting another")
            return False
        try:
            settings = view.settings()
        except ValueError as e:
            self.window.show_problem(describe(e))
            return False
        dialog = SweepDialog(self.window.document.graph, settings, self.window, view.last_definition)
        if dialog.exec() != SweepDialog.DialogCode.Accepted:
            return False
        self.show()
        return view.start(dialog.definition, dialog.workers, dialog.study_name)

