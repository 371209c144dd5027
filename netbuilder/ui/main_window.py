"""The main window: palette | canvas | inspector, menus, files, clipboard, autosave."""
from __future__ import annotations

import json
from pathlib import Path

import shiboken6

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from ..core.files import list_examples
from ..core.graph import Graph, GraphError
from ..core.layout import auto_layout
from . import style
from .canvas.block import GRID
from .canvas.scene import GraphScene
from .canvas.view import GraphView
from .commands import AddItems, MoveNodes, RemoveItems
from .document import Document, torch_loader
from .exchange import Exchange
from .inspector import Inspector
from .palette import Palette
from .probe_view import ProbeView
from .recovery import INTERVAL_MS, RecoveryFile, left_behind
from .summary import ModelSummary, summary_line
from .training_panel import TrainingPanel

FRAGMENT_MIME = "application/x-netbuilder-fragment"
FILE_FILTER = "netbuilder graphs (*.json);;All files (*)"
MAX_RECENT = 8
PASTE_OFFSET = 40.0


class MainWindow(QMainWindow):
    def __init__(self, recovery_directory: Path | None = None, offer_recovery: bool = True) -> None:
        super().__init__()
        self.document = Document(self)
        self.scene = GraphScene(self.document)
        self.scene.setParent(self)
        self.view = GraphView(self.scene)
        self.palette = Palette()
        self.inspector = Inspector(self.document)
        self.recovery = RecoveryFile(recovery_directory)
        self._paste_count = 0
        self.summary_dialog: ModelSummary | None = None

        self.setWindowIcon(style.icon("netbuilder"))
        self.setCentralWidget(self.view)
        self.training = TrainingPanel(self.document)
        self.exchange = Exchange(self.document, self.training, self)
        self._dock("Layers", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.training_dock = self._dock("Training", self.training, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.training_dock.setFeatures(self.training_dock.features() | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        # Inside (issue 12): what flows on the selected block or wire, filters, saliency, statistics on the canvas
        self.probe = ProbeView(self.document, self.scene, self.training)
        self.probe_dock = self._dock("Inside", self.probe, Qt.DockWidgetArea.RightDockWidgetArea)
        self.probe_dock.setFeatures(self.probe_dock.features() | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.tabifyDockWidget(self.findChild(QDockWidget, "Inspector"), self.probe_dock)
        self.findChild(QDockWidget, "Inspector").raise_()
        self.probe.message.connect(self.show_message)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("summary")
        self.statusBar().addPermanentWidget(self.summary_label)
        self._make_actions()
        self.resize(1360, 900)
        self.resizeDocks([self.training_dock], [330], Qt.Orientation.Vertical)

        self.document.message.connect(self.show_message)
        self.training.message.connect(self.show_message)
        self.exchange.message.connect(self.show_message)
        self.exchange.opened.connect(lambda path: self.open_path(path))
        self.scene.message.connect(self.show_message)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self.document.path_changed.connect(self._update_title)
        self.document.report_changed.connect(self._update_summary)
        self.document.replaced.connect(self._update_summary)
        self.view.layer_dropped.connect(self.add_layer)
        self.palette.add_requested.connect(self._add_from_palette)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(INTERVAL_MS)
        self._update_title()
        self._update_summary()
        if offer_recovery:
            QTimer.singleShot(0, self.offer_recovery)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(area, dock)
        return dock

    # ----- actions and menus

    def _action(self, text: str, slot, shortcut=None, icon: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if icon:
            action.setIcon(style.icon(icon))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self.actions_by_name = {
            "new": self._action("&New", self.new_document, K.New, "new", "Start an empty graph"),
            "open": self._action("&Open…", self.open_dialog, K.Open, "open", "Open a graph file"),
            "save": self._action("&Save", self.save, K.Save, "save", "Save the graph"),
            "save_as": self._action("Save &As…", self.save_as, K.SaveAs),
            "export_onnx": self._action("&ONNX Model…", lambda: self.exchange.export_dialog("onnx"),
                                        tip="Export to ONNX, checked with onnxruntime"),
            "export_code": self._action("&PyTorch Code…", lambda: self.exchange.export_dialog("code"),
                                        tip="Export a readable nn.Module class"),
            "import_onnx": self._action("&Import ONNX Model…", self.exchange.import_dialog,
                                        tip="Turn an ONNX model into an editable graph with its weights"),
            "quit": self._action("&Quit", self.close, K.Quit),
            "cut": self._action("Cu&t", self.cut, K.Cut),
            "copy": self._action("&Copy", self.copy, K.Copy),
            "paste": self._action("&Paste", self.paste, K.Paste),
            "duplicate": self._action("D&uplicate", self.duplicate, "Ctrl+D"),
            "delete": self._action("&Delete", self.delete_selection,
                                   [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)], "delete"),
            "select_all": self._action("Select &All", self.scene_select_all, K.SelectAll),
            "layout": self._action("Auto &Layout", self.auto_layout, "Ctrl+L", "layout",
                                   "Arrange the blocks in data-flow order"),
            "fit": self._action("&Fit to View", self.view.fit_to_view, "Ctrl+0", "fit"),
            "zoom_in": self._action("Zoom &In", lambda: self.view.zoom_by(1.25), K.ZoomIn),
            "zoom_out": self._action("Zoom &Out", lambda: self.view.zoom_by(0.8), K.ZoomOut),
            "zoom_reset": self._action("&Actual Size", self.view.reset_zoom, "Ctrl+1"),
            "summary": self._action("Model &Summary…", self.show_summary, "Ctrl+I", "summary",
                                    "Every layer with its output shape and parameter count"),
            "about": self._action("&About netbuilder", self.about),
            "train": self._action("&Start Training", self.start_training, "F5",
                                  tip="Train the graph on the dataset chosen in the training panel"),
            "stop": self._action("S&top Training", self.training.stop, "Shift+F5"),
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

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([a["new"], a["open"]])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.examples_menu = file_menu.addMenu("&Examples")
        for path, title in list_examples():
            self.examples_menu.addAction(f"{title}  ({path.name})", lambda p=path: self.open_example(p))
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
        edit.addAction(a["layout"])
        view = bar.addMenu("&View")
        view.addActions([a["fit"], a["zoom_in"], a["zoom_out"], a["zoom_reset"]])
        view.addSeparator()
        view.addActions([grid, snap])
        view.addSeparator()
        view.addAction(a["summary"])
        view.addAction(self.training_dock.toggleViewAction())
        view.addAction(self.probe_dock.toggleViewAction())
        train = bar.addMenu("&Train")
        train.addActions([a["train"], a["stop"]])
        self.training.running_changed.connect(lambda running: (a["train"].setEnabled(not running),
                                                                a["stop"].setEnabled(running)))
        a["stop"].setEnabled(False)
        bar.addMenu("&Help").addAction(a["about"])

        tools = self.addToolBar("Main")
        tools.setObjectName("main toolbar")
        tools.setMovable(False)
        tools.addActions([a["new"], a["open"], a["save"]])
        tools.addSeparator()
        tools.addActions([a["undo"], a["redo"], a["delete"]])
        tools.addSeparator()
        tools.addActions([a["layout"], a["fit"], a["summary"]])

    # ----- status

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — netbuilder")
        self.setWindowModified(not self.document.undo_stack.isClean())

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
        self.summary_label.setProperty("problem", problem)
        self.summary_label.style().unpolish(self.summary_label)
        self.summary_label.style().polish(self.summary_label)

    def _selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene):
            return  # the scene is being destroyed with the window and is dropping its items
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))

    def show_summary(self) -> None:
        if self.summary_dialog is None:
            self.summary_dialog = ModelSummary(self.document, self)
        self.summary_dialog.show()
        self.summary_dialog.raise_()

    def start_training(self) -> None:
        self.training_dock.show()
        self.training.start()

    def about(self) -> None:
        QMessageBox.about(self, "About netbuilder",
                          "<b>netbuilder</b><br>Build neural networks by drawing them: see every shape as you "
                          "build, train with live plots, export to ONNX and PyTorch.")

    # ----- editing

    def add_layer(self, layer_type: str, pos: QPointF, wire_from: str | None = None) -> str | None:
        """Add a block of a registry type at a scene position (snapped to the grid), optionally wired from
        the output of `wire_from`; one undoable step. Returns the new block's id."""
        graph = self.document.graph
        single = Graph()
        try:
            single.add_node(layer_type, pos=(round(pos.x() / GRID) * GRID, round(pos.y() / GRID) * GRID))
        except GraphError as e:
            self.show_message(str(e))
            return None
        fragment = graph.prepare_paste(single)
        new = fragment["nodes"][0]
        if wire_from is not None and single.nodes[0].input_ports() and graph.node(wire_from).output_ports():
            fragment["edges"] = [{"src": wire_from, "src_port": "out", "dst": new["id"],
                                  "dst_port": single.nodes[0].input_ports()[0]}]
        if not self.document.push(AddItems(graph, fragment, f"Add {new['name']}")):
            return None
        self.scene.select_nodes([new["id"]])
        return new["id"]

    def _add_from_palette(self, layer_type: str) -> None:
        """Double-click in the palette: below the selected block, wired to it; else in the middle of the view."""
        selected = self.scene.selected_node_ids()
        if len(selected) == 1:
            x, y = self.document.graph.node(selected[0]).pos
            self.add_layer(layer_type, QPointF(x, y + 110), wire_from=selected[0])
        else:
            self.add_layer(layer_type, self.view.centre_of_view())

    def delete_selection(self) -> None:
        nodes, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        if nodes or edges:
            count = len(nodes) + len(edges)
            self.document.push(RemoveItems(self.document.graph, nodes, edges,
                                          f"Delete {count} item{'s' if count > 1 else ''}"))

    def scene_select_all(self) -> None:
        for item in self.scene.items():
            if item.flags() & item.GraphicsItemFlag.ItemIsSelectable:
                item.setSelected(True)

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        data = QMimeData()
        text = json.dumps(self.document.graph.fragment(ids))
        data.setData(FRAGMENT_MIME, text.encode())
        data.setText(text)
        QGuiApplication.clipboard().setMimeData(data)
        self._paste_count = 0
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection()

    def paste(self) -> None:
        data = QGuiApplication.clipboard().mimeData()
        if data is None or not data.hasFormat(FRAGMENT_MIME):
            self.show_message("The clipboard holds no netbuilder blocks")
            return
        try:
            fragment = Graph.from_dict(json.loads(bytes(data.data(FRAGMENT_MIME)).decode("utf-8")))
        except (ValueError, RecursionError) as e:  # GraphError is a ValueError
            self.show_message(f"Cannot paste: {e}")
            return
        self._paste_count += 1
        self._insert(fragment, PASTE_OFFSET * self._paste_count, "Paste")

    def duplicate(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self._insert(Graph.from_dict(self.document.graph.fragment(ids)), PASTE_OFFSET, "Duplicate")

    def _insert(self, fragment: Graph, offset: float, verb: str) -> None:
        prepared = self.document.graph.prepare_paste(fragment, (offset, offset))
        count = len(prepared["nodes"])
        if self.document.push(AddItems(self.document.graph, prepared,
                                       f"{verb} {count} block{'s' if count > 1 else ''}")):
            self.scene.select_nodes([raw["id"] for raw in prepared["nodes"]])

    def auto_layout(self) -> None:
        positions = auto_layout(self.document.graph)
        if positions:
            self.document.push(MoveNodes(self.document.graph, positions, "Auto layout"))
            self.view.show_graph()

    # ----- files

    def _training_blocks(self) -> bool:
        """A run trains the open graph: another document cannot replace it until the run ends."""
        if self.training.is_running:
            self.show_message("Stop the training run before opening another graph")
            return True
        return False

    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost. True: go ahead (saved or discarded); False: cancelled."""
        if self.document.undo_stack.isClean():
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.document.display_name}?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def new_document(self) -> None:
        if not self._training_blocks() and self.maybe_save():
            self.document.replace(Graph(), None)

    def open_dialog(self) -> None:
        if self._training_blocks() or not self.maybe_save():
            return
        start = str(self.document.path.parent) if self.document.path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open graph", start, FILE_FILTER)
        if path:
            self.open_path(Path(path), ask=False)

    def open_path(self, path: Path, ask: bool = True) -> bool:
        """Open a graph file. A file that fails to load leaves the current document untouched."""
        if self._training_blocks() or (ask and not self.maybe_save()):
            return False
        if not self._open(Path(path), Path(path), None):
            return False
        self._remember(Path(path))
        return True

    def open_example(self, path: Path) -> bool:
        """Open an example as a new, unsaved document, so that Save asks where to keep the copy."""
        if self._training_blocks() or not self.maybe_save():
            return False
        return self._open(path, None, "{title} (example)")

    def _open(self, path: Path, document_path: Path | None, name: str | None) -> bool:
        try:
            graph = Graph.load(path)
        except GraphError as e:
            QMessageBox.warning(self, "Cannot open file", f"Could not open {path.name}:\n\n{e}")
            return False
        display = name.format(title=graph.meta.get("title", path.stem)) if name else None
        self.document.replace(graph, document_path, display)
        QTimer.singleShot(0, self.view.show_graph)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        start = str(self.document.path or Path.cwd() / "untitled.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save graph", start, FILE_FILTER)
        if not path:
            return False
        path = Path(path)
        return self.save_to(path if path.suffix else path.with_suffix(".json"))

    def save_to(self, path: Path) -> bool:
        try:
            self.document.graph.save(path)
        except OSError as e:
            QMessageBox.warning(self, "Cannot save", f"Could not save {path.name}:\n\n{e.strerror or e}")
            return False
        self.document.set_path(path)
        self.document.undo_stack.setClean()
        self.recovery.discard()
        self._remember(path)
        self.show_message(f"Saved {path}")
        return True

    def _remember(self, path: Path) -> None:
        settings = QSettings()
        recent = [str(path.resolve())] + [p for p in self.recent_files() if p != str(path.resolve())]
        settings.setValue("recent_files", recent[:MAX_RECENT])

    @staticmethod
    def recent_files() -> list[str]:
        value = QSettings().value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(Path(p)))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # ----- autosave and recovery

    def autosave(self) -> None:
        if self.document.undo_stack.isClean():
            self.recovery.discard()
        else:
            try:
                self.recovery.write(self.document.graph, self.document.path)
            except OSError as e:
                self.show_message(f"Autosave failed: {e.strerror or e}")

    def offer_recovery(self) -> bool:
        found = left_behind(self.recovery.directory)
        if not found:
            return False
        newest = found[0]
        name = newest.path.name if newest.path else "an unsaved graph"
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"netbuilder did not close cleanly. Restore the unsaved changes to {name}?",
            buttons.Yes | buttons.No, buttons.Yes)
        if answer == buttons.Yes:
            self.document.replace(newest.graph, newest.path,
                                  (newest.path.name if newest.path else "untitled") + " (recovered)")
            self.document.undo_stack.resetClean()  # unsaved until the user saves it
            self._update_title()
            self.autosave()
            QTimer.singleShot(0, self.view.show_graph)
        newest.file.unlink(missing_ok=True)
        return answer == buttons.Yes

    def closeEvent(self, event) -> None:
        if self.training.is_running:
            buttons = QMessageBox.StandardButton
            answer = QMessageBox.question(self, "Training is running", "Stop the training run and quit?",
                                          buttons.Yes | buttons.No, buttons.No)
            if answer != buttons.Yes:
                event.ignore()
                return
        if self.maybe_save():
            self.training.wait()
            self.exchange.wait()
            self.recovery.discard()
            event.accept()
        else:
            event.ignore()
