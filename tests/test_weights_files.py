"""Weights files in safetensors beside torch.save's .pt: saved from the editor and the command line, loaded back
bit-exact, names and shapes read without reading tensors, and every hostile file refused in one line."""
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from netbuilder.cli import main
from netbuilder.core.base.system import total_bytes
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import (
    WeightsError,
    load_partial,
    read_shapes,
    read_state,
    save_state,
    save_weights,
)
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


def seeded_model(name="mlp_xor", seed=3):
    torch.manual_seed(seed)
    return compile_graph(Graph.load(EXAMPLES / f"{name}.json"))


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def raw_file(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def test_safetensors_and_pt_hold_the_same_weights_bit_exact(tmp_path):
    model = seeded_model("lenet5")
    save_weights(model, tmp_path / "w.safetensors")
    save_weights(model, tmp_path / "w.pt")
    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:  # a real safetensors file
        assert set(f.keys()) == set(model.state_dict())
    assert same(read_state(tmp_path / "w.safetensors"), model.state_dict())
    assert same(read_state(tmp_path / "w.pt"), model.state_dict())
    kinds = {str(d): (torch.randn(3, 5) * 100).to(d) for d in (torch.float64, torch.float16, torch.bfloat16,
                                                                torch.int64, torch.int32, torch.int8, torch.uint8,
                                                                torch.bool, torch.float8_e4m3fn)}
    kinds.update(scalar=torch.tensor(2.5), empty=torch.zeros(0, 3))
    save_state(kinds, tmp_path / "k.safetensors")
    with safe_open(str(tmp_path / "k.safetensors"), framework="pt") as f:  # what the library reads, we read
        assert same({k: f.get_tensor(k) for k in f.keys()}, read_state(tmp_path / "k.safetensors"))
    back = read_state(tmp_path / "k.safetensors")
    assert all(torch.equal(back[k].view(torch.uint8), v.view(torch.uint8)) if v.dtype == torch.float8_e4m3fn
               else torch.equal(back[k], v) for k, v in kinds.items() if v.dim())
    tied = torch.ones(4)
    save_state({"a": tied, "b": tied, "c": torch.arange(6).reshape(2, 3).t()}, tmp_path / "t.safetensors")
    back = read_state(tmp_path / "t.safetensors")  # shared and non-contiguous tensors are written apart
    assert torch.equal(back["a"], tied) and torch.equal(back["b"], tied)
    assert torch.equal(back["c"], torch.arange(6).reshape(2, 3).t())


def test_a_partial_load_reads_names_and_shapes_without_reading_the_tensors(tmp_path):
    """A file holding a tensor bigger than this machine's memory (a sparse file: it takes no disk): the whole file
    is refused, while a partial load reads only the tensors that fit the graph, chosen from the header."""
    model = seeded_model("lenet5")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    big = (total_bytes() or 2**34) * 2 // 4 * 4
    header = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name, tensor in state.items():
        data = tensor.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["huge.weight"] = {"dtype": "F32", "shape": [big // 4], "data_offsets": [offset, offset + big]}
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write(raw_file(header, b"".join(blobs)))
        f.truncate(f.tell() + big)  # a hole
    assert read_shapes(path)["huge.weight"] == (big // 4,)
    with pytest.raises(WeightsError, match="of memory available"):
        read_state(path)
    fresh = seeded_model("lenet5", seed=4)
    loaded = load_partial(fresh, path)
    assert sorted(loaded.loaded) == sorted(state)
    assert same(fresh.state_dict(), state)


HOSTILE = {
    "empty": b"",
    "truncated": None,  # a real file cut in half
    "header length absurd": struct.pack("<Q", 2**63) + b"{}",
    "header longer than the file": struct.pack("<Q", 1000) + b'{"a": 1}',
    "header not JSON": raw_file({}, length=12)[:8] + b"not json!!!!",
    "header not UTF-8": struct.pack("<Q", 4) + b"\xff\xfe{}",
    "header a list": raw_file([1, 2]),
    "offsets past the end": raw_file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
    "dtype unknown": raw_file({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16),
    "size not the shape's": raw_file({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16),
    "shape negative": raw_file({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\0" * 16),
    "shape not numbers": raw_file({"w": {"dtype": "F32", "shape": ["4"], "data_offsets": [0, 16]}}, b"\0" * 16),
    "entry not an object": raw_file({"w": 7}),
    "metadata not texts": raw_file({"__metadata__": {"a": 1}}),
    "a zip (a .pt renamed)": None,
    "complex numbers": raw_file({"w": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 16),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_safetensors_file_gets_one_clear_message(tmp_path, capsys, case):
    path = tmp_path / "bad.safetensors"
    model = seeded_model()
    if case == "truncated":
        save_weights(model, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif case == "a zip (a .pt renamed)":
        save_weights(model, tmp_path / "w.pt")
        path.write_bytes((tmp_path / "w.pt").read_bytes())
    else:
        path.write_bytes(HOSTILE[case])
    with pytest.raises(WeightsError) as caught:
        read_state(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    with pytest.raises(WeightsError):
        load_partial(seeded_model(), path)
    assert main(["export", str(EXAMPLES / "mlp_xor.json"), "--weights", str(path), "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("netbuilder: error: ") and "bad.safetensors" in err[0], err
    assert not (tmp_path / "m.onnx").exists()


def test_the_command_line_takes_safetensors_weights(tmp_path, capsys):
    model = seeded_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_weights(model, tmp_path / "w.safetensors")
    assert main(["export", str(EXAMPLES / "mlp_xor.json"), "--weights", str(tmp_path / "w.safetensors"),
                 "-o", str(tmp_path / "m.py")]) == 0
    assert same(torch.load(tmp_path / "m.pt", weights_only=True), state)  # loaded bit-exact, written beside m.py
    capsys.readouterr()
    assert main(["train", str(EXAMPLES / "mlp_xor.json"), "--data", "xor", "--epochs", "1", "--compile", "off",
                 "--weights", str(tmp_path / "w.safetensors"), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "weights.pt").is_file()


def test_the_editor_loads_safetensors_and_saves_them_bit_exact(window, qtbot, tmp_path, monkeypatch, answer):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    # a graph that names a safetensors file (an imported model's weights): the editor exports with them, bit-exact
    model = seeded_model(seed=11)
    given = {k: v.clone() for k, v in model.state_dict().items()}
    save_weights(model, tmp_path / "given.safetensors")
    document = json.loads((EXAMPLES / "mlp_xor.json").read_text())
    document["meta"]["weights"] = "given.safetensors"
    (tmp_path / "named.json").write_text(json.dumps(document))
    assert window.open_path(tmp_path / "named.json")
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.export_to(tmp_path / "named.py")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "with the weights in given.safetensors" in seen[0], seen[0]
    assert same(torch.load(tmp_path / "named.pt", weights_only=True), given)

    # a run in the training panel, saved through Save weights as safetensors (the file chooser offers both)
    panel = window.training
    panel.dataset.setCurrentText("xor")
    panel.epochs.setValue(2)
    panel.start()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=60_000)
    offered = []

    def dialog(parent, caption, name, filters):
        offered.append(filters)
        return str(tmp_path / "trained"), "safetensors weights (*.safetensors)"  # a name without a suffix

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    panel.save_weights()
    assert "*.pt" in offered[0] and "*.safetensors" in offered[0]
    trained = {k: v.detach().cpu() for k, v in panel.trained_state().items()}
    with safe_open(str(tmp_path / "trained.safetensors"), framework="pt") as f:
        assert same({k: f.get_tensor(k) for k in f.keys()}, trained)
    assert same(read_state(tmp_path / "trained.safetensors"), trained)


def test_pt_files_keep_their_zip_checks(tmp_path):
    """The hand-written zip checks guard .pt files only; a .pt that is not a zip is refused by torch in one line."""
    Path(tmp_path / "w.pt").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a weights file netbuilder can read safely"):
        read_state(tmp_path / "w.pt")
