"""The PyTorch code netbuilder writes imports back to the same graph: every example's blocks (types, params,
settings, names as written), wires and groups, and its weights through the model.pt written beside model.py.

Code export writes the inference network: loss blocks and the blocks only they read are not in it, a
generator's Noise is an input, a VAE's Sample gives its mean, GaussianNoise passes its input through. The
graph expected back is the example with exactly that done (`inference_part`)."""
import pytest
import torch

from netbuilder.core.base.files import list_examples
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import save_state
from netbuilder.core.exchange.codegen import export_code, to_source
from netbuilder.core.exchange.torch_import import import_code, import_torch
from netbuilder.core.model.graph import Graph

EXAMPLES = {path.stem: path for path, _title in list_examples()}
SMALL = 1_000_000  # parameters: examples up to this size also go through files with their weights


def inference_part(graph: Graph) -> Graph:
    """The graph as its code export writes it (see the module's docstring)."""
    graph = graph.copy()
    for node in [n for n in graph.nodes if n.spec.role == "loss"]:
        graph.remove_node(node.id)
    for node in [n for n in graph.nodes if n.type in ("GaussianNoise", "Sample")]:
        source = graph.input_edges(node.id)[0]
        consumers = graph.output_edges(node.id)
        graph.remove_node(node.id)
        for edge in consumers:
            graph.connect(source.src, edge.dst, src_port=source.src_port, dst_port=edge.dst_port)
    for node in [n for n in graph.nodes if n.type == "Noise"]:
        consumers, name, shape = graph.output_edges(node.id), node.name, node.params["shape"]
        graph.remove_node(node.id)
        made = graph.add_node("Input", {"shape": shape, "normalize": "none"}, name=name)
        for edge in consumers:
            graph.connect(made.id, edge.dst, dst_port=edge.dst_port)
    needed, stack = set(), [n.id for n in graph.nodes if n.type == "Output"]
    while stack:
        node_id = stack.pop()
        if node_id not in needed:
            needed.add(node_id)
            stack += [e.src for e in graph.input_edges(node_id) if e is not None]
    for node in [n for n in graph.nodes if n.id not in needed]:
        graph.remove_node(node.id)
    return graph


def canonical(node) -> dict:
    """Params as values: a size written 3 is 3x3; a pooling stride left empty is the kernel size (torch's
    operators, and so the import, see the same pooling either way)."""
    params = {}
    for p in node.spec.params:
        value = node.params[p.name]
        if p.kind == "ints" and p.length and isinstance(value, int):
            value = [value] * p.length
        params[p.name] = value
    if node.type.startswith(("MaxPool", "AvgPool")) and params["stride"] is None:
        params["stride"] = params["kernel_size"]
    return params


def described(graph: Graph) -> tuple:
    blocks = {n.name: (n.type, canonical(n), n.frozen, graph.node(n.shares).name if n.shares else None)
              for n in graph.nodes}
    wires = {(graph.node(e.src).name, e.src_port, graph.node(e.dst).name, e.dst_port) for e in graph.edges}
    groups = {g.name: (sorted(graph.node(i).name for i in g.nodes), g.collapsed) for g in graph.groups}
    return blocks, wires, groups


def expected_groups(original: Graph, kept: Graph) -> dict:
    names = {n.name for n in kept.nodes}
    groups = {}
    for group in original.groups:
        members = sorted(original.node(i).name for i in group.nodes if original.node(i).name in names)
        if members:
            groups[group.name] = (members, group.collapsed)
    return groups


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_s_code_imports_back_to_the_same_graph(name):
    original = Graph.load(EXAMPLES[name])
    imported = import_code(to_source(original), "Net").graph  # the Inputs' shapes come from the code's comments
    expected = inference_part(original)
    blocks, wires, groups = described(imported)
    want_blocks, want_wires, _ = described(expected)
    assert blocks == want_blocks
    assert wires == want_wires
    assert groups == expected_groups(original, expected)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_weights_come_back_through_model_pt(name, tmp_path):
    graph = Graph.load(EXAMPLES[name])
    torch.manual_seed(1)
    model = compile_graph(graph)
    if sum(p.numel() for p in model.parameters()) > SMALL:
        pytest.skip("large: its structure is checked above; the files would take seconds to write and read")
    save_state(model.state_dict(), tmp_path / "trained.pt")
    report = export_code(graph, tmp_path / "model.py", weights=tmp_path / "trained.pt")
    imported = import_torch(f"{report.path}:Net", weights=report.weights_path)
    state = model.state_dict()
    assert imported.state.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(imported.state[key], value), key


def test_code_that_only_says_its_inputs_in_comments_needs_no_input_option(tmp_path):
    path = tmp_path / "lenet.py"
    path.write_text(to_source(Graph.load(EXAMPLES["lenet5"])))
    graph = import_torch(f"{path}:Net").graph
    assert graph.find("x").params["shape"] == [1, 32, 32]


def test_a_trained_model_s_input_normalization_comes_back_with_it(tmp_path):
    graph = Graph.load(EXAMPLES["lenet5"])
    mean, std = torch.full((1, 1, 1), 0.3), torch.full((1, 1, 1), 2.0)
    save_state(compile_graph(graph, normalization={"x": (mean, std)}).state_dict(), tmp_path / "trained.pt")
    report = export_code(graph, tmp_path / "model.py", weights=tmp_path / "trained.pt")
    assert "        x = x - self.normalize_x_mean\n        x = x / self.normalize_x_std\n" in report.path.read_text()
    imported = import_torch(f"{report.path}:Net", weights=report.weights_path)
    assert imported.graph.find("x").params["normalize"] == "zscore"  # a setting of the Input, not two blocks
    assert torch.equal(imported.state["normalize_x_mean"], mean) and torch.equal(imported.state["normalize_x_std"], std)
