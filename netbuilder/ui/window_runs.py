"""The window's runs: every run from the editor kept in the open document's store, the Runs panel and what its
runs are used for (shown, compared, their weights used, continued, fine-tuned from, exported, their graph opened),
File > Load Weights, the document's own last run shown when it is opened, runs moved beside a document when it is
first saved, and a run in progress kept when the window closes. A part of MainWindow (a mixin).

Needs: document, scene, training (or None), probe (or None), exchange, actions_by_name, _action, _dock,
show_message, show_problem, show_results, maybe_save, show_canvas, view.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.training.runs import Run, RunError
from .compare_view import canvas_diff, colour_of, mark_blocks, run_label
from .document_runs import DocumentRuns
from .folders import chosen, start_in
from .runs_panel import RunsPanel

if TYPE_CHECKING:  # worker imports torch, which the window does not before it has loaded
    from .worker import LoadJob

WEIGHTS_FILTER = "Weights (*.pt *.safetensors);;All files (*)"


class WindowRuns:
    def _init_runs(self) -> None:
        self.document_runs = DocumentRuns(self.document)
        self.runs_panel = panel = RunsPanel(self.document_runs)
        self.runs_dock = self._dock("Runs", panel, None, titled=False)  # tabbed beside Inside (window_layout)
        self.shown_run: Run | None = None  # the run whose curves and results are in view
        self.compared: list[Run] = []
        self._jobs: list[LoadJob] = []  # weights being read (kept until they finish)
        panel.show_requested.connect(self.show_run)
        panel.use_requested.connect(self.use_run)
        panel.compare_requested.connect(self.compare_runs)
        panel.compare_left.connect(self._compare_left)
        panel.continue_requested.connect(self.continue_run)
        panel.finetune_requested.connect(self.finetune_run)
        panel.export_requested.connect(lambda run, kind: self.exchange.export_dialog(kind, run))
        panel.open_requested.connect(self.open_run_graph)
        panel.message.connect(self.show_message)
        self.document_runs.message.connect(self.show_message)

    def _runs_ready(self) -> None:
        """The training panel is built: its runs go into the document's store."""
        training = self.training
        training.document_runs = self.document_runs
        training.run_started.connect(lambda _run: self.document_runs.refresh())
        training.run_ended.connect(self._run_ended)
        training.running_changed.connect(lambda running: self.runs_panel.leave_compare() if running else None)
        self.document.replaced.connect(self.show_document_runs)  # after the panel's own reset (connected before)
        self.show_document_runs()

    def _add_run_actions(self, file_menu, export_menu, panels) -> None:
        a = self.actions_by_name
        a["load_weights"] = self._action("Load &Weights…", self.load_weights_dialog,
                                         tip="Load a .pt or .safetensors file into the network (what fits): the "
                                             "weights the Inside view, the Results and the exports use")
        a["export_script"] = self._action("&Training Script…", lambda: self.exchange.export_dialog("script"),
                                          tip="Write model.py and train.py, which train the network without netbuilder")
        self.addActions([a["load_weights"], a["export_script"]])
        export_menu.addAction(a["export_script"])
        before_quit = file_menu.actions()[-2]  # the separator above Quit
        file_menu.insertAction(before_quit, a["load_weights"])
        panels.addAction(self.runs_dock.toggleViewAction())

    # ----- the document's runs

    def show_document_runs(self) -> None:
        """What the open document's results views show: its own last run; else the weights its graph names (an
        imported model's); else nothing (the panel was reset when the document was replaced)."""
        self.runs_panel.leave_compare()
        self.document_runs.refresh()
        self._store_shown = self.document_runs.store.path
        self.shown_run = None
        if self.training is None or self.training.is_running:
            return
        last = self.document_runs.last()
        if last is not None:
            self.show_run(last, quiet=True)
            return
        from ..core.build.weights import graph_weights

        named = graph_weights(self.document.graph, self.document.path)
        if named is not None and named.is_file():
            from .weights_in_view import read_named_weights

            graph, words = self.document.graph.copy(), f"{named.name} (the weights the graph names)"
            self._read(lambda: read_named_weights(graph, named, words), self.training.set_in_view)

    def document_opened(self) -> None:
        """A file or an example was opened: an example's runs are found by its name, known only now."""
        if self.document_runs.store.path != getattr(self, "_store_shown", None):
            self.show_document_runs()

    def show_run(self, run: Run, quiet: bool = False) -> None:
        """A run's curves, results, samples and block statistics as when it ended; its weights in view."""
        from .run_view import show_run

        if self._busy_training():
            return
        self.shown_run = run
        job = show_run(self.training, self.probe, run, on_error=self.show_problem)
        if job is not None:
            self._keep(job)
        if not quiet:
            self.show_results()
            self.show_message(f"Showing {run_label(run)} ({run.status}): its curves, results and weights")

    def use_run(self, run: Run) -> None:
        if self._busy_training():
            return
        self.show_run(run, quiet=True)
        self.show_message(f"The weights in view are {run_label(run)}'s: the Inside view, the Results and File > "
                          "Export use them")

    def _run_ended(self, run: Run | None) -> None:
        self.document_runs.run_ended()
        if run is not None:
            self.shown_run = run

    # ----- compare

    def compare_runs(self, runs: list[Run]) -> None:
        """Overlay the runs' curves (each in its colour, named in the legends), list their settings with the
        differences marked, and mark on the canvas the blocks their graphs differ in, until compare is left."""
        if self._busy_training():
            self.runs_panel.leave_compare()
            return
        try:
            comparison = self.runs_panel.compare.show_comparison(runs)
        except RunError as e:
            self.show_problem(str(e))
            return
        self.compared = list(runs)
        self.training.plots.show_compare([(run_label(run), colour_of(i), run.curves(),
                                           (run.metrics or {}).get("metric")) for i, run in enumerate(runs)])
        marked = mark_blocks(self.scene, self.document.graph, canvas_diff(comparison))
        self.show_canvas()
        first = next((block for block in self.scene.blocks.values() if block.mark is not None), None)
        if first is not None:
            self.view.centerOn(first)  # the difference in view
        self.training.tabs.setCurrentWidget(self.training.plots)
        self.curves_dock.show()
        self.curves_dock.raise_()
        self.show_message(f"Comparing {', '.join(run_label(r) for r in runs)}"
                          + (f"; {marked} block{'s' if marked != 1 else ''} marked on the canvas" if marked else ""))

    def _compare_left(self) -> None:
        self.compared = []
        mark_blocks(self.scene, self.document.graph, None)
        run = self.shown_run
        if self.training is not None and not self.training.is_running:
            if run is not None:
                curves = run.curves()
                self.training.plots.show_history(curves["epochs"], curves["batch_losses"],
                                                 (run.metrics or {}).get("metric"))
            else:
                self.training.plots.reset()

    # ----- using a run

    def continue_run(self, run: Run) -> bool:
        """Continue a run from its checkpoint, as a new run, with its own settings (to its planned epochs, or as
        many again)."""
        from .run_view import resumed_settings

        if self._busy_training():
            return False
        try:
            settings = resumed_settings(run)
        except ValueError as e:
            self.show_problem(str(e))
            return False
        epochs = settings["config"]["epochs"]
        if not self._start(resume=run, settings=settings):
            return False
        self.show_message(f"Continuing {run_label(run)} from epoch {len(run.epochs)} to {epochs}, as a new run")
        return True

    def finetune_run(self, run: Run) -> bool:
        """A new run with the panel's settings, starting from the run's weights (those that fit the graph)."""
        if self._busy_training() or not self._start(weights=run.weights_file):
            return False
        self.show_message(f"Fine-tuning from {run_label(run)}'s weights (those that fit the graph), as a new run")
        return True

    def _busy_training(self) -> bool:
        """No torch yet, or a run training (its curves are in view): say so; True when runs cannot be shown now."""
        if self.training is None:
            self.show_message("PyTorch is still loading; try again in a moment")
            return True
        if self.training.is_running:
            self.show_message("A run is training (its curves are in view): show, compare or start runs once it has "
                              "ended")
            return True
        return False

    def _start(self, **how) -> bool:
        self.show_results()
        if not self.training.start(**how):
            self.show_problem(self.training.error.text(), lambda: not self.training.error.isVisibleTo(self.training))
            return False
        return True

    def open_run_graph(self, run: Run) -> bool:
        """The graph a run trained, as a new unsaved document."""
        try:
            graph = run.graph()
        except RunError as e:
            self.show_problem(str(e))
            return False
        if self._training_blocks() or not self.maybe_save():
            return False
        name = f"{run_label(run)} of {self.document.display_name}"
        self.document.replace(graph, None, f"{name} (its graph)")
        self.show_canvas()
        QTimer.singleShot(0, self.view.show_graph)
        return True

    # ----- weights from a file

    def load_weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load weights", start_in(), WEIGHTS_FILTER)
        if chosen(path):
            self.load_weights_file(Path(path))

    def load_weights_file(self, path: Path) -> LoadJob | None:
        """Load a weights file into the network as it is now (what fits, the rest fresh): the weights in view."""
        from .weights_in_view import load_into_graph

        if self.training is None:
            self.show_message("PyTorch is still loading; try again in a moment")
            return None
        graph = self.document.graph.copy()

        def loaded(weights) -> None:
            self.training.set_in_view(weights)
            self.training.status.setText(weights.report)
            self.show_message(f"Loaded {weights.report}; the Inside view, the Results and File > Export use them")

        return self._read(lambda: load_into_graph(graph, path), loaded)

    def _read(self, work, done) -> LoadJob:
        from .worker import LoadJob

        job = LoadJob(work)
        job.done.connect(done)
        job.failed.connect(self.show_problem)
        self._keep(job)
        job.start()
        return job

    def _keep(self, job: LoadJob) -> None:
        self._jobs = [j for j in self._jobs if j.isRunning()] + [job]

    # ----- saving and closing

    def runs_saved(self, old_store) -> None:
        """The document was saved: the runs of an unsaved one move beside it (once no run trains)."""
        running = self.training is not None and self.training.is_running
        self.document_runs.saved(old_store, running)

    def unsaved_runs(self) -> int:
        """How many runs a new network never saved has (an example's stay under its name: reopening it shows them)."""
        if self.document.path is not None or getattr(self.document, "suggested_name", None):
            return 0
        return len(self.document_runs.runs())

    def confirm_stop_run(self) -> bool:
        """Closing while a run (or a sweep) trains: stop it and keep it (in the store), or cancel."""
        training = self.training is not None and self.training.is_running
        sweeps = getattr(self, "sweeps", None)
        sweeping = sweeps is not None and sweeps.view.is_running
        if not (training or sweeping):
            return True
        what = "the training run and the sweep" if training and sweeping else "the training run" if training \
            else "the sweep"
        buttons = QMessageBox.StandardButton
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", f"Stop {what} and quit?",
                          buttons.Yes | buttons.Cancel, self)
        box.setInformativeText("Runs are kept with the network's runs: their curves, and their weights as they are.")
        box.button(buttons.Yes).setText("Stop and Keep It")
        box.setDefaultButton(buttons.Cancel)
        return box.exec() == buttons.Yes

    def runs_closed(self) -> None:
        """The window closes after its run stopped: what the run's end does (its views kept, runs moved) now."""
        for job in self._jobs:
            job.wait()
        QCoreApplication.sendPostedEvents()  # the stopped run's result, still queued for the panel
        self.document_runs.run_ended()
