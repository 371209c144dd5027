"""The canvas view: zoom around the cursor, pan (middle button, or space + drag), grid, fit, drops, and a
hint on an empty canvas."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QLabel

from .. import style
from .block import VERY_FAR
from .scene import GraphScene

LAYER_MIME = "application/x-netbuilder-layer"
MIN_ZOOM, MAX_ZOOM = 0.02, 4.0
READABLE_ZOOM = 0.8
FAR_LABEL_POINTS = 8.5
EMPTY_HINT = ("<p style='font-size:13pt; color:#3a4150'>An empty network</p>"
              "<p>Drag a layer here from the <b>Layers</b> palette on the left,<br>"
              "or double-click it (or type its name and press Enter).</p>"
              "<p>Or start from a classic network: <b>File ▸ Examples</b>, or the start page (<b>Help ▸ Start "
              "Page</b>).</p>")


class GraphView(QGraphicsView):
    layer_dropped = Signal(str, QPointF)  # layer type, scene position
    zoom_changed = Signal(float)
    context_menu_requested = Signal(object, QPointF, object)  # the item under the mouse (or None), scene pos, global pos

    def __init__(self, scene: GraphScene) -> None:
        super().__init__(scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.show_grid = True
        self._pan_from: QPointF | None = None
        self._space_held = False
        self.hint = QLabel(EMPTY_HINT, self.viewport())
        self.hint.setObjectName("canvasHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        scene.document.node_added.connect(lambda _node: self.update_hint())
        scene.document.node_removed.connect(lambda _node: QTimer.singleShot(0, self.update_hint))
        scene.document.replaced.connect(self.update_hint)
        scene.changed.connect(self._scene_changed)
        self.update_hint()

    def _scene_changed(self, _regions) -> None:
        """Seen from far, the names are written beside the boxes in the view's own pixels (drawForeground), not by
        the items: when anything moves, folds or unfolds, the whole view is painted again, or names would stay
        where their boxes were, cut, until the next full repaint."""
        if self.zoom() < VERY_FAR:
            self.viewport().update()

    # ----- the hint on an empty canvas: a label over the viewport, shown only while there is no block

    def update_hint(self) -> None:
        self.hint.setVisible(not self.scene().blocks)
        self._place_hint()

    def _place_hint(self) -> None:
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        width = min(area.width(), 520)
        height = min(area.height(), self.hint.heightForWidth(width) + 8)
        self.hint.setGeometry(area.center().x() - width // 2, area.center().y() - height // 2, width, height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_hint()

    # ----- zoom

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the scene point under `anchor` (viewport pixels; default: the centre) in place."""
        anchor = QPointF(self.viewport().rect().center()) if anchor is None else anchor
        fixed = self.mapToScene(anchor.toPoint())
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self.scale(target / self.zoom(), target / self.zoom())
        drift = QPointF(self.mapFromScene(fixed)) - anchor
        self.pan_by(-drift.x(), -drift.y())
        self.zoom_changed.emit(self.zoom())

    def reset_zoom(self) -> None:
        centre = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(centre)
        self.zoom_changed.emit(1.0)

    def wheelEvent(self, event) -> None:
        self.zoom_by(math.pow(1.0015, event.angleDelta().y()), event.position())

    def fit_to_view(self) -> None:
        """All of the graph, as large as fits (a small graph at a readable size, centred). However long it is, all
        of it: seen from far, the names are written beside the boxes at a fixed size on screen."""
        items = self.scene().visible_bounds()
        if items.isEmpty():
            self.reset_zoom()
            self.centerOn(0, 0)
            return
        margin = 24 / max(self.zoom(), MIN_ZOOM)  # a margin of about 24 pixels whatever the zoom becomes
        self.fitInView(items.adjusted(-margin, -margin, margin, margin), Qt.AspectRatioMode.KeepAspectRatio)
        self.fitInView(items.adjusted(-24 / self.zoom(), -24 / self.zoom(), 24 / self.zoom(), 24 / self.zoom()),
                       Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25:  # a small graph: readable size, centred
            self._set_zoom(1.25)
            self.centerOn(items.center())
        elif self.zoom() < MIN_ZOOM:
            self._set_zoom(MIN_ZOOM)
            self.centerOn(items.center())
        self.zoom_changed.emit(self.zoom())

    def show_graph(self) -> None:
        """Frame a freshly opened graph: all of it when it fits at a readable size, else its top
        (where the data enters) at a readable size."""
        self.fit_to_view()
        items = self.scene().visible_bounds()
        if self.zoom() < READABLE_ZOOM and not items.isEmpty():
            self._show_top(items, READABLE_ZOOM)
            self.zoom_changed.emit(self.zoom())

    def _set_zoom(self, zoom: float) -> None:
        self.resetTransform()
        self.scale(zoom, zoom)

    def _show_top(self, items: QRectF, zoom: float) -> None:
        self._set_zoom(zoom)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        self.centerOn(items.center().x(), items.top() - 30 + visible.height() / 2)

    def reveal(self, rect: QRectF) -> None:
        """Scroll (without zooming) so that a scene rectangle is in view, with a margin."""
        self.ensureVisible(rect, 60, 60)

    def centre_of_view(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # ----- pan with the middle button, or with space held

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            if self._space_held:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) pixels, as a hand dragging the canvas would."""
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(dy))

    # ----- grid

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, style.CANVAS)
        if not self.show_grid:
            return
        for step, colour in ((20, style.GRID_MINOR), (100, style.GRID_MAJOR)):
            if step * self.zoom() < 12:
                continue  # too dense to help at this zoom
            painter.setPen(QPen(colour, 0))
            left, top = math.floor(rect.left() / step) * step, math.floor(rect.top() / step) * step
            x = left
            while x < rect.right():
                painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
                x += step
            y = top
            while y < rect.bottom():
                painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
                y += step

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Seen from far (blocks too small for their text), each block's and collapsed group's name is written
        beside its box at a fixed size on screen, skipping names that would overlap the one above."""
        if self.zoom() >= VERY_FAR:
            return
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPointSizeF(FAR_LABEL_POINTS)
        painter.setFont(font)
        painter.setPen(style.TEXT)
        for text, box in self.far_labels(rect):
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    def far_labels(self, rect: QRectF | None = None) -> list[tuple[str, QRectF]]:
        """(name, viewport rectangle) of the names written when zoomed far out: a block's or a collapsed
        group's to the right of its box, an expanded group's to the left of its frame (its blocks' names would
        crowd it). A name that would cover another name or another box is left out."""
        from PySide6.QtGui import QFont, QFontMetricsF

        font = QFont(self.font())
        font.setPointSizeF(FAR_LABEL_POINTS)
        metrics = QFontMetricsF(font)
        scene = self.scene()
        graph = scene.document.graph
        area = rect if rect is not None else self.mapToScene(self.viewport().rect()).boundingRect()
        boxes = [item for item in scene.blocks.values()
                 if item.isVisible() and graph.group_of(item.node_id) is None]
        boxes += [group for group in scene.groups.values() if group.collapsed]
        frames = [group for group in scene.groups.values() if not group.collapsed]
        shown = [self.mapFromScene(item.sceneBoundingRect()).boundingRect()
                 for item in list(scene.blocks.values()) + boxes if item.isVisible()]
        placed: list[QRectF] = []
        labels = []
        candidates = [(getattr(item, "node", None) and item.node.name or item.group.name, item, True) for item in boxes]
        candidates += [(frame.group.name, frame, False) for frame in frames]
        for text, item, right in sorted(candidates, key=lambda c: c[1].sceneBoundingRect().top()):
            body = item.sceneBoundingRect()
            if not body.intersects(area):
                continue
            box = QRectF(self.mapFromScene(body).boundingRect())
            width, height = metrics.horizontalAdvance(text) + 2, metrics.height()
            if right:
                label = QRectF(box.right() + 4, box.center().y() - height / 2, width, height)
            else:
                label = QRectF(box.left() - 6 - width, box.top(), width, height)
            if any(label.intersects(other) for other in placed) or any(
                    label.intersects(QRectF(other)) for other in shown if not box.contains(QRectF(other))):
                continue
            placed.append(label)
            labels.append((text, label))
        return labels

    def contextMenuEvent(self, event) -> None:
        scene_pos = self.mapToScene(event.pos())
        item = self.itemAt(event.pos())
        while item is not None and item.parentItem() is not None:
            item = item.parentItem()  # a port: its block
        self.context_menu_requested.emit(item if isinstance(item, QGraphicsItem) else None, scene_pos,
                                         event.globalPos())
        event.accept()

    def set_grid_visible(self, visible: bool) -> None:
        self.show_grid = visible
        self.resetCachedContent()
        self.viewport().update()

    # ----- drops from the palette

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(LAYER_MIME):
            super().dropEvent(event)
            return
        layer_type = bytes(event.mimeData().data(LAYER_MIME)).decode("utf-8", "replace")
        self.layer_dropped.emit(layer_type, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
