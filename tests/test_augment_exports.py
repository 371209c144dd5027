"""The exported training script and the generated PyTorch code augment as netbuilder does."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import torch

from netbuilder.core.data.augment import transforms
from netbuilder.core.data.augment.transforms import Augmentation
from netbuilder.core.exchange.codegen import export_code
from netbuilder.core.exchange.training_script import export_training_script
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.augmenting import RunAugmentation
from netbuilder.core.training.experiment import prepare_training
from tests.conftest import EXAMPLES


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_training_script_trains_with_the_recipes_augmentation_as_netbuilder_draws_it(tmp_path):
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    graph.recipe = {**graph.recipe, "data": "digits:size=28", "augment": ["flip", {"name": "rotate", "degrees": 10},
                                                                           "noise=0.2", "erase"]}
    folder = tmp_path / "script"
    report = export_training_script(graph, folder)
    assert "augment.py" in report.files
    assert (folder / "augment.py").read_text() == Path(transforms.__file__).read_text()
    assert "'augment': 'flip,rotate=10,noise=0.2,erase'" in (folder / "train.py").read_text()
    run = subprocess.run([sys.executable, "train.py", "--epochs", "1", "--batch-size", "200"], cwd=folder,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "augmented: flip,rotate=10,noise=0.2,erase" in run.stdout and "test accuracy" in run.stdout

    # the script's draw on raw samples is netbuilder's on normalized ones: the same batch, to rounding
    setup = prepare_training(graph, "digits:size=28")
    spec = ["flip", "rotate=10", "noise=0.2", "erase"]
    ours = RunAugmentation(spec, setup.model, setup.objective.feeds, False, setup.splits, torch.device("cpu"), seed=5)
    x = setup.splits.train.x[:32]
    mine = ours({"x": x.clone(), "y": setup.splits.train.y[:32]}, epoch=2)["x"]
    script = load_module(folder / "augment.py", "exported_augment")
    mean, std = setup.splits.normalization["x"]
    generator = torch.Generator().manual_seed(((5 * 1_000_003 + 2) * 1_009 + 0) % 2**62)  # train.py's epoch seed
    theirs = script.Augmentation("flip,rotate=10,noise=0.2,erase")(x * std + mean, generator=generator, mean=mean,
                                                                     std=std)
    torch.testing.assert_close((theirs - mean) / std, mine, atol=1e-4, rtol=1e-4)


def test_the_generated_code_carries_the_augmentation(tmp_path):
    graph = Graph.load(EXAMPLES / "fcn_shapes.json")
    graph.recipe = {**graph.recipe, "augment": ["flip", "rotate=20"]}
    export_code(graph, tmp_path / "model.py")
    module = load_module(tmp_path / "model.py", "generated_fcn")
    images = torch.rand(6, 1, 32, 32)
    masks = (images[:, 0] > 0.5).long()
    moved, moved_masks = module.AUGMENT(images, masks, generator=torch.Generator().manual_seed(1))
    expected = Augmentation(["flip", "rotate=20"])(images, masks, generator=torch.Generator().manual_seed(1))
    assert torch.equal(moved, expected[0]) and torch.equal(moved_masks, expected[1])
    assert not torch.equal(moved_masks, masks)
    plain = Graph.load(EXAMPLES / "lenet5.json")
    export_code(plain, tmp_path / "plain.py")
    assert "AUGMENT" not in (tmp_path / "plain.py").read_text()
