"""The code view, both ways: the network's code follows the graph, the selected block's lines are marked and a
click on a line selects its block; an edited line applied changes exactly that block in one undo step, and code
that cannot be imported is refused with its line, the graph untouched. Also File > Import of code and .pt2."""
from pathlib import Path

import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from tests.conftest import EXAMPLES


def shown(window, qtbot, name: str):
    assert window.open_path(EXAMPLES / name)
    window.code_dock.show()
    view = window.code_view
    qtbot.waitUntil(lambda: view.source is not None and "class Net" in view.editor.toPlainText(), timeout=60_000)
    return view


def line_of(view, text: str) -> int:
    return next(i for i, line in enumerate(view.editor.toPlainText().splitlines(), start=1) if text in line)


def replace_line(view, number: int, new: str) -> None:
    """Select a line in the editor and type its replacement, as a person does."""
    block = view.editor.document().findBlockByNumber(number - 1)
    cursor = QTextCursor(block)
    cursor.select(QTextCursor.SelectionType.LineUnderCursor)
    view.editor.setTextCursor(cursor)
    view.editor.insertPlainText(new)


def everything_but(graph, name: str) -> dict:
    return {n.name: (n.type, n.params, n.pos, n.settings()) for n in graph.nodes if n.name != name}


def test_the_code_follows_the_graph_and_selection_goes_both_ways(window, qtbot):
    view = shown(window, qtbot, "mnist_convnet.json")
    graph = window.document.graph
    assert "self.fc1 = nn.Linear(256, 200)" in view.editor.toPlainText()
    window.scene.select_nodes([graph.find("fc1").id])
    marked = view.editor.marked_lines()
    assert marked == view.source.lines["fc1"] and len(marked) == 2  # where it is made, where it runs
    assert all("fc1" in view.editor.toPlainText().splitlines()[line - 1] for line in marked)
    from netbuilder.ui.commands import SetParam

    window.document.push(SetParam(graph, graph.find("fc1").id, "out_features", 150))
    qtbot.waitUntil(lambda: "self.fc1 = nn.Linear(256, 150)" in view.editor.toPlainText(), timeout=30_000)
    number = line_of(view, "self.conv2 = ")
    block = view.editor.document().findBlockByNumber(number - 1)
    rect = view.editor.blockBoundingGeometry(block).translated(view.editor.contentOffset())
    QTest.mouseClick(view.editor.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center().toPoint())
    assert window.scene.selected_node_ids() == [graph.find("conv2").id]


def test_an_edited_line_applied_changes_that_block_in_one_undo_step(window, qtbot):
    view = shown(window, qtbot, "mnist_convnet.json")
    graph = window.document.graph
    before, stack = graph.to_dict(), window.document.undo_stack
    steps = stack.count()
    kept = everything_but(graph, "fc2")
    number = line_of(view, "self.fc2 = nn.Linear(200, 10)")
    replace_line(view, number, "        self.fc2 = nn.Linear(200, 12, bias=False)")
    assert view.edited and view.apply_button.isEnabled()
    assert view.apply()
    qtbot.waitUntil(lambda: not view.edited, timeout=120_000)
    assert graph.find("fc2").params == {"out_features": 12, "bias": False}
    assert everything_but(graph, "fc2") == kept  # the other blocks, their positions and settings as they were
    assert stack.count() == steps + 1 and stack.undoText() == "Edit the code"
    stack.undo()
    assert graph.to_dict() == before


def test_a_block_of_another_type_takes_the_place_of_the_old_one(window, qtbot):
    view = shown(window, qtbot, "mnist_convnet.json")
    graph = window.document.graph
    place = graph.find("relu2").pos
    replace_line(view, line_of(view, "self.relu2 = nn.ReLU()"), "        self.relu2 = nn.Tanh()")
    view.apply()
    qtbot.waitUntil(lambda: not view.edited, timeout=120_000)
    node = graph.find("relu2")
    assert node.type == "Tanh" and node.pos == place
    assert [graph.node(e.src).name for e in graph.input_edges(node.id)] == ["pool2"]
    assert [graph.node(e.dst).name for e in graph.output_edges(node.id)] == ["flatten"]


def test_code_that_cannot_be_imported_is_refused_with_its_line(window, qtbot):
    view = shown(window, qtbot, "mnist_convnet.json")
    graph = window.document.graph
    before, steps = graph.to_dict(), window.document.undo_stack.count()
    number = line_of(view, "self.fc1 = nn.Linear(256, 200)")
    replace_line(view, number, "        self.fc1 = nn.Linear(256, 300)")  # fc2 still takes 200 features
    view.apply()
    qtbot.waitUntil(lambda: "Not applied" in view.status.text(), timeout=120_000)
    forward = line_of(view, "fc2 = self.fc2(")
    assert f"line {forward}:" in view.status.text() and "RuntimeError" in view.status.text()
    assert view.editor.marked_lines() == [forward] and view.edited
    assert graph.to_dict() == before and window.document.undo_stack.count() == steps
    replace_line(view, number, "        self.fc1 = nn.Linear(256, 200")  # a syntax error
    view.apply()
    qtbot.waitUntil(lambda: f"line {number}" in view.status.text(), timeout=60_000)
    assert graph.to_dict() == before
    view.revert()
    qtbot.waitUntil(lambda: not view.edited and "nn.Linear(256, 200)\n" in view.editor.toPlainText(),
                    timeout=30_000)


def test_file_import_takes_code_and_pt2_files(window, qtbot, tmp_path, answer):
    code = Path(__file__).parent / "torch_models.py"
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.import_to(Path(f"{code}:LSTMTagger"), tmp_path / "tagger.json", inputs=["int64:1x9"])
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=120_000)
    assert seen[0].startswith("Imported torch_models.py:LSTMTagger: 5 blocks") and "the model's own outputs" in seen[0]
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "tagger.json", timeout=10_000)
    from tests.torch_models import Siamese

    program = torch.export.export(Siamese().eval(), (torch.randn(2, 1, 12, 12), torch.randn(2, 1, 12, 12)))
    torch.export.save(program, tmp_path / "siamese.pt2")
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.import_to(tmp_path / "siamese.pt2", tmp_path / "siamese.json")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=120_000)
    assert seen[0].startswith("Imported siamese.pt2: 16 blocks")
