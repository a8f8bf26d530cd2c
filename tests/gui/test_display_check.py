"""No window possible: `digitpad` says what is missing and exits 1, instead of Qt's abort.

The end-to-end tests run the real ``digitpad`` command in its own process with
Qt's platform forced to one that cannot start here; the others point the check
at real files (a copy of Qt's xcb plugin linked against a library no system
has, real sockets, a real X server when Xvfb is installed).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QLibraryInfo

from digitpad.gui import display_check

from .conftest import SUBPROCESS_TIMEOUT_S

QT_PLUGINS = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "XDG_SESSION_TYPE", "QT_QPA_PLATFORM")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11, Wayland and ELF plugins are Linux's")


def digitpad_command() -> list[str]:
    """The installed ``digitpad`` script beside this Python, else the same entry point through -m."""
    script = Path(sys.executable).with_name("digitpad")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "digitpad"]


def run_digitpad(tmp_path: Path, *args: str, **env_changes: str) -> subprocess.CompletedProcess:
    """``digitpad ARGS`` in a fresh process and home, with no display unless ``env_changes`` gives one."""
    env = {name: value for name, value in os.environ.items() if name not in DISPLAY_VARIABLES}
    env.update(DIGITPAD_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"), **env_changes)
    return subprocess.run([*digitpad_command(), *args], env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_S)


def assert_refused_cleanly(result: subprocess.CompletedProcess) -> str:
    """Exit status 1, one paragraph on stderr, no abort or traceback; returns the paragraph."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "core dumped" not in result.stderr and "Aborted" not in result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("digitpad cannot open its window: ")
    assert lines[0].endswith(display_check.HEADLESS_NOTE)
    return lines[0]


# ------------------------------------------------------------------- the command, end to end


@linux_only
def test_digitpad_with_no_display_says_so_and_exits_1(tmp_path):
    message = assert_refused_cleanly(run_digitpad(tmp_path, QT_QPA_PLATFORM="xcb"))
    assert "chosen by QT_QPA_PLATFORM=xcb" in message
    assert "there is no display: neither DISPLAY nor WAYLAND_DISPLAY is set" in message
    assert "digitpad train, eval and predict work without a display" in message


@linux_only
def test_qts_own_platform_option_is_respected_over_the_environment(tmp_path):
    result = run_digitpad(tmp_path, "gui", "-platform", "xcb", QT_QPA_PLATFORM="offscreen")
    assert "chosen by -platform xcb" in assert_refused_cleanly(result)


@linux_only
def test_a_platform_qt_fails_to_start_is_reported_instead_of_qts_abort(tmp_path):
    """A platform the check does not know: Qt's own failure is caught before Qt aborts."""
    result = run_digitpad(tmp_path, QT_QPA_PLATFORM="nosuchplatform")
    assert result.returncode != -signal.SIGABRT
    message = assert_refused_cleanly(result)
    assert "Qt could not start its window system" in message and '"nosuchplatform"' in message
    assert "offscreen" in message  # the window systems Qt does have


@linux_only
def test_the_check_passes_where_qt_will_start_and_imports_no_torch(tmp_path):
    code = ("import sys; from digitpad.gui import app; "
            "print(repr(app.window_problem(['digitpad'])), 'torch' in sys.modules)")
    env = {name: value for name, value in os.environ.items() if name not in DISPLAY_VARIABLES}
    done = subprocess.run([sys.executable, "-c", code], env={**env, "QT_QPA_PLATFORM": "offscreen"},
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert done.stdout.split() == ["None", "False"], done.stderr


# ------------------------------------------------------------------- which platforms Qt tries


@pytest.mark.parametrize("argv, environ, expected", [
    (["digitpad"], {}, (["xcb"], "")),
    (["digitpad"], {"DISPLAY": ":0"}, (["xcb"], "")),
    (["digitpad"], {"WAYLAND_DISPLAY": "wayland-0"}, (["wayland", "xcb"], "")),
    (["digitpad"], {"XDG_SESSION_TYPE": "wayland"}, (["wayland", "xcb"], "")),
    (["digitpad"], {"QT_QPA_PLATFORM": "Wayland-EGL;xcb:nograb"},
     (["wayland-egl", "xcb"], "QT_QPA_PLATFORM=Wayland-EGL;xcb:nograb")),
    (["digitpad", "--platform", "offscreen"], {"QT_QPA_PLATFORM": "xcb"}, (["offscreen"], "-platform offscreen")),
])
def test_the_platforms_are_those_qt_would_try(argv, environ, expected):
    assert display_check.requested_platforms(argv, environ) == expected


def test_macos_and_windows_always_pass():
    for platform in ("darwin", "win32"):
        assert display_check.window_problem(["digitpad"], {}, QT_PLUGINS, platform=platform) is None


# ------------------------------------------------------------------- missing libraries


@pytest.fixture
def plugins_missing_a_library(tmp_path, monkeypatch) -> Path:
    """Qt's plugin folder rebuilt in tmp_path: its xcb plugin, but linked against a library no system has.

    One of its library names is replaced by another of the same length, so the
    dynamic loader, ldd and the check all see a real plugin that cannot load.
    """
    real = (QT_PLUGINS / "platforms" / "libqxcb.so").read_bytes()
    needed, absent = b"libxcb-cursor.so.0\0", b"libxcb-absent.so.0\0"
    assert len(needed) == len(absent) and needed in real
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").symlink_to(QT_PLUGINS.parent / "lib")  # the plugin finds Qt's libraries at $ORIGIN/../../lib
    (qt / "plugins" / "platforms" / "libqxcb.so").write_bytes(real.replace(needed, absent))
    monkeypatch.setitem(display_check.PACKAGES, "libxcb-absent.so.0", ("libxcb-absent0", "xcb-util-absent"))
    return qt / "plugins"


@linux_only
def test_a_library_the_plugin_lacks_is_named_with_the_commands_that_install_it(plugins_missing_a_library):
    missing, error = display_check.missing_libraries(plugins_missing_a_library / "platforms" / "libqxcb.so")
    assert "libxcb-absent.so.0" in missing and error
    message = display_check.window_problem(["digitpad"], {"DISPLAY": ":0"}, plugins_missing_a_library)
    assert "Qt's xcb plugin needs system libraries that are not installed (" in message
    assert "libxcb-absent.so.0" in message
    assert re.search(r"'sudo apt install [^']*\blibxcb-absent0\b[^']*' \(Debian, Ubuntu\)", message)
    assert re.search(r"'sudo dnf install [^']*\bxcb-util-absent\b[^']*' \(Fedora\)", message)
    assert message.endswith(display_check.HEADLESS_NOTE)


@linux_only
def test_without_ldd_the_library_the_loader_names_is_reported(plugins_missing_a_library, monkeypatch):
    def no_ldd(*args, **kwargs):
        raise FileNotFoundError("ldd")

    monkeypatch.setattr(display_check.subprocess, "run", no_ldd)
    missing, error = display_check.missing_libraries(plugins_missing_a_library / "platforms" / "libqxcb.so")
    assert len(missing) == 1 and error.startswith(f"{missing[0]}: cannot open shared object file")


def test_a_library_of_unknown_package_is_named_with_how_to_find_its_package():
    problem = display_check.Problem("Qt's xcb plugin needs system libraries that are not installed "
                                    "(libfoo.so.3)", ["libfoo.so.3"])
    message = display_check.describe([("xcb", problem)])
    assert "'apt-file search libfoo.so.3'" in message and "'dnf provides \"*/libfoo.so.3\"'" in message
    assert "sudo apt install" not in message


@linux_only
def test_every_library_qts_plugins_load_maps_to_a_package_the_readme_names():
    """README's list (which .ci/run installs) covers what the xcb and offscreen plugins load."""
    if not shutil.which("ldd"):
        pytest.skip("ldd is not installed")
    from test_packaging import _readme_packages

    listed = ""
    for plugin in ("libqxcb.so", "libqoffscreen.so"):
        listed += subprocess.run(["ldd", str(QT_PLUGINS / "platforms" / plugin)], capture_output=True,
                                 text=True, timeout=30).stdout
    libraries = set(re.findall(r"^\s*(\S+) =>", listed, re.MULTILINE))
    assert "libxcb-cursor.so.0" in libraries
    needed = {display_check.PACKAGES[library][0] for library in libraries if library in display_check.PACKAGES}
    assert needed <= set(_readme_packages())


# ------------------------------------------------------------------- displays that are not there


def _free_x_display() -> str:
    number = 90
    while Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
        number += 1
    return f":{number}"


@linux_only
def test_an_x_display_with_no_server_is_named(monkeypatch):
    try:
        ctypes.CDLL("libxcb.so.1")
    except OSError:
        pytest.skip("libxcb is not installed")
    display = _free_x_display()
    assert display_check.x_server_problem(display) == (
        f"the X display DISPLAY={display} cannot be reached (no X server runs there, "
        "or this user may not connect to it)")
    assert not display_check._held_connections
    # The whole check says so too, once the plugin's libraries are all there.
    monkeypatch.setattr(display_check, "missing_libraries", lambda plugin: ([], None))
    message = display_check.window_problem(["digitpad"], {"DISPLAY": display}, QT_PLUGINS)
    assert f"DISPLAY={display} cannot be reached" in message and "Start digitpad from a desktop" in message


def test_a_wayland_display_must_be_a_socket_that_answers(tmp_path):
    environ = {"XDG_RUNTIME_DIR": str(tmp_path), "WAYLAND_DISPLAY": "wayland-test"}
    path = tmp_path / "wayland-test"
    assert display_check.wayland_socket_problem(environ) == f"there is no Wayland display at {path}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        assert "does not answer" in display_check.wayland_socket_problem(environ)
        server.listen(1)
        assert display_check.wayland_socket_problem(environ) is None
    assert "XDG_RUNTIME_DIR is not set" in display_check.wayland_socket_problem({})


# ------------------------------------------------------------------- a real X server


@pytest.fixture(scope="module")
def x_server():
    """A fresh Xvfb, which (like any X server) resets itself when its last client leaves."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.skip("Xvfb is not installed")
    read, write = os.pipe()
    process = subprocess.Popen([xvfb, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "800x600x24"],
                               pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read)
        process.terminate()
        process.wait(30)


@linux_only
@pytest.mark.slow
def test_on_a_real_x_server_the_app_starts_or_names_what_is_missing(x_server, tmp_path):
    """Qt's default platform on X11: the window opens, or every library named really is missing."""
    trace = tmp_path / "trace.json"
    result = run_digitpad(tmp_path, "gui", "--trace-startup", str(trace), DISPLAY=x_server)
    if result.returncode == 0:
        assert "first_prediction" in json.loads(trace.read_text())["marks"]
        return
    message = assert_refused_cleanly(result)
    named = re.search(r"not installed \(([^)]*)\)", message).group(1).split(", ")
    for library in named:
        with pytest.raises(OSError):
            ctypes.CDLL(library)


@linux_only
def test_a_working_x_connection_is_held_until_released(x_server):
    assert display_check.x_server_problem(x_server) is None
    assert len(display_check._held_connections) == 1
    display_check.release_probes()
    assert not display_check._held_connections
