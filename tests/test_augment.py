"""Augmentation where the mask moves with the image: one draw for an image and every field aligned with it, noise and
erasing on the network's input only, tokens and labels untouched, refusals that name the field, seeded draws."""
import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from netbuilder.core.data.augment import AugmentError, canonical, parse_augment
from netbuilder.core.data.augment.fields import FieldInfo, plan_fields
from netbuilder.core.data.augment.transforms import KINDS, Augmentation
from netbuilder.core.model.graph import Graph
from netbuilder.core.model.recipe import RecipeError, check_recipe
from netbuilder.core.training.augmenting import CLEAN, RunAugmentation, augment_batch
from netbuilder.core.training.config import TrainConfig, TrainingError
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer
from tests.conftest import EXAMPLES, ROOT

GEOMETRIC = [name for name, kind in KINDS.items() if kind[-1] == "geometric"]
EXACT = ("flip", "vflip", "crop", "translate")  # whole-pixel moves: the image's pixels land on pixels


@pytest.fixture(scope="module")
def shapes():
    """fcn_shapes on noiseless shapes: each image is exactly its mask > 0."""
    return prepare_training(Graph.load(EXAMPLES / "fcn_shapes.json"), "shapes:n=120:noise=0", seed=0)


def run_augmentation(setup, spec, seed=0):
    return RunAugmentation(spec, setup.model, setup.objective.feeds, setup.objective.has_terms, setup.splits,
                           torch.device("cpu"), seed=seed)


def first_batch(setup, n=64):
    return {name: t[:n].clone() for name, t in setup.splits.train.fields.items()}


def raw_image(setup, x):
    mean, std = setup.splits.normalization["x"]
    return x * std + mean


@pytest.mark.parametrize("name", GEOMETRIC)
def test_a_mask_still_equals_its_thresholded_image_after_every_geometric_augmentation(shapes, name):
    strong = {"crop": "crop=6", "translate": "translate=0.2", "rotate": "rotate=40", "scale": "scale=0.3"}
    spec = [strong.get(name, f"{name}=1" if KINDS[name][0] == "p" else name)]
    augmenting = run_augmentation(shapes, spec)
    batch = first_batch(shapes)
    assert torch.equal(raw_image(shapes, batch["x"])[:, 0] > 0.5, batch["mask"] > 0)  # before: the premise
    out = augmenting(batch, epoch=1)
    image, mask = raw_image(shapes, out["x"])[:, 0], out["mask"]
    assert mask.dtype == torch.int64 and set(mask.unique().tolist()) <= {0, 1, 2, 3}, "classes never blended"
    assert not torch.equal(mask, batch["mask"]), "the augmentation moved something"
    inside = mask > 0
    differ = (image > 0.5) != inside
    if name in EXACT:
        assert not differ.any(), f"{name}: the image and its mask took the same draw"
    else:  # interpolated images: they may differ only on a shape's edge pixels
        near = inside[:, None].float()
        edge = (F.max_pool2d(near, 3, 1, 1) != -F.max_pool2d(-near, 3, 1, 1))[:, 0]
        assert not (differ & ~edge).any(), f"{name}: the image and its mask took the same draw"
        assert differ.float().mean() < 0.02


def test_a_denoising_autoencoders_target_stays_clean():
    setup = prepare_training(Graph.load(EXAMPLES / "denoising_autoencoder.json"), "digits:size=28", seed=0)
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=1, batch_size=32, compile="off",
                                                             augment=["flip=1", "noise=0.5", "erase=0.3:p=1"]),
                      objective=setup.objective)
    original = setup.splits.train.x
    torch.manual_seed(0 * 100_003 + 1)  # the trainer's order for epoch 1
    first = original[torch.randperm(len(original))[:32]]
    batch = next(trainer._batches(1))
    _losses, terms, _ = trainer._forward(batch, training=True)
    target = next(iter(terms.values()))[1]  # the MSE loss block's target
    assert torch.equal(target, batch["x" + CLEAN]), "the loss's target is the clean copy"
    assert torch.allclose(target, first.flip(-1), atol=1e-6), "moved with the input (flipped), not corrupted"
    assert (batch["x"] - target).abs().max() > 0.5, "the network's input is corrupted"


def test_tokens_and_labels_are_never_touched():
    torch.manual_seed(0)
    fields = {"x": FieldInfo((1, 16, 16), True), "tokens": FieldInfo((16,), False), "y": FieldInfo((), False),
              "mask": FieldInfo((16, 16), False)}
    steps = parse_augment("flip=1,rotate=30,noise=0.3,erase=0.5:p=1")
    plan = plan_fields(steps, fields, network={"x", "tokens"}, targets={"y", "mask"})
    assert plan.groups[0].masks == ["mask"] and set(plan.untouched) == {"tokens", "y"}
    batch = {"x": torch.rand(8, 1, 16, 16), "tokens": torch.randint(0, 16, (8, 16)), "y": torch.arange(8),
             "mask": torch.randint(0, 3, (8, 16, 16))}
    out = augment_batch(Augmentation(steps), plan, batch, {}, torch.Generator().manual_seed(1))
    assert torch.equal(out["tokens"], batch["tokens"]) and torch.equal(out["y"], batch["y"])
    assert not torch.equal(out["x"], batch["x"]) and not torch.equal(out["mask"], batch["mask"])


def test_a_token_graph_refuses_augmentation_naming_the_field():
    setup = prepare_training(Graph.load(EXAMPLES / "seq2seq_reverse.json"), "reverse:n=200:length=6:vocab=8")
    with pytest.raises(AugmentError) as caught:
        Trainer(setup.model, setup.splits, TrainConfig(epochs=1, augment=["noise"]), objective=setup.objective)
    assert str(caught.value) == ("noise cannot apply to field 'tokens': integer ids or classes (6 per sample), which "
                                 "augmentation never changes")


@pytest.mark.parametrize("example, data, spec, message", [
    ("mlp_xor", "xor:n=100", ["rotate"], "rotate cannot apply to field 'x': a 1-D signal (2 values per sample), not "
                                         "an image; rotate needs images (channels x height x width)"),
    ("mnist_convnet", "digits:size=28", ["colour"], "colour cannot apply to field 'x': its images have 1 channel; "
                                                    "colour (saturation and hue) needs 3 (RGB); use brightness or "
                                                    "contrast"),
])
def test_an_augmentation_that_cannot_apply_to_a_field_is_refused_by_name(example, data, spec, message):
    setup = prepare_training(Graph.load(EXAMPLES / f"{example}.json"), data)
    with pytest.raises(AugmentError) as caught:
        Trainer(setup.model, setup.splits, TrainConfig(epochs=1, augment=spec), objective=setup.objective)
    assert str(caught.value) == message


def test_noise_on_a_1d_signal_is_allowed():
    setup = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "xor:n=100")
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=1, augment=["noise=0.2"]), objective=setup.objective)
    batch = next(trainer._batches(1))
    clean = next(Trainer(setup.model, setup.splits, TrainConfig(epochs=1), objective=setup.objective)._batches(1))
    assert 0.1 < float((batch["x"] - clean["x"]).std()) < 0.3
    assert trainer.augmenting.plan.signals == ["x"]


@pytest.mark.parametrize("spec, message", [
    (["spin"], "augment: unknown augmentation 'spin'; use flip, vflip, crop, translate, rotate, scale, brightness, "
               "contrast, colour, noise, erase"),
    (["rotate=400"], "augment: rotate: degrees must be 0..180, got 400"),
    (["crop=2.5"], "augment: crop: padding must be a whole number of pixels, got 2.5"),
    (["erase:p=2"], "augment: erase: p must be 0..1, got 2"),
    (["flip", "flip"], "augment: flip is given twice"),
    (["rotate:speed=3"], "augment: rotate: unknown option 'speed'"),
])
def test_bad_augmentations_are_refused_in_words(spec, message):
    with pytest.raises(TrainingError) as caught:
        TrainConfig(augment=spec).check()
    assert str(caught.value) == message


def test_the_cli_form_the_recipe_form_and_the_old_names_agree():
    assert canonical("flip,rotate=15,brightness=0.2") == ["flip", "rotate", "brightness"]
    assert canonical(["flip", {"name": "rotate", "degrees": 20, "p": 0.5}, {"name": "noise"}]) == \
        ["flip", "rotate=20:p=0.5", "noise"]
    assert canonical(["color=0.3:hue=0.05", "cutout"]) == ["colour=0.3:hue=0.05", "erase"]
    old = {s.name: (s.strength, s.p) for s in parse_augment(["flip", "crop", "noise"])}
    assert old == {"flip": (0.5, 0.5), "crop": (4, 1.0), "noise": (0.1, 1.0)}  # what they always meant
    assert check_recipe({"augment": ["flip", {"name": "rotate", "degrees": 10}]})["augment"][1]["degrees"] == 10
    with pytest.raises(RecipeError):
        check_recipe({"augment": [3]})


def test_the_same_seed_gives_the_same_batch_and_another_seed_another(shapes):
    def batch(seed, epoch=1):
        return run_augmentation(shapes, "flip,rotate=20,noise,erase", seed=seed)(first_batch(shapes), epoch)

    a, b, c = batch(3), batch(3), batch(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["x"], c["x"]) and not torch.equal(batch(3, epoch=2)["x"], a["x"])


def test_a_resumed_augmented_run_is_bit_exact(tmp_path, shapes):
    def trainer(epochs):
        setup = prepare_training(Graph.load(EXAMPLES / "fcn_shapes.json"), "shapes:n=80", seed=1)
        return Trainer(setup.model, setup.splits, TrainConfig(epochs=epochs, batch_size=20, seed=1, compile="off",
                                                              augment=["flip", "rotate=20", "noise", "erase"]),
                       objective=setup.objective)

    straight = trainer(2)
    straight.fit()
    first = trainer(1)
    first.fit(checkpoint=tmp_path / "c.pt")
    resumed = trainer(2)
    resumed.fit(resume_from=tmp_path / "c.pt")
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_the_cli_trains_with_every_augmentation_and_records_it(tmp_path):
    spec = "flip,crop,translate=0.1,rotate=15,scale=0.1,brightness=0.2,contrast=0.2,noise=0.1,erase=0.2"
    run = subprocess.run([sys.executable, "-m", "netbuilder.cli", "train", str(EXAMPLES / "mnist_convnet.json"),
                          "--epochs", "1", "--augment", spec, "--data", "digits:size=28", "--statistics", "0",
                          "--out", str(tmp_path / "run")], cwd=tmp_path, capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["config"]["augment"] == ["flip", "crop", "translate", "rotate", "scale", "brightness", "contrast",
                                            "noise", "erase"]
    assert metrics["test"]["accuracy"] > 0.3


def test_the_cli_writes_a_grid_of_16_samples_with_their_masks(tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    run = subprocess.run([sys.executable, "-m", "netbuilder.cli", "augment", str(EXAMPLES / "fcn_shapes.json"),
                          "--augment", "flip,rotate=20", "--data", "shapes:n=40", "-o", str(out)], cwd=tmp_path,
                         capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {out}: 16 samples of shapes:n=40, augmented: flip,rotate=20 (on x (with "
                                 "mask))")
    pixels = torch.from_numpy(__import__("numpy").asarray(Image.open(out).convert("RGB"))).reshape(-1, 3).long()
    from netbuilder.core.data.augment.grid import class_colour

    red, green, blue = pixels.unbind(1)
    tinted = ((red - green).abs() > 60) | ((green - blue).abs() > 60)  # mask colours over grey images
    assert int(tinted.sum()) > 2000
    for value in (1, 2, 3):  # each class drawn in its colour, blended over white shapes
        colour = torch.tensor(class_colour(value))
        blended = (255 * 0.55 + colour * 0.45).round().long()
        assert int(((pixels - blended).abs().max(1).values <= 3).sum()) > 50


def test_the_grid_refuses_what_is_not_an_image(tmp_path):
    run = subprocess.run([sys.executable, "-m", "netbuilder.cli", "augment", str(EXAMPLES / "mlp_xor.json"),
                          "--augment", "noise", "-o", str(tmp_path / "g.png")], cwd=tmp_path, capture_output=True,
                         text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1
    assert run.stderr.strip() == ("netbuilder: error: the preview shows images; field 'x' holds samples of 2, not "
                                  "images")


def test_the_sampling_grid_is_affine_grids():
    """The grid computed elementwise (faster on a CPU) is torch's affine_grid's, for any map and image size."""
    from netbuilder.core.data.augment.transforms import _affine_grid

    theta = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(3))
    for height, width in [(28, 28), (5, 9), (1, 4)]:
        expected = F.affine_grid(theta, [7, 1, height, width], align_corners=False)
        torch.testing.assert_close(_affine_grid(theta, height, width), expected, rtol=0, atol=2e-6)


def test_each_step_draws_over_its_stated_range_on_the_share_of_samples_it_states():
    """One draw of 20,000 samples per step, read back from its sampling map and factors: crop shifts by whole
    pixels in -N..N, translate by whole pixels up to the fraction, rotate within its degrees, scale within 1 +- r,
    brightness and contrast within 1 +- a, a flip and an erased box on about the share given."""
    n, size, g = 20_000, 28, torch.Generator().manual_seed(0)

    def theta(spec):
        return Augmentation(spec).draw(n, size, size, "cpu", g)["theta"]

    def shift_x(t):  # theta's x shift in pixels (the map is p = A q - A t: with A = I it is -t)
        return (-t[:, 0, 2] * size / 2).round().long()

    crop = shift_x(theta("crop=2"))
    assert set(crop.tolist()) == {-2, -1, 0, 1, 2} and (crop + 2).bincount().min() > n / 5 * 0.9  # evenly
    assert set(shift_x(theta("translate=0.1")).tolist()) == {-3, -2, -1, 0, 1, 2, 3}  # 0.1 x 28 = 2.8 pixels
    rotated = theta("rotate=15")
    degrees = torch.rad2deg(torch.atan2(rotated[:, 0, 1], rotated[:, 0, 0]))
    assert -15 <= degrees.min() < -14.5 and 14.5 < degrees.max() <= 15
    zoom = 1 / torch.linalg.det(theta("scale=0.1")[:, :, :2]).sqrt()
    assert 0.9 <= zoom.min() < 0.905 and 1.095 < zoom.max() <= 1.1
    flipped = (theta("flip")[:, 0, 0] < 0).float().mean()
    assert abs(flipped - 0.5) < 0.02
    colour = Augmentation("brightness=0.2,contrast=0.3,erase=0.2:p=0.3").draw(n, size, size, "cpu", g)
    assert 0.8 <= colour["brightness"].min() < 0.81 and 1.19 < colour["brightness"].max() <= 1.2
    assert 0.7 <= colour["contrast"].min() < 0.71 and 1.29 < colour["contrast"].max() <= 1.3
    use, top, left, box_h, box_w = colour["erase"]
    assert abs(use.float().mean() - 0.3) < 0.02 and (box_h, box_w) == (6, 6)
    assert top.min() == -3 and top.max() == 24 and left.min() == -3 and left.max() == 24  # centres on every pixel


def test_noise_comes_from_a_table_of_independent_gaussian_values_at_an_offset_per_batch():
    from netbuilder.core.data.augment.transforms import NOISE_TABLE, _gaussian

    shape = (100, 1, 28, 28)
    a, again, other = (_gaussian(shape, "cpu", torch.float32, seed) for seed in (5, 5, 6))
    assert torch.equal(a, again) and not torch.equal(a, other)
    assert a.untyped_storage().data_ptr() == other.untyped_storage().data_ptr()  # one table, not a fresh draw
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02
    first, second = a[0].flatten(), a[1].flatten()  # two samples of a batch: independent
    assert abs(torch.corrcoef(torch.stack([first, second]))[0, 1]) < 0.15
    large = _gaussian((NOISE_TABLE // 2 + 1,), "cpu", torch.float32, 5)  # more than half the table: drawn fresh
    assert large.untyped_storage().data_ptr() != a.untyped_storage().data_ptr() and abs(large.std() - 1) < 0.01


def test_masks_of_any_whole_numbers_move_by_nearest_neighbour_alike():
    """Classes move through grid_sample's nearest mode (as float32, exact below 2**24); larger whole numbers by
    index: both land every pixel on the same source pixel, and what moves in from outside is 0."""
    augmentation = Augmentation("flip,rotate=20,crop=3,scale=0.2")
    draw = augmentation.draw(50, 20, 24, "cpu", torch.Generator().manual_seed(1))
    classes = torch.randint(1, 5, (50, 20, 24), generator=torch.Generator().manual_seed(2))
    small, large = augmentation.move(classes, dict(draw)), augmentation.move(classes * 2**30, dict(draw))
    assert torch.equal(large, small * 2**30) and (small == 0).any()
    assert torch.equal(augmentation.move(classes.to(torch.uint8), dict(draw)), small.to(torch.uint8))
