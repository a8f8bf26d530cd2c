"""`digitpad predict`: picture files of every kind, bad ones named, "not a digit" in text and JSON."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitpad import paths
from digitpad.image_files import read_image
from digitpad.inference import NOT_A_DIGIT_BELOW
from cli_helpers import assert_one_clean_message, digit_image, run


def test_predict_prints_path_digit_confidence(capsys, small_checkpoint, tmp_path):
    dark_on_light = tmp_path / "seven.png"
    light_on_dark = tmp_path / "seven inverted.png"
    digit_image().save(dark_on_light)
    digit_image(ink=255, paper=0).save(light_on_dark)

    status, out, err = run(capsys, "predict", "--checkpoint", str(small_checkpoint), str(dark_on_light),
                           str(light_on_dark))

    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, (dark_on_light, light_on_dark)):
        assert line.startswith(f"{path} ")
        digit, confidence = line[len(str(path)) + 1:].split()
        assert re.fullmatch(r"[0-9]|not-a-digit", digit) and re.match(r"^[01]\.\d{4}$", confidence)
    assert lines[0].split()[-2:] == lines[1].split()[-2:]  # polarity does not matter


def _animated_gif(path: Path) -> None:
    first = digit_image().convert("P")
    second = Image.new("L", first.size, 0).convert("P")  # blank: reading it instead would find no digit
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)


def _sixteen_bit_png(path: Path) -> None:
    pixels = np.asarray(digit_image(), dtype=np.uint16) * 257
    Image.fromarray(pixels).save(path)  # mode I;16


def _huge_png(path: Path) -> None:
    digit_image(size=10_000, ink=0, paper=1, mode="1").save(path)


def _cmyk_jpeg(path: Path) -> None:
    digit_image(mode="RGB").convert("CMYK").save(path, format="JPEG")


def _transparent_png(path: Path) -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(60, 40), (140, 40), (80, 170)], fill=(0, 0, 0, 255), width=16)
    image.save(path)


GOOD_ODD_IMAGES = {
    "animated.gif": _animated_gif,
    "sixteen-bit.png": _sixteen_bit_png,
    "huge.png": _huge_png,
    "cmyk.jpg": _cmyk_jpeg,
    "transparent.png": _transparent_png,
    "photo.jpg": lambda path: digit_image(mode="RGB", ink=40, paper=200).save(path, quality=70),
}
BAD_INPUTS = {
    "empty.png": (lambda path: path.write_bytes(b""), "empty"),
    "folder.png": (lambda path: path.mkdir(), "folder"),
    "missing.png": (lambda path: None, "no such file"),
    "text.png": (lambda path: path.write_text("not an image"), "not an image"),
    "broken.png": (lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64)), "image"),
    "blank.png": (lambda path: Image.new("L", (100, 100), 255).save(path), "no digit"),
}


def test_predict_json_reports_bad_files_and_classifies_the_rest(capsys, small_checkpoint, tmp_path):
    names = []
    for name, make in GOOD_ODD_IMAGES.items():
        make(tmp_path / name)
        names.append(str(tmp_path / name))
    for name, (make, _) in BAD_INPUTS.items():
        make(tmp_path / name)
        names.append(str(tmp_path / name))

    status, out, _ = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint), *names)

    assert status == 1
    results = json.loads(out)
    assert [result["path"] for result in results] == names
    by_name = {Path(result["path"]).name: result for result in results}
    for name in GOOD_ODD_IMAGES:
        result = by_name[name]
        assert "error" not in result, result
        top = max(range(10), key=lambda digit: result["probabilities"][digit])
        assert result["digit"] == (None if result["not_a_digit"] else top)
        assert result["not_a_digit"] == (result["confidence"] < NOT_A_DIGIT_BELOW)
        assert len(result["probabilities"]) == 10 and sum(result["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert result["confidence"] == pytest.approx(max(result["probabilities"]), abs=1e-6)
    for name, (_, expected) in BAD_INPUTS.items():
        assert set(by_name[name]) == {"path", "error"}
        assert expected in by_name[name]["error"]


def test_predict_names_links_that_cannot_be_followed(capsys, small_checkpoint, tmp_path):
    loop, dangling = tmp_path / "loop.png", tmp_path / "dangling.png"
    loop.symlink_to(loop.name)
    dangling.symlink_to("nowhere.png")
    (tmp_path / "round").symlink_to("round")
    through_a_loop = tmp_path / "round" / "seven.png"

    status, out, err = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint),
                           str(loop), str(dangling), str(through_a_loop), str(tmp_path / "missing.png"))

    assert status == 1
    errors = [result["error"] for result in json.loads(out)]
    assert errors == [
        "it is a symbolic link that cannot be resolved (the links lead round in a loop)",
        "it is a symbolic link to nowhere.png, which does not exist",
        "a folder on its way is a symbolic link that cannot be resolved (the links lead round in a loop)",
        "no such file",
    ]


def test_predict_text_mode_reports_each_bad_file_on_stderr(capsys, small_checkpoint, tmp_path):
    good = tmp_path / "seven.png"
    digit_image().save(good)
    status, out, err = run(capsys, "predict", "--checkpoint", str(small_checkpoint), str(tmp_path / "nope.png"),
                           str(good))
    assert status == 1
    assert out.startswith(f"{good} ")
    assert_one_clean_message(err)
    assert "nope.png" in err


def test_predict_all_good_exits_zero_with_json(capsys, small_checkpoint, tmp_path):
    good = tmp_path / "seven.png"
    digit_image().save(good)
    status, out, _ = run(capsys, "predict", "--json", "--checkpoint", str(small_checkpoint), str(good))
    assert status == 0
    assert len(json.loads(out)) == 1


def test_odd_formats_read_like_the_plain_image(tmp_path):
    from digitpad.preprocess import to_mnist_image

    reference = to_mnist_image(np.asarray(digit_image()))
    for name, make in (("sixteen-bit.png", _sixteen_bit_png), ("animated.gif", _animated_gif),
                       ("cmyk.jpg", _cmyk_jpeg)):
        make(tmp_path / name)
        assert np.abs(to_mnist_image(read_image(tmp_path / name)) - reference).max() < 0.2, name


def test_a_huge_image_is_shrunk_before_preprocessing(tmp_path):
    _huge_png(tmp_path / "huge.png")
    started = time.perf_counter()
    pixels = read_image(tmp_path / "huge.png")
    assert max(pixels.shape) <= 2048
    assert time.perf_counter() - started < 30  # generous: this guards against a hang, not a speed


def test_the_shipped_model_reads_real_digits_in_both_polarities(capsys, shared_mnist, tmp_path):
    shipped = paths.shipped_model_path()
    if not shipped.is_file():
        pytest.skip("no shipped model yet")
    with gzip.open(shared_mnist / "t10k-images-idx3-ubyte.gz") as stream:
        images = np.frombuffer(stream.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:20]
    with gzip.open(shared_mnist / "t10k-labels-idx1-ubyte.gz") as stream:
        labels = np.frombuffer(stream.read(), dtype=np.uint8, offset=8)[:20]
    files = []
    for index, pixels in enumerate(images):
        large = Image.fromarray(pixels).resize((280, 280), Image.Resampling.BILINEAR)
        large.save(tmp_path / f"light-on-dark-{index}.png")
        Image.fromarray(255 - np.asarray(large)).save(tmp_path / f"dark-on-light-{index}.png")
        files += [tmp_path / f"light-on-dark-{index}.png", tmp_path / f"dark-on-light-{index}.png"]

    status, out, err = run(capsys, "predict", "--json", *map(str, files))

    assert status == 0, err
    predicted = [result["digit"] for result in json.loads(out)]
    expected = [int(label) for label in labels for _ in range(2)]
    assert sum(p == e for p, e in zip(predicted, expected)) >= 38


def test_predict_says_not_a_digit_of_a_drawing_that_is_none(capsys, shared_mnist, tmp_path):
    if not paths.shipped_model_path().is_file():
        pytest.skip("no shipped model yet")
    house = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(house)
    pen.line([(60, 240), (60, 130), (220, 130), (220, 240), (60, 240)], fill=0, width=14, joint="curve")
    pen.line([(60, 130), (140, 40), (220, 130)], fill=0, width=14, joint="curve")
    house.save(tmp_path / "house.png")
    digit_image().save(tmp_path / "seven.png")

    status, out, err = run(capsys, "predict", "--json", str(tmp_path / "house.png"), str(tmp_path / "seven.png"))

    assert status == 0, err
    house_result, seven_result = json.loads(out)
    assert house_result["digit"] is None and house_result["not_a_digit"] is True and house_result["unsure"]
    assert seven_result["digit"] == 7 and seven_result["not_a_digit"] is False
    status, out, _ = run(capsys, "predict", str(tmp_path / "house.png"))
    assert out.split()[1] == "not-a-digit"
