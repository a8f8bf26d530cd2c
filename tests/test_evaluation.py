import math
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from digitpad import atomic, evaluation, paths
from digitpad.config import ModelConfig
from digitpad.evaluation import Evaluation, EvaluationProgress, confusion_table, evaluate, evaluate_fully
from digitpad.models import build_model
from digitpad.training import evaluate as training_evaluate
from drawing_fakes import small_mnist


def one_hot_ish(answers: list[int], confidences: list[float]) -> np.ndarray:
    """Probabilities whose top class is ``answers[i]`` with probability ``confidences[i]``."""
    rows = []
    for answer, confidence in zip(answers, confidences):
        row = np.full(10, (1.0 - confidence) / 9, dtype=np.float32)
        row[answer] = confidence
        rows.append(row)
    return np.array(rows, dtype=np.float32)


def test_counts_accuracy_and_per_digit_accuracy():
    labels = np.array([0, 0, 0, 1, 1, 7], dtype=np.int64)
    answers = [0, 0, 3, 1, 7, 7]
    result = Evaluation(labels, one_hot_ish(answers, [0.9] * 6), loss=0.5)

    assert result.predictions.tolist() == answers
    assert result.accuracy == pytest.approx(4 / 6)
    expected = np.zeros((10, 10), dtype=np.int64)
    for true, answer in zip(labels, answers):
        expected[true, answer] += 1
    assert result.confusion.dtype == np.int64
    assert np.array_equal(result.confusion, expected)
    per_digit = result.per_digit_accuracy
    assert per_digit[0] == pytest.approx(2 / 3) and per_digit[1] == 0.5 and per_digit[7] == 1.0
    assert np.isnan(per_digit[[2, 3, 4, 5, 6, 8, 9]]).all()


def test_a_cell_lists_the_most_confident_mistakes_and_the_least_confident_right_answers_first():
    labels = np.array([4, 4, 4, 4, 4, 4], dtype=np.int64)
    answers = [9, 4, 9, 4, 9, 4]
    confidences = [0.6, 0.99, 0.95, 0.5, 0.6, 0.7]
    result = Evaluation(labels, one_hot_ish(answers, confidences), loss=0.0)

    assert result.cell(4, 9).tolist() == [2, 0, 4]  # 0.95, then the two 0.6 in their order
    assert result.cell(4, 4).tolist() == [3, 5, 1]  # 0.5, 0.7, 0.99
    assert result.cell(1, 2).tolist() == []


def test_an_empty_evaluation_has_no_accuracy():
    result = Evaluation(np.zeros(0, np.int64), np.zeros((0, 10), np.float32), math.nan)
    assert math.isnan(result.accuracy)
    assert result.confusion.sum() == 0 and np.isnan(result.per_digit_accuracy).all()


@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    return build_model(ModelConfig(arch="mlp", hidden=(16,))), small_mnist(train=100, test=250)


def test_evaluate_reports_progress_then_the_evaluation(model_and_data):
    model, data = model_and_data
    model.train()
    events = list(evaluate(model, data.test_images, data.test_labels, batch_size=100))

    assert events[:-1] == [EvaluationProgress(100, 250), EvaluationProgress(200, 250), EvaluationProgress(250, 250)]
    result = events[-1]
    assert isinstance(result, Evaluation) and not model.training
    with torch.no_grad():
        log_probabilities = model(data.test_images)
    assert np.allclose(result.probabilities, log_probabilities.exp().numpy(), atol=1e-6)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert result.loss == pytest.approx(F.nll_loss(log_probabilities, data.test_labels).item(), rel=1e-5)
    assert result.predictions.tolist() == log_probabilities.argmax(1).tolist()
    assert result.labels.tolist() == data.test_labels.tolist()
    assert training_evaluate(model, data.test_images, data.test_labels) == pytest.approx(
        (result.loss, result.accuracy))


def test_evaluate_leaves_inference_mode_between_batches(model_and_data):
    model, data = model_and_data
    states = [torch.is_inference_mode_enabled() for _ in evaluate(model, data.test_images, data.test_labels, 50)]
    assert states and not any(states)


def test_a_stopped_evaluation_ends_without_a_result(model_and_data):
    model, data = model_and_data
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    events = list(evaluate(model, data.test_images, data.test_labels, batch_size=50, should_stop=stop_after_two))
    assert events == [EvaluationProgress(50, 250), EvaluationProgress(100, 250)]


def test_confusion_table_is_aligned():
    confusion = np.zeros((10, 10), dtype=np.int64)
    confusion[3, 3], confusion[3, 5], confusion[9, 4] = 1012, 7, 3
    lines = confusion_table(confusion).splitlines()

    assert len(lines) == 11
    assert len({len(line) for line in lines}) == 1
    assert lines[0].split()[1:] == [str(d) for d in range(10)]
    assert lines[4].split() == ["3", "0", "0", "0", "1012", "0", "7", "0", "0", "0", "0"]
    # Every count ends in its digit's column.
    assert lines[4].index("1012") + 4 == lines[0].index("3") + 1
    assert lines[4].rindex("7") == lines[0].index("5")


# --- the cache ----------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"the model's bytes")
    return path


def cached_files():
    return sorted((paths.cache_dir() / "evaluations").glob("*.npz"))


def test_the_cache_misses_then_hits(model_file, model_and_data):
    model, data = model_and_data
    key = evaluation.data_key(data.test_images, data.test_labels)
    assert evaluation.load_cached(model_file, key) is None

    result = evaluate_fully(model, data.test_images, data.test_labels)
    assert evaluation.store_cached(model_file, key, result)
    cached = evaluation.load_cached(model_file, key)

    assert np.array_equal(cached.labels, result.labels) and np.array_equal(cached.probabilities, result.probabilities)
    assert cached.loss == result.loss and np.array_equal(cached.confusion, result.confusion)
    assert not list(cached_files()[0].parent.glob(".*")), "no temporary file is left"


def test_the_cache_is_per_model_content_and_per_data(model_file, model_and_data):
    model, data = model_and_data
    key = evaluation.data_key(data.test_images, data.test_labels)
    evaluation.store_cached(model_file, key, evaluate_fully(model, data.test_images, data.test_labels))

    other_images = data.test_images.clone()
    other_images[0, 0, 0, 0] += 1.0
    assert evaluation.data_key(other_images, data.test_labels) != key
    assert evaluation.data_key(data.test_images.clone(), data.test_labels.clone()) == key
    assert evaluation.load_cached(model_file, evaluation.data_key(other_images, data.test_labels)) is None
    model_file.write_bytes(b"a newly trained model")
    assert evaluation.load_cached(model_file, key) is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pickled", "wrong shape", "empty"])
def test_a_damaged_cache_file_counts_as_absent(model_file, model_and_data, damage):
    model, data = model_and_data
    key = evaluation.data_key(data.test_images, data.test_labels)
    evaluation.store_cached(model_file, key, evaluate_fully(model, data.test_images, data.test_labels))
    (stored,) = cached_files()
    if damage == "garbage":
        stored.write_bytes(b"\x00not a zip" * 50)
    elif damage == "truncated":
        stored.write_bytes(stored.read_bytes()[:300])
    elif damage == "empty":
        stored.write_bytes(b"")
    else:
        with np.load(stored) as original:
            fields = dict(original)
        if damage == "pickled":
            fields["labels"] = np.array([object()] * len(fields["labels"]), dtype=object)
        else:
            fields["probabilities"] = fields["probabilities"][:, :5]
        with open(stored, "wb") as stream:
            np.savez(stream, **fields)

    assert evaluation.load_cached(model_file, key) is None


def test_a_cache_that_cannot_be_written_is_not_an_error(model_file, model_and_data, monkeypatch):
    model, data = model_and_data

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "write_bytes", full_disk)
    assert not evaluation.store_cached(model_file, "key", evaluate_fully(model, data.test_images, data.test_labels))
    assert evaluation.load_cached(model_file, "key") is None
    assert evaluation.load_cached(model_file.parent / "missing.pt", "key") is None


def test_the_cache_keeps_only_the_latest_evaluations(tmp_path, model_and_data):
    model, data = model_and_data
    result = evaluate_fully(model, data.test_images[:10], data.test_labels[:10])
    for number in range(evaluation._CACHE_KEEP + 3):
        path = tmp_path / f"model-{number}.pt"
        path.write_bytes(f"model {number}".encode())
        evaluation.store_cached(path, "key", result)
    assert len(cached_files()) == evaluation._CACHE_KEEP
    assert evaluation.load_cached(tmp_path / f"model-{evaluation._CACHE_KEEP + 2}.pt", "key") is not None
    assert zipfile.is_zipfile(cached_files()[0])
