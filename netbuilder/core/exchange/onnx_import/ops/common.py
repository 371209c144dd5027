"""What several operator families share: axes through views, constants aligned to a block's layout."""
from __future__ import annotations

import numpy as np

from ..importer import Canonical, Importer, OnnxNode
from ..reading import BATCH
from ..refusals import Refusal
from ..views import View


def on_axis(imp: Importer, node: OnnxNode, view: View, axis: int, what: str = "works") -> tuple[Canonical, int]:
    """The view as a block output and where ONNX axis `axis` is in it; Refusal if that axis holds the batch."""
    axis = axis % view.rank
    canon = imp.canonical(view, node)
    if canon.batch_axis == axis:
        raise Refusal(f"{what} along the batch axis")
    return canon, canon.axes[axis]


def last_axis(imp: Importer, node: OnnxNode, view: View, what: str = "works") -> Canonical:
    """The view as a block output whose last axis is the ONNX tensor's last axis (a Linear's input)."""
    canon, axis = on_axis(imp, node, view, -1, what)
    if axis != max(a for a in canon.axes if a is not None):
        raise Refusal(f"{what} on an axis that is not last once the batch is first")
    return canon


def aligned(c: np.ndarray, view: View, canon: Canonical) -> np.ndarray:
    """A constant that broadcasts against the ONNX tensor, as it broadcasts against the canonical block output
    (batch excluded); Refusal if it differs from one sample to the next."""
    if c.ndim > view.rank:
        raise Refusal(f"broadcasts a {c.ndim}-D constant against a {view.rank}-D tensor")
    c = c.reshape((1,) * (view.rank - c.ndim) + c.shape)
    j = canon.batch_axis
    if c.shape[j] != 1:
        raise Refusal(f"its constant of shape {'x'.join(map(str, c.shape))} differs from one sample to the next")
    return c.reshape(c.shape[:j] + c.shape[j + 1:]) if canon.side == "alone" else c


def shape_text(dims) -> str:
    """`batchx3x2`; a size made of the batch and other sizes (the batch merged with an axis of 3) is `3*batch`."""
    def one(d: int) -> str:
        if d == BATCH:
            return "batch"
        if d and d % BATCH == 0:
            return f"{d // BATCH}*batch"
        return str(d)
    return "x".join(one(int(d)) for d in dims)


def scalar(c: np.ndarray | None) -> float | None:
    return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None


def ints(value) -> list[int] | None:
    return [int(v) for v in np.asarray(value).reshape(-1)] if value is not None else None


def same_layout(a: View, b: View) -> bool:
    """Two views that arrange their blocks' outputs the same way (one made from the other elementwise)."""
    def same(x, y):
        return len(x) == len(y) and all(len(p) == len(q) and all(s is t for s, t in zip(p, q)) for p, q in zip(x, y))
    return same(a.axes, b.axes) and same(a.groups, b.groups)
