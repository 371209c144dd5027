"""Datasets: generated toys, data shipped inside PyPI packages, and readers for the usual file formats.

Samples are read into tensors in memory, or streamed from disk past a memory budget; classic datasets download on
demand. Reading a file never executes anything from it: no pickle, only numbers parsed from bytes or text.
May import `base` and `layers` only; the document (`model`) and the datasets know nothing of each other.
"""
from .dataset import DataError, Dataset, Splits
from .specs import SPEC_HELP, load_dataset

__all__ = ["SPEC_HELP", "DataError", "Dataset", "Splits", "load_dataset"]
