"""A standalone training script for a graph: model.py + train.py, torch only, ready for torchrun.

    netbuilder export GRAPH --training-script -o DIR

DIR/model.py is the graph's readable PyTorch class (codegen), normalizing its raw input with buffers the script
fills from the training split; DIR/train.py trains it with the graph's recipe as its defaults, alone or in several
processes (DistributedDataParallel, Gloo on CPUs, NCCL on GPUs, each process reading its shard of every global
batch, as `netbuilder train --nproc-per-node` does); a built-in dataset (generated, mnist-5k, digits) is written
beside them as data.pt. The trained weights it writes load back into the graph (`netbuilder export GRAPH --weights
trained.pt`). Graphs with loss blocks are trained by netbuilder itself: the script covers the automatic loss
(cross-entropy, BCE-with-logits, MSE). Every value from the document reaches the code through pysource.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import NetbuilderError
from ..base.files import atomic_write_text, refuse_overwrite
from ..build.compile import loss_blocks
from ..model.graph import Graph
from .pysource import docstring, identifier, literal

DATA_LIMIT = 256 * 2**20  # a built-in dataset larger than this as float32 is not written beside the script
SCRIPT_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "beta1", "weight_decay", "loss", "schedule",
               "step_size", "gamma", "grad_clip", "seed", "val_fraction", "test_fraction", "augment")


class TrainingScriptError(NetbuilderError):
    """A graph the standalone script cannot train; the message says why and what to do instead."""


@dataclass
class ScriptReport:
    folder: Path
    files: list[str]
    data: str | None

    def summary(self) -> str:
        data = f"; its default data: {self.data}" if self.data else "; give it --data"
        return (f"wrote {', '.join(str(self.folder / f) for f in self.files)}{data}. Run it with `python train.py` or "
                f"`torchrun --nproc-per-node N train.py` in {self.folder}")


def export_training_script(graph: Graph, folder: str | os.PathLike, graph_path: str | None = None,
                           overwrite: bool = False) -> ScriptReport:
    """Write model.py, train.py (and data.pt for a built-in dataset) into `folder`. Files of those names already
    there are replaced only with `overwrite` (else OverwriteError, before anything is written)."""
    import torch

    from ..checks.shapes import infer_shapes
    from ..data.specs import KINDS, DataSpec
    from ..model.recipe import check_recipe
    from ..training.config import TrainConfig
    from ..training.experiment import single_input
    from .codegen import to_source

    losses = loss_blocks(graph)
    if losses:
        raise TrainingScriptError(f"the training script trains with the automatic loss; this graph has loss blocks "
                                  f"({', '.join(n.name for n in losses[:3])}): train it with `netbuilder train`")
    source = single_input(graph)
    outputs = [n for n in graph.nodes if n.type == "Output"]
    if source is None or len(outputs) != 1:
        raise TrainingScriptError("the training script needs exactly one Input and one Output block")
    report = infer_shapes(graph)
    if report.errors:
        raise TrainingScriptError(f"fix the graph first: {report.errors[0]}")
    shape = tuple(int(d) for d in source.params["shape"])
    normalize = source.params["normalize"] == "zscore" and source.params["dtype"] == "float32"
    stats_shape = (shape[0], 1, 1) if len(shape) == 3 else shape if len(shape) == 1 else (1,) * len(shape)
    normalization = {source.name: (torch.zeros(stats_shape), torch.ones(stats_shape))} if normalize else None
    folder = Path(folder)
    recipe = check_recipe(graph.recipe)
    spec = DataSpec.parse(recipe["data"]) if "data" in recipe else None
    writes_data = spec is not None and KINDS[spec.kind].needs is None
    refuse_overwrite(folder / "model.py", folder / "train.py", folder / "augment.py",
                     folder / "data.pt" if writes_data else None, overwrite=overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    model_source = to_source(graph, "Net", normalization=normalization)

    d = TrainConfig()
    defaults = {key: recipe.get(key, getattr(d, key, None)) for key in SCRIPT_KEYS}
    defaults["val_fraction"] = recipe.get("val_fraction", 0.1)
    defaults["test_fraction"] = recipe.get("test_fraction", 0.2)
    defaults["augment"] = _augment_default(recipe.get("augment"), shape, source.params["dtype"])
    files, data_default = ["model.py", "train.py", "augment.py"], None
    if writes_data:  # generated or shipped in a package: written out
        data_default = _write_data(spec, shape, folder)
        if data_default:
            files.append(data_default)
    elif spec is not None and spec.path is not None and spec.kind in ("mnist", "fashion-mnist", "cifar10", "csv"):
        data_default = str(spec)
    defaults["data"] = data_default
    title = graph.meta.get("title") or (Path(graph_path).stem if graph_path else "a network")
    script = TEMPLATE
    for key, value in {
        "__DOC__": docstring(_doc(str(title), defaults)),
        "__DEFAULTS__": literal(defaults),
        "__INPUT_SHAPE__": literal(shape),
        "__INPUT_DTYPE__": literal(source.params["dtype"]),
        "__NORMALIZE__": literal(identifier(source.name, "the Input block's name") if normalize else None),
        "__OUTPUT_SHAPE__": literal(tuple(int(v) for v in report.nodes[outputs[0].id].output)),
    }.items():
        script = script.replace(key, value)
    compile(script, str(folder / "train.py"), "exec")  # (it must at least be Python)
    atomic_write_text(folder / "model.py", model_source)
    from .augment_source import transforms_source

    atomic_write_text(folder / "augment.py", transforms_source())
    atomic_write_text(folder / "train.py", script)
    return ScriptReport(folder, files, data_default)


def _augment_default(spec, shape: tuple[int, ...], dtype: str) -> str:
    """The recipe's augmentation as the script's --augment default (`flip,rotate=15`), checked against the input."""
    from ..data.augment import augment_text, parse_augment
    from ..data.augment.fields import FieldInfo, plan_fields

    if not spec:
        return ""
    plan_fields(parse_augment(spec), {"x": FieldInfo(shape, dtype == "float32")}, {"x"}, {"y"})
    return augment_text(spec)


def _doc(title: str, defaults: dict) -> str:
    shown = ", ".join(f"{k} {v}" for k, v in defaults.items() if k in ("data", "epochs", "batch_size", "optimizer", "lr"))
    return (f"Train {title}: written by netbuilder; needs only PyTorch and model.py beside it.\n\n"
            f"    python train.py                        # the graph's recipe: {shown}\n"
            "    torchrun --nproc-per-node 2 train.py   # two processes: Gloo on CPUs, NCCL on GPUs\n"
            "    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:PORT train.py\n\n"
            "--augment flip,rotate=15,...: netbuilder's augmentation (augment.py), drawn per batch from --seed.\n"
            "--data: a .pt file of tensors (x, y, and x_test, y_test if it has its own test set), mnist:DIR or\n"
            "fashion-mnist:DIR (the four IDX files), cifar10:DIR (the binary batches) or csv:FILE:label=COLUMN.\n"
            "Each process reads its own shard of every global batch (--batch-size is per process); rank 0 writes\n"
            "the weights (--out, with the input normalization: `netbuilder export GRAPH --weights trained.pt`)\n"
            "and a checkpoint after every epoch (--resume checkpoint.pt continues a run).")


def _write_data(spec, shape: tuple[int, ...], folder: Path) -> str | None:
    """data.pt: the built-in dataset's samples fitted to the graph's input (raw, not normalized) and labels."""
    import torch

    from ..data.prepare import fit_tensor
    from ..data.specs import load_dataset

    source = load_dataset(spec, shape)
    data = source.data
    if data.x.numel() * 4 > DATA_LIMIT:
        return None
    tensors = {"x": fit_tensor(data.x, data.name, "samples", shape, []).contiguous(), "y": data.y}
    if source.test is not None:
        tensors.update(x_test=fit_tensor(source.test.x, data.name, "samples", shape, []).contiguous(),
                       y_test=source.test.y)
    if data.classes is not None:
        tensors["classes"] = torch.tensor([len(data.classes)])
    from ..build.weights import atomic_torch_save

    atomic_torch_save(tensors, folder / "data.pt")
    return "data.pt"


TEMPLATE = r'''__DOC__
import argparse
import csv
import gzip
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from augment import Augmentation
from model import Net

DEFAULTS = __DEFAULTS__
INPUT_SHAPE = __INPUT_SHAPE__  # one sample, as the graph's Input block takes it
INPUT_DTYPE = __INPUT_DTYPE__
NORMALIZED_INPUT = __NORMALIZE__  # the Input whose mean and std (of the training split) the model's buffers hold
OUTPUT_SHAPE = __OUTPUT_SHAPE__


# ----- data


def read_idx(path):
    """An IDX file (MNIST's format), .gz or raw: unsigned bytes after a big-endian header."""
    with (gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")) as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] != 8:
            raise SystemExit(f"{path} is not an unsigned-byte IDX file")
        dims = [int.from_bytes(f.read(4), "big") for _ in range(head[3])]
        data = f.read(math.prod(dims))
    if len(data) != math.prod(dims):
        raise SystemExit(f"{path} is truncated")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise SystemExit(f"{folder}: no {stem} or {stem}.gz")


def read_data(spec):
    """(x, y, x_test, y_test): samples as float32, labels as int64 (classes) or float32 (values); no test part
    (None) when the data has none of its own."""
    kind, _, rest = spec.partition(":")
    if spec.endswith(".pt"):
        t = torch.load(spec, weights_only=True)
        return t["x"].float(), t["y"], t.get("x_test"), t.get("y_test")
    if kind in ("mnist", "fashion-mnist"):
        parts = [(read_idx(find(rest, f"{p}-images-idx3-ubyte")).float().div(255).unsqueeze(1),
                  read_idx(find(rest, f"{p}-labels-idx1-ubyte")).long()) for p in ("train", "t10k")]
        return parts[0][0], parts[0][1], parts[1][0], parts[1][1]
    if kind == "cifar10":
        folder = Path(rest) / "cifar-10-batches-bin" if (Path(rest) / "cifar-10-batches-bin").is_dir() else Path(rest)

        def batches(names):
            data = b"".join((folder / name).read_bytes() for name in names)
            table = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(-1, 3073)
            return table[:, 1:].float().div(255).reshape(-1, 3, 32, 32), table[:, 0].long()

        train = batches(sorted(p.name for p in folder.glob("data_batch_*.bin")))
        return (*train, *batches(["test_batch.bin"]))
    if kind == "csv":
        path, _, label = rest.rpartition(":label=")
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
        column = [h.strip() for h in rows[0]].index(label)
        x = torch.tensor([[float(v) for i, v in enumerate(r) if i != column] for r in rows[1:]])
        labels = [r[column].strip() for r in rows[1:]]
        try:
            numbers = [float(v) for v in labels]
        except ValueError:
            numbers = None
        if numbers is not None and any(not n.is_integer() for n in numbers):
            return x, torch.tensor(numbers)[:, None], None, None
        classes = sorted(set(labels), key=lambda v: (float(v), v) if numbers is not None else (0.0, v))
        return x, torch.tensor([classes.index(v) for v in labels]), None, None
    raise SystemExit(f"--data {spec!r}: give a .pt file, mnist:DIR, fashion-mnist:DIR, cifar10:DIR or "
                     "csv:FILE:label=COLUMN")


def fit(x):
    """Samples in the graph's input shape: the same values reshaped, or images zero-padded to a larger size."""
    have = tuple(x.shape[1:])
    if have == INPUT_SHAPE:
        return x
    if math.prod(have) == math.prod(INPUT_SHAPE):
        return x.reshape(len(x), *INPUT_SHAPE)
    if len(have) == 3 and len(INPUT_SHAPE) == 3 and have[0] == INPUT_SHAPE[0]:
        dh, dw = INPUT_SHAPE[1] - have[1], INPUT_SHAPE[2] - have[2]
        if dh >= 0 and dw >= 0 and dh % 2 == 0 and dw % 2 == 0:
            return F.pad(x, (dw // 2, dw // 2, dh // 2, dh // 2))
        return F.interpolate(x, size=INPUT_SHAPE[1:], mode="bilinear", align_corners=False, antialias=True)
    raise SystemExit(f"the network takes samples of {INPUT_SHAPE}, the data gives {have}")


def split(x, y, x_test, y_test, val_fraction, test_fraction, seed):
    """Seeded shuffle, then test (unless the data has its own), validation and training parts, as netbuilder does."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = 0 if x_test is not None else round(len(x) * test_fraction)
    n_val = round(len(x) * val_fraction)
    if x_test is None:
        x_test, y_test = x[order[:n_test]], y[order[:n_test]]
    val = order[n_test:n_test + n_val]
    train = order[n_test + n_val:]
    return (x[train], y[train]), (x[val], y[val]), (x_test, y_test)


def statistics(x):
    """Mean and std per channel (images) or per feature, summed in float64 by chunks of 512 (as netbuilder)."""
    total = square = None
    count = 0
    for s in range(0, len(x), 512):
        values = x[s:s + 512].double()
        dims = [0, 2, 3] if values.dim() == 4 else [0] if values.dim() == 2 else list(range(values.dim()))
        a, b = values.sum(dim=dims, keepdim=True), (values * values).sum(dim=dims, keepdim=True)
        total, square = (a, b) if total is None else (total + a, square + b)
        count += values.numel() // a.numel()
    mean = total / count
    std = ((square - count * mean * mean) / max(count - 1, 1)).clamp_min(0).sqrt().clamp_min(1e-6)
    return mean[0].float(), std[0].float()


# ----- training


def make_optimizer(params, a):
    kinds = {
        "sgd": lambda: torch.optim.SGD(params, lr=a.lr, weight_decay=a.weight_decay),
        "momentum": lambda: torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
        "nesterov": lambda: torch.optim.SGD(params, lr=a.lr, momentum=a.momentum or 0.9, nesterov=True,
                                            weight_decay=a.weight_decay),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=a.lr, weight_decay=a.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay),
        "adam": lambda: torch.optim.Adam(params, lr=a.lr, betas=(a.beta1, 0.999), weight_decay=a.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr=a.lr, betas=(a.beta1, 0.999), weight_decay=a.weight_decay),
    }
    return kinds[a.optimizer]()


def make_scheduler(optimizer, a):
    lr = torch.optim.lr_scheduler
    return {"none": lambda: None, "step": lambda: lr.StepLR(optimizer, a.step_size, a.gamma),
            "exponential": lambda: lr.ExponentialLR(optimizer, a.gamma),
            "cosine": lambda: lr.CosineAnnealingLR(optimizer, a.epochs),
            "plateau": lambda: lr.ReduceLROnPlateau(optimizer, factor=a.gamma, patience=max(1, a.step_size // 2)),
            }[a.schedule]()


def loss_kind(a, y):
    if a.loss != "auto":
        return a.loss
    if y.dtype != torch.int64:
        return "mse"
    return "bce_with_logits" if OUTPUT_SHAPE == (1,) and int(y.max()) <= 1 else "cross_entropy"


def loss_of(kind, out, y):
    if kind == "cross_entropy":
        return F.cross_entropy(out, y)
    if kind == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out.reshape(-1), y.float())
    target = F.one_hot(y, out.shape[-1]).to(out.dtype) if y.dtype == torch.int64 else y
    return F.mse_loss(out, target) if kind == "mse" else F.l1_loss(out, target)


def evaluate(model, x, y, kind, device, batch=256):
    """(mean loss, accuracy or mean squared error) over a split."""
    model.eval()
    total, score = 0.0, 0.0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb, yb = x[s:s + batch].to(device), y[s:s + batch].to(device)
            out = model(xb)
            total += float(loss_of(kind, out, yb)) * len(xb)
            if kind == "bce_with_logits":
                score += float(((out.reshape(-1) > 0).long() == yb).sum())
            elif yb.dtype == torch.int64:
                score += float((out.argmax(-1) == yb).sum())
            else:
                score += float(((out - yb) ** 2).mean(-1).sum())
    model.train()
    return total / max(len(x), 1), score / max(len(x), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    whole = ("epochs", "batch_size", "step_size", "seed")
    for key, value in DEFAULTS.items():
        kind = int if key in whole else str if key in ("data", "optimizer", "loss", "schedule", "augment") else float
        parser.add_argument("--" + key.replace("_", "-"), type=kind, default=value, help=f"default {value}")
    parser.add_argument("--out", default="trained.pt", help="the trained weights (rank 0 writes them)")
    parser.add_argument("--checkpoint", default="checkpoint.pt", help="written after every epoch")
    parser.add_argument("--resume", help="continue a run from its checkpoint")
    parser.add_argument("--device", default="auto", help="auto (CUDA if there is one), cpu or cuda")
    a = parser.parse_args()
    if a.data is None:
        parser.error("give --data (a .pt file of tensors, mnist:DIR, cifar10:DIR, csv:FILE:label=COLUMN)")

    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world, local = (int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)))
    cuda = a.device in ("auto", "cuda") and torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    say = print if rank == 0 else (lambda *args, **kwargs: None)

    x, y, x_test, y_test = read_data(a.data)
    x = fit(x) if INPUT_DTYPE == "float32" else x.long()
    x_test = (fit(x_test) if INPUT_DTYPE == "float32" else x_test.long()) if x_test is not None else None
    (x, y), (x_val, y_val), (x_test, y_test) = split(x, y, x_test, y_test, a.val_fraction, a.test_fraction, a.seed)
    torch.manual_seed(a.seed)
    model = Net()
    mean = std = None
    if NORMALIZED_INPUT is not None:  # the model takes raw samples: it normalizes them with these
        mean, std = statistics(x)
        getattr(model, f"normalize_{NORMALIZED_INPUT}_mean").copy_(mean)
        getattr(model, f"normalize_{NORMALIZED_INPUT}_std").copy_(std)
    model.to(device)
    kind = loss_kind(a, y)
    optimizer = make_optimizer(model.parameters(), a)
    scheduler = make_scheduler(optimizer, a)
    start = 1
    if a.resume:
        state = torch.load(a.resume, map_location=device, weights_only=True)
        if state.get("processes", 1) != world:
            raise SystemExit(f"{a.resume} was trained by {state.get('processes', 1)} processes, this run has {world}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        start = state["epoch"] + 1
    trained = DistributedDataParallel(model, device_ids=[local] if cuda else None) if distributed else model
    x, y = x.to(device), y.to(device)
    augmentation = Augmentation(a.augment) if a.augment else None  # on raw samples: noise in normalized units
    if augmentation is not None and mean is not None:
        mean, std = mean.to(device), std.to(device)
    generator = torch.Generator(device=device)
    step = a.batch_size * world
    batches = len(x) // step + (1 if len(x) % step >= world else 0)
    say(f"training on {len(x)} samples, {kind} loss, {a.optimizer} lr {a.lr:g}, {a.epochs} epochs, "
        f"{world} process{'es' if world > 1 else ''} on {device.type}"
        + (f", augmented: {a.augment}" if augmentation is not None else ""))
    for epoch in range(start, a.epochs + 1):
        began = time.perf_counter()
        torch.manual_seed(a.seed * 100_003 + epoch)  # the same order in every process, whether resumed or not
        order = torch.randperm(len(x)).to(device)
        losses = torch.zeros(batches, device=device)
        generator.manual_seed(((a.seed * 1_000_003 + epoch) * 1_009 + rank) % 2**62)  # as netbuilder draws
        for b in range(batches):
            index = order[b * step:(b + 1) * step]
            shard = torch.tensor_split(index, world)[rank]
            share = len(shard) * world / len(index)  # the gradient of the global batch's mean loss
            xb = x[shard]
            if augmentation is not None:
                xb = augmentation(xb, generator=generator, mean=mean, std=std)
            loss = loss_of(kind, trained(xb), y[shard])
            optimizer.zero_grad(set_to_none=True)
            (loss * share).backward()
            if a.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
            optimizer.step()
            losses[b] = loss.detach() * share / world
        if distributed:
            dist.all_reduce(losses)
        val = evaluate(model, x_val, y_val, kind, device) if len(x_val) else None
        if scheduler is not None and a.schedule == "plateau":
            scheduler.step(val[0] if val else float(losses.mean()))
        elif scheduler is not None:
            scheduler.step()
        shown = f"  val loss {val[0]:.4f}  val {val[1]:.4f}" if val else ""
        say(f"epoch {epoch}/{a.epochs}  loss {float(losses.mean()):.4f}{shown}  {time.perf_counter() - began:.1f} s")
        if rank == 0:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "processes": world}, a.checkpoint)
    loss, score = evaluate(model, x_test, y_test, kind, device)
    metric = "accuracy" if kind in ("cross_entropy", "bce_with_logits") else "mse"
    say(f"test loss {loss:.4f}  test {metric} {score:.4f}")
    if rank == 0:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, a.out)
        say(f"wrote {a.out}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''
