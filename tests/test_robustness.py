"""Each case a hostile or unlucky user met (issue 13), as a regression test: a message instead of a traceback,
nothing written or damaged, resources refused before they are exhausted, files left as a person expects."""
import gzip
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.base.files import atomic_write_text
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import WeightsError, load_weights, read_tensors, save_weights
from netbuilder.core.checks.memory import MemoryGuardError, check_fits, estimate
from netbuilder.core.data import DataError, load_dataset
from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx
from netbuilder.core.model.graph import Graph, GraphError
from tests.conftest import EXAMPLES, ROOT


def cli(capsys, *args):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("netbuilder: error: "), err[:500]
    assert "Traceback" not in err and len(err) < 500
    return err


def document(nodes, edges=(), meta=None):
    return {"format": "netbuilder.graph", "version": 1, "meta": meta or {}, "nodes": nodes, "edges": list(edges)}


def chain_doc(*layers, shape=(3, 8, 8)):
    """Input -> layers -> Output as a document dict."""
    nodes = [{"id": "x", "type": "Input", "name": "x", "params": {"shape": list(shape)}}]
    for i, (type_name, params) in enumerate(layers):
        nodes.append({"id": f"b{i}", "type": type_name, "name": f"b{i}", "params": params})
    nodes.append({"id": "y", "type": "Output", "name": "y"})
    edges = [{"src": a["id"], "src_port": "out", "dst": b["id"], "dst_port": "in"} for a, b in zip(nodes, nodes[1:])]
    return document(nodes, edges)


# ----- graph documents: messages, never tracebacks

@pytest.mark.parametrize("text, message", [
    ('{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "a", "type": "Dropout", "name": "d", '
     '"params": {"p": 1' + "0" * 400 + '}}], "edges": []}', "not a graph document: it holds a number of 401 digits"),
    ('{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "a", "type": "Dropout", "name": "d", '
     '"params": {"p": 1' + "0" * 5000 + '}}], "edges": []}', "it holds a number of 5,001 digits"),
    ('{"format": "netbuilder.graph", "version": 1, "meta": {"title": "\\ud800"}, "nodes": [], "edges": []}',
     "'meta' holds text that is not valid Unicode"),
    ('{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "\\udc80", "type": "ReLU", "name": "r"}], '
     '"edges": []}', "a block id must be a string of 1 to 64 characters"),
    ('{"format": "netbuilder.graph", "version": 1, "nodes": [{"id": "a", "type": "ReLU", "name": "\\ud800"}], '
     '"edges": []}', "is not a valid block name"),
])
def test_documents_that_crashed_the_loader_are_refused_in_a_line(tmp_path, capsys, text, message):
    path = tmp_path / "g.json"
    path.write_text(text)
    with pytest.raises(GraphError, match=message):
        Graph.load(path)
    status, _, err = cli(capsys, "info", path)
    assert status == 1 and message in one_line(err)


def test_numbers_too_large_for_a_float_are_refused_by_the_param_checks():
    g = Graph()
    drop = g.add_node("Dropout")
    for value in (10**400, -(10**5000)):
        with pytest.raises(GraphError, match=r"'p' must be a number, got a whole number of about \d"):
            g.set_param(drop.id, "p", value)
    with pytest.raises(GraphError, match="a position must be two finite numbers"):
        g.move(drop.id, (10**400, 0))
    with pytest.raises(GraphError, match=r"got a whole number of about 5,001 digits"):
        g.set_param(g.add_node("Linear").id, "out_features", 10**5000)


def test_a_huge_bad_value_is_not_echoed_in_full():
    g = Graph()
    with pytest.raises(GraphError) as caught:
        g.set_param(g.add_node("Upsample").id, "mode", "x" * 2_000_000)
    assert len(str(caught.value)) < 200
    with pytest.raises(GraphError) as caught:
        g.add_node("Reshape", {"shape": ["x" * 1000] * 100_000})
    assert len(str(caught.value)) < 200 and "got a list of 100,000 values" in str(caught.value)


def test_a_cycle_of_10000_blocks_is_summarized(tmp_path, capsys):
    g = Graph()
    ids = [g.add_node("ReLU", name=f"b{i}").id for i in range(2, 10_002)]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    data = g.to_dict()
    data["edges"].append({"src": ids[-1], "src_port": "out", "dst": ids[0], "dst_port": "in"})
    with pytest.raises(GraphError) as caught:
        Graph.from_dict(data)
    assert str(caught.value) == "the wires form a cycle through 10,000 blocks: b2 -> b3 -> ... -> b2"
    with pytest.raises(GraphError, match=r"would make a cycle through 10,000 blocks: b10001 -> b2 -> \.\.\. -> b10001$"):
        g.connect(ids[-1], ids[0])


# ----- info says fine only when the graph can run and export

def _runs_in_torch(graph):
    """Whether PyTorch itself can run the graph and export it (legacy ONNX exporter): what info must match."""
    import io
    import warnings

    model = compile_graph(graph).eval()
    x = torch.randn(2, *graph.find("x").params["shape"])
    with torch.no_grad():
        model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), io.BytesIO(), dynamo=False)


@pytest.mark.parametrize("layer, params, message", [
    ("Upsample", {"scale_factor": 0.01}, "scale 0.01 makes 8x8 into 0x0"),
    ("ConvTranspose2d", {"output_padding": 64}, "output_padding 64 must be smaller than the stride (1) or the dilation"),
])  # (adaptive pooling of any output size trains: tests/test_adaptive_pooling.py)
def test_info_reports_what_torch_or_the_exporter_would_refuse(tmp_path, capsys, layer, params, message):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(chain_doc((layer, params))))
    status, _, err = cli(capsys, "info", path)
    assert status == 1 and message in one_line(err)
    # what info calls an error is one: torch or its exporter refuses it (the check is not on compile's path)
    graph = Graph.load(path)
    from netbuilder.core.checks import shapes

    original = shapes._precheck
    shapes._evaluate.cache_clear()
    try:
        shapes._precheck = lambda spec, p, signature: None  # without our checks, torch decides
        with pytest.raises(Exception):  # noqa: B017 - torch's own complaint, whatever its kind
            _runs_in_torch(graph)
    finally:
        shapes._precheck = original
        shapes._evaluate.cache_clear()


def test_the_same_layers_with_sound_params_run_and_export(tmp_path):
    for layer, params in [("Upsample", {"scale_factor": 0.25}), ("ConvTranspose2d", {"output_padding": 1, "stride": 2}),
                          ("AdaptiveAvgPool2d", {"output_size": 4})]:
        _runs_in_torch(Graph.from_dict(chain_doc((layer, params))))


# ----- the memory guard

def test_the_memory_guard_refuses_with_the_figure_and_what_the_machine_has():
    graph = Graph.from_dict(chain_doc(("Conv2d", {"out_channels": 4}), shape=(1, 46000, 46000)))
    plan = estimate(graph, 3)
    assert plan.activations >= 2 * 3 * 46000 * 46000 * 4  # a step's input and output, batch of 3, float32
    with pytest.raises(MemoryGuardError, match=r"^exporting needs about [\d.]+ GB \(weights .*activations [\d.]+ GB "
                                               r"for a batch of 3\); this machine has 16 GB of memory available$"):
        check_fits(graph, 3, what="exporting", available=16 * 2**30)
    small = Graph.load(EXAMPLES / "lenet5.json")
    assert check_fits(small, 64, training=True, optimizer_slots=2, available=16 * 2**30).total < 2**30
    training = estimate(small, 64, training=True, optimizer_slots=2)
    assert training.gradients == training.weights and training.optimizer == 2 * training.weights


@pytest.mark.parametrize("layers, shape", [
    ([("Upsample", {"scale_factor": 64.0})], (3, 8000, 8000)),  # terabytes of activations
    ([("Flatten", {}), ("Linear", {"out_features": 65536})], (5, 65536)),  # 21 billion parameters
])
def test_export_of_what_cannot_fit_is_refused_at_once(tmp_path, capsys, layers, shape):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(chain_doc(*layers, shape=shape)))
    start = time.perf_counter()
    for out in ("m.onnx", "m.py"):
        status, _, err = cli(capsys, "export", path, "-o", tmp_path / out)
        assert status == 1 and ("needs about" in one_line(err) or "parameters" in err)
    assert time.perf_counter() - start < 20 and sorted(os.listdir(tmp_path)) == ["g.json"]


# ----- ONNX import

def onnx_file(path, op="Gemm", opset=17, dims=(4,), weight=(3, 4), extra=None):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *dims])
    inits, attrs = [], dict(extra or {})
    if op == "Gemm":
        inits = [numpy_helper.from_array(np.ones(weight, np.float32) * 0.01, "w")]
        node = helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)
    elif op == "ConvTranspose":
        inits = [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")]
        node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attrs)
    else:
        node = helper.make_node(op, ["x"], ["y"])
    out_dims = {"Gemm": ["N", weight[0]], "ConvTranspose": ["N", 1, "H", "W"]}.get(op, ["N", *dims])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: onnx_file(p, opset=99), "it declares ONNX opset 99; netbuilder can check opsets 1 to"),
    (lambda p: onnx_file(p, op="Relu", dims=(70_000,)), "'shape' must be between 1 and 65536, got 70000"),
    (lambda p: onnx_file(p, op="ConvTranspose", dims=(1, 8000, 8000), extra={"strides": [256, 256]}),
     "checking m.onnx needs about"),
])
def test_onnx_files_that_crashed_the_importer_are_refused(tmp_path, capsys, make, message):
    path = make(tmp_path / "m.onnx")
    with pytest.raises(OnnxImportError if "checking" not in message else MemoryGuardError, match=message):
        import_onnx(path)
    status, _, err = cli(capsys, "import", path, "-o", tmp_path / "g.json")
    assert status == 1 and message in one_line(err)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from netbuilder.cli import main
sys.exit(main({args!r}))
"""


def test_a_disk_that_fills_up_during_import_gives_the_disk_s_message(tmp_path):
    model = onnx_file(tmp_path / "m.onnx", dims=(200,), weight=(200, 200))  # 160 KB of weights
    limit = 64 * 1024
    script = LIMITED.format(limit=limit, args=["import", str(model), "-o", str(tmp_path / "out" / "g.json")])
    (tmp_path / "out").mkdir()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"netbuilder: error: {tmp_path / 'out' / 'g.pt'}: File too large\n"
    assert os.listdir(tmp_path / "out") == [], "no graph without its weights, no temporary file left"


# ----- weights files

def tiny_graph(tmp_path):
    graph = Graph.from_dict(chain_doc(("Flatten", {}), ("Linear", {"out_features": 2}), shape=(3,)))
    graph.save(tmp_path / "g.json")
    return graph


@pytest.mark.parametrize("spoil, message", [
    (lambda t: torch.empty(t.shape, device="meta"), "b1.weight (a meta tensor, without data)"),
    (lambda t: t.to_sparse(), "b1.weight (sparse_coo layout)"),
])
def test_weights_with_meta_or_sparse_tensors_are_named(tmp_path, capsys, spoil, message):
    graph = tiny_graph(tmp_path)
    state = dict(compile_graph(graph).state_dict())
    state["b1.weight"] = spoil(state["b1.weight"])
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(WeightsError, match=f"not plain tensors: {message.replace('(', '[(]').replace(')', '[)]')}"):
        load_weights(compile_graph(graph), tmp_path / "w.pt")
    status, _, err = cli(capsys, "export", tmp_path / "g.json", "--weights", tmp_path / "w.pt", "-o", tmp_path / "m.py")
    assert status == 1 and message in one_line(err) and not (tmp_path / "m.py").exists()


def test_a_deflate_bomb_is_refused_before_it_is_inflated(tmp_path):
    graph = tiny_graph(tmp_path)
    save_weights(compile_graph(graph), tmp_path / "w.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(tmp_path / "w.pt") as good, zipfile.ZipFile(bomb, "w") as bad:
        for info in good.infolist():
            data = good.read(info)
            if info.filename.endswith("data/0"):
                data = bytes(300 * 2**20)  # 300 MB of zeros, a few hundred KB deflated
            bad.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**20
    with pytest.raises(WeightsError, match=r"declares 300 MB packed into [\d.]+ KB \(a zip bomb\?\); not read"):
        read_tensors(bomb)


# ----- dataset files

def test_a_gz_idx_file_with_corrupt_deflate_data_is_named(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 5)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))):
            data = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape) + array.tobytes()
            (tmp_path / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(data))
    target = tmp_path / "train-images-idx3-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[10:40] = b"\xff" * 30  # the start of the deflate stream
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"cannot read .*train-images-idx3-ubyte.gz: .*(invalid|Error|error)"):
        load_dataset(f"mnist:{tmp_path}")


def test_an_idx_header_that_declares_gigabytes_is_refused_without_reading_them(tmp_path):
    path = tmp_path / "big-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">iii", 2**20, 2**12, 2**12)))
    from netbuilder.core.data.readers import read_idx

    with pytest.raises(DataError, match="the header declares 1048576x4096x4096"):
        read_idx(path)


def test_a_csv_with_a_nan_label_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0.5\n3,4,nan\n5,6,1.5\n")
    with pytest.raises(DataError, match=r"t.csv line 3, label column 'y': 'nan' is not a finite number"):
        load_dataset(f"csv:{path}:label=y")


# ----- files on disk: modes, litter, things that are not files

def test_a_saved_file_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    graph = Graph.load(EXAMPLES / "mlp_xor.json")
    path = tmp_path / "g.json"
    old = os.umask(0o022)
    try:
        graph.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, "a new file: the umask's mode"
        path.chmod(0o640)
        graph.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        save_weights(compile_graph(graph), tmp_path / "w.pt")
        assert stat.S_IMODE((tmp_path / "w.pt").stat().st_mode) == 0o644
    finally:
        os.umask(old)


KILLED = """
import os, sys, time
from netbuilder.core.base.files import atomic_write
def write(tmp):
    open(tmp, "w").write("half")
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def test_the_temporary_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("old")
    writer = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert writer.stdout.readline() == "writing\n"
    writer.kill()
    writer.wait()
    assert len(os.listdir(tmp_path)) == 2 and path.read_text() == "old", "the old file intact, a temporary beside"
    Graph.load(EXAMPLES / "mlp_xor.json").save(path)  # a stale temporary is harmless: the next write goes on
    assert os.listdir(tmp_path) == ["g.json"], "and it is cleaned up"


def test_a_temporary_file_of_a_live_writer_is_left_alone(tmp_path):
    path = tmp_path / "g.json"
    live = tmp_path / f".g.json.{os.getppid()}.abc.tmp"  # our parent runs
    live.write_text("someone is writing")
    atomic_write_text(path, "new")
    assert live.exists() and path.read_text() == "new"


def test_a_fifo_given_as_a_file_is_refused_instead_of_hanging(tmp_path, capsys):
    fifo = tmp_path / "g.json"
    os.mkfifo(fifo)
    results = {}

    def run():
        results["status"] = main(["info", str(fifo)])
        for name, call in (("weights", lambda: read_tensors(fifo)), ("onnx", lambda: import_onnx(fifo)),
                           ("csv", lambda: load_dataset(f"csv:{fifo}:label=y"))):
            try:
                call()
            except (WeightsError, OnnxImportError, DataError) as e:
                results[name] = str(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert results["status"] == 1
    assert "not a regular file but a named pipe (FIFO)" in one_line(capsys.readouterr().err)
    assert all("not a regular file" in results[name] for name in ("weights", "onnx", "csv")), results


TRAIN_LONG = ["train", str(EXAMPLES / "mlp_xor.json"), "--data", "xor:n=20000", "--epochs", "500"]


def test_sigterm_stops_train_with_a_message(tmp_path):
    run = subprocess.Popen([sys.executable, "-m", "netbuilder.cli", *TRAIN_LONG, "--out", str(tmp_path / "run")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "run" / "checkpoint.pt").exists():
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 1
    assert err.splitlines()[-1] == ("netbuilder: error: terminated (SIGTERM); files being written were left as "
                                    "they were")
    assert "Traceback" not in err
    assert not [name for name in os.listdir(tmp_path / "run") if name.endswith(".tmp")]


def test_a_second_sigterm_while_stopping_does_not_cut_the_stop_short():
    """Once SIGTERM has started a command's stop (the run marked stopped, a dead launcher's folder removed), more
    SIGTERMs (a worker's watchdog sends one again when its launcher dies) are ignored: a second one once cut a
    worker's removal of that folder in half."""
    code = ("import os, signal, sys\n"
            "from netbuilder.cli.main import Terminated, _terminate\n"
            "signal.signal(signal.SIGTERM, _terminate)\n"
            "try:\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    signal.pause()\n"
            "except Terminated:\n"
            "    os.kill(os.getpid(), signal.SIGTERM)  # during the stop's own work\n"
            "    print('stopped cleanly', signal.getsignal(signal.SIGTERM) == signal.SIG_IGN)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["stopped", "cleanly", "True"]
