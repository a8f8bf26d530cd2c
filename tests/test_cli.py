from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from digitpad import checkpoint, cli, data, paths
from digitpad.models import build_model
from cli_helpers import assert_one_clean_message, digit_image, run
from fake_mirror import use_unreachable_mirrors

TEST_ACCURACY_LINE = re.compile(r"^test accuracy: (0\.\d{4}|1\.0000)$")
TINY_TRAIN = ["train", "--arch", "mlp", "--hidden", "16", "--batch-size", "64", "--seed", "1", "--no-augment"]


# --- the command line itself ---------------------------------------------------------------------


def test_help_lists_the_commands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("gui", "train", "eval", "predict"):
        assert command in out


def test_train_help_shows_the_defaults(capsys):
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0
    assert "--no-augment" in out and "--batch-size" in out
    assert "default 128 for the CNNs, 512 for the MLP" in " ".join(out.split())


def test_train_takes_the_chosen_architectures_defaults():
    from digitpad.cli.parser import build_parser
    from digitpad.cli.train import train_config
    from digitpad.config import TrainConfig

    mlp = train_config(build_parser().parse_args(["train", "--arch", "mlp", "--epochs", "1"]))
    assert mlp == TrainConfig.defaults_for("mlp", epochs=1)
    cnn = train_config(build_parser().parse_args(["train", "--no-augment", "--lr", "0.01"]))
    assert cnn == TrainConfig.defaults_for("cnn", augment=False, lr=0.01)


@pytest.mark.parametrize("argv", [
    ["frobnicate"],
    ["train", "--epochs", "0"],
    ["train", "--epochs", "many"],
    ["train", "--hidden", "a,b"],
    ["train", "--dropout", "1.5"],
    ["train", "--lr", "-1"],
    ["train", "--arch", "rnn"],
    ["train", "--hidden", "0"],
    ["train", "--non-digits", "1.5"],
    ["train", "--non-digits", "some"],
    ["eval", "--checkpoint"],
    ["predict"],
    ["predict", "--bogus", "x.png"],
    ["train", "--device", "tpu"],
    ["eval", "--device", "gpu"],
], ids=lambda argv: " ".join(argv))
def test_usage_errors_are_one_line_and_exit_2(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert_one_clean_message(err)
    assert err.startswith("digitpad")


@pytest.mark.parametrize("argv", [[], ["gui"], ["gui", "-platform", "offscreen"]])
def test_no_command_opens_the_app(monkeypatch, argv):
    calls = []
    fake_app = types.ModuleType("digitpad.gui.app")
    fake_app.main = lambda qt_argv: calls.append(qt_argv) or 7
    monkeypatch.setitem(sys.modules, "digitpad.gui.app", fake_app)

    assert cli.main(argv) == 7
    assert calls[0][1:] == argv[1:]


# --- train ----------------------------------------------------------------------------------------


def test_train_reports_saves_and_becomes_the_current_model(capsys, fake_mnist, digitpad_home):
    status, out, err = run(capsys, *TINY_TRAIN, "--epochs", "2", "--data-dir", str(fake_mnist["root"]))

    assert status == 0, err
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["epoch 1 validation", "epoch 2 validation"]
    assert TEST_ACCURACY_LINE.match(lines[-1])
    assert float(lines[-1].split()[-1]) > 0.5  # chance is 0.1
    assert "epoch 2/2: 100%" in err and "\r" not in err  # stderr is not a terminal here: plain lines

    current = paths.current_model_path()
    assert current.parent == paths.models_dir()
    saved = checkpoint.load(current)
    assert saved.model_config.hidden == (16,)
    assert len(saved.history["val_accuracy"]) == 2
    assert saved.metrics["test_accuracy"] == pytest.approx(float(lines[-1].split()[-1]), abs=1e-4)
    assert "now the app's current model" in err


def test_train_with_out_leaves_the_current_model_alone(capsys, fake_mnist, tmp_path):
    out_path = tmp_path / "runs" / "mine.pt"
    status, out, err = run(capsys, *TINY_TRAIN, "--epochs", "1", "--data-dir", str(fake_mnist["root"]),
                           "--out", str(out_path))
    assert status == 0, err
    assert checkpoint.load(out_path).name == "mine"
    assert paths.current_model_path() == paths.shipped_model_path()


@pytest.mark.parametrize("arch, name", [("cnn", "a CNN 4/8"), ("vgg", "a deep CNN 4/8")])
def test_train_the_cnns(capsys, fake_mnist, tmp_path, arch, name):
    status, out, err = run(capsys, "train", "--arch", arch, "--channels", "4,8", "--epochs", "1", "--no-augment",
                           "--optimizer", "sgd", "--lr", "0.05", "--data-dir", str(fake_mnist["root"]),
                           "--out", str(tmp_path / "cnn.pt"))
    assert status == 0, err
    assert f"training {name} channels" in err
    assert TEST_ACCURACY_LINE.match(out.strip().splitlines()[-1])
    loaded = checkpoint.load(tmp_path / "cnn.pt")
    assert loaded.model_config.arch == arch and loaded.model_config.channels == (4, 8)
    assert loaded.train_config["optimizer"] == "sgd" and loaded.train_config["augment"] is False


def test_train_from_continues_a_saved_model_with_non_digits(capsys, fake_mnist, tmp_path):
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    data = ["--data-dir", str(fake_mnist["root"])]
    status, _, err = run(capsys, *TINY_TRAIN, "--epochs", "1", *data, "--out", str(first))
    assert status == 0, err
    status, out, err = run(capsys, "train", "--from", str(first), "--epochs", "1", "--lr", "0.0005",
                           "--non-digits", "0.25", *data, "--out", str(second))
    assert status == 0, err
    assert "continuing a MLP 784→16→10" in err
    before, after = checkpoint.load(first), checkpoint.load(second)
    assert after.model_config == before.model_config
    assert after.train_config["non_digit_share"] == 0.25 and after.train_config["lr"] == 0.0005
    # Its curves go on from the first run's.
    assert len(after.history["val_accuracy"]) == 2
    assert after.history["val_accuracy"][0] == before.history["val_accuracy"][0]
    assert after.history["val_step"][1] > after.history["val_step"][0]
    # It went on from the saved weights (a fresh start would have a test accuracy near chance).
    assert after.metrics["test_accuracy"] >= before.metrics["test_accuracy"] - 0.1
    assert any(not torch.equal(before.state_dict[k], after.state_dict[k]) for k in before.state_dict)


def test_train_from_refuses_a_new_architecture_and_a_bad_checkpoint(capsys, small_checkpoint, tmp_path):
    status, out, err = run(capsys, "train", "--from", str(small_checkpoint), "--channels", "4,8")
    assert status == 2 and out == ""
    assert_one_clean_message(err)
    assert "--from keeps the saved model's architecture; drop --channels" in err

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    status, out, err = run(capsys, "train", "--from", str(broken))
    assert status != 0 and out == ""
    assert "Traceback" not in err and str(broken) in err


def test_train_refuses_a_folder_as_out(capsys, fake_mnist, tmp_path):
    status, _, err = run(capsys, *TINY_TRAIN, "--data-dir", str(fake_mnist["root"]), "--out", str(tmp_path))
    assert status == 2
    assert_one_clean_message(err)


def test_train_offline_without_data_is_one_clear_paragraph(capsys, tmp_path, monkeypatch):
    use_unreachable_mirrors(monkeypatch)
    empty = tmp_path / "no-mnist-here"

    status, out, err = run(capsys, *TINY_TRAIN, "--data-dir", str(empty))

    assert status == 1
    assert out == ""
    assert_one_clean_message(err)
    assert str(empty) in err and "--data-dir" in err and "DIGITPAD_DATA_DIR" in err


def test_train_names_a_broken_data_file(capsys, fake_mnist):
    broken = fake_mnist["root"] / "t10k-labels-idx1-ubyte.gz"
    broken.write_bytes(gzip.compress(b"\x00\x00\x08\x01"))
    status, _, err = run(capsys, *TINY_TRAIN, "--data-dir", str(fake_mnist["root"]))
    assert status == 1
    assert_one_clean_message(err)
    assert str(broken) in err


def test_ctrl_c_stops_training_and_still_saves(fake_mnist, tmp_path):
    out_path = tmp_path / "stopped.pt"
    data.load_mnist(fake_mnist["root"], download=False)  # the child then starts from the cache, without torchvision
    env = {**os.environ, "DIGITPAD_ALLOW_SMALL_MNIST": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "digitpad", *TINY_TRAIN, "--epochs", "500", "--data-dir", str(fake_mnist["root"]),
         "--out", str(out_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("epoch 1 validation"), first_line + process.stderr.read()
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped early" in err
    assert TEST_ACCURACY_LINE.match(rest.strip().splitlines()[-1])
    saved = checkpoint.load(out_path)
    assert saved.metrics["stopped_early"] is True
    assert 1 <= len(saved.history["val_accuracy"]) < 500


def test_every_command_takes_a_device(capsys):
    for command in ("train", "eval", "predict"):
        status, out, _ = run(capsys, command, "--help")
        assert status == 0 and "--device {auto,cpu,cuda,mps}" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "eval", "predict"])
def test_asking_for_cuda_without_it_is_one_clear_error(capsys, command, fake_mnist, small_checkpoint, tmp_path):
    argv = {"train": [*TINY_TRAIN, "--data-dir", str(fake_mnist["root"]), "--out", str(tmp_path / "m.pt")],
            "eval": ["eval", "--checkpoint", str(small_checkpoint), "--data-dir", str(fake_mnist["root"])],
            "predict": ["predict", "--checkpoint", str(small_checkpoint), str(tmp_path / "any.png")]}[command]
    status, out, err = run(capsys, *argv, "--device", "cuda")
    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert err.startswith(f"digitpad {command}: the device 'cuda' is not available")
    assert not (tmp_path / "m.pt").exists()


def test_train_records_where_it_trained(capsys, fake_mnist, tmp_path):
    out_path = tmp_path / "cpu.pt"
    status, _, err = run(capsys, *TINY_TRAIN, "--epochs", "1", "--device", "cpu", "--data-dir", str(fake_mnist["root"]),
                         "--out", str(out_path))
    assert status == 0, err
    assert "on CPU" in err
    saved = checkpoint.load(out_path)
    assert saved.metrics["device"] == "cpu" and saved.metrics["processes"] == 1
    assert saved.train_config["device"] == "cpu"


# --- eval -----------------------------------------------------------------------------------------


def test_eval_prints_accuracy_and_per_digit_accuracy(capsys, fake_mnist, small_checkpoint):
    status, out, err = run(capsys, "eval", "--checkpoint", str(small_checkpoint), "--data-dir", str(fake_mnist["root"]))

    assert status == 0, err
    lines = out.splitlines()
    assert any(TEST_ACCURACY_LINE.match(line) for line in lines)
    per_digit = [line for line in lines if re.match(r"^  \d: \d\.\d{4}  \(\d+/10\)$", line)]
    assert [line.split(":")[0].strip() for line in per_digit] == [str(d) for d in range(10)]


def test_eval_accuracy_matches_the_predictions(capsys, fake_mnist, small_checkpoint):
    loaded = checkpoint.load(small_checkpoint)
    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.eval()
    test = data.load_mnist(fake_mnist["root"], download=False)
    with torch.no_grad():
        expected = (model(test.test_images).argmax(1) == test.test_labels).float().mean().item()

    _, out, _ = run(capsys, "eval", "--checkpoint", str(small_checkpoint), "--data-dir", str(fake_mnist["root"]))

    assert f"test accuracy: {expected:.4f}" in out.splitlines()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_eval_and_predict_give_the_same_answers_on_any_device(capsys, fake_mnist, small_checkpoint, tmp_path, device):
    digit_image().save(tmp_path / "seven.png")
    data_dir = ["--data-dir", str(fake_mnist["root"])]
    _, on_cpu, _ = run(capsys, "eval", "--checkpoint", str(small_checkpoint), *data_dir, "--device", "cpu")
    _, on_device, err = run(capsys, "eval", "--checkpoint", str(small_checkpoint), *data_dir, "--device", device)
    losses = [float(re.search(r"test loss: ([\d.]+)", text).group(1)) for text in (on_cpu, on_device)]
    assert losses[1] == pytest.approx(losses[0], abs=1e-3), err
    without_loss = [[line for line in text.splitlines() if "loss" not in line] for text in (on_cpu, on_device)]
    assert without_loss[1] == without_loss[0]
    predict = ["predict", "--json", "--checkpoint", str(small_checkpoint), str(tmp_path / "seven.png")]
    _, default_json, _ = run(capsys, *predict, "--device", "cpu")
    _, device_json, _ = run(capsys, *predict, "--device", device)
    assert json.loads(device_json)[0]["digit"] == json.loads(default_json)[0]["digit"]
    assert json.loads(device_json)[0]["confidence"] == pytest.approx(json.loads(default_json)[0]["confidence"], abs=1e-4)


def test_eval_uses_the_current_model(capsys, fake_mnist, small_checkpoint, monkeypatch):
    paths.set_current_model(small_checkpoint)
    monkeypatch.setenv("DIGITPAD_DATA_DIR", str(fake_mnist["root"]))
    status, out, _ = run(capsys, "eval")
    assert status == 0
    assert str(small_checkpoint) in out


def test_a_vanished_current_model_falls_back_to_the_shipped_one(capsys, fake_mnist, small_checkpoint, tmp_path,
                                                               monkeypatch):
    gone = tmp_path / "gone.pt"
    paths.set_current_model(gone)
    monkeypatch.setattr(paths, "shipped_model_path", lambda: small_checkpoint)

    status, out, err = run(capsys, "eval", "--data-dir", str(fake_mnist["root"]))

    assert status == 0
    assert str(gone) in err and "shipped model" in err
    assert str(small_checkpoint) in out


def test_no_model_at_all_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "shipped_model_path", lambda: tmp_path / "missing.pt")
    status, _, err = run(capsys, "predict", "x.png")
    assert status == 1
    assert_one_clean_message(err)
    assert "digitpad train" in err and "--checkpoint" in err


@pytest.mark.parametrize("case", ["broken", "deleted"])
def test_a_bad_current_model_and_no_shipped_model_are_both_named(capsys, tmp_path, monkeypatch, case):
    shipped = tmp_path / "resources" / "model.pt"
    monkeypatch.setattr(paths, "shipped_model_path", lambda: shipped)
    mine = tmp_path / "mine.pt"
    if case == "broken":
        mine.write_bytes(b"not a model")
    paths.set_current_model(mine)

    status, out, err = run(capsys, "predict", "x.png")

    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert str(mine) in err and ("no longer exists" if case == "deleted" else "not a PyTorch model file") in err
    assert "No shipped model is available either" in err and str(shipped) in err
    assert "Using the shipped model" not in err
    assert "digitpad train" in err and "--checkpoint" in err


def test_a_broken_current_model_falls_back_to_the_shipped_one(capsys, small_checkpoint, tmp_path, monkeypatch):
    """As in the app: the user's broken model is named, and the shipped model answers."""
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    paths.set_current_model(broken)
    monkeypatch.setattr(paths, "shipped_model_path", lambda: small_checkpoint)
    image = tmp_path / "seven.png"
    digit_image().save(image)

    status, out, err = run(capsys, "predict", str(image))

    assert status == 0 and out.startswith(f"{image} ")
    assert_one_clean_message(err)
    assert str(broken) in err and "Using the shipped model instead." in err


def test_eval_reports_a_bad_checkpoint(capsys, tmp_path, fake_mnist):
    fake = tmp_path / "picture.pt"
    digit_image().save(fake, format="PNG")
    status, out, err = run(capsys, "eval", "--checkpoint", str(fake), "--data-dir", str(fake_mnist["root"]))
    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert str(fake) in err and "PNG image" in err


def test_a_headless_command_ends_with_its_output_out_and_exit_handlers_run(fake_mnist, tmp_path):
    """``run`` ends train/eval/predict without Python's teardown: nothing written may be lost."""
    out_path = tmp_path / "model.pt"
    marker = tmp_path / "exit-handler-ran"
    data.load_mnist(fake_mnist["root"], download=False)
    child = (
        "import atexit, pathlib, sys\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
        f"sys.argv = ['digitpad', *{TINY_TRAIN!r}, '--epochs', '1', '--data-dir', {str(fake_mnist['root'])!r},"
        f" '--out', {str(out_path)!r}]\n"
        "from digitpad.cli import run\n"
        "run()\n"
    )
    env = {**os.environ, "DIGITPAD_ALLOW_SMALL_MNIST": "1"}
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=120)

    assert done.returncode == 0, done.stderr
    assert TEST_ACCURACY_LINE.match(done.stdout.strip().splitlines()[-1])  # the last line reached the pipe
    assert marker.read_text() == "yes"
    assert checkpoint.load(out_path).metrics["test_accuracy"] == pytest.approx(
        float(done.stdout.split()[-1]), abs=1e-4)


def test_a_headless_command_that_fails_still_exits_with_its_status(tmp_path):
    done = subprocess.run([sys.executable, "-m", "digitpad", "eval", "--checkpoint", str(tmp_path / "missing.pt")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "missing.pt" in done.stderr
