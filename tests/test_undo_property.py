"""Undo and redo restore the document exactly, whatever the edits: a property test through the real Document
and its QUndoStack (offscreen). Random sequences of every kind of edit, valid and refused, with undos and redos
among them; after each step the document must be the one the undo stack says it is (a refused edit changes
nothing), undo-all gives the initial document and redo-all the final one, byte for byte."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netbuilder.core.layers import LAYERS
from netbuilder.core.model.graph import Edge, Graph
from tests.conftest import EXAMPLES

TYPES = sorted(LAYERS)
BAD_NUMBERS = [float("nan"), float("inf"), -float("inf"), 1e8, -1e300, 10**30]
BAD_VALUES = [None, True, -1, 0, 10**30, 1e308, float("nan"), "x", [], [1, 2, 3], [0, 0], {"a": 1}, "same"]
NAMES = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                  st.sampled_from(["class", "self", "2fc", "", "a" * 65, "conv1", "x y", "fc1", "é", "\ud800"]))
COORD = st.one_of(st.floats(-2000, 2000, allow_nan=False), st.sampled_from(BAD_NUMBERS))


def text(graph: Graph) -> str:
    return json.dumps(graph.to_dict(), sort_keys=True)


@pytest.fixture(scope="module")
def document(qapp):
    from netbuilder.ui.document import Document, torch_loader

    document = Document()
    torch_loader().wait()  # torch is imported on a thread: let it finish before hypothesis looks for numpy
    return document


def start_graph() -> Graph:
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    add = graph.add_node("Add", {"inputs": 3}, name="add9", pos=(400, 900))
    graph.connect(graph.find("relu3").id, add.id)
    return graph


def value_for(param, draw):
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(BAD_VALUES))
    kind, low, high = param.kind, param.min, param.max
    if kind == "int":
        return draw(st.integers(int(low if low is not None else -5), int(min(high if high is not None else 64, 64))))
    if kind == "float":
        return draw(st.floats(low if low is not None else -5.0, min(high if high is not None else 5.0, 5.0)))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "choice":
        return draw(st.sampled_from(param.choices))
    small = st.integers(int(low if low is not None else -1), int(min(high if high is not None else 8, 8)))
    if param.choices and draw(st.booleans()):
        return draw(st.sampled_from(param.choices))
    return draw(st.lists(small, min_size=param.length or 1, max_size=param.length or 4))


def some_nodes(graph, draw, at_least=0):
    ids = [n.id for n in graph.nodes]
    picked = draw(st.lists(st.sampled_from(ids), min_size=at_least, max_size=4)) if ids else []
    return picked + draw(st.lists(st.sampled_from(["nope", "n999"]), max_size=1))


def make_edit(graph: Graph, draw):
    """One command (or None when the edit is refused before it is made, as the editor does)."""
    from netbuilder.core.model.graph import GraphError
    from netbuilder.ui import commands

    kind = draw(st.sampled_from(["add", "paste", "delete", "connect", "set_param", "rename", "move", "move"]))
    ids = [n.id for n in graph.nodes]
    try:
        if kind == "add":
            single = Graph()
            single.add_node(draw(st.sampled_from(TYPES)), pos=(draw(COORD), draw(COORD)))
            fragment = graph.prepare_paste(single)
            if ids and draw(st.booleans()):
                new = fragment["nodes"][0]
                fragment["edges"] = [{"src": draw(st.sampled_from(ids)), "src_port": "out", "dst": new["id"],
                                      "dst_port": draw(st.sampled_from(["in", "in1", "in2", "bad"]))}]
            return commands.AddItems(graph, fragment, "Add")
        if kind == "paste":
            picked = [i for i in some_nodes(graph, draw, 1) if i in graph]
            if not picked:
                return None
            offset = draw(st.sampled_from([(40.0, 40.0), (1e7, 0.0), (float("nan"), 0.0), (-80.0, 1e6)]))
            prepared = graph.prepare_paste(Graph.from_dict(graph.fragment(picked)), offset)
            return commands.AddItems(graph, prepared, "Paste")
        if kind == "delete":
            edges = graph.edges
            chosen = draw(st.lists(st.sampled_from(edges), max_size=3)) if edges else []
            if edges and draw(st.integers(0, 3)) == 0:  # a wire that is not there, or not from that source
                wire = draw(st.sampled_from(edges))
                chosen.append(draw(st.sampled_from([Edge(wire.src, "out", wire.dst, "in9"),
                                                    Edge(draw(st.sampled_from(ids)), "out", wire.dst, wire.dst_port)])))
            return commands.RemoveItems(graph, some_nodes(graph, draw), chosen)
        if kind == "connect":
            src, dst = draw(st.sampled_from(ids + ["nope"])), draw(st.sampled_from(ids + ["nope"]))
            return commands.Connect(graph, src, draw(st.sampled_from(["out", "in", "x"])), dst,
                                    draw(st.sampled_from(["in", "in1", "in2", "in3", "out"])))
        if kind == "set_param":
            node = graph.node(draw(st.sampled_from(ids)))
            params = node.spec.params
            if not params or draw(st.integers(0, 6)) == 0:
                return commands.SetParam(graph, node.id, "nope", 1)
            param = draw(st.sampled_from(params))
            return commands.SetParam(graph, node.id, param.name, value_for(param, draw))
        if kind == "rename":
            return commands.Rename(graph, draw(st.sampled_from(ids)), draw(NAMES))
        moved = {node_id: (draw(COORD), draw(COORD)) for node_id in some_nodes(graph, draw, 1)}
        return commands.MoveNodes(graph, moved, "Move")
    except GraphError:
        return None  # refused while the command was made: the document is untouched (checked by the caller)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_undo_all_gives_the_initial_document_and_redo_all_the_final_one(document, data):
    document.replace(start_graph(), None)
    stack, graph = document.undo_stack, document.graph
    states = [text(graph)]  # states[i]: the document after the stack's first i commands
    for _ in range(data.draw(st.integers(1, 14), label="steps")):
        step = data.draw(st.sampled_from(["edit"] * 6 + ["undo", "redo"]))
        before = text(graph)
        if step == "undo" and stack.canUndo():
            stack.undo()
        elif step == "redo" and stack.canRedo():
            stack.redo()
        elif step == "edit":
            command = make_edit(graph, data.draw)
            assert text(graph) == before, "making a command changed the document"
            if command is None:
                continue
            k = stack.index()
            if not document.push(command):
                assert text(graph) == before, f"a refused edit changed the document ({document.refusal})"
                assert stack.index() == k
                continue
            i = stack.index()
            assert i in (k - 1, k, k + 1)
            if i == k - 1:  # merged into the previous step, which became a no-op and went away
                assert text(graph) == states[i]
            states = states[:i] + [text(graph)]
            continue
        assert text(graph) == states[stack.index()]
    final_index = stack.count()
    while stack.canUndo():
        stack.undo()
        assert text(graph) == states[stack.index()]
    assert text(graph) == states[0]
    while stack.canRedo():
        stack.redo()
        assert text(graph) == states[stack.index()]
    assert stack.index() == final_index and len(states) == final_index + 1
    assert text(graph) == states[-1]


def test_a_paste_that_cannot_be_placed_adds_nothing(document):
    """Pasting so far away that the last block's position is refused: no block of the paste stays."""
    from netbuilder.ui.commands import AddItems

    document.replace(start_graph(), None)
    graph = document.graph
    before = text(graph)
    picked = [graph.find("conv1").id, graph.find("fc2").id]
    graph.move(picked[1], (9_999_990.0, 0.0))
    before = text(graph)
    prepared = graph.prepare_paste(Graph.from_dict(graph.fragment(picked)), (20.0, 0.0))
    assert not document.push(AddItems(graph, prepared, "Paste"))
    assert "position" in document.refusal
    assert text(graph) == before


def test_deleting_with_a_wire_that_is_not_there_removes_nothing(document):
    from netbuilder.ui.commands import RemoveItems

    document.replace(start_graph(), None)
    graph = document.graph
    before = text(graph)
    wire = graph.input_edges(graph.find("fc1").id)[0]
    command = RemoveItems(graph, [graph.find("conv1").id], [wire, Edge("n1", "out", "n2", "in9")])
    assert not document.push(command)
    assert text(graph) == before
