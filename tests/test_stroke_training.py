"""Training a stroke reader, saving it with a model, and reading drawings with both networks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cli_helpers import assert_one_clean_message, run
from digitpad import checkpoint, paths, stroke_training
from digitpad.data import MnistTensors, load_mnist
from digitpad.inference import Classifier
from digitpad.stroke_reader import StrokeReader, combine
from digitpad.stroke_training import ReaderResult, ReaderSettings, fit_reader, traced_mnist
from digitpad.strokes import Stroke
from digitpad.training import BatchProgress, ValidationResult
from mnist_fakes import make_fake_mnist

TINY = ReaderSettings(epochs=2, batch_size=32, validation_size=20, log_every=2)


@pytest.fixture
def small_mnist(tmp_path, allow_small_mnist, digitpad_home) -> MnistTensors:
    folder = make_fake_mnist(tmp_path / "mnist", train=120, test=30)["root"]
    return load_mnist(folder, download=False)


def test_mnist_is_traced_once_then_read_from_the_cache(small_mnist, monkeypatch):
    seen = []
    traced = traced_mnist(small_mnist, lambda done, total: seen.append((done, total)))
    assert [len(part) for part in dataclasses.astuple(traced)] == [120, 120, 30, 30]
    assert seen[-1] == (300, 300) and [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert all(drawing and all(stroke.shape[1] == 2 for stroke in drawing) for drawing in traced.train_fine)

    def fail(*args, **kwargs):
        raise AssertionError("traced again")

    monkeypatch.setattr(stroke_training, "ProcessPoolExecutor", fail)
    again = traced_mnist(small_mnist)
    for before, after in zip(traced.train_coarse, again.train_coarse, strict=True):
        for stroke_before, stroke_after in zip(before, after, strict=True):
            np.testing.assert_array_equal(stroke_before, stroke_after)
    # An unreadable cache is traced again, not trusted.
    (cache,) = paths.cache_dir().glob("traced-mnist-*.npz")
    cache.write_bytes(b"half a file")
    with pytest.raises(AssertionError, match="traced again"):
        traced_mnist(small_mnist)


def test_tracing_can_be_stopped(small_mnist):
    assert traced_mnist(small_mnist, should_stop=lambda: True) is None
    assert not list(paths.cache_dir().glob("traced-mnist-*.npz"))


def test_fit_reader_reports_progress_and_ends_with_a_reader(small_mnist):
    traced = traced_mnist(small_mnist)
    events = list(fit_reader(traced, small_mnist, TINY))
    assert isinstance(events[-1], ReaderResult)
    validations = [event for event in events if isinstance(event, ValidationResult)]
    assert [event.epoch for event in validations] == [1, 2]
    assert all(np.isfinite(event.loss) and 0.0 <= event.accuracy <= 1.0 for event in validations)
    steps = [event.global_step for event in events if isinstance(event, BatchProgress)]
    assert steps == sorted(steps) and events[-1].steps == steps[-1] == 2 * 4  # 100 digits in batches of 32
    result = events[-1]
    assert not result.stopped and 0.0 <= result.test_accuracy <= 1.0
    StrokeReader().load_state_dict(result.state_dict)


def test_fit_reader_stops_between_batches(small_mnist):
    traced = traced_mnist(small_mnist)
    asked = []

    def stop_after_three() -> bool:
        asked.append(True)
        return len(asked) > 3

    result = list(fit_reader(traced, small_mnist, TINY, should_stop=stop_after_three))[-1]
    assert result.stopped and result.steps == 3


def _reader_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {key: value.clone() for key, value in StrokeReader().state_dict().items()}


def test_a_model_is_saved_and_loaded_with_its_stroke_reader(small_checkpoint, tmp_path):
    model = checkpoint.load(small_checkpoint)
    with_reader = dataclasses.replace(model, stroke_reader=_reader_state())
    checkpoint.save(with_reader, tmp_path / "both.pt")
    loaded = checkpoint.load(tmp_path / "both.pt")
    for key, tensor in _reader_state().items():
        torch.testing.assert_close(loaded.stroke_reader[key], tensor)
    assert checkpoint.load(small_checkpoint).stroke_reader is None


@pytest.mark.parametrize("damage, message", [
    (lambda state: state.pop("fc2.bias"), "stroke reader's weights do not fit"),
    (lambda state: state.__setitem__("fc2.weight", torch.zeros(3, 3)), "stroke reader's weights do not fit"),
    (lambda state: state["conv1.weight"].fill_(float("nan")), "stroke reader's weights contain NaN"),
])
def test_a_damaged_stroke_reader_is_refused_with_a_clear_message(small_checkpoint, tmp_path, damage, message):
    state = _reader_state()
    damage(state)
    checkpoint.save(dataclasses.replace(checkpoint.load(small_checkpoint), stroke_reader=state), tmp_path / "bad.pt")
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load(tmp_path / "bad.pt")


def test_with_a_stroke_reader_the_canvas_is_read_by_both_networks(small_checkpoint):
    model = checkpoint.load(small_checkpoint)
    image_only = Classifier.from_checkpoint(model)
    both = Classifier.from_checkpoint(dataclasses.replace(model, stroke_reader=_reader_state()))
    seven = [Stroke(0.08, [(-0.2, -0.3), (0.2, -0.3), (-0.05, 0.35)])]
    alone, joined = image_only.predict_strokes(seven), both.predict_strokes(seven)
    from digitpad.pen_path import from_strokes

    reader_says = both.stroke_probabilities(torch.from_numpy(from_strokes(seven))[None])[0]
    np.testing.assert_allclose(joined.probabilities, combine(alone.probabilities, reader_says), rtol=1e-5)
    assert "stroke reader" in both.describe() and "stroke reader" not in image_only.describe()
    # Kept drawings (My digits) are read the same way: with their strokes where they have them.
    kept = both.drawing_probabilities(np.stack([joined.model_input] * 2), [seven, None])
    np.testing.assert_allclose(kept[0], joined.probabilities, rtol=1e-5)
    np.testing.assert_allclose(kept[1], alone.probabilities, rtol=1e-5)
    # A picture has no strokes: the image network alone reads it.
    picture = (joined.model_input * 255).astype(np.uint8)
    np.testing.assert_allclose(both.predict(picture, light_ink=True).probabilities,
                               image_only.predict(picture, light_ink=True).probabilities, rtol=1e-5)


def test_a_drawing_one_network_alone_sees_no_digit_in_is_unsure_however_sure_the_odds(small_checkpoint):
    seven = [Stroke(0.08, [(-0.2, -0.3), (0.2, -0.3), (-0.05, 0.35)])]
    model = checkpoint.load(small_checkpoint)

    def reading(image_says: np.ndarray, reader_bias: np.ndarray):
        reader = _reader_state()
        reader["fc2.weight"].zero_()
        reader["fc2.bias"].copy_(torch.from_numpy(reader_bias))  # the reader's answer, whatever the path
        both = Classifier.from_checkpoint(dataclasses.replace(model, stroke_reader=reader))
        both.probabilities = lambda batch: np.tile(image_says, (len(batch), 1))
        answer = both.predict_strokes(seven)
        (kept,) = both.read_drawings(answer.model_input[None], [seven])  # My digits reads it the same
        assert (kept.digit, kept.unsure, kept.doubted_by) == (answer.digit, answer.unsure, answer.doubted_by)
        return answer, both.strokes_unsure_below

    sure_seven = np.full(10, 1e-5)
    sure_seven[7] = 1 - 9e-5
    reader_sure_of_seven = np.zeros(10, np.float32)
    reader_sure_of_seven[7] = 20.0
    both_sure, level = reading(sure_seven, reader_sure_of_seven)
    assert both_sure.digit == 7 and not both_sure.unsure and both_sure.doubted_by == ""
    # The reader spreads its answer evenly: its "no digit", though the odds together look sure.
    reader_doubts, level = reading(sure_seven, np.zeros(10, np.float32))
    assert reader_doubts.digit == 7 and reader_doubts.confidence >= level
    assert reader_doubts.unsure and reader_doubts.doubted_by == "strokes" and not reader_doubts.not_a_digit
    # The image network names no digit at NOT_A_DIGIT_BELOW, though the reader is sure of a 7.
    spread = np.full(10, 0.55 / 9)
    spread[7] = 0.45
    image_doubts, level = reading(spread, reader_sure_of_seven)
    assert image_doubts.digit == 7 and image_doubts.confidence >= level
    assert image_doubts.unsure and image_doubts.doubted_by == "picture" and not image_doubts.not_a_digit


def test_train_stroke_reader_joins_a_reader_to_a_saved_model(capsys, fake_mnist, small_checkpoint, tmp_path):
    out = tmp_path / "joined.pt"
    status, stdout, err = run(capsys, "train", "--stroke-reader", "--from", str(small_checkpoint), "--epochs", "1",
                              "--batch-size", "64", "--data-dir", str(fake_mnist["root"]), "--out", str(out))
    assert status == 0, err
    assert "tracing MNIST into strokes" in err and f"saved the model to {out}" in err
    assert stdout.strip().splitlines()[-1].startswith("stroke reader test accuracy")
    joined, original = checkpoint.load(out), checkpoint.load(small_checkpoint)
    assert joined.stroke_reader is not None and "stroke_reader_test_accuracy" in joined.metrics
    for key, tensor in original.state_dict.items():  # the image network is left as it was
        torch.testing.assert_close(joined.state_dict[key], tensor)
    assert paths.current_model_path() == paths.shipped_model_path()


@pytest.mark.parametrize("argv, message", [
    (["train", "--stroke-reader"], "give --from PATH"),
    (["train", "--stroke-reader", "--from", "x.pt", "--arch", "cnn"], "drop --arch"),
])
def test_train_stroke_reader_says_what_it_needs(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err
    assert_one_clean_message(err)


def test_continuing_a_model_keeps_its_stroke_reader(capsys, fake_mnist, small_checkpoint, tmp_path):
    with_reader, out = tmp_path / "with-reader.pt", tmp_path / "continued.pt"
    checkpoint.save(dataclasses.replace(checkpoint.load(small_checkpoint), stroke_reader=_reader_state()), with_reader)
    status, _, err = run(capsys, "train", "--from", str(with_reader), "--epochs", "1", "--no-augment",
                         "--data-dir", str(fake_mnist["root"]), "--out", str(out))
    assert status == 0, err
    continued = checkpoint.load(out)
    assert any(not torch.equal(continued.state_dict[key], tensor)
               for key, tensor in checkpoint.load(small_checkpoint).state_dict.items())
    for key, tensor in _reader_state().items():
        torch.testing.assert_close(continued.stroke_reader[key], tensor)
