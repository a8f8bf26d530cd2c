"""Keep the garbage collector's full passes from freezing the window.

A full collection walks every tracked object while holding the GIL, so every
thread waits, the GUI thread included, and once torch is loaded the app
tracks hundreds of thousands of objects: a full pass is a visible stall.

So the app's big one-off loads (torch and the start-up model, then what
training needs) run with the collector paused, and what they created is then
moved to the permanent generation (``gc.freeze``), which later passes skip:
after that a full pass only walks objects made since. Garbage that such a load
leaves in reference cycles stays frozen with it; that is a little memory, once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_and_frozen() -> Iterator[None]:
    """No collections inside (from any thread); freeze everything when the last one leaves."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.freeze()
                if _was_enabled:
                    gc.enable()


def is_paused() -> bool:
    with _lock:
        return _depth > 0
