"""The open document: a Graph, where it lives on disk, its undo stack and its latest shape report.

The graph's own typed events are re-emitted here as Qt signals of the same names, so views connect
to the changes they show (and keep their connections when another graph is opened).

torch is imported on a background thread when the first Document is made, so the window shows
the graph at once; shapes appear as soon as torch is ready. After that, every change to the graph
re-infers shapes once per event-loop turn (several changes in one command cost one inference).
"""
from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ..core.checks.analysis import Finding, analyze, data_facts
from ..core.checks.shapes import ShapeReport, infer_shapes
from ..core.model.graph import Edge, Graph, GraphError, Group, Node
from .commands import GraphCommand


class TorchLoader(QThread):
    """Imports torch (seconds) off the GUI thread; `ready` is set and `shapes_ready` emitted as soon as shapes can
    be inferred (and the training modules are imported); `finished` after a first training step has warmed up."""

    ready = False
    shapes_ready = Signal()

    def run(self) -> None:
        import torch.fx  # noqa: F401

        from ..core.checks import shapes
        from ..core.training.config import warm_up

        shapes.warm_up()  # the first inference of each layer is slow (torch sets up its kernels): do it here
        self.ready = True
        self.shapes_ready.emit()
        warm_up()  # and a first training step, so that starting a run does not stall the window
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


# the graph's events, re-emitted under the same names; all but these change the network (and its shapes)
GRAPH_EVENTS = ("node_added", "node_removed", "param_changed", "node_renamed", "node_moved", "setting_changed",
                "edge_added", "edge_removed", "group_added", "group_removed", "group_changed", "recipe_changed")
LAYOUT_EVENTS = ("node_moved", "group_added", "group_removed", "group_changed", "recipe_changed")


class Document(QObject):
    node_added = Signal(Node)
    node_removed = Signal(Node)
    param_changed = Signal(Node, str)  # the node, the param's name
    node_renamed = Signal(Node, str)  # the node, its old name
    node_moved = Signal(Node)
    setting_changed = Signal(Node, str)  # the node, the setting's name (frozen, shares, init)
    recipe_changed = Signal()
    edge_added = Signal(Edge)
    edge_removed = Signal(Edge)
    group_added = Signal(Group)
    group_removed = Signal(Group)
    group_changed = Signal(Group)
    replaced = Signal()  # a different graph was opened (or New)
    report_changed = Signal(object)  # a fresh ShapeReport
    findings_changed = Signal(object)  # the analysis of the graph (list of core.analysis.Finding), after each report
    path_changed = Signal()
    modified_changed = Signal(bool)  # whether there are changes to save (folding groups is not one)
    lock_changed = Signal(bool)
    message = Signal(str)  # a refused edit, for the status bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = Graph()
        self.path: Path | None = None
        self.display_name = "untitled"
        self.suggested_name: str | None = None  # what Save As proposes for an unsaved copy (an example's file name)
        self.report: ShapeReport | None = None
        self.findings: list[Finding] = []
        self.data_source = None  # the dataset training would use (core.data Source), once it has been read
        self.batch_size: int | None = None
        self.undo_stack = QUndoStack(self)
        self._modified = False
        self.undo_stack.indexChanged.connect(self._check_modified)
        self.undo_stack.cleanChanged.connect(self._check_modified)
        self.locked_reason: str | None = None  # set while a training run uses the graph
        self.refusal: str | None = None  # why the last edit pushed was refused (without the block's name)
        self._relays = [(name, getattr(self, name).emit) for name in GRAPH_EVENTS]
        self._refresh_pending = False
        self._follow(self.graph, True)
        loader = torch_loader()
        loader.shapes_ready.connect(self.refresh_shapes)
        if loader.ready:
            self.schedule_refresh()

    # ----- the graph

    def replace(self, graph: Graph, path: Path | None, display_name: str | None = None) -> None:
        """Show another graph (Open, New, an example, a recovered file); the undo history starts afresh."""
        self._follow(self.graph, False)
        self.graph = graph
        self._follow(self.graph, True)
        self.path = path
        self.display_name = display_name or (path.name if path else "untitled")
        self.suggested_name = None
        self.undo_stack.clear()
        self.report = None
        self.findings = []
        self.data_source = None  # the dataset the last graph was checked against: the new one's is read anew
        self.replaced.emit()
        self.path_changed.emit()
        self.schedule_refresh()

    def is_modified(self) -> bool:
        """Changes made since the document was opened or saved, other than folding and unfolding groups (a way
        of looking at it: closing does not ask about them)."""
        stack = self.undo_stack
        clean, now = stack.cleanIndex(), stack.index()
        if clean < 0:
            return True  # the saved state is gone from the history
        low, high = min(clean, now), max(clean, now)
        return any(not getattr(stack.command(i), "view_only", False) for i in range(low, high))

    def _check_modified(self, *_args) -> None:
        modified = self.is_modified()
        if modified != self._modified:
            self._modified = modified
            self.modified_changed.emit(modified)

    def _follow(self, graph: Graph, on: bool) -> None:
        for name, relay in self._relays:
            event = getattr(graph, name)
            (event.connect if on else event.disconnect)(relay)
            if name not in LAYOUT_EVENTS:
                (event.connect if on else event.disconnect)(self.schedule_refresh)

    def push(self, command: GraphCommand) -> bool:
        """Apply an edit and put it on the undo stack. True when applied; a refused edit leaves the graph
        as it was, keeps its reason in `refusal` and sends it to the status bar."""
        self.refusal = None
        if self.locked_reason and command.changes_model:
            self.refusal = self.locked_reason
        else:
            try:
                command.apply_first()
            except GraphError as e:
                self.refusal = e.reason
                self.message.emit(str(e))
                return False
            self.undo_stack.push(command)
            return True
        self.message.emit(self.refusal)
        return False

    def lock(self, reason: str) -> None:
        """Refuse edits that change the network (moving blocks still works), saying `reason`."""
        self.locked_reason = reason
        self.lock_changed.emit(True)

    def unlock(self) -> None:
        self.locked_reason = None
        self.lock_changed.emit(False)

    def set_path(self, path: Path) -> None:
        self.path = path
        self.display_name = path.name
        self.path_changed.emit()

    # ----- shapes

    def schedule_refresh(self, *_changed) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self.refresh_shapes)

    def refresh_shapes(self) -> None:
        self._refresh_pending = False
        if not torch_loader().ready:
            return  # the loader's `finished` calls again
        self.report = infer_shapes(self.graph)
        self.report_changed.emit(self.report)
        self.analyze()

    # ----- analysis

    def set_data_context(self, source, batch_size: int | None) -> None:
        """The dataset (a loaded core.data Source, or None) and batch size training would use: the analysis checks
        the graph against them too."""
        self.data_source, self.batch_size = source, batch_size
        self.analyze()

    def analyze(self) -> None:
        if self.report is None:
            return
        facts = None
        if self.data_source is not None:
            inputs = [n for n in self.graph.nodes if n.type == "Input"]
            facts = data_facts(self.data_source, tuple(inputs[0].params["shape"]) if len(inputs) == 1 else None)
        self.findings = analyze(self.graph, self.report, facts, self.batch_size if facts else None)
        self.findings_changed.emit(self.findings)
