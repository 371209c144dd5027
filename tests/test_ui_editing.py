"""Editing in the window: every kind of edit undoes to the exact previous document; clipboard; files."""
import json
import subprocess
import sys

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES
from tests.ui_helpers import drag, port_pos


def open_mnist(window):
    assert window.open_path(EXAMPLES / "mnist_convnet.json")
    return window.document.graph


def edit_add(window):
    window.add_layer("Dropout", QPointF(400, 300))


def edit_delete(window):
    window.scene.select_nodes([window.document.graph.find("relu2").id])
    window.delete_selection()


def edit_move(window):
    g = window.document.graph
    window.view.reset_zoom()
    window.view.centerOn(*g.find("conv1").pos)
    drag(window, QPointF(*g.find("conv1").pos), QPointF(*g.find("conv1").pos) + QPointF(150, 20))


def edit_connect(window):
    g = window.document.graph
    add = g.find("add9")
    drag(window, port_pos(window, g.find("fc1").id, True, "out"), port_pos(window, add.id, False, "in2"))


def edit_disconnect(window):
    g = window.document.graph
    window.scene.clearSelection()
    window.scene.wires[(g.find("relu3").id, "in")].setSelected(True)
    window.delete_selection()


def edit_param(window):
    g = window.document.graph
    window.scene.select_nodes([g.find("fc1").id])
    box = window.inspector.editors["out_features"].widget
    box.setValue(120)
    box.setValue(128)  # typing: two changes, one undo step


def edit_rename(window):
    window.scene.select_nodes([window.document.graph.find("fc2").id])
    window.inspector.name_edit.setText("classifier")
    window.inspector.name_edit.editingFinished.emit()


def edit_paste(window):
    g = window.document.graph
    window.scene.select_nodes([g.find("fc1").id, g.find("relu3").id])
    assert window.copy()
    window.paste()


def edit_auto_layout(window):
    window.auto_layout()


EDITS = {"add": edit_add, "delete": edit_delete, "move": edit_move, "connect": edit_connect,
         "disconnect": edit_disconnect, "param": edit_param, "rename": edit_rename, "paste": edit_paste,
         "auto layout": edit_auto_layout}


@pytest.mark.parametrize("kind", EDITS)
def test_undo_restores_the_exact_document_and_redo_reapplies(window, qtbot, kind):
    g = open_mnist(window)
    g.move(g.find("fc2").id, (600, 0))  # make auto layout move something
    if kind == "connect":
        g.connect(g.find("relu3").id, g.add_node("Add", name="add9", pos=(400, 900)).id)
    window.document.undo_stack.clear()
    before = g.to_dict()
    EDITS[kind](window)
    after = g.to_dict()
    assert after != before, "the edit changed the document"
    assert window.document.undo_stack.count() == 1, "the edit is one undo step"
    window.document.undo_stack.undo()
    assert g.to_dict() == before
    window.document.undo_stack.redo()
    assert g.to_dict() == after
    window.document.undo_stack.undo()
    # the canvas follows: one block per node, at the node's position, one wire per edge
    assert set(window.scene.blocks) == {n.id for n in g.nodes}
    assert all(window.scene.blocks[n.id].pos() == QPointF(*n.pos) for n in g.nodes)
    assert set(window.scene.wires) == {(e.dst, e.dst_port) for e in g.edges}


def test_copy_paste_keeps_the_wires_inside_the_selection(window, qtbot):
    g = open_mnist(window)
    picked = [g.find(name).id for name in ("conv2", "pool2", "relu2")]
    window.scene.select_nodes(picked)
    window.copy()
    window.paste()
    pasted = window.scene.selected_node_ids()
    assert len(pasted) == 3 and not set(pasted) & set(picked)
    names = [g.node(i).name for i in pasted]
    assert names == ["conv3", "pool3", "relu4"]
    inner = [(g.node(e.src).name, g.node(e.dst).name) for e in g.edges if e.dst in pasted]
    assert inner == [("conv3", "pool3"), ("pool3", "relu4")]  # the wire from relu1 into conv2 stays behind
    # beside the originals, not on them: no pasted block covers an original one, and each paste goes further
    originals = [window.scene.blocks[i].sceneBoundingRect() for i in picked]
    assert not any(window.scene.blocks[i].sceneBoundingRect().intersects(r) for i in pasted for r in originals)
    assert g.node(pasted[0]).pos[1] == g.find("conv2").pos[1] and g.node(pasted[0]).pos[0] > g.find("conv2").pos[0]
    window.paste()
    again = window.scene.selected_node_ids()
    assert len(g) == 12 + 6 and g.node(again[0]).pos[0] > g.node(pasted[0]).pos[0] + 150
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.intersects(window.scene.blocks[again[0]].sceneBoundingRect()), "the view shows what was pasted"


def test_cut_removes_and_paste_brings_back(window, qtbot):
    g = open_mnist(window)
    window.scene.select_nodes([g.find("fc2").id])
    window.cut()
    assert len(g) == 11
    window.paste()
    assert g.find("fc2").type == "Linear" and len(g) == 12


def test_duplicate_and_select_all(window, qtbot):
    g = open_mnist(window)
    window.scene.select_nodes([g.find("conv1").id])
    window.duplicate()
    assert len(g) == 13 and window.scene.selected_node_ids() == [g.find("conv3").id]
    window.scene_select_all()
    assert len(window.scene.selected_node_ids()) == 13 and len(window.scene.selected_edges()) == len(g.edges)


def test_pasting_foreign_clipboard_content_is_refused_cleanly(window, qtbot):
    from PySide6.QtCore import QMimeData
    from PySide6.QtGui import QGuiApplication

    from netbuilder.ui.main_window import FRAGMENT_MIME

    g = open_mnist(window)
    before = g.to_dict()
    data = QMimeData()
    data.setData(FRAGMENT_MIME, b'{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": 1}], "edges": []}')
    QGuiApplication.clipboard().setMimeData(data)
    window.paste()
    assert g.to_dict() == before
    assert window.statusBar().currentMessage().startswith("Cannot paste: nodes[0]: missing 'name'")


def test_open_an_example_edit_save_and_reopen_equals(window, qtbot, tmp_path):
    (lenet,) = [a for a in window.examples_menu.actions() if "lenet5.json" in a.text()]
    lenet.trigger()
    assert window.windowTitle() == "LeNet-5 (example)[*] — netbuilder"
    g = window.document.graph
    window.scene.select_nodes([g.find("fc1").id])
    window.inspector.editors["out_features"].widget.setValue(100)
    assert window.isWindowModified()
    assert window.save_to(tmp_path / "mine.json")
    assert not window.isWindowModified() and window.windowTitle() == "mine.json[*] — netbuilder"
    saved = g.to_dict()
    window.new_document()
    assert len(window.document.graph) == 0
    assert window.open_path(tmp_path / "mine.json")
    assert window.document.graph.to_dict() == saved
    assert window.recent_files()[0] == str((tmp_path / "mine.json").resolve())
    assert json.loads((EXAMPLES / "lenet5.json").read_text())["nodes"][8]["params"]["out_features"] == 120


def test_a_corrupt_file_shows_an_error_and_the_document_stays(window, qtbot, tmp_path, answer):
    g = open_mnist(window)
    g_before = g.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "a", "type": "Conv9d", '
                   '"name": "c"}], "edges": []}')
    seen = answer(QMessageBox.StandardButton.Ok)
    assert not window.open_path(bad)
    assert seen[0] == "Could not open bad.json:\n\nnodes[0] (id 'a'): unknown layer type 'Conv9d'"
    assert window.document.graph is g and g.to_dict() == g_before
    assert window.document.path == EXAMPLES / "mnist_convnet.json"


def test_closing_with_unsaved_changes_asks_first(window, qtbot, answer):
    open_mnist(window)
    window.add_layer("ReLU", QPointF(0, 0))
    seen = answer(QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert seen[0] == "Save the changes to mnist_convnet.json?" and window.isVisible()
    seen = answer(QMessageBox.StandardButton.Cancel)
    window.new_document()
    assert len(window.document.graph) == 13, "cancelled: the document stays"


def test_autosave_writes_a_recovery_file_and_a_clean_save_removes_it(window, qtbot, tmp_path):
    g = open_mnist(window)
    window.autosave()
    assert not window.recovery.file.exists(), "nothing unsaved, nothing to recover"
    window.add_layer("ReLU", QPointF(0, 0))
    window.autosave()
    data = json.loads(window.recovery.file.read_text())
    assert Graph.from_dict(data["graph"]).to_dict() == g.to_dict()
    assert data["path"] == str(EXAMPLES / "mnist_convnet.json")
    window.save_to(tmp_path / "saved.json")
    assert not window.recovery.file.exists()


def test_work_left_by_a_crash_is_offered_back(window, qtbot, tmp_path, answer):
    """A process autosaves and dies without cleaning up; the next window offers its work back."""
    crashed = f"""
import os
from pathlib import Path
from netbuilder.core.model.graph import Graph
from netbuilder.ui.recovery import RecoveryFile
graph = Graph.load({str(EXAMPLES / 'lenet5.json')!r})
graph.set_param(graph.find('fc1').id, 'out_features', 99)
RecoveryFile(Path({str(window.recovery.directory)!r})).write(graph, Path({str(tmp_path / 'lenet.json')!r}))
os._exit(1)
"""
    assert subprocess.run([sys.executable, "-c", crashed]).returncode == 1
    seen = answer(QMessageBox.StandardButton.Yes)
    assert window.offer_recovery()
    assert "did not close cleanly" in seen[0]
    g = window.document.graph
    assert g.find("fc1").params["out_features"] == 99
    assert window.document.path == tmp_path / "lenet.json" and window.isWindowModified()
    assert window.windowTitle() == "lenet.json (recovered)[*] — netbuilder"
    assert window.offer_recovery() is False, "offered once"
