"""``digitpad predict``: classify image files, with the canvas's preprocessing."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from digitpad.cli.common import EXIT_FAILED, EXIT_OK, load_model, say

# Larger images are shrunk before preprocessing: a digit needs nowhere near this
# many pixels, and a 10000x10000 photo would otherwise cost seconds and gigabytes.
_MAX_IMAGE_SIDE = 2048


class ImageReadError(Exception):
    """An image file that cannot be classified; the message says why."""


def read_image(path: Path):
    """An image file as a numpy array preprocess accepts: (H, W) or (H, W, 3|4), first frame only."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise ImageReadError("no such file")
    if path.is_dir():
        raise ImageReadError("it is a folder, not an image")
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("the file is empty")
        with warnings.catch_warnings():
            # Pillow warns about large images; sizes up to its hard limit are shrunk below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft(None, (_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))  # JPEG decodes at reduced size
                image.load()
                frame = ImageOps.exif_transpose(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError:
        raise ImageReadError("the image is too large to read safely") from None
    except UnidentifiedImageError:
        raise ImageReadError("it is not an image file digitpad can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"the image is damaged or cannot be read ({error})") from None

    if frame.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit images: scale to [0, 1] here; converting to 8-bit in Pillow clips them.
        pixels = np.asarray(frame, dtype=np.float32)
        top = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
        return _shrink_array(pixels / top)
    if frame.mode == "F":
        pixels = np.asarray(frame, dtype=np.float32)
        return _shrink_array(pixels / 255.0 if pixels.max(initial=0) > 1.0 else pixels)
    has_alpha = frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info
    frame = frame.convert("RGBA" if has_alpha else ("L" if frame.mode in ("1", "L") else "RGB"))
    if max(frame.size) > _MAX_IMAGE_SIDE:
        frame.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(frame)


def _shrink_array(pixels):
    import numpy as np
    from PIL import Image

    if max(pixels.shape) <= _MAX_IMAGE_SIDE:
        return pixels
    image = Image.fromarray(pixels.astype(np.float32), mode="F")
    image.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(image)


def run(args: argparse.Namespace) -> int:
    from digitpad.devices import resolve
    from digitpad.inference import Classifier

    device = resolve(args.device)
    loaded, _ = load_model(args)
    classifier = Classifier.from_checkpoint(loaded, device=device)
    results: list[dict] = []
    for name in args.images:
        try:
            prediction = classifier.predict(read_image(Path(name)))
            if prediction is None:
                raise ImageReadError("no digit: the image is blank (no ink found)")
        except ImageReadError as error:
            results.append({"path": name, "error": str(error)})
            if not args.json:
                say(f"digitpad predict: {name}: {error}")
            continue
        results.append({
            "path": name,
            "digit": int(prediction.digit),
            "confidence": round(float(prediction.confidence), 6),
            "probabilities": [round(float(p), 6) for p in prediction.probabilities],
            "unsure": bool(prediction.unsure),
        })
        if not args.json:
            print(f"{name} {int(prediction.digit)} {float(prediction.confidence):.4f}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_FAILED if any("error" in result for result in results) else EXIT_OK
