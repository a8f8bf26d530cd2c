import errno
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitpad import atomic, paths
from digitpad.collection import FORMAT_VERSION, Collection, CollectionError, strokes_beside
from digitpad.image_files import read_image
from digitpad.preprocess import to_mnist_image
from digitpad.strokes import Stroke
from digitpad.strokes import to_mnist_image as strokes_to_mnist_image
from cli_helpers import digit_image
from drawing_fakes import digit_strokes

REPO_ROOT = Path(__file__).resolve().parent.parent


def model_input(seed: int = 0) -> np.ndarray:
    return strokes_to_mnist_image(digit_strokes(seed % 10, np.random.default_rng(seed)))


def files_in(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_the_collection_lives_in_the_user_folder(digitpad_home):
    assert paths.my_digits_dir() == digitpad_home / "my-digits"
    assert Collection().root == digitpad_home / "my-digits"
    assert Collection().drawings() == [] and Collection().counts() == [0] * 10


def test_a_drawing_is_a_png_of_the_model_input_and_a_json_of_its_strokes(tmp_path):
    collection = Collection(tmp_path)
    strokes = [Stroke(0.08, [(-0.1, -0.2), (0.1, 0.25)]), Stroke(0.05, [(0.0, 0.0)])]
    image = model_input()

    drawing = collection.add(7, image, strokes, answer=1, confidence=0.62, model="trained-1")

    assert files_in(tmp_path) == [f"7/{drawing.id}.json", f"7/{drawing.id}.png"]
    with Image.open(drawing.image_path) as png:
        assert (png.mode, png.size, png.format) == ("L", (28, 28), "PNG")
        pixels = np.asarray(png)
    assert np.array_equal(pixels, np.round(image * 255).astype(np.uint8))  # white ink on black, like MNIST
    assert np.abs(drawing.image() - image).max() <= 0.5 / 255 + 1e-6
    meta = json.loads(drawing.meta_path.read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["digit"] == 7
    assert (meta["answer"], meta["confidence"], meta["model"]) == (1, 0.62, "trained-1")
    assert meta["strokes"] == [{"width": 0.08, "points": [[-0.1, -0.2], [0.1, 0.25]]},
                               {"width": 0.05, "points": [[0.0, 0.0]]}]
    assert meta["created"] == drawing.created and drawing.created.endswith("+00:00")


def test_drawings_survive_a_restart_oldest_first(tmp_path):
    first = Collection(tmp_path)
    added = [first.add(digit, model_input(digit), digit_strokes(digit, np.random.default_rng(digit)),
                       answer=(digit + 1) % 10, confidence=0.5, model="m") for digit in (3, 1, 3, 9)]

    again = Collection(tmp_path)
    loaded = again.drawings()

    assert [d.id for d in loaded] == [d.id for d in added]
    assert loaded == added
    assert [d.strokes for d in loaded] == [d.strokes for d in added]
    assert all(np.array_equal(a.image(), b.image()) for a, b in zip(added, loaded))
    assert again.counts() == [0, 1, 0, 2, 0, 0, 0, 0, 0, 1]
    assert [d.id for d in again.drawings(3)] == [added[0].id, added[2].id]
    assert again.problems == []


def test_ids_are_unique_sortable_and_safe_in_file_names(tmp_path):
    collection = Collection(tmp_path)
    ids = [collection.add(5, model_input()).id for _ in range(30)]
    assert len(set(ids)) == 30
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"[0-9A-Za-z-]+", drawing_id) for drawing_id in ids)


def test_remove_undoes_an_add(tmp_path):
    collection = Collection(tmp_path)
    kept = collection.add(2, model_input(2))
    undone = collection.add(4, model_input(4))

    collection.remove(undone)

    assert files_in(tmp_path) == [f"2/{kept.id}.json", f"2/{kept.id}.png"]
    assert Collection(tmp_path).drawings() == [kept]
    collection.remove(undone)  # already gone: nothing to do


@pytest.mark.parametrize("failure", ["full disk", "read-only", "rename"])
def test_a_failed_write_raises_one_clear_error_and_leaves_the_collection_as_it_was(tmp_path, monkeypatch, failure):
    collection = Collection(tmp_path)
    kept = collection.add(1, model_input(1))
    before = files_in(tmp_path)
    if failure == "full disk":
        def no_space(descriptor):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(atomic.os, "fsync", no_space)
    elif failure == "read-only":
        def read_only(*args, **kwargs):
            raise PermissionError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    else:
        real_replace = os.replace

        def fail_on_png(source, target):
            if str(target).endswith(".png"):
                raise OSError(errno.EIO, "Input/output error")
            real_replace(source, target)
        monkeypatch.setattr(atomic.os, "replace", fail_on_png)

    with pytest.raises(CollectionError) as raised:
        collection.add(1, model_input(3), digit_strokes(3, np.random.default_rng(0)))

    message = str(raised.value)
    reason = {"full disk": "No space left", "read-only": "Read-only", "rename": "Input/output error"}[failure]
    assert reason in message and str(tmp_path / "1") in message and "unchanged" in message
    assert files_in(tmp_path) == before
    assert Collection(tmp_path).drawings() == [kept]


CRASH = r"""
import os, sys
import numpy as np
from pathlib import Path
from digitpad import atomic
from digitpad.collection import Collection

real_replace = os.replace
def crash(source, target):
    if str(target).endswith(sys.argv[2]):
        os._exit(3)  # the power goes off: no clean-up runs
    real_replace(source, target)
atomic.os.replace = crash
image = np.zeros((28, 28), np.float32)
image[4:24, 12:16] = 1.0
Collection(Path(sys.argv[1])).add(8, image)
"""


@pytest.mark.parametrize("when", [".json", ".png"])
def test_a_crash_mid_write_leaves_the_collection_readable(tmp_path, when):
    collection = Collection(tmp_path)
    kept = [collection.add(8, model_input(8)), collection.add(0, model_input(0))]

    done = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path), when], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())

    assert done.returncode == 3, done.stderr
    leftovers = [name for name in files_in(tmp_path) if name not in
                 {f"{d.digit}/{d.id}.{ext}" for d in kept for ext in ("png", "json")}]
    assert leftovers, "the crash left its partial write behind"
    after = Collection(tmp_path)
    assert after.drawings() == kept
    assert after.problems == []
    assert after.counts()[8] == 1
    added = after.add(8, model_input(8))
    assert Collection(tmp_path).drawings() == [*kept, added]


def test_a_folder_of_pngs_made_by_hand_is_a_collection_without_strokes(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / "3").mkdir()
    digit_image().save(tmp_path / "7" / "photo.png")  # dark ink on paper, 280x280
    mnist_style = np.zeros((28, 28), np.uint8)
    mnist_style[5:23, 10:18] = 255
    Image.fromarray(mnist_style).save(tmp_path / "3" / "mnist.png")

    collection = Collection(tmp_path)
    drawings = collection.drawings()

    assert sorted((d.digit, d.id) for d in drawings) == [(3, "mnist"), (7, "photo")]
    assert all(d.strokes is None and d.answer is None and d.confidence is None for d in drawings)
    by_digit = {d.digit: d for d in drawings}
    assert np.array_equal(by_digit[7].image(), to_mnist_image(read_image(tmp_path / "7" / "photo.png")))
    assert np.array_equal(by_digit[3].image(), mnist_style.astype(np.float32) / 255)
    assert collection.counts()[3] == collection.counts()[7] == 1
    assert collection.problems == []


def test_unreadable_entries_are_skipped_and_listed(tmp_path):
    collection = Collection(tmp_path)
    good = collection.add(6, model_input(6), [Stroke(0.08, [(0.0, 0.0), (0.1, 0.1)])])
    damaged_details = collection.add(6, model_input(6), [Stroke(0.08, [(0.0, 0.0), (0.1, 0.1)])])
    damaged_details.meta_path.write_text("{ not json")
    (tmp_path / "6" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "6" / "blank.png").write_bytes(b"")
    (tmp_path / "2").write_bytes(b"a file where a folder should be")

    drawings = collection.drawings()

    assert [d.id for d in drawings] == [good.id, damaged_details.id]
    assert drawings[1].strokes is None and drawings[0].strokes == good.strokes
    problems = "\n".join(collection.problems)
    assert len(collection.problems) == 4, problems
    assert "broken.png" in problems and "blank.png" in problems and damaged_details.meta_path.name in problems
    assert f"{tmp_path / '2'}: cannot be read" in problems


def test_the_strokes_beside_an_image_are_read_from_its_json(tmp_path):
    collection = Collection(tmp_path)
    strokes = [Stroke(0.08, [(0.0, 0.0), (0.1, 0.1)]), Stroke(0.05, [(0.2, -0.1)])]
    drawn = collection.add(4, model_input(4), strokes)
    without = collection.add(4, model_input(4))
    damaged = collection.add(4, model_input(4), strokes)
    damaged.meta_path.write_text("{ not json")
    foreign = collection.add(4, model_input(4), strokes)
    foreign.meta_path.write_text(json.dumps({"strokes": []}))
    no_point = collection.add(4, model_input(4), [Stroke(0.08, [])])
    digit_image().save(tmp_path / "4" / "photo.png")

    assert strokes_beside(drawn.image_path) == strokes
    assert strokes_beside(without.image_path) is None
    assert strokes_beside(tmp_path / "4" / "photo.png") is None
    assert strokes_beside(damaged.image_path).startswith("unreadable")
    assert strokes_beside(foreign.image_path) == "not a digitpad drawing's details"
    assert strokes_beside(no_point.image_path) == "its strokes hold no point"


def test_a_failed_delete_is_a_clear_error(tmp_path, monkeypatch):
    collection = Collection(tmp_path)
    drawing = collection.add(5, model_input(5))

    def refuse(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(Path, "unlink", refuse)

    with pytest.raises(CollectionError, match="Permission denied"):
        collection.remove(drawing)
    monkeypatch.undo()
    assert Collection(tmp_path).drawings() == [drawing]


@pytest.mark.parametrize("digit, image", [(10, np.zeros((28, 28))), (-1, np.zeros((28, 28))), (3, np.zeros((20, 28))),
                                          (3, np.full((28, 28), np.nan))])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, digit, image):
    with pytest.raises(ValueError):
        Collection(tmp_path).add(digit, image)
    assert files_in(tmp_path) == []
