import numpy as np
import pytest
from PIL import Image

from digitpad.image_files import ImageFolderError, load_labelled_folder, read_image
from digitpad.preprocess import to_mnist_image
from cli_helpers import digit_image


def make_folder(root, files: dict[str, Image.Image | bytes]):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content.save(path)
    return root


def one_image(size: int = 120) -> Image.Image:
    image = Image.new("L", (size, size), 255)
    image.paste(0, (size // 2 - 6, size // 6, size // 2 + 6, size - size // 6))
    return image


def test_each_drawing_is_labelled_by_its_folder_and_preprocessed_as_predict_does(tmp_path):
    root = make_folder(tmp_path / "drawings", {
        "7/a.png": digit_image(),
        "7/nested/b.jpg": digit_image(ink=30, paper=220, mode="RGB"),
        "1/one.png": one_image(),
        "1/one.json": b'{"notes": "beside a drawing"}',
        "1/.hidden.png": b"a temporary file",
        "1/README.txt": b"not an image",
    })

    drawings = load_labelled_folder(root)

    assert drawings.labels.tolist() == [1, 7, 7]
    assert [path.name for path in drawings.paths] == ["one.png", "a.png", "b.jpg"]
    assert drawings.images.shape == (3, 28, 28) and drawings.images.dtype == np.float32
    for image, path in zip(drawings.images, drawings.paths):
        assert np.array_equal(image, to_mnist_image(read_image(path)))
    assert drawings.problems == []


def test_bad_files_are_reported_and_skipped(tmp_path):
    root = make_folder(tmp_path / "drawings", {
        "3/good.png": digit_image(),
        "3/broken.png": b"\x89PNG\r\n\x1a\n then nothing",
        "3/empty.png": b"",
        "4/blank.png": Image.new("L", (40, 40), 255),
        "cats/kitten.png": digit_image(),
        "loose.png": digit_image(),
    })

    drawings = load_labelled_folder(root)

    assert [path.name for path in drawings.paths] == ["good.png"]
    problems = "\n".join(drawings.problems)
    assert len(drawings.problems) == 5, problems
    for name in ("broken.png", "empty.png", "blank.png", "cats", "loose.png"):
        assert name in problems
    assert "blank" in problems and "empty" in problems and "not in a digit folder" in problems


@pytest.mark.parametrize("case", ["missing", "a file", "empty", "loose images", "empty digit folders", "all bad"])
def test_a_folder_that_is_not_labelled_drawings_is_a_clear_error(tmp_path, case):
    root = tmp_path / "drawings"
    if case == "a file":
        root.write_bytes(b"x")
    elif case == "empty":
        root.mkdir()
    elif case == "loose images":
        make_folder(root, {"seven.png": digit_image(), "other.png": digit_image()})
    elif case == "empty digit folders":
        (root / "0").mkdir(parents=True)
        (root / "5").mkdir()
    elif case == "all bad":
        make_folder(root, {"2/bad.png": b"not a png"})

    with pytest.raises(ImageFolderError) as raised:
        load_labelled_folder(root)

    message = str(raised.value)
    assert str(root) in message
    expected = {"missing": "does not exist", "a file": "is a file", "empty": "no digit folders",
                "loose images": "holds 2 images but no digit folders", "empty digit folders": "hold no images",
                "all bad": "none of its 1 images could be read"}[case]
    assert expected in message
    if case != "missing":
        assert "0" in message and "9" in message and "ImageFolder" in message
