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
