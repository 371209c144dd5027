"""Design-time analysis: what is wrong with a graph, or likely to go wrong when it trains, each finding on its
block, in words, with a fix that can be applied in one step where one exists.

    findings = analyze(graph)                      # or analyze(graph, report, data=source, batch_size=64)
    for f in findings: print(f.severity, f.block, f.message, f.fix.label if f.fix else "")
    findings[0].fix.apply(graph)                   # through the Graph's API: the editor records it for undo

Checks (`code`): shape errors (`shape`); a dense or recurrent layer fed a tensor of higher rank than meant
(`flatten`); a softmax before a loss that applies its own (`double-softmax`), a sigmoid before BCE with
logits (`double-sigmoid`); an output that does not match the dataset (`output-size`); blocks whose result
reaches no Output (`unused`); an Input the dataset does not fit (`input-shape`); a BatchNorm that may see a
batch of one (`batch-of-one`); a dense layer holding most of the parameters (`heavy-dense`); Dropout right
before an Output (`dropout-output`); a deep plain chain without normalization or shortcuts (`deep-plain`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..layers import LAYERS
from ..layers.spec import format_shape
from ..model.graph import Edge, Graph, Node
from ..model.layout import ROW_HEIGHT
from .shapes import ShapeReport, infer_shapes

SEVERITIES = ("error", "warning", "info")
DEEP_CHAIN = 10  # weight layers in a row, without normalization or shortcuts, that call for a warning
HEAVY_SHARE, HEAVY_MIN = 0.5, 1_000_000  # a dense layer holding more than half the weights, and at least this many
PASS_THROUGH = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "GELU", "Tanh", "Sigmoid", "Dropout", "Dropout2d",
                "BatchNorm1d", "BatchNorm2d", "LayerNorm"}  # blocks that keep the shape (walking up to a producer)

# The losses that apply their own squashing, with the blocks that must not come before them. A loss is either
# the trainer's automatic one (named as TrainConfig.loss names it) or a loss block (by its type, once the
# registry has a "loss" category): LOSS_BLOCKS maps a block type to the loss it computes.
SQUASHED_BY = {"cross_entropy": ("Softmax", "LogSoftmax"), "bce_with_logits": ("Sigmoid",)}
LOSS_BLOCKS = {"CrossEntropyLoss": "cross_entropy", "BCEWithLogitsLoss": "bce_with_logits"}
LOSS_WORDS = {"cross_entropy": "cross-entropy", "bce_with_logits": "BCE with logits"}


@dataclass(frozen=True)
class Fix:
    """A one-step remedy: `apply(graph)` edits the graph through its methods."""

    label: str  # what the button says: "Insert Flatten before fc1"
    apply: Callable[[Graph], Any]


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" (it cannot train), "warning" (it will likely train badly), "info" (advice)
    code: str
    node_id: str | None
    block: str  # the block's name, "" for the graph as a whole
    message: str
    fix: Fix | None = None

    @property
    def line(self) -> str:
        where = f"{self.block}: " if self.block else ""
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "block": self.block or None, "message": self.message,
                "fix": self.fix.label if self.fix else None}


@dataclass(frozen=True)
class DataFacts:
    """What the analysis needs to know of a dataset (read from a loaded one by `data_facts`)."""

    name: str
    sample_shape: tuple[int, ...]
    classes: int | None  # None: regression
    target_size: int
    train_size: int
    fits: str | None  # None when the samples fit the graph's Input, else why not


def data_facts(source, input_shape: tuple[int, ...] | None, val_fraction: float = 0.1,
               test_fraction: float = 0.2) -> DataFacts:
    """Facts about a loaded dataset (core.data Source), for the graph's Input shape."""
    import torch

    from ..data.dataset import DataError
    from ..data.prepare import adapt_samples

    data = source.data
    fits = None
    if input_shape is not None:
        try:
            adapt_samples(data.subset(torch.arange(min(1, len(data)))), input_shape, [])
        except DataError as e:
            fits = str(e)
    n = len(data)
    n_test = 0 if source.test is not None else round(n * test_fraction)
    train = n - n_test - round(n * val_fraction)
    return DataFacts(data.name, data.sample_shape, data.num_classes if data.is_classification else None,
                     data.target_size, train, fits)


def analyze(graph: Graph, report: ShapeReport | None = None, data: DataFacts | None = None,
            batch_size: int | None = None) -> list[Finding]:
    """Every finding, errors first, then in data-flow order."""
    report = report if report is not None else infer_shapes(graph)
    context = _Context(graph, report, data, batch_size)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(context))
    order = {node.id: i for i, node in enumerate(graph.topological_order())}
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), order.get(f.node_id, -1)))


def counts(findings: list[Finding]) -> dict[str, int]:
    return {severity: sum(f.severity == severity for f in findings) for severity in SEVERITIES}


# ----- what the checks share

class _Context:
    def __init__(self, graph: Graph, report: ShapeReport, data: DataFacts | None, batch_size: int | None) -> None:
        self.graph, self.report, self.data, self.batch_size = graph, report, data, batch_size

    def output(self, node_id: str) -> tuple[int, ...] | None:
        info = self.report.nodes.get(node_id)
        return info.output if info else None

    def inputs(self, node_id: str) -> tuple:
        info = self.report.nodes.get(node_id)
        return info.inputs if info else ()

    def source(self, node: Node) -> Node | None:
        """The block feeding a one-input block."""
        edges = [e for e in self.graph.input_edges(node.id) if e is not None]
        return self.graph.node(edges[0].src) if edges else None

    def consumers(self, node: Node) -> list[Node]:
        return [self.graph.node(e.dst) for e in self.graph.output_edges(node.id)]

    def producer(self, node: Node) -> Node | None:
        """Walking up from a block through shape-keeping ones (activations, dropout, normalization)."""
        source = self.source(node)
        while source is not None and source.type in PASS_THROUGH:
            source = self.source(source)
        return source

    def predictions(self) -> list[tuple[Node, str, Node]]:
        """(the block whose value a loss reads, the loss, the block that stands for the loss: the Output of
        the automatic loss, or the loss block)."""
        found = []
        with_loss_blocks = any(LAYERS[node.type].category == "loss" for node in self.graph.nodes)
        for node in self.graph.nodes:
            loss = LOSS_BLOCKS.get(node.type) if LAYERS[node.type].category == "loss" else None
            if node.type == "Output" and not with_loss_blocks:  # loss blocks replace the automatic loss
                loss = self.automatic_loss(node)
            source = self.source(node)
            if loss is not None and source is not None:
                found.append((source, loss, node))
        return found

    def automatic_loss(self, output: Node) -> str | None:
        """The loss the trainer chooses for an Output (TrainConfig loss "auto"), as far as it can be told:
        with a dataset, the trainer's own rule; without, from the output's shape (a vector of scores:
        cross-entropy; one value: BCE with logits, if it is a binary classifier)."""
        shape = self.output(output.id)
        if shape is None or len(shape) != 1:
            return None
        if self.data is not None:
            if self.data.classes is None:
                return "mse"
            return "bce_with_logits" if self.data.classes == 2 and shape == (1,) else "cross_entropy"
        return "bce_with_logits" if shape == (1,) else "cross_entropy"


def _finding(severity: str, code: str, node: Node | None, message: str, fix: Fix | None = None) -> Finding:
    return Finding(severity, code, node.id if node else None, node.name if node else "", message, fix)


# ----- fixes: plain edits through the Graph's methods

def insert_before(graph: Graph, node_id: str, port: str, layer: str, params: dict | None = None) -> Node:
    """Put a new block on the wire into `port` of a block; the block and everything below it move down a row."""
    target = graph.node(node_id)
    edge = next(e for e in graph.input_edges(node_id) if e is not None and e.dst_port == port)
    below = {node_id} | _descendants(graph, node_id)
    graph.move_many({i: (graph.node(i).pos[0], graph.node(i).pos[1] + ROW_HEIGHT) for i in below
                     if graph.node(i).pos[1] >= target.pos[1]})
    graph.disconnect(node_id, port)
    new = graph.add_node(layer, params or {}, pos=(target.pos[0], target.pos[1] - ROW_HEIGHT))
    graph.connect(edge.src, new.id, src_port=edge.src_port)
    graph.connect(new.id, node_id, dst_port=port)
    return new


def insert_after(graph: Graph, node_id: str, layer: str, params: dict | None = None) -> Node:
    """Put a new block between a block and everything it feeds."""
    node = graph.node(node_id)
    consumers = graph.output_edges(node_id)
    below = _descendants(graph, node_id)
    graph.move_many({i: (graph.node(i).pos[0], graph.node(i).pos[1] + ROW_HEIGHT) for i in below})
    for edge in consumers:
        graph.disconnect(edge.dst, edge.dst_port)
    new = graph.add_node(layer, params or {}, pos=(node.pos[0], node.pos[1] + ROW_HEIGHT))
    graph.connect(node_id, new.id)
    for edge in consumers:
        graph.connect(new.id, edge.dst, dst_port=edge.dst_port)
    return new


def remove_and_bridge(graph: Graph, node_id: str) -> None:
    """Remove a one-input block, wiring what fed it to everything it fed."""
    source = next((e for e in graph.input_edges(node_id) if e is not None), None)
    consumers: list[Edge] = graph.output_edges(node_id)
    graph.remove_node(node_id)
    if source is not None:
        for edge in consumers:
            graph.connect(source.src, edge.dst, src_port=source.src_port, dst_port=edge.dst_port)


def replace_block(graph: Graph, node_id: str, layer: str, params: dict | None = None) -> Node:
    """Put a block of another type in a one-input block's place, with the same wires."""
    node = graph.node(node_id)
    source = next((e for e in graph.input_edges(node_id) if e is not None), None)
    consumers = graph.output_edges(node_id)
    index, pos = graph.index_of(node_id), node.pos
    graph.remove_node(node_id)
    new = graph.add_node(layer, params or {}, pos=pos, index=index)
    if source is not None:
        graph.connect(source.src, new.id, src_port=source.src_port)
    for edge in consumers:
        graph.connect(new.id, edge.dst, dst_port=edge.dst_port)
    return new


def _descendants(graph: Graph, node_id: str) -> set[str]:
    seen, todo = set(), [node_id]
    while todo:
        for edge in graph.output_edges(todo.pop()):
            if edge.dst not in seen:
                seen.add(edge.dst)
                todo.append(edge.dst)
    return seen


# ----- the checks

def check_shapes(c: _Context) -> list[Finding]:
    found = []
    for node in c.graph.nodes:
        info = c.report.nodes.get(node.id)
        if info is None or not info.error:
            continue
        fix = None
        shape = info.inputs[0] if info.inputs else None
        if node.spec.category == "recurrent" and shape is not None and len(shape) == 3 and shape[0] == 1:
            fix = Fix(f"Insert a Reshape to {shape[1]}x{shape[2]} before {node.name} (read the image row by row)",
                      lambda g, i=node.id, s=[shape[1], shape[2]]: insert_before(g, i, "in", "Reshape", {"shape": s}))
        elif "kernel_size" in node.params and shape is not None and "larger than its" in info.error:
            fix = _kernel_fix(c.graph, node, shape)
        elif "integer ids" in info.error and "Embedding" in info.error:
            fix = _working(c.graph, node, Fix(f"Insert an Embedding before {node.name}",
                                              lambda g, i=node.id: insert_before(g, i, "in", "Embedding")))
        found.append(_finding("error", "shape", node, info.error, fix))
    return found


def _kernel_fix(graph: Graph, node: Node, shape: tuple) -> Fix | None:
    """A kernel (or pooling window) larger than its input: lowered to what the input (with its padding) holds."""
    kernel, padding = node.params["kernel_size"], node.params.get("padding", 0)
    spatial = list(shape[1:])
    if isinstance(padding, str) or not spatial:
        return None
    kernels = kernel if isinstance(kernel, list) else [kernel] * len(spatial)
    pads = padding if isinstance(padding, list) else [padding] * len(spatial)
    fitted = [min(k, s + 2 * p) for k, s, p in zip(kernels, spatial, pads)]
    value = fitted if isinstance(kernel, list) else min(fitted)
    words = "x".join(map(str, fitted)) if isinstance(kernel, list) else f"{value}x{value}"
    return _working(graph, node, Fix(f"Lower {node.name}'s kernel to {words}",
                                     lambda g, i=node.id, v=value: g.set_param(i, "kernel_size", v)))


def _working(graph: Graph, node: Node, fix: Fix) -> Fix | None:
    """The fix, if applying it (to a copy) takes the block's error away."""
    trial = graph.copy()
    try:
        fix.apply(trial)
    except ValueError:
        return None
    after = infer_shapes(trial).nodes.get(node.id)
    return fix if after is not None and not after.error else None


def check_flatten(c: _Context) -> list[Finding]:
    found = []
    for node in c.graph.nodes:
        if node.type != "Linear" or not c.inputs(node.id) or c.inputs(node.id)[0] is None:
            continue
        shape, out = c.inputs(node.id)[0], c.output(node.id)
        producer = c.producer(node)
        if producer is not None and producer.type == "Linear":
            continue  # the dense layer above it is flagged already: a Flatten there mends both
        from_maps = producer is not None and producer.spec.category in ("conv", "pool")
        if len(shape) >= 3 or (len(shape) == 2 and from_maps):
            params = c.report.nodes[node.id].params
            fix = Fix(f"Insert Flatten before {node.name}",
                      lambda g, i=node.id: insert_before(g, i, "in", "Flatten"))
            found.append(_finding(
                "warning", "flatten", node,
                f"receives a {format_shape(shape)} tensor and transforms only its last dimension, giving "
                f"{format_shape(out)} ({params:,} parameters); a Flatten before it makes it see all "
                f"{math.prod(shape):,} values", fix))
    return found


def check_squashing(c: _Context) -> list[Finding]:
    found = []
    for prediction, loss, target in c.predictions():
        if prediction.type not in SQUASHED_BY.get(loss, ()):
            continue
        automatic = target.type == "Output"
        how = (f"the trainer's {LOSS_WORDS[loss]} loss for {target.name}" if automatic
               else f"the {target.type} {target.name}")
        if loss == "cross_entropy":
            code = "double-softmax"
            message = (f"turns the scores into probabilities, but {how} applies a softmax itself: training slows "
                       f"down (a double softmax); remove {prediction.name} so that {target.name} receives the "
                       "raw scores")
        else:
            code = "double-sigmoid"
            guess = "" if c.data is not None or not automatic else ", if this is a binary classifier"
            message = (f"squashes the output into (0, 1), but {how} applies a sigmoid itself{guess}: remove "
                       f"{prediction.name} so that {target.name} receives the raw score")
        fix = Fix(f"Remove {prediction.name}", lambda g, i=prediction.id: remove_and_bridge(g, i))
        found.append(_finding("warning", code, prediction, message, fix))
    return found


def check_output_size(c: _Context) -> list[Finding]:
    if c.data is None:
        return []
    found = []
    for output in (n for n in c.graph.nodes if n.type == "Output"):
        shape = c.output(output.id)
        if shape is None:
            continue
        want = c.data.target_size
        ok = shape == (want,) or (c.data.classes == 2 and shape == (1,))
        if ok:
            continue
        what = (f"{c.data.classes} classes: it needs {want} scores per sample, one per class"
                if c.data.classes is not None else f"{want} target value(s) per sample")
        last = c.producer(output)
        fix = None
        if last is not None and last.type == "Linear" and len(shape) == 1:
            fix = Fix(f"Set {last.name}'s out_features to {want}",
                      lambda g, i=last.id, w=want: g.set_param(i, "out_features", w))
        got = f"{shape[0]} values" if len(shape) == 1 else f"a {format_shape(shape)} tensor"
        found.append(_finding("error", "output-size", output,
                              f"receives {got} per sample; {c.data.name} has {what}", fix))
    return found


def check_unused(c: _Context) -> list[Finding]:
    g = c.graph
    ends = [n.id for n in g.nodes if n.type == "Output" or LAYERS[n.type].category == "loss"]
    used = set(ends)
    for end in ends:
        used |= g.ancestors(end)
    found = []
    for node in g.nodes:
        if node.id in used or g.output_edges(node.id) or node.type == "Output":
            continue
        dead = g.ancestors(node.id) - used
        if node.type == "Input":
            if all(other.type == "Input" for other in g.nodes):
                continue  # a network being started: its first block
            free = [n for n in g.nodes if n.type != "Input" and "in" in n.input_ports()
                    and not any(e is not None and e.dst_port == "in" for e in g.input_edges(n.id))]
            below = min(free, key=lambda n: (n.pos[1] < node.pos[1], abs(n.pos[1] - node.pos[1])), default=None)
            fix = (Fix(f"Wire {node.name} to {below.name}", lambda gr, i=node.id, j=below.id: gr.connect(i, j))
                   if below is not None else Fix(f"Remove {node.name}", lambda gr, i=node.id: gr.remove_node(i)))
            found.append(_finding("warning", "unused", node, "feeds no block: nothing is done with this input", fix))
            continue
        before = f" (nor do the {len(dead)} blocks that feed only it)" if len(dead) > 1 else ""
        found.append(_finding(
            "warning", "unused", node,
            f"its result reaches no Output{before}: it is computed for nothing and not trained",
            Fix(f"Add an Output after {node.name}",
                lambda gr, i=node.id: gr.connect(i, gr.add_node(
                    "Output", pos=(gr.node(i).pos[0], gr.node(i).pos[1] + ROW_HEIGHT)).id))))
    return found


def check_input_shape(c: _Context) -> list[Finding]:
    if c.data is None or c.data.fits is None:
        return []
    inputs = [n for n in c.graph.nodes if n.type == "Input"]
    if len(inputs) != 1:
        return []
    (node,) = inputs
    shape = list(c.data.sample_shape)
    return [_finding("error", "input-shape", node,
                     f"is {format_shape(tuple(node.params['shape']))}, but {c.data.name} gives samples of "
                     f"{format_shape(tuple(shape))}",
                     Fix(f"Set {node.name}'s shape to {format_shape(tuple(shape))}",
                         lambda g, i=node.id, s=shape: g.set_param(i, "shape", s)))]


def check_batch_of_one(c: _Context) -> list[Finding]:
    """A BatchNorm whose channels hold one value per sample is normalized over the batch alone: a batch of one
    sample stops training. With a dataset and a batch size this is certain (error) or cannot happen (nothing);
    without, it is worth knowing (info)."""
    found = []
    known = c.data is not None and c.batch_size is not None
    for node in c.graph.nodes:
        shape = c.inputs(node.id)[0] if c.inputs(node.id) else None
        if node.type not in ("BatchNorm1d", "BatchNorm2d") or shape is None or math.prod(shape[1:]) > 1:
            continue
        fix = Fix(f"Replace {node.name} with a LayerNorm", lambda g, i=node.id: replace_block(g, i, "LayerNorm"))
        if not known:
            found.append(_finding(
                "info", "batch-of-one", node,
                f"normalizes each of its {shape[0]} features over the batch alone: training stops if a batch holds "
                "a single sample (the last one of an epoch may); LayerNorm does not depend on the batch", fix))
        elif c.batch_size == 1 or c.data.train_size % c.batch_size == 1:
            why = ("the batch size is 1" if c.batch_size == 1 else
                   f"the last batch of each epoch holds 1 sample ({c.data.train_size:,} training samples in "
                   f"batches of {c.batch_size})")
            found.append(_finding("error", "batch-of-one", node,
                                  f"cannot normalize a batch of one sample, and {why}: choose another batch size, "
                                  "or use LayerNorm", fix))
    return found


def check_heavy_dense(c: _Context) -> list[Finding]:
    total = c.report.total_params
    found = []
    for node in c.graph.nodes:
        info = c.report.nodes.get(node.id)
        if node.type != "Linear" or info is None or info.params < max(HEAVY_MIN, HEAVY_SHARE * total):
            continue
        flatten = c.producer(node)
        if flatten is None or flatten.type != "Flatten":
            continue
        maps = c.inputs(flatten.id)[0] if c.inputs(flatten.id) else None
        if maps is None or len(maps) != 3 or maps[1] * maps[2] == 1:
            continue
        pooled = maps[0] * info.output[-1] + (info.output[-1] if node.params["bias"] else 0)
        pool = c.source(flatten)
        if pool is not None and pool.type == "AdaptiveAvgPool2d":
            fix = Fix(f"Set {pool.name}'s output size to 1x1",
                      lambda g, i=pool.id: g.set_param(i, "output_size", 1))
        else:
            fix = Fix(f"Insert a GlobalAvgPool2d before {flatten.name}",
                      lambda g, i=flatten.id: insert_before(g, i, "in", "GlobalAvgPool2d"))
        found.append(_finding(
            "info", "heavy-dense", node,
            f"holds {info.params / total:.0%} of the parameters ({info.params:,}): it reads every position of a "
            f"{format_shape(maps)} feature map; averaging each channel first would leave it {pooled:,}", fix))
    return found


def check_dropout_output(c: _Context) -> list[Finding]:
    found = []
    for node in c.graph.nodes:
        if node.type in ("Dropout", "Dropout2d") and any(n.type == "Output" for n in c.consumers(node)):
            found.append(_finding(
                "warning", "dropout-output", node,
                "drops parts of the prediction itself while training, so the loss sees a damaged output; "
                "dropout belongs before the last weight layer",
                Fix(f"Remove {node.name}", lambda g, i=node.id: remove_and_bridge(g, i))))
    return found


def check_deep_plain(c: _Context) -> list[Finding]:
    g = c.graph
    if any(n.spec.category in ("norm", "merge") and n.type not in ("Dropout", "Dropout2d") for n in g.nodes):
        return []
    depth: dict[str, int] = {}
    for node in g.topological_order():
        above = [depth[e.src] for e in g.input_edges(node.id) if e is not None]
        depth[node.id] = max(above, default=0) + (node.spec.category in ("conv", "dense") and node.type != "Embedding")
    if not depth or max(depth.values()) < DEEP_CHAIN:
        return []
    deepest = g.node(max(depth, key=depth.__getitem__))
    convs = [n.id for n in g.nodes if n.type in ("Conv1d", "Conv2d")]
    fix = None
    if convs:
        def add_norms(graph: Graph, ids=tuple(convs)) -> None:
            for node_id in ids:
                kind = "BatchNorm2d" if graph.node(node_id).type == "Conv2d" else "BatchNorm1d"
                insert_after(graph, node_id, kind)
        fix = Fix(f"Insert a BatchNorm after each of the {len(convs)} convolutions", add_norms)
    return [_finding(
        "warning", "deep-plain", deepest,
        f"ends a chain of {max(depth.values())} weight layers with no normalization and no shortcut: the gradient "
        "fades on its way back and training may barely start; add BatchNorm after the convolutions, or residual "
        "connections (Add)", fix)]


CHECKS: list[Callable[[_Context], list[Finding]]] = [
    check_shapes, check_flatten, check_squashing, check_output_size, check_unused, check_input_shape,
    check_batch_of_one, check_heavy_dense, check_dropout_output, check_deep_plain,
]
