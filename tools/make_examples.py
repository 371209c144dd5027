"""Write the example graphs in examples/ with netbuilder's own Graph API.

    python tools/make_examples.py [OUT_DIR]

The architectures follow the papers and torchvision, so parameter totals match torchvision's
(AlexNet 61,100,840; VGG16 138,357,544; ResNet-18 11,689,512; GoogLeNet 6,624,904).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from netbuilder.core.model.graph import Graph
from netbuilder.core.model.layout import apply_layout


class Builder:
    """Adds blocks to a graph and wires each to the block(s) it reads from."""

    def __init__(self, title: str, description: str) -> None:
        self.graph = Graph({"title": title, "description": description})
        self.groups: dict[str, list[str]] = {}
        self._group: list[str] | None = None

    def add(self, type: str, *sources: str, name: str | None = None, settings: dict | None = None,
            **params) -> str:
        """Add a block wired from `sources`, in the order of its input ports."""
        node = self.graph.add_node(type, params, name=name, settings=settings)
        for src in sources:
            self.graph.connect(src, node.id)
        if self._group is not None:
            self._group.append(node.id)
        return node.id

    @contextmanager
    def group(self, name: str):
        """The blocks added inside the `with` form one group (a residual block, an Inception module, a GAN's
        generator)."""
        self._group = self.groups[name] = []
        try:
            yield
        finally:
            self._group = None

    def chain(self, src: str, *layers: tuple, settings: dict | None = None) -> str:
        """Add layers one after another: each layer is (type, name, params)."""
        for type, name, params in layers:
            src = self.add(type, src, name=name, settings=settings, **params)
        return src

    def chain_ids(self, src: str, *layers: tuple, settings: dict | None = None) -> list[str]:
        """As chain, returning every block's id."""
        ids = []
        for type, name, params in layers:
            src = self.add(type, src, name=name, settings=settings, **params)
            ids.append(src)
        return ids

    def twin(self, src: str, blocks: list[str], suffix: str) -> str:
        """The chain of `blocks` again from `src`, each copy using the original's weights (Siamese twins,
        one discriminator applied twice)."""
        for block_id in blocks:
            original = self.graph.node(block_id)
            settings = {"shares": block_id} if original.spec.build is not None else {}
            src = self.add(original.type, src, name=original.name + suffix, settings=settings, **original.params)
        return src

    def done(self, recipe: dict | None = None) -> Graph:
        if recipe:
            self.graph.set_recipe(recipe)
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
    return b.done({"data": "mnist-5k", "epochs": 6})


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
    return b.done({"data": "mnist-5k", "epochs": 8})


def mlp_xor() -> Graph:
    b = Builder("MLP for XOR", "A 2-4-1 perceptron with a tanh hidden layer: the smallest net that learns XOR. "
                               "Its single output is a logit: train it with BCE-with-logits.")
    x = b.add("Input", name="x", shape=[2])
    y = b.chain(x, ("Linear", "fc1", dict(out_features=4)), ("Tanh", "tanh1", {}),
                ("Linear", "fc2", dict(out_features=1)))
    b.add("Output", y, name="logit")
    return b.done({"data": "xor:noise=0:margin=0.2", "epochs": 150, "batch_size": 50, "lr": 0.05})


def mlp_regression() -> Graph:
    b = Builder("MLP regression (temperature)",
                "3 inputs, two hidden layers of 4 sigmoid units, 1 output: the temperature toy regression.")
    x = b.add("Input", name="x", shape=[3])
    y = b.chain(x, ("Linear", "fc1", dict(out_features=4)), ("Sigmoid", "sigmoid1", {}),
                ("Linear", "fc2", dict(out_features=4)), ("Sigmoid", "sigmoid2", {}),
                ("Linear", "fc3", dict(out_features=1)))
    b.add("Output", y, name="temperature")
    return b.done({"data": "temperature", "epochs": 300, "batch_size": 50, "lr": 0.03})


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


def _conv_autoencoder(b: Builder, src: str) -> str:
    """1x28x28 -> 32x7x7 with strided convolutions -> back with transposed convolutions, in [0, 1]."""
    with b.group("encoder"):
        y = b.chain(src, ("Conv2d", "enc1", dict(out_channels=16, kernel_size=3, stride=2, padding=1)),
                    ("ReLU", "relu1", {}),
                    ("Conv2d", "enc2", dict(out_channels=32, kernel_size=3, stride=2, padding=1)), ("ReLU", "relu2", {}))
    with b.group("decoder"):
        return b.chain(y, ("ConvTranspose2d", "dec1", dict(out_channels=16, kernel_size=3, stride=2, padding=1,
                                                           output_padding=1)), ("ReLU", "relu3", {}),
                       ("ConvTranspose2d", "dec2", dict(out_channels=1, kernel_size=3, stride=2, padding=1,
                                                        output_padding=1)), ("Sigmoid", "sigmoid", {}))


def autoencoder() -> Graph:
    b = Builder("Convolutional autoencoder", "Compresses a 1x28x28 image to 32x7x7 with strided convolutions and "
                                             "rebuilds it with transposed convolutions; trained to reproduce its "
                                             "input (an MSE loss against the Input itself).")
    x = b.add("Input", name="x", shape=[1, 28, 28], normalize="none")  # pixels in [0, 1], as the sigmoid gives
    y = _conv_autoencoder(b, x)
    b.add("Output", y, name="reconstruction")
    b.add("MSELoss", y, x, name="reconstruction_loss")
    return b.done({"data": "mnist-5k", "epochs": 15, "lr": 0.003})


def denoising_autoencoder() -> Graph:
    b = Builder("Denoising autoencoder", "The convolutional autoencoder fed its input with Gaussian noise added "
                                         "(only while training) and trained to give back the clean image.")
    x = b.add("Input", name="x", shape=[1, 28, 28], normalize="none")
    noisy = b.add("GaussianNoise", x, name="corrupt", std=0.4)
    y = _conv_autoencoder(b, noisy)
    b.add("Output", y, name="reconstruction")
    b.add("MSELoss", y, x, name="reconstruction_loss")
    return b.done({"data": "mnist-5k", "epochs": 15, "lr": 0.003})


def vae() -> Graph:
    b = Builder("Variational autoencoder", "Kingma and Welling 2013: an encoder gives the mean and log-variance "
                                           "of a 16-D latent code, Sample draws it (the mean in inference), a "
                                           "decoder rebuilds the image. The ELBO: the reconstruction's binary "
                                           "cross-entropy summed over the 784 pixels (weight 784) plus the KL term.")
    x = b.add("Input", name="x", shape=[1, 28, 28], normalize="none")
    h = b.chain(x, ("Flatten", "flatten", {}), ("Linear", "enc", dict(out_features=400)), ("ReLU", "enc_relu", {}))
    mu = b.add("Linear", h, name="mu", out_features=16)
    logvar = b.add("Linear", h, name="logvar", out_features=16)
    z = b.add("Sample", mu, logvar, name="z")
    logits = b.chain(z, ("Linear", "dec", dict(out_features=400)), ("ReLU", "dec_relu", {}),
                     ("Linear", "dec_out", dict(out_features=784)), ("Reshape", "image", dict(shape=[1, 28, 28])))
    b.add("Output", b.add("Sigmoid", logits, name="pixels"), name="reconstruction")
    b.add("BCEWithLogitsLoss", logits, x, name="reconstruction_loss", weight=784.0)
    b.add("KLDivergenceLoss", mu, logvar, name="kl")
    return b.done({"data": "mnist-5k", "epochs": 30, "lr": 0.001})


def _gan(b: Builder, real: str, noise: str, generator: list[tuple], discriminator: list[tuple]) -> None:
    """A generator and a discriminator applied to the real data and (sharing its weights) to the generated,
    with the three losses of the non-saturating GAN: the discriminator learns real -> 1 and fake -> 0, the
    generator learns to make the discriminator say 1."""
    with b.group("generator"):
        fake = b.chain(noise, *generator)
    b.add("Output", fake, name="generated")
    with b.group("discriminator"):  # what the discriminator's losses train; its twin uses the same weights
        d_real = b.chain_ids(real, *discriminator)
    d_fake = b.twin(fake, d_real, "_fake")
    b.add("BCEWithLogitsLoss", d_real[-1], name="d_real", against="ones", trains="discriminator")
    b.add("BCEWithLogitsLoss", d_fake, name="d_fake", against="zeros", trains="discriminator")
    b.add("BCEWithLogitsLoss", d_fake, name="g_loss", against="ones", trains="generator")


def gan_ring() -> Graph:
    b = Builder("GAN on a ring of 8 Gaussians", "Goodfellow et al. 2014 on the classic 2-D test: a generator "
                                                 "learns to draw points from 8 Gaussians on a circle; a "
                                                 "discriminator (one set of weights, applied to the real and the "
                                                 "generated points) learns to tell them apart. Loss blocks train "
                                                 "the groups 'discriminator' and 'generator' in turn.")
    real = b.add("Input", name="x", shape=[2], normalize="none")
    noise = b.add("Noise", name="z", shape=[16])
    _gan(b, real, noise,
         [("Linear", "g1", dict(out_features=128)), ("ReLU", "g1_relu", {}),
          ("Linear", "g2", dict(out_features=128)), ("ReLU", "g2_relu", {}), ("Linear", "g3", dict(out_features=2))],
         [("Linear", "d1", dict(out_features=128)), ("LeakyReLU", "d1_relu", dict(negative_slope=0.2)),
          ("Linear", "d2", dict(out_features=128)), ("LeakyReLU", "d2_relu", dict(negative_slope=0.2)),
          ("Linear", "d3", dict(out_features=1))])
    return b.done({"data": "ring:n=20000", "epochs": 80, "batch_size": 100, "lr": 0.001, "beta1": 0.5,
                   "val_fraction": 0.0})


def gan_mnist() -> Graph:
    b = Builder("GAN on MNIST digits (DCGAN)", "Radford et al. 2015 in small: the generator turns 64 numbers of "
                                               "noise into a 7x7 map of 128 channels and, with two transposed "
                                               "convolutions, into a 28x28 digit; the discriminator (applied to "
                                               "real digits and, with the same weights, to generated ones) is a "
                                               "strided convnet that learns to tell them apart. BatchNorm in the "
                                               "generator, LeakyReLU in the discriminator, Adam with beta1 0.5.")
    real = b.add("Input", name="x", shape=[1, 28, 28], normalize="none")
    noise = b.add("Noise", name="z", shape=[64])
    _gan(b, real, noise,
         [("Linear", "g1", dict(out_features=128 * 7 * 7)), ("BatchNorm1d", "g1_bn", {}), ("ReLU", "g1_relu", {}),
          ("Reshape", "g_map", dict(shape=[128, 7, 7])),
          ("ConvTranspose2d", "g2", dict(out_channels=64, kernel_size=4, stride=2, padding=1)),
          ("BatchNorm2d", "g2_bn", {}), ("ReLU", "g2_relu", {}),
          ("ConvTranspose2d", "g3", dict(out_channels=1, kernel_size=4, stride=2, padding=1)),
          ("Sigmoid", "g3_sigmoid", {})],
         [("Conv2d", "d1", dict(out_channels=64, kernel_size=4, stride=2, padding=1)),
          ("LeakyReLU", "d1_relu", dict(negative_slope=0.2)),
          ("Conv2d", "d2", dict(out_channels=128, kernel_size=4, stride=2, padding=1)),
          ("LeakyReLU", "d2_relu", dict(negative_slope=0.2)),
          ("Flatten", "d_flatten", {}), ("Linear", "d3", dict(out_features=1))])
    return b.done({"data": "mnist-5k", "epochs": 30, "batch_size": 32, "lr": 0.0005, "beta1": 0.5,
                   "val_fraction": 0.0})


def siamese_mnist() -> Graph:
    b = Builder("Siamese network on MNIST pairs", "Bromley et al. 1993, Hadsell et al. 2006: the same convnet "
                                                  "(one set of weights) embeds both digits of a pair; the "
                                                  "contrastive loss pulls pairs of the same digit together and "
                                                  "pushes others apart. A pair is called 'same' when its "
                                                  "embeddings are closer than half the margin.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    x2 = b.add("Input", name="x2", shape=[1, 28, 28], field="x2")
    same = b.add("Input", name="same", shape=[], dtype="int64", field="same")
    twin = b.chain_ids(x, ("Conv2d", "conv1", dict(out_channels=16, kernel_size=5)),
                       ("MaxPool2d", "pool1", dict(kernel_size=2)), ("ReLU", "relu1", {}),
                       ("Conv2d", "conv2", dict(out_channels=32, kernel_size=5)),
                       ("MaxPool2d", "pool2", dict(kernel_size=2)), ("ReLU", "relu2", {}),
                       ("Flatten", "flatten", {}), ("Linear", "fc1", dict(out_features=128)), ("ReLU", "relu3", {}),
                       ("Linear", "embedding", dict(out_features=16)))
    other = b.twin(x2, twin, "_b")
    b.add("Output", twin[-1], name="embedding_out")
    b.add("ContrastiveLoss", twin[-1], other, same, name="contrastive", margin=2.0)
    return b.done({"data": "pairs:mnist-5k", "epochs": 10, "lr": 0.001})


def transformer_classifier() -> Graph:
    b = Builder("Transformer classifier (majority token)",
                "Vaswani et al. 2017 in small: a sequence of 8 token ids is embedded, given sinusoidal positions, "
                "read by a class token through two transformer encoder layers (self-attention and a feed-forward "
                "block, each with a residual connection and LayerNorm); the class token's vector says which "
                "token is the most frequent (generated data: majority).")
    x = b.add("Input", name="tokens", shape=[8], dtype="int64")
    with b.group("encoder"):
        y = b.chain(x, ("Embedding", "embed", dict(num_embeddings=10, embedding_dim=32)),
                    ("PositionalEncoding", "positions", {}), ("ClassToken", "cls", {}),
                    ("TransformerEncoderLayer", "layer1", dict(heads=4, dim_feedforward=64, dropout=0.0)),
                    ("TransformerEncoderLayer", "layer2", dict(heads=4, dim_feedforward=64, dropout=0.0)))
    y = b.chain(y, ("Select", "first_token", dict(dim=1, index=0)), ("Linear", "classify", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done({"data": "majority:n=6000:length=8:vocab=10", "epochs": 30, "lr": 0.002})


def seq2seq_reverse() -> Graph:
    b = Builder("Sequence to sequence: reversing token sequences",
                "Sutskever et al. 2014 in small: a GRU encoder reads 6 token ids; its final state starts a GRU "
                "decoder, which reads the target shifted right behind a start token (teacher forcing) and "
                "predicts each token of the reversed sequence, trained with a per-step cross-entropy.")
    tokens = b.add("Input", name="tokens", shape=[6], dtype="int64", field="tokens")
    previous = b.add("Input", name="target_in", shape=[6], dtype="int64", field="target_in")
    target = b.add("Input", name="target", shape=[6], dtype="int64", field="target")
    with b.group("encoder"):
        encoder = b.chain(tokens, ("Embedding", "enc_embed", dict(num_embeddings=8, embedding_dim=32)),
                          ("GRU", "encoder_gru", dict(hidden_size=128)))
    with b.group("decoder"):
        embedded = b.add("Embedding", previous, name="dec_embed", num_embeddings=9, embedding_dim=32)
        decoder = b.graph.add_node("GRU", {"hidden_size": 128, "initial_state": True}, name="decoder_gru")
        b.graph.connect(embedded, decoder.id, dst_port="in")
        b.graph.connect(encoder, decoder.id, src_port="hidden", dst_port="hidden")
        b._group.append(decoder.id)
        logits = b.add("Linear", decoder.id, name="next_token", out_features=8)
    b.add("Output", logits, name="token_logits")
    b.add("CrossEntropyLoss", logits, target, name="token_loss")
    return b.done({"data": "reverse:n=8000:length=6:vocab=8", "epochs": 25, "lr": 0.003})


def unet_shapes() -> Graph:
    b = Builder("U-Net segmentation of shapes", "Ronneberger et al. 2015 in small: an encoder halves the image "
                                                "twice; the decoder enlarges it back with bilinear Resize and "
                                                "joins the encoder's maps of the same size (skip connections) "
                                                "before each convolution; a 1x1 convolution gives 4 class scores "
                                                "per pixel.")
    x = b.add("Input", name="x", shape=[1, 32, 32])
    mask = b.add("Input", name="mask", shape=[32, 32], dtype="int64", field="mask")

    def double_conv(src: str, name: str, channels: int) -> str:
        return b.chain(src, ("Conv2d", f"{name}_conv1", dict(out_channels=channels, kernel_size=3, padding=1)),
                       ("BatchNorm2d", f"{name}_bn1", {}), ("ReLU", f"{name}_relu1", {}),
                       ("Conv2d", f"{name}_conv2", dict(out_channels=channels, kernel_size=3, padding=1)),
                       ("BatchNorm2d", f"{name}_bn2", {}), ("ReLU", f"{name}_relu2", {}))

    with b.group("encoder"):
        e1 = double_conv(x, "down1", 16)
        e2 = double_conv(b.add("MaxPool2d", e1, name="pool1", kernel_size=2), "down2", 32)
        bottom = double_conv(b.add("MaxPool2d", e2, name="pool2", kernel_size=2), "bottom", 64)
    with b.group("decoder"):
        up2 = b.add("Resize", bottom, name="up2", mode="bilinear")
        d2 = double_conv(b.add("Concat", up2, e2, name="skip2", inputs=2), "up2", 32)
        up1 = b.add("Resize", d2, name="up1", mode="bilinear")
        d1 = double_conv(b.add("Concat", up1, e1, name="skip1", inputs=2), "up1", 16)
        y = b.add("Conv2d", d1, name="classes", out_channels=4, kernel_size=1)
    b.add("Output", y, name="masks")
    b.add("CrossEntropyLoss", y, mask, name="pixel_loss")
    return b.done({"data": "shapes:n=2000", "epochs": 15, "batch_size": 50, "lr": 0.002})


def transfer_learning() -> Graph:
    b = Builder("Transfer learning: an MNIST body, a new head for other digits",
                "The convolutional body of the lecture's convnet, trained on mnist-5k (its weights are in "
                "transfer_learning.pt, made by tools/make_pretrained.py) and frozen, under a new fully connected "
                "head trained on scikit-learn's digits enlarged to 28x28. Only the head learns; the body's "
                "weights stay as they were.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    body = b.chain(x, ("Conv2d", "conv1", dict(out_channels=32, kernel_size=5)),
                   ("MaxPool2d", "pool1", dict(kernel_size=3)), ("ReLU", "relu1", {}),
                   ("Conv2d", "conv2", dict(out_channels=64, kernel_size=5)),
                   ("MaxPool2d", "pool2", dict(kernel_size=2)), ("ReLU", "relu2", {}))
    for name in ("conv1", "conv2"):
        b.graph.set_setting(b.graph.find(name).id, "frozen", True)
    y = b.chain(body, ("Flatten", "flatten", {}), ("Linear", "head1", dict(out_features=64)), ("ReLU", "relu3", {}),
                ("Linear", "head2", dict(out_features=10)))
    b.add("Output", y, name="logits")
    b.graph.meta["weights"] = "transfer_learning.pt"
    return b.done({"data": "digits:size=28", "epochs": 15, "lr": 0.003})


def fcn_shapes() -> Graph:
    b = Builder("Fully convolutional segmentation of shapes", "Long et al. 2015 in small: convolutions and "
                                                              "pooling down to 8x8, transposed convolutions back "
                                                              "to 32x32, a 1x1 convolution giving 4 class scores "
                                                              "per pixel, trained with a per-pixel cross-entropy "
                                                              "against the masks of generated shapes.")
    x = b.add("Input", name="x", shape=[1, 32, 32])
    mask = b.add("Input", name="mask", shape=[32, 32], dtype="int64", field="mask")
    y = b.chain(x, ("Conv2d", "conv1", dict(out_channels=16, kernel_size=3, padding=1)), ("ReLU", "relu1", {}),
                ("Conv2d", "conv2", dict(out_channels=32, kernel_size=3, padding=1)), ("ReLU", "relu2", {}),
                ("MaxPool2d", "pool1", dict(kernel_size=2)),
                ("Conv2d", "conv3", dict(out_channels=64, kernel_size=3, padding=1)), ("ReLU", "relu3", {}),
                ("MaxPool2d", "pool2", dict(kernel_size=2)),
                ("Conv2d", "conv4", dict(out_channels=64, kernel_size=3, padding=1)), ("ReLU", "relu4", {}),
                ("ConvTranspose2d", "up1", dict(out_channels=32, kernel_size=2, stride=2)), ("ReLU", "relu5", {}),
                ("ConvTranspose2d", "up2", dict(out_channels=16, kernel_size=2, stride=2)), ("ReLU", "relu6", {}),
                ("Conv2d", "classes", dict(out_channels=4, kernel_size=1)))
    b.add("Output", y, name="masks")
    b.add("CrossEntropyLoss", y, mask, name="pixel_loss")
    return b.done({"data": "shapes:n=4000", "epochs": 25, "batch_size": 50, "lr": 0.002})


def lstm_classifier() -> Graph:
    b = Builder("LSTM classifier", "Reads a 28x28 digit row by row as a sequence of 28 steps and classifies "
                                   "it from the LSTM's last step.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    y = b.chain(x, ("Reshape", "rows", dict(shape=[28, 28])),
                ("LSTM", "lstm", dict(hidden_size=128, output="last")),
                ("Linear", "fc", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done({"data": "mnist-5k", "epochs": 6})


def nin() -> Graph:
    b = Builder("Network in Network", "Lin, Chen and Yan 2014 on MNIST: three mlpconv blocks (a convolution followed "
                                      "by two 1x1 convolutions, the 'micro network'); the last one makes one map per "
                                      "class, averaged over the image: no fully connected layer. Trains to ~95% test accuracy on "
                                      "mnist-5k in 12 epochs (slowly at first: no batch norm, as in the paper).")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    y = x
    for i, (channels, kernel, last) in enumerate([(32, 5, 32), (64, 5, 64), (64, 3, 10)], start=1):
        y = b.chain(y, ("Conv2d", f"block{i}_conv", dict(out_channels=channels, kernel_size=kernel,
                                                           padding=kernel // 2)),
                    ("ReLU", f"block{i}_relu1", {}),
                    ("Conv2d", f"block{i}_mlp1", dict(out_channels=channels, kernel_size=1)),
                    ("ReLU", f"block{i}_relu2", {}),
                    ("Conv2d", f"block{i}_mlp2", dict(out_channels=last, kernel_size=1)))
        if i < 3:
            y = b.chain(y, ("ReLU", f"block{i}_relu3", {}),
                        ("MaxPool2d", f"pool{i}", dict(kernel_size=3, stride=2, padding=1)),
                        ("Dropout", f"drop{i}", dict(p=0.3)))
    y = b.add("GlobalAvgPool2d", y, name="average")
    b.add("Output", y, name="logits")
    return b.done({"data": "mnist-5k", "epochs": 12})


def densenet() -> Graph:
    growth = 12
    b = Builder("DenseNet-BC (small)", "Huang et al. 2017 on 1x32x32 images: in each dense block every layer "
                                       "(batch norm, ReLU, 1x1 then 3x3 convolution, 12 new maps) reads the "
                                       "concatenation of all the maps before it; transitions halve channels and size. "
                                       "Trains to ~94% test accuracy on mnist-5k in 5 epochs.")
    x = b.add("Input", name="x", shape=[1, 32, 32])
    y = b.add("Conv2d", x, name="stem", out_channels=2 * growth, kernel_size=3, padding=1, bias=False)
    channels = 2 * growth
    for block in range(1, 4):
        features = [y]
        for layer in range(1, 5):
            n = f"dense{block}_{layer}_"
            joined = features[0] if len(features) == 1 else b.add("Concat", *features, name=n + "cat",
                                                                     inputs=len(features))
            new = b.chain(joined, ("BatchNorm2d", n + "bn1", {}), ("ReLU", n + "relu1", {}),
                          ("Conv2d", n + "conv1", dict(out_channels=4 * growth, kernel_size=1, bias=False)),
                          ("BatchNorm2d", n + "bn2", {}), ("ReLU", n + "relu2", {}),
                          ("Conv2d", n + "conv2", dict(out_channels=growth, kernel_size=3, padding=1, bias=False)))
            features.append(new)
        y = b.add("Concat", *features, name=f"dense{block}_out", inputs=len(features))
        channels += 4 * growth
        if block < 3:
            channels //= 2
            y = b.chain(y, ("BatchNorm2d", f"transition{block}_bn", {}), ("ReLU", f"transition{block}_relu", {}),
                        ("Conv2d", f"transition{block}_conv", dict(out_channels=channels, kernel_size=1,
                                                                   bias=False)),
                        ("AvgPool2d", f"transition{block}_pool", dict(kernel_size=2)))
    y = b.chain(y, ("BatchNorm2d", "final_bn", {}), ("ReLU", "final_relu", {}),
                ("GlobalAvgPool2d", "average", {}), ("Linear", "classifier", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done({"data": "mnist-5k", "epochs": 5})


def mobilenet_v3_small() -> Graph:
    b = Builder("MobileNetV3-Small (for 28x28)", "Howard et al. 2019, scaled to 1x28x28 digits: inverted residual "
                                                 "blocks (1x1 expansion, depthwise convolution, squeeze-and-excitation "
                                                 "with HardSigmoid, 1x1 projection) with ReLU or HardSwish. Trains "
                                                 "to ~93% test accuracy on mnist-5k in 5 epochs.")
    x = b.add("Input", name="x", shape=[1, 28, 28])
    y = b.chain(x, ("Conv2d", "stem", dict(out_channels=16, kernel_size=3, stride=2, padding=1, bias=False)),
                ("BatchNorm2d", "stem_bn", {}), ("HardSwish", "stem_act", {}))
    channels = 16
    # (kernel, expansion, out, squeeze-and-excite, activation, stride) as in the paper's table 2, fewer rows
    for i, (k, expansion, out, se, act, stride) in enumerate([
            (3, 16, 16, True, "ReLU", 2), (3, 72, 24, False, "ReLU", 1), (3, 88, 24, False, "ReLU", 1),
            (5, 96, 40, True, "HardSwish", 2), (5, 240, 40, True, "HardSwish", 1)], start=1):
        n = f"block{i}_"
        z = b.chain(y, ("Conv2d", n + "expand", dict(out_channels=expansion, kernel_size=1, bias=False)),
                    ("BatchNorm2d", n + "expand_bn", {}), (act, n + "expand_act", {}),
                    ("Conv2d", n + "depthwise", dict(out_channels=expansion, kernel_size=k, stride=stride,
                                                     padding=k // 2, groups=expansion, bias=False)),
                    ("BatchNorm2d", n + "depthwise_bn", {}), (act, n + "depthwise_act", {}))
        if se:
            gate = b.chain(z, ("AdaptiveAvgPool2d", n + "se_pool", dict(output_size=1)),
                           ("Conv2d", n + "se_reduce", dict(out_channels=max(8, expansion // 4), kernel_size=1)),
                           ("ReLU", n + "se_relu", {}),
                           ("Conv2d", n + "se_expand", dict(out_channels=expansion, kernel_size=1)),
                           ("HardSigmoid", n + "se_gate", {}))
            z = b.add("Multiply", z, gate, name=n + "se_scale")
        z = b.chain(z, ("Conv2d", n + "project", dict(out_channels=out, kernel_size=1, bias=False)),
                    ("BatchNorm2d", n + "project_bn", {}))
        y = b.add("Add", z, y, name=n + "add") if stride == 1 and out == channels else z
        channels = out
    y = b.chain(y, ("Conv2d", "last", dict(out_channels=240, kernel_size=1, bias=False)),
                ("BatchNorm2d", "last_bn", {}), ("HardSwish", "last_act", {}),
                ("GlobalAvgPool2d", "average", {}), ("Linear", "fc1", dict(out_features=128)),
                ("HardSwish", "fc1_act", {}), ("Dropout", "dropout", dict(p=0.2)),
                ("Linear", "classifier", dict(out_features=10)))
    b.add("Output", y, name="logits")
    return b.done({"data": "mnist-5k", "epochs": 5})


EXAMPLES = {
    "mnist_convnet": mnist_convnet, "lenet5": lenet5, "mlp_xor": mlp_xor, "mlp_regression": mlp_regression,
    "alexnet": alexnet, "vgg16": vgg16, "resnet18": resnet18, "googlenet": googlenet,
    "autoencoder": autoencoder, "lstm_classifier": lstm_classifier,
    "denoising_autoencoder": denoising_autoencoder, "vae": vae, "gan_ring": gan_ring, "gan_mnist": gan_mnist,
    "siamese_mnist": siamese_mnist, "fcn_shapes": fcn_shapes, "transfer_learning": transfer_learning,
    "nin": nin, "densenet": densenet, "mobilenet_v3_small": mobilenet_v3_small,
    "transformer_classifier": transformer_classifier, "seq2seq_reverse": seq2seq_reverse, "unet_shapes": unet_shapes,
}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "examples")
    out.mkdir(parents=True, exist_ok=True)
    for name, make in EXAMPLES.items():
        make().save(out / f"{name}.json")
        print(f"wrote {out / name}.json")


if __name__ == "__main__":
    main()
