"""Attention and transformer layers over batch-first sequences (sequence x features).

The model size (embed_dim, d_model) always comes from the incoming tensor. A causal block lets each
position see only itself and the positions before it.
"""
from __future__ import annotations

import math

from .spec import Bool, Choice, Float, Int, LayerSpec, case, format_shape, module, parameter

_HEADS = Int("heads", 2, 1, 1024, help="number of attention heads (the feature size must divide by it)")
_DROPOUT = Float("dropout", 0.0, 0.0, 1.0, help="dropout on the attention weights while training")
_CAUSAL = Bool("causal", False, help="each position sees only itself and earlier positions")


def causal_mask(x):
    """True above the diagonal: the positions that a causal block hides."""
    import torch

    position = torch.arange(x.shape[1], device=x.device)
    return position.unsqueeze(0) > position.unsqueeze(1)


def _heads_check(p: dict, shapes: list) -> str | None:
    size = shapes[0][-1]
    if size % p["heads"]:
        return f"{size} features do not divide into {p['heads']} heads"
    return None


def _attention_build(p: dict, shapes: list):
    kwargs = {}
    if p["cross"] and shapes[1][-1] != shapes[0][-1]:
        kwargs = {"kdim": shapes[1][-1], "vdim": shapes[1][-1]}
    return module("MultiheadAttention", shapes[0][-1], p["heads"], dropout=p["dropout"], bias=p["bias"],
                  batch_first=True, **kwargs)


def _attention(m, x, *memory, causal, **_params):
    source = memory[0] if memory else x
    return m(x, source, source, need_weights=False, attn_mask=causal_mask(x) if causal else None)[0]


def _attention_check(p: dict, shapes: list) -> str | None:
    if p["causal"] and p["cross"]:
        return "causal masking applies to self-attention (turn cross off)"
    return _heads_check(p, shapes)


def _encoder_build(p: dict, shapes: list):
    return module("TransformerEncoderLayer", shapes[0][-1], p["heads"], dim_feedforward=p["dim_feedforward"],
                  dropout=p["dropout"], activation=p["activation"], layer_norm_eps=p["eps"], batch_first=True,
                  norm_first=p["norm_first"], bias=p["bias"])


def _encoder(m, x, causal, **_params):
    return m(x, src_mask=causal_mask(x) if causal else None)


def _decoder_build(p: dict, shapes: list):
    return module("TransformerDecoderLayer", shapes[0][-1], p["heads"], dim_feedforward=p["dim_feedforward"],
                  dropout=p["dropout"], activation=p["activation"], layer_norm_eps=p["eps"], batch_first=True,
                  norm_first=p["norm_first"], bias=p["bias"])


def _decoder(m, x, memory, causal, **_params):
    return m(x, memory, tgt_mask=causal_mask(x) if causal else None)


def _decoder_check(p: dict, shapes: list) -> str | None:
    if shapes[1][-1] != shapes[0][-1]:
        return (f"the memory must have the input's {shapes[0][-1]} features, has {shapes[1][-1]} "
                f"({format_shape(shapes[1])})")
    return _heads_check(p, shapes)


def _layer_params() -> tuple:
    return (
        _HEADS,
        Int("dim_feedforward", 256, 1, 1_000_000, help="size of the hidden layer of the feed-forward part"),
        Float("dropout", 0.1, 0.0, 1.0, help="dropout while training"),
        Choice("activation", "relu", ("relu", "gelu"), help="the feed-forward part's activation"),
        Float("eps", 1e-5, 1e-12, 1.0, help="added to the variance in the layer norms"),
        Bool("norm_first", False, help="normalize before attention and feed-forward (pre-LN), not after"),
        Bool("bias", True, help="learn additive biases in the linear layers and layer norms"),
        _CAUSAL,
    )


def _layer_summary(p: dict) -> str:
    return (f"{p['heads']} heads, ff {p['dim_feedforward']}, {p['activation']}"
            + (", pre-LN" if p["norm_first"] else "") + (", causal" if p["causal"] else ""))


def _encoder_weights(e: int, f: int) -> int:
    """Attention (q, k, v and output projections with biases), two linear layers, two layer norms."""
    return (4 * e * e + 4 * e) + (e * f + f) + (f * e + e) + 2 * (2 * e)


def _decoder_weights(e: int, f: int) -> int:
    """Self-attention and cross-attention, two linear layers, three layer norms."""
    return 2 * (4 * e * e + 4 * e) + (e * f + f) + (f * e + e) + 3 * (2 * e)


def _sinusoid_table(x):
    """sin and cos of position / 10000^(2i / features), interleaved, as in "Attention is all you need"."""
    import torch

    length, features = x.shape[1], x.shape[2]
    position = torch.arange(length, dtype=x.dtype, device=x.device).unsqueeze(1)
    rate = torch.exp(torch.arange(0, features, 2, dtype=x.dtype, device=x.device) * (-math.log(10000.0) / features))
    angles = position * rate
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)


def _positional(m, x, kind, **_params):
    return x + (_sinusoid_table(x) if kind == "sinusoidal" else m)


def _positional_build(p: dict, shapes: list):
    return parameter(shapes[0], "normal") if p["kind"] == "learned" else None


def _positional_check(p: dict, shapes: list) -> str | None:
    if p["kind"] == "sinusoidal" and shapes[0][-1] % 2:
        return f"sinusoidal encoding needs an even number of features, not {shapes[0][-1]}"
    return None


HIDDEN = -3.4028234663852886e38  # the lowest float32: a hidden score, exp() of it after softmax's shift is 0


def _causal_scores(m, x, **_params):
    import torch

    rows = torch.arange(x.shape[-2], device=x.device)
    columns = torch.arange(x.shape[-1], device=x.device)
    return x.masked_fill(columns.unsqueeze(0) > rows.unsqueeze(1), HIDDEN)


def _class_token(m, x, **_params):
    import torch

    return torch.cat([m.expand(x.shape[0], -1, -1), x], dim=1)


LAYERS = [
    LayerSpec(
        "MultiheadAttention", "attention",
        "Each position attends to every position (self-attention) or to a memory sequence (cross).",
        params=(_HEADS, _DROPOUT, Bool("bias", True, help="learn additive biases in the projections"), _CAUSAL,
                Bool("cross", False, help="take keys and values from a second input, the memory")),
        build=_attention_build, forward=_attention, check=_attention_check,
        inputs=lambda p: ["in", "memory"] if p["cross"] else ["in"],
        ranks=(2,), rank_words="sequence x features", prefix="attn",
        summary=lambda p: f"{p['heads']} heads" + (", causal" if p["causal"] else "")
                          + (", cross" if p["cross"] else ""),
        cases=(case((5, 8), (5, 8), 4 * 8 * 8 + 4 * 8),  # q, k, v, out projections with biases
               case((6, 12), (6, 12), 4 * 12 * 12, heads=3, bias=False, causal=True),
               # keys and values from a 7-step memory of 6 features: q and out are 8x8, k and v 8x6
               case({"in": (5, 8), "memory": (7, 6)}, (5, 8), 2 * 8 * 8 + 2 * 8 * 6 + 4 * 8, cross=True)),
        doc=("Each position of a sequence x features input builds a query and takes a weighted mix of the values "
             "of the positions whose keys match it best; heads do this in parallel on slices of the features, "
             "so the feature size must divide by heads. The output has the input's shape. With cross on, keys and"
             " values come from the memory port (e.g. an encoder's output); causal hides later positions, as a "
             "text generator needs."),
        formula=("Attention(Q, K, V) = softmax(Q Kᵀ / √d) V per head, d = features / heads; Q = x W_q, K = m W_k, "
                 "V = m W_v (m = x, or the memory); heads joined, then times W_o"),
    ),
    LayerSpec(
        "TransformerEncoderLayer", "attention",
        "Self-attention then a feed-forward network, each with a residual connection and a layer norm.",
        params=_layer_params(), build=_encoder_build, forward=_encoder, check=_heads_check,
        ranks=(2,), rank_words="sequence x features", prefix="encoder", summary=_layer_summary,
        cases=(case((5, 8), (5, 8), _encoder_weights(8, 256)),
               case((4, 6), (4, 6), _encoder_weights(6, 10), heads=3, dim_feedforward=10, activation="gelu",
                    norm_first=True, causal=True)),
        doc=("One block of a transformer encoder (BERT, ViT): multi-head self-attention, then a two-layer "
             "feed-forward network applied to each position, each added back to its input and layer-normalized. "
             "It takes sequence x features and gives the same shape, so blocks stack; put a PositionalEncoding "
             "before the first, since attention alone ignores order. norm_first (pre-LN) often trains more "
             "steadily in deep stacks."),
        formula=("y = LN(x + Attention(x)); out = LN(y + FF(y)), FF(y) = W₂ act(W₁ y + b₁) + b₂  "
                 "(norm_first: y = x + Attention(LN(x)); out = y + FF(LN(y)))"),
    ),
    LayerSpec(
        "TransformerDecoderLayer", "attention",
        "Self-attention, attention to a memory (the encoder's output), then a feed-forward network.",
        params=_layer_params(), build=_decoder_build, forward=_decoder, check=_decoder_check,
        inputs=("in", "memory"), ranks=(2,), rank_words="sequence x features", prefix="decoder",
        summary=_layer_summary,
        cases=(case({"in": (5, 8), "memory": (7, 8)}, (5, 8), _decoder_weights(8, 256)),
               case({"in": (3, 4), "memory": (6, 4)}, (3, 4), _decoder_weights(4, 12), dim_feedforward=12,
                    causal=True)),
        doc=("One block of a transformer decoder, as in translation: self-attention over its input, attention to"
             " the memory (usually the encoder's output), then a feed-forward network, each with a residual "
             "connection and a layer norm. in is sequence x features and gives the same shape; the memory may "
             "be of another length but needs the same number of features. Turn causal on when the decoder "
             "predicts the next token, so that no position sees the answer."),
        formula=("y₁ = LN(x + SelfAttention(x)); y₂ = LN(y₁ + Attention(y₁, memory)); out = LN(y₂ + FF(y₂))  "
                 "(norm_first: the norms come before each part)"),
    ),
    LayerSpec(
        "PositionalEncoding", "attention",
        "Adds each position's code to its features: fixed sines and cosines, or a learned table.",
        params=(Choice("kind", "sinusoidal", ("sinusoidal", "learned"),
                       help="sinusoidal: fixed, no weights; learned: one learned vector per position"),),
        build=_positional_build, forward=_positional, check=_positional_check,
        ranks=(2,), rank_words="sequence x features", prefix="pos", summary=lambda p: p["kind"],
        cases=(case((10, 8), (10, 8)), case((5, 6), (5, 6), 5 * 6, kind="learned")),
        doc=("Attention by itself does not know the order of a sequence; this block adds a code for each "
             "position to its features (sequence x features in, the same shape out), usually right after an "
             "Embedding. sinusoidal needs no weights and an even number of features; learned keeps a table of "
             "sequence x features weights (as in BERT and ViT), which fixes the sequence length."),
        formula="y = x + PE, PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)) "
                "(sinusoidal; d = features)",
    ),
    LayerSpec(
        "CausalMask", "attention",
        "Hides later positions in attention scores (queries x keys): those above the diagonal become the lowest "
        "number, so that a following Softmax gives them no weight. For attention built from MatMul and Softmax.",
        forward=_causal_scores, ranks=(2, 3, 4), rank_words="queries x keys (after any heads)", prefix="mask",
        cases=(case((4, 4), (4, 4)), case((2, 5, 5), (2, 5, 5))),
        doc=("For attention you build yourself: takes scores of queries x keys (heads may come first) and "
             "replaces every score above the diagonal, where a key comes after its query, by the lowest float32 "
             "number, so that the following Softmax gives it a weight of 0. No weights; the shape is kept. Put "
             "it between the scaled score MatMul and the Softmax of a GPT-style block."),
        formula="y[i, j] = x[i, j] for j ≤ i; the lowest float32 (about −3.4·10³⁸) for j > i",
    ),
    LayerSpec(
        "ClassToken", "attention",
        "Puts learned tokens before the sequence (ViT's class token); read them back with Select.",
        params=(Int("tokens", 1, 1, 1024, help="how many tokens to put first"),),
        build=lambda p, s: parameter((1, p["tokens"], s[0][-1])), forward=_class_token,
        ranks=(2,), rank_words="sequence x features", prefix="cls",
        summary=lambda p: f"{p['tokens']} token{'s' if p['tokens'] > 1 else ''}",
        cases=(case((4, 8), (5, 8), 8), case((9, 6), (11, 6), 2 * 6, tokens=2)),
        doc=("Puts tokens learned vectors (starting at zero) in front of a sequence x features input: 4x8 gives "
             "5x8. Through the attention layers that follow, this token gathers information from the whole "
             "sequence; a vision transformer then reads it back with Select (dim 1, index 0) and classifies it "
             "with a Linear."),
        formula="y = [c₁, …, c_tokens, x₁, …, x_L], each c learned (features long)",
    ),
]
