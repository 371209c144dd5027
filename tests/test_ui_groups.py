"""Groups in the editor: grouping is one undoable step, a collapsed group is one box with its inputs, outputs,
shapes and parameters, collapsing folds the canvas, and a collapsed ResNet-50 fits one screen."""
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from netbuilder.core.model.graph import Graph
from netbuilder.core.model.layout import apply_layout
from tests.conftest import EXAMPLES
from tests.test_ui_canvas import wait_shapes


def open_example(window, name):
    assert window.open_path(EXAMPLES / f"{name}.json")
    return window.document.graph


def test_grouping_the_selection_is_one_undoable_step(window, qtbot):
    g = open_example(window, "mnist_convnet")
    picked = [g.find(name).id for name in ("conv1", "pool1", "relu1")]
    window.scene.select_nodes(picked)
    before = g.to_dict()
    window.actions_by_name["group"].trigger()
    (group,) = g.groups
    assert group.nodes == picked and group.id in window.scene.groups
    assert window.scene.selected_groups() == [group.id], "the new group is selected"
    assert window.inspector.group is group and window.inspector.group_name.text() == group.name
    window.inspector.group_name.setText("features")
    window.inspector.group_name.editingFinished.emit()
    assert group.name == "features"
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert g.to_dict() == before and window.scene.groups == {}


def test_a_collapsed_group_is_one_box_with_its_shapes_and_the_rows_below_close_up(window, qtbot):
    g = open_example(window, "resnet18")
    wait_shapes(qtbot, window)
    layer = next(group for group in g.groups if group.name == "layer2.0")
    fc_y = g.find("fc").pos[1]
    item = window.scene.groups[layer.id]
    window.view.reset_zoom()
    title = item.header_rect().topLeft() + QPointF(40, 12)  # on its name
    window.view.centerOn(title)
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      window.view.mapFromScene(title))
    assert layer.collapsed and window.document.undo_stack.count() == 1
    assert not any(window.scene.blocks[i].isVisible() for i in layer.nodes)
    assert item.shapes_in == ["64x56x56"] and item.shapes_out == ["128x28x28"]
    report = window.document.report
    assert item.params == sum(report.nodes[i].params for i in layer.nodes) == 230_144
    ys = [g.node(i).pos[1] for i in layer.nodes]
    assert g.find("fc").pos[1] == fc_y - (max(ys) - min(ys))
    into = window.scene.wires[(g.find("layer2_0_conv1").id, "in")]
    start, end = window.scene.wire_ends(into)
    assert end == item.input_anchor((g.find("layer1_1_relu2").id, "out")), "the wire ends on the box"
    inside = window.scene.wires[(g.find("layer2_0_bn1").id, "in")]
    assert not inside.isVisible() and not inside.label.isVisible()
    window.document.undo_stack.undo()
    assert not layer.collapsed and g.find("fc").pos[1] == fc_y
    assert all(window.scene.blocks[i].isVisible() for i in layer.nodes)


def test_deleting_a_grouped_block_and_undoing_puts_it_back_in_its_group(window, qtbot):
    g = open_example(window, "resnet18")
    layer = next(group for group in g.groups if group.name == "layer1.0")
    before = g.to_dict()
    window.scene.select_nodes([g.find("layer1_0_relu1").id])
    window.delete_selection()
    assert g.find("layer1_0_conv1").id in g.group(layer.id).nodes and len(g.group(layer.id).nodes) == 6
    window.document.undo_stack.undo()
    assert g.to_dict() == before


def test_groups_are_saved_with_the_document(window, qtbot, tmp_path):
    open_example(window, "googlenet")
    window.set_all_collapsed(True)
    assert window.save_to(tmp_path / "folded.json")
    window.new_document()
    assert window.open_path(tmp_path / "folded.json")
    assert all(group.collapsed for group in window.document.graph.groups)
    assert len(window.scene.groups) == 12 and all(item.collapsed for item in window.scene.groups.values())


def resnet50() -> Graph:
    """ResNet-50's shape (torchvision's bottleneck blocks), each block a group; built with the Graph API."""
    g = Graph({"title": "ResNet-50"})

    def add(type_name, src, **params):
        node = g.add_node(type_name, params)
        for s in ([src] if isinstance(src, str) else src):
            g.connect(s, node.id)
        return node.id

    x = g.add_node("Input", {"shape": [3, 224, 224]}).id
    y = add("MaxPool2d", add("ReLU", add("BatchNorm2d", add("Conv2d", x, out_channels=64, kernel_size=7, stride=2,
                                                            padding=3, bias=False))),
            kernel_size=3, stride=2, padding=1)
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for block in range(blocks):
            start = len(g)
            stride = 2 if stage > 1 and block == 0 else 1
            main = add("BatchNorm2d", add("Conv2d", y, out_channels=width, kernel_size=1, bias=False))
            main = add("BatchNorm2d", add("Conv2d", add("ReLU", main), out_channels=width, kernel_size=3,
                                          stride=stride, padding=1, bias=False))
            main = add("BatchNorm2d", add("Conv2d", add("ReLU", main), out_channels=4 * width, kernel_size=1,
                                          bias=False))
            shortcut = y
            if block == 0:
                shortcut = add("BatchNorm2d", add("Conv2d", y, out_channels=4 * width, kernel_size=1, stride=stride,
                                                  bias=False))
            y = add("ReLU", add("Add", [main, shortcut]))
            g.add_group([n.id for n in g.nodes[start:]], f"layer{stage}.{block}")
    add("Output", add("Linear", add("GlobalAvgPool2d", y), out_features=1000))
    apply_layout(g)
    return g


def test_a_collapsed_resnet50_fits_one_screen(window, qtbot, tmp_path):
    resnet50().save(tmp_path / "resnet50.json")
    assert window.open_path(tmp_path / "resnet50.json")
    wait_shapes(qtbot, window)
    assert window.document.report.total_params == 25_557_032  # torchvision's ResNet-50
    window.resize(1920, 1080)
    window._size_docks()
    qtbot.wait(50)
    window.set_all_collapsed(True)
    view = window.view
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.visible_bounds()) and view.zoom() >= 0.12
    if view.zoom() < 0.25:  # the boxes' names are written beside them, legibly
        assert {f"layer{s}.0" for s in range(1, 5)} <= {name for name, _ in view.far_labels()}
    window.document.undo_stack.undo()
    assert not any(group.collapsed for group in window.document.graph.groups)


def test_moving_a_collapsed_group_moves_its_blocks_in_one_step(window, qtbot):
    g = open_example(window, "autoencoder")
    encoder = next(group for group in g.groups if group.name == "encoder")
    window.toggle_group(encoder.id)
    window.view.reset_zoom()
    item = window.scene.groups[encoder.id]
    window.view.centerOn(item.sceneBoundingRect().center())
    before = {i: g.node(i).pos for i in encoder.nodes}
    from tests.ui_helpers import drag

    drag(window, item.sceneBoundingRect().center(), item.sceneBoundingRect().center() + QPointF(200, 0))
    assert all(g.node(i).pos == (before[i][0] + 200, before[i][1]) for i in encoder.nodes)
    assert window.document.undo_stack.count() == 2
    window.document.undo_stack.undo()
    assert all(g.node(i).pos == before[i] for i in encoder.nodes)
