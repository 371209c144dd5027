"""Import at the speed of reading (issue 22): an ONNX file's weights are read once, straight into arrays that torch and
onnxruntime both compute with, and the imported model runs one forward pass (its check against onnxruntime),
however deep it is. (bench/bench_import.py gives the time of an import in forward passes of the model.)"""
import tracemalloc
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from netbuilder.core.exchange.onnx_import import OnnxImportError, import_onnx
from netbuilder.core.exchange.onnx_import.reading import read_model


def mlp_file(path, depth: int, width: int = 512):
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[m for _ in range(depth) for m in (torch.nn.Linear(width, width), torch.nn.ReLU())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(2, width),), str(path), input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    return path, sum(t.numel() * t.element_size() for t in model.state_dict().values())


@pytest.mark.parametrize("depth", [2, 8])
def test_an_import_reads_the_weights_once_and_runs_the_model_once(depth, tmp_path):
    path, weights = mlp_file(tmp_path / "mlp.onnx", depth)
    import_onnx(path)  # once before: what is loaded once per process is not counted
    forwards = []

    def count(module, args, output):
        if isinstance(module, torch.fx.GraphModule):
            forwards.append(type(module).__name__)

    hook = torch.nn.modules.module.register_module_forward_hook(count)
    tracemalloc.start()  # Python's and numpy's allocations
    try:
        imported = import_onnx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        hook.remove()
    assert forwards == ["Net"], "one forward pass of the imported model (against onnxruntime), whatever its depth"
    assert peak <= 1.3 * weights, f"{peak / weights:.2f}x the weights' bytes: they are read once, not copied"
    assert imported.max_abs_diff < 1e-5
    for key, value in imported.state.items():
        assert value.dtype == torch.float32 and value.is_contiguous(), key


def test_the_weights_read_apart_are_the_files_and_small_ones_stay_in_the_model(tmp_path):
    path, _ = mlp_file(tmp_path / "mlp.onnx", 2, width=16)  # 16x16 weights: 1 KB; biases 64 bytes
    file = read_model(path)
    whole = onnx.load(str(path))
    for tensor in whole.graph.initializer:
        np.testing.assert_array_equal(file.initializer(next(t for t in file.model.graph.initializer
                                                            if t.name == tensor.name)),
                                      numpy_helper.to_array(tensor))
    assert sorted(file.weights) == sorted(t.name for t in whole.graph.initializer if t.name.endswith("weight"))
    assert file.model.ByteSize() < 2000  # the structure alone


def test_weights_kept_beside_the_model_are_read_as_onnx_reads_them(tmp_path):
    path, _ = mlp_file(tmp_path / "mlp.onnx", 2, width=64)
    model = onnx.load(str(path))
    onnx.save_model(model, str(tmp_path / "beside.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="beside.data", size_threshold=0)
    file = read_model(tmp_path / "beside.onnx")
    assert file.weights == {}
    assert import_onnx(tmp_path / "beside.onnx").max_abs_diff < 1e-5  # onnxruntime reads the file beside it


def test_an_initializer_whose_data_does_not_fill_its_shape_is_refused_in_words(tmp_path):
    path, _ = mlp_file(tmp_path / "mlp.onnx", 1, width=32)
    model = onnx.load(str(path))
    weight = next(t for t in model.graph.initializer if t.name.endswith("weight"))
    weight.raw_data = weight.raw_data[:-4]  # one value short
    onnx.save(model, str(tmp_path / "short.onnx"))
    with pytest.raises(OnnxImportError, match=r"short.onnx is not a valid ONNX model \(.*raw_data size"):
        import_onnx(tmp_path / "short.onnx")
