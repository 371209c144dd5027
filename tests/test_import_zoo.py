"""The light model-zoo files shipped inside the onnx wheel (Caffe2 conversions at opset 9: initializers
listed as inputs, LRN, Sum, asymmetric pooling pads, a fixed batch of 1). Their weights are zeros made by
ConstantOfShape; here they are replaced by random ones, so that the import's check against onnxruntime
means something. The suite imports the three cheapest; bench/bench_import.py imports all nine (ResNet-50,
DenseNet-121 and Inception-v2 take seconds; AlexNet, ZFNet and VGG-19 carry 0.2-0.6 GB of weights)."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from netbuilder.core.exchange.onnx_import import import_onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
SMALL = ["light_squeezenet", "light_shufflenet", "light_inception_v1"]
LARGE = ["light_resnet50", "light_densenet121", "light_inception_v2", "light_bvlc_alexnet", "light_zfnet512",
         "light_vgg19"]  # imported by bench/bench_import.py


def with_random_weights(name: str, out: Path) -> Path:
    """The model with each ConstantOfShape weight replaced by random values of its shape (positive for vectors:
    batch-norm variances and scales)."""
    model = onnx.load(str(LIGHT / f"{name}.onnx"))
    shapes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    rng = np.random.default_rng(0)
    kept = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            values = rng.normal(0, np.sqrt(2 / fan_in), shape) if len(shape) > 1 else rng.uniform(0.5, 1.5, shape)
            model.graph.initializer.append(numpy_helper.from_array(values.astype(np.float32), node.output[0]))
            model.graph.input.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT,
                                                                        shape))  # IR 3: initializers are inputs
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    onnx.save(model, str(out))
    return out


@pytest.mark.parametrize("name", SMALL)
def test_a_light_zoo_model_imports(name, tmp_path):
    imported = import_onnx(with_random_weights(name, tmp_path / f"{name}.onnx"))  # checked against onnxruntime
    assert np.isfinite(imported.max_abs_diff)
    assert sum(t.numel() for t in imported.state.values()) > 100_000


def test_every_light_zoo_file_is_imported_here_or_by_the_benchmark():
    assert sorted(p.stem for p in LIGHT.glob("*.onnx")) == sorted(SMALL + LARGE)
