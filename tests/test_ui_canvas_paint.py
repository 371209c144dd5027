"""What the canvas paints (issue 21): group headers whose title and counts never overlap each other, a wire or a
wire's label; short block names inside a group; Fit to View showing all of a long expanded network; no stale names
after folding a group seen from far; no group covering the rows below it; the shortcut list beside the canvas."""
import pytest
from PySide6.QtCore import QEvent, QObject, QRectF
from PySide6.QtGui import QFontMetricsF, QRegion

from netbuilder.ui.canvas.block import WIDTH
from tests.conftest import EXAMPLES


def open_expanded(window, qtbot, name):
    assert window.open_path(EXAMPLES / f"{name}.json")
    window.resize(1366, 768)
    window.set_all_collapsed(False)
    qtbot.waitUntil(lambda: window.document.report is not None)
    window.scene.flush()
    return window.document.graph


@pytest.mark.parametrize("name, groups", [("gan_ring", ["discriminator", "generator"]),
                                          ("gan_mnist", ["discriminator", "generator"]),
                                          ("resnet18", ["layer1.1", "layer3.0"]),
                                          ("googlenet", ["conv1", "conv3", "inception3a", "inception4a"])])
def test_a_group_header_writes_its_whole_title_clear_of_its_counts_and_of_every_wire(window, qtbot, name, groups):
    g = open_expanded(window, qtbot, name)
    scene = window.scene
    wires = [w for w in scene.wires.values() if w.isVisible()]
    for group in g.groups:
        texts = scene.groups[group.id].header_texts()
        title, rect, font, _colour, _align = texts[0]
        assert title == group.name
        if group.name in groups:
            assert QFontMetricsF(font).horizontalAdvance(title) <= rect.width(), f"{title} is cut"
        rects = [r for _, r, *_ in texts]
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), f"{group.name}"
        for rect in rects:
            for wire in wires:
                assert not wire.path().intersects(rect), f"a wire crosses {group.name}'s header"
                if wire.label.isVisible():
                    assert not wire.label.sceneBoundingRect().intersects(rect), f"a label on {group.name}'s header"


def test_blocks_in_a_group_are_named_without_the_groups_name(window, qtbot):
    from PySide6.QtGui import QFont

    g = open_expanded(window, qtbot, "googlenet")
    inception = next(group for group in g.groups if group.name == "inception4a")
    bold = QFont()
    bold.setPointSizeF(9.5)
    bold.setBold(True)
    for node_id in inception.nodes:
        block = window.scene.blocks[node_id]
        assert not block.shown_name.startswith("inception4a_") and block.node.name.endswith(block.shown_name)
        assert block.node.name in block.toolTip(), "the whole name on hover"
        assert QFontMetricsF(bold).horizontalAdvance(block.shown_name) < WIDTH - 22, "not cut"
    resnet = open_expanded(window, qtbot, "resnet18")
    conv = resnet.find("layer1_1_conv1")
    assert window.scene.blocks[conv.id].shown_name == "conv1"
    outside = resnet.find("fc")
    assert window.scene.blocks[outside.id].shown_name == "fc"


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_fit_to_view_shows_all_of_an_expanded_network(window, qtbot, name):
    open_expanded(window, qtbot, name)
    window.view.fit_to_view()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.visible_bounds()), "no row cut off at the bottom"
    labels = dict(window.view.far_labels())
    assert "x" in labels and ("layer4.1" in labels or "inception5b" in labels), "the names, written beside the boxes"


class PaintRegions(QObject):
    """The regions of a widget painted (its paint events), from now on."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.region = QRegion()
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.region = self.region.united(event.region())
        return False


def test_folding_a_group_seen_from_far_paints_every_name_where_it_now_is(window, qtbot):
    g = open_expanded(window, qtbot, "googlenet")
    window.set_all_collapsed(True)
    view = window.view
    view.fit_to_view()
    qtbot.wait(50)
    before = [rect for _name, rect in view.far_labels()]
    painted = PaintRegions(view.viewport())
    inception = next(group for group in g.groups if group.name == "inception3b")
    window.toggle_group(inception.id)  # expands: the rows below move down, their names with them
    qtbot.wait(100)
    after = [rect for _name, rect in view.far_labels()]
    for rect in before + after:
        assert painted.region.contains(rect.toAlignedRect().intersected(view.viewport().rect())), \
            "a name left where its box was, or cut"


def test_right_after_expanding_a_group_it_covers_no_other_block(window, qtbot):
    g = open_expanded(window, qtbot, "googlenet")
    window.set_all_collapsed(True)
    inception = next(group for group in g.groups if group.name == "inception4a")
    window.toggle_group(inception.id)
    frame = window.scene.groups[inception.id].sceneBoundingRect()
    others = [block for node_id, block in window.scene.blocks.items()
              if block.isVisible() and node_id not in inception.nodes]
    assert not any(frame.intersects(block.sceneBoundingRect()) for block in others)
    assert not any(frame.intersects(item.sceneBoundingRect()) for item in window.scene.groups.values()
                   if item.group_id != inception.id and item.isVisible())


def test_the_shortcut_list_stays_beside_the_canvas(window, qtbot):
    open_expanded(window, qtbot, "mnist_convnet")
    window.view.show_graph()
    window.show_shortcuts()
    dialog = window.shortcut_list
    qtbot.waitExposed(dialog)
    assert dialog.isVisible() and not dialog.isModal()
    blocks = QRectF()
    for block in window.scene.blocks.values():
        blocks = blocks.united(block.sceneBoundingRect())
    on_screen = window.view.mapFromScene(blocks).boundingRect()
    top_left = window.view.viewport().mapToGlobal(on_screen.topLeft())
    canvas_blocks = on_screen.translated(top_left - on_screen.topLeft())
    assert not dialog.frameGeometry().intersects(canvas_blocks), "the network stays in view"
    assert window.isEnabled(), "the window can still be used"
