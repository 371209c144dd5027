"""Where TensorBoard is installed every run also writes its event files (scalars per curve and loss block, the
samples as an image, the settings as hyperparameters), read back here with TensorBoard's own EventAccumulator;
where it is not, nothing changes and nothing fails."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from netbuilder.cli import main
from tests.conftest import EXAMPLES, ROOT

GAN = ["--data", "ring:n=300", "--epochs", "2", "--batch-size", "50", "--val-fraction", "0.1", "--statistics", "0"]


def test_a_run_writes_tensorboard_events_of_its_curves_samples_and_settings(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    graph = tmp_path / "ring.json"
    shutil.copy(EXAMPLES / "gan_ring.json", graph)
    assert main(["train", str(graph), *GAN, "--lr", "0.002"]) == 0
    folder = next((tmp_path / "ring.runs").glob("001-*"))
    assert list(folder.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    curves = json.loads((folder / "curves.json").read_text())
    blocks = list(curves["epochs"][0]["losses"])
    assert len(blocks) == 3
    expected = {"loss/train", "loss/val", "lr", "batch/loss", *(f"losses/{b}/train" for b in blocks),
                *(f"losses/{b}/val" for b in blocks)}
    assert expected <= set(tags["scalars"])
    train = events.Scalars("loss/train")
    assert [e.step for e in train] == [1, 2]
    assert [e.value for e in train] == pytest.approx([e["train_loss"] for e in curves["epochs"]], rel=1e-6)
    assert len(events.Scalars("batch/loss")) == len(curves["batch_losses"])
    assert "samples" in tags["images"]
    image = events.Images("samples")[0]
    assert image.width > 100 and image.encoded_image_string.startswith(b"\x89PNG")
    hparams = events.PluginTagToContent("hparams")
    assert hparams, "the settings as hyperparameters"
    from tensorboard.plugins.hparams import plugin_data_pb2

    session = next(plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
                   for content in hparams.values()
                   if plugin_data_pb2.HParamsPluginData.FromString(content).HasField("session_start_info"))
    assert session.hparams["lr"].number_value == pytest.approx(0.002)
    assert session.hparams["data"].string_value == "ring:n=300"


def test_without_tensorboard_a_run_writes_no_events_and_nothing_fails(tmp_path):
    graph = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", graph)
    code = ("import sys\nsys.modules['tensorboard'] = None  # as if it were not installed\n"
            "from netbuilder.cli import main\nsys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "train", str(graph), "--data", "xor:n=200", "--epochs", "2"],
                            capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=300)
    assert result.returncode == 0, result.stderr
    folder = next((tmp_path / "xor.runs").glob("001-*"))
    assert {p.name for p in folder.iterdir()} == {"run.json", "graph.json", "curves.json", "metrics.json",
                                                   "weights.pt", "checkpoint.pt"}
    assert json.loads((folder / "run.json").read_text())["status"] == "finished"
