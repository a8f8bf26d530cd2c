"""What becomes of a finished or stopped run (digitpad.runs), without Qt."""

from __future__ import annotations

import math
import os

import pytest
import torch

from digitpad import checkpoint, paths
from digitpad.config import ModelConfig, TrainConfig
from digitpad.models import build_model
from digitpad.runs import keep_result
from digitpad.training import TrainingResult

SMALL = ModelConfig(arch="mlp", hidden=(8,))


def result(stopped: bool = False, accuracy: float = 0.9, steps: int = 3) -> TrainingResult:
    torch.manual_seed(0)
    return TrainingResult(
        model_config=SMALL,
        train_config=TrainConfig(model=SMALL),
        state_dict=build_model(SMALL).state_dict(),
        history={"train_step": list(range(1, steps + 1)), "train_loss": [1.0] * steps},
        test_loss=0.3,
        test_accuracy=accuracy,
        stopped=stopped,
        elapsed=1.0,
    )


def test_a_finished_run_is_saved_in_the_models_folder_and_becomes_current(digitpad_home):
    kept = keep_result(result())
    assert kept.saved and kept.adopted and kept.recorded
    assert kept.path.parent == paths.models_dir() and kept.path.name.startswith("trained-")
    assert paths.current_model_path() == kept.path
    assert checkpoint.load(kept.path).metrics["test_accuracy"] == pytest.approx(0.9)


def test_with_out_it_is_only_written_there(digitpad_home, tmp_path):
    out = tmp_path / "elsewhere.pt"
    kept = keep_result(result(), out=out)
    assert kept.path == out and out.is_file()
    assert not kept.adopted and not kept.recorded
    assert paths.current_model_path() == paths.shipped_model_path()


def test_a_run_stopped_before_its_first_step_keeps_nothing(digitpad_home):
    kept = keep_result(result(stopped=True, accuracy=math.nan, steps=0))
    assert kept.learned_nothing and not kept.saved and not kept.adopted
    assert not paths.models_dir().exists() or not any(paths.models_dir().iterdir())


def test_a_stopped_run_worse_than_the_model_in_use_is_saved_but_not_adopted(digitpad_home):
    kept = keep_result(result(stopped=True, accuracy=0.5), current_accuracy=0.9)
    assert kept.saved and not kept.adopted and not kept.recorded
    assert paths.current_model_path() == paths.shipped_model_path()
    assert keep_result(result(stopped=True, accuracy=0.95), current_accuracy=0.9).adopted
    assert keep_result(result(stopped=False, accuracy=0.5), current_accuracy=0.9).adopted


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else False, reason="root can write anywhere")
def test_an_unwritable_models_folder_still_returns_the_model(digitpad_home):
    paths.models_dir().mkdir(parents=True)
    paths.models_dir().chmod(0o500)
    try:
        kept = keep_result(result())
    finally:
        paths.models_dir().chmod(0o700)
    assert not kept.saved and kept.checkpoint is not None and kept.save_problem


def test_a_save_that_fails_keeps_the_checkpoint_and_says_why(digitpad_home, monkeypatch):
    def full_disk(*_args):
        raise checkpoint.CheckpointError("Could not save the model: No space left on device.")

    monkeypatch.setattr(checkpoint, "save", full_disk)
    kept = keep_result(result())
    assert not kept.saved and not kept.recorded
    assert kept.checkpoint is not None and "No space left" in kept.save_problem


def test_a_pointer_that_cannot_be_written_is_reported(digitpad_home, monkeypatch):
    def read_only(_path):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(paths, "set_current_model", read_only)
    kept = keep_result(result())
    assert kept.saved and kept.adopted and not kept.recorded
    assert kept.record_problem == "Read-only file system"
