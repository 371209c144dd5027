"""`netbuilder info`: a table or JSON for a good file; exit status 1 and one line for a bad one."""
import json
import subprocess
import sys

import pytest

from netbuilder.cli import main
from tests.conftest import EXAMPLES


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "netbuilder.cli", *args], capture_output=True, text=True)


def test_info_prints_every_layer_and_the_totals(capsys):
    assert main(["info", str(EXAMPLES / "lenet5.json")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("LeNet-5")
    assert lines[1].split() == ["name", "type", "output", "params", "MACs"]
    assert lines[3].split()[:4] == ["conv1", "Conv2d", "6x28x28", "156"]
    assert len(lines) == 2 + 14 + 1  # title, header, 14 blocks, totals
    assert "total: 61,706 parameters" in lines[-1]


def test_info_json_has_totals_and_layers(capsys):
    assert main(["info", str(EXAMPLES / "resnet18.json"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["total_params"] == 11_689_512 and info["ok"] is True
    fc = info["layers"][-2]
    assert {k: fc[k] for k in ("name", "type", "output_shape", "params")} == {
        "name": "fc", "type": "Linear", "output_shape": [1000], "params": 513_000}
    assert len(info["layers"]) == 70


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the file: No such file or directory"),
    (b"{not json", "not valid JSON: line 1, column 2: Expecting property name enclosed in double quotes"),
    (b'{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "a", "type": "Conv3x", "name": "c"}], '
     b'"edges": []}', "nodes[0] (id 'a'): unknown layer type 'Conv3x'"),
])
def test_bad_files_exit_1_with_one_line_and_no_traceback(tmp_path, content, message):
    path = tmp_path / "graph.json"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("info", str(path))
    assert result.returncode == 1
    assert result.stderr == f"netbuilder: error: {path}: {message}\n"
    assert result.stdout == ""


def test_a_graph_with_shape_errors_shows_the_table_and_exits_1(tmp_path, capsys):
    from netbuilder.core.model.graph import Graph

    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    graph.set_param(graph.find("conv2").id, "kernel_size", 9)
    graph.save(tmp_path / "broken.json")
    assert main(["info", str(tmp_path / "broken.json")]) == 1
    captured = capsys.readouterr()
    assert "conv2" in captured.out and "error" in captured.out
    assert captured.err.startswith("netbuilder: error: conv2 (Conv2d): the 9x9 kernel is larger than its 8x8 input; "
                                   "lower the kernel or the pooling above it")
    assert len(captured.err.splitlines()) == 1
