"""Datasets larger than memory stream from disk through DataLoader worker processes, with the same splits,
normalization, batches and results as the in-memory path; the run says which it chose and why."""
import gzip
import math
import struct

import numpy as np
import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.data.specs import load_dataset
from netbuilder.core.data.stream import LazySamples
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer


def image_folder(root, per_class=40, size=10):
    """Three classes of RGB PNGs, a bright bar in a place of their own on noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(["across", "down", "corner"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (size + 2 * (i % 3), size, 3), dtype=np.uint8)  # sizes differ: resized
            if c == 0:
                pixels[2:4, :] = 250
            elif c == 1:
                pixels[:, 2:4] = 250
            else:
                pixels[-4:, -4:] = 250
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


def convnet():
    g = Graph()
    prev = g.add_node("Input", {"shape": [3, 10, 10]}, name="x")
    for type_name, params in [("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("ReLU", {}), ("Flatten", {}),
                              ("Linear", {"out_features": 3}), ("Output", {})]:
        node = g.add_node(type_name, params)
        g.connect(prev.id, node.id)
        prev = node
    return g


def run(spec, budget, **config):
    setup = prepare_training(convnet(), spec, seed=3, val_fraction=0.2,
                             load=lambda s, shape: load_dataset(s, shape, memory_budget=budget))
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=4, batch_size=16, lr=0.01, seed=3, **config))
    return setup.splits, trainer, trainer.fit()


def test_a_streamed_image_folder_learns_what_the_in_memory_one_learns(tmp_path):
    folder = image_folder(tmp_path / "shapes")
    spec = f"images:{folder}"
    memory_splits, _, in_memory = run(spec, math.inf, augment=["flip"])
    splits, trainer, streamed = run(spec, 1000, augment=["flip"])  # a 1000-byte budget: 43 KB of samples stream
    assert isinstance(splits.train.x, LazySamples) and splits.train.streamed and "train" in trainer._lazy_parts
    assert splits.notes[0].startswith("streamed from disk by ") and splits.notes[0].endswith(
        "as float32, more than the memory budget of 1000 bytes")
    assert memory_splits.notes[0].startswith("held in memory: its samples take ")
    assert torch.equal(splits.train.y, memory_splits.train.y)  # the same seeded splits
    torch.testing.assert_close(splits.train.x[:8], memory_splits.train.x[:8])  # decoded, resized, normalized alike
    assert streamed.test_metric == in_memory.test_metric and in_memory.test_metric > 0.9
    assert [e["train_loss"] for e in streamed.history] == pytest.approx([e["train_loss"] for e in in_memory.history],
                                                                        rel=1e-4)


def idx(array) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + \
        array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("kind", ["mnist", "cifar10", "csv"])
def test_files_past_the_budget_give_the_same_samples_splits_and_normalization(tmp_path, kind, monkeypatch):
    monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data"))  # the stream cache goes beside it
    rng = np.random.default_rng(1)
    if kind == "mnist":
        for prefix, n in (("train", 120), ("t10k", 30)):
            (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(rng.integers(0, 256, (n, 28, 28)))))
            (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(idx(rng.integers(0, 10, n)))
        spec, shape = f"mnist:{tmp_path}", (1, 32, 32)  # zero-padded, as LeNet-5 takes them
    elif kind == "cifar10":
        for name, n in (("data_batch_1.bin", 50), ("data_batch_2.bin", 40), ("test_batch.bin", 20)):
            records = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1)
            (tmp_path / name).write_bytes(records.astype(np.uint8).tobytes())
        spec, shape = f"cifar10:{tmp_path}", (3, 16, 16)  # resized
    else:
        rows = ["a,b,c,label"] + [f"{rng.normal():.4f},{rng.normal():.4f},{rng.normal():.4f},{rng.integers(0, 3)}"
                                  for _ in range(200)]
        (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
        spec, shape = f"csv:{tmp_path / 't.csv'}:label=label", (3,)
    from netbuilder.core.data.prepare import prepare

    whole = prepare(load_dataset(spec, shape, memory_budget=math.inf), shape, None, seed=5)
    lazy = prepare(load_dataset(spec, shape, memory_budget=100), shape, None, seed=5)
    assert lazy.notes[0].startswith("streamed from disk") and whole.notes[0].startswith("held in memory")
    assert lazy.notes[1:] == whole.notes[1:]  # the same fitting and normalization, said the same way
    for a, b in ((lazy.train, whole.train), (lazy.test, whole.test)):
        assert isinstance(a.x, LazySamples) and a.x.shape == b.x.shape
        assert torch.equal(a.y, b.y)
        torch.testing.assert_close(a.x[torch.arange(len(a))], b.x, rtol=1e-5, atol=1e-5)
    assert lazy.mean == whole.mean and lazy.std == whole.std  # the same chunks, the same sums: the same figures


def test_the_command_line_says_why_it_streams(tmp_path, capsys):
    folder = image_folder(tmp_path / "shapes", per_class=12)
    graph = tmp_path / "g.json"
    convnet().save(graph)
    assert main(["train", str(graph), "--data", f"images:{folder}", "--epochs", "1", "--batch-size", "8",
                 "--memory-budget", "0.01", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "data: streamed from disk by " in err and "more than the memory budget of 10.2 KB" in err
