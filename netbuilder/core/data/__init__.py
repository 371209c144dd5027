"""Datasets: generated toys, data shipped inside PyPI packages, and readers for the usual file formats.

Everything is read into tensors in memory (these are teaching-sized datasets). Reading a file never
executes anything from it: no pickle, only numbers parsed from bytes or text.
"""
from .dataset import DataError, Dataset, Splits
from .specs import SPEC_HELP, load_dataset

__all__ = ["SPEC_HELP", "DataError", "Dataset", "Splits", "load_dataset"]
