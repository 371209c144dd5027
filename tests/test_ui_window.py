"""The window at a laptop's size (issue 21, item 1): at 1366x768 it stays 1366x768 whatever a panel holds, after a
short run of every example, on every tab and panel; the pictures get room (plots at least 150 px tall with legible
ticks, the whole 10x10 confusion matrix, 16 of 32 feature maps with their captions); the bottom panel can be made
small; a panel can take the whole window; the layout is remembered."""
import torch
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtWidgets import QDockWidget

from netbuilder.core.base.files import list_examples
from netbuilder.core.data.specs import DataSpec, Source, load_dataset
from tests.conftest import EXAMPLES

SIZE = QSize(1366, 768)
TINY = 240  # samples: a run of an epoch takes a moment


def tiny_data(panel, spec: str) -> None:
    """Train on a few hundred samples of the recipe's real dataset: the dataset cache (which the run reads) gets
    them under the recipe's spec."""
    parsed = DataSpec.parse(spec)
    if parsed.kind in ("ring", "xor", "circles", "moons", "spirals", "temperature", "shapes", "copy", "reverse",
                       "sort", "majority"):
        panel.select_dataset(str(DataSpec(parsed.kind, parsed.path, tuple(
            (k, v) for k, v in parsed.options if k != "n") + (("n", TINY),))))
        return
    source = load_dataset(parsed)
    pick = torch.randperm(len(source.data), generator=torch.Generator().manual_seed(0))[:TINY]
    panel.datasets.entries[(parsed, None)] = Source(source.data.subset(pick))


def laptop(window, qtbot):
    window.resize(SIZE)
    window._size_docks()
    qtbot.wait(30)
    assert window.size() == SIZE


def fits(window, where: str) -> None:
    assert window.size() == SIZE, f"{where}: the window grew to {window.size()}"
    hint = window.minimumSizeHint()
    assert hint.width() <= SIZE.width() and hint.height() <= SIZE.height(), f"{where}: needs {hint}"
    for dock in window.findChildren(QDockWidget):
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            need = dock.minimumSizeHint()
            assert need.height() <= dock.height() + 1 and need.width() <= dock.width() + 1, \
                f"{where}: the {dock.objectName()} panel needs {need}, has {dock.size()}"


def test_every_tab_and_panel_of_every_example_keeps_the_window_at_1366x768(window, qtbot):
    laptop(window, qtbot)
    panel, probe = window.training, window.probe
    for path, _title in list_examples():
        assert window.open_example(path)
        graph = window.document.graph
        recipe = graph.recipe
        if "data" in recipe:
            tiny_data(panel, recipe["data"])
            panel.epochs.setValue(1)
            panel.batch_size.setValue(min(panel.batch_size.value(), 64))
            window.start_training()
            qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
        fits(window, f"{path.stem} after its run")
        tabs = panel.tabs
        window.curves_dock.raise_()
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            if tabs.tabText(i) == "Data" and "data" in recipe:
                qtbot.waitUntil(lambda: panel._preview_job is None or not panel._preview_job.isRunning(),
                                timeout=60_000)
            qtbot.wait(10)
            fits(window, f"{path.stem}, {tabs.tabText(i)}")
        for dock in (window.inspector_dock, window.training_dock, window.analysis_dock, window.probe_dock):
            dock.raise_()
            if dock is window.probe_dock:
                window.scene.select_nodes([graph.nodes[min(2, len(graph) - 1)].id])
                qtbot.waitUntil(lambda: probe._job is None and not probe._waiting
                                and not probe._refresh_timer.isActive(), timeout=60_000)
            qtbot.wait(10)
            fits(window, f"{path.stem}, {dock.objectName()}")
        for dock in (window.curves_dock, window.probe_dock):
            window.enlarge_panel(dock)
            qtbot.wait(10)
            fits(window, f"{path.stem}, {dock.objectName()} enlarged")
            window.restore_panels()
        window.document.undo_stack.setClean()


def mnist_convnet_trained(window, qtbot):
    laptop(window, qtbot)
    assert window.open_example(EXAMPLES / "mnist_convnet.json")
    panel = window.training
    tiny_data(panel, "mnist-5k")
    panel.epochs.setValue(2)
    window.start_training()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
    return panel


def legible_ticks(widget) -> None:
    """The axes' tick labels do not overlap one another."""
    from PySide6.QtGui import QPainter, QPixmap

    for side in ("left", "bottom"):
        axis = widget.getAxis(side)
        pixmap = QPixmap(max(1, int(axis.width())), max(1, int(axis.height())))
        painter = QPainter(pixmap)
        _, _, texts = axis.generateDrawSpecs(painter)
        painter.end()
        rects = [QRectF(rect) for rect, _flags, _text in texts]
        assert len(rects) >= (2 if side == "left" else 1), f"{side}: too few ticks to read a value"
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), f"{side}: overlapping"


def test_at_1366x768_the_plots_the_matrix_and_the_maps_get_room(window, qtbot):
    panel = mnist_convnet_trained(window, qtbot)
    window.curves_dock.raise_()
    panel.tabs.setCurrentWidget(panel.plots)
    qtbot.wait(50)
    for widget in (panel.plots.loss, panel.plots.epoch_loss, panel.plots.metric):
        assert widget.plotItem.vb.height() >= 150, "while a run is watched, the plots get room"
        legible_ticks(widget)
    panel.tabs.setCurrentWidget(panel.results)
    qtbot.wait(50)
    matrix = panel.results.matrix
    area, cell = matrix.grid()
    assert len(matrix.classes) == 10 and cell >= 14, "every count readable"
    assert QRectF(matrix.rect()).contains(area) and not matrix.visibleRegion().isEmpty()
    assert matrix.visibleRegion().boundingRect().contains(area.toAlignedRect()), "the whole 10x10 matrix in view"

    probe = window.probe
    window.probe_dock.raise_()
    window.scene.select_nodes([window.document.graph.find("conv1").id])
    qtbot.waitUntil(lambda: probe.shown is not None and bool(probe.grids), timeout=60_000)
    window.enlarge_panel(window.probe_dock)
    qtbot.wait(50)
    grid = probe.grids[0]
    assert len(grid.images) == 32
    viewport = probe.scroll.viewport()
    seen = [rect for _i, rect in grid._rects()
            if viewport.rect().contains(rect.adjusted(0, 0, 0, 14).translated(grid.mapTo(viewport, rect.topLeft())
                                                                                - rect.topLeft()))]
    assert len(seen) >= 16, f"{len(seen)} of 32 feature maps with their captions in view"
    window.restore_panels()


def test_the_bottom_panel_can_be_made_small_and_a_panel_can_take_the_window(window, qtbot):
    panel = mnist_convnet_trained(window, qtbot)
    for widget in (panel.plots, panel.results, panel.made, panel.preview):
        panel.tabs.setCurrentWidget(widget)
        window.resizeDocks([window.curves_dock], [90], Qt.Orientation.Vertical)
        qtbot.wait(20)
        assert window.curves_dock.height() <= 100, f"{panel.tabs.tabText(panel.tabs.currentIndex())}"
        assert window.size() == SIZE
    window.curves_dock.raise_()
    button = panel.corner_row.itemAt(panel.corner_row.count() - 1).widget()
    button.click()
    qtbot.wait(20)
    assert window.enlarged is window.curves_dock and not window.stack.isVisible()
    assert window.curves_dock.height() > 0.8 * SIZE.height() and window.curves_dock.width() == SIZE.width()
    assert button.isChecked()
    panel.tabs.setCurrentWidget(panel.plots)
    qtbot.wait(20)
    assert min(w.height() for w in (panel.plots.loss, panel.plots.epoch_loss)) > 400
    from PySide6.QtTest import QTest

    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.enlarged is None and window.stack.isVisible()
    assert window.curves_dock.height() < 0.6 * SIZE.height() and not button.isChecked()


def test_the_maximised_state_and_the_panel_sizes_are_remembered(window, qtbot, tmp_path):
    from netbuilder.ui.main_window import MainWindow

    laptop(window, qtbot)
    window.resizeDocks([window.analysis_dock], [260], Qt.Orientation.Vertical)
    window.resizeDocks([window.inspector_dock], [420], Qt.Orientation.Horizontal)
    qtbot.wait(20)
    heights = window.analysis_dock.height(), window.inspector_dock.width()
    window.showMaximized()
    qtbot.wait(20)
    window.close()
    again = MainWindow(recovery_directory=tmp_path / "recovery", offer_recovery=False)
    qtbot.addWidget(again)
    assert again.windowState() & Qt.WindowState.WindowMaximized
    again.showNormal()
    again.resize(SIZE)
    again.show()
    qtbot.waitExposed(again)
    qtbot.wait(30)
    assert abs(again.analysis_dock.height() - heights[0]) <= 8 and abs(again.inspector_dock.width() - heights[1]) <= 8
    again.close()
