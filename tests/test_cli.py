from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from digitpad import checkpoint, cli, data, paths
from digitpad.image_files import read_image
from digitpad.inference import NOT_A_DIGIT_BELOW
from digitpad.models import build_model
from bad_checkpoints import good_checkpoint
from cli_helpers import assert_one_clean_message, digit_image, run
from fake_mirror import use_unreachable_mirrors

TEST_ACCURACY_LINE = re.compile(r"^test accuracy: (0\.\d{4}|1\.0000)$")
TINY_TRAIN = ["train", "--arch", "mlp", "--hidden", "16", "--batch-size", "64", "--seed", "1", "--no-augment"]


@pytest.fixture
def small_checkpoint(tmp_path) -> Path:
    """An untrained small MLP saved as a checkpoint: enough to test formats, not accuracy."""
    return good_checkpoint(tmp_path / "small.pt", name="small")


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


# --- predict --------------------------------------------------------------------------------------


def test_predict_prints_path_digit_confidence(capsys, small_checkpoint, tmp_path):
    dark_on_light = tmp_path / "seven.png"
    light_on_dark = tmp_path / "seven inverted.png"
    digit_image().save(dark_on_light)
    digit_image(ink=255, paper=0).save(light_on_dark)

    status, out, err = run(capsys, "predict", "--checkpoint", str(small_checkpoint), str(dark_on_light),
                           str(light_on_dark))

    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, (dark_on_light, light_on_dark)):
        assert line.startswith(f"{path} ")
        digit, confidence = line[len(str(path)) + 1:].split()
        assert re.fullmatch(r"[0-9]|not-a-digit", digit) and re.match(r"^[01]\.\d{4}$", confidence)
    assert lines[0].split()[-2:] == lines[1].split()[-2:]  # polarity does not matter


def _animated_gif(path: Path) -> None:
    first = digit_image().convert("P")
    second = Image.new("L", first.size, 0).convert("P")  # blank: reading it instead would find no digit
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)


def _sixteen_bit_png(path: Path) -> None:
    pixels = np.asarray(digit_image(), dtype=np.uint16) * 257
    Image.fromarray(pixels).save(path)  # mode I;16


def _huge_png(path: Path) -> None:
    digit_image(size=10_000, ink=0, paper=1, mode="1").save(path)


def _cmyk_jpeg(path: Path) -> None:
    digit_image(mode="RGB").convert("CMYK").save(path, format="JPEG")


def _transparent_png(path: Path) -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(60, 40), (140, 40), (80, 170)], fill=(0, 0, 0, 255), width=16)
    image.save(path)


GOOD_ODD_IMAGES = {
    "animated.gif": _animated_gif,
    "sixteen-bit.png": _sixteen_bit_png,
    "huge.png": _huge_png,
    "cmyk.jpg": _cmyk_jpeg,
    "transparent.png": _transparent_png,
    "photo.jpg": lambda path: digit_image(mode="RGB", ink=40, paper=200).save(path, quality=70),
}
BAD_INPUTS = {
    "empty.png": (lambda path: path.write_bytes(b""), "empty"),
    "folder.png": (lambda path: path.mkdir(), "folder"),
    "missing.png": (lambda path: None, "no such file"),
    "text.png": (lambda path: path.write_text("not an image"), "not an image"),
    "broken.png": (lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64)), "image"),
    "blank.png": (lambda path: Image.new("L", (100, 100), 255).save(path), "no digit"),
}


def test_predict_json_reports_bad_files_and_classifies_the_rest(capsys, small_checkpoint, tmp_path):
    names = []
    for name, make in GOOD_ODD_IMAGES.items():
        make(tmp_path / name)
        names.append(str(tmp_path / name))
    for name, (make, _) in BAD_INPUTS.items():
        make(tmp_path / name)
        names.append(str(tmp_path / name))

    status, out, _ = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint), *names)

    assert status == 1
    results = json.loads(out)
    assert [result["path"] for result in results] == names
    by_name = {Path(result["path"]).name: result for result in results}
    for name in GOOD_ODD_IMAGES:
        result = by_name[name]
        assert "error" not in result, result
        top = max(range(10), key=lambda digit: result["probabilities"][digit])
        assert result["digit"] == (None if result["not_a_digit"] else top)
        assert result["not_a_digit"] == (result["confidence"] < NOT_A_DIGIT_BELOW)
        assert len(result["probabilities"]) == 10 and sum(result["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert result["confidence"] == pytest.approx(max(result["probabilities"]), abs=1e-6)
    for name, (_, expected) in BAD_INPUTS.items():
        assert set(by_name[name]) == {"path", "error"}
        assert expected in by_name[name]["error"]


def test_predict_names_links_that_cannot_be_followed(capsys, small_checkpoint, tmp_path):
    loop, dangling = tmp_path / "loop.png", tmp_path / "dangling.png"
    loop.symlink_to(loop.name)
    dangling.symlink_to("nowhere.png")
    (tmp_path / "round").symlink_to("round")
    through_a_loop = tmp_path / "round" / "seven.png"

    status, out, err = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint),
                           str(loop), str(dangling), str(through_a_loop), str(tmp_path / "missing.png"))

    assert status == 1
    errors = [result["error"] for result in json.loads(out)]
    assert errors == [
        "it is a symbolic link that cannot be resolved (the links lead round in a loop)",
        "it is a symbolic link to nowhere.png, which does not exist",
        "a folder on its way is a symbolic link that cannot be resolved (the links lead round in a loop)",
        "no such file",
    ]


def test_predict_text_mode_reports_each_bad_file_on_stderr(capsys, small_checkpoint, tmp_path):
    good = tmp_path / "seven.png"
    digit_image().save(good)
    status, out, err = run(capsys, "predict", "--checkpoint", str(small_checkpoint), str(tmp_path / "nope.png"),
                           str(good))
    assert status == 1
    assert out.startswith(f"{good} ")
    assert_one_clean_message(err)
    assert "nope.png" in err


def test_predict_all_good_exits_zero_with_json(capsys, small_checkpoint, tmp_path):
    good = tmp_path / "seven.png"
    digit_image().save(good)
    status, out, _ = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint), str(good))
    assert status == 0
    assert len(json.loads(out)) == 1


def test_odd_formats_read_like_the_plain_image(tmp_path):
    from digitpad.preprocess import to_mnist_image

    reference = to_mnist_image(np.asarray(digit_image()))
    for name, make in (("sixteen-bit.png", _sixteen_bit_png), ("animated.gif", _animated_gif),
                       ("cmyk.jpg", _cmyk_jpeg)):
        make(tmp_path / name)
        assert np.abs(to_mnist_image(read_image(tmp_path / name)) - reference).max() < 0.2, name


def test_a_huge_image_is_shrunk_before_preprocessing(tmp_path):
    _huge_png(tmp_path / "huge.png")
    started = time.perf_counter()
    pixels = read_image(tmp_path / "huge.png")
    assert max(pixels.shape) <= 2048
    assert time.perf_counter() - started < 30  # generous: this guards against a hang, not a speed


def test_the_shipped_model_reads_real_digits_in_both_polarities(capsys, shared_mnist, tmp_path):
    shipped = paths.shipped_model_path()
    if not shipped.is_file():
        pytest.skip("no shipped model yet")
    with gzip.open(shared_mnist / "t10k-images-idx3-ubyte.gz") as stream:
        images = np.frombuffer(stream.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:20]
    with gzip.open(shared_mnist / "t10k-labels-idx1-ubyte.gz") as stream:
        labels = np.frombuffer(stream.read(), dtype=np.uint8, offset=8)[:20]
    files = []
    for index, pixels in enumerate(images):
        large = Image.fromarray(pixels).resize((280, 280), Image.Resampling.BILINEAR)
        large.save(tmp_path / f"light-on-dark-{index}.png")
        Image.fromarray(255 - np.asarray(large)).save(tmp_path / f"dark-on-light-{index}.png")
        files += [tmp_path / f"light-on-dark-{index}.png", tmp_path / f"dark-on-light-{index}.png"]

    status, out, err = run(capsys, "predict", "--json", *map(str, files))

    assert status == 0, err
    predicted = [result["digit"] for result in json.loads(out)]
    expected = [int(label) for label in labels for _ in range(2)]
    assert sum(p == e for p, e in zip(predicted, expected)) >= 38


def test_predict_says_not_a_digit_of_a_drawing_that_is_none(capsys, shared_mnist, tmp_path):
    if not paths.shipped_model_path().is_file():
        pytest.skip("no shipped model yet")
    house = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(house)
    pen.line([(60, 240), (60, 130), (220, 130), (220, 240), (60, 240)], fill=0, width=14, joint="curve")
    pen.line([(60, 130), (140, 40), (220, 130)], fill=0, width=14, joint="curve")
    house.save(tmp_path / "house.png")
    digit_image().save(tmp_path / "seven.png")

    status, out, err = run(capsys, "predict", "--json", str(tmp_path / "house.png"), str(tmp_path / "seven.png"))

    assert status == 0, err
    house_result, seven_result = json.loads(out)
    assert house_result["digit"] is None and house_result["not_a_digit"] is True and house_result["unsure"]
    assert seven_result["digit"] == 7 and seven_result["not_a_digit"] is False
    status, out, _ = run(capsys, "predict", str(tmp_path / "house.png"))
    assert out.split()[1] == "not-a-digit"


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
