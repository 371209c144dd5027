"""The inspector: the selected block's name and params as typed widgets, and its shapes and counts; or the
selected group's name, blocks, shapes and parameter count.

Widgets come from the registry's param kinds and bounds. Typed text is checked as it is typed (the reason
appears under the field) and committed when editing ends, if valid. Every change is a command; a value the
graph refuses is not applied, and the message appears under the widget. Ctrl+Z in a field first takes back
what was typed and not committed, then undoes the document's last edit.
"""
from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.shapes import NodeShapes, format_count
from ..core.layers import Param, ParamError
from ..core.layers.spec import format_shape, format_value
from ..core.model import groups
from .block_settings import BlockSettings
from .commands import RecordedEdit, Rename, SetParam
from .document import Document

INT_LIMIT = 2**31 - 1


_INTS = re.compile(r"-?\d+(?:\s*[x×,]\s*-?\d+|\s+-?\d+)*")


def parse_ints(text: str, param: Param) -> Any:
    """What a person types for an int-tuple param: "5", "3x5", "3, 5", "same"; empty for optional.
    Anything else ("28x28x", "3xx3", "a") is refused with ParamError saying how to write it."""
    text = text.strip()
    if not text and param.optional:
        return None
    if text in param.choices:
        return text
    if not _INTS.fullmatch(text):
        words = f", or {' / '.join(param.choices)}" if param.choices else ""
        example = "3 or 3x3" if param.length else "1x28x28"
        raise ParamError(f"'{param.name}': write whole numbers joined by x, e.g. {example}{words} (got {text!r})")
    values = [int(p) for p in re.split(r"[x×,\s]+", text) if p]
    if len(values) == 1 and param.length is not None:
        return values[0]
    return values


def parse_value(raw: Any, param: Param) -> Any:
    """A widget's value, typed or set, as the param's value; ParamError when it cannot be one."""
    if param.kind == "int" and isinstance(raw, str):  # an optional whole number, typed (empty: none)
        text = raw.strip()
        if not text:
            return param.check(None)
        try:
            return param.check(int(text))
        except ValueError:
            raise ParamError(f"'{param.name}' must be a whole number, or empty, got {raw[:40]!r}") from None
    if param.kind == "float":
        try:
            return param.check(float(str(raw).strip()))
        except ValueError:
            raise ParamError(f"'{param.name}' must be a number, got {raw!r}") from None
    if param.kind == "ints":
        return param.check(parse_ints(raw, param))
    return param.check(raw)


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
        if p.kind == "int" and not p.optional:  # an optional one (Slice's end) may be empty: a field below
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
        line = QLineEdit()  # floats, int tuples and names: checked as typed, committed when editing ends
        if p.kind == "text" and p.choices:
            completer = QCompleter(list(p.choices), line)
            completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
            line.setCompleter(completer)
            line.setPlaceholderText(", ".join(p.choices))
        if p.kind == "ints":
            hint = "e.g. 3 or 3x3" if p.length else "e.g. 1x28x28"
            words = f", {' or '.join(p.choices)}" if p.choices else ""
            line.setPlaceholderText("empty: PyTorch's default" if p.optional else hint + words)
        if p.kind == "int":
            line.setPlaceholderText("empty: " + (p.help.split("empty: ", 1)[1] if "empty: " in p.help else "none"))
        line.textEdited.connect(self.check_typed)
        line.editingFinished.connect(lambda: self.commit(line.text()))
        return line

    def shown_text(self) -> str:
        """The committed value as the field writes it."""
        node = self.inspector.node
        value = node.params[self.param.name] if node is not None else self.param.default
        return show_ints(value) if self.param.kind in ("ints", "int") else format_value(value)

    def has_typing(self) -> bool:
        """Text typed and not (yet) committed."""
        return isinstance(self.widget, QLineEdit) and self.widget.text().strip() != self.shown_text()

    def check_typed(self, text: str) -> None:
        """As the user types: say what is wrong, without changing the graph."""
        try:
            parse_value(text, self.param)
        except ParamError as e:
            self._set_error(str(e))
            return
        self._set_error(None)

    def take_back_typing(self) -> None:
        self.show(self.inspector.node.params[self.param.name])

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
            w.setText(show_ints(value) if self.param.kind in ("ints", "int") else format_value(value))
        w.blockSignals(False)
        self._set_error(None)

    def commit(self, raw: Any) -> None:
        try:
            value = parse_value(raw, self.param)
        except ParamError as e:
            self._set_error(str(e))  # the typed text stays, to be fixed
            return
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
        if message:  # the parameter as its label names it: "kernel size", not "kernel_size"
            message = re.sub(rf"\b{re.escape(self.param.name)}\b", self.param.name.replace("_", " "), message)
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.widget.setProperty("invalid", bool(message))
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)


class UndoInFields(QObject):
    """Ctrl+Z / Ctrl+Shift+Z in an inspector field: first take back uncommitted typing, then undo and redo the
    document (a field would otherwise swallow the keys)."""

    def __init__(self, inspector: Inspector) -> None:
        super().__init__(inspector)
        self.inspector = inspector

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        undo = event.matches(QKeySequence.StandardKey.Undo)
        redo = event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z and event.modifiers() == (Qt.KeyboardModifier.ControlModifier
                                                                  | Qt.KeyboardModifier.ShiftModifier))
        if not (undo or redo):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key comes to the field (then here) rather than to the window's shortcut
            return True
        self.inspector.undo_key(redo=redo)
        return True


class Inspector(QScrollArea):
    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.node = None
        self.group = None
        self.editors: dict[str, ParamEditor] = {}
        self._undo_filter = UndoInFields(self)
        self.setWidgetResizable(True)
        self.setMinimumWidth(260)
        document.node_removed.connect(self._node_removed)
        document.param_changed.connect(self._param_changed)
        document.node_renamed.connect(self._node_renamed)
        document.findings_changed.connect(lambda findings: self._show_shapes())
        document.replaced.connect(lambda: self.show_node(None))
        document.group_changed.connect(self._group_changed)
        document.group_removed.connect(lambda group: group is self.group and self.show_node(None))
        self.show_node(None)

    def _watch(self, widget: QWidget) -> None:
        widget.installEventFilter(self._undo_filter)
        if isinstance(widget, QSpinBox):
            widget.findChild(QLineEdit).installEventFilter(self._undo_filter)

    def undo_key(self, redo: bool = False) -> None:
        typing = [editor for editor in self.editors.values() if editor.has_typing()]
        if not redo and typing:
            for editor in typing:
                editor.take_back_typing()
        elif not redo and self.node is not None and self.name_edit.text().strip() != self.node.name:
            self.name_edit.setText(self.node.name)
            self.name_error.hide()
        elif redo:
            self.document.undo_stack.redo()
        else:
            self.document.undo_stack.undo()

    def focus_name(self) -> None:
        """Put the cursor in the name field (Rename… in a block's menu)."""
        if self.node is not None:
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    def show_node(self, node_id: str | None, selected_count: int = 0) -> None:
        """Show a block's editors, or a hint when nothing (or several blocks) is selected."""
        self.node = self.document.graph.node(node_id) if node_id else None
        self.group = None
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
        self.name_edit.textEdited.connect(self._check_name)
        self._watch(self.name_edit)
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
            self._watch(editor.widget)
            label = QLabel(param.name.replace("_", " "))
            label.setToolTip(param.help)
            form.addRow(label, editor.widget)
            form.addRow("", editor.error)
        layout.addLayout(form)

        training = QLabel("Training")
        training.setObjectName("section")
        layout.addWidget(training)
        self.settings = BlockSettings(self.document, self.node, training)  # hidden for blocks without weights
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

    def _check_name(self, text: str) -> None:
        name = text.strip()
        problem = None if self.node is None or name == self.node.name else self.document.graph.name_problem(name)
        self.name_error.setText(problem or "")
        self.name_error.setVisible(bool(problem))

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
        for finding in self.document.findings:
            if finding.node_id == self.node.id and finding.code != "shape":
                fix = f" <i>Fix in the Analysis panel: {html.escape(finding.fix.label)}.</i>" if finding.fix else ""
                rows.append(f"<span style='color:#c77c02'>⚠ {html.escape(finding.message)}</span>{fix}")
        self.shapes.setText("<br>".join(rows))

    # ----- a group

    def show_group(self, group_id: str) -> None:
        """A group's name (editable), its blocks, the shapes that cross its border and its parameters."""
        graph = self.document.graph
        self.node, self.editors, self.shapes = None, {}, None
        self.group = graph.group(group_id)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        heading = QLabel("Group")
        heading.setObjectName("heading")
        help_text = QLabel("Blocks drawn as one box. Collapse it to see the network at a glance; its blocks, "
                           "wires and parameters do not change.")
        help_text.setObjectName("help")
        help_text.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(help_text)
        form = QFormLayout()
        self.group_name = QLineEdit(self.group.name)
        self.group_name.editingFinished.connect(self._rename_group)
        self.group_error = QLabel()
        self.group_error.setObjectName("error")
        self.group_error.setWordWrap(True)
        self.group_error.hide()
        form.addRow("name", self.group_name)
        form.addRow("", self.group_error)
        layout.addLayout(form)
        self.group_info = QLabel()
        self.group_info.setWordWrap(True)
        self.group_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.group_info)
        buttons = QHBoxLayout()
        self.fold_button = QPushButton()
        self.fold_button.clicked.connect(self._toggle_group)
        ungroup = QPushButton("Ungroup")
        ungroup.clicked.connect(self._ungroup)
        buttons.addWidget(self.fold_button)
        buttons.addWidget(ungroup)
        buttons.addStretch()
        layout.addLayout(buttons)
        layout.addStretch()
        self.setWidget(page)
        self._show_group_info()

    def _show_group_info(self) -> None:
        graph, group = self.document.graph, self.group
        ports = groups.group_ports(graph, group)
        report = self.document.report
        def shapes(keys) -> str:
            if report is None:
                return "…"
            return ", ".join(format_shape(report.nodes[k].output) for k, _ in keys if k in report.nodes) or "-"
        names = ", ".join(graph.node(i).name for i in group.nodes[:6]) + (", …" if len(group.nodes) > 6 else "")
        self.group_info.setText(
            f"<b>{len(group.nodes)}</b> blocks: {html.escape(names)}<br>in: <b>{shapes(ports.sources())}</b>"
            f"<br>out: <b>{shapes(ports.exits())}</b><br>parameters: <b>{groups.group_params(group, report):,}</b>")
        self.fold_button.setText("Expand" if group.collapsed else "Collapse")

    def _group_changed(self, group) -> None:
        if group is self.group:
            if not self.group_name.hasFocus():
                self.group_name.setText(group.name)
            self._show_group_info()

    def _rename_group(self) -> None:
        name = self.group_name.text().strip()
        if self.group is None or name == self.group.name:
            self.group_error.hide()
            return
        group_id = self.group.id
        applied = self.document.push(RecordedEdit(self.document.graph, f"Rename group {self.group.name}",
                                                  lambda g: g.rename_group(group_id, name), changes_model=False))
        self.group_error.setText("" if applied else self.document.refusal)
        self.group_error.setVisible(not applied)

    def _toggle_group(self) -> None:
        group_id, collapse = self.group.id, not self.group.collapsed
        self.document.push(RecordedEdit(self.document.graph, f"{'Collapse' if collapse else 'Expand'} "
                                        f"{self.group.name}", lambda g: groups.set_collapsed(g, group_id, collapse),
                                        changes_model=False))

    def _ungroup(self) -> None:
        group_id, name = self.group.id, self.group.name
        self.document.push(RecordedEdit(self.document.graph, f"Ungroup {name}", lambda g: g.remove_group(group_id),
                                        changes_model=False))
