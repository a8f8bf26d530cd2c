"""Issue 6, core and command line: bad model files, failed saves, broken or interrupted data,
and odd `digitpad predict` inputs. Each ends in one clear message, never a traceback,
and loses nothing. The map from the issue's items to tests is in tests/gui/reliability_checks.py.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bad_checkpoints import BAD_CHECKPOINTS, code_ran, good_checkpoint, write_bad
from cli_helpers import assert_one_clean_message, digit_image, run
from digitpad import checkpoint, data, mnist_download
from digitpad.checkpoint import CheckpointError
from digitpad.image_files import read_image
from fake_mirror import UNREACHABLE_MIRROR, use_unreachable_mirrors
from faults import fill_disk_in, hidden_leftovers, refuse_new_files_in, set_idx_magic, truncate_file


# ------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_a_bad_model_file_is_one_clear_error_and_runs_nothing(tmp_path, case):
    path = tmp_path / "model.pt"
    expected = write_bad(case, path, tmp_path / "scratch")

    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path)

    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message
    assert not code_ran(tmp_path / "scratch")


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_predict_with_a_bad_model_file_says_why_and_runs_nothing(capsys, tmp_path, case):
    path = tmp_path / "model.pt"
    expected = write_bad(case, path, tmp_path / "scratch")
    image = tmp_path / "seven.png"
    digit_image().save(image)

    status, out, err = run(capsys, "predict", "--checkpoint", str(path), str(image))

    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert expected in err and str(path) in err
    assert not code_ran(tmp_path / "scratch")


# ---------------------------------------------------------------------------------------- saving


@pytest.mark.parametrize("error_number", [errno.ENOSPC, errno.EDQUOT, errno.EIO],
                         ids=["ENOSPC", "EDQUOT", "EIO"])
def test_a_write_failing_midway_keeps_the_previous_checkpoint(tmp_path, error_number):
    path = good_checkpoint(tmp_path / "model.pt", name="previous")
    before = path.read_bytes()
    with pytest.MonkeyPatch.context() as patch, pytest.raises(CheckpointError) as caught:
        fill_disk_in(patch, tmp_path, limit=len(before) // 2, error_number=error_number)
        good_checkpoint(path, name="next")

    message = str(caught.value)
    assert str(path) in message and os.strerror(error_number) in message and "unchanged" in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert checkpoint.load(path).name == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    assert hidden_leftovers(tmp_path) == []


def test_a_full_disk_at_the_first_save_leaves_no_file(tmp_path, monkeypatch):
    fill_disk_in(monkeypatch, tmp_path, limit=100)
    with pytest.raises(CheckpointError, match="No space left on device"):
        good_checkpoint(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error_number", [errno.EROFS, errno.EACCES], ids=["read-only filesystem", "no permission"])
def test_a_read_only_target_is_a_clear_error(tmp_path, error_number):
    """Simulated where the temporary file is created (os.open), since root may write anywhere."""
    path = good_checkpoint(tmp_path / "model.pt", name="previous")
    with pytest.MonkeyPatch.context() as patch, pytest.raises(CheckpointError) as caught:
        refuse_new_files_in(patch, tmp_path, error_number)
        good_checkpoint(path, name="next")

    message = str(caught.value)
    assert str(path) in message and os.strerror(error_number) in message and "\n" not in message
    assert checkpoint.load(path).name == "previous"


def test_saving_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    with pytest.raises(CheckpointError, match="Could not save the model") as caught:
        good_checkpoint(blocker / "model.pt")
    assert "\n" not in str(caught.value)


TINY_TRAIN = ["train", "--arch", "mlp", "--hidden", "16", "--epochs", "1", "--no-augment"]


def test_train_into_a_read_only_target_says_so_after_training(capsys, tmp_path, fake_mnist):
    out = tmp_path / "models" / "model.pt"
    good_checkpoint(out, name="previous")
    with pytest.MonkeyPatch.context() as patch:
        refuse_new_files_in(patch, out.parent)
        status, stdout, err = run(capsys, *TINY_TRAIN, "--data-dir", str(fake_mnist["root"]), "--out", str(out))

    assert status == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("digitpad train: Could not save the model")
    assert "Read-only file system" in err
    assert checkpoint.load(out).name == "previous"


def test_train_without_a_usable_models_folder_fails_before_training(capsys, fake_mnist, digitpad_home):
    (digitpad_home / "models").write_text("a file where the models folder should be")

    status, out, err = run(capsys, *TINY_TRAIN, "--data-dir", str(fake_mnist["root"]))

    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert "cannot save models in" in err and str(digitpad_home / "models") in err and "--out" in err


def test_a_trained_model_that_cannot_be_recorded_as_current_is_still_saved(capsys, fake_mnist, digitpad_home):
    from digitpad import paths

    with pytest.MonkeyPatch.context() as patch:
        refuse_new_files_in(patch, digitpad_home)  # current-model.json cannot be written; models/ can
        status, out, err = run(capsys, *TINY_TRAIN, "--data-dir", str(fake_mnist["root"]))

    assert status == 1 and "Traceback" not in err
    assert "could not make it the app's current model (Read-only file system)" in err
    saved = list((digitpad_home / "models").glob("trained-*.pt"))
    assert len(saved) == 1 and str(saved[0]) in err
    checkpoint.load(saved[0])
    assert out.startswith("epoch 1 validation") and "test accuracy" in out
    assert paths.current_model_path() == paths.shipped_model_path()


# ------------------------------------------------------------------------------------------ data


def test_missing_files_with_no_network(tmp_path, monkeypatch, allow_small_mnist):
    use_unreachable_mirrors(monkeypatch, (UNREACHABLE_MIRROR, UNREACHABLE_MIRROR + "b/"))
    root = tmp_path / "mnist"

    with pytest.raises(data.DataError) as caught:
        data.load_mnist(root)

    message = str(caught.value)
    assert "\n" not in message and str(root) in message
    assert "connect to the internet" in message and "--data-dir" in message and "DIGITPAD_DATA_DIR" in message
    assert data.locate_mnist(root) is None and hidden_leftovers(root) == []


DATA_FAULTS = {
    "truncated .gz": ("train-images-idx3-ubyte.gz", truncate_file, "truncated"),
    # a label file's magic where images belong
    "wrong IDX magic": ("t10k-images-idx3-ubyte.gz", lambda path: set_idx_magic(path, 2049), "magic number 2049"),
    "only some files": ("t10k-labels-idx1-ubyte.gz", Path.unlink, "t10k-labels-idx1-ubyte is missing"),
}


@pytest.mark.parametrize("case", list(DATA_FAULTS))
def test_broken_data_is_named_by_load_and_by_train(capsys, fake_mnist, case):
    name, damage, expected = DATA_FAULTS[case]
    root = fake_mnist["root"]
    damage(root / name)

    with pytest.raises(data.DataError) as caught:
        data.load_mnist(root)
    assert expected in str(caught.value) and name.removesuffix(".gz") in str(caught.value)
    assert "\n" not in str(caught.value)

    status, out, err = run(capsys, *TINY_TRAIN, "--data-dir", str(root), "--out", str(root / "never.pt"))
    assert status == 1 and out == ""
    assert_one_clean_message(err)
    assert expected in err
    assert not (root / "never.pt").exists()


@pytest.mark.parametrize("how", ["cut with Content-Length", "cut without Content-Length"])
def test_an_interrupted_download_keeps_no_half_file_and_a_retry_works(tmp_path, mirror, how):
    mirror.no_length = how.endswith("without Content-Length")
    mirror.cut.add("train-images-idx3-ubyte.gz")
    root = tmp_path / "mnist"

    with pytest.raises(data.DataError) as caught:
        data.load_mnist(root)

    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    raw = root / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte.gz").exists() and not (raw / "train-images-idx3-ubyte").exists()
    assert data.locate_mnist(root) is None
    assert hidden_leftovers(root) == []

    mirror.cut.clear()
    loaded = data.load_mnist(root)
    assert len(loaded.train_images) == 600 and len(loaded.test_images) == 100
    assert mirror.requests.count("train-labels-idx1-ubyte.gz") == 1  # finished files are not fetched again
    data.verify_mnist(root)


@pytest.mark.parametrize("how", ["connection closed early", "connection stalled"])
def test_a_download_cut_off_midway_says_it_was_interrupted_not_unreachable(tmp_path, mirror, monkeypatch, how):
    """The mirror answered and sent part of a file: the network is there, the transfer broke."""
    if how == "connection stalled":
        monkeypatch.setattr(mnist_download, "_DOWNLOAD_TIMEOUT_S", 0.5)
        mirror.chunk_delay = 60  # the first 16 kB, then nothing until the socket times out
        what = "lost after 16 kB of t10k-images-idx3-ubyte.gz (no data for 0.5 s, 55 kB in all)"
    else:
        mirror.cut.add("t10k-images-idx3-ubyte.gz")
        what = "lost after 28 kB of t10k-images-idx3-ubyte.gz (the server closed the connection, 55 kB in all)"
    assert len(mirror.files["t10k-images-idx3-ubyte.gz"]) == 55_213  # the sizes the message gives
    root = tmp_path / "mnist"

    with pytest.raises(data.DataError) as caught:
        mnist_download.download_mnist(root)

    message = str(caught.value)
    assert "\n" not in message
    assert "was interrupted" in message and what in message
    assert "downloads t10k-images-idx3-ubyte.gz again from the start" in message
    assert "could not be reached" not in message and "connect to the internet" not in message
    assert data.locate_mnist(root) is None and hidden_leftovers(root) == []


def test_train_says_how_much_of_which_file_arrived_and_a_retry_does_what_it_said(capsys, tmp_path, mirror):
    """Cut off mid-file, `digitpad train` names the file and the megabytes that came, and says a retry
    fetches that file again while keeping the whole ones; the retry then does just that."""
    mirror.cut.add("train-images-idx3-ubyte.gz")
    half = len(mirror.files["train-images-idx3-ubyte.gz"]) // 2
    assert half >= 100_000  # so the message counts it in MB
    root = tmp_path / "mnist"
    train = [*TINY_TRAIN, "--data-dir", str(root), "--out", str(tmp_path / "model.pt")]

    status, out, err = run(capsys, *train)

    assert status == 1 and out == "" and "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith("digitpad train: The MNIST download was interrupted: the connection to")
    assert f"was lost after {half / 1e6:.1f} MB of train-images-idx3-ubyte.gz" in message
    assert "could not be reached" not in message
    assert "trying again downloads train-images-idx3-ubyte.gz again from the start" in message
    # The mirror serves files in name order: the two test files came whole before the cut.
    assert "kept and not fetched again (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)" in message

    mirror.cut.clear()
    status, out, err = run(capsys, *train)

    assert status == 0, err
    assert mirror.requests.count("train-images-idx3-ubyte.gz") == 2
    assert mirror.requests.count("t10k-images-idx3-ubyte.gz") == mirror.requests.count("t10k-labels-idx1-ubyte.gz") == 1


@pytest.mark.parametrize("how", ["stalled mid-file", "never answers"])
def test_a_stop_during_a_stalled_download_is_prompt_and_keeps_nothing(tmp_path, mirror, how):
    """Closing the app or Ctrl+C must not wait for a silent server (the socket timeout is 30 s)."""
    if how == "stalled mid-file":
        mirror.chunk_delay = 60  # the first 16 kB, then nothing
    else:
        mirror.answer_delay = 60  # takes the connection, sends no answer
    stop = threading.Event()
    stopped_at = []

    def stop_soon():
        stopped_at.append(time.perf_counter())
        stop.set()

    threading.Timer(0.5, stop_soon).start()

    with pytest.raises(data.DownloadCancelled):
        mnist_download.download_mnist(tmp_path / "mnist", should_stop=stop.is_set)

    assert time.perf_counter() - stopped_at[0] < 1.0
    assert data.locate_mnist(tmp_path / "mnist") is None and hidden_leftovers(tmp_path / "mnist") == []


def test_a_full_disk_during_the_download_is_a_clear_error_and_keeps_nothing(tmp_path, mirror):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(data.DataError) as caught:
        fill_disk_in(patch, raw, limit=5_000)
        data.load_mnist(tmp_path / "mnist")

    message = str(caught.value)
    assert "No space left on device" in message and str(raw) in message and "\n" not in message
    assert data.locate_mnist(tmp_path / "mnist") is None and hidden_leftovers(tmp_path / "mnist") == []
    assert len(data.load_mnist(tmp_path / "mnist").train_images) == 600  # with room again


def test_leftovers_of_a_killed_download_are_never_accepted(tmp_path, mirror):
    """A process killed mid-download leaves only hidden partial files: they are removed, not used."""
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    half = mirror.files["train-images-idx3-ubyte.gz"]
    (raw / ".train-images-idx3-ubyte.gz.x1y2.part").write_bytes(half[: len(half) // 2])

    assert data.locate_mnist(tmp_path / "mnist") is None
    loaded = data.load_mnist(tmp_path / "mnist")

    assert len(loaded.train_images) == 600
    assert hidden_leftovers(tmp_path / "mnist") == []


def test_a_full_disk_while_caching_mnist_still_loads_it(fake_mnist, monkeypatch, digitpad_home):
    """The cache is best effort: a failed write (torch.save turns it into a RuntimeError) loses nothing."""
    fill_disk_in(monkeypatch, digitpad_home / "cache", limit=1000)
    loaded = data.load_mnist(fake_mnist["root"])

    assert len(loaded.train_images) == 600
    cache = digitpad_home / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_half_file_under_the_final_name_is_fetched_again(tmp_path, mirror):
    """Another downloader (torchvision's own writes in place) may leave a cut .gz under its real name."""
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    whole = mirror.files["train-images-idx3-ubyte.gz"]
    (raw / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])

    loaded = data.load_mnist(tmp_path / "mnist")

    assert len(loaded.train_images) == 600
    assert (raw / "train-images-idx3-ubyte.gz").read_bytes() == whole
    data.verify_mnist(tmp_path / "mnist")


# ----------------------------------------------------------------------------- predict inputs


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _ten_thousand_square(path: Path) -> None:
    digit_image(10_000).convert("1").save(path)


def _animated_gif(path: Path) -> None:
    blank = Image.new("L", (280, 280), 255).convert("P")
    digit_image().convert("P").save(path, save_all=True, append_images=[blank, blank], duration=80, loop=0)


def _sixteen_bit_png(path: Path) -> None:
    Image.fromarray(np.asarray(digit_image(), dtype=np.uint16) * 257).save(path)


def _cmyk_jpeg(path: Path) -> None:
    digit_image(mode="RGB").convert("CMYK").save(path, format="JPEG", quality=90)


PREDICT_INPUTS = {
    # name -> (writer, None for a classified image or the words of its error)
    "zero-bytes.png": (_zero_bytes, "the file is empty"),
    "10000x10000.png": (_ten_thousand_square, None),
    "animated.gif": (_animated_gif, None),
    "16-bit.png": (_sixteen_bit_png, None),
    "cmyk.jpg": (_cmyk_jpeg, None),
    "a-directory.png": (Path.mkdir, "it is a folder"),
    "missing.png": (lambda path: None, "no such file"),
}


@pytest.fixture(scope="module")
def predict_inputs(tmp_path_factory) -> Path:
    """Every input of PREDICT_INPUTS in one folder (made once: the large one takes a second)."""
    folder = tmp_path_factory.mktemp("predict-inputs")
    for name, (make, _) in PREDICT_INPUTS.items():
        make(folder / name)
    good_checkpoint(folder / "model.pt")
    return folder


@pytest.mark.parametrize("name", list(PREDICT_INPUTS))
def test_predict_input_alone(capsys, predict_inputs, name):
    problem = PREDICT_INPUTS[name][1]
    target = predict_inputs / name

    started = time.perf_counter()
    status, out, err = run(capsys, "predict", "--checkpoint", str(predict_inputs / "model.pt"), str(target))
    elapsed = time.perf_counter() - started

    assert elapsed < 30, f"{name} took {elapsed:.1f} s"
    assert "Traceback" not in err
    if problem is None:
        assert status == 0, err
        path, digit, confidence = out.split()
        assert path == str(target) and re.fullmatch(r"[0-9]|not-a-digit", digit) and 0 < float(confidence) <= 1
        assert err == ""
    else:
        assert status == 1 and out == ""
        assert_one_clean_message(err)
        assert err.startswith(f"digitpad predict: {target}: ") and problem in err


def test_predict_reads_the_odd_images_as_the_samedigit_image(predict_inputs):
    from digitpad.preprocess import to_mnist_image

    reference = to_mnist_image(np.asarray(digit_image()))
    for name in ("10000x10000.png", "animated.gif", "16-bit.png", "cmyk.jpg"):
        pixels = read_image(predict_inputs / name)
        assert max(pixels.shape[:2]) <= 2048, name
        assert np.abs(to_mnist_image(pixels) - reference).mean() < 0.05, name


def test_predict_all_inputs_together_classifies_the_good_ones(capsys, predict_inputs):
    names = [str(predict_inputs / name) for name in PREDICT_INPUTS]

    status, out, err = run(capsys, "predict", "--checkpoint", str(predict_inputs / "model.pt"), *names)

    assert status == 1
    assert "Traceback" not in err
    printed = [line.split()[0] for line in out.splitlines()]
    assert printed == [str(predict_inputs / name) for name, (_, problem) in PREDICT_INPUTS.items() if problem is None]
    assert len(err.strip().splitlines()) == sum(problem is not None for _, problem in PREDICT_INPUTS.values())


# ------------------------------------------------------------------------------- drawing input


def test_ink_all_over_a_known_polarity_is_a_solid_blot_not_blank():
    """A scribble over the whole canvas leaves no paper; it is still a drawing (see the app's tests)."""
    from digitpad.preprocess import to_mnist_image

    covered = np.full((240, 240), 255, dtype=np.uint8)
    solid = to_mnist_image(covered, light_ink=True)
    assert solid is not None and solid.max() == 1.0 and (solid > 0.5).sum() >= 20 * 20 * 0.9
    dark_covered = np.zeros((240, 240), dtype=np.uint8)
    assert to_mnist_image(dark_covered, light_ink=False) is not None
    # Blank stays blank, whichever polarity is told; unknown polarity cannot tell ink from paper.
    assert to_mnist_image(np.zeros((240, 240), dtype=np.uint8), light_ink=True) is None
    assert to_mnist_image(np.full((240, 240), 255, dtype=np.uint8), light_ink=False) is None
    assert to_mnist_image(covered) is None
