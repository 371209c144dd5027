"""Save a screenshot of the editor, as a person would see it (run under Xvfb on a machine without a screen).

    xvfb-run -a -s "-screen 0 1280x800x24" python tools/screenshot.py OUT.png [GRAPH] [--layout] [--select NAME]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from netbuilder.ui.app import configure
from netbuilder.ui.main_window import MainWindow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("graph", nargs="?")
    parser.add_argument("--layout", action="store_true", help="run auto layout first")
    parser.add_argument("--select", help="select the block with this name")
    parser.add_argument("--focus", help="centre the view on the block with this name, at actual size")
    parser.add_argument("--train", type=int, metavar="EPOCHS", help="train this many epochs first (mnist-5k)")
    parser.add_argument("--tab", help="show this tab of the training panel: Curves, Results or Data")
    parser.add_argument("--size", default="1360x900")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    configure(app)
    window = MainWindow(offer_recovery=False)
    width, height = map(int, args.size.split("x"))
    window.resize(width, height)
    window.show()
    if args.graph:
        window.open_path(Path(args.graph), ask=False)
    deadline = time.time() + 60
    while window.document.report is None and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    if args.layout:
        window.auto_layout()
    if args.select:
        window.scene.select_nodes([window.document.graph.find(args.select).id])
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    if args.train:
        window.training.epochs.setValue(args.train)
        window.training.start()
        while window.training.is_running and time.time() < deadline + 600:
            app.processEvents()
            time.sleep(0.01)
    if args.tab:
        tabs = window.training.tabs
        tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(args.tab))
        if args.tab == "Data":
            window.training.show_preview()
            while window.training._preview_job.isRunning():
                app.processEvents()
            for _ in range(20):
                app.processEvents()
    if args.focus:
        window.view.reset_zoom()
        window.view.centerOn(*window.document.graph.find(args.focus).pos)
    for _ in range(10):
        app.processEvents()
    window.grab().save(args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
