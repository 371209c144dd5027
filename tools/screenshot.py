"""Save a screenshot of the editor, as a person would see it (offscreen, or under Xvfb to see the real thing).

    QT_QPA_PLATFORM=offscreen python tools/screenshot.py OUT.png [GRAPH] [--size 1366x768] [options]
    xvfb-run -a -s "-screen 0 1366x768x24" python tools/screenshot.py OUT.png [GRAPH] [options]

Options set the scene: --start (the start page), --layout, --collapse (all groups), --fit, --select NAME,
--focus NAME, --remove NAME (take a block out, wiring around it: makes a problem for the Analysis panel),
--fix (apply the first finding's fix), --train EPOCHS (the recipe's dataset, or --data SPEC; --statistics N
observes a step every N batches), --tab Curves|Results|Samples|Data,
--dock Training|Inspector|Analysis|Curves|Inside|Runs|Code (raise it; Code: the code view beside the canvas), --inside NAME[,NAME] (the Inside view of these
blocks; --inside-mode maps|filters|saliency, --sample N: the test sample, --tile PIXELS: the tiles' size,
--colour-by STATISTIC: the blocks tinted by a training statistic, e.g. grad_std), --enlarge Curves|Inside (that
panel takes the whole window), --help-layer TYPE (the layer reference, saved instead),
--sweep NAME=VALUES (repeatable: a sweep of a copy of GRAPH is run first, then shown in the Sweep view;
--sweep-trials N, --sweep-epochs N, --sweep-data SPEC, --prune, --sweep-tab Curves|Parallel Coordinates|Importance).
--compare CHANGES (with --train: train once, make the changes, train again and compare the two runs; CHANGES is
comma-separated, BLOCK.PARAM=VALUE for a block's parameter or SETTING=VALUE for a training setting: lr, epochs,
batch_size; the graph is trained as a copy in a temporary folder, so its runs are kept there).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication

from netbuilder.core.checks.analysis import remove_and_bridge
from netbuilder.ui.app import configure
from netbuilder.ui.main_window import MainWindow


def settle(app, seconds: float = 0.4) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def train(app, window, deadline: float) -> None:
    window.start_training()
    while window.training.is_running and time.time() < deadline + 600:
        app.processEvents()
        time.sleep(0.01)


def change(window, changes: str) -> None:
    """Make the changes --compare names: BLOCK.PARAM=VALUE through the undoable commands, SETTING=VALUE in the
    training panel."""
    from netbuilder.ui.commands import SetParam

    graph, panel = window.document.graph, window.training
    for item in filter(None, (part.strip() for part in changes.split(","))):
        key, text = item.split("=", 1)
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if "." in key:
            block, param = key.split(".", 1)
            window.document.push(SetParam(graph, graph.find(block).id, param, value))
        elif key in ("epochs", "batch_size"):
            getattr(panel, key).setValue(int(value))
        else:
            getattr(panel, key).setText(str(value))


def probed(app, probe, timeout: float = 180) -> None:
    """Wait until the Inside view has shown what it was asked."""
    end = time.time() + timeout
    while time.time() < end and (probe._job is not None or probe._waiting or probe._refresh_timer.isActive()):
        settle(app, 0.05)
    settle(app, 0.3)


def look_inside(app, window, args) -> None:
    """The Inside view of some blocks: raised, its mode, sample, tile size and statistic colours set."""
    probe, graph = window.probe, window.document.graph
    window.probe_dock.show()
    window.probe_dock.raise_()
    if args.tile:
        probe.zoom.setValue(args.tile)
    if args.colour_by:
        probe.colour_by.setCurrentIndex(probe.colour_by.findData(args.colour_by))
    probe.set_mode(args.inside_mode)
    window.scene.select_nodes([graph.find(name.strip()).id for name in args.inside.split(",")])
    probed(app, probe)
    if args.sample is not None:
        probe.index.setValue(args.sample)
        probed(app, probe)
        probe.index.setValue(args.sample)  # the sample range is known once the test split is read
        probed(app, probe)


def run_sweep(args) -> str:
    """Sweep a copy of the graph (in a folder of its own, with its own run store) before the window opens."""
    from netbuilder.core.model.graph import Graph
    from netbuilder.core.model.recipe import resolve
    from netbuilder.core.training.sweep import Sweep, SweepDefinition, parse_param

    folder = Path(tempfile.mkdtemp())
    copy = folder / Path(args.graph).name
    shutil.copy(args.graph, copy)
    graph = Graph.load(copy)
    settings = resolve({"data": args.sweep_data, "epochs": args.sweep_epochs}, graph.recipe)
    definition = SweepDefinition([parse_param(text) for text in args.sweep], trials=args.sweep_trials,
                                 prune=args.prune, seed=0)
    Sweep(graph, definition, settings, graph_path=copy).run(on_trial=lambda row: print(f"trial {row.number}: "
                                                                                         f"{row.state}"))
    return str(copy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("graph", nargs="?")
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--start", action="store_true")
    parser.add_argument("--layout", action="store_true")
    parser.add_argument("--collapse", action="store_true")
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--select")
    parser.add_argument("--focus")
    parser.add_argument("--remove")
    parser.add_argument("--fix", action="store_true")
    parser.add_argument("--train", type=int, metavar="EPOCHS")
    parser.add_argument("--data", help="the dataset to train on (default: the graph's recipe's)")
    parser.add_argument("--statistics", type=int, metavar="N", help="observe a training step every N batches")
    parser.add_argument("--tab")
    parser.add_argument("--dock")
    parser.add_argument("--inside", help="blocks to look inside (comma-separated names)")
    parser.add_argument("--inside-mode", choices=("maps", "filters", "saliency"), default="maps")
    parser.add_argument("--sample", type=int, help="the test sample Inside shows")
    parser.add_argument("--tile", type=int, help="the size of Inside's tiles, in pixels")
    parser.add_argument("--colour-by", help="tint the blocks by a training statistic (grad_std, act_std, ...)")
    parser.add_argument("--enlarge", choices=("Curves", "Inside"))
    parser.add_argument("--help-layer")
    parser.add_argument("--compare", metavar="CHANGES")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME=VALUES")
    parser.add_argument("--sweep-trials", type=int, default=12)
    parser.add_argument("--sweep-epochs", type=int)
    parser.add_argument("--sweep-data")
    parser.add_argument("--prune", action="store_true")
    parser.add_argument("--sweep-tab", default="Curves")
    args = parser.parse_args()
    if args.sweep:
        args.graph = run_sweep(args)
    from netbuilder.core.data.download import data_home

    os.environ.setdefault("NETBUILDER_DATA", str(data_home()))  # the datasets downloaded already, still found
    os.environ["NETBUILDER_HOME"] = tempfile.mkdtemp()  # no runs of earlier sessions shown: an example's own
    if args.compare and args.graph:  # its runs in a folder of their own
        folder = Path(tempfile.mkdtemp())
        args.graph = str(shutil.copy(args.graph, folder / Path(args.graph).name))

    app = QApplication(sys.argv[:1])
    configure(app)
    app.setOrganizationName("netbuilder-screenshots")  # this machine's recent files stay out of the pictures
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    QCursor.setPos(0, 0)  # no hover highlight where the pointer happens to be
    window = MainWindow(offer_recovery=False)
    width, height = map(int, args.size.split("x"))
    window.resize(width, height)
    window.show()
    window._size_docks()
    deadline = time.time() + 120
    while (window.document.report is None or window.training is None) and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    if args.start:
        window.show_start_page()
        window.start_page.count_parameters()
        if window.start_page._counter is not None:
            window.start_page._counter.wait()
        settle(app, 1.0)
    if args.graph:
        window.open_path(Path(args.graph), ask=False)
        settle(app)
    graph = window.document.graph
    if args.remove:
        from netbuilder.ui.commands import RecordedEdit

        node_id = graph.find(args.remove).id
        window.document.push(RecordedEdit(graph, f"Remove {args.remove}", lambda g: remove_and_bridge(g, node_id)))
        settle(app)
    if args.layout:
        window.auto_layout()
    if args.collapse:
        window.set_all_collapsed(True)
        settle(app)
    if args.fix:
        window.document.refresh_shapes()
        finding = next(f for f in window.document.findings if f.fix is not None)
        window.analysis.apply_fix(finding)
        settle(app)
    if args.fit:
        window.view.fit_to_view()
    if args.select:
        window.show_block(graph.find(args.select).id)
    if args.focus:
        window.view.reset_zoom()
        window.view.centerOn(*graph.find(args.focus).pos)
    settle(app)
    if args.train:
        if args.data:
            window.training.select_dataset(args.data)
        if args.statistics is not None:
            window.training.statistics_every = args.statistics
        window.training.epochs.setValue(args.train)
        train(app, window, deadline)
        if args.compare:
            change(window, args.compare)
            train(app, window, deadline)
            settle(app)
            window.runs_panel.select([run.number for run in window.runs_panel.listed[-2:]])
            window.runs_panel.compare_selected()
            window.runs_dock.show()
            window.runs_dock.raise_()
            settle(app)
    if args.tab:
        window.curves_dock.raise_()
        tabs = window.training.tabs
        tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(args.tab))
        if args.tab == "Data":
            while window.training._preview_job is not None and window.training._preview_job.isRunning():
                app.processEvents()
    if args.dock:
        dock = {"Training": window.training_dock, "Inspector": window.inspector_dock, "Inside": window.probe_dock,
                "Analysis": window.analysis_dock, "Curves": window.curves_dock, "Runs": window.runs_dock,
                "Code": window.code_dock}[args.dock]
        dock.show()
        dock.raise_()
        if args.dock == "Code":  # its code is worked out on a thread; the selected block's lines marked
            window.palette_dock.hide()  # room for the code beside the canvas, as a person makes it
            window.resizeDocks([window.code_dock], [int(width * 0.4)], Qt.Orientation.Horizontal)
            while window.code_view.source is None and time.time() < deadline:
                app.processEvents()
                time.sleep(0.02)
            if args.select:
                window.show_block(graph.find(args.select).id)
            settle(app)
            if args.focus:
                window.view.centerOn(*graph.find(args.focus).pos)
    if args.fit:
        window.view.fit_to_view()  # again: the panels may have taken room since
    if args.inside:
        look_inside(app, window, args)
    if args.enlarge:
        window.enlarge_panel(window.curves_dock if args.enlarge == "Curves" else window.probe_dock)
        settle(app)
        if args.inside:
            probed(app, window.probe)
    if args.sweep:
        view = window.sweeps.view
        while view.snapshot is None and time.time() < deadline + 600:
            app.processEvents()
            time.sleep(0.02)
        window.sweeps.show()
        window.resizeDocks([window.sweeps.dock], [int(0.46 * height)], Qt.Orientation.Vertical)
        view.tabs.setCurrentIndex([view.tabs.tabText(i) for i in range(view.tabs.count())].index(args.sweep_tab))
        headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
        view.table.sortItems(headers.index(view.snapshot.metric), Qt.SortOrder.AscendingOrder)  # best first
    settle(app, 0.6)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.help_layer:
        window.show_layer_help(args.help_layer)
        settle(app)
        saved = window.layer_help.grab().save(args.out)
    else:
        saved = window.grab().save(args.out)
    print(f"saved {args.out}" if saved else f"could not save {args.out}")
    window.document.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
