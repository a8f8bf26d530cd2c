"""Can Qt open a window here? Asked before the QApplication exists.

When Qt's window-system ("platform") plugin cannot start, Qt aborts the whole
process (SIGABRT, often a core dump) with a message that does not say what is
missing. So before that, this module works out which plugins Qt will try, in
Qt's own order, and checks for each what it needs: a display to connect to,
and the system libraries its plugin file links against, loaded by the dynamic
loader exactly as Qt would load them. The first plugin that would start ends
the check; when none would, ``window_problem`` says what is missing and how to
install it.

Nothing here imports Qt or torch: the caller passes Qt's plugin folder.
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# What each library a Qt platform plugin links against is packaged as: (Debian/Ubuntu, Fedora).
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-ewmh.so.2": ("libxcb-ewmh2", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    **{f"libxcb-{name}.so.{version}": (f"libxcb-{name}{version}", "libxcb")
       for name, version in (("randr", 0), ("render", 0), ("shape", 0), ("shm", 0), ("sync", 1),
                             ("xfixes", 0), ("xkb", 1), ("glx", 0), ("xinerama", 0), ("xinput", 0))},
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
}

HEADLESS_NOTE = "digitpad train, eval and predict work without a display."
_NOT_FOUND = re.compile(r"^\s*(\S+) => not found\s*$", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"^(\S+): cannot open shared object file")


@dataclass
class Problem:
    """Why one platform plugin would not start: a sentence, and the libraries it lacks."""

    why: str
    missing: list[str] = field(default_factory=list)
    no_display: bool = False


def requested_platforms(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[list[str], str]:
    """The platform plugins Qt will try, in its order, and who chose them ('' for Qt's default).

    As Qt 6 does: ``-platform NAME`` on its command line, else QT_QPA_PLATFORM,
    else xcb, with wayland tried first in a Wayland session. Each entry of a
    ``;``-separated list is tried in turn; ``name:options`` keeps the name only.
    """
    chosen, source = None, ""
    for index, arg in enumerate(argv[1:], start=1):
        if arg in ("-platform", "--platform") and index + 1 < len(argv):
            chosen, source = argv[index + 1], f"-platform {argv[index + 1]}"
    if chosen is None and environ.get("QT_QPA_PLATFORM"):
        chosen = environ["QT_QPA_PLATFORM"]
        source = f"QT_QPA_PLATFORM={chosen}"
    if chosen is None:
        wayland = "WAYLAND_DISPLAY" in environ or environ.get("XDG_SESSION_TYPE") == "wayland"
        return (["wayland", "xcb"] if wayland else ["xcb"]), ""
    names = [entry.split(":")[0].strip().lower() for entry in chosen.split(";")]
    return [name for name in names if name], source


def plugin_file(name: str, folders: Sequence[Path]) -> Path | None:
    """The file Qt loads for platform ``name``, first in ``folders`` (None when unknown there)."""
    files = [f"libq{name}.so"]
    if name.startswith("wayland"):  # wayland-egl and the other variants live in libqwayland.so
        files.append("libqwayland.so")
    for folder in folders:
        for file in files:
            if (folder / file).is_file():
                return folder / file
    return None


def missing_libraries(plugin: Path) -> tuple[list[str], str | None]:
    """The shared libraries the dynamic loader cannot find for ``plugin``, and its error if it fails.

    The plugin is loaded as Qt would load it (lazy binding), which costs
    nothing extra when it works: Qt finds it already loaded. Only when that
    fails does ``ldd`` list every missing library, not just the first.
    """
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY)
        return [], None
    except OSError as error:
        message = str(error)
    missing = []
    try:
        listed = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout
        missing = list(dict.fromkeys(_NOT_FOUND.findall(listed)))
    except (OSError, subprocess.SubprocessError):
        pass
    if not missing:
        first = _CANNOT_OPEN.match(message)
        missing = [first.group(1)] if first else []
    return missing, message


# Probe connections stay open until Qt has its own: an X server resets itself when
# its last client leaves, and refuses connections meanwhile (Xvfb does, for one).
_held_connections: list[tuple[ctypes.CDLL, int]] = []


def x_server_problem(display: str) -> str | None:
    """Why no X connection can be made to ``display`` (None when one can), with libxcb as Qt uses it.

    A connection that works is held open until ``release_probes``.
    """
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None  # reported as a missing library instead
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    if connection and xcb.xcb_connection_has_error(connection) == 0:
        _held_connections.append((xcb, connection))
        return None
    if connection:
        xcb.xcb_disconnect(connection)
    return (f"the X display DISPLAY={display} cannot be reached (no X server runs there, "
            "or this user may not connect to it)")


def release_probes() -> None:
    """Close the X connections the check opened; call once Qt has started (or failed to)."""
    while _held_connections:
        xcb, connection = _held_connections.pop()
        xcb.xcb_disconnect(connection)


def wayland_socket_problem(environ: Mapping[str, str]) -> str | None:
    """Why Wayland's client library would find no compositor to talk to (None when it would)."""
    if environ.get("WAYLAND_SOCKET"):
        return None  # a socket handed over by the compositor
    name = environ.get("WAYLAND_DISPLAY") or "wayland-0"
    if not os.path.isabs(name):
        runtime = environ.get("XDG_RUNTIME_DIR")
        if not runtime:
            return "XDG_RUNTIME_DIR is not set, so the Wayland display cannot be found"
        name = os.path.join(runtime, name)
    try:
        is_socket = stat.S_ISSOCK(os.stat(name).st_mode)
    except OSError:
        is_socket = False
    if not is_socket:
        return f"there is no Wayland display at {name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(name)
        except OSError as error:
            return f"the Wayland display at {name} does not answer ({error.strerror or error})"
    return None


def platform_problem(name: str, folders: Sequence[Path], argv: Sequence[str],
                     environ: Mapping[str, str]) -> Problem | None:
    """Why platform ``name`` would not start; None when it would, or when it is not one this knows."""
    plugin = plugin_file(name, folders)
    if name == "xcb":
        display = _option(argv, "-display") or environ.get("DISPLAY")
        if not display:
            unset = ("DISPLAY is not set" if "WAYLAND_DISPLAY" in environ
                     else "neither DISPLAY nor WAYLAND_DISPLAY is set")
            return Problem(f"there is no display: {unset}", no_display=True)
    elif name.startswith("wayland"):
        why = wayland_socket_problem(environ)
        if why:
            return Problem(why, no_display=True)
    if plugin is None:
        if name == "xcb" or name.startswith("wayland"):
            where = ", ".join(str(folder) for folder in folders) or "no folder"
            return Problem(f"Qt's {name} plugin is not installed (looked in {where}); "
                           "reinstall PySide6: pip install --force-reinstall PySide6-Essentials")
        return None  # e.g. a plugin of the user's own: Qt knows, and start-up's guard reports a failure
    missing, error = missing_libraries(plugin)
    if missing:
        return Problem(f"Qt's {name} plugin needs system libraries that are not installed "
                       f"({', '.join(missing)})", missing)
    if error:
        return Problem(f"Qt's {name} plugin ({plugin}) cannot be loaded ({error}); reinstall PySide6: "
                       "pip install --force-reinstall PySide6-Essentials")
    if name == "xcb":
        why = x_server_problem(display)
        if why:
            return Problem(why, no_display=True)
    return None


def window_problem(argv: Sequence[str], environ: Mapping[str, str], plugins_dir: Path,
                   platform: str = sys.platform) -> str | None:
    """One paragraph saying why no window can be opened, or None when Qt's platform will start.

    ``argv`` is Qt's command line, ``plugins_dir`` Qt's plugin folder (its
    ``platforms`` folder holds the platform plugins). Only Linux is checked:
    macOS and Windows always have their window system.
    """
    if not platform.startswith("linux"):
        return None
    names, source = requested_platforms(argv, environ)
    folders = _plugin_folders(argv, environ, plugins_dir)
    problems = []
    for name in names:
        problem = platform_problem(name, folders, argv, environ)
        if problem is None:
            return None
        problems.append((name, problem))
    return describe(problems, source)


def describe(problems: Sequence[tuple[str, Problem]], source: str = "") -> str:
    """The paragraph for ``problems`` (platform name, Problem), in the order Qt tries them."""
    chosen = f", chosen by {source}," if source else ""
    if len(problems) == 1:
        name, problem = problems[0]
        reasons = f"Qt's window system{chosen} is {_label(name)}, and {problem.why}."
    else:
        order = ", then ".join(_label(name) for name, _ in problems)
        tried = "; ".join(f"for {_label(name)}, {problem.why}" for name, problem in problems)
        reasons = f"Qt tries {order}{f' ({source})' if source else ''}: {tried}."
    if all(problem.no_display for _, problem in problems):
        reasons += " Start digitpad from a desktop session (over ssh: ssh -X)."
    missing = list(dict.fromkeys(library for _, problem in problems for library in problem.missing))
    return f"digitpad cannot open its window: {reasons}{_install_advice(missing)} {HEADLESS_NOTE}"


def _install_advice(missing: Sequence[str]) -> str:
    if not missing:
        return ""
    known = [library for library in missing if library in PACKAGES]
    unknown = [library for library in missing if library not in PACKAGES]
    advice = []
    if known:
        apt = " ".join(dict.fromkeys(PACKAGES[library][0] for library in known))
        dnf = " ".join(dict.fromkeys(PACKAGES[library][1] for library in known))
        advice.append(f"Install them with 'sudo apt install {apt}' (Debian, Ubuntu) "
                      f"or 'sudo dnf install {dnf}' (Fedora), then start digitpad again.")
    for library in unknown:
        advice.append(f"'apt-file search {library}' or 'dnf provides \"*/{library}\"' names the package "
                      f"that holds {library}.")
    return " " + " ".join(advice)


def _label(name: str) -> str:
    if name == "xcb":
        return "X11 (xcb)"
    if name.startswith("wayland"):
        return f"Wayland ({name})"
    return f"'{name}'"


def _option(argv: Sequence[str], option: str) -> str | None:
    """The value after the last ``option`` (or ``-option``) in Qt's argv."""
    value = None
    for index, arg in enumerate(argv[1:], start=1):
        if arg in (option, "-" + option) and index + 1 < len(argv):
            value = argv[index + 1]
    return value


def _plugin_folders(argv: Sequence[str], environ: Mapping[str, str], plugins_dir: Path) -> list[Path]:
    """Where Qt looks for platform plugins, in its order."""
    folders = []
    direct = _option(argv, "-platformpluginpath") or environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if direct:
        folders.append(Path(direct))
    folders += [Path(entry) / "platforms" for entry in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if entry]
    folders.append(Path(plugins_dir) / "platforms")
    return folders


def describe_qt_failure(messages: Sequence[str], fatal: str) -> str:
    """The paragraph for a window system that Qt itself failed to start, from Qt's own messages."""
    available = re.search(r"Available platform plugins are: ([^\n]*?)\.?\s*$", fatal)
    said = "; ".join(message.strip() for message in messages if message.strip()) or fatal.strip().splitlines()[0]
    plugins = f" The window systems Qt has here: {available.group(1)}." if available else ""
    return f"digitpad cannot open its window: Qt could not start its window system ({said}).{plugins} {HEADLESS_NOTE}"
