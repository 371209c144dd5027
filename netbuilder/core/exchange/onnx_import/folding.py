"""Constant folding: nodes whose inputs are all constants are evaluated at import, at the model's own opset.

The shape arithmetic that exporters leave (Shape -> Gather -> Concat -> Reshape) reads the batch size;
a dynamic batch size flows through it as the number BATCH. A tensor built *from* the batch size (an RNN's
zero initial state, a class token expanded over the batch) becomes a `Batched` constant: its values for
one sample, repeated over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...base.errors import first_line
from .reading import BATCH
from .refusals import Refusal

SIZED_BY_INPUT = {"ConstantOfShape", "Expand", "Tile", "Range"}  # allocate as much as an input says
_EVALUATORS: dict[tuple[bytes, int], object] = {}


@dataclass
class Batched:
    """A constant repeated over the batch; `array` holds it with a batch axis of size 1 at `axis`."""

    array: np.ndarray
    axis: int

    def is_zero(self) -> bool:
        return not self.array.any()


def fold(node, ins: list, opset: int) -> list:
    """The node's outputs (arrays, or Batched) from constant inputs (arrays, Batched, or None where an
    optional input is absent). Refusal when it cannot be evaluated."""
    if any(isinstance(v, Batched) for v in ins) or (node.op_type in SIZED_BY_INPUT and any(_has_batch(v) for v in ins)):
        return _fold_batched(node, ins, opset)
    return evaluate(node, ins, opset)


def _has_batch(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu" and bool((value >= BATCH).any())


def _at(value, n: int):
    """A value at batch size n: a Batched repeated n times, the number BATCH (and its multiples) as n."""
    if isinstance(value, Batched):
        return np.repeat(value.array, n, axis=value.axis)
    if _has_batch(value):
        return np.where(value >= BATCH, value // BATCH * n, value).astype(value.dtype)
    return value


def _fold_batched(node, ins: list, opset: int) -> list:
    if node.op_type == "Range":
        raise Refusal("counts up to the batch size")
    ones, twos = evaluate(node, [_at(v, 1) for v in ins], opset), evaluate(node, [_at(v, 2) for v in ins], opset)
    results = []
    for one, two in zip(ones, twos):
        if one.shape == two.shape and np.array_equal(one, two):
            results.append(one)  # does not depend on the batch after all
            continue
        differ = [k for k, (a, b) in enumerate(zip(one.shape, two.shape)) if a != b]
        if one.ndim != two.ndim or len(differ) != 1 or (one.shape[differ[0]], two.shape[differ[0]]) != (1, 2):
            raise Refusal("computes with the batch size in a way netbuilder cannot follow")
        results.append(Batched(one, differ[0]))
    return results


def evaluate(node, ins: list, opset: int) -> list[np.ndarray]:
    """Run one node with onnx's reference implementation at the given opset."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    names = [f"i{k}" if name else "" for k, name in enumerate(node.input)]
    outs = [f"o{k}" if name else "" for k, name in enumerate(node.output)]
    plain = helper.make_node(node.op_type, names, outs, domain=node.domain or None)
    plain.attribute.extend(node.attribute)
    key = (plain.SerializeToString(), opset)
    evaluator = _EVALUATORS.get(key)
    try:
        if evaluator is None:
            graph = helper.make_graph(
                [plain], "fold", [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in names if n],
                [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outs if n])
            evaluator = ReferenceEvaluator(graph, opsets={"": opset})
            if len(key[0]) < 4096 and len(_EVALUATORS) < 4096:  # small nodes recur: Unsqueeze(axes=0), ...
                _EVALUATORS[key] = evaluator
        feeds = {n: v for n, v in zip(names, ins) if n and v is not None}
        results = evaluator.run(None, feeds)
    except Refusal:
        raise
    except Exception as e:  # noqa: BLE001 - the reference implementation raises many kinds
        raise Refusal(f"cannot be evaluated ({first_line(e)[:120]})") from None
    return [np.asarray(r) for r in results]
