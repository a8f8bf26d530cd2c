"""Training in several processes, on one machine or several, with torch.distributed.

``torchrun --nproc_per_node=N -m digitpad train ...`` starts N processes and
tells each its rank in the environment. ``launched_ranks`` reads it,
``process_group`` joins the others (``nccl`` on CUDA, ``gloo`` on the CPU) and
``fit`` (digitpad.training) wraps its model in ``DistributedDataParallel``.
Without torchrun's environment everything here is a no-op: one process, rank 0.

Rank 0 alone validates, reports progress and saves. A rank that dies or is
stopped ends the others: its peers' next collective fails (or torchrun stops
them with SIGTERM), and they say so in one message instead of waiting.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import nn

# The longest any collective waits for a rank that is alive but silent (rank 0
# validating or saving, or downloading MNIST while the others wait for it). A rank
# that dies ends the others at once, not after this.
TIMEOUT = timedelta(minutes=10)


class DistributedError(Exception):
    """The processes of one run cannot work together; the message says what happened."""


@dataclass(frozen=True)
class Ranks:
    """Which process this is among those of one run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # among the processes on this machine: its GPU number on CUDA
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size}"


SINGLE = Ranks()


def launched_ranks(environment: dict[str, str] | None = None) -> Ranks:
    """This process's ranks as torchrun set them (RANK, WORLD_SIZE, LOCAL_RANK...); SINGLE without torchrun."""
    env = os.environ if environment is None else environment
    if "WORLD_SIZE" not in env:
        return SINGLE
    try:
        world_size = int(env["WORLD_SIZE"])
        ranks = Ranks(int(env.get("RANK", 0)), world_size, int(env.get("LOCAL_RANK", 0)),
                      int(env.get("LOCAL_WORLD_SIZE", world_size)))
    except ValueError:
        raise DistributedError("torchrun's RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be whole numbers") from None
    if not 0 <= ranks.rank < ranks.world_size or not 0 <= ranks.local_rank < ranks.local_world_size:
        raise DistributedError(f"torchrun's environment gives rank {ranks.rank} of {ranks.world_size}, "
                               f"local rank {ranks.local_rank} of {ranks.local_world_size}: not a possible process")
    return ranks


def current() -> Ranks:
    """The ranks of the process group this process has joined; SINGLE if it has joined none."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return SINGLE
    launched = launched_ranks()
    return Ranks(torch.distributed.get_rank(), torch.distributed.get_world_size(),
                 launched.local_rank, launched.local_world_size)


class _StoppedByLauncher(DistributedError):
    pass


def _on_terminate(signum, frame):
    # torchrun sends SIGTERM to every other process when one fails.
    raise _StoppedByLauncher(f"{current().describe()} was stopped by torchrun because another process of this run "
                             "ended; nothing was saved")


@contextmanager
def process_group(ranks: Ranks, device: torch.device, timeout: timedelta = TIMEOUT) -> Iterator[None]:
    """Join the run's other processes for the duration; all of them leave together at a barrier.

    A no-op for a single process.
    """
    if not ranks.distributed:
        yield
        return
    if not torch.distributed.is_available():
        raise DistributedError("this PyTorch is built without torch.distributed, so it cannot train in several processes")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        torch.distributed.init_process_group(backend, rank=ranks.rank, world_size=ranks.world_size, timeout=timeout)
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"{ranks.describe()} could not join the others ({error})") from None
    previous = signal.signal(signal.SIGTERM, _on_terminate)
    try:
        yield
    except BaseException:
        # The run has failed here and the reason is still to be said: torchrun's SIGTERM,
        # which it sends to the others once one process has ended, must not cut that short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise
    signal.signal(signal.SIGTERM, previous)
    # Rank 0 has saved by now: a process that ends at this point changes nothing.
    try:
        barrier()
    except RuntimeError:
        return
    torch.distributed.destroy_process_group()


def failure(error: BaseException) -> DistributedError | None:
    """A peer's failure seen in a collective, as a DistributedError; None for anything else."""
    if isinstance(error, DistributedError):
        return error
    if not current().distributed or not isinstance(error, RuntimeError):
        return None
    # gloo's errors reach Python as plain RuntimeErrors (in DistributedDataParallel's hooks, say).
    text = str(error)
    if not (isinstance(error, getattr(torch.distributed, "DistError", ())) or "gloo" in text or "NCCL" in text):
        return None
    return DistributedError(f"{current().describe()} lost contact with another process of this run, which probably "
                            f"ended ({_first_sentence(str(error))}); nothing was saved")


def _first_sentence(text: str) -> str:
    """gloo's and nccl's errors start with a source location and go on for lines."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", text.strip())
    return re.split(r"(?<=\w)\.\s", text, maxsplit=1)[0].splitlines()[0] if text else "no reason given"


def barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def any_rank(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """Whether ``flag`` is true in any process; every process must ask at the same point."""
    if not ranks.distributed:
        return flag
    # nccl reduces only GPU tensors, gloo CPU ones.
    vote = torch.tensor([1.0 if flag else 0.0], device=device if device.type == "cuda" else "cpu")
    torch.distributed.all_reduce(vote, op=torch.distributed.ReduceOp.MAX)
    return bool(vote.item())


def parallel(model: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when there are several processes, else itself."""
    if not ranks.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard(global_batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This process's share of a batch: every world_size-th item from its rank on."""
    return global_batch[ranks.rank :: ranks.world_size]
