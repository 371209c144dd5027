"""The main window: palette | canvas | inspector, the training settings, the curves and the analysis in docks
that fit a laptop screen, the start page, menus, and autosave.

Nothing on the way to the window imports torch: the window (and the start page) show at once, and the
training panel, which needs torch, is built as soon as the background loader has it.
"""
from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.base.files import list_examples
from . import style
from .analysis_panel import AnalysisPanel
from .code_view import CodeView
from .canvas.scene import GraphScene
from .canvas.view import GraphView
from .collector import GuiCollector
from .context_menus import build_menu
from .document import Document, torch_loader
from .exchange import Exchange
from .fine_tune import FineTuning
from .help_view import LayerHelp, ShortcutList
from .inspector import Inspector
from .message_bar import MessageBar
from .palette import Palette
from .recovery import INTERVAL_MS, RecoveryFile
from .summary import ModelSummary, summary_line
from .sweep_view import SweepDock
from .window_editing import FRAGMENT_MIME, WindowEditing
from .window_files import FILE_FILTER, MAX_RECENT, WindowFiles
from .window_layout import WindowLayout, enlarge_button
from .window_runs import WindowRuns

__all__ = ["FILE_FILTER", "FRAGMENT_MIME", "MAX_RECENT", "MainWindow"]

def about_text() -> str:
    """What About says: the version of netbuilder, and of the libraries it stands on (those already loaded)."""
    import sys

    from PySide6 import __version__ as pyside

    from .. import __version__

    torch = sys.modules.get("torch")
    stands_on = f"PySide6 {pyside}" + (f", PyTorch {torch.__version__}" if torch is not None else "")
    return (f"<b>netbuilder {__version__}</b><br>Build neural networks by drawing them: see every shape as you "
            "build, train with live plots, export to ONNX and PyTorch.<br><br>F1 on a block: its layer's reference. "
            f"Ctrl+/: the keyboard shortcuts.<br><br><small>{stands_on}; Python {sys.version.split()[0]}</small>")


class MainWindow(WindowFiles, WindowEditing, WindowLayout, WindowRuns, QMainWindow):
    def __init__(self, recovery_directory: Path | None = None, offer_recovery: bool = True) -> None:
        super().__init__()
        self.document = Document(self)
        self.scene = GraphScene(self.document)
        self.scene.setParent(self)
        self.view = GraphView(self.scene)
        self.palette = Palette()
        self.inspector = Inspector(self.document)
        self.analysis = AnalysisPanel(self.document)
        self.message_bar = MessageBar()
        self.start_page = None  # made when first shown (it reads and draws every example)
        self.recovery = RecoveryFile(recovery_directory)
        self.training = None  # the TrainingPanel, built once torch has loaded
        self.exchange = Exchange(self.document, None, self)
        self.fine_tuning = FineTuning(self)  # the start page's "fine-tune a pretrained network on your images"
        self.summary_dialog: ModelSummary | None = None
        self.layer_help: LayerHelp | None = None
        self.shortcut_list: ShortcutList | None = None
        self._paste_count = 0
        self._problem_gone = None  # how to tell that the problem over the canvas is gone (None: it is read)
        self._init_layout()

        self.collector = GuiCollector(self)  # garbage is collected on this thread, never on a worker's
        self.setWindowIcon(style.icon("netbuilder"))
        canvas = QWidget()
        column = QVBoxLayout(canvas)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.message_bar)
        column.addWidget(self.view, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(canvas)
        self.setCentralWidget(self.stack)

        area = Qt.DockWidgetArea
        self.palette_dock = self._dock("Layers", self.palette, area.LeftDockWidgetArea)
        # docks in tabs are named by their tabs: a title bar too would only take room (set before tabbing them)
        self.inspector_dock = self._dock("Inspector", self.inspector, area.RightDockWidgetArea, titled=False)
        self.training_dock = self._dock("Training", self._waiting("The training settings appear once PyTorch has "
                                                                  "loaded…"), None, titled=False)
        self.analysis_dock = self._dock("Analysis", self.analysis, area.BottomDockWidgetArea, titled=False)
        self.curves_dock = self._dock("Curves", self._waiting("Training curves and results appear here."), None,
                                      titled=False)
        # Inside (issue 12): what flows on the selected block or wire, filters, saliency, statistics on the canvas
        self.probe = None  # the ProbeView, built once torch has loaded
        self.probe_dock = self._dock("Inside", self._waiting("Feature maps, filters and saliency appear once PyTorch "
                                                             "has loaded…"), None, titled=False)
        # the network as PyTorch code, both ways (issue 23): beside the canvas, shown from View > PyTorch Code
        self.code_view = CodeView(self.document)
        self.code_dock = self._dock("Code", self.code_view, area.LeftDockWidgetArea)
        self.splitDockWidget(self.palette_dock, self.code_dock, Qt.Orientation.Horizontal)  # a column by the canvas
        self.code_dock.hide()
        self._init_runs()  # the Runs panel (issue 19): every run kept in the document's store (window_runs.py)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summary")
        self.progress = QProgressBar()  # the run's progress, always in view while training
        self.progress.setObjectName("statusProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.summary_label)
        self._make_actions()
        self._fit_screen()

        self.document.message.connect(self._refused)
        self.document.replaced.connect(self._network_replaced)
        self.document.report_changed.connect(self._check_problem)
        self.document.lock_changed.connect(self._check_problem)
        self.exchange.message.connect(self.show_message)
        self.exchange.opened.connect(self._imported)
        self.fine_tuning.message.connect(self.show_message)
        self.fine_tuning.ready.connect(lambda path: self.open_path(path) and self.start_training())
        self.scene.message.connect(self.show_problem)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.toggle_group_requested.connect(self.toggle_group)
        self.view.context_menu_requested.connect(self._context_menu)
        self.document.modified_changed.connect(self._update_title)
        self.document.path_changed.connect(self._update_title)
        self.document.report_changed.connect(self._update_summary)
        self.document.replaced.connect(self._update_summary)
        self.document.findings_changed.connect(lambda findings: self._update_analysis_title())
        self.view.layer_dropped.connect(self.add_layer)
        self.palette.add_requested.connect(self._add_from_palette)
        self.analysis.block_chosen.connect(self.show_block)
        self.code_view.block_chosen.connect(self.show_block)
        self.code_view.message.connect(self.show_message)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(INTERVAL_MS)
        loader = torch_loader()
        loader.shapes_ready.connect(self._torch_ready)  # connected before asking, so that it cannot be missed
        self.document.report_changed.connect(self._torch_ready)  # and shapes mean torch is here, in any case
        if loader.ready:
            self._torch_ready()
        self._update_title()
        self._update_summary()
        if offer_recovery:
            QTimer.singleShot(0, self.offer_recovery)

    # ----- the training panel, once torch is here

    def _torch_ready(self, *_report) -> None:
        if self.start_page is not None and self.stack.currentWidget() is self.start_page:
            self.start_page.count_parameters()
        if self.training is not None:
            return
        from .training_panel import TrainingPanel  # imports torch (loaded by now)

        self.training = TrainingPanel(self.document)
        self.exchange.training = self.training
        self.training_dock.setWidget(self.training)
        self.curves_dock.setWidget(self.training.tabs)
        self.training.message.connect(self.show_message)
        self.training.running_changed.connect(self._running_changed)
        self.training.error_cleared.connect(self._check_problem)
        self.training.wants_view.connect(self.show_results)
        self.training.progress.valueChanged.connect(self.progress.setValue)
        from .probe_view import ProbeView  # imports torch too

        self.probe = ProbeView(self.document, self.scene, self.training)
        self.probe_dock.setWidget(self.probe)
        self.probe.message.connect(self.show_message)
        if self._docks_tabbed and not self._layout_restored and self.enlarged is None \
                and self.training_dock.width() < self.training.settings_width():
            self._size_docks()  # the right column as wide as the settings need (no sideways scrolling)
        for dock, place in ((self.curves_dock, self.training.add_corner), (self.probe_dock, self.probe.add_corner)):
            button = enlarge_button()
            button.clicked.connect(lambda _on, d=dock: self.enlarge_panel(d))
            place(button)
        self._runs_ready()
        self.actions_by_name["train"].setEnabled(True)
        self.sweeps.enable(self.training)

    def _running_changed(self, running: bool) -> None:
        a = self.actions_by_name
        a["train"].setEnabled(not running)
        a["stop"].setEnabled(running)
        self.progress.setVisible(running)

    # ----- actions and menus

    def _action(self, text: str, slot, shortcut=None, icon: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if icon:
            action.setIcon(style.icon(icon))
        action.setStatusTip(tip)
        action.setToolTip(f"{text.replace('&', '').rstrip('…')}" + (f" ({action.shortcut().toString()})"
                                                                      if shortcut is not None else ""))
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self.actions_by_name = {
            "new": self._action("&New", self.new_document, K.New, "new", "Start an empty graph"),
            "open": self._action("&Open…", self.open_dialog, K.Open, "open", "Open a graph file"),
            "save": self._action("&Save", self.save, K.Save, "save", "Save the graph"),
            "save_as": self._action("Save &As…", self.save_as, K.SaveAs),
            "start_page": self._action("Start &Page", self.show_start_page, icon="home",
                                       tip="Examples, recent files, a blank network"),
            "export_onnx": self._action("&ONNX Model…", lambda: self.exchange.export_dialog("onnx"),
                                        tip="Export to ONNX, checked with onnxruntime"),
            "export_code": self._action("&PyTorch Code…", lambda: self.exchange.export_dialog("code"),
                                        tip="Export a readable nn.Module class"),
            "import_onnx": self._action("&Import Model…", self.import_dialog,
                                        tip="Turn an ONNX model, a torch.export file or PyTorch code into an editable "
                                            "graph with its weights"),
            "quit": self._action("&Quit", self.close, K.Quit),
            "cut": self._action("Cu&t", self.cut, K.Cut),
            "copy": self._action("&Copy", self.copy, K.Copy),
            "paste": self._action("&Paste", self.paste, K.Paste),
            "duplicate": self._action("D&uplicate", self.duplicate, "Ctrl+D"),
            "delete": self._action("&Delete", self.delete_selection,
                                   [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)], "delete"),
            "select_all": self._action("Select &All", self.scene_select_all, K.SelectAll),
            "group": self._action("&Group Blocks", self.group_selection, "Ctrl+G", "group",
                                  "Draw the selected blocks as one named box that can be collapsed"),
            "ungroup": self._action("U&ngroup", self.ungroup_selection, "Ctrl+Shift+G"),
            "collapse_all": self._action("&Collapse All Groups", lambda: self.set_all_collapsed(True), "Ctrl+Shift+C"),
            "expand_all": self._action("&Expand All Groups", lambda: self.set_all_collapsed(False), "Ctrl+Shift+E"),
            "layout": self._action("Auto &Layout", self.auto_layout, "Ctrl+L", "layout",
                                   "Arrange the blocks in data-flow order"),
            "fit": self._action("&Fit to View", self.view.fit_to_view, "Ctrl+0", "fit"),
            "zoom_in": self._action("Zoom &In", lambda: self.view.zoom_by(1.25), K.ZoomIn),
            "zoom_out": self._action("Zoom &Out", lambda: self.view.zoom_by(0.8), K.ZoomOut),
            "zoom_reset": self._action("&Actual Size", self.view.reset_zoom, "Ctrl+1"),
            "summary": self._action("Model &Summary…", self.show_summary, "Ctrl+I", "summary",
                                    "Every layer with its output shape and parameter count"),
            "analysis": self._action("&Analysis", self.show_analysis, "Ctrl+Shift+A", "analysis",
                                     "Errors and warnings about the graph, each with its fix"),
            "train": self._action("&Start Training", self.start_training, "F5", "train",
                                  "Train the graph on the dataset chosen in the Training panel"),
            "stop": self._action("S&top Training", self.stop_training, "Shift+F5", "stop", "Stop the run"),
            "help_layer": self._action("&Layer Reference", self.show_layer_help, "F1", "help",
                                       "What the selected layer does, its parameters and shapes"),
            "shortcuts": self._action("&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/"),
            "about": self._action("&About netbuilder", self.about),
            "enlarge": self._action("&Enlarge Panel", lambda: self.enlarge_panel(), "Ctrl+Shift+M", "enlarge",
                                    "Give the panel with the pictures (curves and results, or Inside) the whole "
                                    "window; again, or Esc, to put it back"),
        }
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(K.Undo)
        undo.setIcon(style.icon("undo"))
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence(K.Redo), QKeySequence("Ctrl+Shift+Z")])
        redo.setIcon(style.icon("redo"))
        a["undo"], a["redo"] = undo, redo
        grid = self._action("Show &Grid", lambda on: self.view.set_grid_visible(on))
        snap = self._action("&Snap to Grid", lambda on: setattr(self.scene, "snap_to_grid", on))
        for toggle in (grid, snap):
            toggle.setCheckable(True)
            toggle.setChecked(True)
        a["grid"], a["snap"] = grid, snap
        a["train"].setEnabled(False)  # until the training panel is built
        a["stop"].setEnabled(False)
        self.addActions(list(a.values()))  # shortcuts work while the menus are closed, and on the start page

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([a["new"], a["open"]])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.examples_menu = file_menu.addMenu("&Examples")
        for path, title in list_examples():
            self.examples_menu.addAction(f"{title}  ({path.name})", lambda p=path: self.open_example(p))
        file_menu.addAction(a["start_page"])
        file_menu.addSeparator()
        file_menu.addActions([a["save"], a["save_as"]])
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        export_menu.addActions([a["export_onnx"], a["export_code"]])
        file_menu.addAction(a["import_onnx"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        edit = bar.addMenu("&Edit")
        edit.addActions([a["undo"], a["redo"]])
        edit.addSeparator()
        edit.addActions([a["cut"], a["copy"], a["paste"], a["duplicate"], a["delete"], a["select_all"]])
        edit.addSeparator()
        edit.addActions([a["group"], a["ungroup"]])
        edit.addSeparator()
        edit.addAction(a["layout"])
        view = bar.addMenu("&View")
        view.addActions([a["fit"], a["zoom_in"], a["zoom_out"], a["zoom_reset"]])
        view.addSeparator()
        view.addActions([a["collapse_all"], a["expand_all"]])
        view.addSeparator()
        view.addActions([grid, snap])
        view.addSeparator()
        view.addActions([a["summary"], a["analysis"]])
        view.addAction(a["enlarge"])
        code = a["code"] = self.code_dock.toggleViewAction()
        code.setText("PyTorch &Code")
        code.setShortcut(QKeySequence("Ctrl+Shift+K"))
        code.setStatusTip("The network as PyTorch code: edit it and Apply to change the network")
        self.addAction(code)
        view.addAction(code)
        panels = view.addMenu("&Panels")
        for dock in (self.palette_dock, self.inspector_dock, self.training_dock, self.probe_dock, self.curves_dock,
                     self.analysis_dock, self.code_dock):
            panels.addAction(dock.toggleViewAction())
        self._add_run_actions(file_menu, export_menu, panels)
        train = bar.addMenu("&Train")
        train.addActions([a["train"], a["stop"]])
        self.sweeps = SweepDock(self, train, panels)  # Train > Sweep…, the Sweep dock (ui/sweep_view.py)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([a["help_layer"], a["shortcuts"], a["start_page"]])
        help_menu.addSeparator()
        help_menu.addAction(a["about"])

        tools = self.toolbar = self.addToolBar("Main")
        tools.setObjectName("main toolbar")
        tools.setMovable(False)
        tools.addActions([a["start_page"], a["new"], a["open"], a["save"]])
        tools.addSeparator()
        tools.addActions([a["undo"], a["redo"], a["delete"]])
        tools.addSeparator()
        tools.addActions([a["group"], a["layout"], a["fit"], a["summary"], a["analysis"]])
        tools.addSeparator()
        tools.addActions([a["train"], a["stop"]])
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tools.addWidget(spacer)
        tools.addAction(a["help_layer"])

    def _context_menu(self, item, scene_pos, global_pos) -> None:
        build_menu(self, item, scene_pos).exec(global_pos)

    # ----- status and messages

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_problem(self, text: str, gone=None) -> None:
        """A refusal or a failure: in the status bar, and in full over the canvas until it is read, or until
        `gone()` says its cause is no more (checked as the graph changes)."""
        self.show_message(text)
        self.message_bar.show_message(text, "error")
        self._problem_gone = gone

    def _refused(self, text: str) -> None:
        """An edit the document refused; refused because a run uses the graph: said until the run ends."""
        locked = text == self.document.locked_reason
        self.show_problem(text, (lambda: self.document.locked_reason is None) if locked else None)

    def _check_problem(self, *_args) -> None:
        if self._problem_gone is not None and self._problem_gone():
            self._problem_gone = None
            self.message_bar.hide()
            self.statusBar().clearMessage()

    def _network_replaced(self) -> None:
        """Another network: no message about the previous one stays (its results views reset themselves)."""
        self._problem_gone = None
        self.message_bar.hide()
        self.statusBar().clearMessage()
        self.progress.hide()

    def _update_title(self) -> None:
        if self.start_page is not None and self.stack.currentWidget() is self.start_page:
            return
        self.setWindowTitle(f"{self.document.display_name}[*] — netbuilder")
        self.setWindowModified(self.document.is_modified())

    def _update_summary(self) -> None:
        report = self.document.report
        if report is None:
            text, problem = ("working out shapes…" if torch_loader().ready else "loading PyTorch…"), False
        elif report.errors:
            count = len(report.errors)
            text, problem = f"{count} problem{'s' if count > 1 else ''}: {report.errors[0]}", True
        else:
            text, problem = summary_line(report), False
        self.summary_label.setText(text)
        self.summary_label.setToolTip(text)
        self.summary_label.setProperty("problem", problem)
        self.summary_label.style().unpolish(self.summary_label)
        self.summary_label.style().polish(self.summary_label)

    def _update_analysis_title(self) -> None:
        findings = self.document.findings
        serious = sum(f.severity in ("error", "warning") for f in findings)
        self.analysis_dock.setWindowTitle(f"Analysis ({serious})" if serious else "Analysis")

    def _selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene):
            return  # the scene is being destroyed with the window and is dropping its items
        ids = self.scene.selected_node_ids()
        self.code_view.show_selection(ids)
        groups = self.scene.selected_groups()
        loose = [item for item in self.scene.selectedItems() if hasattr(item, "node_id")]
        if len(groups) == 1 and not loose:
            self.inspector.show_group(groups[0])
            return
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))

    def show_summary(self) -> None:
        if self.summary_dialog is None:
            self.summary_dialog = ModelSummary(self.document, self)
        self.summary_dialog.show()
        self.summary_dialog.raise_()

    def show_analysis(self) -> None:
        self.analysis_dock.show()
        self.analysis_dock.raise_()

    def show_layer_help(self, type_name: str | None = None) -> None:
        """F1: the reference of the selected block's layer (or the palette's, else the whole reference)."""
        if not isinstance(type_name, str):
            ids = self.scene.selected_node_ids()
            type_name = (self.document.graph.node(ids[0]).type if len(ids) == 1 else self.palette.selected_type())
        if self.layer_help is None:
            self.layer_help = LayerHelp(self)
        if type_name:
            self.layer_help.show_layer(type_name)
        self.layer_help.show()
        self.layer_help.raise_()

    def show_shortcuts(self) -> None:
        """The shortcut list beside the canvas, not over it (the network stays in view while it is read)."""
        if self.shortcut_list is None:
            self.shortcut_list = ShortcutList(self.actions_by_name.values(), self)
        dialog = self.shortcut_list
        frame = self.frameGeometry()
        height = min(dialog.height(), frame.height() - 80)
        dialog.resize(dialog.width(), height)
        dialog.move(frame.right() - dialog.width() - 16, frame.top() + 70)  # over the right-hand panel
        dialog.show()
        dialog.raise_()

    def start_training(self) -> None:
        if self.training is None:
            return
        self.show_results()  # room for the curves while they are watched
        if not self.training.start():
            self.training_dock.show()
            self.training_dock.raise_()
            self.show_problem(self.training.error.text(), lambda: not self.training.error.isVisibleTo(self.training))

    def show_results(self) -> None:
        """Bring the bottom panel (curves, results, samples, data) into view, with room for its pictures."""
        if self.enlarged is not None and self.enlarged is not self.curves_dock:
            self.restore_panels()
        self.show_canvas()
        self.curves_dock.show()
        self.curves_dock.raise_()
        if self.enlarged is None and self.curves_dock.height() < 0.38 * self.height():
            self.resizeDocks([self.curves_dock], [int(0.4 * self.height())], Qt.Orientation.Vertical)

    def stop_training(self) -> None:
        if self.training is not None:
            self.training.stop()

    def about(self) -> None:
        QMessageBox.about(self, "About netbuilder", about_text())

    def closeEvent(self, event) -> None:
        if not self.confirm_stop_run():  # stop it (and a sweep) and keep it (window_runs.py), or cancel
            event.ignore()
            return
        if self.maybe_save():
            if self.training is not None:
                self.training.wait()
                self.runs_closed()
            self.sweeps.view.wait()
            self.exchange.wait()
            self.code_view.wait()
            self.fine_tuning.wait()
            if self.start_page is not None:
                self.start_page.wait()
            self.recovery.discard()
            self.save_layout()
            self.collector.stop()
            event.accept()
        else:
            event.ignore()
