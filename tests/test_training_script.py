"""`netbuilder export GRAPH --training-script -o DIR`: a standalone model.py + train.py (torch only) that trains
the graph with its recipe for defaults, under torchrun in two processes; its weights load back into the graph."""
import ast
import subprocess
import sys

import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import load_partial
from netbuilder.core.exchange.training_script import TrainingScriptError, export_training_script
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


def test_the_generated_script_trains_an_epoch_with_torchrun_in_two_processes(tmp_path, capsys):
    folder = tmp_path / "xor"
    assert main(["export", str(EXAMPLES / "mlp_xor.json"), "--training-script", "-o", str(folder)]) == 0
    assert "model.py" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["augment.py", "data.pt", "model.py", "train.py"]
    source = (folder / "train.py").read_text()
    imports = {a.name.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
               for a in node.names}
    imports |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom) and node.module}
    allowed = {"argparse", "csv", "gzip", "math", "os", "time", "pathlib", "torch", "model", "augment"}
    assert imports <= allowed  # torch only (augment.py: netbuilder's augmentation, torch and math)
    assert "'epochs': 150" in source and "'lr': 0.05" in source and "'data': 'data.pt'" in source  # the recipe
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "train.py", "--epochs", "1"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "2 processes on cpu" in run.stdout and run.stdout.count("epoch 1/1") == 1  # rank 0 reports
    assert "test accuracy" in run.stdout and "wrote trained.pt" in run.stdout
    graph = Graph.load(EXAMPLES / "mlp_xor.json")
    model = compile_graph(graph)
    loaded = load_partial(model, folder / "trained.pt")
    assert not loaded.skipped  # every tensor fits the graph (and the normalization is the model's)
    state = torch.load(folder / "trained.pt", weights_only=True)
    assert not torch.equal(state["normalize_x_std"], torch.ones_like(state["normalize_x_std"]))
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["processes"] == 2


def test_document_text_reaches_the_script_as_text_and_loss_blocks_are_refused(tmp_path):
    graph = Graph.load(EXAMPLES / "mlp_xor.json")
    graph.meta["title"] = 'x"""\nimport os; os.remove("everything")\n"""'
    export_training_script(graph, tmp_path / "s")
    tree = ast.parse((tmp_path / "s" / "train.py").read_text())
    assert ast.get_docstring(tree).startswith('Train x"""\nimport os; os.remove("everything")')
    assert not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "remove" for n in ast.walk(tree))
    with pytest.raises(TrainingScriptError, match="this graph has loss blocks .* train it with `netbuilder train`"):
        export_training_script(Graph.load(EXAMPLES / "gan_ring.json"), tmp_path / "gan")
