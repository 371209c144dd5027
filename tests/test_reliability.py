"""The fault classes a hostile probe found (issue 24), each through the real `netbuilder` command as a person meets
it: one line naming the problem and exit status 1 (or it works), nothing left behind (no partial files, no stray
folders, no processes). The multi-process classes are in test_reliability_processes.py."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netbuilder.core.base.errors import NetbuilderError
from tests.conftest import EXAMPLES, ROOT


def netbuilder(*args, cwd=ROOT, timeout=300, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netbuilder.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)}, **popen)


def one_line(run: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed as a user's error does: status 1, its one line naming the problem, no traceback."""
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netbuilder: error: "), run.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def example(name: str, tmp_path: Path, **meta) -> Path:
    doc = json.loads((EXAMPLES / f"{name}.json").read_text())
    doc["meta"].update(meta)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


# ----- 1. a NUL byte in the weights a graph names

@pytest.mark.parametrize("command", [["export", "-o", "out.onnx"], ["export", "-o", "out.py"],
                                     ["train", "--epochs", "1", "--out", "run"]])
def test_a_nul_byte_in_the_graph_s_weights_name_is_refused_in_a_line(tmp_path, command):
    graph = example("mlp_xor", tmp_path, weights="w\x00.pt")
    before = files_under(tmp_path)
    run = netbuilder(command[0], graph, *command[1:], cwd=tmp_path)
    one_line(run, "'weights' must name a file", "\\x00")
    assert files_under(tmp_path) == before


def test_a_nul_byte_in_a_path_is_the_machine_s_refusal_not_python_s_value_error(tmp_path):
    from netbuilder.core.base.files import read_regular_file

    with pytest.raises(OSError, match="cannot hold a NUL character"):
        read_regular_file(tmp_path / "a\x00b", 10)


# ----- 2. an ONNX input within every per-dimension bound, but over 2**31 values a sample

def test_an_onnx_input_of_over_2_31_values_a_sample_is_refused_by_name(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 65536, 65536])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 65536, 65536])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, tmp_path / "big.onnx")
    run = netbuilder("import", tmp_path / "big.onnx", "-o", tmp_path / "g.json")
    one_line(run, "big.onnx: input 'x': 65536x65536 is 4,294,967,296 values a sample")
    assert files_under(tmp_path) == ["big.onnx"]


def test_the_import_s_internal_refusal_is_a_user_error_and_never_leaves_the_package():
    from netbuilder.core.exchange.onnx_import.refusals import OnnxImportError, Refusal
    from netbuilder.core.model.graph_files import _HugeNumber

    assert issubclass(Refusal, OnnxImportError) and issubclass(_HugeNumber, NetbuilderError)


def test_every_exception_netbuilder_defines_is_a_user_s_error_or_a_signal_or_a_bug():
    """What a user's input can cause derives from NetbuilderError: every exception class core and the command line
    define does, but the signal (Terminated: SIGTERM, stops as Ctrl+C does) and the wrapper of a worker's bug."""
    import importlib
    import inspect
    import pkgutil

    import netbuilder.cli
    import netbuilder.core

    found = {}
    for package in (netbuilder.core, netbuilder.cli):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):  # (runs the command line)
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                    found[f"{info.name}.{name}"] = value
    assert len(found) > 20
    others = sorted(name for name, cls in found.items() if not issubclass(cls, NetbuilderError))
    assert others == ["netbuilder.cli.main.Terminated", "netbuilder.core.training.distributed.WorkerBug"], others


# ----- 3. a title that holds a backslash, quotes and a marker of the script's template

def test_a_title_holding_a_template_marker_is_written_as_text_into_train_py(tmp_path):
    title = 'C:\\new "net" __INPUT_DTYPE__ """ __DEFAULTS__ \\'
    graph = example("mlp_xor", tmp_path, title=title)
    run = netbuilder("export", graph, "--training-script", "-o", tmp_path / "script")
    assert run.returncode == 0, run.stderr
    script = (tmp_path / "script" / "train.py").read_text()
    namespace: dict = {}
    exec(compile(script.split("\nimport argparse", 1)[0], "train.py", "exec"), namespace)  # the docstring alone
    assert namespace["__doc__"].startswith(f"Train {title}: written by netbuilder")
    assert "INPUT_DTYPE = 'float32'" in script
    help_run = subprocess.run([sys.executable, "train.py", "--help"], cwd=tmp_path / "script", capture_output=True,
                              text=True, timeout=120)
    assert help_run.returncode == 0 and title in " ".join(help_run.stdout.split()), help_run.stderr[-2000:]


# ----- 5. a picture over Pillow's decompression-bomb limit; 6. a seed of 2**64

def test_a_decompression_bomb_given_to_inspect_is_refused_in_a_line(tmp_path):
    from PIL import Image

    Image.new("L", (15000, 15000)).save(tmp_path / "bomb.png")  # 225 megapixels in 200 KB
    run = netbuilder("inspect", EXAMPLES / "lenet5.json", "--image", tmp_path / "bomb.png", "-o", tmp_path / "o.png")
    one_line(run, "bomb.png: a picture of 225,000,000 pixels is more than netbuilder reads")
    assert files_under(tmp_path) == ["bomb.png"]


def test_a_seed_of_2_64_is_refused_by_the_option(tmp_path):
    run = netbuilder("inspect", EXAMPLES / "lenet5.json", "--seed", 2**64, "--show", "filters", "-o", tmp_path / "o.png")
    one_line(run, "--seed: must be 0..4294967295")
    assert not (tmp_path / "o.png").exists()


# ----- 7. a rendezvous endpoint that cannot be

@pytest.mark.parametrize("endpoint, words", [("localhost:99999", "the port must be a whole number from 1 to 65535"),
                                             ("localhost", "write HOST:PORT"), ("a b:29400", "'a b' is not a host"),
                                             ("no-such-host.invalid:29400", "no machine is known by the name")])
def test_a_bad_rendezvous_endpoint_is_refused_before_any_process_starts(tmp_path, endpoint, words):
    run = netbuilder("train", EXAMPLES / "mlp_xor.json", "--rdzv-endpoint", endpoint, "--out", tmp_path / "run")
    one_line(run, words)
    assert files_under(tmp_path) == []


# ----- an output whose folder is missing; argparse's own refusals

@pytest.mark.parametrize("command", [
    ["inspect", EXAMPLES / "lenet5.json", "--show", "filters", "-o", "{missing}/o.png"],
    ["export", EXAMPLES / "mlp_xor.json", "-o", "{missing}/m.onnx"],
    ["export", EXAMPLES / "mlp_xor.json", "--training-script", "-o", "{missing}/script"],
    ["import", EXAMPLES / "transfer_learning.pt", "-o", "{missing}/g.json"],
    ["train", EXAMPLES / "mlp_xor.json", "--epochs", "1", "--out", "{missing}/run"],
])
def test_an_output_in_a_folder_that_does_not_exist_is_refused_and_no_folder_is_made(tmp_path, command):
    missing = tmp_path / "nonexistent" / "dir"
    run = netbuilder(*[str(a).replace("{missing}", str(missing)) for a in command], cwd=tmp_path)
    one_line(run, f"the folder {missing} does not exist")
    assert files_under(tmp_path) == []


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_runs_folder(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,cat\n")
    graph = example("mlp_xor", tmp_path)
    run = netbuilder("train", graph, "--data", f"csv:{tmp_path / 'd.csv'}:label=nothere", "--epochs", "1",
                     cwd=tmp_path)
    one_line(run)
    assert files_under(tmp_path) == ["d.csv", "mlp_xor.json"]


def test_a_mistyped_option_is_one_line_and_status_1(tmp_path):
    one_line(netbuilder("train", "g.json", "--epochs", "abc", cwd=tmp_path), "--epochs: invalid int value",
             "netbuilder train --help")
    one_line(netbuilder("frobnicate", cwd=tmp_path), "invalid choice")


# ----- 11. a streamed image folder with an unreadable or a vanished image

def image_folder(root: Path, per_class: int = 12) -> Path:
    from PIL import Image

    for c in range(2):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (i * 10, c * 100, 0)).save(root / f"c{c}" / f"{i}.png")
    return root


def image_graph(path: Path) -> Path:
    from netbuilder.core.model.graph import Graph

    graph = Graph()
    chain = [graph.add_node("Input", {"shape": [3, 8, 8]}, name="x"), graph.add_node("Flatten"),
             graph.add_node("Linear", {"out_features": 2}), graph.add_node("Output", name="y")]
    for a, b in zip(chain, chain[1:]):
        graph.connect(a.id, b.id)
    graph.save(path)
    return path


def test_a_streamed_image_folder_with_an_unreadable_image_names_the_file_in_one_line(tmp_path):
    images = image_folder(tmp_path / "images")
    whole = (images / "c1" / "5.png").read_bytes()
    from PIL import Image

    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(images / "c1" / "5.png")
    (images / "c1" / "5.png").write_bytes((images / "c1" / "5.png").read_bytes()[:300])  # the header reads, not the rest
    assert whole
    run = netbuilder("train", image_graph(tmp_path / "g.json"), "--data", f"images:{images}", "--memory-budget", "0",
                     "--epochs", "1", "--out", tmp_path / "run")
    line = one_line(run, f"{images / 'c1' / '5.png'}: not a readable image")
    assert "DataLoader" not in line and "Traceback" not in line and "worker.py" not in line
    assert not (tmp_path / "run").exists()


def test_a_streamed_image_that_vanishes_mid_run_names_the_file_in_one_line(tmp_path):
    images = image_folder(tmp_path / "images")
    run = subprocess.Popen([sys.executable, "-m", "netbuilder.cli", "train", str(image_graph(tmp_path / "g.json")),
                            "--data", f"images:{images}", "--memory-budget", "0", "--epochs", "10000", "--out",
                            str(tmp_path / "run")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "run" / "checkpoint.pt").exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None, run.communicate()[1][-2000:]
        for path in (images / "c0").iterdir():  # an epoch later, a reader meets a hole
            path.unlink()
        _, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    lines = [line for line in err.splitlines() if line.startswith("netbuilder:")]
    assert run.returncode == 1 and len(lines) == 1 and err.splitlines()[-1] == lines[0], err[-2000:]
    assert re.search(rf"error: {re.escape(str(images / 'c0'))}/\d+\.png: not a readable image \(\[Errno 2\]", lines[0])
    assert "DataLoader" not in lines[0]
    assert not [name for name in os.listdir(tmp_path / "run") if name.endswith(".tmp")]


# ----- 9. memory that the process's own address-space limit does not give

def wide_graph(path: Path) -> Path:
    from netbuilder.core.model.graph import Graph

    graph = Graph()
    chain = [graph.add_node("Input", {"shape": [2048]}, name="x"), graph.add_node("Linear", {"out_features": 32768}),
             graph.add_node("Linear", {"out_features": 2}), graph.add_node("Output", name="y")]  # 256 MB of weights
    for a, b in zip(chain, chain[1:]):
        graph.connect(a.id, b.id)
    graph.save(path)
    return path


def address_space_after_imports() -> int:
    """The address space (bytes) a process holds once torch, onnx and onnxruntime are imported: the floor a limit
    is set above (a CUDA build of torch maps far more than a CPU one)."""
    probe = subprocess.run([sys.executable, "-c", "import torch, onnx, onnxruntime, netbuilder.cli; import re; print("
                            "re.search(r'VmSize:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    return int(probe.stdout.split()[-1]) * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.parametrize("command", [["export", "-o", "wide.onnx"], ["export", "-o", "wide.py"],
                                     ["train", "--data", "csv:wide.csv:label=y", "--epochs", "1", "--batch-size", "20",
                                      "--out", "run"]])
def test_memory_an_address_space_limit_does_not_give_is_refused_in_a_line(tmp_path, command):
    import resource

    graph = wide_graph(tmp_path / "wide.json")
    rows = [",".join([*(f"f{i}" for i in range(2048)), "y"])]
    rows += [",".join([*(str((r * i) % 7) for i in range(2048)), str(r % 2)]) for r in range(40)]
    (tmp_path / "wide.csv").write_text("\n".join(rows))
    limit = address_space_after_imports() + 600 * 2**20

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    run = netbuilder(command[0], graph, *command[1:], cwd=tmp_path, preexec_fn=limited)
    line = one_line(run)
    assert "memory limit (ulimit) leaves" in line or "out of memory" in line, line
    assert files_under(tmp_path) == ["wide.csv", "wide.json"]
