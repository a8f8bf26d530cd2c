"""Training as a generator of progress events.

``fit`` runs the epochs and yields ``BatchProgress`` every ``log_every`` steps,
``ValidationResult`` at each validation and, last, one ``TrainingResult``. The
CLI prints these events; the app's worker turns them into Qt signals. Nothing
here knows about either.

It trains on the device the config names (digitpad.devices), with torch.optim
and a one-cycle schedule. In a process group started by torchrun
(digitpad.distributed) each process trains on its share of every batch, and
only rank 0 yields events.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn, optim
from torch.optim.lr_scheduler import OneCycleLR

from digitpad import devices, distributed
from digitpad.augment import augment_batch
from digitpad.config import MNIST_MEAN, MNIST_STD, ModelConfig, TrainConfig
from digitpad.data import MnistTensors, validation_split
from digitpad.evaluation import evaluate_fully
from digitpad.habits import add_writing_habits
from digitpad.models import build_model
from digitpad.non_digits import non_digit_batch

# The one-cycle schedule's share of steps spent warming up.
WARMUP_FRACTION = 0.2
# How much the non-digit drawings' penalty weighs against the digits' loss:
# enough to make a grid or a spiral "unsure", little enough to leave drawn
# digits' accuracy as it was (tests/bench/RESULTS.md, "Non-digits come out unsure").
NON_DIGIT_WEIGHT = 0.02


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, within the epoch
    steps_per_epoch: int
    global_step: int
    total_steps: int
    loss: float  # mean training loss over the last log_every steps
    elapsed: float  # seconds since training started


@dataclass(frozen=True)
class ValidationResult:
    epoch: int
    global_step: int
    loss: float
    accuracy: float  # fraction in [0, 1]
    elapsed: float


@dataclass(frozen=True)
class TrainingResult:
    model_config: ModelConfig
    train_config: TrainConfig
    state_dict: dict[str, torch.Tensor]
    history: dict = field(repr=False)
    test_loss: float
    test_accuracy: float
    stopped: bool
    elapsed: float
    device: str = "cpu"  # where it trained, e.g. "cuda:0"
    processes: int = 1  # how many trained it together (torchrun)


TrainingEvent = BatchProgress | ValidationResult | TrainingResult


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def training_threads(leave_core_for_gui: bool, processes_here: int = 1) -> int:
    """How many torch threads training should use.

    Headless training takes every core, shared among the training processes on
    this machine. In the app one core stays free so the GUI thread can paint
    and predict while training: on a 2-core machine that means 1 training thread.
    """
    cores = max(1, cpu_count() // max(1, processes_here))
    return max(1, cores - 1) if leave_core_for_gui else cores


def make_optimizer(config: TrainConfig, model: nn.Module) -> optim.Optimizer:
    """torch.optim's Adam, or SGD with Nesterov momentum, each step one fused kernel where this
    torch has one for the model's device (the CPU's since torch 2.4), else torch's default loop."""
    try:
        return _optimizer(config, model, fused=True)
    except RuntimeError:  # no fused kernel for this device in this torch
        return _optimizer(config, model, fused=None)


def _optimizer(config: TrainConfig, model: nn.Module, fused: bool | None) -> optim.Optimizer:
    if config.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, fused=fused)
    return optim.Adam(model.parameters(), lr=config.lr, fused=fused)


def make_schedule(optimizer: optim.Optimizer, config: TrainConfig, total_steps: int) -> OneCycleLR:
    """One-cycle: warm up, then anneal; it reaches a given accuracy in far fewer epochs.

    It also cycles the momentum (Adam's beta1) between 0.95 and 0.85, against the rate.
    """
    return OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=WARMUP_FRACTION)


def warm_up_optimizers() -> None:
    """Build a throw-away optimizer and schedule: the first one built imports
    torch._dynamo (about a second), which the app does before the first Train click."""
    parameter = nn.Parameter(torch.zeros(1))
    make_schedule(make_optimizer(TrainConfig(), nn.ParameterList([parameter])), TrainConfig(), total_steps=1)


def mixed_precision(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on a CUDA GPU that has it (no loss scaling needed), else full precision."""
    # Compute capability 8 (Ampere) and later do bfloat16 natively; older GPUs would emulate it.
    if config.mixed_precision and device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean NLL loss and accuracy (NaN for no images): ``digitpad.evaluation``'s, for the validations."""
    evaluation = evaluate_fully(model, images, labels, batch_size)
    return evaluation.loss, evaluation.accuracy


def non_digit_penalty(log_probabilities: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the uniform distribution: lowest when no digit is favoured."""
    return -log_probabilities.mean()


# Each curve's step key, then its values. "taught_step" has no values: it marks where a teaching
# run began, after which the validation points are on the person's held-out drawings.
_CURVES = (("train_step", "train_loss"), ("val_step", "val_loss", "val_accuracy"), ("taught_step",))


def continued_history(earlier: dict | None, later: dict) -> dict:
    """One history for a model trained in two runs: ``later``'s points follow ``earlier``'s.

    Steps are counted on the earlier run's scale, so the epochs line up even if
    the runs' batch sizes differ. An unusable ``earlier`` is left out.
    """
    if not isinstance(earlier, dict) or not all(isinstance(earlier.get(k, []), list) for k in sum(_CURVES, ())):
        return copy.deepcopy(later)
    earlier_per_epoch = earlier.get("steps_per_epoch") or later.get("steps_per_epoch") or 1
    later_per_epoch = later.get("steps_per_epoch") or earlier_per_epoch
    offset = max(earlier.get("train_step", []) + earlier.get("val_step", []), default=0)
    merged: dict = {"steps_per_epoch": earlier_per_epoch}
    for step_key, *value_keys in _CURVES:
        steps = [offset + round(step * earlier_per_epoch / later_per_epoch) for step in later.get(step_key, [])]
        merged[step_key] = list(earlier.get(step_key, [])) + steps
        for key in value_keys:
            merged[key] = list(earlier.get(key, [])) + list(later.get(key, []))
    return merged


class RunningLoss:
    """The study note's running loss: the mean of the losses since the last report,
    each report recorded in ``history`` ("train_step", "train_loss")."""

    def __init__(self, history: dict) -> None:
        self._history = history
        self._losses: list[float] = []

    def add(self, loss: float) -> None:
        self._losses.append(loss)

    def report(self, global_step: int) -> float:
        mean = sum(self._losses) / len(self._losses)
        self._losses.clear()
        self._history["train_step"].append(global_step)
        self._history["train_loss"].append(mean)
        return mean


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights as CPU tensors of their own."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def _validation_steps(steps_per_epoch: int, per_epoch: int) -> set[int]:
    per_epoch = min(per_epoch, steps_per_epoch)
    return {round(steps_per_epoch * k / per_epoch) for k in range(1, per_epoch + 1)}


def _steps_per_epoch(train_count: int, batch_size: int, world_size: int) -> int:
    """Steps in an epoch. With several processes a last batch smaller than their number is
    left out, so that every process has at least one image in every step."""
    full, rest = divmod(train_count, batch_size)
    return max(1, full + (1 if rest >= world_size else 0))


def fit(
    config: TrainConfig,
    data: MnistTensors,
    should_stop: Callable[[], bool] | None = None,
    initial_state: dict[str, torch.Tensor] | None = None,
    initial_history: dict | None = None,
) -> Iterator[TrainingEvent]:
    """Train a model, yielding progress; the last event is always a TrainingResult.

    ``should_stop`` is checked before every batch. When it returns True the run
    ends there and the result carries the weights after the last complete step.
    ``initial_state`` continues from existing weights instead of starting fresh;
    ``initial_history``, those weights' curves, then heads the result's history.

    In a torch.distributed process group, ``config.batch_size`` is the batch of
    all processes together; each process trains on its share of it, and stops
    when any one is asked to. Only rank 0 yields events (and measures the model);
    the others yield nothing.
    """
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    ranks = distributed.current()
    device = devices.resolve(config.device, ranks.local_rank)
    if config.batch_size < ranks.world_size:
        raise distributed.DistributedError(
            f"a batch of {config.batch_size} cannot be shared among {ranks.world_size} processes; "
            f"give --batch-size {ranks.world_size} or more")
    torch.manual_seed(config.seed)
    # The same permutations in every process, so that their shares make up whole batches.
    shared_generator = torch.Generator().manual_seed(config.seed)
    # Each process its own augmentation, non-digits and dropout, seeded from the shared stream.
    own_seed = int(torch.randint(2**62, (1,), generator=shared_generator)) + ranks.rank
    generator = torch.Generator().manual_seed(own_seed)

    train_index, validation_index = validation_split(len(data.train_images), config.validation_size, config.seed)
    train_images, train_labels = data.train_images.to(device), data.train_labels.to(device)
    validation_images, validation_labels = train_images[validation_index.to(device)], train_labels[validation_index.to(device)]

    model = build_model(config.model)
    if initial_state is not None:
        model.load_state_dict(initial_state)
    model.to(device)
    torch.manual_seed(own_seed)
    # DistributedDataParallel's replica when there are several processes; the model itself when not.
    replicated = distributed.parallel(model, ranks, device)
    precision = mixed_precision(config, device)
    optimizer = make_optimizer(config, model)
    steps_per_epoch = _steps_per_epoch(len(train_index), config.batch_size, ranks.world_size)
    total_steps = steps_per_epoch * config.epochs
    schedule = make_schedule(optimizer, config, total_steps)
    loss_function = nn.NLLLoss()
    validate_after = _validation_steps(steps_per_epoch, config.validations_per_epoch)

    history: dict = {
        "train_step": [],
        "train_loss": [],
        "val_step": [],
        "val_loss": [],
        "val_accuracy": [],
        "steps_per_epoch": steps_per_epoch,
    }
    running_loss = RunningLoss(history)
    global_step = 0
    stopped = False

    for epoch in range(1, config.epochs + 1):
        order = train_index[torch.randperm(len(train_index), generator=shared_generator)]
        batches = order.split(config.batch_size)[:steps_per_epoch]
        for step, global_batch in enumerate(batches, start=1):
            if distributed.any_rank(should_stop(), ranks, device):
                stopped = True
                break
            batch_index = distributed.shard(global_batch, ranks).to(device)
            images = train_images[batch_index]
            labels = train_labels[batch_index]
            if config.augment:
                # Flagged 1s and crossed 7s: common in people's writing, rare in MNIST's.
                images = (add_writing_habits(images * MNIST_STD + MNIST_MEAN, labels, generator) - MNIST_MEAN) / MNIST_STD
            non_digits = round(config.non_digit_share * len(labels))
            if non_digits:
                # Some are rows of this batch's digits, as when a person writes a number.
                digit_ink = images.cpu() * MNIST_STD + MNIST_MEAN
                drawings = (non_digit_batch(non_digits, generator, digit_ink).to(device) - MNIST_MEAN) / MNIST_STD
                images = torch.cat([images, drawings])
            if config.augment:
                # The same distortions for both, so drawing style is no clue to which is which.
                images = augment_batch(images, generator, mean=MNIST_MEAN, std=MNIST_STD)

            model.train()
            optimizer.zero_grad()
            with precision:
                log_probabilities = replicated(images)
                loss = digit_loss = loss_function(log_probabilities[: len(labels)], labels)
                if non_digits:
                    loss = digit_loss + NON_DIGIT_WEIGHT * non_digit_penalty(log_probabilities[len(labels) :])
            # DistributedDataParallel averages the processes' gradients; weighing each
            # by its share of the batch makes that the whole batch's mean.
            (loss * (len(labels) * ranks.world_size / len(global_batch))).backward()
            optimizer.step()
            schedule.step()
            global_step += 1
            if not ranks.is_main:
                continue

            running_loss.add(digit_loss.item())
            if step % config.log_every == 0 or step == steps_per_epoch:
                yield BatchProgress(
                    epoch, config.epochs, step, steps_per_epoch, global_step, total_steps,
                    running_loss.report(global_step), time.perf_counter() - started,
                )
            if step in validate_after and len(validation_images):
                val_loss, val_accuracy = evaluate(model, validation_images, validation_labels)
                history["val_step"].append(global_step)
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(val_accuracy)
                yield ValidationResult(epoch, global_step, val_loss, val_accuracy, time.perf_counter() - started)
        if stopped:
            break

    if not ranks.is_main:
        return
    test_loss, test_accuracy = evaluate(model, data.test_images.to(device), data.test_labels.to(device))
    yield TrainingResult(
        model_config=config.model,
        train_config=config,
        state_dict=snapshot(model),
        history=continued_history(initial_history, history),
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        stopped=stopped,
        elapsed=time.perf_counter() - started,
        device=str(device),
        processes=ranks.world_size,
    )
