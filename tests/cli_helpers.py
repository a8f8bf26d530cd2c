"""What the command-line tests share: running ``digitpad`` in-process, its one-message errors, a drawn 7."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw

from digitpad import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``digitpad ARGV`` in this process: exit status, stdout, stderr."""
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# A progress bar's line in a pipe or a log (digitpad.cli.progress): "what: 40%|####      | 4/10 [...]".
_PROGRESS_LINE = re.compile(r"^[^:]+: +\d+%\|")


def without_progress(err: str) -> str:
    """stderr without its progress bars' lines: the messages alone."""
    return "".join(line for line in err.splitlines(keepends=True) if not _PROGRESS_LINE.match(line))


def assert_one_clean_message(err: str) -> None:
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def digit_image(size: int = 280, ink: int = 0, paper: int = 255, mode: str = "L") -> Image.Image:
    """A hand-drawn-looking 7 in gray levels ``ink`` on ``paper``, converted to ``mode``."""
    image = Image.new(mode if mode == "1" else "L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    points = [(0.28 * size, 0.22 * size), (0.72 * size, 0.22 * size), (0.42 * size, 0.8 * size)]
    draw.line(points, fill=ink, width=max(1, size // 14), joint="curve")
    return image if mode in ("1", "L") else image.convert(mode)
