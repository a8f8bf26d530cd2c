"""``digitpad eval``: a model's accuracy on the 10,000 MNIST test images."""

from __future__ import annotations

import argparse

from digitpad.cli.common import EXIT_INTERRUPTED, EXIT_OK, ProgressBar, download_progress, load_model, say, stop_on_interrupt
from digitpad.config import NUM_CLASSES


def run(args: argparse.Namespace) -> int:
    import torch
    import torch.nn.functional as F

    from digitpad.data import DownloadCancelled, load_mnist
    from digitpad.devices import resolve
    from digitpad.models import build_model

    device = resolve(args.device)
    loaded, path = load_model(args)
    bar = ProgressBar()
    with stop_on_interrupt("stopping") as stop:
        try:
            data = load_mnist(args.data_dir, progress=download_progress(bar), should_stop=stop.is_set)
        except DownloadCancelled as cancelled:
            say(f"digitpad eval: {cancelled}")
            return EXIT_INTERRUPTED

    model = build_model(loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    model.to(device).eval()
    images, labels = data.test_images.to(device), data.test_labels.to(device)
    total_loss = 0.0
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            log_probabilities = model(images[start:start + 1000])
            total_loss += F.nll_loss(log_probabilities, labels[start:start + 1000], reduction="sum").item()
            predictions.append(log_probabilities.argmax(dim=1))
    labels = labels.cpu()
    correct = torch.cat(predictions).cpu() == labels

    print(f"model: {path} ({loaded.model_config.describe()})")
    print(f"test accuracy: {correct.float().mean().item():.4f}")
    print(f"test loss: {total_loss / len(labels):.4f}")
    print("per-digit accuracy:")
    for digit in range(NUM_CLASSES):
        of_digit = labels == digit
        count = int(of_digit.sum())
        right = int((correct & of_digit).sum())
        accuracy = f"{right / count:.4f}" if count else "  n/a "
        print(f"  {digit}: {accuracy}  ({right}/{count})")
    return EXIT_OK
