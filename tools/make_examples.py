"""Write the example graphs in netbuilder/examples/ with netbuilder's own Graph API.

    python tools/make_examples.py [OUT_DIR]

The architectures follow the papers and torchvision, so parameter totals match torchvision's
(AlexNet 61,100,840; VGG16 138,357,544; ResNet-18 11,689,512; GoogLeNet 6,624,904).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout


class Builder:
    """Adds blocks to a graph and wires each to the block(s) it reads from."""

    def __init__(self, title: str, description: str) -> None:
        self.graph = Graph({"title": title, "description": description})
        self.groups: dict[str, list[str]] = {}
        self._group: list[str] | None = None

    def add(self, type: str, *sources: str, name: str | None = None, **params) -> str:
        node = self.graph.add_node(type, params, name=name)
        for src in sources:
            self.graph.connect(src, node.id)
        if self._group is not None:
            self._group.append(node.id)
        return node.id

    @contextmanager
    def group(self, name: str):
        """The blocks added inside the `with` form one group (a residual block, an Inception module)."""
        self._group = self.groups[name] = []
        try:
            yield
        finally:
            self._group = None

    def chain(self, src: str, *layers: tuple) -> str:
        """Add layers one after another: each layer is (type, name, params)."""
        for type, name, params in layers:
            src = self.add(type, src, name=name, **params)
        return src

    def done(self) -> Graph:
        apply_layout(self.graph)
        for name, ids in self.groups.items():
            self.graph.add_group(ids, name)
        return self.graph


def mnist_convnet() -> Graph:
    b = Builder("MNIST convnet (EE-559)",
                "The convnet of the EE-559 lecture on MNIST: two 5x5 convolutions with max-pooling, "
                "then two fully connected layers. Trains to ~94% test accuracy on mnist-5k in 6 epochs.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    y = b.chain(x,
                ("Conv2d", "conv1", dict(out_channels=32, kernel_size=5)),
                ("MaxPool2d", "pool1", dict(kernel_size=3)),
                ("ReLU", "relu1", {}),
                ("Conv2d", "conv2", dict(out_channels=64, kernel_size=5)),
                ("MaxPool2d", "pool2", dict(kernel_size=2)),
                ("ReLU", "relu2", {}),
                ("Flatten", "flatten", {}),
                ("Linear", "fc1", dict(out_features=200)),
                ("ReLU", "relu3", {}),
                ("Linear", "fc2", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done()


def lenet5() -> Graph:
    b = Builder("LeNet-5", "LeCun et al. 1998: tanh convolutions with average-pool subsampling on 32x32 digits.")
    x = b.add("Input", name="x", shape=[1, 32, 32])
    y = b.chain(x,
                ("Conv2d", "conv1", dict(out_channels=6, kernel_size=5)),
                ("Tanh", "tanh1", {}),
                ("AvgPool2d", "pool1", dict(kernel_size=2)),
                ("Conv2d", "conv2", dict(out_channels=16, kernel_size=5)),
                ("Tanh", "tanh2", {}),
                ("AvgPool2d", "pool2", dict(kernel_size=2)),
                ("Flatten", "flatten", {}),
                ("Linear", "fc1", dict(out_features=120)),
                ("Tanh", "tanh3", {}),
                ("Linear", "fc2", dict(out_features=84)),
                ("Tanh", "tanh4", {}),
                ("Linear", "fc3", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done()


def mlp_xor() -> Graph:
    b = Builder("MLP for XOR", "A 2-4-1 perceptron with a tanh hidden layer: the smallest net that learns XOR. "
                               "Its single output is a logit: train it with BCE-with-logits.")
    x = b.add("Input", name="x", shape=[2])
    y = b.chain(x, ("Linear", "fc1", dict(out_features=4)), ("Tanh", "tanh1", {}),
                ("Linear", "fc2", dict(out_features=1)))
    b.add("Output", y, name="logit")
    return b.done()


def mlp_regression() -> Graph:
    b = Builder("MLP regression (temperature)",
                "3 inputs, two hidden layers of 4 sigmoid units, 1 output: the temperature toy regression.")
    x = b.add("Input", name="x", shape=[3])
    y = b.chain(x, ("Linear", "fc1", dict(out_features=4)), ("Sigmoid", "sigmoid1", {}),
                ("Linear", "fc2", dict(out_features=4)), ("Sigmoid", "sigmoid2", {}),
                ("Linear", "fc3", dict(out_features=1)))
    b.add("Output", y, name="temperature")
    return b.done()


def alexnet() -> Graph:
    b = Builder("AlexNet", "Krizhevsky et al. 2012, as in torchvision: 5 convolutions, 3 fully connected layers.")
    x = b.add("Input", name="x", shape=[3, 224, 224])
    convs = [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False), (256, 3, 1, 1, False),
             (256, 3, 1, 1, True)]
    y = x
    for i, (channels, kernel, stride, padding, pool) in enumerate(convs, start=1):
        y = b.chain(y, ("Conv2d", f"conv{i}", dict(out_channels=channels, kernel_size=kernel, stride=stride,
                                                    padding=padding)),
                    ("ReLU", f"relu{i}", {}))
        if pool:
            y = b.add("MaxPool2d", y, name=f"pool{i}", kernel_size=3, stride=[2, 2])
    y = b.chain(y, ("AdaptiveAvgPool2d", "avgpool", dict(output_size=6)), ("Flatten", "flatten", {}),
                ("Dropout", "drop6", {}), ("Linear", "fc6", dict(out_features=4096)), ("ReLU", "relu6", {}),
                ("Dropout", "drop7", {}), ("Linear", "fc7", dict(out_features=4096)), ("ReLU", "relu7", {}),
                ("Linear", "fc8", dict(out_features=1000)))
    b.add("Output", y, name="logits")
    return b.done()


def vgg16() -> Graph:
    b = Builder("VGG16", "Simonyan & Zisserman 2014 (configuration D), as in torchvision: 13 3x3 convolutions.")
    y = b.add("Input", name="x", shape=[3, 224, 224])
    for stage, (channels, repeat) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        with b.group(f"block{stage}"):
            for i in range(1, repeat + 1):
                y = b.chain(y, ("Conv2d", f"conv{stage}_{i}", dict(out_channels=channels, kernel_size=3, padding=1)),
                            ("ReLU", f"relu{stage}_{i}", {}))
            y = b.add("MaxPool2d", y, name=f"pool{stage}", kernel_size=2)
    y = b.chain(y, ("AdaptiveAvgPool2d", "avgpool", dict(output_size=7)), ("Flatten", "flatten", {}),
                ("Linear", "fc6", dict(out_features=4096)), ("ReLU", "relu6", {}), ("Dropout", "drop6", {}),
                ("Linear", "fc7", dict(out_features=4096)), ("ReLU", "relu7", {}), ("Dropout", "drop7", {}),
                ("Linear", "fc8", dict(out_features=1000)))
    b.add("Output", y, name="logits")
    return b.done()


def resnet18() -> Graph:
    b = Builder("ResNet-18", "He et al. 2015, as in torchvision: residual blocks of two 3x3 convolutions with "
                             "BatchNorm, and 1x1 strided shortcuts where the size changes.")
    x = b.add("Input", name="x", shape=[3, 224, 224])
    with b.group("stem"):
        y = b.chain(x, ("Conv2d", "conv1", dict(out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)),
                    ("BatchNorm2d", "bn1", {}), ("ReLU", "relu", {}),
                    ("MaxPool2d", "maxpool", dict(kernel_size=3, stride=2, padding=1)))
    for stage, channels in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            n = f"layer{stage}_{block}_"
            with b.group(f"layer{stage}.{block}"):
                main = b.chain(y, ("Conv2d", n + "conv1", dict(out_channels=channels, kernel_size=3, stride=stride,
                                                                padding=1, bias=False)),
                               ("BatchNorm2d", n + "bn1", {}), ("ReLU", n + "relu1", {}),
                               ("Conv2d", n + "conv2", dict(out_channels=channels, kernel_size=3, padding=1,
                                                            bias=False)),
                               ("BatchNorm2d", n + "bn2", {}))
                shortcut = y
                if stride != 1:
                    shortcut = b.chain(y, ("Conv2d", n + "downsample_conv",
                                           dict(out_channels=channels, kernel_size=1, stride=stride, bias=False)),
                                       ("BatchNorm2d", n + "downsample_bn", {}))
                y = b.add("Add", main, shortcut, name=n + "add")
                y = b.add("ReLU", y, name=n + "relu2")
    y = b.chain(y, ("GlobalAvgPool2d", "avgpool", {}), ("Linear", "fc", dict(out_features=1000)))
    b.add("Output", y, name="logits")
    return b.done()


def googlenet() -> Graph:
    b = Builder("GoogLeNet", "Szegedy et al. 2014 (Inception v1), as in torchvision without the auxiliary "
                             "classifiers: nine Inception modules, each a Concat of four branches.")

    def basic_conv(src: str, name: str, channels: int, kernel: int, **kwargs) -> str:
        if b._group is None:  # a convolution of the stem: a group of its own
            with b.group(name):
                return basic_conv(src, name, channels, kernel, **kwargs)
        return b.chain(src, ("Conv2d", f"{name}_conv", dict(out_channels=channels, kernel_size=kernel, bias=False,
                                                            **kwargs)),
                       ("BatchNorm2d", f"{name}_bn", dict(eps=0.001)), ("ReLU", f"{name}_relu", {}))

    def inception(src: str, name: str, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int) -> str:
        with b.group(name):
            return inception_module(src, name, c1, c3r, c3, c5r, c5, pool_proj)

    def inception_module(src: str, name: str, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int) -> str:
        branch1 = basic_conv(src, f"{name}_b1", c1, 1)
        branch2 = basic_conv(basic_conv(src, f"{name}_b2a", c3r, 1), f"{name}_b2b", c3, 3, padding=1)
        # torchvision uses a 3x3 (not 5x5) convolution here; keep it so the weights fit.
        branch3 = basic_conv(basic_conv(src, f"{name}_b3a", c5r, 1), f"{name}_b3b", c5, 3, padding=1)
        pool = b.add("MaxPool2d", src, name=f"{name}_b4_pool", kernel_size=3, stride=[1, 1], padding=1,
                     ceil_mode=True)
        branch4 = basic_conv(pool, f"{name}_b4", pool_proj, 1)
        return b.add("Concat", branch1, branch2, branch3, branch4, name=name, inputs=4, dim=1)

    def maxpool(src: str, name: str, kernel: int = 3) -> str:
        return b.add("MaxPool2d", src, name=name, kernel_size=kernel, stride=[2, 2], ceil_mode=True)

    y = b.add("Input", name="x", shape=[3, 224, 224])
    y = maxpool(basic_conv(y, "conv1", 64, 7, stride=2, padding=3), "maxpool1")
    y = maxpool(basic_conv(basic_conv(y, "conv2", 64, 1), "conv3", 192, 3, padding=1), "maxpool2")
    y = inception(y, "inception3a", 64, 96, 128, 16, 32, 32)
    y = inception(y, "inception3b", 128, 128, 192, 32, 96, 64)
    y = maxpool(y, "maxpool3")
    for name, widths in [("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
                         ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
                         ("4e", (256, 160, 320, 32, 128, 128))]:
        y = inception(y, "inception" + name, *widths)
    y = maxpool(y, "maxpool4", kernel=2)
    y = inception(y, "inception5a", 256, 160, 320, 32, 128, 128)
    y = inception(y, "inception5b", 384, 192, 384, 48, 128, 128)
    y = b.chain(y, ("GlobalAvgPool2d", "avgpool", {}), ("Dropout", "dropout", dict(p=0.2)),
                ("Linear", "fc", dict(out_features=1000)))
    b.add("Output", y, name="logits")
    return b.done()


def autoencoder() -> Graph:
    b = Builder("Convolutional autoencoder", "Compresses a 1x28x28 image to 32x7x7 with strided convolutions and "
                                             "rebuilds it with transposed convolutions.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    with b.group("encoder"):
        y = b.chain(x,
                    ("Conv2d", "enc1", dict(out_channels=16, kernel_size=3, stride=2, padding=1)),
                    ("ReLU", "relu1", {}),
                    ("Conv2d", "enc2", dict(out_channels=32, kernel_size=3, stride=2, padding=1)),
                    ("ReLU", "relu2", {}))
    with b.group("decoder"):
        y = b.chain(y,
                    ("ConvTranspose2d", "dec1", dict(out_channels=16, kernel_size=3, stride=2, padding=1,
                                                     output_padding=1)), ("ReLU", "relu3", {}),
                    ("ConvTranspose2d", "dec2", dict(out_channels=1, kernel_size=3, stride=2, padding=1,
                                                     output_padding=1)), ("Sigmoid", "sigmoid", {}))
    b.add("Output", y, name="reconstruction")
    return b.done()


def lstm_classifier() -> Graph:
    b = Builder("LSTM classifier", "Reads a 28x28 digit row by row as a sequence of 28 steps and classifies "
                                   "it from the LSTM's last step.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    y = b.chain(x, ("Reshape", "rows", dict(shape=[28, 28])),
                ("LSTM", "lstm", dict(hidden_size=128, output="last")),
                ("Linear", "fc", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done()


EXAMPLES = {
    "mnist_convnet": mnist_convnet, "lenet5": lenet5, "mlp_xor": mlp_xor, "mlp_regression": mlp_regression,
    "alexnet": alexnet, "vgg16": vgg16, "resnet18": resnet18, "googlenet": googlenet,
    "autoencoder": autoencoder, "lstm_classifier": lstm_classifier,
}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "netbuilder" / "examples")
    out.mkdir(parents=True, exist_ok=True)
    for name, make in EXAMPLES.items():
        make().save(out / f"{name}.json")
        print(f"wrote {out / name}.json")


if __name__ == "__main__":
    main()
