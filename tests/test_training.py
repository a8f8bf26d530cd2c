import math

import pytest
import torch

from digitpad.config import TrainConfig
from digitpad.data import MnistTensors, normalize_uint8
from digitpad.models import build_model
from digitpad.training import BatchProgress, TrainingResult, ValidationResult, evaluate, fit, training_threads
from mnist_fakes import fake_digits


@pytest.fixture(scope="module")
def small_data() -> MnistTensors:
    train_images, train_labels = fake_digits(1200, seed=0)
    test_images, test_labels = fake_digits(200, seed=1)
    return MnistTensors(
        normalize_uint8(torch.from_numpy(train_images)),
        torch.from_numpy(train_labels).long(),
        normalize_uint8(torch.from_numpy(test_images)),
        torch.from_numpy(test_labels).long(),
    )


def small_config(arch: str, **changes) -> TrainConfig:
    settings = dict(epochs=2, batch_size=64, validation_size=200, log_every=5, seed=3)
    settings.update(changes)
    if arch == "cnn":
        settings.setdefault("channels", (4, 8))
    else:
        settings.setdefault("hidden", (64,))
    return TrainConfig.defaults_for(arch, **settings)


def run(config, data, **kwargs) -> list:
    return list(fit(config, data, **kwargs))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_training_learns_far_above_chance(arch, small_data):
    events = run(small_config(arch), small_data)

    result = events[-1]
    assert isinstance(result, TrainingResult)
    assert not result.stopped
    assert result.test_accuracy > 0.8
    model = build_model(result.model_config)
    model.load_state_dict(result.state_dict)
    _, accuracy = evaluate(model, small_data.test_images, small_data.test_labels)
    assert accuracy == pytest.approx(result.test_accuracy)


def test_events_describe_the_run(small_data):
    config = small_config("mlp")
    events = run(config, small_data)

    progress = [e for e in events if isinstance(e, BatchProgress)]
    validations = [e for e in events if isinstance(e, ValidationResult)]
    steps_per_epoch = math.ceil(1000 / 64)
    assert progress[-1].global_step == progress[-1].total_steps == 2 * steps_per_epoch
    assert {p.epoch for p in progress} == {1, 2}
    assert all(p.steps_per_epoch == steps_per_epoch for p in progress)
    assert [v.epoch for v in validations] == [1, 2]
    assert all(0 <= v.accuracy <= 1 and v.loss > 0 for v in validations)
    history = events[-1].history
    assert history["train_loss"] == [p.loss for p in progress]
    assert history["val_accuracy"] == [v.accuracy for v in validations]


def test_validations_per_epoch(small_data):
    events = run(small_config("mlp", epochs=1, validations_per_epoch=4), small_data)
    assert len([e for e in events if isinstance(e, ValidationResult)]) == 4


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_training_is_deterministic_under_a_seed(arch, small_data):
    config = small_config(arch, epochs=1, validation_size=800)
    first = [e.loss for e in run(config, small_data) if isinstance(e, BatchProgress)]
    second = [e.loss for e in run(config, small_data) if isinstance(e, BatchProgress)]
    assert first == second
    other_seed = [e.loss for e in run(config.with_changes(seed=4), small_data) if isinstance(e, BatchProgress)]
    assert other_seed != first


def test_stop_request_ends_within_one_batch_with_last_complete_model(small_data):
    config = small_config("cnn", log_every=1)
    steps_seen = []

    def should_stop() -> bool:
        return len(steps_seen) >= 7

    events = []
    for event in fit(config, small_data, should_stop=should_stop):
        events.append(event)
        if isinstance(event, BatchProgress):
            steps_seen.append(event.global_step)

    result = events[-1]
    assert isinstance(result, TrainingResult) and result.stopped
    assert steps_seen == list(range(1, 8))
    # The weights are a snapshot of a whole step: they load and classify.
    model = build_model(result.model_config)
    model.load_state_dict(result.state_dict)
    assert all(torch.isfinite(t).all() for t in result.state_dict.values() if t.is_floating_point())
    assert 0.0 <= result.test_accuracy <= 1.0


def test_continue_from_existing_weights(small_data):
    first = run(small_config("mlp", epochs=1), small_data)[-1]
    stop_at_once = run(small_config("mlp", epochs=1), small_data, should_stop=lambda: True,
                       initial_state=first.state_dict)[-1]
    assert stop_at_once.stopped
    for name, tensor in first.state_dict.items():
        assert torch.equal(stop_at_once.state_dict[name], tensor)
    assert stop_at_once.test_accuracy == pytest.approx(first.test_accuracy)


def test_training_threads_leave_a_core_for_the_gui():
    assert training_threads(leave_core_for_gui=False) >= training_threads(leave_core_for_gui=True) >= 1


def _mean_top_probability(result, images) -> float:
    model = build_model(result.model_config)
    model.load_state_dict(result.state_dict)
    model.eval()
    with torch.no_grad():
        return model(images).exp().max(dim=1).values.mean().item()


def test_non_digit_drawings_teach_the_model_to_be_unsure_of_them(small_data, monkeypatch):
    """Outlier exposure: with non-digits in its batches a model spreads its answer on unseen ones,
    while it still reads the digits."""
    from digitpad import training
    from digitpad.config import MNIST_MEAN, MNIST_STD
    from digitpad.non_digits import non_digit_batch

    # The shipped weight is tuned for full MNIST; here a stronger one makes the effect plain on tiny data.
    monkeypatch.setattr(training, "NON_DIGIT_WEIGHT", 0.5)
    unseen = (non_digit_batch(200, torch.Generator().manual_seed(99)) - MNIST_MEAN) / MNIST_STD
    plain = run(small_config("cnn", epochs=3, augment=False), small_data)[-1]
    exposed = run(small_config("cnn", epochs=3, augment=False, non_digit_share=0.5), small_data)[-1]

    assert exposed.test_accuracy > 0.8
    assert _mean_top_probability(exposed, unseen) < 0.5 < _mean_top_probability(plain, unseen)
    # The recorded training loss is the digits' alone, comparable with a plain run's.
    assert exposed.history["train_loss"][-1] < 1.0


def test_continuing_starts_from_the_given_weights(small_data):
    first = run(small_config("cnn", epochs=2), small_data)[-1]
    more = run(small_config("cnn", epochs=1, lr=1e-4), small_data, initial_state=first.state_dict)[-1]
    fresh = run(small_config("cnn", epochs=1, lr=1e-4), small_data)[-1]
    assert more.test_accuracy >= first.test_accuracy - 0.05
    assert more.test_accuracy > fresh.test_accuracy + 0.2


def test_a_continued_runs_history_follows_the_earlier_one_on_its_step_scale():
    from digitpad.training import continued_history

    earlier = {"steps_per_epoch": 10, "train_step": [5, 10, 15, 20], "train_loss": [4.0, 3.0, 2.0, 1.0],
               "val_step": [10, 20], "val_loss": [2.5, 1.5], "val_accuracy": [0.5, 0.7]}
    # Half the batch size: twice the steps per epoch.
    later = {"steps_per_epoch": 20, "train_step": [10, 20], "train_loss": [0.9, 0.8],
             "val_step": [20], "val_loss": [1.2], "val_accuracy": [0.8]}
    merged = continued_history(earlier, later)
    assert merged["steps_per_epoch"] == 10
    assert merged["train_step"] == [5, 10, 15, 20, 25, 30]
    assert merged["train_loss"] == [4.0, 3.0, 2.0, 1.0, 0.9, 0.8]
    assert merged["val_step"] == [10, 20, 30] and merged["val_accuracy"] == [0.5, 0.7, 0.8]
    assert earlier["train_step"] == [5, 10, 15, 20]  # inputs untouched
    for unusable in (None, {}, {"train_step": "garbage"}, ["not", "a", "dict"]):
        result = continued_history(unusable, later)
        assert result["val_accuracy"] == [0.8] and result["val_step"] == [20]


def test_a_continued_run_reports_the_earlier_curves_then_its_own(small_data):
    first = run(small_config("mlp", epochs=2), small_data)[-1]
    more = run(small_config("mlp", epochs=1), small_data, initial_state=first.state_dict,
               initial_history=first.history)[-1]
    assert more.history["val_accuracy"][:2] == first.history["val_accuracy"]
    assert len(more.history["val_accuracy"]) == 3
    assert more.history["val_step"] == sorted(more.history["val_step"])
    fresh = run(small_config("mlp", epochs=1), small_data)[-1]
    assert len(fresh.history["val_accuracy"]) == 1


# --- PyTorch's own parts, on any device -------------------------------------------------------------


def test_training_uses_torch_optim_and_the_one_cycle_schedule():
    from torch import nn, optim
    from torch.optim.lr_scheduler import OneCycleLR

    from digitpad.training import WARMUP_FRACTION, make_optimizer, make_schedule

    model = nn.Linear(4, 2)
    adam = make_optimizer(TrainConfig(optimizer="adam", lr=0.01), model)
    sgd = make_optimizer(TrainConfig(optimizer="sgd", lr=0.01), model)
    assert type(adam) is optim.Adam
    assert type(sgd) is optim.SGD and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    assert adam.defaults["fused"] and sgd.defaults["fused"]  # torch >= 2.4 has fused kernels for the CPU

    schedule = make_schedule(adam, TrainConfig(lr=0.01), total_steps=100)
    assert isinstance(schedule, OneCycleLR)
    rates, betas = [], []
    for _ in range(100):
        rates.append(adam.param_groups[0]["lr"])
        betas.append(adam.param_groups[0]["betas"][0])
        adam.step()
        schedule.step()
    peak = rates.index(max(rates))
    # Warm-up for a fifth of the run from a 25th of the peak, then down to almost nothing;
    # the momentum (Adam's beta1) moves the other way.
    assert peak == round(WARMUP_FRACTION * 100) - 1
    assert rates[0] == pytest.approx(0.01 / 25) and max(rates) == pytest.approx(0.01)
    assert rates[-1] < 1e-5 and betas[0] == pytest.approx(0.95) and betas[peak] == pytest.approx(0.85)


def test_without_a_fused_kernel_the_optimizer_takes_torchs_default_loop(monkeypatch):
    from torch import nn, optim

    from digitpad.training import make_optimizer

    real_adam = optim.Adam

    def adam_without_fused(parameters, fused=None, **options):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real_adam(parameters, fused=fused, **options)

    monkeypatch.setattr(optim, "Adam", adam_without_fused)
    adam = make_optimizer(TrainConfig(), nn.Linear(2, 2))
    assert type(adam) is real_adam and not adam.defaults["fused"]


def _available_devices() -> list:
    from digitpad import devices

    found = devices.available()
    return [pytest.param(name, marks=pytest.mark.skipif(name not in found, reason=f"no {name} here"))
            for name in ("cpu", "cuda", "mps")]


@pytest.mark.parametrize("device", _available_devices())
def test_training_on_a_device_returns_cpu_weights_that_open_anywhere(device, small_data, tmp_path):
    from digitpad import checkpoint

    result = run(small_config("cnn", epochs=1, device=device), small_data)[-1]

    assert result.device.startswith(device) and result.processes == 1
    assert all(tensor.device.type == "cpu" for tensor in result.state_dict.values())
    assert result.test_accuracy > 0.5
    path = tmp_path / "model.pt"
    checkpoint.save(checkpoint.from_result(result, "model"), path)
    loaded = checkpoint.load(path)
    assert loaded.metrics["device"] == result.device
    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    _, accuracy = evaluate(model, small_data.test_images, small_data.test_labels)
    # bfloat16 on a GPU may round a borderline image the other way.
    assert accuracy == pytest.approx(result.test_accuracy, abs=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trains_in_bfloat16_where_the_gpu_has_it_and_full_precision_when_asked():
    from digitpad.training import mixed_precision

    device = torch.device("cuda", 0)
    with mixed_precision(TrainConfig(), device):
        product = torch.ones(4, 4, device=device) @ torch.ones(4, 4, device=device)
    expected = torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float32
    assert product.dtype == expected
    with mixed_precision(TrainConfig(mixed_precision=False), device):
        assert (torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)).dtype == torch.float32


def test_the_cpu_always_trains_in_full_precision():
    from digitpad.training import mixed_precision

    with mixed_precision(TrainConfig(mixed_precision=True), torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_a_device_this_machine_lacks_fails_before_training(small_data):
    from digitpad import devices

    missing = next((name for name in ("cuda", "mps") if name not in devices.available()), None)
    if missing is None:
        pytest.skip("this machine has every device")
    with pytest.raises(devices.DeviceError, match=f"'{missing}' is not available"):
        run(small_config("mlp", device=missing), small_data)


def test_warming_up_the_optimizers_imports_what_the_first_optimizer_needs():
    import subprocess
    import sys

    child = ("import sys; from digitpad import training; before = 'torch._dynamo' in sys.modules; "
             "training.warm_up_optimizers(); print(before, 'torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True"], done.stderr
