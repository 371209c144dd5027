"""No file a user has is replaced without being told: import (the graph and its weights), export (ONNX, PyTorch code
and the weights it loads, the training script's folder) refuse a file in the way, name it in one line and write
nothing; --force (the core functions' `overwrite`) replaces it."""
import hashlib

import pytest

from netbuilder.cli import main
from netbuilder.core.base.files import OverwriteError
from netbuilder.core.exchange.codegen import export_code
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.exchange.onnx_import import import_onnx_file
from netbuilder.core.exchange.training_script import export_training_script
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES

XOR = str(EXAMPLES / "mlp_xor.json")


def digest(*paths) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def refused(capsys, path) -> None:
    err = capsys.readouterr().err
    assert err == f"netbuilder: error: {path} is there already; give --force to replace it\n"


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "xor.onnx"
    export_onnx(Graph.load(XOR), path)
    return path


def test_import_refuses_to_replace_the_graph_or_its_weights_without_force(onnx_file, tmp_path, capsys):
    graph, weights = tmp_path / "g.json", tmp_path / "g.pt"
    assert main(["import", str(onnx_file), "-o", str(graph)]) == 0
    graph.write_text("my own graph")
    before = digest(graph, weights)
    assert main(["import", str(onnx_file), "-o", str(graph)]) == 1
    refused(capsys, graph)
    graph.unlink()
    assert main(["import", str(onnx_file), "-o", str(graph)]) == 1
    refused(capsys, weights)
    assert not graph.exists() and digest(weights) == before[1:]
    graph.write_text("my own graph")
    assert main(["import", str(onnx_file), "-o", str(graph), "--force"]) == 0
    assert Graph.load(graph).meta["weights"] == "g.pt"
    with pytest.raises(OverwriteError, match="g.json already exists; it was not replaced"):
        import_onnx_file(onnx_file, graph)
    import_onnx_file(onnx_file, graph, overwrite=True)


def test_export_refuses_to_replace_onnx_code_and_its_weights_without_force(tmp_path, capsys):
    onnx_out = tmp_path / "m.onnx"
    onnx_out.write_text("someone's model")
    assert main(["export", XOR, "-o", str(onnx_out)]) == 1
    refused(capsys, onnx_out)
    assert onnx_out.read_text() == "someone's model"
    assert main(["export", XOR, "-o", str(onnx_out), "--force"]) == 0
    assert onnx_out.stat().st_size > 100

    # the .py, and the weights file the .py loads
    weights = tmp_path / "trained.pt"
    from netbuilder.core.build.compile import compile_graph
    from netbuilder.core.build.weights import save_weights

    save_weights(compile_graph(Graph.load(XOR)), weights)
    code, code_weights = tmp_path / "model.py", tmp_path / "model.pt"
    code_weights.write_text("the weights another model.py loads")
    assert main(["export", XOR, "--weights", str(weights), "-o", str(code)]) == 1
    refused(capsys, code_weights)
    assert not code.exists() and code_weights.read_text() == "the weights another model.py loads"
    assert main(["export", XOR, "-o", str(code)]) == 0, "fresh weights: no model.pt is written, none is in the way"
    assert main(["export", XOR, "-o", str(code)]) == 1
    refused(capsys, code)
    assert main(["export", XOR, "--weights", str(weights), "-o", str(code), "--force"]) == 0
    assert code_weights.stat().st_size > 100
    with pytest.raises(OverwriteError):
        export_code(Graph.load(XOR), code)
    with pytest.raises(OverwriteError):
        export_onnx(Graph.load(XOR), onnx_out)
    export_onnx(Graph.load(XOR), onnx_out, overwrite=True)


def test_the_training_script_refuses_to_replace_its_files_without_force(tmp_path, capsys):
    folder = tmp_path / "script"
    assert main(["export", XOR, "--training-script", "-o", str(folder)]) == 0
    (folder / "train.py").write_text("# my changes")
    assert main(["export", XOR, "--training-script", "-o", str(folder)]) == 1
    refused(capsys, folder / "model.py")
    (folder / "model.py").unlink()
    assert main(["export", XOR, "--training-script", "-o", str(folder)]) == 1
    refused(capsys, folder / "train.py")
    assert (folder / "train.py").read_text() == "# my changes" and not (folder / "model.py").exists()
    assert main(["export", XOR, "--training-script", "-o", str(folder), "--force"]) == 0
    assert "def main" in (folder / "train.py").read_text()
    with pytest.raises(OverwriteError, match="model.py"):
        export_training_script(Graph.load(XOR), folder)
