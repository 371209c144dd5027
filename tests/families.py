"""Small hand-written PyTorch models of the families people download (torchvision does not import beside our
torch): each is what its family does, at a size a test can afford."""
import torch
from torch import nn
from torch.nn import functional as F


class DenseBlock(nn.Module):
    """DenseNet: every layer reads the concatenation of all feature maps before it; a transition halves."""

    def __init__(self, growth=4, layers=3):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(8 + i * growth), nn.ReLU(), nn.Conv2d(8 + i * growth, growth, 3, padding=1,
                                                                               bias=False))
            for i in range(layers))
        width = 8 + layers * growth
        self.transition = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, 8, 1, bias=False),
                                        nn.AvgPool2d(2))
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        x = self.transition(torch.cat(features, 1))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def channel_shuffle(x, groups):
    """torchvision's ShuffleNetV2 channel_shuffle."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, -1, height, width)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2: split the channels, transform one half, join, shuffle."""

    def __init__(self, channels=8):
        super().__init__()
        half = channels // 2
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.head = nn.Linear(channels, 4)

    def forward(self, x):
        x = self.stem(x)
        a, b = x.chunk(2, dim=1)
        x = channel_shuffle(torch.cat((a, self.branch(b)), 1), 2)
        return self.head(x.mean([2, 3]))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, squeezed):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.fc2(F.relu(self.fc1(scale))))
        return x * scale


class MobileBlock(nn.Module):
    """MobileNetV3: expand, HardSwish, depthwise, squeeze-and-excitation, project, residual."""

    def __init__(self):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.depthwise = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16),
                                       nn.Hardswish())
        self.se = SqueezeExcite(16, 4)
        self.project = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = x + self.project(self.se(self.depthwise(self.expand(x))))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ConvNeXtBlock(nn.Module):
    """ConvNeXt: 7x7 depthwise, LayerNorm over channels (channels last), MLP with GELU, layer scale."""

    def __init__(self, dim=8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.rand(dim) + 0.5)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        x = x + y.permute(0, 3, 1, 2)
        return self.head(x.mean([2, 3]))


class TinyViT(nn.Module):
    """ViT: patches, a class token, a learned position table, a transformer encoder layer, the class token out."""

    def __init__(self, dim=8, patch=4, image=8):
        super().__init__()
        self.patchify = nn.Conv2d(3, dim, patch, stride=patch)
        count = (image // patch) ** 2
        self.class_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, count + 1, dim) * 0.1)
        self.encoder = nn.TransformerEncoderLayer(dim, 2, 16, dropout=0.0, activation="gelu", batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        x = self.patchify(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.encoder(x + self.pos_embedding)
        return self.head(self.norm(x)[:, 0])


class SelfAttention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        y, _ = self.attention(x, x, x, need_weights=False)
        return self.head(y + x)


class FCNHead(nn.Module):
    """FCN: a strided backbone, a 1x1 classifier per pixel, bilinear resizing back to the input's size."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.classifier = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                        nn.Conv2d(8, 4, 1))

    def forward(self, x):
        y = self.classifier(self.backbone(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class Seq2Seq(nn.Module):
    """A GRU encoder whose final state starts a GRU decoder (teacher forcing: the decoder reads the target)."""

    def __init__(self, features=4, hidden=6):
        super().__init__()
        self.encoder = nn.GRU(features, hidden, batch_first=True)
        self.decoder = nn.GRU(features, hidden, batch_first=True)
        self.out = nn.Linear(hidden, features)

    def forward(self, source, target):
        _, state = self.encoder(source)
        y, _ = self.decoder(target, state)
        return self.out(y)


class TextLSTM(nn.Module):
    """Embedding then LSTM, classified from the last step."""

    def __init__(self, vocab=20, dim=6, hidden=8):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, ids):
        y, _ = self.lstm(self.embedding(ids))
        return self.head(y[:, -1])


def trained(cls):
    """Weights as after training: no bias left at zero and no norm at one (exporters drop an Add of zeros and
    merge equal tensors, which a trained model does not have)."""
    def make():
        model = cls()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        return model
    make.__name__ = cls.__name__
    return make


# name: (model class, input shapes without the batch, integer inputs' vocabulary or None)
FAMILIES = {
    "dense-block": (trained(DenseBlock), [(3, 8, 8)], None),
    "channel-split-shuffle": (trained(ShuffleUnit), [(3, 6, 6)], None),
    "squeeze-excite-hardswish": (trained(MobileBlock), [(8, 6, 6)], None),
    "convnext-block": (trained(ConvNeXtBlock), [(8, 6, 6)], None),
    "vit": (trained(TinyViT), [(3, 8, 8)], None),
    "multihead-attention": (trained(SelfAttention), [(5, 8)], None),
    "fcn-bilinear": (trained(FCNHead), [(3, 8, 8)], None),
    "gru-encoder-decoder": (trained(Seq2Seq), [(6, 4), (5, 4)], None),
    "embedding-lstm": (trained(TextLSTM), [(7,)], 20),
}


def example_inputs(name: str, batch: int, seed: int = 0) -> tuple:
    _, shapes, vocab = FAMILIES[name]
    generator = torch.Generator().manual_seed(seed)
    if vocab:
        return tuple(torch.randint(0, vocab, (batch, *shape), generator=generator) for shape in shapes)
    return tuple(torch.randn((batch, *shape), generator=generator) for shape in shapes)
