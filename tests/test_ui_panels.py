"""The Analysis panel, the start page, help and context menus, and a window that opens before torch loads."""
import subprocess
import sys

from PySide6.QtCore import QPointF

from netbuilder.core.checks.analysis import remove_and_bridge
from netbuilder.ui.commands import RecordedEdit
from tests.conftest import EXAMPLES, ROOT
from tests.test_ui_canvas import wait_shapes


def open_example(window, name):
    assert window.open_path(EXAMPLES / f"{name}.json")
    return window.document.graph


# ----- analysis

def test_a_forgotten_flatten_is_flagged_on_its_block_and_fixed_in_one_undoable_click(window, qtbot):
    g = open_example(window, "mnist_convnet")
    flatten = g.find("flatten").id
    window.document.push(RecordedEdit(g, "Remove flatten", lambda graph: remove_and_bridge(graph, flatten)))
    wait_shapes(qtbot, window)
    panel = window.analysis
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 1)
    item = panel.tree.topLevelItem(0)
    assert "fc1" in item.text(0) and item.text(1).startswith("receives a 64x2x2 tensor and transforms only its last")
    assert window.analysis_dock.windowTitle() == "Analysis (1)"
    block = window.scene.blocks[g.find("fc1").id]
    assert [f.code for f in block.advice] == ["flatten"] and "Insert Flatten before fc1" in block.toolTip()
    panel.tree.itemClicked.emit(item, 1)
    assert window.scene.selected_node_ids() == [g.find("fc1").id]
    before = g.to_dict()
    panel.fix_button(0).click()
    wait_shapes(qtbot, window)
    assert window.document.report.nodes[g.find("fc1").id].output == (200,)
    assert panel.tree.topLevelItemCount() == 0 and panel.summary.text().startswith("✓ No problems")
    window.document.undo_stack.undo()
    assert g.to_dict() == before


def test_the_analysis_checks_against_the_dataset_once_it_is_previewed(window, qtbot):
    open_example(window, "alexnet")
    panel = window.training
    panel.show_preview()
    qtbot.waitUntil(lambda: window.document.data_source is not None, timeout=30_000)
    codes = [f.code for f in window.document.findings]
    assert codes[:2] == ["input-shape", "output-size"]
    assert "checked against mnist-5k too" in window.analysis.summary.text()


# ----- the start page

def test_the_start_page_shows_every_example_and_opens_one(window, qtbot):
    window.show_start_page()
    page = window.start_page
    assert window.stack.currentWidget() is page and not window.palette_dock.isVisible()
    names = sorted(card.path.name for card in page.cards)
    assert names == sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert all(not card.picture.pixmap().isNull() for card in page.cards)
    qtbot.waitUntil(lambda: all(card.params.text().endswith(" parameters") and card.params.text()[0].isdigit()
                                for card in page.cards), timeout=60_000)
    lenet = next(card for card in page.cards if card.path.stem == "lenet5")
    assert lenet.params.text() == "61,706 parameters"
    lenet.chosen.emit(lenet.path)
    assert window.stack.currentWidget() is not page and window.palette_dock.isVisible()
    assert window.windowTitle() == "LeNet-5 (example)[*] — netbuilder"


def test_the_start_page_lists_recent_files_and_a_blank_network(window, qtbot, tmp_path):
    open_example(window, "lenet5")
    window.save_to(tmp_path / "mine.json")
    window.show_start_page()
    recent = window.start_page.recent
    assert recent.item(0).text().startswith("mine.json")
    window.start_page.new_requested.emit()
    assert len(window.document.graph) == 0 and window.view.isVisible()


def test_the_window_module_does_not_import_torch():
    code = "import sys, netbuilder.ui.main_window, netbuilder.ui.app; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


# ----- help

def test_f1_on_a_block_opens_its_layers_reference(window, qtbot):
    g = open_example(window, "mnist_convnet")
    window.scene.select_nodes([g.find("conv1").id])
    window.actions_by_name["help_layer"].trigger()
    help_view = window.layer_help
    assert help_view.isVisible() and help_view.current == "Conv2d"
    text = help_view.page.toPlainText()
    assert "H_out = floor((H + 2·padding" in text and "kernel_size" in text and "3x16x16 → 16x14x14" in text
    help_view.search.setText("residual")
    shown = [help_view.list.item(i).text() for i in range(help_view.list.count())
             if not help_view.list.item(i).isHidden()]
    from netbuilder.core.checks.reference import all_references

    expected = [r.type for r in all_references() if "residual" in f"{r.type} {r.summary} {r.doc}".lower()]
    assert "Add" in shown and shown == expected and len(shown) < len(all_references())


def test_the_help_menu_and_the_shortcut_list(window, qtbot):
    from netbuilder.ui.help_view import ShortcutList

    menus = {m.title().replace("&", ""): m for m in window.menuBar().findChildren(type(window.recent_menu))}
    labels = [a.text().replace("&", "") for a in menus["Help"].actions() if a.text()]
    assert labels[:3] == ["Layer Reference", "Keyboard Shortcuts", "Start Page"] and "About netbuilder" in labels
    shortcuts = ShortcutList(window.actions_by_name.values(), window)
    rows = {shortcuts.table.item(r, 0).text(): shortcuts.table.item(r, 1).text()
            for r in range(shortcuts.table.rowCount())}
    assert rows["Undo"] == "Ctrl+Z" and rows["Group Blocks"] == "Ctrl+G" and rows["Layer Reference"] == "F1"
    assert "Wire two blocks" in rows


# ----- context menus

def menu_texts(menu):
    return [a.text().replace("&", "") for a in menu.actions() if a.text()]


def test_context_menus_on_a_block_a_wire_and_the_canvas(window, qtbot):
    from netbuilder.ui.context_menus import build_menu

    g = open_example(window, "mnist_convnet")
    conv = window.scene.blocks[g.find("conv1").id]
    block_menu = build_menu(window, conv, conv.pos())
    assert menu_texts(block_menu)[0] == "Help on Conv2d" and {"Cut", "Copy", "Delete", "Group Blocks"} <= set(
        menu_texts(block_menu))
    wire = window.scene.wires[(g.find("fc1").id, "in")]
    wire_menu = build_menu(window, wire.label, wire.label.pos())
    insert = next(a.menu() for a in wire_menu.actions() if a.text() == "Insert Layer Here")
    before = g.to_dict()
    next(a for a in insert.actions() if a.text() == "Dropout").trigger()
    dropout = g.find("drop1")
    assert [g.node(e.src).name for e in g.input_edges(g.find("fc1").id)] == ["drop1"]
    assert g.input_edges(dropout.id)[0].src == g.find("flatten").id
    window.document.undo_stack.undo()
    assert g.to_dict() == before
    canvas_menu = build_menu(window, None, QPointF(900, 100))
    add = next(a.menu() for a in canvas_menu.actions() if a.text() == "Add Layer Here")
    dense = next(a.menu() for a in add.actions() if a.text() == "Dense")
    next(a for a in dense.actions() if a.text() == "Linear").trigger()
    assert g.find("fc3").pos == (900.0, 100.0)
