"""The graph document: edits, their refusals, change notifications, JSON round trip and validation."""
import json
import os

import pytest

from netbuilder.core.model.graph import Edge, Graph, GraphError
from netbuilder.core.model.graph_files import FORMAT
from tests.conftest import EXAMPLES


def small_graph():
    g = Graph({"title": "t"})
    x = g.add_node("Input", {"shape": [4]}, name="x", pos=(10, 20))
    fc = g.add_node("Linear", {"out_features": 3})
    out = g.add_node("Output")
    g.connect(x.id, fc.id)
    g.connect(fc.id, out.id)
    return g, x, fc, out


def test_add_node_fills_defaults_names_and_ids():
    g = Graph()
    a = g.add_node("Conv2d", {"out_channels": 8})
    b = g.add_node("Conv2d")
    assert (a.name, b.name) == ("conv1", "conv2")
    assert a.id != b.id
    assert a.params["kernel_size"] == 3 and a.params["out_channels"] == 8 and b.params["out_channels"] == 16
    assert a.input_ports() == ["in"] and a.output_ports() == ["out"]


@pytest.mark.parametrize("call, message", [
    (lambda g: g.add_node("Conv3x"), "unknown layer type 'Conv3x'"),
    (lambda g: g.add_node("Conv2d", {"kernel": 3}), "conv1 (Conv2d): Conv2d has no param 'kernel'"),
    (lambda g: g.add_node("Conv2d", {"kernel_size": 0}), "conv1 (Conv2d): 'kernel_size' must be between 1 and 256"),
    (lambda g: g.add_node("Linear", name="x"), "a block named 'x' already exists"),
    (lambda g: g.add_node("Linear", name="2fc"), "'2fc' is not a valid block name"),
    (lambda g: g.add_node("Linear", name="class"), "'class' is not a valid block name"),
    (lambda g: g.add_node("Linear", id="n1"), "duplicate block id 'n1'"),
    (lambda g: g.add_node("Linear", pos=(0, float("inf"))), "a position must be two finite numbers"),
    (lambda g: g.connect("n1", "nope"), "no block with id 'nope'"),
    (lambda g: g.connect("n1", "n2", src_port="x"), "x (Input) has no output port 'x'"),
    (lambda g: g.connect("n1", "n2", dst_port="in2"), "fc1 (Linear) has no input port 'in2'"),
    (lambda g: g.connect("n1", "n2", dst_port="in"), "input 'in' of fc1 (Linear) is already connected"),
    (lambda g: g.connect("n1", "n2"), "fc1 (Linear) has no free input port"),
    (lambda g: g.connect("n3", "n1"), "Output) has no output port 'out'"),
    (lambda g: g.disconnect("n2", "in2"), "input 'in2' of fc1 (Linear) is not connected"),
    (lambda g: g.set_param("n2", "out_features", -1), "fc1 (Linear): 'out_features' must be between 1 and"),
    (lambda g: g.set_param("n2", "nope", 1), "fc1 (Linear) has no param 'nope'"),
    (lambda g: g.rename("n2", "x"), "a block named 'x' already exists"),
    (lambda g: g.rename("n2", "self"), "'self' is not a valid block name"),
    (lambda g: g.move("n2", (1,)), "a position must be two numbers"),
])
def test_refused_edits_say_why_and_change_nothing(call, message):
    g, *_ = small_graph()
    before = g.to_dict()
    with pytest.raises(GraphError) as caught:
        call(g)
    assert message in str(caught.value)
    assert g.to_dict() == before


def test_a_wire_that_closes_a_cycle_is_refused_with_the_loop():
    g = Graph()
    a, b, c = (g.add_node("ReLU") for _ in range(3))
    g.connect(a.id, b.id)
    g.connect(b.id, c.id)
    add = g.add_node("Add")
    g.connect(c.id, add.id)
    with pytest.raises(GraphError, match=r"connecting add1 to relu1 would make a cycle through 4 blocks: add1 -> "
                                         r"relu1 -> relu2 -> relu3 -> add1$"):
        g.connect(add.id, a.id)
    with pytest.raises(GraphError, match="would make a cycle"):
        g.connect(add.id, add.id)


def test_merge_inputs_keep_port_order_whatever_the_wiring_order():
    g = Graph()
    a, b, c = (g.add_node("Input", {"shape": [2]}) for _ in range(3))
    cat = g.add_node("Concat", {"inputs": 3})
    g.connect(c.id, cat.id, dst_port="in3")
    g.connect(a.id, cat.id, dst_port="in1")
    g.connect(b.id, cat.id, dst_port="in2")
    assert [e.src for e in g.input_edges(cat.id)] == [a.id, b.id, c.id]
    reloaded = Graph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert [e.src for e in reloaded.input_edges(cat.id)] == [a.id, b.id, c.id]


def test_the_same_source_may_feed_two_ports_of_a_merge():
    g = Graph()
    x = g.add_node("Input", {"shape": [2]})
    mul = g.add_node("Multiply")
    g.connect(x.id, mul.id)
    g.connect(x.id, mul.id)
    assert [(e.src, e.dst_port) for e in g.input_edges(mul.id)] == [(x.id, "in1"), (x.id, "in2")]


def test_port_count_follows_the_inputs_param_and_wired_ports_cannot_vanish():
    g = Graph()
    x = g.add_node("Input", {"shape": [2]})
    add = g.add_node("Add", {"inputs": 3})
    assert add.input_ports() == ["in1", "in2", "in3"]
    g.connect(x.id, add.id, dst_port="in3")
    with pytest.raises(GraphError, match="disconnect in3 before removing the port"):
        g.set_param(add.id, "inputs", 2)
    g.disconnect(add.id, "in3")
    g.set_param(add.id, "inputs", 2)
    assert add.input_ports() == ["in1", "in2"]


def test_remove_node_removes_its_wires():
    g, x, fc, out = small_graph()
    g.remove_node(fc.id)
    assert g.edges == [] and fc.id not in g and len(g) == 2
    assert g.input_edges(out.id) == [None]


def test_each_change_is_announced_on_its_own_typed_event():
    g, x, fc, out = small_graph()
    heard = []
    for name in ("node_added", "node_removed", "param_changed", "node_renamed", "node_moved", "edge_added",
                 "edge_removed"):
        getattr(g, name).connect(lambda *args, name=name: heard.append((name, *args)))
    g.set_param(fc.id, "out_features", 5)
    g.rename(fc.id, "head")
    g.move(fc.id, (5, 5))
    edges = [e for e in g.input_edges(fc.id) if e] + g.output_edges(fc.id)
    g.remove_node(fc.id)
    n = g.add_node("ReLU")
    edge = g.connect(x.id, n.id)
    assert heard == [("param_changed", fc, "out_features"), ("node_renamed", fc, "fc1"), ("node_moved", fc),
                     ("edge_removed", edges[0]), ("edge_removed", edges[1]), ("node_removed", fc),
                     ("node_added", n), ("edge_added", edge)]


def test_a_handler_hears_only_the_event_it_connected_to_and_can_leave():
    g, x, fc, out = small_graph()
    renamed = []
    handler = lambda node, old: renamed.append((node.name, old))  # noqa: E731
    g.node_renamed.connect(handler)
    g.set_param(fc.id, "out_features", 5)
    g.move(fc.id, (5, 5))
    g.rename(fc.id, "head")
    g.node_renamed.disconnect(handler)
    g.rename(fc.id, "tail")
    assert renamed == [("head", "fc1")]


def test_an_event_refuses_arguments_of_the_wrong_type():
    g, *_ = small_graph()
    with pytest.raises(TypeError, match="Node"):
        g.node_moved.emit("n1")


def test_a_refused_move_of_several_blocks_moves_none():
    g, x, fc, out = small_graph()
    before = g.to_dict()
    with pytest.raises(GraphError, match=r"fc1 \(Linear\): a position must be two finite numbers"):
        g.move_many({x.id: (10.0, 10.0), fc.id: (float("nan"), 0.0)})
    assert g.to_dict() == before


def test_to_dict_from_dict_round_trip_is_exact():
    g, *_ = small_graph()
    d = g.to_dict()
    assert d["format"] == FORMAT and d["version"] == 1 and d["meta"] == {"title": "t"}
    assert Graph.from_dict(json.loads(json.dumps(d))).to_dict() == d
    assert g.edges == [Edge("n1", "out", "n2", "in"), Edge("n2", "out", "n3", "in")]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_round_trips_through_save_and_load(path, tmp_path):
    original = json.loads(path.read_text())
    g = Graph.load(path)
    assert g.to_dict() == original
    g.save(tmp_path / "copy.json")
    assert Graph.load(tmp_path / "copy.json").to_dict() == original


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path):
    g, *_ = small_graph()
    target = tmp_path / "net.json"
    target.write_text("old contents")
    g.save(target)
    assert json.loads(target.read_text()) == g.to_dict()
    assert os.listdir(tmp_path) == ["net.json"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    g, *_ = small_graph()
    target = tmp_path / "net.json"
    target.write_text("old contents")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        g.save(target)
    assert target.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["net.json"]


def _broken(mutate):
    g, *_ = small_graph()
    d = g.to_dict()
    mutate(d)
    return d


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="other"), "not a netbuilder graph: 'format' is 'other'"),
    (lambda d: d.update(version=2), "saved by a newer netbuilder (format version 2; this one reads 1)"),
    (lambda d: d.update(version="1"), "'version' must be a positive whole number, got '1'"),
    (lambda d: d.pop("edges"), "the document: missing 'edges'"),
    (lambda d: d.update(extra=1), "the document: unknown field 'extra'"),
    (lambda d: d.update(meta={"title": 3}), "'meta' must map names to strings"),
    (lambda d: d.update(nodes={}), "'nodes' and 'edges' must be lists"),
    (lambda d: d["nodes"].append(5), "nodes[3]: expected an object, got int"),
    (lambda d: d["nodes"][1].pop("type"), "nodes[1]: missing 'type'"),
    (lambda d: d["nodes"][1].update(type="Conv9d"), "nodes[1] (id 'n2'): unknown layer type 'Conv9d'"),
    (lambda d: d["nodes"][1]["params"].update(out_features=0),
     "nodes[1] (id 'n2'): fc1 (Linear): 'out_features' must be between 1 and 1000000, got 0"),
    (lambda d: d["nodes"][1]["params"].update(out_features="ten"),
     "nodes[1] (id 'n2'): fc1 (Linear): 'out_features' must be a whole number, got 'ten'"),
    (lambda d: d["nodes"][1]["params"].update(colour=1), "nodes[1] (id 'n2'): fc1 (Linear): Linear has no param 'colour'"),
    (lambda d: d["nodes"][1].update(params=[]), "nodes[1] (id 'n2'): 'params' must be an object"),
    (lambda d: d["nodes"][1].update(id="n1"), "nodes[1] (id 'n1'): duplicate block id 'n1'"),
    (lambda d: d["nodes"][1].update(name="x"), "nodes[1] (id 'n2'): a block named 'x' already exists"),
    (lambda d: d["nodes"][1].update(name="a b"), "nodes[1] (id 'n2'): 'a b' is not a valid block name"),
    (lambda d: d["nodes"][1].update(pos=[0, "a"]), "nodes[1] (id 'n2'): a position must be two finite numbers"),
    (lambda d: d["edges"][0].update(src="n9"), "edges[0]: no block with id 'n9'"),
    (lambda d: d["edges"][0].update(dst=["n2"]), "edges[0]: 'dst' must be a string, got ['n2']"),
    (lambda d: d["edges"][0].update(dst_port="in2"), "edges[0]: fc1 (Linear) has no input port 'in2'"),
    (lambda d: d["edges"][0].update(src_port="result"), "edges[0]: x (Input) has no output port 'result'"),
    (lambda d: d["edges"].append(dict(d["edges"][0])), "edges[2]: input 'in' of fc1 (Linear) is already connected"),
    (lambda d: d["edges"][0].pop("src_port"), "edges[0]: missing 'src_port'"),
])
def test_invalid_documents_name_the_first_problem(mutate, message):
    with pytest.raises(GraphError) as caught:
        Graph.from_dict(_broken(mutate))
    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_a_cycle_in_a_document_is_named():
    g = Graph()
    a, b = g.add_node("ReLU"), g.add_node("Tanh")
    g.connect(a.id, b.id)
    d = g.to_dict()
    d["edges"].append({"src": b.id, "src_port": "out", "dst": a.id, "dst_port": "in"})
    with pytest.raises(GraphError, match=r"the wires form a cycle through 2 blocks: relu1 -> tanh1 -> relu1"):
        Graph.from_dict(d)


@pytest.mark.parametrize("content, message", [
    (b"", "not valid JSON: line 1, column 1"),
    (b'{"format": "netbuilder.graph", ', "not valid JSON: line 1"),
    (b"\xff\xfe\x00garbage", "not a graph document: the file is not UTF-8 text"),
    (b"[" * 100000 + b"]" * 100000, "not a graph document: the JSON is nested too deeply"),
    (b"[1, 2]", "not a netbuilder graph: the document is not a JSON object"),
    (b"\x89PNG\r\n\x1a\n", "not a graph document: the file is not UTF-8 text"),
])
def test_corrupt_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(GraphError) as caught:
        Graph.load(path)
    assert str(caught.value).startswith(message)


def test_missing_file_is_a_graph_error(tmp_path):
    with pytest.raises(GraphError, match="cannot read the file: No such file or directory"):
        Graph.load(tmp_path / "nope.json")


def test_copy_is_independent():
    g, x, fc, out = small_graph()
    clone = g.copy()
    clone.set_param(fc.id, "out_features", 9)
    assert g.node(fc.id).params["out_features"] == 3


def test_importing_the_document_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, netbuilder.core.model.graph, netbuilder.core.model.layout; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_add_node_at_an_index_restores_document_order():
    g, x, fc, out = small_graph()
    before = g.to_dict()
    index = g.index_of(fc.id)
    g.remove_node(fc.id)
    g.add_node("Linear", {"out_features": 3}, name="fc1", id=fc.id, pos=fc.pos, index=index)
    g.connect(x.id, fc.id)
    g.connect(fc.id, out.id)
    assert g.to_dict() == before


def test_fragment_keeps_only_the_wires_inside_the_selection():
    g, x, fc, out = small_graph()
    part = g.fragment([fc.id, out.id])
    assert [n["id"] for n in part["nodes"]] == [fc.id, out.id]
    assert part["edges"] == [{"src": fc.id, "src_port": "out", "dst": out.id, "dst_port": "in"}]
    Graph.from_dict(part)  # a fragment is a valid document


def test_prepare_paste_gives_free_ids_and_names_and_shifts_positions():
    g, x, fc, out = small_graph()
    pasted = g.prepare_paste(Graph.from_dict(g.fragment([fc.id, out.id])), offset=(30, 40))
    names = [n["name"] for n in pasted["nodes"]]
    assert names == ["fc2", "output2"]
    assert not {n["id"] for n in pasted["nodes"]} & {n.id for n in g.nodes}
    assert pasted["nodes"][0]["pos"] == [fc.pos[0] + 30, fc.pos[1] + 40]
    (edge,) = pasted["edges"]
    assert (edge["src"], edge["dst"]) == (pasted["nodes"][0]["id"], pasted["nodes"][1]["id"])
    for raw in pasted["nodes"]:
        g.add_node(raw["type"], raw["params"], name=raw["name"], id=raw["id"], pos=raw["pos"])
    g.connect(edge["src"], edge["dst"], src_port=edge["src_port"], dst_port=edge["dst_port"])
    assert len(g) == 5 and len(g.edges) == 3


def test_pasting_into_another_graph_keeps_free_names():
    g, x, fc, out = small_graph()
    pasted = Graph().prepare_paste(Graph.from_dict(g.fragment([fc.id])))
    assert [(n["id"], n["name"]) for n in pasted["nodes"]] == [(fc.id, "fc1")]


@pytest.mark.parametrize("type_name, params, text", [
    ("Conv2d", {"out_channels": 32, "kernel_size": 5}, "32 @ 5x5, s1"),
    ("Conv2d", {"kernel_size": [3, 1], "stride": [2, 2], "padding": "same", "bias": False}, "16 @ 3x1, s2, same, no bias"),
    ("MaxPool2d", {"kernel_size": 3}, "3x3, s3"),
    ("Linear", {"out_features": 200}, "200 outputs"),
    ("LSTM", {"hidden_size": 128, "output": "last", "num_layers": 2}, "128, 2 layers, last"),
    ("Input", {"shape": [1, 28, 28]}, "1x28x28"),
    ("Concat", {"inputs": 3}, "inputs=3"),
    ("ReLU", {}, ""),
])
def test_blocks_describe_their_key_params(type_name, params, text):
    from netbuilder.core.layers import get_layer

    g = Graph()
    node = g.add_node(type_name, params)
    assert get_layer(type_name).describe(node.params) == text


def test_name_is_free_says_whether_a_block_could_take_a_name():
    g, *_ = small_graph()
    assert g.name_is_free("head") and not g.name_is_free("fc1") and not g.name_is_free("2x")
