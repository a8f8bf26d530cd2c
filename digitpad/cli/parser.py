"""The command line's grammar: one parser, with every default read from ``digitpad.config``."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitpad import __version__
from digitpad.cli.common import YOUR_COLLECTION, Parser, add_device_option, positive_int, sizes_option
from digitpad.config import ARCHITECTURES, OPTIMIZERS, TeachConfig, TrainConfig


def build_parser() -> Parser:
    defaults = TrainConfig()
    parser = Parser(
        prog="digitpad",
        description="Draw a digit and watch a neural network read it. Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"digitpad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    commands.add_parser("gui", help="open the app (the default); Qt options may follow, and --trace-startup FILE "
                        "(write when each start-up step happened to FILE as JSON, then quit)")

    train = commands.add_parser(
        "train", help="train a model on MNIST without the app",
        description="Train a model on MNIST. Without --out, the model is saved in digitpad's models folder "
        "and becomes the app's current model.",
    )
    cnn, mlp = TrainConfig.defaults_for("cnn"), TrainConfig.defaults_for("mlp")

    def per_arch(name: str, show=str) -> str:
        cnn_value, mlp_value = getattr(cnn, name), getattr(mlp, name)
        if cnn_value == mlp_value:
            return f"default {show(cnn_value)}"
        return f"default {show(cnn_value)} for the CNNs, {show(mlp_value)} for the MLP"

    # Unset options (None) take the chosen architecture's defaults from TrainConfig.defaults_for.
    train.add_argument("--arch", choices=ARCHITECTURES,
                       help="network: cnn, two 5x5 convolution layers; vgg, the deeper CNN the shipped model is (four 3x3 "
                       f"layers, 1.7x the work); or the study note's mlp (default {defaults.model.arch})")
    train.add_argument("--hidden", type=sizes_option("hidden layer sizes", "512,256"), metavar="SIZES",
                       help=f"MLP hidden layer sizes (default {','.join(map(str, defaults.model.hidden))})")
    train.add_argument("--channels", type=sizes_option("channel counts", "16,32"), metavar="C1,C2",
                       help=f"the CNNs' channel counts (default {','.join(map(str, defaults.model.channels))})")
    train.add_argument("--dropout", type=float, help=f"dropout probability (default {defaults.model.dropout:g})")
    train.add_argument("--optimizer", choices=OPTIMIZERS,
                       help=f"optimizer ({per_arch('optimizer')}; sgd uses momentum)")
    train.add_argument("--lr", type=float, help=f"peak learning rate of the one-cycle schedule ({per_arch('lr', '{:g}'.format)})")
    train.add_argument("--batch-size", type=positive_int, help=f"images per step ({per_arch('batch_size')})")
    train.add_argument("--epochs", type=positive_int, help=f"passes over the training images ({per_arch('epochs')})")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help="randomly rotate, scale, shear, shift, re-stroke and thicken or thin training images, and "
                       "flag some 1s, cross some 7s and slash some 0s "
                       f"({per_arch('augment', lambda on: 'on' if on else 'off')})")
    train.add_argument("--non-digits", type=float, metavar="SHARE",
                       help="add random non-digit drawings (grids, spirals, scribbles...), SHARE of each batch, "
                       "trained towards no digit in particular, so the model is unsure of them (default 0: off)")
    train.add_argument("--from", dest="start_from", type=Path, metavar="PATH",
                       help="continue training this saved model (it keeps its architecture)")
    train.add_argument("--stroke-reader", action="store_true",
                       help="instead, train a stroke reader for the model given by --from: a second network that "
                       "reads the pen's path, not the image, and is saved with the model (--epochs, --lr, "
                       "--batch-size and --seed apply to it; the first run traces MNIST into strokes, once)")
    train.add_argument("--seed", type=int, default=defaults.seed, help=f"random seed (default {defaults.seed})")
    train.add_argument("--data-dir", type=Path, metavar="DIR", help="MNIST folder (default: $DIGITPAD_DATA_DIR "
                       "or digitpad's data folder; downloaded there if missing)")
    train.add_argument("--out", type=Path, metavar="PATH", help="where to save the model")
    add_device_option(train)
    train.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction,
                       help="on a CUDA GPU with bfloat16 (Ampere or later), compute in bfloat16 where "
                       "torch.autocast finds it safe (default on; the CPU and MPS train in float32)")

    evaluate = commands.add_parser(
        "eval", help="measure a model's accuracy on the 10,000 MNIST test images, or on your own drawings",
        description="Measure a model: accuracy, accuracy per digit and the confusion matrix, on the MNIST test "
        "images or, with --images, on labelled drawings, with the app's answers to them as pictures and, where "
        "their strokes were kept, as drawn on the canvas.",
    )
    evaluate.add_argument("--checkpoint", type=Path, metavar="PATH",
                          help="model file (default: the app's current model)")
    evaluate.add_argument("--data-dir", type=Path, metavar="DIR", help="MNIST folder")
    evaluate.add_argument("--images", type=Path, metavar="DIR", nargs="?", const=YOUR_COLLECTION,
                          help="measure on the drawings in DIR/0 ... DIR/9 instead of MNIST (torchvision's "
                          "ImageFolder layout; the same preprocessing as predict); without DIR, the drawings "
                          "you collected in the app")
    add_device_option(evaluate, "compute")

    teaching = TeachConfig()
    teach = commands.add_parser(
        "teach", help="teach a model your handwriting from your own drawings",
        description="Fine-tune a model on labelled drawings (DIR/0/*.png ... DIR/9/*.png, as the app collects "
        "them) mixed with MNIST, so it learns your handwriting without forgetting MNIST. Part of each digit's "
        "drawings is held out to measure on. Without --out, the model is saved in digitpad's models folder and "
        "becomes the app's current model.",
    )
    teach.add_argument("directory", nargs="?", type=Path, metavar="DIR",
                       help="the drawings (default: the collection the app keeps, in digitpad's data folder)")
    teach.add_argument("--from", dest="checkpoint", type=Path, metavar="PATH",
                       help="the model to teach (default: the app's current model)")
    teach.add_argument("--epochs", type=positive_int, default=teaching.epochs,
                       help=f"passes over the varied replays of the drawings (default {teaching.epochs})")
    teach.add_argument("--holdout", type=float, default=teaching.holdout_fraction, metavar="F",
                       help="the share of each digit's drawings held out to measure on, at least one of every digit "
                       f"drawn twice or more (default {teaching.holdout_fraction:g}; 0: none)")
    teach.add_argument("--seed", type=int, default=teaching.seed, help=f"random seed (default {teaching.seed})")
    teach.add_argument("--data-dir", type=Path, metavar="DIR", help="MNIST folder")
    teach.add_argument("--out", type=Path, metavar="PATH", help="where to save the model")
    add_device_option(teach)

    predict = commands.add_parser("predict", help="classify image files")
    predict.add_argument("--checkpoint", type=Path, metavar="PATH",
                         help="model file (default: the app's current model)")
    predict.add_argument("--json", action="store_true", help="print one JSON array instead of text lines")
    add_device_option(predict, "compute")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, GIF, ...)")
    return parser
