"""The ``digitpad`` command: the app by default, plus headless train, eval, predict and teach.

The headless commands never import PySide6 or pyqtgraph: only ``gui`` does,
and only when it runs. Results go to stdout; progress bars, notes and errors go
to stderr. Every user error is one message and a non-zero exit status:
2 for a bad command line, 1 for anything else, 130 when stopped with Ctrl+C.

Each command lives in its own module here; this one reads the command line and
dispatches.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from typing import NoReturn

from digitpad.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, say, user_message
from digitpad.cli.parser import build_parser

HEADLESS_COMMANDS = ("train", "eval", "predict", "teach")


def run() -> NoReturn:
    """The ``digitpad`` command and ``python -m digitpad``: ``main()``, then exit."""
    headless = sys.argv[1:2] and sys.argv[1] in HEADLESS_COMMANDS
    status = main()
    # At exit Python runs full garbage collections over every object torch made:
    # a noticeable part of a short run. Frozen objects are skipped, as in the app
    # after its big loads; nothing is left unsaved by then.
    gc.freeze()
    if headless:
        _exit_once_flushed(status)
    sys.exit(status)


def _exit_once_flushed(status: int) -> NoReturn:
    """End a headless command as soon as everything it wrote is out.

    After the exit handlers, Python's normal exit frees every module and torch's
    C++ state object by object, for memory the OS takes back anyway. The command has closed its files by now (checkpoints
    are written and renamed atomically), so this runs the exit handlers (logging
    flushes, temporary folders are removed), flushes the standard streams and
    ends the process. With a thread still running, or a stream that cannot be
    flushed (a closed pipe), Python's normal exit handles it instead.
    """
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(status)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gui"]:  # the rest is Qt's (argparse would reject options like -platform)
        return _gui(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        say(error)
        return EXIT_USAGE
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else EXIT_OK

    command = args.command or "gui"
    try:
        if command == "gui":
            return _gui([])
        return _run_command(command, args)
    except UsageError as error:
        say(error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("digitpad: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `digitpad predict *.png | head`
        return EXIT_FAILED
    except Exception as error:
        message = user_message(error)
        if message is None:
            raise
        say(f"digitpad {command}: {message}")
        return EXIT_FAILED



def _run_command(command: str, args) -> int:
    """Each command's module is imported only when it runs."""
    if command == "train" and args.stroke_reader:
        from digitpad.cli import train_reader as module
    elif command == "train":
        from digitpad.cli import train as module
    elif command == "eval":
        from digitpad.cli import evaluate as module
    elif command == "teach":
        from digitpad.cli import teach as module
    else:
        from digitpad.cli import predict as module
    return module.run(args)


def _gui(qt_args: list[str]) -> int:
    try:
        from digitpad.gui import startup_trace
        from digitpad.gui.app import main as app_main
    except ImportError as error:
        say(f"digitpad: the app cannot start because a part of it is missing ({error}). "
             f"Reinstall with: pip install -e .   (train, eval, predict and teach work without it)")
        return EXIT_FAILED
    qt_args = startup_trace.take_option(qt_args)
    # Qt reads its own options (e.g. -platform) from an argv that starts with the program name.
    return app_main([sys.argv[0] if sys.argv and sys.argv[0] else "digitpad", *qt_args])

