"""The wheel carries the whole package and resources/, and finds them once installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCE_SUFFIXES = {".pt", ".png", ".svg", ".ico", ".icns", ".json", ".md", ".txt", ".py"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    source = tmp_path_factory.mktemp("source")
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the working tree.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("digitpad", "resources"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, source / name)
    if not (source / "README.md").exists():
        (source / "README.md").write_text("digitpad\n")
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("digitpad-*.whl")
    return built


def _shipped_resources() -> list[str]:
    folder = REPO_ROOT / "resources"
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*")
        if path.is_file() and path.suffix in RESOURCE_SUFFIXES and "__pycache__" not in path.parts
    )


def test_the_wheel_holds_the_package_and_every_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = [path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "digitpad").rglob("*.py")
               if "__pycache__" not in path.parts]
    assert set(modules) <= names
    resources = _shipped_resources()
    assert "__init__.py" in resources
    assert {f"digitpad/resources/{name}" for name in resources} <= names
    assert not any(name.startswith("tests/") for name in names)


def test_the_wheel_declares_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [name for name in archive.namelist() if name.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "digitpad = digitpad.cli:run" in text


def test_an_installed_wheel_finds_its_resources(wheel, tmp_path):
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    child = ("from digitpad import paths\n"
             "print(paths.resources_dir())\n"
             "print(paths.shipped_model_path().is_file())")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    folder, model_found = done.stdout.split()
    assert Path(folder) == installed / "digitpad" / "resources"
    assert model_found == str((REPO_ROOT / "resources" / "model.pt").is_file())


def _readme_packages() -> list[str]:
    """The apt line README.md's "Set up" gives for a machine without a desktop."""
    setup = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in setup.splitlines() if line.startswith("sudo apt install ") and "#" not in line]
    assert len(lines) == 1, lines
    return lines[0].split()[3:]


def _ci_packages() -> list[str]:
    script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    listed = script.split("system_packages=(", 1)[1].split(")", 1)[0]
    return listed.split()


def test_the_readme_names_the_system_packages_ci_installs():
    readme = _readme_packages()
    assert sorted(readme) == sorted(_ci_packages())
    assert len(set(readme)) == len(readme)
    # The one a fresh Ubuntu desktop lacks is named on its own, with Fedora's name for it.
    assert "sudo apt install libxcb-cursor0        # Fedora: sudo dnf install xcb-util-cursor" in (
        REPO_ROOT / "README.md").read_text(encoding="utf-8")
