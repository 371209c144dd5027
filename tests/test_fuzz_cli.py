"""Generated command lines: every option of every command (the table below covers them all; a test says so),
given extreme numbers, odd text and hostile files, in-process through netbuilder.cli.main.

Whatever the command line: the contract of tests/fuzzing.py (exit 0 or 1, one line, nothing left behind, no
process left). Values are drawn so that no example can run long: a valid number of epochs is small, the
datasets are tiny and generated, and options that would start other processes (--nproc-per-node, a rendezvous
endpoint) or download a dataset are given only values that are refused before anything starts.
"""
import argparse
import io
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.cli.main import build_parser
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES
from tests.fuzzing import FUZZ, check_cli, folder

INTS = ["-1", "0", "1", "2", "3", "7", "-9223372036854775809", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "1" + "0" * 30, "7" * 5000, "1e3", "0x10", " 3", "\uff13", "", "-0", "+5", "nan"]
FLOATS = ["nan", "inf", "-inf", "1e308", "1e309", "1e-320", "-1", "0", "0.001", "0.05", "0.5", "0.999", "1", "2",
          "100", "101", "0x1p3", "", "abc", "-0.0", "1_0.5", "1" * 400]
TEXT = ["", " ", "-", "x", "\udcff", "\u00e9t\u00e9", "a" * 300, "../../x", "/", ".", "..", "a\tb", "a\nb", "%s%n",
        "{}", "'\"", "--data", "-1", "NUL\x01"]
CHEAP_EPOCHS = ["1", "2", "0", "-1", "100001", "9223372036854775808", "", "x", "1e3", "2.5"]

HOSTILE_GRAPHS = ["missing.json", "folder", "garbage.pt", "\udcff.json", "", "empty.json", "-"]
HOSTILE_FILES = ["garbage.pt", "empty.pt", "missing.pt", "folder", "xor.json", "m.onnx", "pic.png", "garbage.png",
                 "\udcff.pt", "", "checkpoint.pt", "w_xor.pt"]
HOSTILE_DATA = ["csv:d.csv:label=zz", "csv:missing.csv:label=y", "xor:n=0", "xor:n=-3", "xor:n=1e9",
                "xor:n=99999999999999999999", "xor:q=1", "xor:n=40:n=50", "nope", "", ":", "xor::", "csv:",
                "images:folder", "images:missing", "mnist:folder", "\udcff", "xor:noise=nan", "csv:garbage.pt:label=y",
                "xor:n=40:seed=18446744073709551616", "digits:size=100000", "circles:n=2", "csv:d.csv:label=a"]
OUTS = ["out/run", ".", "", "-", "\udcff", "a" * 300, "xor.json", "folder", "missing/dir", "run/../.."]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]

# option: (sound values, hostile values). An example is a sound command line with one or two options made
# hostile (sometimes its graph): deep enough to reach the code behind each option, not only argparse.
RUN_IDS = (["1", "last"], ["0", "-1", "99", "x", "", "\udcff", "../..", "7" * 5000, "last2", "001-x"])
TABLE = {
    "info": {"--json": (["--json"], [])},
    "check": {"--json": (["--json"], []), "--data": (["xor:n=40"], HOSTILE_DATA), "--batch-size": (["1", "100"], INTS),
              "--device": (["auto", "cpu"], ["cuda", "mps", *TEXT[:4]]), "--optimizer": (OPTIMIZERS, TEXT[:4]),
              "--run": RUN_IDS},
    "runs": {"--json": (["--json"], []), "--compare": ([("1", "1"), ("1", "last")], [("x",), ("1", "99"), ("",)]),
             "--trash": (["--trash"], []), "--delete": (["1"], RUN_IDS[1]), "--restore": (["1"], RUN_IDS[1]),
             "--empty-trash": (["--empty-trash"], []),
             "--rename": ([("1", "renamed")], [("1", "\udcff"), ("x", "y"), ("1", "a" * 300), ("1", "../x"), ("1", ""),
                                               ("1", "a/b"), ("1", "last")]),
             "--note": ([("1", "a note")], [("1", "\udcff"), ("99", "x"), ("1", "a" * 100_000), ("1", "\x00\x1b[31m")]),
             "--star": (["1"], RUN_IDS[1]), "--unstar": (["1"], RUN_IDS[1])},
    "sweep": {"--param": (["lr=0.01:0.1:log", "fc1.out_features=2:8:int", "optimizer=adam,sgd"],
                          ["lr", "lr=", "lr=1:0", "lr=x:y", "nope=1:2", "lr=0:1:log", "lr=nan:1", "a,b", "\udcff=1",
                           "lr=1e-400:1", "fc1.out_features=0:3:int", "fc9.p=1:2", "lr=1:2:cube"]),
              "--trials": (["1", "2"], ["0", "-1", "x", "", "1e3", "7" * 5000]), "--timeout": (["60"], FLOATS),
              "--sampler": (["random", "tpe", "grid"], ["x"]), "--sampler-seed": (["0"], INTS),
              "--prune": (["--prune"], []), "--workers": (["1"], ["0", "-1", "9223372036854775808", "x"]),
              "--storage": ([], ["", "sqlite://", "sqlite:///missing/dir/s.db", "mysql://", "\udcff",
                                 "postgresql://x@127.0.0.1:1/db", "sqlite:///xor.json", "nope://x"]),
              "--study": (["s1"], TEXT), "--metric": (["val_loss", "val_metric"], ["x"]),
              "--direction": (["min", "max"], ["x"]), "--json": (["--json"], []),
              "--data": (["xor:n=40"], HOSTILE_DATA), "--epochs": (["1"], ["0", "-1", "100001", "", "x"]),
              "--set": (["batch_size=8", "optimizer=sgd"], ["batch_size=x", "nope=1", "=", "lr", "lr=nan",
                                                          "optimizer=zz", "batch_size=0", "seed=-1"]),
              "--device": (["cpu"], ["cuda", "mps", "x"]),
              "--apply-best": ([], ["--apply-best"]), "--show": ([], ["--show"]),  # (they read a study: no --param)
              "-o": ([], ["new.json", "", "xor.json", "out/n.json", "folder", "n.txt"]),
              "--force": (["--force"], [])},
    "augment": {"--augment": (["flip", "rotate=15", "noise=0.1"], ["", "x", "rotate=1e999", "flip,,", "rotate=-1",
                                                                 "noise=nan", "flip=2", *TEXT[4:8]]),
                "--data": (["digits:size=32"], HOSTILE_DATA), "--seed": (["0", "5"], INTS),
                "--count": (["1", "4"], INTS), "-o": (["grid.png"], ["grid.jpg", "", "out/g.png", "folder", "xor.json"])},
    "plan": {"--batch-size": (["1", "100", "1000000"], INTS), "--device": (["auto", "cpu"], ["cuda", "mps", "tpu"]),
             "--optimizer": (OPTIMIZERS, ["x", ""])},
    "train": {
        "--data": (["xor:n=40", "circles:n=40:noise=0.1", "csv:d.csv:label=y"], HOSTILE_DATA),
        "--epochs": (["1", "2"], ["0", "-1", "100001", "9223372036854775808", "", "x", "1e3", "2.5"]),
        "--batch-size": (["1", "8", "50", "1000000"], INTS), "--lr": (["0.05", "0.001", "1"], FLOATS),
        "--optimizer": (OPTIMIZERS, TEXT[:3]), "--momentum": (["0.9", "0"], FLOATS), "--beta1": (["0.5", "0.9"], FLOATS),
        "--weight-decay": (["0", "0.01"], FLOATS), "--l1": (["0", "0.001"], FLOATS),
        "--loss": (["auto", "cross_entropy", "mse", "l1", "bce_with_logits"], ["x", ""]),
        "--schedule": (["none", "step", "exponential", "cosine", "plateau"], ["x"]), "--step-size": (["1", "3"], INTS),
        "--gamma": (["0.5", "1"], FLOATS), "--grad-clip": (["0", "1"], FLOATS), "--early-stopping": (["0", "1"], INTS),
        "--augment": (["noise", ""], ["flip", "crop,noise", ",", "flip,flip", "x", "flip,,crop", *TEXT[4:7]]),
        "--memory-budget": (["1000", "0"], FLOATS), "--val-fraction": (["0.1", "0.3", "0"], FLOATS),
        "--test-fraction": (["0.2", "0"], FLOATS), "--seed": (["0", "42", "4294967295"], INTS),
        "--device": (["cpu", "auto"], ["cuda", "mps", "x"]), "--bf16": (["--bf16"], []), "--fp16": (["--fp16"], []),
        "--weights": (["w_xor.pt"], HOSTILE_FILES), "--statistics": (["0", "1", "20"], INTS), "--run": RUN_IDS,
        "--name": (["first"], TEXT), "--note": (["tried"], TEXT), "--resume": (["checkpoint.pt"], HOSTILE_FILES),
        "--out": (["run", "out"], OUTS),
        "--compile": (["off", "auto"], ["x"]), "--tune": (["auto", "off"], ["x"]),
        "--nproc-per-node": ([], ["0", "-1", "1025", "9223372036854775808", "x", ""]),  # never starts processes
        "--nnodes": ([], ["0", "-1", "10001", "x"]),
        "--rdzv-endpoint": ([], ["localhost:99999", "localhost", "a b:1", ":1", "[::1:5", "x" * 300 + ":1",
                                 "localhost:0", "localhost:-1", "\udcff:1", ""]),
    },
    "export": {"-o": (["m.onnx", "m.py"], ["m.ONNX", "m.txt", "", "out/m.py", "folder", "\udcff.py", "xor.json",
                                           "a" * 300 + ".py"]),
               "--weights": (["w_xor.pt"], HOSTILE_FILES), "--opset": (["17", "13", "11"], INTS),
               "--training-script": (["--training-script"], []), "--run": RUN_IDS, "--force": (["--force"], [])},
    "inspect": {"-o": (["o.png"], ["o.PNG", "o.jpg", "", "out/o.png", "\udcff.png", "a" * 300 + ".png", "folder"]),
                "--weights": ([], HOSTILE_FILES), "--run": RUN_IDS, "--data": (["xor:n=40"], [*HOSTILE_DATA, "digits", "mnist-5k"]),
                "--sample": (["0", "5"], INTS), "--image": ([], ["pic.png", *HOSTILE_FILES]),
                "--block": (["fc1", "fc2"], ["conv1", "x", "y", "", "\udcff", "a" * 300]),
                "--show": (["maps", "filters", "saliency", "maps,filters,saliency"], ["", ",", "x", "maps,,", "MAPS"]),
                "--seed": (["0", "7"], INTS)},
    "import": {"-o": (["g.json"], ["g.txt", "", "out/g.json", "xor.json", "\udcff.json", "folder", "m.onnx"]),
               "--input": ([], ["1x3x8x8", "x", "", "int64:1x12", "0x0", "1x" + "9" * 20]),
               "--weights": ([], HOSTILE_FILES), "--force": (["--force"], [])},
    "pretrained": {"-o": (["p.json"], ["", "out/p.json", "folder", "p.txt", "xor.json"]),  # (no mirror answers)
                   "--fine-tune": ([], ["folder", "missing", "pic.png", "", "\udcff"]),
                   "--epochs": (["1"], ["0", "-1", "x", "", "9223372036854775808"]), "--force": (["--force"], [])},
}
POSITIONAL = {"info": ["xor.json", "lenet.json", "reg.json"], "check": ["xor.json", "reg.json"],
              "plan": ["xor.json", "lenet.json", "reg.json"], "train": ["xor.json"], "export": ["xor.json"],
              "inspect": ["xor.json", "lenet.json"], "import": ["m.onnx"], "runs": ["xor.json"],
              "augment": ["lenet.json"], "sweep": ["xor.json"], "pretrained": ["alexnet", "resnet18"]}
HOSTILE_POSITIONAL = {"import": [*HOSTILE_FILES, "missing.py:Net", "garbage.pt2", ":", "a.py:", "xor.json:Net"],
                      "pretrained": ["nope", "", "\udcff", "ALEXNET"]}
ALWAYS = {"train": ("--epochs", "--data"), "export": ("-o",), "inspect": ("-o",), "import": ("-o",),
          "augment": ("-o", "--data", "--augment"), "sweep": ("--epochs", "--data", "--trials", "--param"),
          "pretrained": ("-o",)}
JUNK = ["--frobnicate", "--epochs=2", "--", "-", "--json", "-o", "--help", "--data", "extra"]


def test_the_table_covers_every_option_of_every_command():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        if name == "gui":  # opens a window: the editor's own tests drive it
            continue
        options = {a.option_strings[0] for a in command._actions if a.option_strings and a.dest != "help"}
        assert options == set(TABLE[name]), f"{name}: fuzz these options too: {sorted(options - set(TABLE[name]))}"


@pytest.fixture(scope="module", autouse=True)
def no_mirror(tmp_path_factory):
    """Downloads (pretrained weights, a dataset named without a folder) go to a port nothing listens on, and their
    cache to a folder of the test's: never the internet, never the user's data folder."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    saved = {k: os.environ.get(k) for k in ("NETBUILDER_WEIGHTS_MIRRORS", "NETBUILDER_DATASET_MIRRORS",
                                              "NETBUILDER_WEIGHTS", "NETBUILDER_DATA")}
    cache = tmp_path_factory.mktemp("fuzz-cache")
    os.environ.update(NETBUILDER_WEIGHTS_MIRRORS=closed, NETBUILDER_DATASET_MIRRORS=closed,
                      NETBUILDER_WEIGHTS=str(cache / "weights"), NETBUILDER_DATA=str(cache / "data"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """The files a generated command line may name, made once: graphs, weights (good and bad), a checkpoint, an
    ONNX file, pictures, a CSV table, a folder where a file is expected."""
    from netbuilder.cli import main
    from netbuilder.core.build.compile import compile_graph
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz-pool")
    for name, example in (("xor.json", "mlp_xor"), ("lenet.json", "lenet5"), ("reg.json", "mlp_regression")):
        shutil.copy(EXAMPLES / f"{example}.json", root / name)
    torch.manual_seed(0)
    torch.save(compile_graph(Graph.load(root / "xor.json")).state_dict(), root / "w_xor.pt")
    (root / "garbage.pt").write_bytes(os.urandom(300))
    (root / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    (root / "empty.pt").write_bytes(b"")
    (root / "empty.json").write_bytes(b"")
    (root / "folder").mkdir()
    Image.new("RGB", (12, 9), (200, 30, 0)).save(root / "pic.png")
    (root / "d.csv").write_text("a,b,y\n" + "".join(f"{i % 3},{i % 5},{i % 2}\n" for i in range(40)))
    work = root.parent / "pool-work"
    work.mkdir()
    with contextlib_chdir(work):
        assert main(["train", str(root / "xor.json"), "--data", "xor:n=40", "--epochs", "1", "--out", "r"]) == 0
        assert main(["train", str(root / "xor.json"), "--data", "xor:n=40", "--epochs", "1"]) == 0  # xor.runs/001
        assert main(["export", str(root / "xor.json"), "-o", str(root / "m.onnx")]) == 0
    shutil.copy(work / "r" / "checkpoint.pt", root / "checkpoint.pt")
    shutil.rmtree(work)
    return root


class contextlib_chdir:  # (contextlib.chdir is Python 3.11's)
    def __init__(self, path):
        self.path, self.before = path, None

    def __enter__(self):
        self.before = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.before)


@st.composite
def command_lines(draw, commands=tuple(TABLE)) -> list[str]:
    """A sound command line with one or two options given hostile values (or its graph, or a junk argument)."""
    name = draw(st.sampled_from(commands))
    table = TABLE[name]
    hostile = set(draw(st.lists(st.sampled_from([o for o, (_, bad) in table.items() if bad] + ["graph", "junk"]),
                                min_size=1, max_size=2)))
    graph = draw(st.sampled_from(HOSTILE_POSITIONAL.get(name, HOSTILE_GRAPHS) if "graph" in hostile
                                 else POSITIONAL[name]))
    argv = [name, graph]
    for option, (sound, bad) in table.items():
        if option in hostile:
            values = bad
        elif option in ALWAYS.get(name, ()) or (sound and draw(st.integers(0, 3)) == 0):
            values = sound
        else:
            continue
        value = draw(st.sampled_from(values))
        if value == option:  # a flag
            argv.append(option)
        elif isinstance(value, tuple):  # an option of several values (runs --rename ID NAME)
            argv += [option, *value]
        elif draw(st.integers(0, 5)) == 0 and option.startswith("--"):
            argv.append(f"{option}={value}")
        else:
            argv += [option, value]
    if name == "train" and graph == "reg.json":
        argv = [("temperature:n=40" if a == "xor:n=40" else a) for a in argv]
    if name == "inspect" and graph == "lenet.json":
        argv = [("digits:size=32" if a == "xor:n=40" else "conv1" if a in ("fc1", "fc2") else a) for a in argv]
    if "junk" in hostile:
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(JUNK)))
    return argv


def outputs_of(argv: list[str]) -> tuple[str, ...]:
    """What a command given `argv` may write when it succeeds (relative to its working folder)."""
    named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-o", "--output", "--out")]
    named += [a.split("=", 1)[1] for a in argv if a.startswith(("-o=", "--output=", "--out="))]
    found = [f"{Path(argv[1]).stem}.runs"]  # train without --out, runs: the graph's store of runs, beside it
    for name in named:
        path = os.path.normpath(name) if name else name
        found += [path, str(Path(path).with_suffix(".pt"))] if path not in ("", ".") else []
    return tuple(found)


def kept_by(argv: list[str]) -> tuple[str, ...]:
    """What a failed train keeps on purpose: the store's record of a run that failed part way (status, curves, its
    checkpoint to resume from)."""
    return (f"{Path(argv[1]).stem}.runs",) if argv[0] in ("train", "sweep") else ()


@settings(FUZZ, max_examples=300)
@given(argv=command_lines())
def test_command_lines(pool, argv):
    with folder() as tmp:
        area = Path(tmp)
        shutil.copytree(pool, area, dirs_exist_ok=True)
        status, out, err = check_cli(area, *argv, outputs=outputs_of(argv), kept=kept_by(argv))
        if status == 0 and argv[0] in ("info", "check") and "--json" in argv and "--help" not in argv:
            json.load(io.StringIO(out))  # --json prints one JSON object


@settings(FUZZ, max_examples=80)
@given(argv=command_lines(commands=("train",)))
def test_train_command_lines(pool, argv):
    """train has the most options: more examples of it alone."""
    with folder() as tmp:
        area = Path(tmp)
        shutil.copytree(pool, area, dirs_exist_ok=True)
        check_cli(area, *argv, outputs=outputs_of(argv), kept=kept_by(argv))
