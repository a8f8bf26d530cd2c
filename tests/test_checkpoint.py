from __future__ import annotations

import errno
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from digitpad import __version__, checkpoint
from digitpad.checkpoint import Checkpoint, CheckpointError
from digitpad.config import ModelConfig, TrainConfig
from digitpad.models import build_model

SMALL_MLP = ModelConfig(arch="mlp", hidden=(16, 8), dropout=0.2)
SMALL_CNN = ModelConfig(arch="cnn", channels=(4, 8))


def make_checkpoint(config: ModelConfig = SMALL_MLP, **changes) -> Checkpoint:
    torch.manual_seed(0)
    fields = dict(
        model_config=config,
        state_dict=build_model(config).state_dict(),
        history={"train_step": [1, 2], "train_loss": [2.3, np.float32(1.5)], "val_step": [2],
                 "val_loss": [1.4], "val_accuracy": [0.6], "steps_per_epoch": 2},
        metrics={"test_accuracy": np.float64(0.61), "test_loss": 1.2},
        train_config=TrainConfig(model=config).to_dict(),
        name="small",
    )
    fields.update(changes)
    return Checkpoint(**fields)


@pytest.mark.parametrize("config", [SMALL_MLP, SMALL_CNN], ids=["mlp", "cnn"])
def test_round_trip(tmp_path, config):
    original = make_checkpoint(config)
    path = tmp_path / "model.pt"
    checkpoint.save(original, path)

    loaded = checkpoint.load(path)

    assert loaded.model_config == config
    assert loaded.state_dict.keys() == original.state_dict.keys()
    assert all(torch.equal(loaded.state_dict[key], value) for key, value in original.state_dict.items())
    assert loaded.history["train_loss"] == pytest.approx([2.3, 1.5])
    assert loaded.history["steps_per_epoch"] == 2
    assert loaded.metrics == pytest.approx({"test_accuracy": 0.61, "test_loss": 1.2})
    assert loaded.train_config == TrainConfig(model=config).to_dict() | {"model": config.to_dict()}
    assert loaded.name == "small"
    assert loaded.normalization == {"mean": 0.1307, "std": 0.3081}
    assert loaded.format_version == checkpoint.FORMAT_VERSION
    assert loaded.digitpad_version == __version__
    assert loaded.created
    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict, strict=True)


def test_from_result_keeps_weights_history_and_metrics(tmp_path):
    from digitpad.training import TrainingResult

    config = TrainConfig(model=SMALL_MLP)
    state = build_model(SMALL_MLP).state_dict()
    history = {"train_step": [5], "train_loss": [0.5], "val_step": [5], "val_loss": [0.4],
               "val_accuracy": [0.9], "steps_per_epoch": 5}
    result = TrainingResult(model_config=SMALL_MLP, train_config=config, state_dict=state, history=history,
                            test_loss=0.3, test_accuracy=0.91, stopped=False, elapsed=1.5)

    checkpoint.save(checkpoint.from_result(result, name="run"), tmp_path / "run.pt")
    loaded = checkpoint.load(tmp_path / "run.pt")

    assert loaded.history == history
    assert loaded.metrics["test_accuracy"] == 0.91 and loaded.metrics["stopped_early"] is False
    assert loaded.train_config["lr"] == config.lr
    assert loaded.name == "run"


def test_save_creates_the_folder_and_a_readable_file(tmp_path):
    path = tmp_path / "new" / "folder" / "model.pt"
    checkpoint.save(make_checkpoint(), path)
    assert path.is_file()
    if sys.platform != "win32":
        assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_a_failure_mid_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    checkpoint.save(make_checkpoint(name="previous"), path)
    previous_bytes = path.read_bytes()

    def disk_full(payload, stream):
        stream.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device") as caught:
        checkpoint.save(make_checkpoint(name="next"), path)

    assert str(path) in str(caught.value)
    assert path.read_bytes() == previous_bytes
    assert checkpoint.load(path).name == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_failed_fsync_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    checkpoint.save(make_checkpoint(name="previous"), path)

    def failing_fsync(descriptor):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(checkpoint.os, "fsync", failing_fsync)
    with pytest.raises(CheckpointError, match="Input/output error"):
        checkpoint.save(make_checkpoint(name="next"), path)
    monkeypatch.undo()
    assert checkpoint.load(path).name == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_an_unwritable_target_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="Could not save the model"):
        checkpoint.save(make_checkpoint(), blocker / "model.pt")


def test_a_folder_refusing_writes_is_a_clear_error(tmp_path, monkeypatch):
    """What a read-only folder does, simulated so it also holds when the tests run as root."""
    path = tmp_path / "model.pt"
    checkpoint.save(make_checkpoint(name="previous"), path)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)
    with pytest.raises(CheckpointError, match="not writable") as caught:
        checkpoint.save(make_checkpoint(name="next"), path)
    monkeypatch.undo()
    assert str(path) in str(caught.value)
    assert checkpoint.load(path).name == "previous"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match="not writable"):
            checkpoint.save(make_checkpoint(), folder / "model.pt")
    finally:
        folder.chmod(0o755)


def test_values_a_safe_load_cannot_read_are_refused_at_save_time(tmp_path):
    with pytest.raises(CheckpointError, match="history"):
        checkpoint.save(make_checkpoint(history={"when": object()}), tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()


# --- bad files ------------------------------------------------------------------------------------


class RunsCode:
    """Unpickling this with a full unpickler would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _good_payload(tmp_path) -> dict:
    checkpoint.save(make_checkpoint(), tmp_path / "good.pt")
    return torch.load(tmp_path / "good.pt", weights_only=True)


def _changed_payload(**changes):
    def write(path, tmp_path):
        payload = _good_payload(tmp_path)
        payload.update(changes)
        torch.save(payload, path)
    return write


def _write_image(path, tmp_path, format_name):
    Image.new("RGB", (8, 8), "white").save(path, format=format_name)


def _with_nan(path, tmp_path):
    payload = _good_payload(tmp_path)
    payload["state_dict"]["output.bias"][0] = float("nan")
    torch.save(payload, path)


def _missing_key(path, tmp_path):
    payload = _good_payload(tmp_path)
    del payload["state_dict"]["output.bias"]
    torch.save(payload, path)


def _truncated(path, tmp_path):
    checkpoint.save(make_checkpoint(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flipped(path, tmp_path):
    checkpoint.save(make_checkpoint(), path)
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 64] = os.urandom(64)
    path.write_bytes(bytes(content))


BAD_FILES = {
    "empty": (lambda path, tmp: path.write_bytes(b""), "empty"),
    "truncated": (_truncated, "truncated or corrupted"),
    "corrupt bytes": (_flipped, "corrupt"),
    "random bytes": (lambda path, tmp: path.write_bytes(os.urandom(4096)), "not a PyTorch model file"),
    "text": (lambda path, tmp: path.write_text("hello"), "not a PyTorch model file"),
    "bare state_dict": (lambda path, tmp: torch.save(build_model(SMALL_MLP).state_dict(), path),
                        "bare network weights"),
    "another model's state_dict": (lambda path, tmp: torch.save(torch.nn.Linear(3, 2).state_dict(), path),
                                   "bare network weights"),
    "random pickle": (lambda path, tmp: path.write_bytes(pickle.dumps({"a": [1, 2, 3]})), "not a PyTorch model file"),
    "torch list": (lambda path, tmp: torch.save([1, 2, 3], path), "not a digitpad model"),
    "foreign dict": (lambda path, tmp: torch.save({"epoch": 3, "model": {}}, path), "not a digitpad model"),
    "PNG renamed": (lambda path, tmp: _write_image(path, tmp, "PNG"), "PNG image"),
    "JPEG renamed": (lambda path, tmp: _write_image(path, tmp, "JPEG"), "JPEG image"),
    "newer format": (_changed_payload(format_version=checkpoint.FORMAT_VERSION + 1), "newer digitpad"),
    "bad format version": (_changed_payload(format_version="one"), "format version"),
    "weights of another shape": (_changed_payload(model_config=ModelConfig(arch="mlp", hidden=(32,)).to_dict()),
                                 "do not fit a MLP 784→32→10"),
    "config of another architecture": (_changed_payload(model_config=ModelConfig().to_dict()), "do not fit a CNN"),
    "invalid config": (_changed_payload(model_config={"arch": "transformer"}), "model description is invalid"),
    "missing config": (_changed_payload(model_config=None), "'model_config' entry"),
    "missing weight": (_missing_key, "missing output.bias"),
    "NaN weights": (_with_nan, "NaN"),
    "other normalization": (_changed_payload(normalization={"mean": 0.5, "std": 0.5}), "normalized with mean 0.5"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_files_raise_one_clear_error(tmp_path, case):
    write, expected = BAD_FILES[case]
    path = tmp_path / "model.pt"
    write(path, tmp_path)

    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path)

    message = str(caught.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="folder"):
        checkpoint.load(tmp_path)


def test_links_that_cannot_be_followed_are_named_as_links(tmp_path):
    loop, dangling = tmp_path / "loop.pt", tmp_path / "dangling.pt"
    loop.symlink_to(loop.name)
    dangling.symlink_to("gone.pt")
    with pytest.raises(CheckpointError, match=r"loop\.pt: it is a symbolic link that cannot be resolved"):
        checkpoint.load(loop)
    with pytest.raises(CheckpointError, match="it is a symbolic link to gone.pt, which does not exist"):
        checkpoint.load(dangling)


@pytest.mark.parametrize("container", ["torch.save", "raw pickle"])
def test_a_malicious_pickle_never_runs(tmp_path, container):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    if container == "torch.save":
        torch.save({"format": "digitpad-checkpoint", "state_dict": RunsCode(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(RunsCode(marker)))

    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path)

    assert not marker.exists()
    assert str(path) in str(caught.value)
