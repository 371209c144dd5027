"""A run's augmentation (core/data/augment) fitted to its graph: which fields the network reads and which only a
loss reads (from the compiled model), one seeded draw per batch on the training device, and a clean target for
an image that is both the network's input and a loss's target (a denoising autoencoder's), so that noise and
erasing reach the network's copy only.

The draws come from a generator of their own, seeded from the run's seed, the epoch (and the process, in a
multi-process run): the same seed gives the same batches, and a run resumed at an epoch draws what it would have.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Splits
from ..data.augment import parse_augment
from ..data.augment.fields import FieldInfo, FieldPlan, plan_fields
from ..data.augment.transforms import Augmentation

CLEAN = ":clean"  # a batch's key for the uncorrupted copy of an image field (a loss's target)


def field_uses(model: torch.nn.Module, feeds: list[tuple[str, str]], has_terms: bool) -> tuple[set, set, dict]:
    """(fields the network reads, fields a loss reads as its target, {feed index: the fx nodes that use it as a
    target}) from the compiled training model: a use of an Input that leads into a loss's inputs is the network's;
    any other (the loss itself, the recorded terms) is a target's."""
    if not has_terms:  # the automatic loss: the samples in, the labels (or values) as the target
        return {field for _, field in feeds}, {"y"}, {}
    graph = model.graph
    placeholders = [node for node in graph.nodes if node.op == "placeholder"]
    output = next(node for node in graph.nodes if node.op == "output")
    terms = output.args[0]["terms"]
    stack = [arg for args in terms.values() for arg in args if hasattr(arg, "all_input_nodes")]
    ancestors: set = set()
    while stack:
        node = stack.pop()
        if node not in ancestors:
            ancestors.add(node)
            stack.extend(node.all_input_nodes)
    network, targets, target_users = set(), set(), {}
    for index, (placeholder, (_, field)) in enumerate(zip(placeholders, feeds)):
        users = list(placeholder.users)
        if any(user in ancestors for user in users):
            network.add(field)
        outside = [user for user in users if user not in ancestors]
        if outside:
            targets.add(field)
            target_users[index] = outside
    return network, targets, target_users


def with_clean_targets(model: torch.nn.Module, target_users: dict, indices: list[int]):
    """A GraphModule over the same submodules (the same weights) whose forward takes, after its inputs, one more per
    index: what the losses read as that input's target."""
    from torch import fx

    graph = fx.Graph()
    mapping: dict = {}
    result = graph.graph_copy(model.graph, mapping)
    placeholders = [mapping[node] for node in model.graph.nodes if node.op == "placeholder"]
    last = placeholders[-1]
    for index in indices:
        with graph.inserting_after(last):
            clean = graph.placeholder(f"{placeholders[index].name}_clean")
        last = clean
        for user in target_users[index]:
            if user.op == "output":  # the terms it records (what the metric scores)
                result = fx.map_arg(result, lambda node, old=placeholders[index], new=clean: new if node is old else node)
            else:
                mapping[user].replace_input_with(placeholders[index], clean)
    graph.output(result)
    return fx.GraphModule(model, graph, class_name=type(model).__name__)


def _fields(splits: Splits, names) -> dict[str, FieldInfo]:
    fields = splits.train.fields
    return {name: FieldInfo(tuple(fields[name].shape[1:]), fields[name].dtype.is_floating_point)
            for name in names if name in fields}


class RunAugmentation:
    """What a Trainer asks of augmentation: the model to train (with clean targets where needed), the batch of an
    epoch augmented, and the forward's extra arguments."""

    def __init__(self, spec, model: torch.nn.Module, feeds: list[tuple[str, str]], has_terms: bool, splits: Splits,
                 device: torch.device, seed: int = 0, rank: int = 0) -> None:
        self.augmentation = Augmentation(parse_augment(spec))
        network, targets, target_users = field_uses(model, feeds, has_terms)
        used = [field for _, field in feeds] + ([] if has_terms else ["y"])
        self.plan: FieldPlan = plan_fields(self.augmentation.steps, _fields(splits, dict.fromkeys(used)), network,
                                           targets)
        self.model, self.clean_feeds = model, []
        cleaned = {g.image for g in self.plan.groups if g.clean_target}
        if self.augmentation.has("corrupt") and has_terms:
            both = [i for i, (_, field) in enumerate(feeds) if field in cleaned and i in target_users
                    and field in network]
            if both:
                self.model = with_clean_targets(model, target_users, both)
                self.clean_feeds = [feeds[i][1] for i in both]
        self.stats = {name: (mean.to(device), std.to(device)) for name, (mean, std) in splits.normalization.items()}
        self.device, self.seed, self.rank = device, seed, rank
        self.generator = torch.Generator(device=device)
        self._epoch = None

    def extra_args(self, batch: dict) -> tuple:
        """The clean targets the model takes after its inputs (the field itself where a batch has no clean copy:
        evaluation)."""
        return tuple(batch.get(field + CLEAN, batch[field]) for field in self.clean_feeds)

    def __call__(self, batch: dict, epoch: int) -> dict:
        if epoch != self._epoch:
            self._epoch = epoch
            self.generator.manual_seed(((self.seed * 1_000_003 + epoch) * 1_009 + self.rank) % 2**62)
        return augment_batch(self.augmentation, self.plan, batch, self.stats, self.generator)


def augment_batch(augmentation: Augmentation, plan: FieldPlan, batch: dict, stats: dict,
                  generator: torch.Generator | None) -> dict:
    """The batch with each image group drawn once: the image moved, recoloured and corrupted (its clean copy under
    NAME:clean), masks and dense targets moved with it; signals get noise."""
    batch = dict(batch)
    for group in plan.groups:
        images = batch[group.image]
        draw = augmentation.draw(len(images), *group.size, images.device, generator)
        mean, std = stats.get(group.image, (None, None))
        clean, corrupted = augmentation.images(images, draw, mean, std)
        batch[group.image] = corrupted
        if group.clean_target and corrupted is not clean:
            batch[group.image + CLEAN] = clean
        for name in group.masks:
            batch[name] = augmentation.move(batch[name], draw)
        for name in group.dense:
            values = batch[name]
            mean, std = stats.get(name, (None, None))
            raw = values * std + mean if mean is not None else values
            raw = augmentation.dense(raw, draw, group.channels)
            batch[name] = (raw - mean) / std if mean is not None else raw
    for name in plan.signals:
        values = batch[name]
        batch[name] = augmentation.corrupt(values, augmentation.draw(len(values), 1, 1, values.device, generator))
    return batch


@dataclass
class AugmentedSamples:
    """Samples as training sees them after augmentation: raw images (N x C x H x W), the first mask (N x H x W) or
    None, what the mask's classes are, and which field the images are."""

    images: torch.Tensor
    originals: torch.Tensor
    mask: torch.Tensor | None
    mask_classes: list[str] | None
    field: str
    plan: FieldPlan


def augmented_samples(spec, model: torch.nn.Module, feeds: list[tuple[str, str]], has_terms: bool, splits: Splits,
                      count: int = 16, seed: int = 0) -> AugmentedSamples:
    """`count` training samples (a seeded choice) augmented as a run would: for the preview grid."""
    from ..data.augment import AugmentError

    augmentation = Augmentation(parse_augment(spec))
    network, targets, _ = field_uses(model, feeds, has_terms)
    used = [field for _, field in feeds] + ([] if has_terms else ["y"])
    fields = _fields(splits, dict.fromkeys(used))
    plan = plan_fields(augmentation.steps, fields, network, targets)
    if not plan.groups:
        name = next(iter(plan.signals or fields), "x")
        raise AugmentError(f"the preview shows images; field '{name}' holds samples of "
                           f"{' x '.join(str(d) for d in fields[name].shape) or 'one value'}, not images")
    generator = torch.Generator().manual_seed(seed)
    train = splits.train
    pick = torch.randperm(len(train), generator=generator)[:count]
    batch = {name: train.fields[name][pick] for name in fields}
    out = augment_batch(augmentation, plan, batch, splits.normalization, generator)
    group = plan.groups[0]

    def raw(values):
        mean, std = splits.normalization.get(group.image, (None, None))
        return values * std + mean if mean is not None else values

    mask = out[group.masks[0]] if group.masks else None
    if mask is not None and mask.dim() == 4:
        mask = mask[:, 0]
    return AugmentedSamples(raw(out[group.image]), raw(batch[group.image]), mask,
                            train.mask_classes if mask is not None else None, group.image, plan)
