"""Looking inside a network: what flows out of any block for one sample, a convolution's filters, saliency.

A ProbeModel is the graph compiled for inference over some weights: fresh ones (seeded as a training run
seeds them), a trained state (weights.pt), or the live modules of a training run (shared, not copied).
Probing a block runs a copy of the forward's fx graph that returns the block's output beside the network's
outputs, on one sample; what the block's output is on a wire, it is on every wire leaving the block.

Probing never changes the model: it runs in eval mode (BatchNorm's running statistics and Dropout's random
draws stay as they are), without autograd (saliency asks torch.autograd.grad for the gradient with respect to
the input alone, so no parameter's .grad is touched), with the random number generators saved and restored,
and with each submodule's training flag put back. A training run is probed on its own thread, between two
batches (Trainer.request), so its weights never change under a probe.
"""
from __future__ import annotations

import math
import re
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..base.errors import NetbuilderError
from ..build.compile import Traced, build_module, trace_graph
from ..checks.shapes import ShapeReport, infer_shapes
from ..layers.spec import format_shape
from ..model.graph import Graph


class ProbeError(NetbuilderError):
    """A block, sample or file that cannot be probed; the message says which and why."""


@dataclass
class Prediction:
    """What a classifier's output says about one sample: a probability per class, best first in `order`."""

    output: str
    probabilities: list[float]
    classes: list[str]

    @property
    def order(self) -> list[int]:
        return sorted(range(len(self.probabilities)), key=lambda i: -self.probabilities[i])

    @property
    def best(self) -> int:
        return self.order[0]

    def describe(self) -> str:
        best = self.best
        return f"predicted {self.classes[best]} ({self.probabilities[best]:.0%})"


@dataclass
class Probed:
    """One block's output for one sample (without the batch dimension, on the CPU), and the network's outputs."""

    block: str
    value: torch.Tensor
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # the raw samples fed to the Inputs
    seconds: float = 0.0

    def prediction(self, classes: list[str] | None = None) -> Prediction | None:
        return prediction_of(self.outputs, classes)

    def describe(self) -> str:
        v = self.value.float()
        return f"{self.block}  {format_shape(tuple(v.shape))}  range {float(v.min()):.4g} .. {float(v.max()):.4g}"


@dataclass
class Saliency:
    """How much each input value changes the score of `target` (|d score / d input|, the largest over an
    image's channels): H x W for an image, the input's shape otherwise."""

    input: str
    target: int
    map: torch.Tensor
    sample: torch.Tensor  # the raw input


def prediction_of(outputs: dict[str, torch.Tensor], classes: list[str] | None = None) -> Prediction | None:
    """Class probabilities from the first Output that is a vector of scores: softmax of logits (left as they
    are when they already are probabilities, exp of log-probabilities); one output: a sigmoid (two classes)."""
    for name, value in outputs.items():
        if value.dim() != 1 or not value.is_floating_point():
            continue
        v = value.float()
        if len(v) == 1:
            if classes is None or len(classes) != 2:
                continue
            p = float(torch.sigmoid(v[0]))
            return Prediction(name, [1 - p, p], list(classes))
        if bool((v >= 0).all()) and abs(float(v.sum()) - 1) < 1e-3:
            p = v
        elif bool((v <= 0).all()) and abs(float(v.exp().sum()) - 1) < 1e-3:
            p = v.exp()
        else:
            p = torch.softmax(v, 0)
        names = list(classes) if classes is not None and len(classes) == len(v) else [str(i) for i in range(len(v))]
        return Prediction(name, p.tolist(), names)
    return None


@contextmanager
def untouched(module: torch.nn.Module, grad: bool = False):
    """Run a module without changing it: eval mode (then each submodule's own flag back), no autograd unless
    `grad`, the random number generators (CPU, and the module's CUDA device) as they were."""
    flags = [(m, m.training) for m in module.modules()]
    device = _device(module)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.set_grad_enabled(grad):
        module.eval()
        try:
            yield
        finally:
            for m, training in flags:
                m.training = training


def _device(module: torch.nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


class ProbeModel:
    """The graph for inference over given weights, with a way to read what comes out of any block."""

    def __init__(self, graph: Graph, report: ShapeReport | None = None, *, modules: dict | None = None,
                 normalization: dict | None = None, seed: int = 0) -> None:
        self.graph = graph
        self.report = report or infer_shapes(graph)
        self.traced: Traced = trace_graph(graph, self.report, mode="infer", normalization=normalization)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # fresh weights as a training run with this seed starts from
            self.module = build_module(self.traced, modules)
        device = _device(torch.nn.ModuleList(list((modules or {}).values())))
        self.module.to(device)  # the normalization buffers go where the shared modules are
        self.device = _device(self.module)
        self._probes: dict[tuple[str, bool], torch.fx.GraphModule] = {}

    # ----- what can be probed

    @property
    def inputs(self) -> list[str]:
        """The forward's arguments: Input blocks (then noise sources)."""
        return list(self.traced.inputs)

    def blocks(self) -> list[str]:
        """Every block whose output can be probed: those the network's outputs depend on."""
        alive = set(self.module.graph.nodes)
        return [name for name, node in self.traced.block_nodes.items() if node in alive]

    def _node(self, block: str):
        node = self.traced.block_nodes.get(block)
        if node is None or node not in set(self.module.graph.nodes):
            if block not in {n.name for n in self.graph.nodes}:
                raise ProbeError(f"the graph has no block named {block!r}")
            raise ProbeError(f"{block} is not part of the network that computes the outputs (it feeds only "
                             "loss blocks, or nothing): there is nothing to see there at inference")
        return node

    # ----- running

    def _probe_module(self, block: str, with_outputs: bool):
        key = (block, with_outputs)
        if key not in self._probes:
            from torch import fx

            target = self._node(block)
            graph = fx.Graph()
            copies: dict = {}
            outputs = graph.graph_copy(self.module.graph, copies)
            graph.output((copies[target], outputs) if with_outputs else (copies[target],))
            module = fx.GraphModule(self.module, graph)
            module.graph.eliminate_dead_code()
            module.recompile()
            self._probes[key] = module
        return self._probes[key]

    def feeds(self, inputs: dict[str, torch.Tensor] | torch.Tensor, seed: int = 0) -> list[torch.Tensor]:
        """One batch of one sample per forward argument: each Input's sample (a tensor for a graph with one
        Input), standard normal noise (seeded) for noise sources."""
        if isinstance(inputs, torch.Tensor):
            names = [n for n in self.inputs if self.graph.find(n).type == "Input"]
            if len(names) != 1:
                raise ProbeError(f"the graph has {len(names)} Inputs ({', '.join(names)}): give a sample for each")
            inputs = {names[0]: inputs}
        generator = torch.Generator().manual_seed(seed)
        feeds = []
        for name in self.inputs:
            node = self.graph.find(name)
            shape = tuple(self.report.nodes[node.id].output)
            if node.type != "Input":
                feeds.append(torch.randn(1, *shape, generator=generator).to(self.device))
                continue
            if name not in inputs:
                raise ProbeError(f"no sample for the Input {name}")
            sample = inputs[name]
            if tuple(sample.shape) != shape:
                raise ProbeError(f"the sample for {name} is {format_shape(tuple(sample.shape))}; {name} takes "
                                 f"{format_shape(shape)}")
            feeds.append(sample.unsqueeze(0).to(self.device))
        return feeds

    def run(self, block: str, inputs: dict[str, torch.Tensor] | torch.Tensor, *, with_outputs: bool = True) -> Probed:
        """What comes out of `block` for one sample (and what comes out of the network)."""
        module = self._probe_module(block, with_outputs)
        feeds = self.feeds(inputs)
        start = time.perf_counter()
        with untouched(module):
            result = module(*feeds)
        value = _first(result[0])[0].detach().cpu()
        outputs = {}
        if with_outputs:
            out = result[1] if isinstance(result[1], tuple) else (result[1],)
            outputs = {name: _first(o)[0].detach().cpu() for name, o in zip(self.traced.outputs, out)}
        named = {name: f[0].detach().cpu() for name, f in zip(self.inputs, feeds)}
        return Probed(block, value, outputs, named, time.perf_counter() - start)

    def outputs(self, inputs: dict[str, torch.Tensor] | torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's outputs for one sample."""
        feeds = self.feeds(inputs)
        with untouched(self.module):
            out = self.module(*feeds)
        out = out if isinstance(out, tuple) else (out,)
        return {name: _first(o)[0].detach().cpu() for name, o in zip(self.traced.outputs, out)}

    # ----- weights and gradients

    def module_of(self, block: str) -> torch.nn.Module | None:
        """The module a block calls (the owner's, for a block that shares weights), or None."""
        node = self._node(block)
        return self.module.get_submodule(node.target) if node.op == "call_module" else None

    def filters(self, block: str) -> torch.Tensor:
        """A convolution's weights as filters: output channels x input channels x kernel (a transposed
        convolution's turned round to the same order), on the CPU."""
        module = self.module_of(block)
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() < 3:
            kind = self.graph.find(block).type if block in {n.name for n in self.graph.nodes} else "block"
            raise ProbeError(f"{block} ({kind}) has no filters: only convolutions do")
        weight = weight.detach().cpu().float()
        if isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
            weight = weight.transpose(0, 1)
        return weight.clone()

    def saliency(self, inputs: dict[str, torch.Tensor] | torch.Tensor, target: int | None = None,
                 input_name: str | None = None) -> Saliency:
        """|gradient| of a class score (the predicted class unless `target`) with respect to an input."""
        feeds = self.feeds(inputs)
        floats = [i for i, name in enumerate(self.inputs) if self.graph.find(name).type == "Input"
                  and feeds[i].is_floating_point()]
        if input_name is not None:
            floats = [i for i in floats if self.inputs[i] == input_name]
        if not floats:
            if not any(self.graph.find(name).type == "Input" for name in self.inputs):
                raise ProbeError("saliency needs an Input: this network's outputs depend on noise alone")
            raise ProbeError("saliency needs an Input of real numbers (not token ids) to differentiate against")
        index = floats[0]
        x = feeds[index].detach().clone().requires_grad_(True)
        feeds[index] = x
        with untouched(self.module, grad=True):
            out = self.module(*feeds)
            out = _first(out[0] if isinstance(out, tuple) else out)
            scores = out[0].reshape(-1) if out[0].dim() == 1 else None
            if scores is None or not scores.is_floating_point():
                raise ProbeError("saliency needs an output that is a vector of class scores; "
                                 f"{self.traced.outputs[0]} is {format_shape(tuple(out.shape[1:]))}")
            target = int(scores.argmax()) if target is None else target
            if not 0 <= target < len(scores):
                raise ProbeError(f"class {target} is not among the {len(scores)} outputs")
            score = scores[target] if len(scores) > 1 else (scores[0] if target == 0 else -scores[0])
            (grad,) = torch.autograd.grad(score, x)
        grad = grad[0].detach().cpu().abs()
        sample = x[0].detach().cpu()
        if grad.dim() == 3:
            grad = grad.amax(0)
        return Saliency(self.inputs[index], target, grad, sample)


def _first(value):
    """The tensor of a block whose output is a tuple (a recurrent layer's output and state)."""
    while isinstance(value, (tuple, list)):
        value = value[0]
    return value


# ----- where the weights come from


def fresh_model(graph: Graph, seed: int = 0, report: ShapeReport | None = None) -> ProbeModel:
    """The graph with the weights a training run with `seed` starts from (the global RNG is left alone)."""
    return ProbeModel(graph, report, seed=seed)


def trained_model(graph: Graph, state: dict, source: str = "the trained weights",
                  report: ShapeReport | None = None) -> ProbeModel:
    """The graph with a trained state (weights and input normalization), WeightsError when it does not fit."""
    from ..build.weights import load_for_inference, split_normalization

    weights, normalization = split_normalization(state)
    model = ProbeModel(graph, report, normalization=normalization)
    full = {**weights, **{k: v for k, v in state.items() if k not in weights}}
    load_for_inference(model.module, full, source)
    return model


def live_model(graph: Graph, trainer, report: ShapeReport | None = None) -> ProbeModel:
    """The graph over a training run's own modules (shared: the weights as they are now) and the input
    normalization of its data. Call it, and probe with it, on the run's thread (Trainer.request)."""
    from ..training.experiment import input_normalization

    modules = dict(trainer.model.named_children())
    return ProbeModel(graph, report, modules=modules, normalization=input_normalization(trainer))


# ----- samples


@dataclass
class Samples:
    """Raw samples (not normalized) for each Input block, with their labels when the dataset has classes."""

    name: str
    inputs: dict[str, torch.Tensor]  # Input block name -> N x shape
    labels: torch.Tensor | None = None
    classes: list[str] | None = None

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def sample(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise ProbeError(f"sample {index} is not in {self.name}: it has {len(self)} samples (0 to {len(self) - 1})")
        return {name: x[index] for name, x in self.inputs.items()}

    def label(self, index: int) -> str | None:
        if self.labels is None or self.labels.dim() != 1:
            return None
        value = int(self.labels[index])
        return self.classes[value] if self.classes and 0 <= value < len(self.classes) else str(value)


def held_out_samples(graph: Graph, spec, *, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                 load=None) -> Samples:
    """The test split a training run with these fractions and seed holds out, raw, fitted to each Input."""
    from ..data import load_dataset
    from ..data.prepare import Feed, prepare_feeds

    inputs = [n for n in graph.nodes if n.type == "Input"]
    if not inputs:
        raise ProbeError("the graph has no Input block")
    first = inputs[0]
    source = (load or load_dataset)(spec, tuple(first.params["shape"]))
    feeds = [Feed(n.name, n.params["field"], tuple(n.params["shape"]), n.params["dtype"], False) for n in inputs]
    splits = prepare_feeds(source, feeds, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    test = splits.test
    return Samples(test.name, {n.name: test.fields[n.params["field"]] for n in inputs},
                   test.y if test.is_classification else None, test.classes)


def fit_sample(sample: torch.Tensor, shape: tuple[int, ...], what: str = "the sample") -> torch.Tensor:
    """A sample given the Input's shape where that is unambiguous (28x28 -> 784, zero-padded to 32x32, ...)."""
    from ..data.prepare import fit_tensor

    try:
        return fit_tensor(sample.unsqueeze(0).float(), what, "samples", tuple(shape), [])[0]
    except NetbuilderError as e:
        raise ProbeError(str(e)) from None


def read_picture(path: str | Path, shape: tuple[int, ...]) -> torch.Tensor:
    """A picture file (PNG, JPEG, ...) as a sample for an Input of this shape: grey or RGB, resized, values
    0..1 as the datasets' images have. A flat input takes a square grey picture (784 = 28x28)."""
    from PIL import Image, UnidentifiedImageError

    shape = tuple(shape)
    if len(shape) == 3 and shape[0] in (1, 3):
        channels, size = shape[0], (shape[2], shape[1])
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        channels, size = 1, (math.isqrt(shape[0]),) * 2
    else:
        raise ProbeError(f"a picture fits an image Input (1 or 3 x height x width); this one is {format_shape(shape)}")
    try:
        with warnings.catch_warnings():  # Pillow warns (a lines-long warning) above its limit, refuses at twice it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = image.convert("L" if channels == 1 else "RGB").resize(size, Image.Resampling.BILINEAR)
                pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    except FileNotFoundError:
        raise ProbeError(f"{path}: no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        size_words = f" of {int(pixels.group(1)):,} pixels" if pixels else ""
        raise ProbeError(f"{path}: a picture{size_words} is more than netbuilder reads ({Image.MAX_IMAGE_PIXELS:,} "
                         "pixels at most: a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ProbeError(f"{path}: not a picture netbuilder can read ({e})") from None
    x = pixels.float().div(255).reshape(size[1], size[0], channels).permute(2, 0, 1).contiguous()
    return x.reshape(shape)

