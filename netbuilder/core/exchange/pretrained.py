"""Pretrained ImageNet weights on demand for the examples that are torchvision's networks, block for block.

    graph, state = pretrained("resnet18", progress=print)    # the example graph and torchvision's weights
    write_pretrained("resnet18", "resnet18.json")            # resnet18.json + resnet18.pt (refuses to overwrite)

The weights are torchvision's published files (download.pytorch.org/models/<name>-<first 8 hex digits of their
SHA-256>.pth), fetched on first use by core/data/download.py's `fetch` (the checksum in the name, a cut download
resumed, progress, one message offline saying which file to put where), kept in the user's data folder
(`weights_home()`), and read with torch.load(weights_only=True): tensors only. NETBUILDER_WEIGHTS_MIRRORS (a
space-separated list of base URLs) replaces download.pytorch.org, as NETBUILDER_DATASET_MIRRORS does for datasets.

Each network's table maps torchvision's state_dict names onto the example's blocks; a file is accepted only when
every tensor finds its place with its shape and every weight of the graph is filled (GoogLeNet's two auxiliary
classifiers, used only in its training, are left out). The images the weights expect travel with them, as a
trained model's normalization does: normalize_x_mean and normalize_x_std (ImageNet's mean and std of RGB values
in 0..1; GoogLeNet's 0.5 and 0.5, which its torchvision model gets by transforming its input).

MobileNetV3-Small is not among them: examples/mobilenet_v3_small.json is a variant for 28x28 grey images (121,782
parameters), not torchvision's 224x224 network (2.5 million).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..base.errors import NetbuilderError, summarize
from ..base.files import refuse_overwrite, shipped
from ..layers.spec import format_shape
from ..model.graph import Graph

MIRRORS = ("https://download.pytorch.org/models/",)
MIRRORS_VARIABLE = "NETBUILDER_WEIGHTS_MIRRORS"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedError(NetbuilderError):
    """Weights that cannot be had or do not fit; the message says which file and why."""


@dataclass(frozen=True)
class Pretrained:
    name: str  # how the command line names it: resnet18
    title: str
    example: str  # the example graph the weights fit
    file: str  # torchvision's file name: <name>-<first 8 hex digits of the SHA-256>.pth
    megabytes: int  # about how big the download is
    head: str  # the last Linear block: the classifier that fine-tuning replaces
    modules: dict[str, str] = field(default_factory=dict)  # torchvision's module path -> the block's name
    dropped: tuple[str, ...] = ()  # torchvision's modules that have no block (only its training uses them)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @property
    def sha256(self) -> str:
        return self.file.rsplit("-", 1)[1].split(".")[0]

    @property
    def url(self) -> str:
        return MIRRORS[0] + self.file

    def block_key(self, key: str) -> str | None:
        """The graph's state_dict key of one of torchvision's (None: a tensor the graph leaves out)."""
        module, _, leaf = key.rpartition(".")
        if module.startswith(self.dropped) and self.dropped:
            return None
        if module not in self.modules:
            raise PretrainedError(f"{self.file}: {key} has no block in {self.example}")
        return f"{self.modules[module]}.{leaf}"


def _resnet18() -> dict[str, str]:
    modules = {"conv1": "conv1", "bn1": "bn1", "fc": "fc"}
    for layer in range(1, 5):
        for block in range(2):
            for part in ("conv1", "bn1", "conv2", "bn2"):
                modules[f"layer{layer}.{block}.{part}"] = f"layer{layer}_{block}_{part}"
        if layer > 1:
            modules[f"layer{layer}.0.downsample.0"] = f"layer{layer}_0_downsample_conv"
            modules[f"layer{layer}.0.downsample.1"] = f"layer{layer}_0_downsample_bn"
    return modules


def _googlenet() -> dict[str, str]:
    modules = {"fc": "fc"}
    for stem in ("conv1", "conv2", "conv3"):
        modules |= {f"{stem}.conv": f"{stem}_conv", f"{stem}.bn": f"{stem}_bn"}
    branches = {"branch1": "b1", "branch2.0": "b2a", "branch2.1": "b2b", "branch3.0": "b3a", "branch3.1": "b3b",
                "branch4.1": "b4"}
    for module in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        for branch, short in branches.items():
            for part in ("conv", "bn"):
                modules[f"inception{module}.{branch}.{part}"] = f"inception{module}_{short}_{part}"
    return modules


def _numbered(prefix: str, indices: list[int], names: list[str]) -> dict[str, str]:
    return {f"{prefix}.{i}": name for i, name in zip(indices, names)}


_VGG = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3",
        "conv5_1", "conv5_2", "conv5_3"]
PRETRAINED: dict[str, Pretrained] = {
    "alexnet": Pretrained(
        "alexnet", "AlexNet", "alexnet.json", "alexnet-owt-7be5be79.pth", 233, "fc8",
        _numbered("features", [0, 3, 6, 8, 10], ["conv1", "conv2", "conv3", "conv4", "conv5"])
        | _numbered("classifier", [1, 4, 6], ["fc6", "fc7", "fc8"])),
    "vgg16": Pretrained(
        "vgg16", "VGG16", "vgg16.json", "vgg16-397923af.pth", 528, "fc8",
        _numbered("features", [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28], _VGG)
        | _numbered("classifier", [0, 3, 6], ["fc6", "fc7", "fc8"])),
    "resnet18": Pretrained("resnet18", "ResNet-18", "resnet18.json", "resnet18-f37072fd.pth", 45, "fc", _resnet18()),
    "googlenet": Pretrained("googlenet", "GoogLeNet", "googlenet.json", "googlenet-1378be20.pth", 50, "fc",
                            _googlenet(), dropped=("aux1", "aux2"), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
}


def weights_home() -> Path:
    """Where downloaded weights are kept: NETBUILDER_WEIGHTS, else `weights` in the user's data folder (beside
    `datasets`: ~/.local/share/netbuilder/weights on Linux)."""
    from ..base.files import user_data_dir

    if os.environ.get("NETBUILDER_WEIGHTS"):
        return Path(os.environ["NETBUILDER_WEIGHTS"]).expanduser()
    return user_data_dir() / "weights"


def spec_of(name: str) -> Pretrained:
    if name not in PRETRAINED:
        raise PretrainedError(f"no pretrained weights for {name!r}; there are: {', '.join(PRETRAINED)}")
    return PRETRAINED[name]


def fetch_weights(spec: Pretrained, progress: Callable | None = None, home: Path | None = None) -> Path:
    """The weights file, downloaded on first use (DownloadError says why not, and where to put it by hand)."""
    from ..data.download import RemoteFile, fetch, mirrors_from

    folder = home or weights_home()
    mirrors = mirrors_from(MIRRORS_VARIABLE, MIRRORS)
    return fetch(RemoteFile(spec.file, sha256=spec.sha256), folder / spec.file, mirrors,
                 what=f"{spec.title}'s ImageNet weights", progress=progress,
                 by_hand=f"offline, download {spec.url} and put {spec.file} in {folder}")


def map_weights(spec: Pretrained, state: dict, graph: Graph) -> dict:
    """torchvision's state_dict as the graph's: every tensor placed, with its shape; every weight of the graph
    filled (a missing num_batches_tracked starts at 0); the normalization the weights expect added."""
    import torch

    from ..build.compile import compile_graph

    with torch.device("meta"):  # names and shapes only: no memory for the weights, no time to initialize them
        own = compile_graph(graph).state_dict()
    mapped, problems = {}, []
    for key, value in state.items():
        target = spec.block_key(key)
        if target is None:
            continue
        if target not in own:
            problems.append(f"{key} has no place ({target})")
        elif tuple(own[target].shape) != tuple(value.shape):
            problems.append(f"{key} is {format_shape(tuple(value.shape))}, {target} needs "
                            f"{format_shape(tuple(own[target].shape))}")
        else:
            mapped[target] = value
    for key, value in own.items():
        if key not in mapped and key.endswith("num_batches_tracked"):
            mapped[key] = torch.zeros((), dtype=torch.int64)
    problems += [f"{key} is not in the file" for key in own if key not in mapped]
    if problems:
        raise PretrainedError(f"{spec.file} does not fit {spec.example}: {summarize(problems)}")
    inputs = [n.name for n in graph.nodes if n.type == "Input"]
    mean = torch.tensor(spec.mean, dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).reshape(-1, 1, 1)
    mapped[f"normalize_{inputs[0]}_mean"], mapped[f"normalize_{inputs[0]}_std"] = mean, std
    return mapped


def read_weights(spec: Pretrained, path: Path) -> dict:
    """A downloaded file, read with weights_only=True; torchvision's old files keep a state_dict's metadata."""
    from ..build.weights import WeightsError, check_state, read_tensors

    state = read_tensors(path)
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: not a state_dict")
    return check_state(dict(state), str(path))


def pretrained(name: str | Pretrained, progress: Callable | None = None, home: Path | None = None
               ) -> tuple[Graph, dict]:
    """The example graph with torchvision's ImageNet weights on its blocks (downloaded on first use)."""
    spec = spec_of(name) if isinstance(name, str) else name
    graph = Graph.load(shipped("examples") / spec.example)
    state = map_weights(spec, read_weights(spec, fetch_weights(spec, progress, home)), graph)
    graph.meta["title"] = f"{spec.title} (ImageNet weights)"
    graph.meta["description"] = (f"{graph.meta.get('description', '')} With torchvision's ImageNet weights "
                                 f"({spec.file}).").strip()
    return graph, state


def write_graph(graph: Graph, state: dict, graph_path: str | os.PathLike, force: bool = False) -> Path:
    """GRAPH.json and its weights GRAPH.pt (which its meta names); refuses to overwrite either unless `force`."""
    from ..base.files import atomic_write_text
    from ..build.weights import save_state

    graph_path = Path(graph_path)
    if graph_path.suffix != ".json":
        raise PretrainedError(f"{graph_path}: the graph is written as a .json file")
    weights_path = graph_path.with_suffix(".pt")
    refuse_overwrite(graph_path, weights_path, overwrite=force)
    graph.meta["weights"] = weights_path.name
    graph_path.parent.mkdir(parents=True, exist_ok=True)
    save_state(state, weights_path)
    import json

    atomic_write_text(graph_path, json.dumps(graph.to_dict(), indent=1) + "\n")
    return weights_path


def write_pretrained(name: str, graph_path: str | os.PathLike, force: bool = False,
                     progress: Callable | None = None) -> tuple[Graph, Path]:
    refuse_overwrite(graph_path, Path(graph_path).with_suffix(".pt"), overwrite=force)  # before a long download
    graph, state = pretrained(name, progress)
    return graph, write_graph(graph, state, graph_path, force)
