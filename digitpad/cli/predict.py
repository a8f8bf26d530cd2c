"""``digitpad predict``: classify image files, with the canvas's preprocessing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digitpad.cli.common import EXIT_FAILED, EXIT_OK, load_model, say
from digitpad.image_files import ImageReadError, read_image


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
            # No digit is named for a drawing that is none: null, and not_a_digit true.
            "digit": None if prediction.not_a_digit else int(prediction.digit),
            "confidence": round(float(prediction.confidence), 6),
            "probabilities": [round(float(p), 6) for p in prediction.probabilities],
            "unsure": bool(prediction.unsure),
            "not_a_digit": bool(prediction.not_a_digit),
        })
        if not args.json:
            answer = "not-a-digit" if prediction.not_a_digit else str(int(prediction.digit))
            print(f"{name} {answer} {float(prediction.confidence):.4f}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_FAILED if any("error" in result for result in results) else EXIT_OK
