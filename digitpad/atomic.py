"""Writing a file so that a crash or a full disk never leaves it half written.

The bytes go to a hidden temporary file in the same folder, are flushed to the
disk, and only then replace the target with ``os.replace``: a reader sees the
old file or the new one, never a part of either. A temporary file left by a
crash starts with a dot and ends in ``.tmp``, so folder scans can skip it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; raises OSError (the target is then unchanged)."""
    handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
