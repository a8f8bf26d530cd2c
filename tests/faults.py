"""Injected file-system faults: a disk that fills up mid-write, a folder that refuses new files.

Both are simulated at the operating-system boundary (the temporary file's
writes, ``os.open``), since the tests run as root, where permissions block nothing.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import tempfile
from pathlib import Path

import pytest


class FailingStream(io.RawIOBase):
    """Wraps a file: the write that crosses ``limit`` bytes stores what fits, then fails with ``error_number``."""

    def __init__(self, stream, limit: int, error_number: int = errno.ENOSPC):
        self._stream, self._limit, self._errno, self.written = stream, limit, error_number, 0

    def write(self, chunk) -> int:
        room = self._limit - self.written
        if len(chunk) > room:
            self._stream.write(bytes(chunk[:room]))  # what made it onto the disk before it filled up
            self.written = self._limit
            raise OSError(self._errno, os.strerror(self._errno))
        self.written += len(chunk)
        return self._stream.write(chunk)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if not self._stream.closed:
            self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def close(self) -> None:
        super().close()
        self._stream.close()


def fill_disk_in(patch: pytest.MonkeyPatch, folder: Path | None, limit: int,
                 error_number: int = errno.ENOSPC) -> None:
    """Temporary files created in ``folder`` (any folder if None) fail after ``limit`` bytes.

    digitpad writes every file as a temporary (``tempfile.mkstemp`` + ``os.fdopen``)
    that is renamed once complete, so this is where a full disk shows up.
    """
    real_mkstemp, real_fdopen = tempfile.mkstemp, os.fdopen
    doomed: set[int] = set()

    def mkstemp(*args, **kwargs):
        descriptor, name = real_mkstemp(*args, **kwargs)
        if folder is None or Path(name).parent == Path(folder):
            doomed.add(descriptor)
        return descriptor, name

    def fdopen(descriptor, *args, **kwargs):
        stream = real_fdopen(descriptor, *args, **kwargs)
        if descriptor in doomed:
            doomed.discard(descriptor)
            return FailingStream(stream, limit, error_number)
        return stream

    patch.setattr(tempfile, "mkstemp", mkstemp)
    patch.setattr(os, "fdopen", fdopen)


def refuse_new_files_in(patch: pytest.MonkeyPatch, folder: Path, error_number: int = errno.EROFS) -> None:
    """Creating a file in ``folder`` fails as on a read-only file system (or with EACCES)."""
    real_open = os.open

    def fake_open(file, flags, *args, **kwargs):
        if flags & os.O_CREAT and Path(os.fsdecode(file)).parent == Path(folder):
            raise OSError(error_number, os.strerror(error_number), os.fsdecode(file))
        return real_open(file, flags, *args, **kwargs)

    patch.setattr(os, "open", fake_open)


def hidden_leftovers(root: Path) -> list[Path]:
    """Temporary files (digitpad writes them as hidden .NAME.*.part/.tmp)."""
    return [path for path in Path(root).rglob("*") if path.name.startswith(".")]


def truncate_file(path: Path) -> None:
    """Cut a file off halfway, as an interrupted copy or download would."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def set_idx_magic(path: Path, magic: int) -> None:
    """Rewrite a gzip IDX file's magic number (2049 labels, 2051 images)."""
    payload = bytearray(gzip.decompress(path.read_bytes()))
    payload[:4] = magic.to_bytes(4, "big")
    path.write_bytes(gzip.compress(bytes(payload)))
