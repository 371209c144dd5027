"""Train every example with its own recipe (`netbuilder train examples/NAME.json`, no option) and measure the
figure the README states for it.

    python bench/train_examples.py [NAME ...] [--out DIR]

Figures:
- classifiers (mlp_xor, mnist_convnet, lenet5, lstm_classifier, transfer_learning): test accuracy;
- mlp_regression: the test root-mean-square error, in degrees;
- autoencoder, denoising_autoencoder: the test reconstruction MSE (pixels in [0, 1]);
- vae: the ELBO (per image, in nats) of the first and the last epoch, and the test ELBO;
- gan_ring: modes covered by 1,000 generated points (a mode counts when at least 50 of them, 40% of its fair
  share, lie within 0.06 of its centre: 3 standard deviations of the real data; points spread evenly around the
  circle would put about 19 there), and the share of points within 3 standard deviations of some mode;
- gan_mnist: of 1,000 generated digits, the share that a classifier trained on mnist-5k (the lecture's
  convnet, trained here with its recipe) labels with a probability above 0.9;
- siamese_mnist: same/different accuracy on test pairs; fcn_shapes, unet_shapes: the test mean IoU;
- seq2seq_reverse: the share of test tokens predicted right (teacher forcing); transformer_classifier,
  nin, densenet, mobilenet_v3_small: test accuracy.
The big ImageNet architectures (alexnet, vgg16, resnet18, googlenet) carry no recipe: there is no dataset
for them offline.
"""
import contextlib
import json
import math
import os
import tempfile
import time
from pathlib import Path

from _common import EXAMPLES, steady_allocator

steady_allocator()

import torch  # noqa: E402

from netbuilder.cli import main  # noqa: E402
from netbuilder.core.build.weights import fit_state, read_state  # noqa: E402
from netbuilder.core.inside.pictures import generate  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402

TRAINED = ["mlp_xor", "mlp_regression", "mnist_convnet", "lenet5", "lstm_classifier", "transfer_learning",
           "autoencoder", "denoising_autoencoder", "vae", "siamese_mnist", "fcn_shapes", "unet_shapes",
           "transformer_classifier", "seq2seq_reverse", "nin", "densenet", "mobilenet_v3_small", "gan_ring",
           "gan_mnist"]


def train(name: str, out: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        code = main(["train", str(EXAMPLES / f"{name}.json"), "--out", str(out)])
    if code != 0:
        raise SystemExit(f"{name}: training failed ({code})")
    return json.loads((out / "metrics.json").read_text()), time.perf_counter() - start


def ring_modes(out: Path) -> str:
    graph = Graph.load(EXAMPLES / "gan_ring.json")
    points = generate(graph, read_state(out / "weights.pt"), 1000, seed=1)["generated"]
    centres = torch.stack([torch.tensor([math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)])
                           for k in range(8)])
    distance = torch.cdist(points, centres)
    near, mode = distance.min(1)
    counts = [int(((mode == k) & (near < 0.06)).sum()) for k in range(8)]
    covered = sum(c >= 50 for c in counts)
    return (f"{covered} of 8 modes covered; {float((near < 0.06).float().mean()):.0%} of the points within 3 std of "
            f"a mode (each mode's: {counts})")


def mnist_judge(out: Path) -> str:
    classifier_dir = out.parent / "judge"
    metrics, _ = train("mnist_convnet", classifier_dir)
    judge = fit_state(Graph.load(EXAMPLES / "mnist_convnet.json"), read_state(classifier_dir / "weights.pt")).eval()
    digits = generate(Graph.load(EXAMPLES / "gan_mnist.json"), read_state(out / "weights.pt"), 1000, seed=1)
    with torch.no_grad():
        probabilities = torch.softmax(judge(digits["generated"]), dim=1)
    confident = probabilities.max(1).values > 0.9
    classes = torch.bincount(probabilities.argmax(1)[confident], minlength=10).tolist()
    return (f"{confident.float().mean():.1%} of 1,000 generated digits labelled with probability > 0.9 by a "
            f"convnet of test accuracy {metrics['test']['accuracy']:.1%} (per class: {classes})")


def figure(name: str, metrics: dict, out: Path) -> str:
    test = metrics["test"]
    if name == "mlp_regression":
        return f"test RMSE {math.sqrt(test['mse']):.3f} degrees (MSE {test['mse']:.4f})"
    if name in ("autoencoder", "denoising_autoencoder"):
        return f"test reconstruction MSE {test['mse']:.4f}"
    if name == "vae":
        first, last = metrics["epochs"][0]["train_loss"], metrics["epochs"][-1]["train_loss"]
        return f"ELBO loss {first:.1f} (epoch 1) -> {last:.1f} (epoch {len(metrics['epochs'])}); test {test['loss']:.1f}"
    if name == "gan_ring":
        return ring_modes(out)
    if name == "gan_mnist":
        return mnist_judge(out)
    if name in ("fcn_shapes", "unet_shapes"):
        return f"test mean IoU {test['mean_iou']:.3f} (pixel accuracy {test['accuracy']:.1%})"
    if name == "seq2seq_reverse":
        return f"test tokens predicted right {test['accuracy']:.1%}"
    if name == "siamese_mnist":
        return f"same/different accuracy on test pairs {test['accuracy']:.1%}"
    return f"test accuracy {test['accuracy']:.1%}"


def run() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="train every example with its recipe; print its README figure")
    parser.add_argument("names", nargs="*", metavar="NAME", help="examples to train (default: all with a recipe)")
    parser.add_argument("--out", metavar="DIR", help="keep each run's files in DIR/NAME (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names or TRAINED:
            out = Path(args.out or tmp) / name
            metrics, seconds = train(name, out)
            print(f"{name:22s} {figure(name, metrics, out)}  [{len(metrics['epochs'])} epochs, {seconds:.0f} s]",
                  flush=True)


if __name__ == "__main__":
    run()
