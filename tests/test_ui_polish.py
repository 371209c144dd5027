"""The rough edges a new user hit (issue 11, items 1-9), each driven through the real widgets (offscreen)."""
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from tests.conftest import EXAMPLES
from tests.test_ui_canvas import drop_layer, wait_shapes


def open_example(window, name):
    assert window.open_path(EXAMPLES / f"{name}.json")
    return window.document.graph


# ----- 2. Ctrl+Z while a field has focus

def test_ctrl_z_in_an_inspector_spin_box_undoes_the_documents_last_edit(window, qtbot):
    g = open_example(window, "mnist_convnet")
    fc1 = g.find("fc1")
    window.scene.select_nodes([fc1.id])
    box = window.inspector.editors["out_features"].widget
    box.setValue(128)
    assert fc1.params["out_features"] == 128
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert fc1.params["out_features"] == 200 and box.value() == 200
    QTest.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert fc1.params["out_features"] == 128


def test_ctrl_z_in_a_typed_field_takes_back_the_typing_first_then_undoes(window, qtbot):
    g = open_example(window, "mnist_convnet")
    conv = g.find("conv1")
    window.scene.select_nodes([conv.id])
    window.inspector.editors["out_channels"].widget.setValue(16)  # the last committed edit
    editor = window.inspector.editors["kernel_size"]
    editor.widget.setFocus()
    editor.widget.selectAll()
    QTest.keyClicks(editor.widget, "5x0")
    assert editor.error.isVisible(), "checked as it is typed"
    QTest.keyClick(editor.widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.widget.text() == "5" and not editor.error.isVisible() and conv.params["out_channels"] == 16
    QTest.keyClick(editor.widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert conv.params["out_channels"] == 32


# ----- 3. a laptop screen

def test_at_1366x768_the_canvas_is_usable_and_start_and_stop_stay_in_view(window, qtbot):
    window.resize(1366, 768)
    window._size_docks()
    qtbot.wait(50)
    assert window.view.viewport().height() >= 420 and window.view.viewport().width() >= 700
    toolbar = window.toolbar
    for name in ("train", "stop"):
        button = toolbar.widgetForAction(window.actions_by_name[name])
        assert button.isVisible() and window.rect().contains(QRect(button.mapTo(window, QPoint(0, 0)), button.size()))
    window.training_dock.raise_()
    qtbot.wait(20)
    start = window.training.start_button
    assert start.isVisible() and start.visibleRegion().boundingRect().size() == start.size(), "never scrolled away"
    for dock in (window.training_dock, window.curves_dock, window.analysis_dock):
        assert dock.features() & dock.DockWidgetFeature.DockWidgetMovable, "resizable docks, not a fixed half"


def test_a_block_added_below_the_edge_of_the_view_is_brought_into_view(window, qtbot):
    g = open_example(window, "mnist_convnet")
    window.view.reset_zoom()
    fc2 = window.scene.blocks[g.find("fc2").id]
    window.view.centerOn(fc2.pos() - QPointF(0, window.view.viewport().height() / 2 - 40))  # fc2 at the bottom edge
    window.scene.select_nodes([g.find("fc2").id])
    window.palette.add_requested.emit("ReLU")
    new = window.scene.blocks[window.scene.selected_node_ids()[0]]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(new.sceneBoundingRect())


# ----- 4. plots

def test_plot_legends_sit_off_the_curves_and_epochs_are_whole_numbers(window, qtbot):
    from netbuilder.core.training.config import EpochReport

    plots = window.training.plots
    plots.start_run()
    for epoch in (1, 2):
        plots.add_epoch(EpochReport(epoch=epoch, epochs=2, train_loss=1.0 / epoch, train_metric=0.5 + 0.1 * epoch,
                                    val_loss=1.2 / epoch, val_metric=0.45 + 0.1 * epoch, lr=0.1, seconds=1.0,
                                    samples_per_s=100.0))
    plots._draw_epochs()
    plots.resize(900, 220)
    plots.show()
    qtbot.wait(50)
    for widget in (plots.loss, plots.epoch_loss, plots.metric):
        item = widget.plotItem
        assert not item.legend.sceneBoundingRect().intersects(item.vb.sceneBoundingRect())
    for widget in (plots.epoch_loss, plots.metric):
        axis = widget.getAxis("bottom")
        low, high = widget.plotItem.vb.viewRange()[0]
        ticks = [v for _, values in axis.tickValues(low, high, axis.width()) for v in values]
        assert ticks and all(float(v).is_integer() for v in ticks), ticks


def test_the_smoothed_loss_follows_a_falling_loss_closely_and_still_smooths_noise(window, qtbot):
    from netbuilder.core.training.config import BatchReport

    plots = window.training.plots
    plots.start_run()
    falling = [2.3 * math.exp(-i / 15) + 0.05 for i in range(300)]
    for start in range(0, 300, 10):
        plots.add_batches(BatchReport(epoch=1, batch=start + 10, batches=300, losses=falling[start:start + 10],
                                      samples_per_s=1000.0, progress=start / 300, eta_s=1.0))
    run = plots.current
    assert max(s / raw for s, raw in zip(run.smooth, run.batch_loss)) < 1.3, "no long lag above the raw loss"
    plots.start_run()
    noisy = list(1 + np.random.default_rng(0).uniform(-0.5, 0.5, 1000))
    plots.add_batches(BatchReport(epoch=1, batch=1000, batches=1000, losses=noisy, samples_per_s=1000.0,
                                  progress=1.0, eta_s=0.0))
    run = plots.current
    assert np.std(run.smooth[500:]) < 0.4 * np.std(run.batch_loss[500:])


def test_new_and_open_clear_the_previous_networks_curves(window, qtbot):
    from netbuilder.core.training.config import BatchReport

    plots = window.training.plots
    plots.start_run()
    plots.add_batches(BatchReport(epoch=1, batch=1, batches=1, losses=[1.0], samples_per_s=1.0, progress=1.0,
                                  eta_s=0.0))
    window.new_document()
    assert plots.runs == [] and plots.loss.plotItem.listDataItems() == []
    plots.start_run()
    open_example(window, "lenet5")
    assert plots.runs == []


# ----- 5. the empty-canvas hint

def test_the_empty_canvas_hint_goes_with_the_first_block_and_comes_back_whole(window, qtbot):
    hint = window.view.hint
    assert hint.isVisible()
    window.view.reset_zoom()
    drop_layer(window, "Conv2d", QPoint(300, 200))
    assert not hint.isVisible()
    window.document.undo_stack.setClean()
    open_example(window, "lenet5")
    window.new_document()
    assert hint.isVisible()
    assert window.view.viewport().rect().contains(hint.geometry())
    assert hint.height() >= hint.heightForWidth(hint.width()), "not clipped"


# ----- 6. the palette

def test_palette_rows_have_one_height_on_every_screenful(window, qtbot):
    tree = window.palette.tree
    tree.scrollToBottom()
    qtbot.wait(20)
    heights = {tree.visualItemRect(item).height() for item in tree.layer_items()}
    heights |= {tree.visualItemRect(tree.topLevelItem(i)).height() for i in range(tree.topLevelItemCount())}
    assert len(heights) == 1 and heights.pop() >= 22


def test_enter_in_the_palette_search_adds_the_first_match(window, qtbot):
    QTest.keyClicks(window.palette.search, "conv2")
    QTest.keyClick(window.palette.search, Qt.Key.Key_Return)
    (node,) = window.document.graph.nodes
    assert node.type == "Conv2d"
    window.palette.search.clear()
    QTest.keyClicks(window.palette.search, "relu")
    QTest.keyClick(window.palette.search, Qt.Key.Key_Return)
    assert [n.type for n in window.document.graph.nodes] == ["Conv2d", "ReLU"], "a name typed in full wins"
    assert window.document.graph.input_edges(window.document.graph.nodes[1].id)[0].src == node.id


# ----- 7. wires, layout, fit

@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_no_shape_label_is_hidden_behind_a_block(window, qtbot, name):
    open_example(window, name)
    wait_shapes(qtbot, window)
    from netbuilder.ui.canvas.block import BlockItem

    labels = [wire.label for wire in window.scene.wires.values() if wire.label.isVisible()]
    assert len(labels) > 50
    for label in labels:
        covering = [item for item in window.scene.items(label.sceneBoundingRect())
                    if isinstance(item, BlockItem) and item.zValue() > label.zValue()]
        assert not covering, label.text


def test_auto_layout_on_a_laid_out_graph_changes_nothing(window, qtbot, answer):
    open_example(window, "resnet18")
    window.view.reset_zoom()
    window.view.centerOn(0, 3000)
    centre = window.view.centre_of_view()
    assert window.auto_layout() is False
    assert window.document.undo_stack.count() == 0 and not window.isWindowModified()
    assert window.view.centre_of_view() == centre, "the view stays where it was"


def test_fit_on_a_200_block_column_is_legible(window, qtbot):
    g = open_example(window, "googlenet")
    assert len(g) > 190
    window.view.fit_to_view()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.visible_bounds()), "all of it (issue 21: Fit no longer cuts it)"
    labels = dict(window.view.far_labels())
    assert "inception3a" in labels and "x" in labels, "names are written beside the boxes, at a legible size"
    rects = list(labels.values())
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.blocks[g.find("x").id].sceneBoundingRect())


# ----- 8, 9. messages, files, dialogs, fields

def test_a_refused_wire_is_explained_in_full_over_the_canvas(window, qtbot):
    from tests.test_ui_canvas import build_chain
    from tests.ui_helpers import drag, port_pos

    ids = build_chain(window, "Input", "Linear", "ReLU")
    drag(window, port_pos(window, ids[2], True, "out"), port_pos(window, ids[1], False, "in"))
    bar = window.message_bar
    assert bar.isVisible() and bar.text.text() == "Cannot wire: input 'in' of fc1 (Linear) is already connected."
    window.document.lock("a training run is using the graph: stop it to change the network (blocks can still be "
                         "moved)")
    window.scene.select_nodes([ids[1]])
    window.delete_selection()
    assert bar.text.text().startswith("A training run is using the graph") and bar.text.wordWrap()


def test_the_model_summary_table_fills_its_dialog(window, qtbot):
    open_example(window, "lenet5")
    wait_shapes(qtbot, window)
    window.show_summary()
    dialog = window.summary_dialog
    dialog.resize(900, 600)
    qtbot.wait(50)
    table = dialog.table
    used = sum(table.columnWidth(c) for c in range(table.columnCount()))
    assert abs(used - table.viewport().width()) <= 2


def test_the_data_tab_says_what_it_is_for_before_preview(window, qtbot):
    from PySide6.QtWidgets import QLabel

    preview = window.training.preview
    labels = [label.text() for label in preview.findChildren(QLabel) if label.isVisibleTo(preview)]
    assert any("Preview" in text for text in labels)


def test_opening_an_onnx_file_offers_to_import_it(window, qtbot, tmp_path, answer):
    from netbuilder.core.exchange.onnx_export import export_onnx
    from netbuilder.core.model.graph import Graph

    export_onnx(Graph.load(EXAMPLES / "mlp_xor.json"), tmp_path / "xor.onnx")
    asked = answer(QMessageBox.StandardButton.Yes)
    done = None
    assert window.open_path(tmp_path / "xor.onnx")
    assert "is an ONNX model, not a netbuilder graph. Import it" in asked[0]
    done = answer(QMessageBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "xor.json", timeout=60_000)
    assert len(window.document.graph) == 5 and done is not None


def test_a_shape_with_a_trailing_separator_is_refused_as_it_is_typed(window, qtbot):
    g = open_example(window, "mnist_convnet")
    x = g.find("x")
    window.scene.select_nodes([x.id])
    editor = window.inspector.editors["shape"]
    editor.widget.setFocus()
    editor.widget.selectAll()
    QTest.keyClicks(editor.widget, "28x28x")
    assert editor.error.isVisible() and "write whole numbers joined by x, e.g. 1x28x28" in editor.error.text()
    assert x.params["shape"] == [1, 28, 28], "nothing changes while it is typed"
    QTest.keyClick(editor.widget, Qt.Key.Key_Return)
    assert x.params["shape"] == [1, 28, 28] and editor.error.isVisible(), "an invalid value is never committed"
    QTest.keyClick(editor.widget, Qt.Key.Key_Backspace)
    assert not editor.error.isVisible(), "valid again as soon as it is"
    QTest.keyClick(editor.widget, Qt.Key.Key_Return)
    assert x.params["shape"] == [28, 28]


def test_a_bad_block_name_is_refused_as_it_is_typed(window, qtbot):
    g = open_example(window, "mnist_convnet")
    window.scene.select_nodes([g.find("conv1").id])
    name = window.inspector.name_edit
    name.setFocus()
    name.selectAll()
    QTest.keyClicks(name, "conv2")
    assert window.inspector.name_error.text() == "a block named 'conv2' already exists"
    QTest.keyClicks(name, "b")
    assert not window.inspector.name_error.isVisible()
