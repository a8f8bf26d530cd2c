import numpy as np
import pytest
import torch
from PIL import Image

from digitpad import checkpoint, runs
from digitpad.collection import Collection
from digitpad.config import ConfigError, TeachConfig, TrainConfig
from digitpad.evaluation import evaluate_fully
from digitpad.models import build_model
from digitpad import pen_path
from digitpad.inference import Classifier
from digitpad.pen_path import PATH_CHANNELS, PATH_POINTS
from digitpad.replay import drawing_images, drawing_pen_paths, drawing_pool, varied_strokes
from digitpad.stroke_reader import StrokeReader
from digitpad.strokes import to_mnist_image
from digitpad.teaching import MIN_DRAWINGS, NotEnoughDrawings, TeachingResult, holdout_split, teach
from digitpad.training import BatchProgress, ValidationResult, fit
from drawing_fakes import digit_strokes, fill_collection, small_mnist

QUICK = TeachConfig(epochs=2, variants=4, min_replays=0, drawings_per_batch=16, mnist_per_batch=16, lr=0.01,
                    reader_lr=0.01, log_every=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from more threads, and on a busy machine they wait for one another."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return small_mnist()


@pytest.fixture(scope="module")
def trained(data):
    """A tiny CNN that reads the fake MNIST, and has never seen the made-up hand."""
    config = TrainConfig.defaults_for("cnn", channels=(4, 8), epochs=1, batch_size=64, validation_size=100,
                                      augment=False)
    return list(fit(config, data))[-1]


@pytest.fixture(scope="module")
def drawings(tmp_path_factory):
    return fill_collection(tmp_path_factory.mktemp("my-digits"), per_digit=5).drawings()


def run(trained, drawings, data, config=QUICK, **kwargs) -> list:
    return list(teach(trained.model_config, trained.state_dict, trained.history, drawings, data, config, **kwargs))


def test_teaching_learns_the_hand_and_reports_before_and_after(trained, drawings, data):
    events = run(trained, drawings, data)

    result = events[-1]
    assert isinstance(result, TeachingResult) and not result.stopped
    assert (result.taught_count, result.holdout_count) == (40, 10)
    assert result.holdout_before <= 0.3 and result.holdout_after >= 0.8
    assert result.mnist_before == pytest.approx(trained.test_accuracy)
    model = build_model(result.model_config)
    model.load_state_dict(result.state_dict)
    held = holdout_split(drawings, QUICK.holdout_fraction, QUICK.seed)[1]
    assert evaluate_fully(model, *drawing_images(held)).accuracy == pytest.approx(result.holdout_after)
    assert evaluate_fully(model, data.test_images, data.test_labels).accuracy == pytest.approx(result.test_accuracy)
    assert result.evaluation.accuracy == result.test_accuracy
    # The convolutions keep their weights; the fully connected layers learned.
    assert torch.equal(result.state_dict["conv1.weight"], trained.state_dict["conv1.weight"])
    assert torch.equal(result.state_dict["bn1.running_mean"], trained.state_dict["bn1.running_mean"])
    assert not torch.equal(result.state_dict["fc2.weight"], trained.state_dict["fc2.weight"])
    # The curves go on from the trained model's, with a mark where teaching began.
    trained_steps = trained.history["train_step"] + trained.history["val_step"]
    assert result.history["taught_step"] == [max(trained_steps)]
    assert len(result.history["val_step"]) == len(trained.history["val_step"]) + QUICK.epochs


def test_the_events_are_trainings_own(trained, drawings, data):
    events = run(trained, drawings, data)

    progress = [e for e in events if isinstance(e, BatchProgress)]
    validations = [e for e in events if isinstance(e, ValidationResult)]
    steps_per_epoch = -(-40 * 4 // 16)
    assert progress[-1].global_step == progress[-1].total_steps == 2 * steps_per_epoch == events[-1].steps
    assert [v.epoch for v in validations] == [1, 2]
    assert validations[-1].accuracy == pytest.approx(events[-1].holdout_after)
    history = events[-1].history
    earlier = len(trained.history["train_step"])
    assert history["train_loss"][:earlier] == trained.history["train_loss"]
    assert history["train_loss"][earlier:] == [p.loss for p in progress]
    assert history["val_accuracy"][-2:] == [v.accuracy for v in validations]


def test_teaching_the_deep_cnn_keeps_all_four_convolutions(drawings, data):
    config = TrainConfig.defaults_for("vgg", channels=(4, 8), epochs=1, batch_size=64, validation_size=100,
                                      augment=False)
    deep = list(fit(config, data))[-1]

    result = run(deep, drawings, data)[-1]

    assert result.model_config.arch == "vgg"
    for layer in ("conv1", "conv2", "conv3", "conv4"):
        number = layer[-1]
        assert torch.equal(result.state_dict[f"{layer}.weight"], deep.state_dict[f"{layer}.weight"])
        assert torch.equal(result.state_dict[f"bn{number}.running_var"], deep.state_dict[f"bn{number}.running_var"])
    assert not torch.equal(result.state_dict["fc1.weight"], deep.state_dict["fc1.weight"])


def test_teaching_is_deterministic(trained, drawings, data):
    first, second = run(trained, drawings, data)[-1], run(trained, drawings, data)[-1]
    assert all(torch.equal(first.state_dict[key], second.state_dict[key]) for key in first.state_dict)
    assert first.history == second.history


def run_stopped_after(steps: int, trained, drawings, data) -> TeachingResult:
    """Teach, pressing Stop once ``steps`` steps have reported their progress, as the app's Stop button does."""
    config = QUICK.with_changes(log_every=1)
    stop = []
    for event in teach(trained.model_config, trained.state_dict, trained.history, drawings, data, config,
                       should_stop=lambda: bool(stop)):
        if isinstance(event, BatchProgress) and event.global_step == steps:
            stop.append(True)
    return event


def test_stop_ends_with_the_last_complete_weights(trained, drawings, data):
    result = run_stopped_after(3, trained, drawings, data)
    again = run_stopped_after(3, trained, drawings, data)
    full = run(trained, drawings, data, config=QUICK.with_changes(log_every=1))[-1]

    assert result.stopped and result.steps == 3
    assert all(torch.equal(result.state_dict[key], again.state_dict[key]) for key in result.state_dict)
    assert not torch.equal(result.state_dict["fc2.weight"], trained.state_dict["fc2.weight"])
    assert not torch.equal(result.state_dict["fc2.weight"], full.state_dict["fc2.weight"])
    assert not runs.learned_nothing(result)


def test_stopped_before_the_first_step_keeps_the_model_as_it_was(trained, drawings, data):
    result = run(trained, drawings, data, should_stop=lambda: True)[-1]
    assert result.stopped and result.steps == 0
    assert all(torch.equal(result.state_dict[key], trained.state_dict[key]) for key in result.state_dict)
    assert result.test_accuracy == result.mnist_before and result.holdout_after == result.holdout_before
    assert runs.learned_nothing(result)
    assert runs.keep_result(result).learned_nothing


@pytest.mark.parametrize("count", [0, 1, MIN_DRAWINGS - 1])
def test_too_few_drawings_say_how_many_more_are_needed(trained, drawings, data, count):
    with pytest.raises(NotEnoughDrawings) as raised:
        run(trained, drawings[:count], data)
    message = str(raised.value)
    assert f"at least {MIN_DRAWINGS} drawings" in message and f"has {count}" in message
    assert f"draw at least {MIN_DRAWINGS - count} more" in message


def test_the_holdout_is_stratified_seeded_and_keeps_a_drawing_of_each_digit_to_teach(tmp_path):
    counts = {0: 1, 1: 2, 2: 3, 3: 10}
    collection = Collection(tmp_path)
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0
    for digit, count in counts.items():
        for _ in range(count):
            collection.add(digit, image)
    drawings = collection.drawings()

    taught, held = holdout_split(drawings, 0.2, seed=0)

    held_per_digit = {digit: sum(d.digit == digit for d in held) for digit in counts}
    assert held_per_digit == {0: 0, 1: 1, 2: 1, 3: 2}
    assert len(taught) + len(held) == len(drawings) and not set(d.id for d in taught) & set(d.id for d in held)
    assert [d.id for d in holdout_split(drawings, 0.2, seed=0)[1]] == [d.id for d in held]
    assert any([d.id for d in holdout_split(drawings, 0.2, seed=s)[1]] != [d.id for d in held] for s in range(1, 6))
    assert holdout_split(drawings, 0.0, seed=0)[1] == []
    nothing_held = holdout_split(drawings, 0.9, seed=0)
    assert {digit: sum(d.digit == digit for d in nothing_held[0]) for digit in counts} == {0: 1, 1: 1, 2: 1, 3: 1}


def test_nothing_held_out_means_no_validations(trained, drawings, data):
    events = run(trained, drawings, data, config=QUICK.with_changes(holdout_fraction=0.0))
    assert not [e for e in events if isinstance(e, ValidationResult)]
    assert events[-1].holdout_before is None and events[-1].holdout_after is None
    assert events[-1].holdout_count == 0 and events[-1].taught_count == 50


def test_a_taught_model_is_kept_like_a_trained_one(trained, drawings, data, digitpad_home):
    result = run(trained, drawings, data)[-1]
    kept = runs.keep_result(result, current_accuracy=result.mnist_before, prefix="taught")

    assert kept.saved and kept.adopted and kept.path.name.startswith("taught-")
    saved = checkpoint.load(kept.path)
    assert saved.train_config["kind"] == "teach" and saved.train_config["epochs"] == QUICK.epochs
    assert saved.metrics["test_accuracy"] == result.test_accuracy


def test_replays_differ_a_little_from_the_drawing():
    rng = np.random.default_rng(0)
    strokes = digit_strokes(3, rng)
    own = to_mnist_image(strokes)
    replays = [to_mnist_image(varied_strokes(strokes, rng)) for _ in range(5)]
    differences = [np.abs(replay - own).mean() for replay in replays]
    assert all(0.005 < difference < 0.2 for difference in differences)
    assert len({round(float(d), 6) for d in differences}) == 5


def test_drawings_without_strokes_are_varied_as_images(tmp_path):
    (tmp_path / "4").mkdir()
    mnist_style = np.zeros((28, 28), np.uint8)
    mnist_style[5:23, 10:18] = 255
    Image.fromarray(mnist_style).save(tmp_path / "4" / "by-hand.png")
    drawings = Collection(tmp_path).drawings()

    pool = drawing_pool(drawings, variants=6, seed=0)

    images = pool.images
    assert images.shape == (6, 1, 28, 28) and pool.labels.tolist() == [4] * 6
    assert torch.equal(images[0], drawing_images(drawings)[0][0])
    assert all(not torch.equal(images[0], images[i]) for i in range(1, 6))
    assert not pool.with_strokes.any() and not pool.pen_paths.any()


def test_each_replay_has_the_pen_path_of_its_own_strokes(drawings):
    pool = drawing_pool(drawings[:3], variants=4, seed=0)

    assert pool.with_strokes.all() and pool.pen_paths.shape == (12, PATH_CHANNELS, PATH_POINTS)
    assert torch.equal(pool.pen_paths[0], torch.from_numpy(pen_path.from_strokes(drawings[0].strokes)))
    assert all(not torch.equal(pool.pen_paths[0], pool.pen_paths[i]) for i in range(1, 4))


def test_the_teaching_config_checks_its_values():
    for bad in (dict(epochs=0), dict(holdout_fraction=1.0), dict(holdout_fraction=-0.1), dict(lr=0), dict(reader_lr=0),
                dict(variants=0), dict(drawings_per_batch=0)):
        with pytest.raises(ConfigError):
            TeachConfig(**bad)


def test_a_stopped_teaching_is_saved_but_the_model_in_use_stays(trained, drawings, data, digitpad_home):
    from digitpad import paths

    result = run_stopped_after(2, trained, drawings, data)
    kept = runs.keep_result(result, prefix="taught", adopt_stopped=False)

    assert kept.saved and not kept.adopted and not kept.recorded
    assert paths.current_model_path() == paths.shipped_model_path()


# --- a model with a stroke reader ---------------------------------------------------------------


@pytest.fixture(scope="module")
def reader_state():
    """The shipped model's stroke reader: it reads pen paths well, but not the made-up hand."""
    from digitpad import paths

    return checkpoint.load(paths.shipped_model_path()).stroke_reader


def reader_accuracy(state: dict, drawings) -> float:
    reader = StrokeReader()
    reader.load_state_dict(state)
    paths, _ = drawing_pen_paths(drawings)
    with torch.inference_mode():
        answers = reader.eval()(paths).argmax(dim=1)
    return float((answers == torch.tensor([d.digit for d in drawings])).float().mean())


def test_the_stroke_reader_learns_the_hand_too_in_its_fully_connected_layers(trained, drawings, data, reader_state):
    given = {name: tensor.clone() for name, tensor in reader_state.items()}
    result = run(trained, drawings, data, stroke_reader=reader_state)[-1]
    _, held = holdout_split(drawings, QUICK.holdout_fraction, QUICK.seed)

    assert reader_accuracy(result.stroke_reader, held) >= reader_accuracy(reader_state, held) + 0.3
    changed = {name for name in reader_state if not torch.equal(reader_state[name], result.stroke_reader[name])}
    assert changed == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert all(torch.equal(given[name], reader_state[name]) for name in given)  # the caller's weights are untouched


def test_with_a_stroke_reader_the_held_out_drawings_are_read_as_the_app_reads_them(trained, drawings, data,
                                                                                   reader_state):
    result = run(trained, drawings, data, stroke_reader=reader_state)[-1]
    _, held = holdout_split(drawings, QUICK.holdout_fraction, QUICK.seed)
    app = Classifier.from_state(result.model_config, result.state_dict, stroke_reader_state=result.stroke_reader)

    probabilities = app.drawing_probabilities(np.stack([d.image() for d in held]), [d.strokes for d in held])

    assert result.holdout_after == pytest.approx(np.mean(probabilities.argmax(axis=1) == [d.digit for d in held]))


def test_the_image_network_learns_the_same_with_or_without_a_stroke_reader(trained, drawings, data, reader_state):
    alone = run(trained, drawings, data)[-1]
    beside = run(trained, drawings, data, stroke_reader=reader_state)[-1]

    assert all(torch.equal(alone.state_dict[name], beside.state_dict[name]) for name in alone.state_dict)
    assert alone.stroke_reader is None


def test_drawings_without_strokes_leave_the_stroke_reader_as_it_was(trained, data, reader_state, tmp_path):
    collection = Collection(tmp_path)
    for drawing in fill_collection(tmp_path / "with-strokes", per_digit=2).drawings():
        collection.add(drawing.digit, drawing.image())

    result = run(trained, collection.drawings(), data, stroke_reader=reader_state)[-1]

    assert result.steps > 0
    assert all(torch.equal(reader_state[name], result.stroke_reader[name]) for name in reader_state)
