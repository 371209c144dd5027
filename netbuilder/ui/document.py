"""The open document: a Graph, where it lives on disk, its undo stack and its latest shape report.

torch is imported on a background thread when the first Document is made, so the window shows
the graph at once; shapes appear as soon as torch is ready. After that, every change to the graph
re-infers shapes once per event-loop turn (several changes in one command cost one inference).
"""
from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ..core.graph import Graph, GraphError
from ..core.shapes import ShapeReport, infer_shapes
from .commands import GraphCommand


class TorchLoader(QThread):
    """Imports torch (seconds) off the GUI thread; `ready` is set, then `finished` is emitted."""

    ready = False

    def run(self) -> None:
        import torch.fx  # noqa: F401

        from ..core import shapes, train

        shapes.warm_up()  # the first inference of each layer is slow (torch sets up its kernels): do it here
        self.ready = True
        train.warm_up()  # and a first training step, so that starting a run does not stall the window
        # torch, numpy and Qt leave ~350,000 long-lived objects; every full garbage collection would scan
        # them all, holding the GIL (and the window) for ~200 ms. They live until exit: take them out.
        gc.collect()
        gc.freeze()


_loader: TorchLoader | None = None


def torch_loader() -> TorchLoader:
    global _loader
    if _loader is None:
        _loader = TorchLoader()
        _loader.start()
    return _loader


class Document(QObject):
    changed = Signal(str, object)  # the graph's own notifications: kind, Node or Edge
    replaced = Signal()  # a different graph was opened (or New)
    report_changed = Signal(object)  # a fresh ShapeReport
    path_changed = Signal()
    message = Signal(str)  # a refused edit, for the status bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = Graph()
        self.path: Path | None = None
        self.display_name = "untitled"
        self.report: ShapeReport | None = None
        self.undo_stack = QUndoStack(self)
        self.locked_reason: str | None = None  # set while a training run uses the graph
        self._refresh_pending = False
        self.graph.subscribe(self._on_graph_change)
        loader = torch_loader()
        loader.finished.connect(self.refresh_shapes)
        if loader.ready:
            self.schedule_refresh()

    # ----- the graph

    def replace(self, graph: Graph, path: Path | None, display_name: str | None = None) -> None:
        """Show another graph (Open, New, an example, a recovered file); the undo history starts afresh."""
        self.graph.unsubscribe(self._on_graph_change)
        self.graph = graph
        self.graph.subscribe(self._on_graph_change)
        self.path = path
        self.display_name = display_name or (path.name if path else "untitled")
        self.undo_stack.clear()
        self.report = None
        self.replaced.emit()
        self.path_changed.emit()
        self.schedule_refresh()

    def run(self, command: GraphCommand) -> str | None:
        """Apply an edit and put it on the undo stack. A refused edit leaves the graph as it was:
        the reason is returned (and sent to the status bar); None means it was applied."""
        if self.locked_reason and command.changes_model:
            error = self.locked_reason
        else:
            try:
                command.apply_first()
            except GraphError as e:
                error = str(e)
            else:
                self.undo_stack.push(command)
                return None
        self.message.emit(error)
        return error

    def set_path(self, path: Path) -> None:
        self.path = path
        self.display_name = path.name
        self.path_changed.emit()

    # ----- shapes

    def _on_graph_change(self, kind: str, subject: object) -> None:
        self.changed.emit(kind, subject)
        if kind != "node_moved":
            self.schedule_refresh()

    def schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self.refresh_shapes)

    def refresh_shapes(self) -> None:
        self._refresh_pending = False
        if not torch_loader().ready:
            return  # the loader's `finished` calls again
        self.report = infer_shapes(self.graph)
        self.report_changed.emit(self.report)
