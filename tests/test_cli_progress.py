"""The command line's progress on stderr (tqdm): a live bar on a terminal, plain lines in a log, Ctrl+C."""

from __future__ import annotations

import io
import os
import signal
import time

import pytest

from digitpad.cli import progress
from digitpad.cli.common import stop_on_interrupt
from digitpad.training import BatchProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def batches(epoch: int, epochs: int = 2, steps: int = 100, every: int = 20) -> list[BatchProgress]:
    return [BatchProgress(epoch=epoch, epochs=epochs, step=step, steps_per_epoch=steps,
                          global_step=(epoch - 1) * steps + step, total_steps=epochs * steps, loss=1.0 / step,
                          elapsed=0.01 * step) for step in range(every, steps + 1, every)]


def test_a_log_gets_whole_lines_and_no_redrawing(capsys):
    log = io.StringIO()
    with progress.EpochBars(log) as bars:
        for event in batches(1):
            bars.show(event)
        bars.print("epoch 1 validation: loss 0.1000, accuracy 0.9000 (0.1 s)")
        for event in batches(2)[:2]:
            bars.show(event)

    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert all(line.strip() for line in lines)  # no blanking, no empty lines
    # Within the ten seconds between log lines: where each epoch began, and where it ended.
    assert [line.split("|")[0] for line in lines] == ["epoch 1/2:   0%", "epoch 1/2: 100%", "epoch 2/2:   0%",
                                                      "epoch 2/2:  40%"]
    assert "100/100" in lines[1] and "loss 0.0100" in lines[1]
    assert capsys.readouterr().out == "epoch 1 validation: loss 0.1000, accuracy 0.9000 (0.1 s)\n"


def test_a_log_gets_a_line_only_every_so_often(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)
    with progress.EpochBars(log) as bars:
        for event in batches(1, epochs=1):
            bars.show(event)
    assert len(log.getvalue().splitlines()) == 1 + 5  # the start, then each count once

    log = io.StringIO()
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 3600.0)
    with progress.EpochBars(log) as bars:
        for event in batches(1, epochs=1):
            bars.show(event)
    assert len(log.getvalue().splitlines()) == 2


def test_a_terminal_gets_a_bar_redrawn_in_place():
    terminal = Terminal()
    with progress.EpochBars(terminal) as bars:
        for event in batches(1, epochs=1):
            bars.show(event)
    text = terminal.getvalue()
    assert text.count("\r") >= 2 and text.endswith("\n") and text.count("\n") == 1
    assert "epoch 1/1: 100%" in text.rsplit("\r", 1)[-1]


def test_the_download_bar_shows_only_when_something_is_downloaded():
    log = io.StringIO()
    with progress.download_bar(log):
        pass
    assert log.getvalue() == ""

    with progress.download_bar(log) as report:
        for done in range(0, 11_000_001, 1_000_000):
            report(done, 11_000_000)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("downloading MNIST:   0%") and lines[-1].startswith("downloading MNIST: 100%")
    assert "11.0M/11.0M" in lines[-1]


def test_first_ctrl_c_asks_to_stop_and_a_second_aborts_with_the_bar_closed(capsys):
    log = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with stop_on_interrupt("stopping after the current batch") as stop, progress.EpochBars(log) as bars:
            bars.show(batches(1)[0])
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 5
            while not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stop.is_set()  # the first one only asks: training goes on to the end of its batch
            bars.show(batches(1)[1])
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the second one interrupts this at once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert log.getvalue().splitlines()[-1].startswith("epoch 1/2:  40%")  # closed where it was
