"""Fully connected layers and embeddings."""
from __future__ import annotations

from .spec import Bool, Int, LayerSpec, case, module

LAYERS = [
    LayerSpec(
        "Linear", "dense",
        "Fully connected layer: y = x W^T + b, applied to the last dimension.",
        params=(
            Int("out_features", 10, 1, 1_000_000, help="number of outputs"),
            Bool("bias", True, help="learn an additive bias"),
        ),
        build=lambda p, s: module("Linear", s[0][-1], p["out_features"], bias=p["bias"]),
        summary=lambda p: f"{p['out_features']} outputs" + ("" if p["bias"] else ", no bias"),
        prefix="fc",
        cases=(case((16,), (10,), 16 * 10 + 10),
               case((3, 5, 8), (3, 5, 4), 8 * 4, out_features=4, bias=False)),
        doc=("Each output is a weighted sum of all the inputs plus a bias: the fully connected layer of "
             "an MLP and of a classifier's head. It acts on the last dimension only, so a 64x4x4 feature "
             "map must be flattened first (Flatten), or each of its 64x4 rows is transformed on its own. "
             "in_features is inferred from the incoming tensor."),
        formula="y = x Wᵀ + b, with W of size out_features x in_features",
    ),
    LayerSpec(
        "Embedding", "dense",
        "Looks up a learned vector for each integer id (e.g. a word index).",
        params=(
            Int("num_embeddings", 1000, 1, 10_000_000, help="vocabulary size: ids run from 0 to this minus 1"),
            Int("embedding_dim", 64, 1, 65536, help="length of each vector"),
        ),
        build=lambda p, s: module("Embedding", p["num_embeddings"], p["embedding_dim"]),
        summary=lambda p: f"{p['num_embeddings']} ids -> {p['embedding_dim']}",
        int_input=True, prefix="embed",
        cases=(case((12,), (12, 64), 1000 * 64),
               case((5,), (5, 8), 50 * 8, num_embeddings=50, embedding_dim=8)),
        doc=("A table of num_embeddings learned vectors: each integer id of the input is replaced by its "
             "row. Used for words or categories, e.g. before a recurrent layer. Needs an Input of dtype "
             "int64."),
        formula="y[i] = W[x[i]]",
    ),
]
