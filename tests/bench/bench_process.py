"""What the whole-process benchmarks share: where MNIST is, a private digitpad home,
and running a command to its end with its wall time and reported test accuracy."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO_ROOT.parent / "shared" / "mnist"
TEST_ACCURACY = re.compile(r"test accuracy: ([0-9.]+)")


def isolated_env(scratch: Path) -> dict[str, str]:
    """This environment with digitpad's home in ``scratch``, so no run sees the user's models or cache."""
    env = {**os.environ, "DIGITPAD_HOME": str(scratch / "home")}
    env.pop("DIGITPAD_DATA_DIR", None)
    return env


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, the 'test accuracy: X' it printed (NaN if none) and its standard output; exits on failure."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    match = TEST_ACCURACY.search(completed.stdout)
    return elapsed, float(match.group(1)) if match else float("nan"), completed.stdout
