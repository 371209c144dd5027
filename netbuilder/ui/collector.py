"""Python's garbage collection on the GUI thread only.

Python collects reference cycles in whichever thread happens to allocate past a threshold. A collection on a
worker thread (a training run, the memory plan, a dataset being read) that frees Qt objects, or that reaches
PySide's own machinery, can crash the process: seen here as a segfault inside shiboken while the memory plan
traced a network on a QThread. While a window is open, automatic collection is off and a timer collects on the
GUI thread instead, generation by generation when their counts pass Python's own thresholds (as pyqtgraph's
GarbageCollector does). When the last window closes, automatic collection is back.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_open = 0  # collectors running (one per window)


class GuiCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = 500) -> None:
        global _open
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._state = {"running": True}  # plain Python: still there when the window's C++ side is gone
        _open += 1
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)
        state = self._state
        parent.destroyed.connect(lambda *_: _release(state))  # a window deleted without being closed

    def check(self) -> None:
        counts = gc.get_count()
        if counts[0] > self.threshold[0]:
            gc.collect(0)
            if counts[1] > self.threshold[1]:
                gc.collect(1)
                if counts[2] > self.threshold[2]:
                    gc.collect(2)

    def stop(self) -> None:
        """The window is closing: collect once more here, and hand collection back to Python if it was the last."""
        if self._state["running"]:
            self.timer.stop()
            gc.collect()
            _release(self._state)


def _release(state: dict) -> None:
    global _open
    if state["running"]:
        state["running"] = False
        _open -= 1
        if _open == 0:
            gc.enable()
