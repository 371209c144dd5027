"""A scroll area whose content takes exactly the room it is given (its pictures scale to it), and scrolls only
when the room is smaller than the content's minimum. (QScrollArea's widgetResizable gives content with wrapped
text its preferred height instead, so a picture meant to fit the panel would run past its bottom.)"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QScrollArea, QWidget


class FitScroll(QScrollArea):
    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setWidgetResizable(False)
        self.setWidget(content)
        self.setMinimumSize(60, 36)  # a panel made small keeps a strip to scroll
        content.installEventFilter(self)

    def _fit(self) -> None:
        content = self.widget()
        if content is None:
            return
        need = content.minimumSizeHint()
        room = self.maximumViewportSize()  # the viewport's size without scroll bars
        width = max(room.width(), need.width())
        height = max(room.height(), need.height())
        if height > room.height():  # a vertical scroll bar takes some of the width
            width = max(need.width(), room.width() - self.verticalScrollBar().sizeHint().width())
        content.resize(width, height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)
