"""The editor's canvas, palette and inspector, driven through the real widgets (offscreen)."""
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from netbuilder.core.layers import LAYERS
from tests.conftest import EXAMPLES
from tests.ui_helpers import click, drag, port_pos


def palette_item(window, layer_type):
    (item,) = [i for i in window.palette.tree.layer_items() if i.text(0) == layer_type]
    return item


def drop_layer(window, layer_type, viewport_pos: QPoint):
    """What a drag from the palette delivers to the canvas: enter, move, drop."""
    mime = window.palette.tree.mimeData([palette_item(window, layer_type)])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    for event in (QDragEnterEvent(viewport_pos, *args), QDragMoveEvent(viewport_pos, *args),
                  QDropEvent(QPointF(viewport_pos), *args)):
        QApplication.sendEvent(window.view.viewport(), event)
        assert event.isAccepted()


def wait_shapes(qtbot, window):
    qtbot.waitUntil(lambda: not window.document._refresh_pending)


def test_a_palette_drop_creates_the_block_where_it_is_dropped(window, qtbot):
    window.view.reset_zoom()
    drop_layer(window, "Conv2d", QPoint(300, 200))
    (node,) = window.document.graph.nodes
    expected = window.view.mapToScene(QPoint(300, 200))
    assert node.type == "Conv2d" and node.name == "conv1"
    assert abs(node.pos[0] - expected.x()) <= 5 and abs(node.pos[1] - expected.y()) <= 5
    assert node.id in window.scene.blocks
    assert window.scene.selected_node_ids() == [node.id]


def test_the_palette_filters_as_you_type_and_double_click_adds_and_wires(window, qtbot):
    qtbot.keyClicks(window.palette.search, "pool")
    assert set(window.palette.visible_types()) == {"MaxPool1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                                                   "AdaptiveMaxPool2d", "GlobalAvgPool2d", "Upsample", "Resize",
                                                   "Mean"}  # Mean: mean pooling over any axes
    window.palette.search.clear()
    assert sorted(window.palette.visible_types()) == sorted(LAYERS)
    tree = window.palette.tree
    item = palette_item(window, "Input")
    tree.itemDoubleClicked.emit(item, 0)
    (x,) = window.document.graph.nodes
    tree.itemDoubleClicked.emit(palette_item(window, "Flatten"), 0)  # x is selected: added below it, wired
    flatten = window.document.graph.find("flatten1")
    assert flatten.pos[1] > x.pos[1]
    assert [e.src for e in window.document.graph.input_edges(flatten.id)] == [x.id]
    assert "Reshape" in palette_item(window, "Reshape").toolTip(0)


def build_chain(window, *types):
    """Add blocks by the palette's double-click, each wired below the previous one."""
    for layer_type in types:
        window.palette.add_requested.emit(layer_type)
    return [n.id for n in window.document.graph.nodes]


def test_wiring_two_ports_with_the_mouse_creates_the_edge_and_updates_shapes(window, qtbot):
    x = window.document.graph.add_node("Input", {"shape": [3, 8, 8]}, pos=(0, 0))
    conv = window.document.graph.add_node("Conv2d", {"out_channels": 4}, pos=(0, 200))
    wait_shapes(qtbot, window)
    assert window.scene.blocks[conv.id].error == "its input is not connected"
    assert window.scene.blocks[conv.id].info.message == "conv1 (Conv2d): its input is not connected"
    drag(window, port_pos(window, x.id, True, "out"), port_pos(window, conv.id, False, "in"))
    assert [e.src for e in window.document.graph.input_edges(conv.id)] == [x.id]
    wait_shapes(qtbot, window)
    block = window.scene.blocks[conv.id]
    assert block.error is None and block.info.output == (4, 6, 6)
    assert window.scene.wires[(conv.id, "in")].label.text == "3x8x8"


def test_a_refused_wire_leaves_the_graph_unchanged_and_says_why(window, qtbot):
    ids = build_chain(window, "Input", "Linear", "ReLU")
    before = window.document.graph.to_dict()
    drag(window, port_pos(window, ids[2], True, "out"), port_pos(window, ids[1], False, "in"))
    assert window.document.graph.to_dict() == before
    assert "input 'in' of fc1 (Linear) is already connected" in window.statusBar().currentMessage()
    add = window.document.graph.add_node("Add", pos=(400, 0))
    window.document.graph.connect(ids[2], add.id)
    before = window.document.graph.to_dict()
    drag(window, port_pos(window, add.id, True, "out"), port_pos(window, ids[0], True, "out"))
    assert window.document.graph.to_dict() == before
    assert "output (bottom of a block) to an input" in window.statusBar().currentMessage()


def test_a_cycle_is_refused(window, qtbot):
    g = window.document.graph
    a, b = g.add_node("ReLU", pos=(0, 0)), g.add_node("Add", pos=(0, 200))
    g.connect(a.id, b.id)
    before = g.to_dict()
    drag(window, port_pos(window, b.id, True, "out"), port_pos(window, a.id, False, "in"))
    assert g.to_dict() == before
    assert "would make a cycle" in window.statusBar().currentMessage()


def test_an_inspector_param_edit_updates_the_downstream_shapes(window, qtbot):
    window.open_path(EXAMPLES / "mnist_convnet.json")
    wait_shapes(qtbot, window)
    g = window.document.graph
    window.scene.select_nodes([g.find("conv2").id])
    box = window.inspector.editors["out_channels"].widget
    box.setValue(16)
    wait_shapes(qtbot, window)
    assert g.find("conv2").params["out_channels"] == 16
    assert window.scene.blocks[g.find("flatten").id].info.output == (64,)
    assert window.scene.blocks[g.find("fc1").id].info.params == 64 * 200 + 200
    assert "in: <b>32x8x8</b><br>out: <b>16x4x4</b>" in window.inspector.shapes.text()
    assert window.summary_label.text().startswith(f"{window.document.report.total_params:,} parameters")


def test_the_inspector_refuses_a_bad_value_and_says_why(window, qtbot):
    window.open_path(EXAMPLES / "mnist_convnet.json")
    g = window.document.graph
    conv = g.find("conv1")
    window.scene.select_nodes([conv.id])
    editor = window.inspector.editors["kernel_size"]
    editor.widget.setText("5x0")
    editor.widget.editingFinished.emit()
    assert conv.params["kernel_size"] == 5
    assert editor.error.isVisible() and editor.error.text() == "'kernel size' must be between 1 and 256, got 0"
    editor.widget.setText("3x5")
    editor.widget.editingFinished.emit()
    assert conv.params["kernel_size"] == [3, 5] and not editor.error.isVisible()
    window.inspector.name_edit.setText("conv2")
    window.inspector.name_edit.editingFinished.emit()
    assert conv.name == "conv1" and window.inspector.name_error.text() == "a block named 'conv2' already exists"


def test_a_failing_block_is_outlined_in_red_with_the_reason_in_its_tooltip(window, qtbot):
    window.open_path(EXAMPLES / "mnist_convnet.json")
    g = window.document.graph
    window.scene.select_nodes([g.find("conv2").id])
    window.inspector.editors["kernel_size"].widget.setText("9")
    window.inspector.editors["kernel_size"].widget.editingFinished.emit()
    wait_shapes(qtbot, window)
    block = window.scene.blocks[g.find("conv2").id]
    assert block.error == "the 9x9 kernel is larger than its 8x8 input; lower the kernel or the pooling above it"
    assert "the 9x9 kernel is larger than its 8x8 input" in block.toolTip()
    assert window.summary_label.text().startswith("1 problem: conv2 (Conv2d)")
    assert window.summary_label.property("problem") is True


def test_moving_blocks_with_the_mouse_is_one_undoable_step_snapped_to_the_grid(window, qtbot):
    g = window.document.graph
    a = g.add_node("ReLU", pos=(0, 0))
    window.view.reset_zoom()
    window.view.centerOn(0, 0)
    drag(window, QPointF(0, 0), QPointF(133, 77))
    moved = g.node(a.id).pos
    assert moved != (0.0, 0.0) and moved[0] % 10 == 0 and moved[1] % 10 == 0
    assert window.document.undo_stack.count() == 1
    window.document.undo_stack.undo()
    assert g.node(a.id).pos == (0.0, 0.0)
    assert window.scene.blocks[a.id].pos() == QPointF(0, 0)


def test_zoom_keeps_the_point_under_the_cursor_and_panning_moves_the_view(window, qtbot):
    from PySide6.QtGui import QWheelEvent

    view = window.view
    view.reset_zoom()
    cursor = QPoint(200, 150)
    before = view.mapToScene(cursor)
    wheel = QWheelEvent(QPointF(cursor), QPointF(view.viewport().mapToGlobal(cursor)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() > 1.3
    after = view.mapToScene(cursor)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    centre = view.centre_of_view()
    from PySide6.QtTest import QTest

    QTest.mousePress(view.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 300))
    QTest.mouseMove(view.viewport(), QPoint(200, 250))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 250))
    moved = view.centre_of_view() - centre
    assert moved.x() > 50 and moved.y() > 20  # the canvas followed the hand: we now look further right and down


def test_fit_to_view_shows_every_block_of_a_graph_that_fits_legibly(window, qtbot):
    window.open_path(EXAMPLES / "lenet5.json")
    window.view.fit_to_view()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.visible_bounds())
    window.open_path(EXAMPLES / "resnet18.json")
    window.set_all_collapsed(True)  # fits once its residual blocks are folded
    window.view.fit_to_view()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.visible_bounds()) and window.view.zoom() >= 0.3


def test_rubber_band_selects_and_delete_key_removes(window, qtbot):
    from PySide6.QtTest import QTest

    ids = build_chain(window, "Input", "Linear", "ReLU")
    g = window.document.graph
    window.view.fit_to_view()
    window.scene.clearSelection()
    rect = window.scene.itemsBoundingRect()
    drag(window, rect.topLeft() - QPointF(30, 30), rect.bottomRight() + QPointF(30, 30))
    assert window.scene.selected_node_ids() == ids
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert len(g) == 0
    window.document.undo_stack.undo()
    assert [n.id for n in g.nodes] == ids and len(g.edges) == 2


def test_selecting_a_wire_and_deleting_disconnects(window, qtbot):
    ids = build_chain(window, "Input", "Linear")
    wire = window.scene.wires[(ids[1], "in")]
    click(window, wire.path().pointAtPercent(0.3))
    assert window.scene.selected_edges() == [wire.edge]
    window.delete_selection()
    assert window.document.graph.edges == [] and len(window.document.graph) == 2


def test_several_blocks_selected_show_a_count_in_the_inspector(window, qtbot):
    ids = build_chain(window, "Input", "Linear")
    window.scene.select_nodes(ids)
    assert window.inspector.node is None
    assert "2 blocks selected" in window.inspector.widget().findChild(type(window.summary_label)).text()


def test_model_summary_lists_every_block_with_totals(window, qtbot):
    window.open_path(EXAMPLES / "lenet5.json")
    wait_shapes(qtbot, window)
    window.show_summary()
    dialog = window.summary_dialog
    assert dialog.table.rowCount() == len(window.document.graph)
    assert [dialog.table.item(1, c).text() for c in range(4)] == ["conv1", "Conv2d", "6x28x28", "156"]
    assert dialog.totals.text().startswith("Total: 61,706 parameters")


def test_giving_an_add_another_input_keeps_its_wires_attached(window, qtbot):
    g = window.document.graph
    x = g.add_node("Input", {"shape": [4]}, pos=(0, 0))
    add = g.add_node("Add", pos=(0, 200))
    g.connect(x.id, add.id)
    g.connect(x.id, add.id)
    window.scene.select_nodes([add.id])
    window.inspector.editors["inputs"].widget.setValue(3)
    block = window.scene.blocks[add.id]
    assert [name for _, name in block.ports] == ["in1", "in2", "in3", "out"]
    for port in ("in1", "in2"):
        wire = window.scene.wires[(add.id, port)]
        assert wire.target is block.port(False, port) and wire.target.scene() is window.scene
        assert wire.path().currentPosition() == block.port(False, port).scenePos()
    drag(window, port_pos(window, x.id, True, "out"), port_pos(window, add.id, False, "in3"))
    assert [e.dst_port for e in g.input_edges(add.id)] == ["in1", "in2", "in3"]
    window.document.undo_stack.undo()  # the wire
    window.document.undo_stack.undo()  # the third port
    assert [name for _, name in block.ports] == ["in1", "in2", "out"]


def test_while_locked_the_model_cannot_change_but_blocks_can_move(window, qtbot):
    window.open_path(EXAMPLES / "mnist_convnet.json")
    g = window.document.graph
    g.move(g.find("fc2").id, (500, 0))  # out of place: auto layout will move it
    before = g.to_dict()
    window.document.lock("the graph is being trained; stop the run to edit it")
    window.scene.select_nodes([g.find("fc1").id])
    window.inspector.editors["out_features"].widget.setValue(50)
    window.delete_selection()
    assert g.to_dict() == before
    assert window.statusBar().currentMessage() == "the graph is being trained; stop the run to edit it"
    assert window.inspector.editors["out_features"].widget.value() == 200
    window.auto_layout()
    assert [n.pos for n in g.nodes] != [tuple(n["pos"]) for n in before["nodes"]]


def test_holding_space_turns_a_left_drag_into_a_pan(window, qtbot):
    from PySide6.QtTest import QTest

    g = window.document.graph
    block = g.add_node("ReLU", pos=(0, 0))
    view = window.view
    view.reset_zoom()
    view.centerOn(0, 0)
    centre = view.centre_of_view()
    view.setFocus()
    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(window, QPointF(0, 0), QPointF(-120, -60))  # starts on the block: with space held it pans instead
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = view.centre_of_view() - centre
    assert moved.x() > 100 and moved.y() > 40
    assert g.node(block.id).pos == (0.0, 0.0) and window.document.undo_stack.count() == 0
