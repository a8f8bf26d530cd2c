"""Downloading MNIST into ``ROOT/MNIST/raw``, the folder torchvision reads.

torchvision supplies the mirrors, each file's md5, the checksum and the gzip
extraction (``torchvision.datasets.MNIST`` and ``torchvision.datasets.utils``).
Its own ``download_url`` cannot be stopped, reports no progress and writes in
place, so the transfer is kept here: a stop request (closing the app, Ctrl+C)
ends it within a fraction of a second even on a stalled connection; progress
goes to a callback; each file arrives under a hidden temporary name and is
renamed only once whole and checked, so an interrupted download is never taken
for data; and every failure is one paragraph saying what happened.
"""

from __future__ import annotations

import gzip
import os
import queue
import tempfile
import threading
import zlib
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

from digitpad import paths
from digitpad.data import DataError, DownloadCancelled, ProgressCallback, StopCheck, gz_names

_DOWNLOAD_TIMEOUT_S = 30
_PARTIAL_SUFFIX = ".part"
_READ_SIZE = 64 * 1024

# Approximate sizes, only for the progress total before a server says the real one.
_EXPECTED_GZ_BYTES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}


def _download_sources() -> tuple[list[str], list[tuple[str, str]]]:
    """torchvision's MNIST mirrors and (file name, md5 of the .gz) pairs."""
    from torchvision.datasets import MNIST

    return list(MNIST.mirrors), list(MNIST.resources)


def size_text(size: int) -> str:
    """A byte count as a person reads it: 9.9 MB, 28 kB, 85 bytes."""
    if size >= 100_000:
        return f"{size / 1e6:.1f} MB"
    if size >= 1000:
        return f"{size / 1e3:.0f} kB"
    return f"{size} bytes"


# --- what went wrong ---------------------------------------------------------------------------


class _TransferCut(ConnectionError):
    """A mirror answered, then the file stopped arriving before it was whole."""

    def __init__(self, received: int, total: int | None, cause: str):
        super().__init__(cause)
        self.received, self.total, self.cause = received, total, cause


class _ChecksumMismatch(ValueError):
    """A mirror sent a file that is not MNIST's (or, without a Content-Length, a cut one)."""

    def __init__(self, name: str, received: int):
        super().__init__(f"sent {size_text(received)} for {name}, which does not match MNIST's checksum "
                         f"(the transfer was cut short, or the file is not MNIST's)")


def _no_network_error(root: Path, raw: Path, reasons: list[str]) -> DataError:
    reason = reasons[-1] if reasons else "no answer"
    return DataError(
        f"MNIST is not in {root} and could not be downloaded into {raw}: none of the download mirrors could be "
        f"reached ({reason}). Either connect to the internet and try again, or point --data-dir or the "
        f"environment variable {paths.DATA_DIR_ENV} at a folder that already holds the four MNIST files "
        f"({gz_names()})."
    )


def _interrupted_error(name: str, raw: Path, mirror: str, cut: _TransferCut, kept: list[str]) -> DataError:
    in_all = f", {size_text(cut.total)} in all" if cut.total else ""
    whole = f" The files that arrived whole are kept and not fetched again ({', '.join(kept)})." if kept else ""
    return DataError(
        f"The MNIST download was interrupted: the connection to {mirror} was lost after {size_text(cut.received)} "
        f"of {name} ({cut.cause}{in_all}). Nothing incomplete was kept in {raw}: trying again downloads {name} "
        f"again from the start.{whole} If it keeps happening, point --data-dir or the environment variable "
        f"{paths.DATA_DIR_ENV} at a folder that already holds the four MNIST files ({gz_names()})."
    )


def _unwritable_error(root: Path, raw: Path, error: OSError) -> DataError:
    return DataError(
        f"MNIST is not in {root}, and digitpad cannot download it there: {raw} cannot be created or written "
        f"({error.strerror or error}). Point --data-dir or the environment variable {paths.DATA_DIR_ENV} at a "
        f"folder holding the four MNIST files, or at a writable folder to download them into."
    )


def _disk_error(raw: Path, error: OSError) -> DataError:
    return DataError(
        f"Could not save the MNIST download into {raw}: {error.strerror or error}. Free some space "
        f"or point --data-dir or {paths.DATA_DIR_ENV} at another folder."
    )


# --- one file ----------------------------------------------------------------------------------


class _Reader:
    """Opens ``url`` and reads it on a daemon thread, handing chunks over through a queue.

    The caller polls ``should_stop`` while it waits, so a stop is never held up
    by a slow or stalled connection, whose read can block for the whole socket
    timeout (or a name lookup, which no timeout covers). The caller alone writes
    the file, so it can delete it at once; an abandoned reader ends on its own
    when its read returns.
    """

    _POLL_S = 0.1

    def __init__(self, url: str):
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._abandoned = threading.Event()
        threading.Thread(target=self._run, args=(url,), name="digitpad-download", daemon=True).start()

    def _put(self, item) -> bool:
        while not self._abandoned.is_set():
            try:
                self._queue.put(item, timeout=self._POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, url: str) -> None:
        from torchvision.datasets.utils import USER_AGENT

        try:
            with urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=_DOWNLOAD_TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                if not self._put(("length", int(length) if length and length.isdigit() else None)):
                    return
                while True:
                    chunk = response.read1(_READ_SIZE)  # whatever has arrived, not a full read
                    if not self._put(("chunk", chunk)) or not chunk:
                        return
        except BaseException as error:  # noqa: BLE001 - handed to the caller, which raises it
            self._put(("error", error))

    def next(self, should_stop: StopCheck, cancelled: Callable[[], DownloadCancelled]):
        """The next ("length", int | None) or ("chunk", bytes) item; b"" at the end."""
        while True:
            if should_stop():
                raise cancelled()
            try:
                kind, value = self._queue.get(timeout=self._POLL_S)
            except queue.Empty:
                continue
            if kind == "error":
                raise value
            return kind, value

    def abandon(self) -> None:
        self._abandoned.set()


def _temporary_beside(target: Path) -> tuple[int, Path]:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PARTIAL_SUFFIX)
    return handle, Path(name)


def _fetch(url: str, target: Path, expected_md5: str, report: Callable[[int, int | None], None],
           should_stop: StopCheck) -> None:
    """Download ``url`` to ``target`` via a temporary file; only a whole, md5-checked file is renamed into place."""
    from torchvision.datasets.utils import check_integrity

    def cancelled() -> DownloadCancelled:
        return DownloadCancelled(f"The MNIST download was cancelled; nothing partial was kept in {target.parent}.")

    if should_stop():
        raise cancelled()
    handle, temporary = _temporary_beside(target)
    reader = _Reader(url)
    try:
        with os.fdopen(handle, "wb") as output:
            _, total = reader.next(should_stop, cancelled)
            received = 0
            while True:
                try:
                    _, chunk = reader.next(should_stop, cancelled)
                except TimeoutError:
                    raise _TransferCut(received, total, f"no data for {_DOWNLOAD_TIMEOUT_S} s") from None
                except (HTTPException, OSError) as error:
                    # The mirror was reached, so this is a broken transfer, not a missing network.
                    raise _TransferCut(received, total, str(error) or type(error).__name__) from None
                if not chunk:
                    break
                output.write(chunk)
                received += len(chunk)
                report(received, total)
            if total is not None and received != total:
                raise _TransferCut(received, total, "the server closed the connection")
            output.flush()
            os.fsync(output.fileno())
        if not check_integrity(temporary, expected_md5):
            raise _ChecksumMismatch(target.name, received)
        os.replace(temporary, target)
    finally:
        reader.abandon()
        temporary.unlink(missing_ok=True)


def _extract(compressed: Path, target: Path) -> None:
    """Decompress ``compressed`` to ``target`` through a temporary file, so a half-written file is never seen."""
    from torchvision.datasets.utils import _decompress

    handle, temporary = _temporary_beside(target)
    os.close(handle)
    try:
        _decompress(compressed, temporary)
        with open(temporary, "r+b") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


# --- all four ----------------------------------------------------------------------------------


def _prepare(root: Path, raw: Path) -> None:
    """Create ``raw`` and remove what an interrupted earlier run left in it."""
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for leftover in raw.glob(f".*{_PARTIAL_SUFFIX}"):
            leftover.unlink(missing_ok=True)
    except OSError as error:
        raise _unwritable_error(root, raw, error) from None


def download_mnist(root: str | os.PathLike[str] | None = None, progress: ProgressCallback | None = None,
                   should_stop: StopCheck | None = None) -> None:
    """Download the missing MNIST files from torchvision's mirrors into ``root/MNIST/raw``.

    ``progress(bytes_done, bytes_total)`` reports over all files; ``should_stop``
    cancels (DownloadCancelled). Files that are already there whole are kept.
    """
    from torchvision.datasets.utils import check_integrity

    root = Path(root) if root is not None else paths.default_data_dir()
    should_stop = should_stop or (lambda: False)
    raw = root / "MNIST" / "raw"
    _prepare(root, raw)

    mirrors, sources = _download_sources()
    needed = [(name, md5) for name, md5 in sources if not (raw / name.removesuffix(".gz")).is_file()]
    kept = [name for name, md5 in sources if (name, md5) not in needed]
    sizes = {name: _EXPECTED_GZ_BYTES.get(name, 0) for name, _ in needed}
    finished_bytes = 0

    def report_for(name: str) -> Callable[[int, int | None], None]:
        def report(received: int, total: int | None) -> None:
            if total:
                sizes[name] = total
            if progress is not None:
                progress(finished_bytes + received, max(sum(sizes.values()), finished_bytes + received))
        return report

    for name, md5 in needed:
        compressed = raw / name
        # A cut or foreign file under the real name (torchvision's own download writes in place) is fetched again.
        if not check_integrity(compressed, md5):
            compressed.unlink(missing_ok=True)
            _fetch_from_mirrors(mirrors, name, md5, raw, root, kept, report_for(name), should_stop)
        finished_bytes += sizes.get(name, 0)
        try:
            _extract(compressed, raw / name.removesuffix(".gz"))
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise DataError(f"Could not decompress {compressed} ({error}). Delete it and try again.") from None
        except OSError as error:
            raise _disk_error(raw, error) from None
        kept.append(name)
    if progress is not None and needed:
        progress(finished_bytes, finished_bytes)


def _fetch_from_mirrors(mirrors: list[str], name: str, md5: str, raw: Path, root: Path, kept: list[str],
                        report: Callable[[int, int | None], None], should_stop: StopCheck) -> None:
    """``name`` from the first mirror that sends it whole, or DataError saying why none did."""
    reasons = []
    mismatch = False
    interruption = None
    for mirror in mirrors:
        try:
            _fetch(f"{mirror}{name}", raw / name, md5, report, should_stop)
            return
        except DownloadCancelled:
            raise
        except _ChecksumMismatch as error:
            mismatch = True
            reasons.append(f"{mirror} {error}")
        except _TransferCut as cut:
            interruption = (mirror, cut)
            reasons.append(f"{mirror}: {cut.cause}")
        except (URLError, HTTPException, ConnectionError, TimeoutError) as error:
            reasons.append(f"{mirror}: {getattr(error, 'reason', None) or error}")
        except OSError as error:  # the disk, not the network
            raise _disk_error(raw, error) from None
    if mismatch:
        raise DataError(
            f"Downloading {name} into {raw} failed: {'; '.join(reasons)}. Try again later, or point "
            f"--data-dir or {paths.DATA_DIR_ENV} at a folder holding the four MNIST files."
        )
    if interruption is not None:  # a mirror was reached: the network is there, the transfer broke
        raise _interrupted_error(name, raw, *interruption, kept)
    raise _no_network_error(root, raw, reasons)

