"""The canvas view: zoom around the cursor, pan (middle button, or space + drag), grid, fit, drops."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsView

from .. import style
from .scene import GraphScene

LAYER_MIME = "application/x-netbuilder-layer"
MIN_ZOOM, MAX_ZOOM = 0.08, 4.0
READABLE_ZOOM = 0.8
EMPTY_HINT = ("Drag a layer here from the palette on the left\n"
              "or open a classic network from File ▸ Examples")


class GraphView(QGraphicsView):
    layer_dropped = Signal(str, QPointF)  # layer type, scene position
    zoom_changed = Signal(float)

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
        items = self.scene().itemsBoundingRect()
        if items.isEmpty():
            self.reset_zoom()
            self.centerOn(0, 0)
            return
        self.fitInView(items.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25:  # a small graph: readable size, centred
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(items.center())
        self.zoom_changed.emit(self.zoom())

    def show_graph(self) -> None:
        """Frame a freshly opened graph: all of it when it fits at a readable size, else its top
        (where the data enters) at a readable size."""
        self.fit_to_view()
        items = self.scene().itemsBoundingRect()
        if self.zoom() < READABLE_ZOOM and not items.isEmpty():
            self.resetTransform()
            self.scale(READABLE_ZOOM, READABLE_ZOOM)
            visible = self.mapToScene(self.viewport().rect()).boundingRect()
            self.centerOn(items.center().x(), items.top() - 30 + visible.height() / 2)
            self.zoom_changed.emit(self.zoom())

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
        if self.scene().blocks:
            return
        painter.save()
        painter.resetTransform()  # draw in viewport pixels, whatever the zoom
        font = painter.font()
        font.setPointSizeF(12)
        painter.setFont(font)
        painter.setPen(style.TEXT_DIM)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
        painter.restore()

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
