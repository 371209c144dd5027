"""The inspector: the selected block's name and params as typed widgets, and its shapes and counts.

Widgets come from the registry's param kinds and bounds. Every change is a command; a value the
graph refuses is not applied, and the message appears under the widget.
"""
from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QCompleter, QFormLayout, QLabel, QLineEdit, QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from ..core.layers import Param
from ..core.layers.spec import format_shape, format_value
from ..core.shapes import NodeShapes, format_count
from .block_settings import BlockSettings
from .commands import Rename, SetParam
from .document import Document

INT_LIMIT = 2**31 - 1


def parse_ints(text: str, param: Param) -> Any:
    """What a person types for an int-tuple param: "5", "3x5", "3, 5", "same"; empty for optional."""
    text = text.strip()
    if not text and param.optional:
        return None
    if text in param.choices:
        return text
    parts = [p for p in re.split(r"[x×,\s]+", text) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        return text  # let the param check say what is wrong with it
    if len(values) == 1 and param.length is not None:
        return values[0]
    return values


def show_ints(value: Any) -> str:
    return "" if value is None else format_value(value)


class ParamEditor:
    """One param's widget: shows the node's value, commits what the user sets."""

    def __init__(self, inspector: Inspector, param: Param) -> None:
        self.inspector, self.param = inspector, param
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.widget = self._make()
        self.widget.setToolTip(param.help)

    def _make(self) -> QWidget:
        p = self.param
        if p.kind == "int":
            box = QSpinBox()
            box.setRange(int(p.min) if p.min is not None else -INT_LIMIT, int(p.max) if p.max is not None else INT_LIMIT)
            box.valueChanged.connect(self.commit)
            return box
        if p.kind == "bool":
            box = QCheckBox()
            box.toggled.connect(self.commit)
            return box
        if p.kind == "choice":
            box = QComboBox()
            box.addItems(list(p.choices))
            box.currentTextChanged.connect(self.commit)
            return box
        line = QLineEdit()  # floats, int tuples and names: typed text, committed when editing ends
        if p.kind == "text" and p.choices:
            completer = QCompleter(list(p.choices), line)
            completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
            line.setCompleter(completer)
            line.setPlaceholderText(", ".join(p.choices))
        if p.kind == "ints":
            hint = "e.g. 3 or 3x3" if p.length else "e.g. 1x28x28"
            words = f", {' or '.join(p.choices)}" if p.choices else ""
            line.setPlaceholderText("empty: PyTorch's default" if p.optional else hint + words)
        line.editingFinished.connect(lambda: self.commit(line.text()))
        return line

    def show(self, value: Any) -> None:
        w = self.widget
        w.blockSignals(True)
        if isinstance(w, QSpinBox):
            w.setValue(value)
        elif isinstance(w, QCheckBox):
            w.setChecked(value)
        elif isinstance(w, QComboBox):
            w.setCurrentText(value)
        else:
            w.setText(show_ints(value) if self.param.kind == "ints" else format_value(value))
        w.blockSignals(False)
        self._set_error(None)

    def commit(self, raw: Any) -> None:
        value = raw
        if self.param.kind == "float":
            try:
                value = float(raw.strip())
            except ValueError:
                self._set_error(f"'{self.param.name}' must be a number, got {raw!r}")
                return
        elif self.param.kind == "ints":
            value = parse_ints(raw, self.param)
        node = self.inspector.node
        if node is None or node.params.get(self.param.name) == value:
            self._set_error(None)
            return
        document = self.inspector.document
        applied = document.push(SetParam(document.graph, node.id, self.param.name, value))
        if not applied and not isinstance(self.widget, QLineEdit):
            self.show(node.params[self.param.name])  # boxes show the value in force; typed text stays to fix
        self._set_error(None if applied else document.refusal)

    def _set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.widget.setProperty("invalid", bool(message))
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)


class Inspector(QScrollArea):
    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.node = None
        self.editors: dict[str, ParamEditor] = {}
        self.setWidgetResizable(True)
        self.setMinimumWidth(260)
        document.node_removed.connect(self._node_removed)
        document.param_changed.connect(self._param_changed)
        document.node_renamed.connect(self._node_renamed)
        document.report_changed.connect(lambda report: self._show_shapes())
        document.replaced.connect(lambda: self.show_node(None))
        self.show_node(None)

    def show_node(self, node_id: str | None, selected_count: int = 0) -> None:
        """Show a block's editors, or a hint when nothing (or several blocks) is selected."""
        self.node = self.document.graph.node(node_id) if node_id else None
        self.editors = {}
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        if self.node is None:
            heading = QLabel(f"{selected_count} blocks selected" if selected_count > 1 else "No block selected")
            heading.setObjectName("heading")
            hint = QLabel("Select a block to edit its parameters. Drag layers from the palette onto the canvas; "
                          "drag from a block's output (bottom) to another's input (top) to wire them.")
            hint.setObjectName("help")
            hint.setWordWrap(True)
            layout.addWidget(heading)
            layout.addWidget(hint)
            layout.addStretch()
            self.setWidget(page)
            self.shapes = None
            return
        spec = self.node.spec
        heading = QLabel(spec.type)
        heading.setObjectName("heading")
        help_text = QLabel(spec.help)
        help_text.setObjectName("help")
        help_text.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(help_text)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.name_edit = QLineEdit(self.node.name)
        self.name_edit.setToolTip("the block's name: its submodule's name in PyTorch (conv1, fc1, ...)")
        self.name_edit.editingFinished.connect(self._rename)
        self.name_error = QLabel()
        self.name_error.setObjectName("error")
        self.name_error.setWordWrap(True)
        self.name_error.hide()
        form.addRow("name", self.name_edit)
        form.addRow("", self.name_error)
        for param in spec.params:
            editor = ParamEditor(self, param)
            editor.show(self.node.params[param.name])
            self.editors[param.name] = editor
            label = QLabel(param.name.replace("_", " "))
            label.setToolTip(param.help)
            form.addRow(label, editor.widget)
            form.addRow("", editor.error)
        layout.addLayout(form)

        training = QLabel("Training")
        training.setObjectName("section")
        layout.addWidget(training)
        self.settings = BlockSettings(self.document, self.node)
        layout.addWidget(self.settings)

        section = QLabel("Shapes")
        section.setObjectName("section")
        layout.addWidget(section)
        self.shapes = QLabel()
        self.shapes.setWordWrap(True)
        self.shapes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.shapes)
        layout.addStretch()
        self.setWidget(page)
        self._show_shapes()

    def _rename(self) -> None:
        name = self.name_edit.text().strip()
        if self.node is None or name == self.node.name:
            self.name_error.hide()
            return
        applied = self.document.push(Rename(self.document.graph, self.node.id, name))
        self.name_error.setText("" if applied else self.document.refusal)
        self.name_error.setVisible(not applied)

    def _node_removed(self, node) -> None:
        if node is self.node:
            self.show_node(None)

    def _param_changed(self, node, name: str) -> None:
        if node is self.node and name in self.editors:
            self.editors[name].show(node.params[name])

    def _node_renamed(self, node, _old: str) -> None:
        if node is self.node and not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)

    def _show_shapes(self) -> None:
        if self.node is None or self.shapes is None:
            return
        report = self.document.report
        info: NodeShapes | None = report.nodes.get(self.node.id) if report else None
        if info is None:
            self.shapes.setText("shapes appear once PyTorch has loaded…")
            return
        ports = self.node.input_ports()
        rows = [f"{'in' if port == 'in' else f'in {port}'}: <b>{format_shape(shape)}</b>"
                for port, shape in zip(ports, info.inputs)]
        outs = self.node.output_ports()
        if len(outs) > 1:
            rows += [f"{'out' if port == 'out' else f'out {port}'}: <b>{format_shape(info.outputs.get(port))}</b>"
                     for port in outs]
        else:
            rows.append(f"out: <b>{format_shape(info.output)}</b>")
        rows.append(f"parameters: <b>{info.params:,}</b>")
        rows.append(f"multiply-accumulates: <b>{format_count(info.macs)}</b>")
        if info.error:
            rows.append(f"<span style='color:#d93025'>{html.escape(info.error)}</span>")
        self.shapes.setText("<br>".join(rows))
