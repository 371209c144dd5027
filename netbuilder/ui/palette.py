"""The palette: every registry layer by category, filtered as you type; drag onto the canvas, double-click, or
type a name and press Enter (the first match is added)."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..core.layers import CATEGORIES, LAYERS
from . import style
from .canvas.view import LAYER_MIME

TYPE_ROLE = Qt.ItemDataRole.UserRole
ROW_HEIGHT = 26  # every row the same height, on every screenful


def _dot(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


class LayerTree(QTreeWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.setRootIsDecorated(True)
        self.setIndentation(14)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(12, 12))
        for category, label in CATEGORIES.items():
            group = QTreeWidgetItem(self, [label])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setSizeHint(0, QSize(0, ROW_HEIGHT))
            icon = _dot(style.category_colour(category))
            for spec in LAYERS.values():
                if spec.category == category:
                    item = QTreeWidgetItem(group, [spec.type])
                    item.setData(0, TYPE_ROLE, spec.type)
                    item.setToolTip(0, f"<b>{spec.type}</b><br>{spec.help}<br><i>F1: more about it</i>")
                    item.setIcon(0, icon)
                    item.setSizeHint(0, QSize(0, ROW_HEIGHT))
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                                  | Qt.ItemFlag.ItemIsDragEnabled)
        self.expandAll()

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        layer_type = items[0].data(0, TYPE_ROLE)
        data.setData(LAYER_MIME, layer_type.encode())
        data.setText(layer_type)
        return data

    def layer_items(self) -> list[QTreeWidgetItem]:
        return [self.topLevelItem(i).child(j) for i in range(self.topLevelItemCount())
                for j in range(self.topLevelItem(i).childCount())]


class Palette(QWidget):
    add_requested = Signal(str)  # a layer type, double-clicked

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = LayerTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self.add_first_match)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def filter(self, text: str) -> None:
        """Show the layers whose name, category or help mention every word typed."""
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            shown = 0
            for j in range(group.childCount()):
                item = group.child(j)
                spec = LAYERS[item.data(0, TYPE_ROLE)]
                haystack = f"{spec.type} {CATEGORIES[spec.category]} {spec.help}".lower()
                visible = all(word in haystack for word in words)
                item.setHidden(not visible)
                shown += visible
            group.setHidden(shown == 0)
        self.tree.expandAll()

    def visible_types(self) -> list[str]:
        return [item.data(0, TYPE_ROLE) for item in self.tree.layer_items()
                if not item.isHidden() and not item.parent().isHidden()]

    def add_first_match(self) -> None:
        """Enter in the search box: add the layer that matches best (a name typed in full, else the first shown)."""
        shown = self.visible_types()
        if not shown or not self.search.text().strip():
            return
        typed = self.search.text().strip().lower()
        exact = [t for t in shown if t.lower() == typed]
        starts = [t for t in shown if t.lower().startswith(typed)]
        self.add_requested.emit((exact or starts or shown)[0])

    def selected_type(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, TYPE_ROLE) if item is not None else None

    def _double_clicked(self, item: QTreeWidgetItem) -> None:
        layer_type = item.data(0, TYPE_ROLE)
        if layer_type:
            self.add_requested.emit(layer_type)
