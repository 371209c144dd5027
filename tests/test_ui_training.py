"""Training from the window: the panel starts a real run on a worker thread, the plots and the progress bar
follow it, the window keeps processing events, and the graph is locked until the run ends."""
import time

import torch
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import load_weights
from tests.conftest import EXAMPLES


class LoopWatch:
    """A 10 ms timer that records how late each tick is: the event loop's responsiveness."""

    def __init__(self):
        self.ticks, self.worst_ms = 0, 0.0
        self.clock = QElapsedTimer()
        self.clock.start()
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(10)

    def tick(self):
        elapsed = self.clock.restart()
        self.worst_ms = max(self.worst_ms, elapsed - 10)
        self.ticks += 1


def open_example(window, name):
    assert window.open_path(EXAMPLES / f"{name}.json")


def test_a_run_from_the_panel_feeds_the_plots_and_the_progress_bar_and_can_be_stopped(window, qtbot):
    open_example(window, "mnist_convnet")
    panel = window.training
    panel.epochs.setValue(20)
    watch = LoopWatch()
    assert panel.start()
    assert window.document.locked_reason and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.plots.current is not None and len(panel.plots.current.batch_loss) >= 30,
                    timeout=60_000)
    assert panel.progress.value() > 0
    assert "samples/s" in panel.status.text()
    raw = panel.plots.current.raw.getData()
    assert len(raw[1]) == len(panel.plots.current.batch_loss) and all(v > 0 for v in raw[1])
    g = window.document.graph
    window.scene.select_nodes([g.find("fc1").id])
    window.inspector.editors["out_features"].widget.setValue(50)
    assert g.find("fc1").params["out_features"] == 200, "locked while training"
    ticks_before = watch.ticks
    qtbot.wait(300)
    assert watch.ticks - ticks_before >= 10, "the window processed events while training"
    panel.stop()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=30_000)
    assert panel.status.text().startswith("Stopped by the user during epoch")
    assert window.document.locked_reason is None and panel.start_button.isEnabled()
    window.inspector.editors["out_features"].widget.setValue(50)
    assert g.find("fc1").params["out_features"] == 50, "editable again"
    assert watch.worst_ms < 1000, f"the event loop stalled for {watch.worst_ms:.0f} ms"


def test_a_finished_run_shows_results_and_saves_weights(window, qtbot, tmp_path):
    open_example(window, "mnist_convnet")
    panel = window.training
    panel.epochs.setValue(2)
    panel.start()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
    assert panel.tabs.currentWidget() is panel.results
    assert "test accuracy" in panel.results.summary.text()
    matrix = panel.results.matrix
    assert len(matrix.counts) == len(matrix.classes) == 10
    total = sum(sum(row) for row in matrix.counts)
    assert total == 1000
    captions = [caption for _, caption, _ in panel.results.samples.items]
    wrong = [w for _, _, w in panel.results.samples.items]
    assert wrong == sorted(wrong, reverse=True), "mistakes first"
    assert all(" / " in caption for caption in captions)
    assert len(panel.plots.current.epochs["epoch"]) == 2
    assert panel.save_weights_to(tmp_path / "w.pt")
    model = compile_graph(window.document.graph)
    load_weights(model, tmp_path / "w.pt")
    trained = panel.trained_state()
    assert all(torch.equal(v, trained[k].cpu()) for k, v in model.state_dict().items())


def test_a_second_run_is_overlaid_and_clear_empties_the_plots(window, qtbot):
    open_example(window, "mlp_xor")
    panel = window.training
    panel.dataset.setCurrentText("xor")
    panel.epochs.setValue(2)
    for _ in range(2):
        panel.start()
        qtbot.waitUntil(lambda: not panel.is_running, timeout=60_000)
    assert len(panel.plots.runs) == 2
    assert panel.plots.runs[0].avg.opts["pen"].color().alpha() < 255, "the earlier run is faded"
    assert panel.plots.runs[0].raw not in panel.plots.loss.plotItem.listDataItems()
    panel.plots.clear()
    assert panel.plots.runs == [] and panel.plots.loss.plotItem.listDataItems() == []


def test_data_that_does_not_fit_gives_one_message_and_nothing_is_locked(window, qtbot):
    open_example(window, "alexnet")
    panel = window.training
    panel.start()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=60_000)
    assert panel.error.isVisible()
    assert panel.error.text() == "graph input is 3x224x224, dataset mnist-5k gives 1x28x28"
    assert window.document.locked_reason is None


def test_a_graph_with_problems_is_not_trained(window, qtbot):
    open_example(window, "mnist_convnet")
    g = window.document.graph
    window.document.graph.disconnect(g.find("fc1").id, "in")
    qtbot.waitUntil(lambda: window.document.report is not None and bool(window.document.report.errors))
    assert window.training.start() is False
    assert window.training.error.text() == "fix the graph first: fc1 (Linear): its input is not connected"
    assert not window.training.is_running


def test_bad_settings_are_refused_before_starting(window, qtbot):
    open_example(window, "mlp_xor")
    window.training.lr.setText("fast")
    assert window.training.start() is False
    assert window.training.error.text() == "learning rate must be a number, got 'fast'"


def test_the_preview_shows_samples_with_their_labels(window, qtbot):
    from netbuilder.ui.samples import SampleGrid

    panel = window.training
    panel.show_preview()
    qtbot.waitUntil(lambda: panel.preview.findChild(SampleGrid) is not None, timeout=30_000)
    grid = panel.preview.findChild(SampleGrid)
    assert len(grid.items) == 24 and [c for _, c, _ in grid.items[:10]] == [str(d) for d in range(10)]
    assert all(pixmap is not None for pixmap, _, _ in grid.items)


def test_opening_another_graph_waits_for_the_run_and_closing_asks(window, qtbot, answer):
    open_example(window, "mnist_convnet")
    panel = window.training
    panel.epochs.setValue(50)
    panel.start()
    assert not window.open_path(EXAMPLES / "lenet5.json")
    assert window.statusBar().currentMessage() == "Stop the training run before opening another graph"
    seen = answer(QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert seen[0] == "Stop the training run and quit?"
    answer(QMessageBox.StandardButton.Yes)
    worker = panel.worker
    assert worker is not None and worker.isRunning()
    started = time.perf_counter()
    window.document.undo_stack.setClean()
    assert window.close()
    assert worker.isFinished(), "closing stops the run and waits for its thread"
    assert time.perf_counter() - started < 30


def test_datasets_are_read_once_and_only_the_last_two_are_kept():
    from netbuilder.ui.worker import DatasetCache

    cache = DatasetCache(size=2)
    first = cache.load("xor", (2,))
    assert cache.load("xor", (3,)) is first, "the input shape matters only to image folders"
    cache.load("moons", (2,))
    cache.load("xor", (2,))  # used again: now the most recent
    cache.load("circles", (2,))  # evicts moons, the least recently used
    assert [str(key[0]) for key in cache.entries] == ["xor", "circles"]
    assert cache.load("xor", (2,)) is first
