"""The code view: the open network as its PyTorch code export writes it, both ways.

The code follows the graph (worked out on a thread, once for several changes in a row); the selected block's
lines are marked, and clicking a line selects its block. The code may be edited: Apply imports it (on a
thread: it runs the code) together with the code as it was, and does the difference to the graph as ONE
undoable edit (core/exchange/code_edit.py); Revert shows the graph's code again. Code that cannot be imported
is refused with its line and the reason, and the graph stays as it was.
"""
from __future__ import annotations

import re

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .code_editor import BLOCK_LINES, ERROR_LINE, CodeEditor
from .commands import RecordedEdit
from .document import Document, torch_loader

DELAY_MS = 250  # changes in a row (typing a param) cost one regeneration
_LINE = re.compile(r"\bline (\d+)\b")


class _Job(QThread):
    """Work on a thread; its result or its error (one line) come back as signals."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work = work

    def run(self) -> None:
        from ..core.checks.messages import describe

        try:
            self.done.emit(self.work())
        except Exception as e:  # noqa: BLE001 - the user's code may raise anything; a bug says it is one
            self.failed.emit(describe(e))


class CodeView(QWidget):
    block_chosen = Signal(str)  # the id of the block whose line was clicked
    message = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.source = None  # the codegen.Source shown (None until the first one)
        self.edited = False
        self.stale = False  # the graph changed while the code was edited
        self.job: _Job | None = None
        self.apply_job: _Job | None = None
        self._selected: list[str] = []
        self._base: tuple[str, object] | None = None  # (generated code, its import): what an edit is measured from
        self.editor = CodeEditor()
        self.editor.setPlaceholderText("The network's PyTorch code appears here once PyTorch has loaded…")
        self.editor.textChanged.connect(self._text_changed)
        self.editor.line_clicked.connect(self._line_clicked)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Import the edited code and change the network to match (one undoable edit)")
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Discard the edits: show the network's code again")
        self.revert_button.clicked.connect(self.revert)
        self.status = QLabel()
        self.status.setObjectName("help")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch()
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.editor, 1)
        column.addWidget(self.status)
        column.addLayout(buttons)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.refresh)
        for signal in (document.report_changed, document.group_added, document.group_removed, document.group_changed,
                       document.replaced, document.node_renamed):
            signal.connect(self._graph_changed)
        document.replaced.connect(self._replaced)
        torch_loader().shapes_ready.connect(self._graph_changed)
        self._set_buttons()
        if torch_loader().ready:
            self._graph_changed()

    # ----- the graph's code

    def _graph_changed(self, *_args) -> None:
        if self.edited:
            self.stale = True
            self._say("Edited: Apply changes the network to match, Revert shows its code again (the network "
                      "changed since you began).")
            return
        self.timer.start()

    def _replaced(self) -> None:
        self.edited = self.stale = False
        self._set_buttons()

    def refresh(self) -> None:
        """Work the code out again (on a thread), unless the user is editing it."""
        if self.edited or not torch_loader().ready:
            return
        if self.job is not None and self.job.isRunning():
            self.timer.start()  # one at a time: again once this one is done
            return
        from ..core.exchange.codegen import write_source

        graph = self.document.graph.copy()
        self.job = _Job(lambda: write_source(graph, title=graph.meta.get("title")), self)
        self.job.done.connect(self._show)
        self.job.failed.connect(self._cannot_show)
        self.job.start()

    def _show(self, source) -> None:
        if self.edited:
            return
        self.source = source
        scroll = self.editor.verticalScrollBar().value()
        self.editor.blockSignals(True)
        self.editor.setPlainText(source.text)
        self.editor.blockSignals(False)
        self.editor.verticalScrollBar().setValue(scroll)
        self._say("The network as PyTorch code. Edit it and Apply to change the network.")
        self.show_selection(self._selected)

    def _cannot_show(self, error: str) -> None:
        if not self.edited:
            self._say(f"No code while the network cannot be built: {error}", error=True)

    # ----- selection both ways

    def show_selection(self, node_ids: list[str]) -> None:
        """Mark the lines of the selected blocks (while the code is the graph's own)."""
        self._selected = list(node_ids)
        if self.source is None or self.edited:
            return
        graph = self.document.graph
        lines = [line for node_id in node_ids if node_id in graph
                 for line in self.source.lines.get(graph.node(node_id).name, [])]
        self.editor.mark([(lines, BLOCK_LINES)] if lines else [])
        if lines and not any(self._visible(line) for line in lines):
            self.editor.show_line(lines[0])

    def _visible(self, line: int) -> bool:
        first = self.editor.firstVisibleBlock().blockNumber() + 1
        rows = self.editor.viewport().height() // max(1, self.editor.fontMetrics().height())
        return first <= line < first + rows

    def _line_clicked(self, line: int) -> None:
        if self.source is None or self.edited:
            return
        name = self.source.block_at(line)
        ids = {node.name: node.id for node in self.document.graph.nodes}
        if name in ids:
            self.block_chosen.emit(ids[name])

    # ----- editing

    def _text_changed(self) -> None:
        if not self.edited and self.source is not None and self.editor.toPlainText() != self.source.text:
            self.edited = True
            self.editor.mark([])
            self._say("Edited: Apply changes the network to match, Revert shows its code again.")
            self._set_buttons()

    def _set_buttons(self) -> None:
        busy = self.apply_job is not None and self.apply_job.isRunning()
        self.apply_button.setEnabled(self.edited and not busy)
        self.revert_button.setEnabled(self.edited and not busy)

    def revert(self) -> None:
        self.edited = self.stale = False
        self._set_buttons()
        self.refresh()

    def apply(self) -> bool:
        """Import the edited code (on a thread) and apply what changed to the graph as one undoable edit."""
        if not self.edited or self.source is None or (self.apply_job is not None and self.apply_job.isRunning()):
            return False
        from ..core.exchange.torch_import import import_code

        base_text, edited_text, shapes = self.source.text, self.editor.toPlainText(), self.source.inputs
        known = self._base[1] if self._base is not None and self._base[0] == base_text else None

        def work():
            edited = import_code(edited_text, _class_name(edited_text), shapes).graph
            base = known if known is not None else import_code(base_text, _class_name(base_text), shapes).graph
            return base_text, base, edited

        self.apply_job = _Job(work, self)
        self.apply_job.done.connect(self._apply_imported)
        self.apply_job.failed.connect(self._refused)
        self.apply_job.finished.connect(self._set_buttons)
        self._say("Importing the code…")
        self.apply_job.start()
        self._set_buttons()
        return True

    def _apply_imported(self, graphs) -> None:
        from ..core.exchange.code_edit import apply_code_edit

        base_text, base, edited = graphs
        self._base = (base_text, base)  # a second edit of the same code needs only the edited text imported
        graph = self.document.graph
        result = []
        command = RecordedEdit(graph, "Edit the code", lambda g: result.append(apply_code_edit(g, base, edited)))
        if not self.document.push(command):
            self._say(f"The network refused the edit: {self.document.refusal}", error=True)
            return
        summary = result[0].summary() if result else "applied the code"
        self.edited = self.stale = False
        self._set_buttons()
        self.message.emit(summary)
        self._say(summary[0].upper() + summary[1:] + ".")
        self.refresh()

    def _refused(self, error: str) -> None:
        found = _LINE.search(error)
        self.editor.mark([([int(found.group(1))], ERROR_LINE)] if found else [])
        if found:
            self.editor.show_line(int(found.group(1)))
        self._say(f"Not applied: {error}", error=True)
        self.message.emit(f"The code was not applied: {error.splitlines()[0]}")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("problem", error)
        self.status.setStyleSheet("color: #d93025;" if error else "")

    def wait(self) -> None:
        for job in (self.job, self.apply_job):
            if job is not None:
                job.wait()


def _class_name(text: str) -> str:
    """The class the code defines (the last nn.Module class: the network)."""
    found = re.findall(r"^class (\w+)\(nn\.Module\)", text, re.MULTILINE)
    return found[-1] if found else "Net"

