import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def serve():
    """serve(files, **behaviour) starts a loopback HTTP server (tests.test_download.Server), closed after the test."""
    from tests.test_download import Server

    servers = []

    def start(files, **behaviour):
        servers.append(Server(files, **behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A loopback server of weights files (tests.test_pretrained.Server), named as the weights' mirror; the weights
    cache in tmp_path."""
    from tests.test_pretrained import Server

    running = Server()
    monkeypatch.setenv("NETBUILDER_WEIGHTS_MIRRORS", running.url)
    monkeypatch.setenv("NETBUILDER_WEIGHTS", str(tmp_path / "cache"))
    yield running
    running.close()


@pytest.fixture
def chain():
    """Build a graph from a list of (type, params) as one chain; returns (graph, [node ids])."""
    from netbuilder.core.model.graph import Graph

    def make(*layers, graph=None):
        graph = graph or Graph()
        ids, prev = [], None
        for type_name, params in layers:
            node = graph.add_node(type_name, params)
            if prev is not None:
                graph.connect(prev, node.id)
            prev = node.id
            ids.append(node.id)
        return graph, ids

    return make


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """The real main window, isolated from the user's settings, recovery files and data folder (where the runs of
    unsaved networks are kept), with shapes loaded."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from netbuilder.ui.app import configure
    from netbuilder.ui.main_window import MainWindow

    monkeypatch.setenv("NETBUILDER_HOME", str(tmp_path / "home"))
    configure(QApplication.instance())
    QApplication.instance().setOrganizationName("netbuilder-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    win = MainWindow(recovery_directory=tmp_path / "recovery", offer_recovery=False)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.document.report is not None, timeout=60_000)
    yield win
    # Closed here rather than by qtbot (which closes before fixtures end): nothing left to ask about.
    win.document.undo_stack.setClean()
    win.close()
    win.deleteLater()
    # Qt's offscreen platform segfaults at exit while its clipboard holds data (a real display does not).
    QApplication.clipboard().clear()


class _Seen(list):
    """The texts of the message boxes answered (and the timer that answers them)."""


@pytest.fixture
def answer(qtbot):
    """answer(button) arranges for the next modal message box to be answered with `button`;
    returns a list that receives the box's text."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def arrange(button):
        seen = _Seen()
        seen.timer = QTimer()

        def poll():
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox):
                seen.timer.stop()
                seen.append(box.text())
                box.button(button).click()

        seen.timer.timeout.connect(poll)
        seen.timer.start(20)
        return seen

    return arrange


@pytest.fixture(autouse=True, scope="session")
def _background_compiles_end_with_the_session():
    """A run that ended early may leave torch.compile running on a thread; torch aborts if the process exits then."""
    yield
    import sys

    module = sys.modules.get("netbuilder.core.training.background_compile")
    if module is not None:
        module.finish()
