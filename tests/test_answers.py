"""digitpad.answers: the app's answers to labelled drawings, as pictures and as drawn (no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import ImageOps

from digitpad import answers, paths
from digitpad.collection import strokes_beside
from digitpad.image_files import load_labelled_folder, read_image
from digitpad.inference import Classifier, Prediction
from cli_helpers import digit_image
from drawing_fakes import fill_collection


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.from_path(paths.shipped_model_path())


def answer(digit: int, confidence: float, unsure_below: float = 0.9) -> Prediction:
    probabilities = np.full(10, (1.0 - confidence) / 9)
    probabilities[digit] = confidence
    return Prediction(digit, confidence, probabilities, np.zeros((28, 28), np.float32), unsure_below)


def test_the_figures_count_each_kind_of_answer():
    labels = [1, 2, 3, 4, 5]
    given = answers.Answers.of([
        answer(1, 0.99),  # right and sure
        answer(2, 0.80),  # right, unsure
        answer(7, 0.97),  # wrong and sure
        answer(4, 0.40),  # closest digit right, shown as "not a digit"
        answer(6, 0.30),  # wrong, "not a digit"
    ], labels)

    assert given.count == 5
    assert given.right.tolist() == [True, True, False, True, False]
    assert given.accuracy == pytest.approx(3 / 5)
    assert given.named_right == pytest.approx(2 / 5)
    assert given.unsure_share == pytest.approx(3 / 5)
    assert given.right_when_sure == pytest.approx(1 / 2)
    assert given.not_a_digit_share == pytest.approx(2 / 5)


def test_right_when_sure_is_nan_when_nothing_is_sure():
    given = answers.Answers.of([answer(3, 0.6)], [3])
    assert math.isnan(given.right_when_sure) and given.accuracy == 1.0


def test_pictures_are_answered_as_predict_answers_each_file(tmp_path, shipped):
    root = tmp_path / "pictures"
    (root / "7").mkdir(parents=True)
    for number, size in enumerate((280, 120, 28)):
        picture = digit_image(size)
        (picture if number % 2 else ImageOps.invert(picture)).save(root / "7" / f"{number}.png")
    fill_collection(root, per_digit=2, digits=(1, 4))
    loaded = load_labelled_folder(root)

    read = answers.as_pictures(shipped, loaded.images, loaded.labels)

    one_by_one = [shipped.predict(read_image(path)) for path in loaded.paths]
    assert read.digits.tolist() == [prediction.digit for prediction in one_by_one]
    assert read.unsure.tolist() == [prediction.unsure for prediction in one_by_one]
    assert read.not_a_digit.tolist() == [prediction.not_a_digit for prediction in one_by_one]
    assert read.labels.tolist() == loaded.labels.tolist()


def test_drawings_are_answered_as_the_canvas_answers_their_strokes(tmp_path, shipped):
    collection = fill_collection(tmp_path / "mine", per_digit=2)
    drawings = collection.drawings()
    kept = [strokes_beside(drawing.image_path) for drawing in drawings]
    assert all(isinstance(strokes, list) and strokes for strokes in kept)

    read = answers.as_drawn(shipped, kept, [drawing.digit for drawing in drawings])

    on_canvas = [shipped.predict_strokes(strokes) for strokes in kept]
    assert read.digits.tolist() == [prediction.digit for prediction in on_canvas]
    assert read.unsure.tolist() == [prediction.unsure for prediction in on_canvas]
    assert read.count == 20


def test_strokes_without_a_point_are_refused(shipped):
    from digitpad.strokes import Stroke

    with pytest.raises(ValueError, match="no point"):
        answers.as_drawn(shipped, [[Stroke(0.05, [])]], [3])


def test_reading_says_how_far_it_has_got_after_each_batch(shipped):
    from digitpad.strokes import Stroke

    seven = [Stroke(0.08, [(-0.2, -0.3), (0.2, -0.3), (-0.05, 0.35)])]
    count = answers._BATCH + 3
    told: list[int] = []
    read = answers.as_drawn(shipped, [seven] * count, [7] * count, told.append)
    assert told == [answers._BATCH, 3] and read.count == count
    told.clear()
    answers.as_pictures(shipped, np.zeros((count, 28, 28), np.float32), [7] * count, told.append)
    assert told == [answers._BATCH, 3]
