"""digitpad's optimizers and one-cycle schedule against torch.optim, step for step."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from digitpad import optim

WARMUP = 0.2


def _model_and_batches(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    batches = [(torch.randn(8, 12), torch.randint(0, 4, (8,))) for _ in range(25)]
    return model, batches


def _train(model, batches, step_with):
    for images, labels in batches:
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        step_with()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["adam", "adam-without-fused-kernel", "sgd"])
def test_matches_torch_optim_with_one_cycle_step_for_step(kind, monkeypatch):
    if kind == "adam-without-fused-kernel":
        monkeypatch.setattr(optim, "_FUSED_ADAM", None)
    max_lr = 0.05
    reference, batches = _model_and_batches()
    ours, _ = _model_and_batches()
    total = len(batches)

    if kind.startswith("adam"):
        torch_optimizer = torch.optim.Adam(reference.parameters(), lr=max_lr)
        our_optimizer = optim.Adam(ours.parameters(), lr=max_lr)
    else:
        torch_optimizer = torch.optim.SGD(reference.parameters(), lr=max_lr, momentum=0.9, nesterov=True)
        our_optimizer = optim.SGD(ours.parameters(), lr=max_lr, momentum=0.9)
    schedule = torch.optim.lr_scheduler.OneCycleLR(torch_optimizer, max_lr=max_lr, total_steps=total, pct_start=WARMUP)

    def torch_step():
        torch_optimizer.step()
        schedule.step()
        torch_optimizer.zero_grad()

    steps_taken = []

    def our_step():
        our_optimizer.lr, our_optimizer.momentum = optim.one_cycle(len(steps_taken), total, max_lr, WARMUP)
        our_optimizer.step()
        our_optimizer.zero_grad()
        steps_taken.append(1)

    expected = _train(reference, batches, torch_step)
    got = _train(ours, batches, our_step)
    start = [p.detach() for p in _model_and_batches()[0].parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(start, got)), "the optimizer did not move the weights"
    for a, b in zip(expected, got):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_one_cycle_matches_torch_schedule_including_momentum():
    layer = nn.Linear(2, 2)
    torch_optimizer = torch.optim.Adam(layer.parameters(), lr=0.003)
    total = 37
    schedule = torch.optim.lr_scheduler.OneCycleLR(torch_optimizer, max_lr=0.003, total_steps=total, pct_start=WARMUP)
    for step in range(total):
        group = torch_optimizer.param_groups[0]
        lr, momentum = optim.one_cycle(step, total, 0.003, WARMUP)
        assert lr == pytest.approx(group["lr"], rel=1e-9)
        assert momentum == pytest.approx(group["betas"][0], rel=1e-9)
        torch_optimizer.step()
        schedule.step()


def test_parameters_without_gradients_are_left_alone():
    used, unused = nn.Linear(3, 1), nn.Linear(3, 1)
    before = unused.weight.detach().clone()
    optimizer = optim.Adam(list(used.parameters()) + list(unused.parameters()), lr=0.1)
    used(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert torch.equal(unused.weight, before)
    assert unused.weight.grad is None


def test_training_does_not_import_torch_dynamo():
    """The reason these optimizers exist: torch.optim's would import torch._dynamo (about 1 s)."""
    script = (
        "import sys, torch\n"
        "from digitpad.config import TrainConfig\n"
        "from digitpad.data import MnistTensors\n"
        "from digitpad.training import fit\n"
        "images = torch.randn(64, 1, 28, 28); labels = torch.randint(0, 10, (64,))\n"
        "data = MnistTensors(images, labels, images[:16], labels[:16])\n"
        "for arch in ('mlp', 'cnn'):\n"
        "    for optimizer in ('adam', 'sgd'):\n"
        "        config = TrainConfig.defaults_for(arch, optimizer=optimizer, epochs=1, batch_size=32,\n"
        "                                          validation_size=8, channels=(2, 4), hidden=(8,))\n"
        "        list(fit(config, data))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
