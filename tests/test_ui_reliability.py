"""The editor's share of issue 24's fault classes, through the real window (offscreen)."""
from netbuilder.core.model.graph import Graph


def slice_graph(path):
    graph = Graph()
    x = graph.add_node("Input", {"shape": [8, 3]}, name="x")
    cut = graph.add_node("Slice", {}, name="cut")  # end None: the end
    y = graph.add_node("Output", name="y")
    graph.connect(x.id, cut.id)
    graph.connect(cut.id, y.id)
    graph.save(path)
    return path


def test_a_slice_whose_end_is_none_shows_in_the_inspector_and_its_end_can_be_set_and_emptied(window, qtbot, tmp_path):
    window.open_path(slice_graph(tmp_path / "slice.json"))
    graph = window.document.graph
    cut = graph.find("cut")
    assert cut.params["end"] is None
    window.scene.select_nodes([cut.id])
    inspector = window.inspector
    assert inspector.node is cut and set(inspector.editors) == {"dim", "start", "end", "step"}  # built whole
    assert inspector.name_edit.text() == "cut"
    end = inspector.editors["end"]
    assert end.widget.text() == "" and end.widget.placeholderText() == "empty: the end"

    end.widget.setText("4")
    end.widget.editingFinished.emit()
    qtbot.waitUntil(lambda: window.scene.blocks[cut.id].info is not None
                    and window.scene.blocks[cut.id].info.output == (4, 3), timeout=30_000)
    assert cut.params["end"] == 4 and not end.error.isVisible()
    window.document.undo_stack.undo()
    assert cut.params["end"] is None and inspector.editors["end"].widget.text() == ""
    window.document.undo_stack.redo()
    assert cut.params["end"] == 4 and inspector.editors["end"].widget.text() == "4"

    end = inspector.editors["end"]
    end.widget.setText("four")
    end.widget.editingFinished.emit()
    assert cut.params["end"] == 4 and end.error.isVisible() and "whole number" in end.error.text()
    end.widget.setText("")
    end.widget.editingFinished.emit()
    assert cut.params["end"] is None and not end.error.isVisible()
