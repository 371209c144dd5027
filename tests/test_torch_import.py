"""PyTorch in: hand-written modules imported from their code (FILE.py:NAME) and from torch.export files (.pt2),
checked against the modules' own outputs; names, groups, shared and frozen weights; what is refused, once per
cause; .pt2 files that try to run code are refused without running it."""
import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

import tests.torch_models as models
from netbuilder.cli.main import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import read_state, split_normalization
from netbuilder.core.exchange.torch_import import TorchImportError, import_code, import_torch
from netbuilder.core.exchange.torch_import.source import example_inputs, parse_input
from netbuilder.core.model.graph import Graph

HERE = Path(__file__).parent
CODE = HERE / "torch_models.py"


def exported(name: str, folder: Path) -> Path:
    module = getattr(models, name)().eval()
    inputs = example_inputs(module, [parse_input(s) for s in models.MODELS[name]], 2)
    program = torch.export.export(module, inputs, dynamic_shapes=tuple({0: torch.export.Dim("batch")} for _ in inputs))
    path = folder / f"{name}.pt2"
    torch.export.save(program, path)
    return path


@pytest.fixture(scope="module")
def pt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pt2")
    return {name: exported(name, folder) for name in models.MODELS}


def outputs_agree(imported, module, name: str, batch: int = 5) -> None:
    """The imported graph with its weights computes the module's outputs within 1e-4 x max(1, |output|)."""
    graph_model = compile_graph(imported.graph, normalization=split_normalization(imported.state)[1]).eval()
    graph_model.load_state_dict(imported.state)
    torch.manual_seed(7)
    inputs = example_inputs(module, [parse_input(s) for s in models.MODELS[name]], batch)
    with torch.no_grad():
        got, expected = graph_model(*inputs), module(*inputs)
    allowed = 1e-4 * max(1.0, float(expected.abs().max()))
    assert float((got - expected).abs().max()) <= allowed


@pytest.mark.parametrize("name", list(models.MODELS))
@pytest.mark.parametrize("how", ["code", "pt2"])
def test_hand_written_modules_import_with_their_outputs(name, how, pt2):
    if how == "code":
        torch.manual_seed(0)
        imported = import_torch(f"{CODE}:{name}", models.MODELS[name])  # builds the module: the same weights
        torch.manual_seed(0)
        module = getattr(models, name)().eval()
    else:
        imported = import_torch(pt2[name])
        module = getattr(models, name)().eval()
        module.load_state_dict(torch.export.load(pt2[name]).state_dict)
    assert imported.max_abs_diff <= 1e-4
    outputs_agree(imported, module, name)
    blocks = sum(t.numel() for k, t in imported.state.items() if not k.endswith("num_batches_tracked"))
    assert blocks == sum(p.numel() for p in module.state_dict().values() if p.dtype != torch.int64)


def test_what_the_models_become(pt2):
    resnet = import_torch(f"{CODE}:SmallResNet", ["1x3x16x16"]).graph
    assert resnet.find("layer1_0_conv1").type == "Conv2d" and resnet.find("layer2_0_downsample_0").type == "Conv2d"
    assert {g.name for g in resnet.groups} == {"layer1.0", "layer1.1", "layer2.0"}  # submodules become groups
    assert {"layer1_0_conv1", "layer1_0_bn2", "add1"} <= {n.name for n in resnet.group_members("layer1.0")}
    assert resnet.find("layer1_0_relu_2").type == "ReLU"  # one ReLU module called twice: two blocks
    mobile = import_torch(pt2["MobileBlockNet"]).graph
    kinds = [n.type for n in mobile.nodes]
    assert {"HardSwish", "HardSigmoid", "Multiply", "Add"} <= set(kinds)
    assert mobile.find("block_depthwise_0").params["groups"] == 48
    text = import_torch(pt2["TextTransformer"]).graph
    assert [n.type for n in text.nodes] == ["Input", "Embedding", "ClassToken", "PositionalEncoding",
                                            "TransformerEncoderLayer", "TransformerEncoderLayer", "LayerNorm",
                                            "Select", "Linear", "Output"]
    layer = text.find("encoder_layers_0").params
    assert (layer["heads"], layer["dim_feedforward"], layer["activation"], layer["dropout"]) == (4, 64, "gelu", 0.1)
    tagger = import_torch(pt2["LSTMTagger"]).graph
    assert tagger.find("lstm").params["bidirectional"] and tagger.find("tokens").params["dtype"] == "int64"


@pytest.mark.parametrize("how", ["code", "pt2"])
def test_weights_shared_between_calls_stay_one_tensor(how, pt2):
    imported = import_torch(f"{CODE}:Siamese", models.MODELS["Siamese"]) if how == "code" else import_torch(
        pt2["Siamese"])
    graph = imported.graph
    first, second = graph.find("tower_conv"), graph.find("tower_conv_2")
    assert second.shares == first.id and graph.find("tower_fc_2").shares == graph.find("tower_fc").id
    model = compile_graph(graph)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in models.Siamese().parameters())
    assert {g.name for g in graph.groups} == {"tower", "tower #2"}


def test_frozen_parameters_make_frozen_blocks(tmp_path):
    code = tmp_path / "frozen.py"
    code.write_text("from torch import nn\n\n\ndef body_frozen():\n    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), "
                    "nn.Linear(8, 2))\n    net[0].requires_grad_(False)\n    return net\n")
    graph = import_torch(f"{code}:body_frozen", ["1x4"]).graph
    assert [n.name for n in graph.nodes if n.frozen] == ["m_0"]


def test_every_cause_is_named_once_with_what_depends_on_it():
    source = ("import torch\nfrom torch import nn\n\n\nclass Odd(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.fc = nn.Linear(4, 4)\n\n    def forward(self, x):\n"
              "        a = torch.cumsum(self.fc(x), 1)\n        b = torch.cumsum(x, 1)\n"
              "        return a + b + torch.sort(x, 1)[0]\n")
    with pytest.raises(TorchImportError) as caught:
        import_code(source, "Odd", [((4,), "float32")])
    message = str(caught.value)
    assert message.startswith("the code: netbuilder cannot import 2 operators of this model:")
    assert "- aten.cumsum.default (first at line 11): netbuilder has no block for this operator (2 nodes like it;" \
        in message
    assert "- aten.sort.default (first at line 13): netbuilder has no block for this operator (1 node;" in message
    assert "aten.add" not in message  # it fails because of the others, not for a reason of its own


@pytest.mark.parametrize("source, wanted", [
    ("import torch\nfrom torch import nn\nclass Net(nn.Module)\n    pass\n", "line 3: expected ':'"),
    ("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.fc = nn.Linear(4, 2)\n\n    def forward(self, x):\n        return self.fc(x.view(3, 7))\n",
     "line 10: RuntimeError"),
    ("from torch import nn\nNet = 3\n", "Net gives a int, not a torch.nn.Module"),
    ("x = 1\n", "defines no Net"),
])
def test_code_that_cannot_be_imported_says_where(source, wanted):
    with pytest.raises(TorchImportError) as caught:
        import_code(source, "Net", [((4,), "float32")])
    assert wanted in str(caught.value)


def test_the_command_line_imports_code_and_pt2_files(tmp_path, pt2, capsys):
    out = tmp_path / "tagger.json"
    assert main(["import", f"{CODE}:LSTMTagger", "--input", "int64:1x9", "-o", str(out)]) == 0
    assert "the graph matches the model's own outputs" in capsys.readouterr().out
    graph = Graph.load(out)
    assert graph.meta["weights"] == "tagger.pt" and "lstm.weight_ih_l0" in read_state(tmp_path / "tagger.pt")
    assert main(["import", f"{CODE}:LSTMTagger", "--input", "int64:1x9", "-o", str(out)]) == 1
    assert "is there already; give --force to replace it" in capsys.readouterr().err
    assert main(["import", str(pt2["SmallResNet"]), "-o", str(out), "--force"]) == 0
    assert Graph.load(out).find("fc").type == "Linear"
    assert main(["import", str(pt2["SmallResNet"]), "--input", "1x3x8x8", "-o", str(tmp_path / "r.json")]) == 1
    assert "a .pt2 file carries its own input shapes" in capsys.readouterr().err
    assert main(["import", f"{CODE}:SmallResNet", "--input", "1x3xAx8", "-o", str(tmp_path / "r.json")]) == 1
    assert "write the shape with the batch first" in capsys.readouterr().err


# ----- .pt2 files that would run code when torch.export.load reads them

class Payload:
    """Unpickling it would create a file: the test fails if the file appears."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def rewritten(path: Path, out: Path, change) -> Path:
    """The .pt2 archive with its entries passed through change(name, bytes) -> bytes."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return out


def test_a_pickled_payload_in_a_pt2_file_is_refused_unrun(pt2, tmp_path):
    marker = tmp_path / "ran.txt"
    evil = io.BytesIO()
    torch.save({"x": Payload(marker)}, evil)

    def change(name, data):
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            for meta in config["config"].values():
                meta["use_pickle"] = True
            return json.dumps(config).encode()
        if "/data/weights/weight_" in name:
            return evil.getvalue()
        return data

    with pytest.raises(TorchImportError, match="holds more than tensors"):
        import_torch(rewritten(pt2["SmallResNet"], tmp_path / "evil.pt2", change))
    assert not marker.exists()


def test_a_pt2_file_whose_guards_are_code_never_runs_them(pt2, tmp_path):
    marker = tmp_path / "guard.txt"

    def change(name, data):
        if name.endswith("models/model.json"):
            document = json.loads(data)
            document["guards_code"] = [f"__import__('pathlib').Path({str(marker)!r}).write_text('ran') or True"]
            return json.dumps(document).encode()
        return data

    imported = import_torch(rewritten(pt2["MobileBlockNet"], tmp_path / "guards.pt2", change))
    assert imported.max_abs_diff <= 1e-4 and not marker.exists()


@pytest.mark.parametrize("field, value, message", [
    ("target", "builtins.eval", "which is not an ATen operator"),
    ("expr_str", "__import__('os').getcwd()", "is not arithmetic of sizes"),
])
def test_a_pt2_file_that_names_other_functions_is_refused(pt2, tmp_path, field, value, message):
    def change(name, data):
        if name.endswith("models/model.json"):
            document = json.loads(data)
            graph = document["graph_module"]["graph"]
            if field == "target":
                graph["nodes"][0]["target"] = value
            else:
                graph["sym_int_values"] = {**graph.get("sym_int_values", {}),
                                           "s9": {"as_expr": {"expr_str": value, "hint": None}}}
            return json.dumps(document).encode()
        return data

    with pytest.raises(TorchImportError, match=message):
        import_torch(rewritten(pt2["Siamese"], tmp_path / "odd.pt2", change))


def test_files_that_are_not_programs_are_refused(tmp_path):
    state = tmp_path / "weights.pt2"
    torch.save(nn.Linear(2, 2).state_dict(), state)
    with pytest.raises(TorchImportError, match="not a torch.export file"):
        import_torch(state)
    (tmp_path / "junk.pt2").write_bytes(b"not a zip")
    with pytest.raises(TorchImportError, match="not a torch.export file"):
        import_torch(tmp_path / "junk.pt2")
    with pytest.raises(TorchImportError, match="no such file"):
        import_torch(tmp_path / "missing.pt2")
    assert pickle  # (the payload above is built with pickle's protocol through torch.save)
