"""Blocks with several output ports: named, wired port to port, a shape for each, kept when params change."""
import pytest
import torch

from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.shapes import infer_shapes
from netbuilder.core.exchange.codegen import to_source
from netbuilder.core.model.graph import Graph, GraphError


def encoder_decoder():
    g = Graph()
    source = g.add_node("Input", {"shape": [6, 4]}, name="source")
    target = g.add_node("Input", {"shape": [5, 4]}, name="target")
    encoder = g.add_node("LSTM", {"hidden_size": 8}, name="encoder")
    decoder = g.add_node("LSTM", {"hidden_size": 8, "initial_state": True}, name="decoder")
    g.connect(source.id, encoder.id)
    g.connect(target.id, decoder.id, dst_port="in")
    g.connect(encoder.id, decoder.id, src_port="hidden", dst_port="hidden")
    g.connect(encoder.id, decoder.id, src_port="cell", dst_port="cell")
    split = g.add_node("Split", {"dim": 2, "sizes": [3, 5]}, name="split")
    g.connect(decoder.id, split.id)
    for port in ("out1", "out2"):
        g.connect(split.id, g.add_node("Output", name=f"part_{port}").id, src_port=port)
    return g


def test_ports_are_named_and_each_has_its_shape():
    g = encoder_decoder()
    assert g.find("encoder").output_ports() == ["out", "hidden", "cell"]
    assert g.find("decoder").input_ports() == ["in", "hidden", "cell"]
    assert g.find("split").output_ports() == ["out1", "out2"]
    report = infer_shapes(g)
    assert report.ok, report.errors
    encoder = report.nodes[g.find("encoder").id]
    assert encoder.outputs == {"out": (6, 8), "hidden": (1, 8), "cell": (1, 8)} and encoder.output == (6, 8)
    assert report.nodes[g.find("split").id].outputs == {"out1": (5, 3), "out2": (5, 5)}
    assert Graph.from_dict(g.to_dict()) == g, "wires keep their ports through a save"


def test_the_encoder_s_state_starts_the_decoder_in_the_compiled_model_and_the_code():
    g = encoder_decoder()
    model = compile_graph(g).eval()
    source, target = torch.randn(2, 6, 4), torch.randn(2, 5, 4)
    with torch.no_grad():
        first, second = model(source, target)
        _, (h, c) = model.encoder(source)
        expected = model.decoder(target, (h, c))[0]
    torch.testing.assert_close(torch.cat([first, second], dim=2), expected)
    code = to_source(g)
    assert "self.decoder(target, (" in code


def test_a_port_that_has_a_wire_is_not_taken_away():
    g = encoder_decoder()
    with pytest.raises(GraphError, match="disconnect output out2 before removing the port"):
        g.set_param(g.find("split").id, "sizes", [8])
    with pytest.raises(GraphError, match="disconnect hidden, cell before removing the port"):
        g.set_param(g.find("decoder").id, "initial_state", False)
    g.set_param(g.find("split").id, "sizes", [1, 2])  # still two parts: both wires stay
    assert infer_shapes(g).nodes[g.find("split").id].error == "the sizes 1+2 must add up to 8, the size along dim 2"


def test_a_wire_from_a_block_with_several_outputs_starts_at_its_first():
    g = Graph()
    x = g.add_node("Input", {"shape": [4, 3]})
    split = g.add_node("Chunk", {"chunks": 2})
    g.connect(x.id, split.id)
    edge = g.connect(split.id, g.add_node("ReLU").id)
    assert edge.src_port == "out1"
    with pytest.raises(GraphError, match="has no output port 'out'"):
        g.connect(split.id, g.add_node("ReLU").id, src_port="out")


def test_each_wire_on_the_canvas_shows_the_shape_of_its_own_port(window, qtbot, tmp_path):
    encoder_decoder().save(tmp_path / "ports.json")
    assert window.open_path(tmp_path / "ports.json", ask=False)
    qtbot.waitUntil(lambda: window.document.report is not None and not window.document._refresh_pending,
                    timeout=60_000)
    graph = window.document.graph
    labels = {(graph.node(src).name, port): wire.label.text for (dst, _), wire in window.scene.wires.items()
              for src, port in [(wire.edge.src, wire.edge.src_port)]}
    assert labels[("encoder", "hidden")] == "1x8" and labels[("split", "out1")] == "5x3" \
        and labels[("split", "out2")] == "5x5" and labels[("decoder", "out")] == "5x8"
