"""How long the editor takes to open a graph and to refresh after an edit, against an empty event-loop turn.

    python bench/bench_canvas.py        (offscreen; no display needed)

Opens resnet18.json and generated graphs of 500 and 1,000 blocks (residual units, each a group) into the real
main window (blocks, wires, groups, shape inference, analysis, one paint), then edits one param 20 times (a new
value each time, as when typing) and times each refresh (shape inference, analysis, labels, one paint), and
times collapsing all the groups of the 1,000-block graph (one command: fold, hide, rewire, one paint).
Targets: open < 1 s, edit < 100 ms.
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import EXAMPLES, steady_allocator

steady_allocator()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.core.model.layout import apply_layout  # noqa: E402
from netbuilder.ui.commands import SetParam  # noqa: E402
from netbuilder.ui.main_window import MainWindow  # noqa: E402


def event_loop_turn() -> float:
    """One trip through the event loop with nothing else to do: the unit the figures are given in."""
    times = []
    for _ in range(200):
        loop = QEventLoop()
        start = time.perf_counter()
        QTimer.singleShot(0, loop.quit)
        loop.exec()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def settle(window: MainWindow) -> None:
    """Until the window has caught up: shapes inferred, then the canvas painted."""
    app = QApplication.instance()
    while window.document.report is None or window.document._refresh_pending:
        app.processEvents()
    window.view.viewport().repaint()


def residual_mlp(blocks: int) -> Graph:
    """An Input, then residual units of Linear, ReLU, Linear, Add, ReLU (each unit a group), until `blocks`
    blocks."""
    g = Graph({"title": f"generated, {blocks} blocks"})
    x = g.add_node("Input", {"shape": [64]}).id
    while len(g) + 5 <= blocks - 1:
        a = g.add_node("Linear", {"out_features": 64}).id
        r = g.add_node("ReLU").id
        b = g.add_node("Linear", {"out_features": 64}).id
        add = g.add_node("Add").id
        out = g.add_node("ReLU").id
        for src, dst in ((x, a), (a, r), (r, b), (b, add), (x, add), (add, out)):
            g.connect(src, dst)
        g.add_group([a, r, b, add, out], f"unit{len(g.groups) + 1}")
        x = out
    while len(g) < blocks - 1:
        nxt = g.add_node("Tanh").id
        g.connect(x, nxt)
        x = nxt
    g.connect(x, g.add_node("Output").id)
    apply_layout(g)
    return g


def time_open(window: MainWindow, path: Path) -> float:
    start = time.perf_counter()
    window.open_path(path, ask=False)
    settle(window)
    return time.perf_counter() - start


def time_edits(window: MainWindow, name: str, param: str, values) -> float:
    graph = window.document.graph
    node = graph.find(name)
    times = []
    for value in values:
        start = time.perf_counter()
        window.document.push(SetParam(graph, node.id, param, value))
        settle(window)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_collapse_all(window: MainWindow) -> float:
    start = time.perf_counter()
    window.set_all_collapsed(True)
    settle(window)
    seconds = time.perf_counter() - start
    window.document.undo_stack.undo()
    settle(window)
    return seconds


def main() -> None:
    app = QApplication(sys.argv[:1])
    window = MainWindow(offer_recovery=False)
    window.resize(1280, 800)
    window.show()
    settle(window)  # torch loaded, empty canvas painted
    turn = event_loop_turn()

    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated_500.json"
        residual_mlp(500).save(generated)
        thousand = Path(tmp) / "generated_1000.json"
        residual_mlp(1000).save(thousand)
        window.open_path(EXAMPLES / "mnist_convnet.json", ask=False)  # warm-up: first paint, first inference
        settle(window)
        results = [
            ("open resnet18.json (70 blocks)", time_open(window, EXAMPLES / "resnet18.json")),
            ("edit + refresh, resnet18", time_edits(window, "layer3_0_conv1", "out_channels", range(200, 220))),
            ("open generated graph (500 blocks)", time_open(window, generated)),
            ("edit + refresh, 500 blocks", time_edits(window, "fc1", "out_features", range(100, 120))),
            ("open generated graph (1,000 blocks)", time_open(window, thousand)),
            ("edit + refresh, 1,000 blocks", time_edits(window, "fc1", "out_features", range(100, 120))),
            ("collapse all 199 groups, 1,000 blocks", time_collapse_all(window)),
        ]
    window.document.undo_stack.setClean()
    print(f"empty event-loop turn (median of 200): {turn * 1e6:.1f} us")
    for label, seconds in results:
        print(f"  {label:36s} {seconds * 1e3:9.1f} ms   = {seconds / turn:10.0f} event-loop turns")
    window.close()


if __name__ == "__main__":
    main()
