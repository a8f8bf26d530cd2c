"""The bad model files of issue 6, written the way they happen in life.

Each writer takes the target path and a folder for scratch files. The
code-running pickle creates ``marker`` only if something unpickles it unsafely.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from digitpad import checkpoint
from digitpad.config import ModelConfig
from digitpad.models import build_model

SMALL = ModelConfig(arch="mlp", hidden=(16,))


def good_checkpoint(path: Path, name: str = "good") -> Path:
    torch.manual_seed(0)
    checkpoint.save(checkpoint.Checkpoint(model_config=SMALL, state_dict=build_model(SMALL).state_dict(), name=name),
                    path)
    return path


def _good_payload(scratch: Path) -> dict:
    return torch.load(good_checkpoint(scratch / "source.pt"), weights_only=True)


class TouchesMarker:
    """Unpickled by a full unpickler, this creates ``marker`` (no shell involved)."""

    def __init__(self, marker: Path):
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def marker_of(scratch: Path) -> Path:
    return scratch / "pickle-code-ran"


def _corrupt(path: Path, scratch: Path) -> None:
    good_checkpoint(path)
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 32] = bytes(byte ^ 0xFF for byte in content[middle : middle + 32])
    path.write_bytes(bytes(content))


def _truncated(path: Path, scratch: Path) -> None:
    good_checkpoint(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _other_models_state_dict(path: Path, scratch: Path) -> None:
    # What `torch.save(model.state_dict(), "model.pt")` gives for somebody else's network.
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    torch.save(other.state_dict(), path)


def _png_renamed(path: Path, scratch: Path) -> None:
    Image.new("RGB", (64, 64), "white").save(path, format="PNG")


def _newer_format(path: Path, scratch: Path) -> None:
    payload = _good_payload(scratch)
    payload["format_version"] = checkpoint.FORMAT_VERSION + 1
    torch.save(payload, path)


def _code_running_pickle(path: Path, scratch: Path) -> None:
    # Inside a real torch.save container, where a digitpad model's weights would be.
    payload = _good_payload(scratch)
    payload["state_dict"] = TouchesMarker(marker_of(scratch))
    torch.save(payload, path)


def _code_running_raw_pickle(path: Path, scratch: Path) -> None:
    path.write_bytes(pickle.dumps(TouchesMarker(marker_of(scratch))))


# case -> (writer, words the message must contain)
BAD_CHECKPOINTS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "corrupt bytes": (_corrupt, "corrupt"),
    "truncated": (_truncated, "truncated"),
    "empty": (lambda path, scratch: path.write_bytes(b""), "empty"),
    "another model's state_dict": (_other_models_state_dict, "bare network weights"),
    "PNG renamed .pt": (_png_renamed, "PNG image"),
    "newer format version": (_newer_format, "newer digitpad"),
    "code-running pickle": (_code_running_pickle, "could run code"),
    "code-running raw pickle": (_code_running_raw_pickle, "not a PyTorch model file"),
}


def write_bad(case: str, path: Path, scratch: Path) -> str:
    """Write the bad file for ``case``; returns the words its message must contain."""
    writer, expected = BAD_CHECKPOINTS[case]
    scratch.mkdir(parents=True, exist_ok=True)
    writer(path, scratch)
    assert not marker_of(scratch).exists()
    return expected


def code_ran(scratch: Path) -> bool:
    return marker_of(scratch).exists()
