"""Teaching a trained model a person's handwriting: fine-tuning on their own drawings mixed with MNIST.

A person's drawings are few, so each one is replayed as many slightly different
versions (``digitpad.replay``). Every batch mixes those versions with MNIST
training images, so the model learns the person's style without forgetting
MNIST; the convolutions keep what they learned from MNIST and only the fully
connected layers learn. A model with a stroke reader (``digitpad.stroke_reader``)
has it taught the same way, step by step beside the image network: the pen
paths of the same versions, mixed with MNIST training digits traced into
strokes, and again only its fully connected layers learn.

``teach`` is a generator that yields the events ``training.fit`` yields, so the
app's worker, progress bar, curves and Stop work unchanged; its
``ValidationResult`` is measured on the held-out drawings (none are yielded
when nothing is held out), and its last event is a ``TeachingResult``. With a
stroke reader the held-out drawings are read as the app reads them: both
networks, their answers combined.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from digitpad import devices, tracing
from digitpad.augment import augment_batch
from digitpad.collection import Drawing
from digitpad.config import MNIST_MEAN, MNIST_STD, NUM_CLASSES, ModelConfig, TeachConfig
from digitpad.data import MnistTensors
from digitpad.evaluation import Evaluation, data_key, evaluate_fully
from digitpad.models import build_model
from digitpad.pen_path import pen_path
from digitpad.replay import DrawingPool, drawing_images, drawing_pen_paths, drawing_pool
from digitpad.stroke_augment import as_written
from digitpad.stroke_reader import StrokeReader, combine
from digitpad.training import (
    BatchProgress,
    RunningLoss,
    TrainingResult,
    ValidationResult,
    continued_history,
    snapshot,
)

# Fewer drawings than this teach too little to be worth a new model.
MIN_DRAWINGS = 10
# MNIST training digits traced into strokes for a stroke reader's lessons, as
# the image network's lessons mix in MNIST images. Traced on MNIST's own grid:
# about a millisecond a digit, against 20 for the finer tracing.
READER_MNIST_DIGITS = 1024


class NotEnoughDrawings(Exception):
    """The collection is too small to teach from; the message says how many more drawings are needed."""

    def __init__(self, count: int, needed: int = MIN_DRAWINGS):
        self.count, self.needed = count, needed
        more = needed - count
        super().__init__(
            f"Teaching needs at least {needed} drawings and the collection has {count}: draw at least {more} more "
            f"and say which digit each one is (a few of each digit it misreads help most)."
        )


@dataclass(frozen=True, kw_only=True)  # after TrainingResult's fields with defaults
class TeachingResult(TrainingResult):
    """A TrainingResult (so ``runs.keep_result`` saves it as it is) with the before and after.

    ``test_loss`` and ``test_accuracy`` are on the MNIST test set after teaching;
    ``holdout_before`` and ``holdout_after`` are the accuracy on the held-out
    drawings (None when none were held out).
    """

    train_config: TeachConfig
    evaluation: Evaluation = field(repr=False)  # on the MNIST test set, after teaching
    evaluation_key: str  # that test set's ``evaluation.data_key``, to cache the evaluation under
    mnist_before: float
    holdout_before: float | None
    holdout_after: float | None
    taught_count: int
    holdout_count: int
    steps: int  # teaching steps taken: 0 when stopped before the first
    # The model's stroke reader, taught beside the image network (as it was when no drawing has strokes);
    # None for a model without one.
    stroke_reader: dict[str, torch.Tensor] | None = field(default=None, repr=False)


def check_enough(drawings: Sequence[Drawing]) -> None:
    """Raise NotEnoughDrawings unless there are at least MIN_DRAWINGS."""
    if len(drawings) < MIN_DRAWINGS:
        raise NotEnoughDrawings(len(drawings))


def holdout_split(drawings: Sequence[Drawing], fraction: float, seed: int) -> tuple[list[Drawing], list[Drawing]]:
    """(taught, held out): a seeded split made digit by digit (stratified).

    Of each digit's drawings, ``round(fraction * n)`` are held out, but at least
    one when the digit has two or more (and ``fraction`` is above 0), and never
    all of them: a digit drawn once is always taught. The same drawings and seed
    give the same split.
    """
    taught: list[Drawing] = []
    held: list[Drawing] = []
    rng = np.random.default_rng(seed)
    for digit in range(NUM_CLASSES):
        of_digit = sorted((d for d in drawings if d.digit == digit), key=lambda d: (d.created, d.id))
        count = len(of_digit)
        hold = 0
        if fraction > 0 and count >= 2:
            hold = min(count - 1, max(1, round(fraction * count)))
        chosen = set(rng.permutation(count)[:hold].tolist())
        for index, drawing in enumerate(of_digit):
            (held if index in chosen else taught).append(drawing)
    return taught, held


# --- teaching ----------------------------------------------------------------------------------


def teach(
    model_config: ModelConfig,
    state_dict: dict[str, torch.Tensor],
    history: dict | None,
    drawings: Sequence[Drawing],
    data: MnistTensors,
    config: TeachConfig = TeachConfig(),
    should_stop: Callable[[], bool] | None = None,
    before: Evaluation | None = None,
    stroke_reader: dict[str, torch.Tensor] | None = None,
) -> Iterator[BatchProgress | ValidationResult | TeachingResult]:
    """Fine-tune a copy of the model (``model_config``, ``state_dict``) on ``drawings`` mixed with MNIST.

    Raises NotEnoughDrawings (before any work) with fewer than MIN_DRAWINGS.
    Yields ``BatchProgress`` every ``config.log_every`` steps and at the end of
    each epoch, a ``ValidationResult`` on the held-out drawings at the end of
    each epoch (when some are held out), and last a ``TeachingResult``.
    ``should_stop`` is checked before every batch: the result then holds the
    weights after the last complete step, with ``stopped`` True. ``history``
    (the model's curves so far) heads the result's history. ``before``: the
    model's evaluation on ``data``'s test images when it is known already
    (``evaluation.load_cached``), which saves a pass over them.
    ``stroke_reader``: the weights of the model's stroke reader, taught too
    when the drawings have strokes (a copy: the caller's are left as they are).
    """
    check_enough(drawings)
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    reader = None
    if stroke_reader is not None:
        # Built before seeding: its random first weights, replaced at once, take nothing
        # from the image network's random stream.
        reader = StrokeReader()
        reader.load_state_dict(stroke_reader)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    device = devices.resolve(config.device)
    taught, held = holdout_split(drawings, config.holdout_fraction, config.seed)
    test_images, test_labels = data.test_images.to(device), data.test_labels.to(device)
    model = build_model(model_config)
    model.load_state_dict(state_dict)  # copies the weights: nothing is shared with the caller's model
    model.to(device)
    if reader is not None:
        reader.to(device)
    held_drawings = _HeldOut(*(tensor.to(device) for tensor in (*drawing_images(held), *drawing_pen_paths(held))),
                             reader=reader)
    if before is None or not np.array_equal(before.labels, data.test_labels.numpy()):
        before = evaluate_fully(model, test_images, test_labels)
    held_before = held_drawings.read(model).accuracy if held else None

    history_now: dict = {"train_step": [], "train_loss": [], "val_step": [], "val_loss": [], "val_accuracy": [],
                         "taught_step": [0]}
    variants = max(config.variants, math.ceil(config.min_replays / max(1, len(taught))))
    pool = drawing_pool(taught, variants, config.seed, should_stop=should_stop)
    steps, stopped = 0, True
    if pool is not None:
        pool = DrawingPool(pool.images.to(device), pool.labels.to(device), pool.pen_paths.to(device),
                           pool.with_strokes.to(device))
        lessons = None
        if reader is not None and bool(pool.with_strokes.any()):
            mnist_paths = _mnist_pen_paths(data, READER_MNIST_DIGITS, config.seed)
            lessons = _ReaderLessons(reader, pool, tuple(tensor.to(device) for tensor in mnist_paths), config,
                                     total_steps=_steps_per_epoch(pool, config) * config.epochs)
        steps, stopped = yield from _fine_tune(model, pool, data, config, generator, should_stop, started,
                                               held_drawings, history_now, lessons)
    if steps:
        after = evaluate_fully(model, test_images, test_labels)
        held_after = held_drawings.read(model).accuracy if held else None
    else:
        after, held_after = before, held_before
    yield TeachingResult(
        model_config=model_config, train_config=config, state_dict=snapshot(model), evaluation=after,
        evaluation_key=data_key(data.test_images, data.test_labels),
        history=continued_history(history, history_now), test_loss=after.loss, test_accuracy=after.accuracy,
        stopped=stopped, elapsed=time.perf_counter() - started, mnist_before=before.accuracy,
        holdout_before=held_before, holdout_after=held_after, taught_count=len(taught), holdout_count=len(held),
        steps=steps, device=str(device), stroke_reader=None if reader is None else snapshot(reader),
    )


@dataclass(frozen=True)
class _HeldOut:
    """The held-out drawings as they were drawn (images, labels and pen paths, see ``replay``), and the
    stroke reader being taught, if any."""

    images: torch.Tensor
    labels: torch.Tensor
    pen_paths: torch.Tensor
    with_strokes: torch.Tensor
    reader: nn.Module | None

    def read(self, model: nn.Module) -> Evaluation:
        """The drawings read by ``model`` as the app reads them: with the stroke reader too, where they have
        strokes."""
        evaluation = evaluate_fully(model, self.images, self.labels)
        if self.reader is None or not bool(self.with_strokes.any()):
            return evaluation
        self.reader.eval()
        with torch.inference_mode():
            strokes = torch.exp(self.reader(self.pen_paths[self.with_strokes])).cpu().numpy()
        probabilities = evaluation.probabilities.copy()
        drawn = self.with_strokes.cpu().numpy()
        probabilities[drawn] = combine(probabilities[drawn], strokes)
        right = probabilities[np.arange(len(probabilities)), evaluation.labels]
        return Evaluation(evaluation.labels, probabilities.astype(np.float32),
                          float(-np.log(np.maximum(right, 1e-12)).mean()))


def _mnist_pen_paths(data: MnistTensors, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pen paths (count, PATH_CHANNELS, PATH_POINTS) and labels of MNIST training digits traced into strokes,
    each written once as a random writer would (``stroke_augment.as_written``), as the reader learned them."""
    rng = np.random.default_rng(seed)
    picked = torch.from_numpy(rng.choice(len(data.train_labels), min(count, len(data.train_labels)), replace=False))
    traced = tracing.traced(data.train_images[picked] * MNIST_STD + MNIST_MEAN, grid=1)
    labels = data.train_labels[picked].tolist()
    written = [(pen_path(as_written(strokes, label, rng)), label) for strokes, label in zip(traced, labels) if strokes]
    return (torch.from_numpy(np.stack([path for path, _ in written])),
            torch.tensor([label for _, label in written], dtype=torch.int64))


def _frozen_layers(model: nn.Module) -> list[nn.Module]:
    """Freeze the layers that see the input (convolutions and their batch norms): they keep the features
    learned from MNIST, so only the fully connected layers learn the person's hand. It forgets less of
    MNIST and takes a fraction of a full step (see tests/bench/RESULTS.md). An MLP has only fully
    connected layers: all of it learns."""
    frozen = [module for module in model.modules()
              if not isinstance(module, nn.Linear) and any(True for _ in module.parameters(recurse=False))]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def _steps_per_epoch(pool: DrawingPool, config: TeachConfig) -> int:
    return math.ceil(len(pool.labels) / min(config.drawings_per_batch, len(pool.labels)))


class _ReaderLessons:
    """The stroke reader's steps, one beside each of the image network's, on the same versions' pen paths
    mixed with MNIST's; versions without strokes are left out."""

    def __init__(self, reader: nn.Module, pool: DrawingPool, mnist: tuple[torch.Tensor, torch.Tensor],
                 config: TeachConfig, total_steps: int):
        from torch.optim import Adam
        from torch.optim.lr_scheduler import OneCycleLR

        self.reader, self.pool, self.mnist, self.config = reader, pool, mnist, config
        self.frozen = _frozen_layers(reader)
        trainable = [parameter for parameter in reader.parameters() if parameter.requires_grad]
        self.optimizer = Adam(trainable, lr=config.reader_lr)
        self.schedule = OneCycleLR(self.optimizer, max_lr=config.reader_lr, total_steps=total_steps, pct_start=0.2)
        # Its own random streams, dropout's too, so that the image network learns exactly as it would alone
        # (on the CPU; on a GPU dropout draws from the device's stream).
        self.generator = torch.Generator().manual_seed(config.seed + 1)
        self.random_state = torch.Generator().manual_seed(config.seed + 2).get_state()

    def step(self, batch: torch.Tensor) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.random_state)
            self._step(batch)
            self.random_state = torch.get_rng_state()

    def _step(self, batch: torch.Tensor) -> None:
        batch = batch[self.pool.with_strokes[batch].cpu()]
        paths, labels = self.pool.pen_paths[batch], self.pool.labels[batch]
        if self.config.mnist_per_batch:
            mnist_paths, mnist_labels = self.mnist
            picked = torch.randint(len(mnist_labels), (self.config.mnist_per_batch,), generator=self.generator)
            paths = torch.cat([paths, mnist_paths[picked.to(mnist_paths.device)]])
            labels = torch.cat([labels, mnist_labels[picked.to(mnist_labels.device)]])
        if len(labels):
            self.reader.train()
            for module in self.frozen:
                module.eval()  # batch norm keeps the statistics it learned from
            self.optimizer.zero_grad()
            nn.functional.nll_loss(self.reader(paths), labels).backward()
            self.optimizer.step()
        self.schedule.step()


def _fine_tune(model: nn.Module, pool: DrawingPool, data: MnistTensors, config: TeachConfig,
               generator: torch.Generator, should_stop: Callable[[], bool], started: float,
               held: _HeldOut, history: dict, reader_lessons: _ReaderLessons | None):
    """The teaching steps; yields the progress events and returns (steps taken, whether it was stopped)."""
    from torch.optim import Adam
    from torch.optim.lr_scheduler import OneCycleLR

    pool_images, pool_labels = pool.images, pool.labels
    per_batch = min(config.drawings_per_batch, len(pool_labels))
    steps_per_epoch = _steps_per_epoch(pool, config)
    total_steps = steps_per_epoch * config.epochs
    history["steps_per_epoch"] = steps_per_epoch
    frozen = _frozen_layers(model)
    optimizer = Adam([parameter for parameter in model.parameters() if parameter.requires_grad], lr=config.lr)
    schedule = OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.2)
    loss_function = nn.NLLLoss()
    running_loss = RunningLoss(history)
    global_step = 0
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(len(pool_labels), generator=generator)
        for step, batch in enumerate(order.split(per_batch), start=1):
            if should_stop():
                return global_step, True
            images, labels = pool_images[batch], pool_labels[batch]
            if config.mnist_per_batch:
                picked = torch.randint(len(data.train_labels), (config.mnist_per_batch,), generator=generator)
                mnist = augment_batch(data.train_images[picked].to(images.device), generator, mean=MNIST_MEAN,
                                      std=MNIST_STD)
                mnist_labels = data.train_labels[picked].to(labels.device)
                images, labels = torch.cat([images, mnist]), torch.cat([labels, mnist_labels])
            model.train()
            for module in frozen:
                module.eval()  # batch norm keeps MNIST's statistics
            optimizer.zero_grad()
            loss = loss_function(model(images), labels)
            loss.backward()
            optimizer.step()
            schedule.step()
            if reader_lessons is not None:
                reader_lessons.step(batch)
            global_step += 1
            running_loss.add(loss.item())
            if step % config.log_every == 0 or step == steps_per_epoch:
                yield BatchProgress(epoch, config.epochs, step, steps_per_epoch, global_step, total_steps,
                                    running_loss.report(global_step), time.perf_counter() - started)
        if len(held.labels):
            measured = held.read(model)
            history["val_step"].append(global_step)
            history["val_loss"].append(measured.loss)
            history["val_accuracy"].append(measured.accuracy)
            yield ValidationResult(epoch, global_step, measured.loss, measured.accuracy, time.perf_counter() - started)
    return global_step, False
