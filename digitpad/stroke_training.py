"""Training the stroke reader (``digitpad.stroke_reader``) on MNIST's training digits, traced into strokes.

Two tracings of each digit (``digitpad.tracing``): from a skeleton on a grid 4
times finer, smoothed, as a person's strokes are; and from one on MNIST's own
grid, pixel staircase and all, so that the reader is not thrown by jagged
input. Tracing 70,000 digits is slow Python (about 16 minutes on 2 cores, in
as many processes as there are cores), so it is done once and kept in
digitpad's cache folder, keyed by the images themselves.

``fit_reader`` is a generator like ``training.fit``: it yields BatchProgress
and ValidationResult events and ends with a ReaderResult.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from digitpad import atomic, paths, tracing
from digitpad.config import MNIST_MEAN, MNIST_STD
from digitpad.data import MnistTensors, validation_split
from digitpad.pen_path import pen_path
from digitpad.stroke_augment import as_written, non_digit_strokes
from digitpad.stroke_reader import StrokeReader
from digitpad.training import BatchProgress, ValidationResult, cpu_count, non_digit_penalty, snapshot

Strokes = list[np.ndarray]
_CACHE_VERSION = 1
_TRACE_CHUNK = 500  # digits per task: small enough for steady progress


@dataclass(frozen=True)
class ReaderSettings:
    epochs: int = 12
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    coarse_share: float = 0.4  # of the digits shown, the pixel-staircase tracing
    non_digit_share: float = 0.2  # non-digits per batch, as a share of its digits
    non_digit_weight: float = 0.1
    validation_size: int = 5000
    seed: int = 0
    log_every: int = 20


@dataclass(frozen=True)
class TracedMnist:
    """Every MNIST digit as strokes, two ways: ``fine`` and ``coarse`` (see the module's notes)."""

    train_fine: list[Strokes]
    train_coarse: list[Strokes]
    test_fine: list[Strokes]
    test_coarse: list[Strokes]


@dataclass(frozen=True)
class ReaderResult:
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    test_accuracy: float  # on the MNIST test digits traced finely
    stopped: bool
    elapsed: float
    steps: int


# --- tracing, once ------------------------------------------------------------------------------


def _trace_chunk(ink: np.ndarray, grid: int) -> list[Strokes]:
    torch.set_num_threads(1)
    return [[stroke.astype(np.float32) for stroke in strokes] for strokes in tracing.traced(torch.from_numpy(ink), grid)]


def _pack(drawings: list[Strokes]) -> dict[str, np.ndarray]:
    """Drawings as flat arrays: every point, each stroke's point count, each drawing's stroke count."""
    strokes = [stroke for drawing in drawings for stroke in drawing]
    return {"points": np.concatenate(strokes).astype(np.float32),
            "stroke_points": np.array([len(stroke) for stroke in strokes], dtype=np.int32),
            "drawing_strokes": np.array([len(drawing) for drawing in drawings], dtype=np.int32)}


def _unpack(points: np.ndarray, stroke_points: np.ndarray, drawing_strokes: np.ndarray) -> list[Strokes]:
    strokes = np.split(points, np.cumsum(stroke_points)[:-1])
    bounds = np.concatenate([[0], np.cumsum(drawing_strokes)])
    return [strokes[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _cache_path(data: MnistTensors):
    digest = hashlib.sha1()
    for tensor in (data.train_images, data.test_images):
        digest.update(tensor.numpy().tobytes())
    return paths.cache_dir() / f"traced-mnist-{_CACHE_VERSION}-{tracing.FINE_GRID}x-{digest.hexdigest()[:24]}.npz"


def traced_mnist(data: MnistTensors, progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> TracedMnist | None:
    """MNIST traced (from the cache after the first time); None when ``should_stop`` said so first.

    ``progress(done, total)`` is called as digits are traced.
    """
    cache = _cache_path(data)
    parts = ("train_fine", "train_coarse", "test_fine", "test_coarse")
    try:
        with np.load(cache) as stored:
            return TracedMnist(*(_unpack(*(stored[f"{part}/{key}"] for key in ("points", "stroke_points",
                                                                                  "drawing_strokes")))
                                 for part in parts))
    except (OSError, ValueError, KeyError):
        pass  # not made yet, or unreadable: trace again
    jobs = [(images, grid) for images in (data.train_images, data.test_images) for grid in (tracing.FINE_GRID, 1)]
    total = sum(len(images) for images, _ in jobs)
    done, traced = 0, []
    with ProcessPoolExecutor(max_workers=cpu_count()) as pool:
        for images, grid in jobs:
            ink = (images * MNIST_STD + MNIST_MEAN).numpy()
            futures = [pool.submit(_trace_chunk, ink[start:start + _TRACE_CHUNK], grid)
                       for start in range(0, len(ink), _TRACE_CHUNK)]
            drawings: list[Strokes] = []
            for future in futures:
                if should_stop is not None and should_stop():
                    for waiting in futures:
                        waiting.cancel()
                    return None
                chunk = future.result()
                drawings += chunk
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            traced.append(drawings)
    arrays = {f"{part}/{key}": value for part, drawings in zip(parts, traced) for key, value in _pack(drawings).items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    try:
        atomic.write_bytes(cache, buffer.getvalue())
    except OSError:
        pass  # a full or read-only cache only means tracing again next time
    return TracedMnist(*traced)


# --- training -----------------------------------------------------------------------------------


class _WrittenDigits(Dataset):
    """Training digits, each time as a new writer writes them, from either tracing."""

    def __init__(self, fine: list[Strokes], coarse: list[Strokes], labels: np.ndarray, indices: np.ndarray,
                 settings: ReaderSettings, seed: int):
        self.fine, self.coarse, self.labels, self.indices = fine, coarse, labels, indices
        self.settings, self.seed = settings, seed

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int):
        rng = np.random.default_rng([self.seed, position])
        index = int(self.indices[position])
        source = self.coarse if rng.random() < self.settings.coarse_share else self.fine
        label = int(self.labels[index])
        return torch.from_numpy(pen_path(as_written(source[index], label, rng))), label


class _WrittenNonDigits(Dataset):
    def __init__(self, drawings: list[Strokes], seed: int):
        self.drawings, self.seed = drawings, seed

    def __len__(self) -> int:
        return len(self.drawings)

    def __getitem__(self, position: int):
        rng = np.random.default_rng([self.seed, position])
        return torch.from_numpy(pen_path(as_written(self.drawings[position], None, rng))), -1


def evaluate_reader(model: StrokeReader, drawings: list[Strokes], labels: np.ndarray) -> tuple[float, float]:
    """(mean loss, accuracy) of the reader on ``drawings`` as they are."""
    pen_paths = torch.stack([torch.from_numpy(pen_path(drawing)) for drawing in drawings])
    model.eval()
    with torch.inference_mode():
        log_probabilities = torch.cat([model(batch) for batch in pen_paths.split(1000)])
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    loss = F.nll_loss(log_probabilities, targets).item()
    return loss, float((log_probabilities.argmax(dim=1) == targets).float().mean())


def fit_reader(traced: TracedMnist, data: MnistTensors, settings: ReaderSettings = ReaderSettings(),
               should_stop: Callable[[], bool] | None = None) -> Iterator[BatchProgress | ValidationResult | ReaderResult]:
    """Train a stroke reader, yielding progress; the last event is always a ReaderResult.

    ``should_stop`` is checked before every batch; stopped, the result carries the
    weights after the last complete step.
    """
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    labels = data.train_labels.numpy()
    train_index, validation_index = (part.numpy() for part in
                                     validation_split(len(labels), settings.validation_size, settings.seed))
    validation = [traced.train_fine[i] for i in validation_index]
    model = StrokeReader()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = math.ceil(len(train_index) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, total_steps=total_steps,
                                                   pct_start=0.2)
    # One worker writes the next drawings while this process trains on the last ones.
    workers = 1 if cpu_count() > 1 else 0
    rng = np.random.default_rng(settings.seed)
    row_digits = [traced.train_fine[i] for i in rng.choice(train_index, min(2000, len(train_index)))]
    non_digits_per_batch = round(settings.non_digit_share * settings.batch_size)
    global_step, stopped, recent = 0, False, []
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(train_index)
        digits = DataLoader(_WrittenDigits(traced.train_fine, traced.train_coarse, labels, order, settings,
                                           settings.seed * 1000 + epoch),
                            batch_size=settings.batch_size, num_workers=workers)
        non_digits = iter(DataLoader(
            _WrittenNonDigits(non_digit_strokes(non_digits_per_batch * steps_per_epoch, rng, row_digits),
                              settings.seed * 1000 + epoch + 500),
            batch_size=max(1, non_digits_per_batch))) if non_digits_per_batch else None
        model.train()
        for step, (pen_paths, digit_labels) in enumerate(digits, start=1):
            if should_stop():
                stopped = True
                break
            drawings = torch.cat([pen_paths, next(non_digits)[0]]) if non_digits is not None else pen_paths
            log_probabilities = model(drawings)
            digit_loss = F.nll_loss(log_probabilities[:len(digit_labels)], digit_labels)
            loss = digit_loss
            if non_digits is not None:
                loss = loss + settings.non_digit_weight * non_digit_penalty(log_probabilities[len(digit_labels):])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            global_step += 1
            recent.append(digit_loss.item())
            if step % settings.log_every == 0 or step == steps_per_epoch:
                yield BatchProgress(epoch, settings.epochs, step, steps_per_epoch, global_step, total_steps,
                                    float(np.mean(recent)), time.perf_counter() - started)
                recent = []
        if stopped:
            break
        if len(validation):
            loss, accuracy = evaluate_reader(model, validation, labels[validation_index])
            yield ValidationResult(epoch, global_step, loss, accuracy, time.perf_counter() - started)
            model.train()
    _, test_accuracy = evaluate_reader(model, traced.test_fine, data.test_labels.numpy())
    yield ReaderResult(snapshot(model), test_accuracy, stopped, time.perf_counter() - started, global_step)
