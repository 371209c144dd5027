"""The Runs panel: the open network's runs (its store, core/training/runs), newest first, sortable by any column —
number and name, when, status, the headline figure, the final losses, epochs, duration, device and the settings
changed since the run before. Runs are renamed, noted, starred and deleted here (each undoable: Undo / Redo in the
panel; a deleted run goes to the store's trash and comes back from it), shown (double-click: curves, results,
samples and weights as when it ended), compared (two or more selected) and used (right-click: its weights in the
editor, continue it, fine-tune from it, export it, open its graph). The window does what the signals ask.
"""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.training.runs import Run, RunError, changed_settings
from .compare_view import CompareView

COLUMNS = ("run", "when", "status", "result", "loss train / val", "epochs", "time", "device",
           "changed since the run before")
STATUS_COLOURS = {"running": "#2f6fde", "finished": "#1e7e34", "stopped": "#8a6d00", "failed": "#d93025",
                  "killed": "#d93025", "diverged": "#d93025", "pruned": "#6a7282", "unknown": "#d93025"}
RUN_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class SortItem(QTableWidgetItem):
    """A cell that sorts by its value (a number, a time), not by the words it shows."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is None or b is None or type(a) is not type(b):  # no figure: below every figure
            return (a is None, self.text()) > (b is None, other.text())
        return a < b


def when(text: str | None) -> str:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        moment = None
    if moment is None:
        return "-"
    return moment.strftime("%H:%M:%S" if moment.date() == datetime.now().date() else "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min" if seconds < 3600 else \
        f"{seconds / 3600:.1f} h"


def value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "-" if value is None else str(value)


def changed_text(run: Run, previous: Run | None, graphs: dict) -> str:
    """The settings changed since the run before, and how its graph changed (`graphs` caches the differences)."""
    changes = changed_settings(run, previous)
    words = [f"{key} {value_text(old)} → {value_text(new)}" for key, (old, new) in changes.items()]
    if previous is not None:
        key = (str(previous.path), str(run.path))
        if key not in graphs:
            graphs[key] = _graph_change(previous, run)
        if graphs[key]:
            words.append(graphs[key])
    return ", ".join(words)


def _graph_change(previous: Run, run: Run) -> str:
    from ..core.training.runs import graph_diff
    from ..core.training.runs.run import GRAPH_FILE, read_json

    try:
        diff = graph_diff(read_json(previous.graph_file, GRAPH_FILE), read_json(run.graph_file, GRAPH_FILE))
    except RunError:
        return ""
    diff.recipe = {}  # the recipe's changes are the settings'
    if diff.empty:
        return ""
    named = [f"+{b.name}" for b in diff.added] + [f"-{b.name}" for b in diff.removed] + [c.name for c in diff.changed]
    return "graph: " + ", ".join(named[:4]) + (" …" if len(named) > 4 else "")


class RunEdit(QUndoCommand):
    """One change to the store (rename, note, star, delete) and its inverse; done when pushed."""

    def __init__(self, panel: RunsPanel, text: str, do, undo) -> None:
        super().__init__(text)
        self.panel, self.do, self.inverse = panel, do, undo
        self.first = True

    def redo(self) -> None:
        if self.first:
            self.first = False  # already done (pushed after it succeeded)
            return
        self.panel._apply(self.do)

    def undo(self) -> None:
        self.panel._apply(self.inverse)


class RunsPanel(QWidget):
    show_requested = Signal(object)  # a Run: show its curves, results, samples, weights
    compare_requested = Signal(object)  # [Run, ...]: compare them
    compare_left = Signal()
    use_requested = Signal(object)  # a Run: its weights in the editor
    continue_requested = Signal(object)
    finetune_requested = Signal(object)
    export_requested = Signal(object, str)  # a Run, "onnx" | "code" | "script"
    open_requested = Signal(object)  # a Run: its graph snapshot as a new document
    message = Signal(str)

    def __init__(self, runs) -> None:
        """`runs`: the open document's runs (document_runs.DocumentRuns)."""
        super().__init__()
        self.runs = runs
        self.listed: list[Run] = []
        self._graph_changes: dict = {}  # (folder, folder) -> how the graph changed between two runs
        self.undo_stack = QUndoStack(self)
        self.where = QLabel()
        self.where.setObjectName("help")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.DescendingOrder)  # the newest first
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.itemDoubleClicked.connect(lambda item: self.show_run(self._row_run(item.row())))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.compare = CompareView()
        self.compare.hide()
        splitter = QSplitter(Qt.Orientation.Vertical)  # a narrow column: the comparison under the runs
        splitter.addWidget(self.table)
        splitter.addWidget(self.compare)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        for key, text, slot, tip in (
                ("compare", "Compare", self.compare_selected, ("Overlay the selected runs' curves, list their settings "
                                                              "and mark their graphs' differences on the canvas")),
                ("leave", "Leave", self.leave_compare, "Leave compare: back to the run in view"),
                ("show", "Show", lambda: self.show_run(self._one()), ("Its curves, results, samples and weights "
                                                                     "(or double-click it)")),
                ("star", "★", lambda: self.toggle_star(self._one()), "Star (or unstar) the run"),
                ("delete", "Delete", lambda: self.delete(self.selected()), "Move to the store's trash (undoable)"),
                ("more", "⋯", self._more, "Use the run, rename it, note… (or right-click it)"),
                ("undo", "↶", self.undo_stack.undo, ""), ("redo", "↷", self.undo_stack.redo, "")):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch()
        self.undo_stack.canUndoChanged.connect(self.buttons["undo"].setEnabled)
        self.undo_stack.canRedoChanged.connect(self.buttons["redo"].setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda t: self.buttons["undo"].setToolTip(f"Undo {t}" if t else ""))
        self.undo_stack.redoTextChanged.connect(lambda t: self.buttons["redo"].setToolTip(f"Redo {t}" if t else ""))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.where)
        layout.addLayout(row)
        layout.addWidget(splitter, 1)
        runs.changed.connect(self.refresh)
        runs.document.replaced.connect(self.undo_stack.clear)  # another store: its runs' edits are not these
        self.refresh()

    # ----- the table

    def refresh(self) -> None:
        """List the store's runs again, keeping the selection and the sort order."""
        chosen = {run.folder for run in self.selected()}
        self.listed = self.runs.runs()
        store = self.runs.store
        count = len(self.listed)
        self.where.setText(f"{count} run{'s' if count != 1 else ''} of {self.runs.document.display_name}, in "
                           f"{store.path.name}" if count else f"No runs of {self.runs.document.display_name} yet: "
                           "each training run is kept here.")
        self.where.setToolTip(f"Kept in {store.path}: a folder per run (run.json, curves, metrics, weights)")
        table = self.table
        table.setSortingEnabled(False)
        table.blockSignals(True)
        table.setRowCount(len(self.listed))
        previous = None
        for row, run in enumerate(self.listed):
            self._fill(row, run, previous)
            previous = run
        table.blockSignals(False)
        table.setSortingEnabled(True)
        for row in range(table.rowCount()):
            if self._row_run(row).folder in chosen:
                table.selectRow(row)
        table.resizeColumnsToContents()
        self._selection_changed()

    def _fill(self, row: int, run: Run, previous: Run | None) -> None:
        headline = run.headline
        final = run.final
        losses = " / ".join(f"{final[k]:.4g}" for k in ("train_loss", "val_loss") if isinstance(final.get(k), float))
        star = "★ " if run.starred else ""
        cells = [
            (f"{star}{run.number}  {run.name}".rstrip(), run.number),
            (when(run.started), run.started or ""),
            (run.status, run.status),
            (headline.text if headline else "-", headline.value if headline else None),
            (losses or "-", final.get("val_loss", final.get("train_loss"))),
            (str(len(run.epochs)), len(run.epochs)),
            (duration(run.seconds), run.seconds),
            (run.device or "-", run.device or ""),
            (changed_text(run, previous, self._graph_changes) or ("-" if previous is not None else "(the first run)"),
             None),
        ]
        for column, (text, key) in enumerate(cells):
            item = SortItem(text)
            item.setData(SORT_ROLE, key)
            item.setData(RUN_ROLE, run)
            self.table.setItem(row, column, item)
        status = self.table.item(row, 2)
        status.setForeground(QBrush(QColor(STATUS_COLOURS.get(run.status, "#1f2430"))))
        tip = [f"run {run.number} ({run.folder}): {run.status}" + (f" — {run.message}" if run.message else "")]
        if run.note:
            tip.append(f"note: {run.note}")
        if run.problem:
            tip.append(f"problem: {run.problem}")
        if run.record.get("resumed_from"):
            tip.append(f"continues run {run.record['resumed_from']}")
        if run.record.get("weights_from"):
            tip.append(f"started from {run.record['weights_from']}")
        for column in range(len(COLUMNS)):
            self.table.item(row, column).setToolTip("\n".join(tip))
        if run.note:
            self.table.item(row, 0).setText(self.table.item(row, 0).text() + "  ✎")

    def _row_run(self, row: int) -> Run | None:
        item = self.table.item(row, 0)
        return item.data(RUN_ROLE) if item is not None else None

    def selected(self) -> list[Run]:
        """The selected runs, by number."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return sorted((self._row_run(r) for r in rows if self._row_run(r) is not None), key=lambda r: r.number)

    def select(self, numbers: list[int]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.table.rowCount()):
            if self._row_run(row).number in numbers:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _one(self) -> Run | None:
        chosen = self.selected()
        return chosen[0] if len(chosen) == 1 else None

    def _selection_changed(self) -> None:
        chosen = self.selected()
        for key in ("show", "star"):
            self.buttons[key].setEnabled(len(chosen) == 1)
        self.buttons["more"].setEnabled(bool(chosen))
        self.buttons["delete"].setEnabled(bool(chosen))
        self.buttons["compare"].setEnabled(len(chosen) >= 2)
        self.buttons["leave"].setVisible(self.compare.isVisible())
        self.buttons["undo"].setEnabled(self.undo_stack.canUndo())
        self.buttons["redo"].setEnabled(self.undo_stack.canRedo())

    def _more(self) -> None:
        button = self.buttons["more"]
        self.menu().exec(button.mapToGlobal(button.rect().bottomLeft()))

    def _context_menu(self, pos) -> None:
        row = self.table.rowAt(pos.y())
        if row >= 0 and not self.table.item(row, 0).isSelected():
            self.table.selectRow(row)
        self.menu().exec(self.table.viewport().mapToGlobal(pos))

    def menu(self) -> QMenu:
        """The selected runs' menu: show, compare, use (weights, continue, fine-tune, export, open), annotate."""
        menu = QMenu(self)
        chosen = self.selected()
        run = chosen[0] if len(chosen) == 1 else None
        weights = run is not None and run.has_weights()

        def add(text: str, slot, enabled: bool = True, parent: QMenu = menu) -> QAction:
            action = parent.addAction(text, slot)
            action.setEnabled(enabled)
            return action

        add("Show", lambda: self.show_run(run), run is not None)
        add("Compare", self.compare_selected, len(chosen) >= 2)
        menu.addSeparator()
        add("Use Its Weights in the Editor", lambda: self.use_requested.emit(run), weights)
        add("Continue (from its checkpoint, as a new run)", lambda: self.continue_requested.emit(run),
            run is not None and run.status != "running" and run.checkpoint_file.is_file())
        add("Fine-Tune from It (a new run from its weights)", lambda: self.finetune_requested.emit(run), weights)
        export = menu.addMenu("Export It")
        export.setEnabled(weights)
        add("ONNX Model…", lambda: self.export_requested.emit(run, "onnx"), parent=export)
        add("PyTorch Code…", lambda: self.export_requested.emit(run, "code"), parent=export)
        add("Training Script…", lambda: self.export_requested.emit(run, "script"), parent=export)
        add("Open Its Graph as a New Document", lambda: self.open_requested.emit(run),
            run is not None and run.graph_file.is_file())
        menu.addSeparator()
        add("Unstar" if run is not None and run.starred else "Star", lambda: self.toggle_star(run), run is not None)
        add("Rename…", lambda: self.rename(run), run is not None)
        add("Note…", lambda: self.note(run), run is not None)
        add("Delete", lambda: self.delete(chosen), bool(chosen) and all(r.status != "running" for r in chosen))
        try:
            trashed = self.runs.store.trashed()
        except RunError:
            trashed = []
        trash = menu.addMenu("Restore from the Trash")
        trash.setEnabled(bool(trashed))
        for old in trashed:
            add(f"{old.title} ({old.status}, {when(old.started)})", lambda r=old: self.restore(r), parent=trash)
        return menu

    def restore(self, run: Run) -> bool:
        """Bring a deleted run back from the store's trash (undoable: back into the trash)."""
        folder = run.folder
        return self._edit(f"restore run {run.number}", lambda s: s.restore(folder), lambda s: s.delete(folder))

    # ----- show and compare

    def show_run(self, run: Run | None) -> None:
        if run is not None:
            self.leave_compare()
            self.show_requested.emit(run)

    def compare_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) < 2:
            self.message.emit("Select two or more runs to compare (ctrl-click)")
            return
        self.compare.show()
        self.compare_requested.emit(chosen)
        self._selection_changed()

    def leave_compare(self) -> None:
        if self.compare.isVisible():
            self.compare.hide()
            self.compare.clear()
            self.compare_left.emit()
        self._selection_changed()

    # ----- annotations, undoable

    def _apply(self, change) -> bool:
        try:
            change(self.runs.store)
        except (RunError, OSError) as e:
            self.message.emit(str(e))
            return False
        self.runs.refresh()
        return True

    def _edit(self, text: str, do, undo) -> bool:
        if not self._apply(do):
            return False
        self.undo_stack.push(RunEdit(self, text, do, undo))
        return True

    def rename(self, run: Run | None, name: str | None = None) -> bool:
        if run is None:
            return False
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename run", f"Name of run {run.number}:", text=run.name)
            if not ok:
                return False
        old, folder = run.name, run.folder
        return self._edit(f"rename run {run.number}", lambda s: s.rename(folder, name), lambda s: s.rename(folder, old))

    def note(self, run: Run | None, text: str | None = None) -> bool:
        if run is None:
            return False
        if text is None:
            text, ok = QInputDialog.getMultiLineText(self, "Note", f"A note kept with run {run.number}:", run.note)
            if not ok:
                return False
        old, folder = run.note, run.folder
        return self._edit(f"note on run {run.number}", lambda s: s.set_note(folder, text),
                          lambda s: s.set_note(folder, old))

    def toggle_star(self, run: Run | None) -> bool:
        if run is None:
            return False
        starred, folder = not run.starred, run.folder
        return self._edit(f"{'star' if starred else 'unstar'} run {run.number}",
                          lambda s: s.set_starred(folder, starred), lambda s: s.set_starred(folder, not starred))

    def delete(self, runs: list[Run]) -> bool:
        """Move runs to the store's trash; Undo brings them back."""
        runs = [run for run in runs if run is not None]
        if not runs:
            return False
        busy = [run.number for run in runs if run.status == "running"]
        if busy:
            self.message.emit(f"run {busy[0]} is still training; stop it before deleting it")
            return False
        folders = [run.folder for run in runs]
        names = ", ".join(str(run.number) for run in runs)
        done = self._edit(f"delete run{'s' if len(runs) > 1 else ''} {names}",
                          lambda s: [s.delete(f) for f in folders], lambda s: [s.restore(f) for f in folders])
        if done:
            self.message.emit(f"Run{'s' if len(runs) > 1 else ''} {names} moved to the trash of {self.runs.store.path.name}"
                              " (Undo in the Runs panel brings {} back)".format("them" if len(runs) > 1 else "it"))
        return done
