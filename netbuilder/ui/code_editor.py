"""A plain-text editor for Python: line numbers in a gutter, colours for keywords, strings, numbers and comments,
lines marked (a block's lines, a line the import refused), and which line a click landed on."""
from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from . import style

BLOCK_LINES = QColor(47, 111, 222, 40)  # the selected block's lines
ERROR_LINE = QColor(217, 48, 37, 50)


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    made = QTextCharFormat()
    made.setForeground(QColor(colour))
    if bold:
        made.setFontWeight(QFont.Weight.Bold)
    made.setFontItalic(italic)
    return made


class PythonHighlighter(QSyntaxHighlighter):
    RULES = [
        (re.compile(r"\b(?:" + "|".join(keyword.kwlist) + r")\b"), _format("#7b3fbf", bold=True)),
        (re.compile(r"\b(?:self|nn|torch|super)\b"), _format("#2f6fde")),
        (re.compile(r"\b\d+(?:\.\d*)?(?:e[-+]?\d+)?\b"), _format("#0f8f85")),
        (re.compile(r"'[^'\n]*'|\"[^\"\n]*\""), _format("#b35900")),
        (re.compile(r"#[^\n]*"), _format("#6a7282", italic=True)),
    ]

    def highlightBlock(self, text: str) -> None:
        for pattern, made in self.RULES:
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), made)


class _Gutter(QWidget):
    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    line_clicked = Signal(int)  # a line (from 1) the user clicked on

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(8.0, self.font().pointSizeF() - 0.5))
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(4 * self.fontMetrics().horizontalAdvance(" "))
        self.highlighter = PythonHighlighter(self.document())
        self.gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda _count: self.setViewportMargins(self.gutter_width(), 0, 0, 0))
        self.updateRequest.connect(self._scroll_gutter)
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)
        self._marked: list[tuple[list[int], QColor]] = []

    # ----- the gutter

    def gutter_width(self) -> int:
        return 10 + self.fontMetrics().horizontalAdvance("9") * len(str(max(1, self.blockCount())))

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        area = self.contentsRect()
        self.gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def paint_gutter(self, event) -> None:
        painter = QPainter(self.gutter)
        painter.fillRect(event.rect(), QColor("#eef0f3"))
        painter.setPen(style.TEXT_DIM)
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible():
                painter.drawText(0, top, self.gutter.width() - 5, height, Qt.AlignmentFlag.AlignRight,
                                 str(block.blockNumber() + 1))
            top += round(self.blockBoundingRect(block).height())
            block = block.next()
        painter.end()

    # ----- marked lines

    def mark(self, marks: list[tuple[list[int], QColor]]) -> None:
        """Colour whole lines (from 1): [(lines, colour)], replacing the marks before."""
        self._marked = marks
        selections = []
        for lines, colour in marks:
            for line in lines:
                block = self.document().findBlockByNumber(line - 1)
                if not block.isValid():
                    continue
                selection = QTextEdit.ExtraSelection()
                selection.format.setBackground(colour)
                selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                selection.cursor = QTextCursor(block)
                selections.append(selection)
        self.setExtraSelections(selections)

    def marked_lines(self) -> list[int]:
        return [line for lines, _ in self._marked for line in lines]

    def show_line(self, line: int) -> None:
        block = self.document().findBlockByNumber(max(0, line - 1))
        if block.isValid():
            cursor = QTextCursor(block)
            self.setTextCursor(cursor)
            self.centerCursor()
            self.horizontalScrollBar().setValue(0)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            self.line_clicked.emit(self.textCursor().blockNumber() + 1)
