"""``digitpad eval`` (its confusion matrix, and ``--images DIR``) and ``digitpad teach``."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from digitpad import answers, checkpoint, evaluation, paths
from digitpad.collection import strokes_beside
from digitpad.config import TrainConfig
from digitpad.data import load_mnist
from digitpad.image_files import load_labelled_folder
from digitpad.inference import Classifier
from digitpad.models import build_model
from digitpad.preprocess import normalize
from digitpad.stroke_reader import StrokeReader
from digitpad.strokes import Stroke
from digitpad.training import fit
from cli_helpers import assert_one_clean_message, digit_image, run, without_progress
from drawing_fakes import fill_collection

ACCURACY_LAST = re.compile(r"^accuracy: (0\.\d{4}|1\.0000)$")


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """Tiny models gain nothing from more threads, and on a busy machine they wait for one another."""
    from digitpad import training

    threads = torch.get_num_threads()
    monkeypatch.setattr(training, "training_threads", lambda leave_core_for_gui: 1)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_model(tmp_path, fake_mnist) -> tuple:
    """A tiny CNN trained on the fake MNIST, saved; with the data it was trained on."""
    data = load_mnist(fake_mnist["root"], download=False)
    config = TrainConfig.defaults_for("cnn", channels=(4, 8), epochs=1, batch_size=64, validation_size=100,
                                      augment=False)
    result = list(fit(config, data))[-1]
    path = tmp_path / "tiny.pt"
    checkpoint.save(checkpoint.from_result(result, "tiny"), path)
    return path, result, data


@pytest.fixture
def tiny_model_with_reader(tmp_path, tiny_model) -> Path:
    """The tiny CNN with an untrained stroke reader beside it, saved."""
    torch.manual_seed(0)
    path = tmp_path / "with-reader.pt"
    checkpoint.save(dataclasses.replace(checkpoint.load(tiny_model[0]), stroke_reader=StrokeReader().state_dict()), path)
    return path


def per_digit_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"^  \d: (\d\.\d{4}|  n/a )  \(\d+/\d+\)$", line)]


def confusion_rows(out: str) -> np.ndarray:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("true\\answer"))
    return np.array([[int(n) for n in line.split()[1:]] for line in lines[header + 1 : header + 11]])


# --- eval ---------------------------------------------------------------------------------------


def test_eval_prints_the_confusion_matrix_after_the_per_digit_accuracy(capsys, fake_mnist, tiny_model):
    path, _, data = tiny_model
    status, out, err = run(capsys, "eval", "--checkpoint", str(path), "--data-dir", str(fake_mnist["root"]))

    assert status == 0, err
    model = build_model(checkpoint.load(path).model_config)
    model.load_state_dict(checkpoint.load(path).state_dict)
    expected = evaluation.evaluate_fully(model, data.test_images, data.test_labels)
    assert np.array_equal(confusion_rows(out), expected.confusion)
    lines = out.splitlines()
    assert lines.index(per_digit_lines(out)[-1]) < next(i for i, line in enumerate(lines) if line.startswith("confusion matrix"))
    assert f"test accuracy: {expected.accuracy:.4f}" in lines

    # The second time it comes from the cache, with the same figures.
    assert evaluation.load_cached(path, evaluation.data_key(data.test_images, data.test_labels)) is not None
    assert run(capsys, "eval", "--checkpoint", str(path), "--data-dir", str(fake_mnist["root"]))[1] == out


@pytest.fixture
def drawings_folder(tmp_path):
    root = tmp_path / "drawings"
    fill_collection(root, per_digit=2, digits=(1, 4, 7))
    (root / "7" / "seven-on-paper.png").parent.mkdir(parents=True, exist_ok=True)
    digit_image().save(root / "7" / "seven-on-paper.png")
    return root


def test_eval_images_measures_labelled_drawings(capsys, tiny_model, drawings_folder):
    path, _, _ = tiny_model
    status, out, err = run(capsys, "eval", "--checkpoint", str(path), "--images", str(drawings_folder))

    assert status == 0, err
    assert without_progress(err) == ""
    assert "reading them as pictures: 100%" in err and "| 7/7 " in err  # progress while it reads
    loaded = load_labelled_folder(drawings_folder)
    model = build_model(checkpoint.load(path).model_config)
    model.load_state_dict(checkpoint.load(path).state_dict)
    expected = evaluation.evaluate_fully(model, normalize(loaded.images), loaded.labels)
    lines = out.splitlines()
    assert ACCURACY_LAST.match(lines[-1]) and lines[-1] == f"accuracy: {expected.accuracy:.4f}"
    assert f"drawings: 7 in {drawings_folder}" in out
    digits = per_digit_lines(out)
    assert len(digits) == 10 and "n/a" in digits[0] and digits[7].endswith(f"({expected.confusion[7, 7]}/3)")
    assert np.array_equal(confusion_rows(out), expected.confusion)


def test_eval_images_reports_and_skips_bad_files(capsys, tiny_model, drawings_folder):
    path, _, _ = tiny_model
    (drawings_folder / "4" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    Image.new("L", (30, 30), 0).save(drawings_folder / "1" / "blank.png")

    status, out, err = run(capsys, "eval", "--checkpoint", str(path), "--images", str(drawings_folder))

    assert status == 1
    assert "Traceback" not in err
    assert len(without_progress(err).strip().splitlines()) == 2
    assert "broken.png" in err and "blank.png" in err
    assert "drawings: 7 in" in out and "2 skipped" in out
    assert ACCURACY_LAST.match(out.splitlines()[-1])


def answer_rows(out: str) -> dict[str, list[str]]:
    """The rows of eval --images's table of the app's answers, by what was read."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith(("| as a picture", "| from its strokes"))]
    return {row[0]: row[1:] for row in rows}


def expected_row(read: answers.Answers) -> list[str]:
    shares = (read.accuracy, read.named_right, read.unsure_share, read.right_when_sure, read.not_a_digit_share)
    return [str(read.count)] + ["n/a" if share != share else f"{share:.2%}" for share in shares]


def test_eval_images_gives_the_apps_answers_as_pictures_and_as_drawn(capsys, tiny_model_with_reader,
                                                                      drawings_folder):
    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model_with_reader), "--images",
                           str(drawings_folder))

    assert status == 0, err
    classifier = Classifier.from_path(tiny_model_with_reader)
    loaded = load_labelled_folder(drawings_folder)
    with_strokes = [index for index, path in enumerate(loaded.paths) if path.with_suffix(".json").exists()]
    pictures = answers.as_pictures(classifier, loaded.images, loaded.labels)
    drawn = answers.as_drawn(classifier, [strokes_beside(loaded.paths[index]) for index in with_strokes],
                             loaded.labels[with_strokes])
    rows = answer_rows(out)
    assert rows == {"as a picture, like predict": expected_row(pictures),
                    "from its strokes, like the canvas": expected_row(drawn)}
    assert drawn.count == 6 and pictures.count == 7  # the seven drawn on paper kept no strokes
    canvas, picture = drawn.right, pictures.right[with_strokes]
    assert (f"the 6 drawn with strokes, canvas against picture: both right {np.sum(canvas & picture)}, only the "
            f"canvas right {np.sum(canvas & ~picture)}, only the picture right {np.sum(~canvas & picture)}, both "
            f"wrong {np.sum(~canvas & ~picture)}") in out
    assert ACCURACY_LAST.match(out.splitlines()[-1])


def test_eval_images_measures_a_drawing_with_unusable_strokes_as_a_picture(capsys, tiny_model, drawings_folder):
    damaged = next((drawings_folder / "4").glob("*.json"))
    damaged.write_text("{ not json")

    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model[0]), "--images", str(drawings_folder))

    assert status == 1
    assert_one_clean_message(without_progress(err))
    assert str(damaged) in err and "measured as a picture only" in err
    assert "reading them from their strokes: 100%" in err and "| 5/5 " in err  # the 5 with usable strokes
    rows = answer_rows(out)
    assert rows["as a picture, like predict"][0] == "7" and rows["from its strokes, like the canvas"][0] == "5"
    assert ACCURACY_LAST.match(out.splitlines()[-1])


def test_eval_images_of_pictures_only_says_no_strokes_were_kept(capsys, tiny_model, tmp_path):
    (tmp_path / "pictures" / "7").mkdir(parents=True)
    digit_image().save(tmp_path / "pictures" / "7" / "seven.png")

    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model[0]), "--images", str(tmp_path / "pictures"))

    assert status == 0, err
    assert list(answer_rows(out)) == ["as a picture, like predict"]
    assert "from their strokes, like the canvas: none kept its strokes" in out


def test_eval_images_reads_strokes_written_elsewhere_in_the_readmes_form(capsys, tiny_model_with_reader, tmp_path):
    root = tmp_path / "tablet" / "7"
    root.mkdir(parents=True)
    digit_image().save(root / "a.png")
    (root / "a.json").write_text('{"format": "digitpad-drawing", "format_version": 1,\n "strokes": [{"width": 0.08, '
                                 '"points": [[-0.1, -0.2], [0.1, -0.2], [0.0, 0.25]]}]}')

    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model_with_reader), "--images",
                           str(tmp_path / "tablet"))

    assert status == 0, err
    seven = [Stroke(0.08, [(-0.1, -0.2), (0.1, -0.2), (0.0, 0.25)])]
    expected = answers.as_drawn(Classifier.from_path(tiny_model_with_reader), [seven], [7])
    assert answer_rows(out)["from its strokes, like the canvas"] == expected_row(expected)


def test_eval_images_without_a_folder_measures_the_apps_collection(capsys, tiny_model, digitpad_home):
    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model[0]), "--images")
    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert "You have collected no drawings yet" in err and str(paths.my_digits_dir()) in err

    fill_collection(paths.my_digits_dir(), per_digit=1)
    status, out, err = run(capsys, "eval", "--checkpoint", str(tiny_model[0]), "--images")

    assert status == 0, err
    assert f"drawings: 10 in {paths.my_digits_dir()}" in out
    assert answer_rows(out)["from its strokes, like the canvas"][0] == "10"


@pytest.mark.parametrize("case", ["empty folder", "wrong layout", "missing", "only unreadable"])
def test_eval_images_errors_are_one_clear_message(capsys, tmp_path, tiny_model, case):
    path, _, _ = tiny_model
    root = tmp_path / "mine"
    if case == "empty folder":
        root.mkdir()
    elif case == "wrong layout":
        root.mkdir()
        digit_image().save(root / "seven.png")
    elif case == "only unreadable":
        (root / "3").mkdir(parents=True)
        (root / "3" / "x.png").write_bytes(b"nope")

    status, out, err = run(capsys, "eval", "--checkpoint", str(path), "--images", str(root))

    assert status == 1
    assert "accuracy" not in out
    lines = err.strip().splitlines()
    assert "Traceback" not in err and str(root) in lines[-1]
    assert len(lines) == 1, err
    if case == "only unreadable":
        assert "x.png" in err


def test_eval_images_and_data_dir_together_is_a_usage_error(capsys, tiny_model, tmp_path):
    status, _, err = run(capsys, "eval", "--checkpoint", str(tiny_model[0]), "--images", str(tmp_path),
                         "--data-dir", str(tmp_path))
    assert status == 2
    assert_one_clean_message(err)


# --- teach --------------------------------------------------------------------------------------


def test_teach_makes_a_new_current_model(capsys, fake_mnist, tiny_model, tmp_path, digitpad_home):
    path, trained, _ = tiny_model
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=2)
    paths.set_current_model(path)

    status, out, err = run(capsys, "teach", str(collection), "--epochs", "1", "--data-dir", str(fake_mnist["root"]))

    assert status == 0, err
    assert "Traceback" not in err
    current = paths.current_model_path()
    assert current != path and current.parent == paths.models_dir() and current.name.startswith("taught-")
    assert f"saved the model to {current}; it is now the app's current model" in err
    lines = out.splitlines()
    assert lines[0].startswith("epoch 1 held-out drawings: loss ")
    assert lines[1] == "taught 10 drawings, held out 10 (seed 0)"
    before, after = (float(x) for x in re.match(r"held-out drawings: before (\S+), after (\S+)$", lines[2]).groups())
    assert re.match(r"^MNIST test accuracy: before \d\.\d{4}, after \d\.\d{4}$", lines[-1])
    assert f"before {trained.test_accuracy:.4f}" in lines[-1]
    taught = checkpoint.load(current)
    assert taught.train_config["kind"] == "teach" and taught.metrics["stopped_early"] is False
    assert not torch.equal(taught.state_dict["fc2.weight"], trained.state_dict["fc2.weight"])
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0


def test_teach_out_writes_only_there(capsys, fake_mnist, tiny_model, tmp_path):
    path, _, _ = tiny_model
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=1)
    out_path = tmp_path / "taught.pt"

    status, out, err = run(capsys, "teach", str(collection), "--from", str(path), "--holdout", "0", "--epochs", "1",
                           "--data-dir", str(fake_mnist["root"]), "--out", str(out_path))

    assert status == 0, err
    assert checkpoint.load(out_path).train_config["holdout_fraction"] == 0.0
    assert "held-out" not in out and out.splitlines()[0] == "taught 10 drawings, held out 0 (seed 0)"
    assert not paths.models_dir().exists() or not list(paths.models_dir().iterdir())
    assert paths.current_model_path() == paths.shipped_model_path()


def test_teach_teaches_the_models_stroke_reader_too(capsys, fake_mnist, tiny_model_with_reader, tmp_path):
    with_reader = tiny_model_with_reader
    reader = checkpoint.load(with_reader).stroke_reader
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=1)
    status, _, err = run(capsys, "teach", str(collection), "--from", str(with_reader), "--holdout", "0",
                         "--epochs", "1", "--data-dir", str(fake_mnist["root"]), "--out", str(tmp_path / "taught.pt"))
    assert status == 0, err
    taught = checkpoint.load(tmp_path / "taught.pt")
    changed = {key for key, tensor in reader.items() if not torch.equal(taught.stroke_reader[key], tensor)}
    assert changed == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}  # the convolutions are kept


@pytest.mark.parametrize("case", ["empty folder", "too few", "wrong layout", "missing", "no collection yet"])
def test_teach_errors_are_one_clear_message(capsys, fake_mnist, tiny_model, tmp_path, case):
    path, _, _ = tiny_model
    root = tmp_path / "mine"
    if case == "empty folder":
        root.mkdir()
        (root / "3").mkdir()
    elif case == "too few":
        fill_collection(root, per_digit=1, digits=(1, 2, 3))
    elif case == "wrong layout":
        root.mkdir()
        digit_image().save(root / "seven.png")
    argv = ["teach"] if case == "no collection yet" else ["teach", str(root)]

    status, out, err = run(capsys, *argv, "--from", str(path), "--data-dir", str(fake_mnist["root"]))

    assert status == 1 and out == ""
    assert_one_clean_message(err)
    expected = {"empty folder": "draw at least 10 more", "too few": "has 3: draw at least 7 more",
                "wrong layout": "no digit folders", "missing": "does not exist",
                "no collection yet": "has 0: draw at least 10 more"}[case]
    assert expected in err


def test_teach_reports_unreadable_drawings_and_teaches_from_the_rest(capsys, fake_mnist, tiny_model, tmp_path):
    path, _, _ = tiny_model
    root = tmp_path / "mine"
    fill_collection(root, per_digit=1)
    (root / "5" / "broken.png").write_bytes(b"broken")

    status, out, err = run(capsys, "teach", str(root), "--from", str(path), "--epochs", "1", "--holdout", "0",
                           "--data-dir", str(fake_mnist["root"]), "--out", str(tmp_path / "t.pt"))

    assert status == 0, err
    assert "broken.png" in err and "Traceback" not in err
    assert out.splitlines()[0] == "taught 10 drawings, held out 0 (seed 0)"


@pytest.mark.parametrize("argv", [["--holdout", "1.5"], ["--holdout", "x"], ["--epochs", "0"]])
def test_teach_usage_errors_exit_2(capsys, argv):
    status, _, err = run(capsys, "teach", *argv)
    assert status == 2
    assert_one_clean_message(err)


class CtrlC:
    """stop_on_interrupt's event, as if Ctrl+C was pressed once after ``checks`` looks at it."""

    def __init__(self, checks: int):
        self.checks = checks

    def __call__(self, message):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def is_set(self) -> bool:
        self.checks -= 1
        return self.checks < 0


@pytest.mark.parametrize("checks", [0, 14])  # before anything; after the 10 drawings' replays and 4 steps
def test_teach_stopped_with_ctrl_c_keeps_the_model_in_use(capsys, fake_mnist, tiny_model, tmp_path, monkeypatch,
                                                          checks):
    path, _, _ = tiny_model
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=1)
    paths.set_current_model(path)
    monkeypatch.setattr("digitpad.cli.teach.stop_on_interrupt", CtrlC(checks))

    status, out, err = run(capsys, "teach", str(collection), "--holdout", "0", "--data-dir", str(fake_mnist["root"]))

    assert status == 130
    assert "Traceback" not in err
    assert paths.current_model_path() == path
    if checks == 0:
        assert "stopped before the first teaching step; nothing was saved" in err
        assert not paths.models_dir().exists() or not list(paths.models_dir().iterdir())
    else:
        (saved,) = paths.models_dir().iterdir()
        assert f"saved the model to {saved}; it was stopped early, so the model in use stays current" in err
        assert checkpoint.load(saved).metrics["stopped_early"] is True


def test_teach_takes_a_device_and_teaches_there(capsys, fake_mnist, tiny_model, tmp_path):
    path, _, _ = tiny_model
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=1)
    status, out, _ = run(capsys, "teach", "--help")
    assert status == 0 and "--device {auto,cpu,cuda,mps}" in out
    out_path = tmp_path / "taught.pt"
    status, _, err = run(capsys, "teach", str(collection), "--from", str(path), "--epochs", "1", "--device", "cpu",
                         "--data-dir", str(fake_mnist["root"]), "--out", str(out_path))
    assert status == 0, err
    assert checkpoint.load(out_path).train_config["device"] == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_teach_on_cuda_without_it_is_one_clear_error(capsys, fake_mnist, tiny_model, tmp_path):
    path, _, _ = tiny_model
    collection = tmp_path / "my-digits"
    fill_collection(collection, per_digit=1)
    status, out, err = run(capsys, "teach", str(collection), "--from", str(path), "--device", "cuda",
                           "--data-dir", str(fake_mnist["root"]), "--out", str(tmp_path / "taught.pt"))
    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert err.startswith("digitpad teach: the device 'cuda' is not available")
    assert not (tmp_path / "taught.pt").exists()
