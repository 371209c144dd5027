"""Start the desktop editor."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from . import style


def configure(app: QApplication) -> None:
    app.setApplicationName("netbuilder")
    app.setOrganizationName("netbuilder")
    app.setApplicationDisplayName("netbuilder")
    app.setWindowIcon(style.icon("netbuilder"))
    app.setStyle("Fusion")
    app.setStyleSheet(style.style_sheet())


def run(path: str | None = None) -> int:
    """Open the main window (with `path` if given) and run the event loop."""
    from .document import torch_loader
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure(app)
    app.aboutToQuit.connect(torch_loader().wait)  # a quick quit must not cut torch's import short
    window = MainWindow()
    window.show()
    if path:
        window.open_path(Path(path), ask=False)
    else:
        window.show_start_page()
    return app.exec()
