"""The networks: the study note's MLP, the default CNN and a deeper one.

All take a batch of normalized 28x28 images, shape (B, 1, 28, 28), and return
log-probabilities, shape (B, 10), so ``NLLLoss`` trains them; ``logits`` gives
the scores before the softmax, for inference.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from digitpad.config import INPUT_SIZE, NUM_CLASSES, ModelConfig


class Network(nn.Module):
    """The study note's feed-forward network.

    ``hidden_layers`` lists the hidden sizes; each hidden layer is Linear, then
    ReLU, then dropout.
    """

    def __init__(self, input_size: int, output_size: int, hidden_layers: list[int], drop_p: float = 0.5):
        super().__init__()
        self.hidden_layers = nn.ModuleList([nn.Linear(input_size, hidden_layers[0])])
        layer_sizes = zip(hidden_layers[:-1], hidden_layers[1:])
        self.hidden_layers.extend([nn.Linear(h1, h2) for h1, h2 in layer_sizes])
        self.output = nn.Linear(hidden_layers[-1], output_size)
        self.dropout = nn.Dropout(p=drop_p)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(start_dim=1)
        for linear in self.hidden_layers:
            x = F.relu(linear(x))
            x = self.dropout(x)
        return self.output(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.logits(x), dim=1)


class ConvolutionsThenClassifier(nn.Module):
    """What the two CNNs share: batch norm folding, the classifier after their
    convolutions, and ``forward``.

    Each CNN makes its own layers, in its own order, so a seed gives the same
    weights: ``conv1``..``convN``, each followed by ``bn1``..``bnN`` (N is
    ``convolution_count``), then ``fc1``, ``dropout`` and ``fc2``.
    """

    convolution_count: int
    fc1: nn.Linear
    dropout: nn.Dropout
    fc2: nn.Linear

    def with_batch_norm_folded(self) -> ConvolutionsThenClassifier:
        """An eval-mode copy with each batch norm folded into the convolution before it.

        For inference only (the folded layers no longer learn like the originals):
        fewer operations per image, probabilities within about 1e-6.
        """
        folded = copy.deepcopy(self).eval()
        for number in range(1, self.convolution_count + 1):
            conv, norm = getattr(folded, f"conv{number}"), getattr(folded, f"bn{number}")
            setattr(folded, f"conv{number}", fuse_conv_bn_eval(conv, norm))
            setattr(folded, f"bn{number}", nn.Identity())
        return folded

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def classified(self, features: torch.Tensor) -> torch.Tensor:
        """The scores of the last stage's features, (B, C, 7, 7)."""
        x = features.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.logits(x), dim=1)


class DigitCNN(ConvolutionsThenClassifier):
    """A small CNN chosen for accuracy per CPU second.

    Two 5x5 stages (conv, batch norm, 2x2 max-pool, ReLU) take 28x28 to 7x7;
    one hidden linear layer with dropout classifies. Batch norm lets a high
    learning rate converge in one or two epochs.
    """

    convolution_count = 2

    def __init__(self, channels: tuple[int, int] = (16, 32), drop_p: float = 0.5, hidden: int = 128):
        super().__init__()
        first, second = channels
        self.conv1 = nn.Conv2d(1, first, kernel_size=5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        self.conv2 = nn.Conv2d(first, second, kernel_size=5, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(second)
        self.fc1 = nn.Linear(second * 7 * 7, hidden)
        self.dropout = nn.Dropout(p=drop_p)
        self.fc2 = nn.Linear(hidden, NUM_CLASSES)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        # ReLU after the pooling, not before: the same values (ReLU keeps order),
        # on a quarter of the elements.
        x = F.max_pool2d(x, 2)
        x = F.relu(x)
        x = self.conv2(x)
        x = self.bn2(x)
        x = F.max_pool2d(x, 2)
        x = F.relu(x)
        return self.classified(x)


class VggCNN(ConvolutionsThenClassifier):
    """A deeper CNN in VGG's style: two stages of two 3x3 convolutions (each
    with batch norm and ReLU), a 2x2 max-pool closing each stage, then the
    same classifier as DigitCNN.

    Its four 3x3 layers see as far as DigitCNN's two 5x5 ones with more
    non-linear steps between, for about 1.7 times the work per image; it
    reads drawn digits better (tests/bench/RESULTS.md, "A deeper CNN").
    """

    convolution_count = 4

    def __init__(self, channels: tuple[int, int] = (16, 32), drop_p: float = 0.5, hidden: int = 128):
        super().__init__()
        first, second = channels
        self.conv1 = nn.Conv2d(1, first, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        self.conv2 = nn.Conv2d(first, first, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(first)
        self.conv3 = nn.Conv2d(first, second, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(second)
        self.conv4 = nn.Conv2d(second, second, kernel_size=3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(second)
        self.fc1 = nn.Linear(second * 7 * 7, hidden)
        self.dropout = nn.Dropout(p=drop_p)
        self.fc2 = nn.Linear(hidden, NUM_CLASSES)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = self.bn2(x)
        x = F.max_pool2d(x, 2)
        x = F.relu(x)
        x = self.conv3(x)
        x = self.bn3(x)
        x = F.relu(x)
        x = self.conv4(x)
        x = self.bn4(x)
        x = F.max_pool2d(x, 2)
        x = F.relu(x)
        return self.classified(x)


def build_model(config: ModelConfig) -> nn.Module:
    """Build an untrained model from its plain config."""
    if config.arch == "mlp":
        return Network(INPUT_SIZE, NUM_CLASSES, list(config.hidden), config.dropout)
    if config.arch == "vgg":
        return VggCNN(tuple(config.channels), config.dropout)
    return DigitCNN(tuple(config.channels), config.dropout)
