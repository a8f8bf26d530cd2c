"""The stroke reader: a second network that reads the pen's path instead of the image.

It takes a batch of pen paths (``digitpad.pen_path``), shape (B, PATH_CHANNELS,
PATH_POINTS), and returns log-probabilities, shape (B, 10), like the image
models. One-dimensional convolutions follow the path, so it sees where a
stroke turns and which way it runs; pooling over the whole path, maximum and
mean, makes the answer independent of where along the path a feature lies.

The app reads a drawing with both networks and multiplies their answers
(``combine``): the reader makes other mistakes than the CNN, so where one is
unsure the other often settles it (tests/bench/RESULTS.md, "A second reader").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from digitpad.config import NUM_CLASSES
from digitpad.pen_path import PATH_CHANNELS

# How much the image network's log-probabilities count when combined; the
# reader's count the rest of 1. Chosen on the proxy writers and the MNIST strokes
# (both stroke sets, 10,000 drawings each): with the 24-epoch reader, 0.6 reads
# the writers best (0.05-0.08 points over 0.7), at a cost of 4 in 10,000 shared
# MNIST strokes (tests/bench/RESULTS.md, "When one reader sees no digit"). With
# the 36-epoch reader shipped since, 0.5 reads the fine writers 0.05 points better
# and the rest within 0.01, inside the noise of 10,000 drawings, so 0.6 stays.
IMAGE_WEIGHT = 0.6


class StrokeReader(nn.Module):
    def __init__(self, drop_p: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv1d(PATH_CHANNELS, 64, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm1d(64)
        self.conv2 = nn.Conv1d(64, 96, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(96)
        self.conv3 = nn.Conv1d(96, 128, kernel_size=3, padding=1)
        self.bn3 = nn.BatchNorm1d(128)
        self.conv4 = nn.Conv1d(128, 128, kernel_size=3, padding=2, dilation=2)
        self.bn4 = nn.BatchNorm1d(128)
        self.dropout = nn.Dropout(p=drop_p)
        self.fc1 = nn.Linear(2 * 128, 128)
        self.fc2 = nn.Linear(128, NUM_CLASSES)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool1d(x, 2)
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)
        x = self.dropout(x)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.logits(x), dim=1)


def combine(image_probabilities: np.ndarray, stroke_probabilities: np.ndarray,
            image_weight: float = IMAGE_WEIGHT) -> np.ndarray:
    """The two networks' answers as one: a weighted product of their probabilities, renormalized.

    ``image_weight`` is for benchmarks that compare weights; the reader's weight is the rest of 1.
    """
    log_product = (image_weight * np.log(np.maximum(image_probabilities, 1e-12))
                   + (1.0 - image_weight) * np.log(np.maximum(stroke_probabilities, 1e-12)))
    product = np.exp(log_product - log_product.max(axis=-1, keepdims=True))
    return product / product.sum(axis=-1, keepdims=True)
