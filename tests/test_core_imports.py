"""The core and the headless commands never import Qt or pyqtgraph.

Checked in a fresh interpreter, since this test process may have imported
PySide6 for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from digitpad import checkpoint
from digitpad.config import ModelConfig
from digitpad.models import build_model

REPO_ROOT = Path(__file__).resolve().parent.parent
GUI_MODULES = ("PySide6", "shiboken6", "pyqtgraph")

CHILD = r"""
import json, pkgutil, sys
from pathlib import Path
import digitpad

GUI = ("PySide6", "shiboken6", "pyqtgraph")
def loaded(names):
    return sorted(m for m in sys.modules if m.split(".")[0] in names)

report = {}
core = [m.name for m in pkgutil.iter_modules(digitpad.__path__) if m.name not in ("gui", "__main__")]
for name in core:
    __import__(f"digitpad.{name}")
report["core"] = core
report["after_core_imports"] = loaded(GUI)
report["torchvision_after_core_imports"] = loaded(("torchvision",))

from digitpad import cli
args = json.loads(sys.argv[1])
report["predict_status"] = cli.main(["predict", "--checkpoint", args["checkpoint"], args["image"]])
report["torchvision_after_predict"] = loaded(("torchvision",))
report["eval_status"] = cli.main(["eval", "--checkpoint", args["checkpoint"], "--data-dir", args["data"]])
report["train_status"] = cli.main(["train", "--arch", "mlp", "--hidden", "8", "--epochs", "1", "--no-augment",
                                   "--data-dir", args["data"], "--out", args["out"]])
report["after_commands"] = loaded(GUI)
from digitpad import mnist_download
mnist_download._download_sources = lambda: ([args["mirror"]], [tuple(pair) for pair in args["sources"]])
mnist_download.download_mnist(args["download_into"])
report["after_download"] = loaded(GUI)
report["progress_libraries"] = loaded(("tqdm", "platformdirs"))
print("REPORT " + json.dumps(report))
"""


def test_core_and_headless_commands_never_import_qt(tmp_path, fake_mnist, mirror):
    """Nor do the libraries they use: torchvision's download utilities, tqdm, platformdirs."""
    from PIL import Image, ImageDraw

    config = ModelConfig(arch="mlp", hidden=(8,))
    model_path = tmp_path / "model.pt"
    checkpoint.save(checkpoint.Checkpoint(model_config=config, state_dict=build_model(config).state_dict()), model_path)
    image = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(image).line([(16, 12), (48, 12), (24, 54)], fill=0, width=6)
    image.save(tmp_path / "digit.png")
    args = {"checkpoint": str(model_path), "image": str(tmp_path / "digit.png"), "data": str(fake_mnist["root"]),
            "out": str(tmp_path / "trained.pt"), "mirror": mirror.url, "sources": mirror.sources(),
            "download_into": str(tmp_path / "downloaded")}

    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)

    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert lines, done.stdout + done.stderr
    report = json.loads(lines[-1].removeprefix("REPORT "))
    assert {"config", "paths", "data", "checkpoint", "cli", "models", "training", "preprocess",
            "inference"} <= set(report["core"])
    assert report["after_core_imports"] == []
    assert (report["predict_status"], report["eval_status"], report["train_status"]) == (0, 0, 0), done.stderr
    assert report["after_commands"] == [] and report["after_download"] == []
    assert {"tqdm", "platformdirs"} <= set(report["progress_libraries"])  # they were really used
    assert (tmp_path / "downloaded" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_importing_the_core_does_not_import_torchvision(tmp_path):
    """torchvision costs about a second to import; only the first read of MNIST and downloads need it."""
    child = ("import sys, pkgutil, digitpad\n"
             "for m in pkgutil.iter_modules(digitpad.__path__):\n"
             "    m.name in ('gui', '__main__') or __import__('digitpad.' + m.name)\n"
             "print(sorted(n for n in sys.modules if n.split('.')[0] == 'torchvision'))")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["-m", "digitpad", "--help"], ["-m", "digitpad", "--version"]])
def test_python_dash_m_runs_the_command(argv, tmp_path):
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "digitpad" in done.stdout
