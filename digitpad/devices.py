"""Which device computes: a choice from ``config.DEVICES`` turned into a ``torch.device``.

``auto`` takes a CUDA GPU if there is one, then Apple's GPU (MPS), else the
CPU. Asking for a device this machine lacks is one ``DeviceError`` that says
so. Whatever trains where, model files are written and read on the CPU
(``digitpad.checkpoint``), so a model trained on a GPU opens on any laptop.
"""

from __future__ import annotations

import torch

from digitpad.config import DEVICES

# Auto's order of preference.
_PREFERRED = ("cuda", "mps", "cpu")


class DeviceError(Exception):
    """The device asked for cannot be used here; the message says why and what to choose instead."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available() -> tuple[str, ...]:
    """The devices this machine can train on, most preferred first; "cpu" always."""
    found = {"cuda": torch.cuda.is_available(), "mps": _mps_available(), "cpu": True}
    return tuple(name for name in _PREFERRED if found[name])


def _missing(choice: str) -> DeviceError:
    if choice == "cuda":
        built = torch.version.cuda
        why = (f"this PyTorch ({torch.__version__}) is built for CUDA {built} but finds no usable GPU or driver"
               if built else f"this PyTorch ({torch.__version__}) is built without CUDA")
    else:
        why = "MPS needs an Apple silicon Mac and a PyTorch built with MPS"
    return DeviceError(f"the device '{choice}' is not available: {why}. Choose 'cpu' or 'auto'.")


def resolve(choice: str = "auto", local_rank: int = 0) -> torch.device:
    """The ``torch.device`` for ``choice``; with CUDA, GPU number ``local_rank`` (one per process under torchrun)."""
    if choice not in DEVICES:
        raise DeviceError(f"unknown device {choice!r}; choose one of {', '.join(DEVICES)}")
    if choice == "auto":
        choice = available()[0]
    if choice != "cpu" and choice not in available():
        raise _missing(choice)
    if choice == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise DeviceError(f"training process {local_rank + 1} on this machine needs GPU {local_rank}, "
                              f"but there {'is' if count == 1 else 'are'} only {count}; start fewer processes "
                              f"(torchrun --nproc_per_node={count})")
        return torch.device("cuda", local_rank)
    return torch.device(choice)


def describe(device: torch.device) -> str:
    """A short name for people: "CPU", "CUDA GPU 0 (NVIDIA H100)", "Apple GPU (MPS)"."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA GPU {index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return device.type.upper()
