"""File > Export and File > Import in the window: background work, verified results, clear failures."""
import torch
from PySide6.QtWidgets import QMessageBox

from tests.conftest import EXAMPLES


def test_export_onnx_and_code_from_the_window(window, qtbot, tmp_path, answer):
    assert window.open_path(EXAMPLES / "lenet5.json")
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.export_to(tmp_path / "lenet.onnx")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "onnxruntime matches torch" in seen[0] and "freshly initialized weights" in seen[0]
    assert (tmp_path / "lenet.onnx").exists()
    seen = answer(QMessageBox.StandardButton.Ok)
    window.exchange.export_to(tmp_path / "lenet.py")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "class loads the compiled graph's state_dict" in seen[0]
    assert "class Net(nn.Module)" in (tmp_path / "lenet.py").read_text()


def test_export_after_training_carries_the_trained_weights(window, qtbot, tmp_path, answer):
    assert window.open_path(EXAMPLES / "mlp_xor.json")
    panel = window.training
    panel.dataset.setCurrentText("xor")
    panel.epochs.setValue(3)
    panel.start()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=60_000)
    seen = answer(QMessageBox.StandardButton.Ok)
    window.exchange.export_to(tmp_path / "xor.py")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    assert "with the weights of the last training run" in seen[0]
    saved = torch.load(tmp_path / "xor.pt", weights_only=True)
    trained = panel.trained_state()
    assert all(torch.equal(saved[k], v.cpu()) for k, v in trained.items())


def test_import_opens_an_editable_graph_with_its_weights(window, qtbot, tmp_path, answer):
    from netbuilder.core.exchange.onnx_export import export_onnx
    from netbuilder.core.model.graph import Graph

    export_onnx(Graph.load(EXAMPLES / "resnet18.json"), tmp_path / "resnet.onnx")
    seen = answer(QMessageBox.StandardButton.Ok)
    assert window.exchange.import_to(tmp_path / "resnet.onnx", tmp_path / "resnet.json")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=120_000)
    assert seen[0].startswith("Imported resnet.onnx: 70 blocks")
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "resnet.json", timeout=10_000)
    assert len(window.scene.blocks) == 70 and window.document.graph.meta["weights"] == "resnet.pt"
    qtbot.waitUntil(lambda: window.training.in_view is not None, timeout=60_000)  # the Inside view and exports use them
    assert window.training.in_view.words == "resnet.pt (the weights the graph names)"


def test_a_failed_import_says_why_and_keeps_the_document(window, qtbot, tmp_path, answer):
    assert window.open_path(EXAMPLES / "mnist_convnet.json")
    before = window.document.graph.to_dict()
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx file")
    seen = answer(QMessageBox.StandardButton.Ok)
    window.exchange.import_to(tmp_path / "broken.onnx", tmp_path / "broken.json")
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=30_000)
    assert "broken.onnx is not a valid ONNX model" in seen[0]
    assert window.document.graph.to_dict() == before and not (tmp_path / "broken.json").exists()
