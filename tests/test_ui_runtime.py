"""The Qt binding we run on must keep Python's reference counts straight (see pyproject.toml)."""
import sys

import pytest


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="None is immortal from Python 3.12: its reference count cannot drain (nor be measured), "
                           "and the PySide6 6.12.0 bug is harmless there")
def test_void_qt_calls_do_not_drain_the_reference_count_of_none(qapp):
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")  # a void C++ method
        qapp.processEvents()
    assert sys.getrefcount(None) > before - 100, "each Qt call loses a reference to None: the app would abort"


def test_garbage_is_collected_on_the_gui_thread_while_a_window_is_open(window, qtbot):
    """A collection on a worker thread that frees Qt objects can crash the process (seen: a segfault in shiboken
    while the memory plan traced a network on a QThread); the window collects on its own thread instead."""
    import gc
    import threading

    assert not gc.isenabled()
    threads: list[str] = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            threads.append(threading.current_thread().name)

    def make_garbage():
        for _ in range(3 * gc.get_threshold()[0]):
            Cycle()

    worker = threading.Thread(target=make_garbage, name="worker")
    worker.start()
    worker.join()
    assert threads == [], "nothing was collected on the worker thread"
    qtbot.waitUntil(lambda: len(threads) == 3 * gc.get_threshold()[0], timeout=5_000)
    assert set(threads) == {threading.main_thread().name}
    window.document.undo_stack.setClean()
    window.close()
    assert gc.isenabled(), "automatic collection is back once the window is closed"
