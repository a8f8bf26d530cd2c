"""A local HTTP server that plays an MNIST download mirror and misbehaves on request.

Used by the reliability tests (core and app) to interrupt, slow down or stall a
real ``mnist_download.download_mnist`` without any network.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

from mnist_fakes import make_fake_mnist


class FakeMirror:
    """Serves ``files`` (name -> bytes).

    ``cut`` names files whose body stops halfway (then the connection closes);
    ``no_length`` sends no Content-Length, so only the checksum can tell a cut
    file from a whole one; ``chunk_delay`` pauses after every 16 kB (a long one is
    a stalled connection); ``answer_delay`` waits that long before answering at
    all (a server that takes the connection, then says nothing).
    """

    CHUNK = 16 * 1024

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.cut: set[str] = set()
        self.no_length = False
        self.chunk_delay = 0.0
        self.answer_delay = 0.0
        self.requests: list[str] = []
        self.closing = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                mirror.requests.append(name)
                if mirror.answer_delay and mirror.closing.wait(mirror.answer_delay):
                    return
                body = mirror.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if not mirror.no_length:
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                sent = body[: len(body) // 2] if name in mirror.cut else body
                try:
                    for start in range(0, len(sent), mirror.CHUNK):
                        if mirror.closing.is_set():
                            return
                        self.wfile.write(sent[start : start + mirror.CHUNK])
                        self.wfile.flush()
                        if mirror.chunk_delay:
                            mirror.closing.wait(mirror.chunk_delay)
                except (BrokenPipeError, ConnectionResetError):  # the client went away: fine
                    return
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def sources(self) -> list[tuple[str, str]]:
        """(file name, md5) pairs, as torchvision's MNIST.resources lists them."""
        return [(name, hashlib.md5(body).hexdigest()) for name, body in sorted(self.files.items())]

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def mnist_gz_files(folder: Path, train: int = 600, test: int = 100) -> dict[str, bytes]:
    """The four small fake MNIST .gz files, as a mirror would serve them."""
    make_fake_mnist(folder, train=train, test=test)
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.gz"))}


# The discard port: nothing listens there, so every download fails at once.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/"


def use_unreachable_mirrors(monkeypatch, mirrors: tuple[str, ...] = (UNREACHABLE_MIRROR,)) -> None:
    """Make ``mnist_download.download_mnist`` try only ``mirrors``, where nothing answers: no network."""
    from digitpad import data, mnist_download

    sources = [(f"{name}.gz", "0" * 32) for name in data.all_file_names()]
    monkeypatch.setattr(mnist_download, "_download_sources", lambda: (list(mirrors), sources))
