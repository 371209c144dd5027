"""Hand-written PyTorch models (torch only) that the PyTorch import must take: as code (FILE.py:NAME) and as
torch.export files. This file is imported by the tests and also given to the import as a file of code."""
import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class SmallResNet(nn.Module):
    """A ResNet as torchvision writes one: a stem, residual stages, global average pooling, a classifier."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, squeezed):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.scale = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.scale(self.fc2(self.relu(self.fc1(self.avgpool(x)))))


class InvertedResidual(nn.Module):
    """MobileNetV3's block: expand, depthwise convolution, squeeze-and-excitation, project, with HardSwish."""

    def __init__(self, channels=16, expanded=48):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(channels, expanded, 1, bias=False), nn.BatchNorm2d(expanded),
                                    nn.Hardswish())
        self.depthwise = nn.Sequential(nn.Conv2d(expanded, expanded, 3, 1, 1, groups=expanded, bias=False),
                                       nn.BatchNorm2d(expanded), nn.Hardswish())
        self.se = SqueezeExcite(expanded, 12)
        self.project = nn.Sequential(nn.Conv2d(expanded, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return x + self.project(self.se(self.depthwise(self.expand(x))))


class MobileBlockNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.block = InvertedResidual()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, 5)

    def forward(self, x):
        return self.classifier(self.pool(self.block(self.stem(x))).flatten(1))


class TextTransformer(nn.Module):
    """Token ids -> an embedding, a class token and learned positions, two encoder layers, the class token's
    features classified."""

    def __init__(self, vocabulary=50, length=12, features=32):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, features)
        self.cls_token = nn.Parameter(torch.randn(1, 1, features) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, length + 1, features) * 0.02)
        layer = nn.TransformerEncoderLayer(features, 4, dim_feedforward=64, dropout=0.1, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(features)
        self.head = nn.Linear(features, 3)

    def forward(self, tokens):
        x = self.embed(tokens)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.encoder(x + self.positions)
        return self.head(self.norm(x)[:, 0])


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 5 * 5, 16)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


class Siamese(nn.Module):
    """One tower applied to both images of a pair (one set of weights), then how their embeddings differ."""

    def __init__(self):
        super().__init__()
        self.tower = Tower()
        self.head = nn.Linear(16, 1)

    def forward(self, a, b):
        return self.head((self.tower(a) - self.tower(b)).abs())


class LSTMTagger(nn.Module):
    """A tag for every token: an embedding, a bidirectional LSTM, a linear layer on each step."""

    def __init__(self, vocabulary=40, tags=6):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, 16)
        self.lstm = nn.LSTM(16, 24, batch_first=True, bidirectional=True)
        self.tag = nn.Linear(48, tags)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.tag(out)


# name -> (the inputs' shapes for --input, the batch first)
MODELS = {
    "SmallResNet": ["1x3x16x16"],
    "MobileBlockNet": ["1x3x16x16"],
    "TextTransformer": ["int64:1x12"],
    "Siamese": ["1x1x12x12", "1x1x12x12"],
    "LSTMTagger": ["int64:1x9"],
}
