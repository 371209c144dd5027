"""netbuilder: build neural networks by drawing them."""

__version__ = "0.1.0"
