"""Exporting the hand-written families (tests/families.py) the ways users do; shared by the tests and by
tools/make_test_models.py, which stores the dynamo exporter's files (seconds each) in tests/data/dynamo."""
import logging
import warnings
from pathlib import Path

import torch

from tests.families import FAMILIES, example_inputs

DYNAMO_FILES = Path(__file__).parent / "data" / "dynamo"
# torch writes attention (unflatten, scaled_dot_product_attention) from opset 14 on: 14 is the old opset there
OLD_OPSET = {"vit": 14, "multihead-attention": 14}
FIXED_BATCH = 3


def family_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return FAMILIES[name][0]().eval()


def export_family(name: str, variant: str, path) -> torch.nn.Module:
    """variant: opset11 / opset17 (dynamic batch), opset17-fixed-batch (torch.onnx.export's default), dynamo."""
    model = family_model(name)
    inputs = example_inputs(name, FIXED_BATCH if "fixed" in variant else 2)
    names = [f"x{i}" for i in range(len(inputs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            if variant == "dynamo":
                torch.onnx.export(model, inputs, str(path), input_names=names, output_names=["y"],
                                  dynamic_shapes=tuple({0: torch.export.Dim("batch")} for _ in inputs), dynamo=True,
                                  external_data=False, verbose=False)
            else:
                opset = OLD_OPSET.get(name, 11) if variant == "opset11" else 17
                axes = None if "fixed" in variant else {n: {0: "batch"} for n in [*names, "y"]}
                torch.onnx.export(model, inputs, str(path), input_names=names, output_names=["y"], dynamic_axes=axes,
                                  opset_version=opset, dynamo=False)
        finally:
            logging.disable(logging.NOTSET)
    return model
