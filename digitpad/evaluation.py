"""Evaluating a model on labelled images: one evaluation for training, the CLI and the app.

``evaluate`` is a generator, like ``training.fit``: it yields an
``EvaluationProgress`` after each batch and, last, the ``Evaluation``, which
keeps every image's ten probabilities so the confusion matrix, the per-digit
accuracy and the images behind any cell of the matrix all come from one pass.

Evaluations of the MNIST test set are cached per model file (``load_cached``,
``store_cached``), keyed by the model file's content and by ``data_key`` of the
test images, so a view that shows one again needs no new pass.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from digitpad import atomic, paths
from digitpad.config import NUM_CLASSES

_CACHE_FORMAT = "digitpad-evaluation-1"
# Each cached evaluation of the 10,000 test images takes about 0.5 MB; older ones go.
_CACHE_KEEP = 16


@dataclass(frozen=True)
class EvaluationProgress:
    done: int  # images evaluated so far
    total: int


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Every image's label and ten probabilities, and the mean NLL loss over them."""

    labels: np.ndarray = field(repr=False)  # (N,) int64
    probabilities: np.ndarray = field(repr=False)  # (N, 10) float32, each row sums to 1
    loss: float  # NaN when there are no images

    @property
    def count(self) -> int:
        return len(self.labels)

    @cached_property
    def predictions(self) -> np.ndarray:
        """(N,) int64: the most probable digit of each image."""
        return self.probabilities.argmax(axis=1).astype(np.int64)

    @cached_property
    def confidences(self) -> np.ndarray:
        """(N,) float32: the probability of each image's answer."""
        return self.probabilities.max(axis=1)

    @property
    def accuracy(self) -> float:
        """The fraction of right answers; NaN when there are no images."""
        return float((self.predictions == self.labels).mean()) if self.count else math.nan

    @cached_property
    def confusion(self) -> np.ndarray:
        """(10, 10) int64 counts: row = the true digit, column = the answer."""
        pairs = self.labels * NUM_CLASSES + self.predictions
        return np.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES).reshape(NUM_CLASSES, NUM_CLASSES)

    @property
    def per_digit_accuracy(self) -> np.ndarray:
        """(10,) float64: each digit's share of right answers; NaN for a digit with no images."""
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / np.maximum(totals, 1), np.nan)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """The indices of the images of digit ``true`` answered ``predicted``, the most telling first.

        Off the diagonal (mistakes): the most confident mistakes first. On the
        diagonal (right answers): the least confident first. Ties keep the images' order.
        """
        members = np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        confidences = self.confidences[members]
        order = np.argsort(confidences if true == predicted else -confidences, kind="stable")
        return members[order]


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 1000,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[EvaluationProgress | Evaluation]:
    """Run ``model`` over normalized ``images`` (N, 1, 28, 28) with their ``labels`` (N,).

    The model is put in eval mode and runs without autograd, as the study note
    teaches; probabilities are ``exp`` of its log-softmax output. Yields an
    ``EvaluationProgress`` after each batch and then the ``Evaluation``.
    ``should_stop`` is checked before each batch: once it returns True the
    generator ends without an Evaluation.
    """
    should_stop = should_stop or (lambda: False)
    labels = torch.as_tensor(labels, dtype=torch.int64, device=images.device)
    model.eval()
    total = len(images)
    probabilities = np.empty((total, NUM_CLASSES), dtype=np.float32)
    total_loss = 0.0
    for start in range(0, total, batch_size):
        if should_stop():
            return
        end = min(start + batch_size, total)
        # Entered per batch, not around the yields: inference mode is the thread's
        # state, and the caller's code runs between them.
        with torch.inference_mode():
            log_probabilities = model(images[start:end])
            total_loss += F.nll_loss(log_probabilities, labels[start:end], reduction="sum").item()
            probabilities[start:end] = log_probabilities.exp().float().cpu().numpy()
        yield EvaluationProgress(end, total)
    yield Evaluation(labels.cpu().numpy().copy(), probabilities, total_loss / total if total else math.nan)


def evaluate_fully(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> Evaluation:
    """``evaluate`` run to its end: the Evaluation alone."""
    for event in evaluate(model, images, labels, batch_size):
        if isinstance(event, Evaluation):
            return event
    raise AssertionError("evaluate() always ends with an Evaluation when it is not stopped")


def confusion_table(confusion: np.ndarray) -> str:
    """The confusion matrix as aligned text: a header of answers, then one row per true digit."""
    confusion = np.asarray(confusion)
    width = max(len(str(int(confusion.max(initial=0)))), 1) + 2
    corner = "true\\answer"
    lines = [corner + "".join(f"{digit:>{width}}" for digit in range(confusion.shape[1]))]
    for digit, row in enumerate(confusion):
        lines.append(f"{digit:>{len(corner)}}" + "".join(f"{int(count):>{width}}" for count in row))
    return "\n".join(lines)


# --- the cache ----------------------------------------------------------------------------------


def data_key(images: torch.Tensor, labels: torch.Tensor) -> str:
    """The identity of a labelled image set, by content (MNIST's test set: a few tens of ms).

    By content rather than by file, so the same test set read from another
    folder, or loaded again, finds the same cached evaluations.
    """
    digest = hashlib.sha256(b"digitpad-images-1")
    digest.update(str(tuple(images.shape)).encode())
    digest.update(np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32))
    digest.update(np.ascontiguousarray(torch.as_tensor(labels).cpu().numpy(), dtype=np.int64))
    return digest.hexdigest()[:32]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_folder() -> Path:
    return paths.cache_dir() / "evaluations"


def _cache_entry(model_path: Path, key: str) -> tuple[Path, str]:
    """The cache file for this model and data, and the key it must hold (it raises OSError)."""
    full_key = f"{_file_hash(Path(model_path))}-{key}"
    return _cache_folder() / f"{hashlib.sha256(full_key.encode()).hexdigest()[:32]}.npz", full_key


def load_cached(model_path: str | Path, key: str) -> Evaluation | None:
    """The cached evaluation of the model file at ``model_path`` on the data ``key`` names, or None.

    A missing, damaged or foreign cache file is None too (it is then made again).
    """
    try:
        file, full_key = _cache_entry(Path(model_path), key)
        with np.load(file, allow_pickle=False) as stored:
            if str(stored["format"]) != _CACHE_FORMAT or str(stored["key"]) != full_key:
                return None
            labels, probabilities, loss = stored["labels"], stored["probabilities"], float(stored["loss"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    valid = (
        labels.dtype == np.int64 and labels.ndim == 1
        and probabilities.dtype == np.float32 and probabilities.shape == (len(labels), NUM_CLASSES)
        and bool(((labels >= 0) & (labels < NUM_CLASSES)).all())
        and bool(np.isfinite(probabilities).all())
    )
    return Evaluation(labels, probabilities, loss) if valid else None


def store_cached(model_path: str | Path, key: str, evaluation: Evaluation) -> bool:
    """Keep ``evaluation`` for ``load_cached``; False when it cannot be written (it is only a cache).

    Written atomically; only the most recent few evaluations are kept.
    """
    try:
        file, full_key = _cache_entry(Path(model_path), key)
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(_CACHE_FORMAT), key=np.array(full_key), labels=evaluation.labels,
                 probabilities=evaluation.probabilities, loss=np.array(evaluation.loss, dtype=np.float64))
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(file, buffer.getvalue())
        _forget_old(file.parent)
    except OSError:
        return False
    return True


def _forget_old(folder: Path) -> None:
    entries = sorted(folder.glob("*.npz"), key=lambda entry: entry.stat().st_mtime_ns, reverse=True)
    for stale in entries[_CACHE_KEEP:]:
        stale.unlink(missing_ok=True)
