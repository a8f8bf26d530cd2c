"""Training as a generator of progress events.

``fit`` runs the epochs and yields ``BatchProgress`` every ``log_every`` steps,
``ValidationResult`` at each validation and, last, one ``TrainingResult``. The
CLI prints these events; the app's worker turns them into Qt signals. Nothing
here knows about either.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from digitpad.augment import augment_batch
from digitpad.config import MNIST_MEAN, MNIST_STD, ModelConfig, TrainConfig
from digitpad.data import MnistTensors, validation_split
from digitpad.evaluation import evaluate_fully
from digitpad.models import build_model
from digitpad.non_digits import non_digit_batch
from digitpad.optim import SGD, Adam, one_cycle

# The one-cycle schedule's share of steps spent warming up.
WARMUP_FRACTION = 0.2
# How much the non-digit drawings' penalty weighs against the digits' loss:
# enough to make a grid or a spiral "unsure", little enough to leave drawn
# digits' accuracy as it was (tests/bench/RESULTS.md, issue 6).
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


TrainingEvent = BatchProgress | ValidationResult | TrainingResult


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def training_threads(leave_core_for_gui: bool) -> int:
    """How many torch threads training should use.

    Headless training takes every core. In the app one core stays free so the
    GUI thread can paint and predict while training: on a 2-core machine that
    means 1 training thread.
    """
    cores = cpu_count()
    return max(1, cores - 1) if leave_core_for_gui else cores


def make_optimizer(config: TrainConfig, model: nn.Module) -> Adam | SGD:
    if config.optimizer == "sgd":
        return SGD(model.parameters(), lr=config.lr, momentum=0.9)
    return Adam(model.parameters(), lr=config.lr)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean NLL loss and accuracy (NaN for no images): ``digitpad.evaluation``'s, for the validations."""
    evaluation = evaluate_fully(model, images, labels, batch_size)
    return evaluation.loss, evaluation.accuracy


def non_digit_penalty(log_probabilities: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the uniform distribution: lowest when no digit is favoured."""
    return -log_probabilities.mean()


_CURVES = (("train_step", "train_loss"), ("val_step", "val_loss", "val_accuracy"))


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


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def _validation_steps(steps_per_epoch: int, per_epoch: int) -> set[int]:
    per_epoch = min(per_epoch, steps_per_epoch)
    return {round(steps_per_epoch * k / per_epoch) for k in range(1, per_epoch + 1)}


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
    """
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    train_index, validation_index = validation_split(len(data.train_images), config.validation_size, config.seed)
    validation_images = data.train_images[validation_index]
    validation_labels = data.train_labels[validation_index]

    model = build_model(config.model)
    if initial_state is not None:
        model.load_state_dict(initial_state)
    optimizer = make_optimizer(config, model)
    steps_per_epoch = max(1, math.ceil(len(train_index) / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
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
    recent_losses: list[float] = []
    global_step = 0
    stopped = False

    for epoch in range(1, config.epochs + 1):
        order = train_index[torch.randperm(len(train_index), generator=generator)]
        for step, batch_index in enumerate(order.split(config.batch_size), start=1):
            if should_stop():
                stopped = True
                break
            images = data.train_images[batch_index]
            labels = data.train_labels[batch_index]
            non_digits = round(config.non_digit_share * len(labels))
            if non_digits:
                drawings = (non_digit_batch(non_digits, generator) - MNIST_MEAN) / MNIST_STD
                images = torch.cat([images, drawings])
            if config.augment:
                # The same distortions for both, so drawing style is no clue to which is which.
                images = augment_batch(images, generator, mean=MNIST_MEAN, std=MNIST_STD)

            model.train()
            optimizer.zero_grad()
            log_probabilities = model(images)
            loss = digit_loss = loss_function(log_probabilities[: len(labels)], labels)
            if non_digits:
                loss = digit_loss + NON_DIGIT_WEIGHT * non_digit_penalty(log_probabilities[len(labels) :])
            loss.backward()
            # One-cycle: warm up, then anneal; it reaches a given accuracy in far fewer epochs.
            optimizer.lr, optimizer.momentum = one_cycle(global_step, total_steps, config.lr, WARMUP_FRACTION)
            optimizer.step()
            global_step += 1

            recent_losses.append(digit_loss.item())
            if step % config.log_every == 0 or step == steps_per_epoch:
                running_loss = sum(recent_losses) / len(recent_losses)
                recent_losses.clear()
                history["train_step"].append(global_step)
                history["train_loss"].append(running_loss)
                yield BatchProgress(
                    epoch, config.epochs, step, steps_per_epoch, global_step, total_steps,
                    running_loss, time.perf_counter() - started,
                )
            if step in validate_after and len(validation_images):
                val_loss, val_accuracy = evaluate(model, validation_images, validation_labels)
                history["val_step"].append(global_step)
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(val_accuracy)
                yield ValidationResult(epoch, global_step, val_loss, val_accuracy, time.perf_counter() - started)
        if stopped:
            break

    test_loss, test_accuracy = evaluate(model, data.test_images, data.test_labels)
    yield TrainingResult(
        model_config=config.model,
        train_config=config,
        state_dict=snapshot(model),
        history=continued_history(initial_history, history),
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        stopped=stopped,
        elapsed=time.perf_counter() - started,
    )
