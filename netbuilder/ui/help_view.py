"""Help: the layer reference (from the registry) and the list of keyboard shortcuts (from the window's actions)."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.reference import LayerReference, layer_reference
from ..core.layers import CATEGORIES, LAYERS
from . import style

TYPE_ROLE = Qt.ItemDataRole.UserRole


def reference_html(ref: LayerReference) -> str:
    """A layer's reference page."""
    colour = style.category_colour(LAYERS[ref.type].category).name()
    e = html.escape
    parts = [f"<h2 style='margin-bottom:2px'>{e(ref.type)}</h2>",
             f"<p style='color:{colour}; margin-top:0'><b>{e(ref.category)}</b></p>",
             f"<p><b>{e(ref.summary)}</b></p>", f"<p>{e(ref.doc)}</p>"]
    if ref.formula:
        parts.append(f"<p style='background:#f1f3f6; padding:6px; font-family:monospace'>{e(ref.formula)}</p>")
    parts.append(f"<p><b>Accepts:</b> {e(ref.accepts)}; {e(ref.inputs)}.</p>")
    if ref.params:
        rows = "".join(
            f"<tr><td><b>{e(row.name)}</b></td><td>{e(row.kind)}</td><td>{e(row.default)}</td>"
            f"<td>{e(row.allowed)}</td><td>{e(row.help)}</td></tr>" for row in ref.params)
        parts.append("<h3>Parameters</h3><table cellspacing='0' cellpadding='4' border='0' width='100%'>"
                     "<tr style='background:#eef0f3'><th align='left'>name</th><th align='left'>value</th>"
                     "<th align='left'>default</th><th align='left'>allowed</th><th align='left'>what it does</th>"
                     f"</tr>{rows}</table>")
    if ref.examples:
        items = "".join(f"<li><code>{e(x)}</code></li>" for x in ref.examples)
        parts.append(f"<h3>Examples</h3><p>Input shape → output shape, batch excluded:</p><ul>{items}</ul>")
    return "".join(parts)


class LayerHelp(QDialog):
    """The layer reference: every layer by category, filtered as you type; one page each."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Layer reference — netbuilder")
        self.resize(860, 600)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget()
        order = list(CATEGORIES)
        for type_name in sorted(LAYERS, key=lambda t: order.index(LAYERS[t].category)):
            item = QListWidgetItem(type_name)
            item.setData(TYPE_ROLE, type_name)
            item.setToolTip(CATEGORIES[LAYERS[type_name].category])
            self.list.addItem(item)
        self.list.currentItemChanged.connect(lambda item, _old: item and self.show_layer(item.data(TYPE_ROLE)))
        self.page = QTextBrowser()
        self.page.setOpenExternalLinks(False)
        splitter = QSplitter()
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.search)
        column.addWidget(self.list)
        splitter.addWidget(side)
        splitter.addWidget(self.page)
        splitter.setSizes([200, 660])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.current: str | None = None
        self.show_layer("Conv2d")

    def show_layer(self, type_name: str) -> None:
        self.current = type_name
        self.page.setHtml(reference_html(layer_reference(type_name)))
        for i in range(self.list.count()):
            if self.list.item(i).data(TYPE_ROLE) == type_name and self.list.currentRow() != i:
                self.list.setCurrentRow(i)

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.list.count()):
            spec = LAYERS[self.list.item(i).data(TYPE_ROLE)]
            haystack = f"{spec.type} {CATEGORIES[spec.category]} {spec.help} {spec.doc}".lower()
            self.list.item(i).setHidden(not all(w in haystack for w in words))


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(what, keys) for every action that has a shortcut, in menu order."""
    rows = []
    for action in actions:
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…").rstrip("."), keys))
    return rows


CANVAS_GESTURES = [
    ("Wire two blocks", "drag from an output (bottom) to an input (top)"),
    ("Zoom", "mouse wheel (around the cursor)"),
    ("Pan", "middle button drag, or Space + drag"),
    ("Select several", "drag on the background, or Ctrl + click"),
    ("Collapse or expand a group", "double-click its title or box"),
    ("Add a layer below the selected block", "double-click it in the palette, or type its name and press Enter"),
    ("Menus for blocks, wires, groups and the canvas", "right-click"),
]


class ShortcutList(QDialog):
    def __init__(self, actions, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — netbuilder")
        self.setModal(False)  # read beside the canvas while working
        self.resize(460, 560)
        rows = shortcut_rows(actions) + CANVAS_GESTURES
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["action", "keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        for r, (what, keys) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(what))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
