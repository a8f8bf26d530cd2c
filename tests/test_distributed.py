"""Training in several processes: `torchrun -m digitpad train` with torch.distributed (gloo on the CPU).

The runs here are real: two processes started by torch.distributed.run, on
small generated MNIST, checked against a single process with the same global
batch and seed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from digitpad import checkpoint, cli, data, distributed, paths
from digitpad.distributed import DistributedError, Ranks, launched_ranks, shard
from digitpad.training import _steps_per_epoch

# A batch that two processes cannot share evenly (23 + 22), and the last batch of an
# epoch shorter still: the shares must still add up to the single process's batch.
DDP_TRAIN = ["train", "--arch", "mlp", "--hidden", "32", "--dropout", "0", "--no-augment", "--batch-size", "45",
             "--seed", "1"]
# When one process is killed, the other and torchrun end within this (measured: about 1.5 s).
KILLED_RUN_ENDS_WITHIN = 20.0


def torchrun(*argv: str) -> list[str]:
    # --standalone: a free port of its own, so parallel test runs on one machine do not meet.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "digitpad", *argv]


@pytest.fixture
def cached_fake_mnist(fake_mnist) -> Path:
    """fake_mnist, with digitpad's tensor cache built, so the processes start from it."""
    data.load_mnist(fake_mnist["root"], download=False)
    return fake_mnist["root"]


# --- the pieces ---------------------------------------------------------------------------------


def test_without_torchrun_it_is_one_process():
    assert launched_ranks({}) == distributed.SINGLE
    assert not distributed.SINGLE.distributed and distributed.SINGLE.is_main
    assert distributed.current() == distributed.SINGLE


def test_torchruns_environment_names_the_process():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert launched_ranks(env) == Ranks(rank=3, world_size=4, local_rank=1, local_world_size=2)
    for broken in ({"WORLD_SIZE": "two"}, {"WORLD_SIZE": "2", "RANK": "2"}, {"WORLD_SIZE": "2", "RANK": "-1"}):
        with pytest.raises(DistributedError):
            launched_ranks(broken)


def test_the_shares_of_a_batch_make_up_the_whole_batch():
    batch = torch.arange(45)
    shares = [shard(batch, Ranks(rank, 2)) for rank in range(2)]
    assert [len(share) for share in shares] == [23, 22]
    assert sorted(torch.cat(shares).tolist()) == batch.tolist()


def test_an_epoch_leaves_out_a_last_batch_too_small_to_share():
    assert _steps_per_epoch(480, 45, world_size=1) == _steps_per_epoch(480, 45, world_size=2) == 11
    assert _steps_per_epoch(451, 45, world_size=1) == 11
    assert _steps_per_epoch(451, 45, world_size=2) == 10  # one image left over: not enough for two


def test_a_peers_failure_is_only_recognised_within_a_process_group():
    assert distributed.failure(RuntimeError("gloo: Connection reset by peer")) is None  # no group here
    assert distributed.failure(ValueError("x")) is None
    own = DistributedError("already clear")
    assert distributed.failure(own) is own
    assert distributed._first_sentence(
        "[/pytorch/third_party/gloo/pair.cc:545] Read error [127.0.0.1]:1: Connection reset by peer. This is "
        "typically caused by a remote worker hanging.\nmore") == "Read error [127.0.0.1]:1: Connection reset by peer"


# --- whole runs -----------------------------------------------------------------------------------


def test_two_processes_train_the_same_model_as_one(capsys, cached_fake_mnist, digitpad_home, tmp_path):
    single_path = tmp_path / "single.pt"
    assert cli.main([*DDP_TRAIN, "--epochs", "2", "--data-dir", str(cached_fake_mnist), "--out", str(single_path)]) == 0
    capsys.readouterr()

    env = {**os.environ, "DIGITPAD_ALLOW_SMALL_MNIST": "1"}
    done = subprocess.run(torchrun(*DDP_TRAIN, "--epochs", "2", "--data-dir", str(cached_fake_mnist)),
                          capture_output=True, text=True, env=env, timeout=300)

    assert done.returncode == 0, done.stderr
    # Rank 0 alone reports: one line per validation, one test accuracy, one start and one save.
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1 validation", "epoch 2 validation", "test accuracy"]
    assert done.stderr.count("training a MLP") == 1 and "in 2 processes, each on CPU" in done.stderr
    # One progress bar: its last line for the epoch (tqdm's, a plain line in a pipe) comes once.
    assert len(re.findall(r"^epoch 2/2: 100%", done.stderr, flags=re.M)) == 1
    assert done.stderr.count("saved the model to") == 1
    # One model file, recorded as the current model; nothing else written beside it.
    models = sorted(paths.models_dir().iterdir())
    assert len(models) == 1 and models[0].suffix == ".pt"
    assert paths.current_model_path() == models[0]

    together, alone = checkpoint.load(models[0]), checkpoint.load(single_path)
    assert together.metrics["processes"] == 2 and alone.metrics["processes"] == 1
    assert abs(together.metrics["test_accuracy"] - alone.metrics["test_accuracy"]) <= 0.01
    # Their gradients are the same batch's mean, so the weights match to rounding.
    for name, tensor in alone.state_dict.items():
        torch.testing.assert_close(together.state_dict[name], tensor, atol=1e-5, rtol=1e-4)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def _rank_of(pid: int) -> int | None:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((int(entry[5:]) for entry in environment if entry.startswith(b"RANK=")), None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the processes through /proc")
@pytest.mark.parametrize("killed", [1, 0], ids=["a helper rank", "rank 0"])
def test_killing_one_process_ends_the_run_quickly_with_a_clear_message(cached_fake_mnist, tmp_path, killed):
    out_path = tmp_path / "never.pt"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    env = {**os.environ, "DIGITPAD_ALLOW_SMALL_MNIST": "1"}
    with open(stdout, "w") as out, open(stderr, "w") as err:
        launcher = subprocess.Popen(torchrun(*DDP_TRAIN, "--epochs", "1000", "--data-dir", str(cached_fake_mnist),
                                             "--out", str(out_path)), stdout=out, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 240
        while "epoch 1 validation" not in stdout.read_text():
            assert launcher.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
        victim = next(pid for pid in _children(launcher.pid) if _rank_of(pid) == killed)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        launcher.wait(timeout=KILLED_RUN_ENDS_WITHIN + 60)
        took = time.monotonic() - killed_at
    finally:
        launcher.kill()
        launcher.wait()

    assert took < KILLED_RUN_ENDS_WITHIN
    assert launcher.returncode != 0
    said = stderr.read_text()
    survivor = 1 - killed
    assert f"digitpad train: rank {survivor} of 2 " in said, said
    assert "nothing was saved" in said
    assert f"[rank{survivor}]: Traceback" not in said  # torchrun's own report may follow; ours is one line
    assert not out_path.exists()
    assert not any(_children(launcher.pid))
