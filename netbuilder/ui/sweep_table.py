"""The Sweep view's table: a row per trial (its number, state, each swept value, the figure, epochs, time, run and
why it failed), sortable by any column, numbers as numbers; the best trial in bold on a tinted row."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

BEST_BACKGROUND = "#fde7e4"


class SortItem(QTableWidgetItem):
    """A cell shown as text and sorted by its value (numbers as numbers; empty cells last)."""

    def __init__(self, text: str, key) -> None:
        super().__init__(text)
        self.key = key
        self.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)

    def __lt__(self, other) -> bool:
        mine, theirs = self.key, getattr(other, "key", None)
        if mine is None or theirs is None:
            return mine is not None and theirs is None
        try:
            return mine < theirs
        except TypeError:
            return str(mine) < str(theirs)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _key(value):
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, (int, float)) else (str(value) if value is not None else None)


def fill_table(table: QTableWidget, s) -> None:
    """A row per trial of the Snapshot `s` (None: empty), sorted as the table was; the best in bold."""
    sorting = table.horizontalHeader().sortIndicatorSection(), table.horizontalHeader().sortIndicatorOrder()
    table.setSortingEnabled(False)
    table.setRowCount(0)
    if s is None:
        table.setColumnCount(0)
        table.setSortingEnabled(True)
        return
    from ..core.training.sweep import value_text

    names = [p.name for p in s.params]
    headers = ["trial", "state", *names, s.metric, "epochs", "time", "run", "note"]
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(s.rows))
    bold = QFont()
    bold.setBold(True)
    for i, row in enumerate(s.rows):
        cells = [SortItem(str(row.number), row.number), SortItem(row.state, row.state)]
        cells += [SortItem(value_text(row.params.get(n, "")), _key(row.params.get(n))) for n in names]
        cells += [SortItem(f"{row.value:.4g}" if row.value is not None else "", row.value),
                  SortItem(str(len(row.curve)) if row.curve else "", len(row.curve)),
                  SortItem(duration(row.seconds), row.seconds),
                  SortItem(str(row.run) if row.run is not None else "", row.run),
                  SortItem(row.message, row.message or None)]
        cells[-1].setToolTip(row.message)
        is_best = s.best is not None and row.number == s.best.number
        for column, cell in enumerate(cells):
            if is_best:
                cell.setFont(bold)
                cell.setBackground(QColor(BEST_BACKGROUND))
                cell.setToolTip("the best trial")
            if row.state in ("failed", "killed", "interrupted", "pruned"):
                cell.setForeground(Qt.GlobalColor.darkGray)
            table.setItem(i, column, cell)
    table.setSortingEnabled(True)
    if sorting[0] >= 0 and sorting[0] < len(headers):
        table.sortItems(sorting[0], sorting[1])
