"""Generated bad files against the command line (in-process) and the Python API: graph documents, dataset
files (CSV, IDX, image folders), weights files and ONNX files, each mutated or made up by hypothesis.

Whatever the input: the command line's contract (tests/fuzzing.py: exit 0 or 1, one line, nothing left behind),
and the API raises only the errors a user can cause (NetbuilderError, OSError). The command line's options are
fuzzed in test_fuzz_cli.py, downloads from a hostile server in test_fuzz_downloads.py.
"""
import copy
import gzip
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES
from tests.fuzzing import FUZZ, check_cli, expected_errors, folder

# ----- graph documents

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2, 3, 65536, 65537, 2**31, 10**400, 1e308, "same", "valid", "in", "in2", "out",
                     "n1", "x", "\ud800", "a" * 5000, [], {}, [0, 0], [-1], [1, 2, 3, 4, 5, 6, 7, 8, 9]]),
    st.text(max_size=12), st.lists(st.integers(-3, 70_000), max_size=5),
    st.dictionaries(st.text(max_size=6), st.integers(-2, 5), max_size=3),
)
HOSTILE = st.sampled_from([10**400, -(10**300), 1e308, float("nan"), float("inf"), "\ud800", "x" * 5000, 2**63, -1, 0,
                          [10**400], {"a": 1}])
SMALL_EXAMPLES = ["mlp_xor", "mlp_regression", "lenet5", "mnist_convnet", "autoencoder", "lstm_classifier"]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from paths(inner, (*prefix, i))


NEAR_VALID = st.one_of(st.integers(-2, 9), st.sampled_from([0.0, 0.01, 0.5, 1.5, 64.0, 1e-9, 2**31]),
                       st.lists(st.integers(-1, 9), min_size=1, max_size=3), st.booleans(),
                       st.sampled_from(["same", "valid", "nearest", "bilinear", "int64", "float32"]))


@st.composite
def graph_documents(draw) -> bytes:
    doc = json.loads((EXAMPLES / f"{draw(st.sampled_from(SMALL_EXAMPLES))}.json").read_text())
    for _ in range(draw(st.integers(1, 3))):
        blocks = [n for n in doc.get("nodes", []) if isinstance(n, dict) and isinstance(n.get("params"), dict)
                  and n["params"]] if isinstance(doc, dict) and isinstance(doc.get("nodes"), list) else []
        if blocks and draw(st.integers(0, 3)):  # mostly a block's param, to a value near the valid ones
            params = draw(st.sampled_from(blocks))["params"]
            params[draw(st.sampled_from(sorted(params)))] = draw(st.one_of(NEAR_VALID, HOSTILE, JSON_VALUES))
            continue
        where = draw(st.sampled_from(list(paths(doc))[1:]))
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[where[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[where[-1]]))
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
    if isinstance(doc, dict) and draw(st.integers(0, 7)) == 0:
        doc["meta"] = {"title": draw(st.sampled_from(["\ud800", "a\udcff", "ok", "x" * 10_000, 'C:\\me"""'])),
                       "weights": draw(st.sampled_from(["w.pt", "../w.pt", "\x00", ""]))}
    text = json.dumps(doc).encode()
    cut = draw(st.sampled_from([None] * 10 + ["truncate", "bytes", "digits"]))
    if cut == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == "digits":  # a number of 5,000 digits where a number was
        at = next((i for i, c in enumerate(text) if chr(c).isdigit()), len(text))
        text = text[:at] + b"7" * 5000 + text[at:]
    elif cut == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    return text


@settings(FUZZ, max_examples=100)
@given(text=graph_documents())
def test_graph_documents(text):
    from netbuilder.core.checks.memory import estimate
    from netbuilder.core.checks.shapes import infer_shapes

    with folder() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        path = tmp / "in" / "g.json"
        path.write_bytes(text)
        graph = None
        with expected_errors():
            graph = Graph.load(path)
            infer_shapes(graph)
            json.dumps(graph.to_dict())
        status, _, _ = check_cli(tmp, "info", path)
        if graph is not None and status == 0 and estimate(graph, 3).total < 2**27:
            check_cli(tmp, "export", path, "-o", "model.py", outputs=("model.py",))


# ----- dataset files

CELLS = st.one_of(st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "NaN", "cat", '"a,b"', "0x10", "1_000",
                                   "\ufeff1", "1" * 5000]),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=4))


NUMBERS = st.one_of(st.integers(-5, 5).map(str), st.floats(-10, 10).map(lambda v: f"{v:.3g}"))


@st.composite
def csv_files(draw) -> tuple[bytes, str]:
    """Mostly sound tables (two features and a label y: classes or values), each with a few bad cells."""
    header = draw(st.sampled_from([["a", "b", "y"], ["a", "b", "y"], ["y", "a", "b"], ["a", "y"], ["a", "b", "y", "y"],
                                   ["", "b", "y"]]))
    bad = draw(st.integers(0, 3)) == 0
    rows = [header] + [[draw(CELLS) if bad and draw(st.integers(0, 7)) == 0 else draw(NUMBERS) for _ in header]
                       for _ in range(draw(st.integers(0, 24)))]
    if draw(st.integers(0, 5)) == 0 and len(rows) > 1:
        rows[-1] = rows[-1][:-1]  # a short row
    text = "\n".join(",".join(row) for row in rows)
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace"), draw(st.sampled_from(["y", "y", "y", "missing"]))


def idx_bytes(draw, ndim_choices=(1, 2, 3, 4)) -> bytes:
    ndim = draw(st.sampled_from(ndim_choices))
    dims = draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 28, 2**31 - 1]), min_size=ndim, max_size=ndim))
    magic = draw(st.sampled_from([bytes([0, 0, 8, ndim]), bytes([0, 0, 9, ndim]), bytes([1, 0, 8, ndim]),
                                  bytes([0, 0, 8, 7])]))
    body_size = min(int(np.prod(dims)) if dims else 0, 5000) + draw(st.integers(-2, 2))
    return magic + b"".join(struct.pack(">I", d) for d in dims) + bytes(max(body_size, 0))


@st.composite
def idx_folders(draw) -> dict[str, bytes]:
    files = {}
    spoiled = draw(st.sampled_from([None, None, "train-images", "train-labels", "t10k-images", "t10k-labels"]))
    for prefix, n in (("train", 12), ("t10k", 5)):
        for kind, array in (("images-idx3", np.zeros((n, 28, 28), np.uint8)), ("labels-idx1", np.arange(n) % 10)):
            good = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + \
                array.astype(np.uint8).tobytes()
            bad = spoiled == f"{prefix}-{kind[:-5]}"
            data = idx_bytes(draw) if bad and draw(st.booleans()) else good
            compress = draw(st.booleans())
            if compress:
                data = gzip.compress(data)
                if bad and data == gzip.compress(good):  # damage the deflate stream or the trailer
                    at = draw(st.integers(10, len(data) - 1))
                    data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
            files[f"{prefix}-{kind}-ubyte" + (".gz" if compress else "")] = data
    return files


@st.composite
def image_folders(draw) -> dict[str, bytes]:
    from PIL import Image

    files = {}
    for c in range(draw(st.integers(0, 3))):
        for i in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["png", "png", "garbage", "empty", "jpg"]))
            name = f"class{c}/img{i}.{'jpg' if kind == 'jpg' else 'png'}"
            if kind in ("png", "jpg"):
                size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
                mode = draw(st.sampled_from(["L", "RGB", "RGBA", "1", "P"] if kind == "png" else ["L", "RGB"]))
                buffer = io.BytesIO()
                Image.new(mode, size).save(buffer, format="PNG" if kind == "png" else "JPEG")
                files[name] = buffer.getvalue()
            else:
                files[name] = b"" if kind == "empty" else draw(st.binary(max_size=64))
    return files


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def mlp_graph(path: Path, shape: list[int], outputs: int) -> Path:
    graph = Graph()
    x = graph.add_node("Input", {"shape": shape}, name="x")
    flat = graph.add_node("Flatten")
    fc = graph.add_node("Linear", {"out_features": outputs})
    out = graph.add_node("Output", name="y")
    for a, b in ((x, flat), (flat, fc), (fc, out)):
        graph.connect(a.id, b.id)
    graph.save(path)
    return path


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_dataset_files(data):
    from netbuilder.core.data import load_dataset

    kind = data.draw(st.sampled_from(["csv", "csv", "mnist", "images"]))
    with folder() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        inputs.mkdir()
        if kind == "csv":
            content, label = data.draw(csv_files())
            (inputs / "d.csv").write_bytes(content)
            spec, graph = f"csv:{inputs / 'd.csv'}:label={label}", mlp_graph(inputs / "g.json", [2], 2)
        elif kind == "mnist":
            write_files(inputs / "mnist", data.draw(idx_folders()))
            spec, graph = f"mnist:{inputs / 'mnist'}", mlp_graph(inputs / "g.json", [1, 28, 28], 10)
        else:
            write_files(inputs / "images", data.draw(image_folders()))
            spec, graph = f"images:{inputs / 'images'}", mlp_graph(inputs / "g.json", [3, 8, 8], 3)
        with expected_errors():
            load_dataset(spec, (3, 8, 8) if kind == "images" else None)
        check_cli(tmp, "train", graph, "--data", spec, "--epochs", "1", "--batch-size", "4", "--out", "run",
                  outputs=("run",))


# ----- weights files

def tiny_model_graph(tmp: Path):
    from netbuilder.core.build.compile import compile_graph

    path = mlp_graph(tmp / "g.json", [3], 2)
    return path, compile_graph(Graph.load(path))


@st.composite
def weights_files(draw, model) -> bytes:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    kind = draw(st.sampled_from(["good", "state", "state", "mutated", "zip", "object"]))
    if kind == "good":
        state = {k: v * draw(st.sampled_from([0.5, 2.0, 1e30, -1.0])) for k, v in state.items()}
    if kind == "state":  # a tensor of the right name and shape, spoiled; or of the wrong shape or name
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from([*state, "extra"]))
            shape = tuple(state[key].shape) if key in state else (2, 3)
            state[key] = draw(st.sampled_from([
                torch.zeros(shape, device="meta"), torch.zeros(shape).to_sparse(), torch.full(shape, float("nan")),
                torch.zeros(shape, dtype=torch.int64), torch.zeros(shape, dtype=torch.complex64),
                torch.zeros(shape, dtype=torch.bool), torch.zeros(shape, dtype=torch.float16),
                torch.zeros(tuple(reversed(shape))).t() if len(shape) == 2 else torch.zeros(shape),
                torch.zeros(0), torch.tensor(1.0), torch.full(shape, float("inf"))]))
        if draw(st.booleans()):
            del state[draw(st.sampled_from(list(state)))]
    buffer = io.BytesIO()
    if kind == "object":
        torch.save(draw(st.sampled_from([[1, 2], {"a": 1}, {"b1.weight": [1.0]}, {1: torch.zeros(1)}, "text",
                                         {"nested": {"x": torch.zeros(1)}}, None])), buffer)
        return buffer.getvalue()
    torch.save(state, buffer)
    data = buffer.getvalue()
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at + 1:]
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    elif kind == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as good, zipfile.ZipFile(out, "w") as bad:
            for info in good.infolist():
                content = good.read(info)
                if draw(st.integers(0, 3)) == 0:
                    content = draw(st.binary(max_size=32))
                bad.writestr(info.filename, content, compress_type=draw(st.sampled_from(
                    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))
        data = out.getvalue()
    return data


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_weights_files(data):
    from netbuilder.core.build.weights import load_weights

    with folder() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        graph, model = tiny_model_graph(tmp / "in")
        weights = tmp / "in" / "w.pt"
        weights.write_bytes(data.draw(weights_files(model)))
        with expected_errors():
            load_weights(model, weights)
        target = data.draw(st.sampled_from(["m.py", "m.onnx"]))
        check_cli(tmp, "export", graph, "--weights", weights, "-o", target, outputs=(target, "m.pt"))  # .py: its weights


# ----- ONNX files

@st.composite
def onnx_files(draw) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rank = draw(st.sampled_from([2, 2, 4, 4, 3]))
    dims = [draw(st.sampled_from([1, 2, 3, 4, 8, 8, 5, 6] * 3 + [70_000, 0, -1])) for _ in range(rank - 1)]
    shape = ["N", *[d if d != -1 else "d" for d in dims]]
    nodes, inits, value = [], [], "x"
    for i in range(draw(st.integers(1, 3))):
        ops = (["Relu", "Sigmoid", "LeakyRelu", "Flatten", "Add", "Dropout"] * 3 + (["Conv", "MaxPool"] * 3 if rank == 4
               else ["Gemm"] * 3 if rank == 2 else []) + ["Softmax", "GlobalAveragePool", "Concat", "Reshape",
                                                          "Transpose", "Foo"])
        op = draw(st.sampled_from(ops))
        out, inputs, attrs = f"v{i}", [value], {}
        if op == "LeakyRelu":
            attrs["alpha"] = draw(st.floats(-2, 2))
        elif op in ("Softmax", "Flatten", "Concat"):
            attrs["axis"] = draw(st.integers(-4, 4))
            if op == "Concat":
                inputs = [value, value]
        elif op == "Add":
            inputs = [value, value]
        elif op == "Gemm":
            fits = dims[-1] if dims[-1] > 0 and draw(st.integers(0, 3)) else draw(st.integers(1, 5))
            w = np.random.default_rng(i).standard_normal((draw(st.integers(1, 5)), fits))
            attrs["transB"] = 1 if draw(st.integers(0, 3)) else 0
            inits.append(numpy_helper.from_array(w.astype(np.float32), f"w{i}"))
            inputs = [value, f"w{i}"]
        elif op == "Conv":
            k = draw(st.integers(1, 3))
            channels = dims[0] if dims[0] > 0 and draw(st.integers(0, 3)) else draw(st.integers(1, 3))
            w = np.ones((draw(st.integers(1, 3)), channels, k, k), np.float32)
            inits.append(numpy_helper.from_array(w, f"w{i}"))
            inputs = [value, f"w{i}"]
            attrs["strides"] = [draw(st.integers(1, 3))] * 2
            attrs["pads"] = [draw(st.integers(0, 2))] * 4
        elif op == "MaxPool":
            attrs["kernel_shape"] = [draw(st.integers(1, 4))] * 2
        elif op == "Reshape":
            inits.append(numpy_helper.from_array(np.array(draw(st.lists(st.integers(-1, 12), min_size=1, max_size=4)),
                                                          np.int64), f"s{i}"))
            inputs = [value, f"s{i}"]
        elif op == "Transpose":
            attrs["perm"] = draw(st.permutations(list(range(rank))))
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        value = out
    nodes.append(helper.make_node("Identity", [value], ["y"]))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"o{j}" for j in range(draw(st.integers(1, 4)))])
    x = helper.make_tensor_value_info("x", draw(st.sampled_from([TensorProto.FLOAT] * 6 + [TensorProto.DOUBLE])),
                                      shape)
    opset = draw(st.sampled_from([11, 13, 17, 17, 17, 17, 99]))
    model = helper.make_model(helper.make_graph(nodes, "fuzz", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    data = model.SerializeToString()
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at + 1:]
    del onnx
    return data


@settings(FUZZ, max_examples=40)
@given(content=onnx_files())
def test_onnx_files(content):
    from netbuilder.core.exchange.onnx_import import import_onnx

    with folder() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        path = tmp / "in" / "m.onnx"
        path.write_bytes(content)
        with expected_errors():
            import_onnx(path)
        status, _, _ = check_cli(tmp, "import", path, "-o", "g.json", outputs=("g.json", "g.pt"))
        if status == 0:
            assert Graph.load(tmp / "g.json") and (tmp / "g.pt").is_file()


def test_the_checks_catch_a_bug(monkeypatch):
    """The harness is not blind: a bug inside a command (exit status 70) fails check_cli."""
    from netbuilder.cli import info

    monkeypatch.setattr(info, "run", lambda args: 1 / 0)
    with folder() as tmp, pytest.raises(AssertionError, match="exit status 70"):
        check_cli(Path(tmp), "info", mlp_graph(Path(tmp) / "g.json", [2], 2))


@pytest.mark.parametrize("misdeed, caught", [
    (lambda area: (area / "half.onnx").write_bytes(b"x"), "written besides the outputs"),
    (lambda area: (area / "made").mkdir(), "written besides the outputs"),
    (lambda area: os.write(2, b"[W onnxruntime] a warning\n"), "native code wrote to stderr"),
])
def test_the_checks_catch_what_a_failing_command_leaves(monkeypatch, misdeed, caught):
    """Nor is it blind to a file or a folder a failing command leaves behind, or a line native code prints."""
    from netbuilder.cli import info
    from netbuilder.cli.common import fail

    with folder() as tmp:
        area = Path(tmp)
        graph = mlp_graph(area / "g.json", [2], 2)
        monkeypatch.setattr(info, "run", lambda args: misdeed(area) and False or fail("refused"))
        with pytest.raises(AssertionError, match=caught):
            check_cli(area, "info", graph)
