"""ONNX tensors as rearrangements of a block's output, so that Reshape and Transpose need no block of their own.

Exporters move the batch around: an RNN reads (sequence, batch, features), multi-head attention reshapes
(sequence, batch, features) into (sequence, batch x heads, head size) and back. Our blocks are batch first.
A `View` describes an ONNX tensor as its block's output (batch first) with each axis cut into factors
("atoms"), reordered and merged again: the ONNX axes are `groups` of atoms. Reshape, Transpose, Squeeze
and Unsqueeze only change the view; a block is made only when an operator needs the values, and then
in the batch-first order the view implies (see Importer.canonical).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


class Atom:
    """A factor of one axis of a block's output. Compared by identity: two atoms of size 4 are different."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"Atom({self.size})"


@dataclass(eq=False)
class View:
    """An ONNX tensor made of a block's output. `axes`: the block's axes (the batch first), each a list of
    atoms (row-major); `groups`: the ONNX tensor's axes, each the atoms it merges ([] is an axis of size 1).
    Every atom of size other than 1 is in exactly one group; the batch atom is never cut."""

    port: object  # the Port of the block output it views
    axes: list[list[Atom]]
    groups: list[list[Atom]]
    dtype: str = "float32"
    cache: dict = field(default_factory=dict)  # what the Importer made of it (canonical form), reused
    origin: object = None  # the ONNX node that rearranged it last: its blocks, if any, are named after it

    @property
    def batch(self) -> Atom:
        return self.axes[0][0]

    @property
    def shape(self) -> list[int]:
        return [math.prod(a.size for a in group) for group in self.groups]

    @property
    def rank(self) -> int:
        return len(self.groups)

    def batch_axis(self) -> int:
        """The ONNX axis whose group holds the batch."""
        return next(i for i, group in enumerate(self.groups) if self.batch in group)

    def is_plain(self) -> bool:
        """Whether the ONNX tensor is exactly the block's output."""
        return len(self.groups) == len(self.axes) and all(
            _live(g, self.batch) == _live(a, self.batch) for g, a in zip(self.groups, self.axes))

    def with_groups(self, groups: list[list[Atom]], axes: list[list[Atom]] | None = None) -> View:
        return simplify(View(self.port, axes if axes is not None else self.axes, groups, self.dtype))


def plain(port, shape: tuple[int, ...], batch: int, dtype: str = "float32") -> View:
    """The view of a block output of `shape` (batch excluded) as it is."""
    axes = [[Atom(batch)]] + [[Atom(d)] for d in shape]
    return View(port, axes, [list(a) for a in axes], dtype)


def _live(atoms: list[Atom], batch: Atom) -> list[Atom]:
    return [a for a in atoms if a.size != 1 or a is batch]


def transpose(view: View, perm: list[int]) -> View:
    return view.with_groups([view.groups[p] for p in perm])


def squeeze(view: View, axes: list[int]) -> View | None:
    """Drop size-1 axes; None if one of them is the batch."""
    axes = [a % view.rank for a in axes]
    if any(view.batch in view.groups[a] or view.shape[a] != 1 for a in axes):
        return None
    return view.with_groups([g for i, g in enumerate(view.groups) if i not in axes])


def unsqueeze(view: View, axes: list[int]) -> View:
    rank = view.rank + len(axes)
    axes = sorted(a % rank for a in axes)
    groups = list(view.groups)
    for a in axes:
        groups.insert(a, [])
    return view.with_groups(groups)


def reshape(view: View, dims: list[int]) -> View | None:
    """The view after a Reshape to `dims` (every size known, the batch's own value included); None when the
    reshape would cut the batch or cannot be expressed by cutting and merging atoms."""
    batch = view.batch
    sequence = [a for group in view.groups for a in _live(group, batch)]
    axes = [list(a) for a in view.axes]
    groups: list[list[Atom]] = []
    i = 0
    for d in dims:
        group: list[Atom] = []
        size = 1
        if d == 1:
            if i < len(sequence) and sequence[i] is batch:  # a fixed batch of 1 stays an axis of its own
                group, i = [batch], i + 1
            groups.append(group)
            continue
        while size < d:
            if i >= len(sequence):
                return None
            atom = sequence[i]
            if size * atom.size <= d and d % (size * atom.size) == 0:
                group.append(atom)
                size *= atom.size
                i += 1
                continue
            want = d // size
            if atom is batch or d % size or atom.size % want:
                return None
            first, rest = Atom(want), Atom(atom.size // want)
            _cut(axes, atom, first, rest)
            sequence[i:i + 1] = [first, rest]
            group.append(first)
            size *= want
            i += 1
        if size != d:
            return None
        groups.append(group)
    if i != len(sequence):
        return None
    return view.with_groups(groups, axes)


def _cut(axes: list[list[Atom]], atom: Atom, first: Atom, rest: Atom) -> None:
    for k, atoms in enumerate(axes):
        if atom in atoms:
            j = atoms.index(atom)
            axes[k] = atoms[:j] + [first, rest] + atoms[j + 1:]
            return


def simplify(view: View) -> View:
    """Merge atoms that follow each other both in a block axis and in an ONNX axis: cutting 12 into 3x4 and
    merging the 3x4 again gives back the 12."""
    axes = [list(a) for a in view.axes]
    groups = [list(g) for g in view.groups]
    changed = True
    while changed:
        changed = False
        for g in groups:
            for j in range(len(g) - 1):
                a, b = g[j], g[j + 1]
                axis = next((atoms for atoms in axes if a in atoms), None)
                if axis is None or b not in axis or axis.index(b) != axis.index(a) + 1 or view.batch in (a, b):
                    continue
                merged = Atom(a.size * b.size)
                k = axis.index(a)
                axis[k:k + 2] = [merged]
                g[j:j + 2] = [merged]
                changed = True
                break
            if changed:
                break
    return View(view.port, axes, groups, view.dtype)
