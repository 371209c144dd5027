"""Retake the README's screenshots with tools/screenshot.py (offscreen; each in a fresh process):

    QT_QPA_PLATFORM=offscreen python tools/readme_screenshots.py [OUT_DIR] [--only NAME ...]

At 1366x768 (and the first four also at 1920x1080): the start page; the lecture's convnet with its Flatten
forgotten (the Analysis finding and its fix); GoogLeNet collapsed and fitted; the convnet after 3 epochs (curves);
the VAE's results (loss parts as they count); the GAN ring's samples; Inside: the convnet's feature maps and its
conv1 filters (the Inside panel enlarged), and a deep plain network coloured by its gradients' std; two runs of the
convnet compared (the Runs panel, the curves overlaid, the changed block marked on the canvas).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def deep_plain_network(path: Path, layers: int = 8) -> Path:
    """Input, Flatten, then Linear + Sigmoid `layers` times, then the classifier: in two columns."""
    sys.path.insert(0, str(ROOT))
    from netbuilder.core.model.graph import Graph

    g = Graph(meta={"title": f"deep plain network ({layers} sigmoid layers)"})
    rows = [("Input", {}, "x"), ("Flatten", {}, "flatten")]
    for i in range(1, layers + 1):
        rows += [("Linear", {"out_features": 64}, f"fc{i}"), ("Sigmoid", {}, f"sigmoid{i}")]
    rows += [("Linear", {"out_features": 10}, f"fc{layers + 1}"), ("Output", {}, "logits")]
    prev = None
    for i, (type_name, params, name) in enumerate(rows):
        node = g.add_node(type_name, params, name=name, pos=((i % 2) * 230.0, (i // 2) * 96.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    g.set_recipe({"data": "mnist-5k", "epochs": 1, "optimizer": "sgd", "lr": 0.1})
    g.save(path)
    return path


def shots(tmp: Path) -> dict[str, list[str]]:
    convnet, deep = str(EX / "mnist_convnet.json"), str(deep_plain_network(tmp / "deep_plain.json"))
    shots = {}
    for size in ("1366x768", "1920x1080"):
        shots[f"start-{size}.png"] = ["--start", "--size", size]
        shots[f"analysis-{size}.png"] = [convnet, "--remove", "flatten", "--select", "fc1", "--dock", "Analysis",
                                         "--size", size]
        shots[f"googlenet-{size}.png"] = [str(EX / "googlenet.json"), "--collapse", "--fit", "--select",
                                          "inception4a", "--size", size]
        shots[f"training-{size}.png"] = [convnet, "--train", "3", "--tab", "Curves", "--dock", "Training",
                                         "--size", size]
    shots["results-1366x768.png"] = [str(EX / "vae.json"), "--train", "3", "--tab", "Results", "--size", "1366x768"]
    shots["samples-1366x768.png"] = [str(EX / "gan_ring.json"), "--train", "20", "--tab", "Samples",
                                     "--size", "1366x768"]
    shots["inside_maps.png"] = [convnet, "--train", "3", "--inside", "conv1,conv2", "--sample", "3", "--tile", "52",
                                "--enlarge", "Inside", "--size", "1366x768"]
    shots["inside_filters.png"] = [convnet, "--train", "3", "--inside", "conv1", "--inside-mode", "filters",
                                   "--tile", "64", "--size", "1366x768"]
    shots["inside_gradients.png"] = [deep, "--train", "1", "--statistics", "5", "--inside", "sigmoid1",
                                     "--colour-by", "grad_std", "--fit", "--size", "1366x768"]
    shots["runs-compare-1366x768.png"] = [convnet, "--train", "3", "--compare", "conv2.out_channels=32,lr=0.003",
                                          "--size", "1366x768"]
    return shots


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(ROOT / "resources" / "screenshots"))
    parser.add_argument("--only", nargs="*", help="file names to retake")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in shots(Path(tmp)).items():
            if args.only and name not in args.only:
                continue
            command = [sys.executable, str(ROOT / "tools" / "screenshot.py"), str(Path(args.out) / name), *options]
            print(" ".join(["python", "tools/screenshot.py", name, *[o.replace(str(ROOT) + "/", "") for o in options]]),
                  flush=True)
            subprocess.run(command, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
