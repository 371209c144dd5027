"""Does the graph work, and what does it cost: shape inference on the meta device (`shapes`), the analysis
with its fixes, torch's complaints in words (`messages`), the layer reference, memory estimates.

May import `base`, `layers`, `model` and `data`; never what builds, trains, exports or probes a network.
"""
