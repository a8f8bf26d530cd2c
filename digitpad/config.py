"""Constants and plain configs shared by the core, the CLI and the app.

Every default lives here, once. Configs are frozen dataclasses that turn into
plain dicts (``to_dict``) so a checkpoint can carry them and rebuild its model
without unpickling any class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

# MNIST's pixel statistics (training set, pixels scaled to [0, 1]).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

IMAGE_SIDE = 28
NUM_CLASSES = 10
INPUT_SIZE = IMAGE_SIDE * IMAGE_SIDE

# "cnn" is the default two-layer CNN, "vgg" the deeper one the shipped model uses.
ARCHITECTURES = ("cnn", "vgg", "mlp")
OPTIMIZERS = ("adam", "sgd")
# Where to train and classify: "auto" takes a CUDA GPU if there is one, then
# Apple's GPU (MPS), else the CPU (see digitpad.devices).
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A config value is out of range; the message is meant for a user."""


@dataclass(frozen=True)
class ModelConfig:
    """What to build. ``hidden`` and ``dropout`` shape the study note's MLP;
    ``channels`` and ``dropout`` shape the CNNs."""

    arch: str = "cnn"
    hidden: tuple[int, ...] = (512, 256)
    channels: tuple[int, ...] = (16, 32)
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.arch == "mlp" and not self.hidden:
            raise ConfigError("the MLP needs at least one hidden layer")
        if any(h < 1 or h > 8192 for h in self.hidden):
            raise ConfigError("hidden layer sizes must be between 1 and 8192")
        if len(self.channels) != 2 or any(c < 1 or c > 512 for c in self.channels):
            raise ConfigError("the CNNs take two channel counts between 1 and 512")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError("dropout must be at least 0 and below 1")
        object.__setattr__(self, "dropout", float(self.dropout))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {k: data[k] for k in ("arch", "hidden", "channels", "dropout") if k in data}
        return cls(**known)

    def describe(self) -> str:
        if self.arch == "mlp":
            sizes = "→".join(str(s) for s in (INPUT_SIZE, *self.hidden, NUM_CLASSES))
            return f"MLP {sizes}, dropout {self.dropout:g}"
        name = "deep CNN" if self.arch == "vgg" else "CNN"
        return f"{name} {self.channels[0]}/{self.channels[1]} channels, dropout {self.dropout:g}"


def parse_sizes(text: str, what: str = "hidden layer sizes", example: str = "512,256") -> tuple[int, ...]:
    """Layer sizes as a person types them (the CLI's --hidden and --channels, the app's field):
    whole numbers separated by commas or semicolons, spaces allowed. Ranges are ModelConfig's to check."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise ConfigError(f"enter the {what}, like {example}")
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        raise ConfigError(f"the {what} must be whole numbers separated by commas, like {example}; "
                          f"not {text.strip()!r}") from None


# Where an architecture's best settings differ from TrainConfig's defaults.
ARCH_TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {},
    "vgg": {},
    "mlp": {"augment": False, "batch_size": 512, "lr": 0.003, "epochs": 10},
}


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Defaults are the app's and the CLI's defaults."""

    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: str = "adam"
    lr: float = 0.003
    batch_size: int = 128
    epochs: int = 3
    augment: bool = True
    seed: int = 0
    validation_size: int = 5000
    # The running training loss is averaged over this many steps, like the
    # study note's print_every.
    log_every: int = 20
    validations_per_epoch: int = 1
    # Random non-digit drawings added to each batch, as a share of its digits,
    # trained towards "no digit in particular" (see digitpad.non_digits).
    non_digit_share: float = 0.0
    device: str = "auto"
    # bfloat16 autocast on CUDA GPUs that have it; the CPU and MPS always train in float32.
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not 0.0 < float(self.lr) <= 10.0:
            raise ConfigError("learning rate must be above 0 and at most 10")
        if not 1 <= int(self.batch_size) <= 65536:
            raise ConfigError("batch size must be between 1 and 65536")
        if not 1 <= int(self.epochs) <= 1000:
            raise ConfigError("epochs must be between 1 and 1000")
        if int(self.validation_size) < 0:
            raise ConfigError("validation size cannot be negative")
        if int(self.log_every) < 1 or int(self.validations_per_epoch) < 1:
            raise ConfigError("log_every and validations_per_epoch must be at least 1")
        if not 0.0 <= float(self.non_digit_share) <= 1.0:
            raise ConfigError("the share of non-digit drawings must be between 0 and 1")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")

    @classmethod
    def defaults_for(cls, arch: str, **changes: Any) -> TrainConfig:
        """Each architecture's own defaults, with ``changes`` applied on top.

        The MLP has no notion of space, so warping its inputs only slows its
        learning: it trains without augmentation, on larger batches (fewer
        steps, same accuracy), and as each of its epochs is cheap it takes more
        of them.
        """
        model_changes = {k: changes.pop(k) for k in ("hidden", "channels", "dropout") if k in changes}
        model = ModelConfig(arch=arch, **model_changes)
        return cls(model=model, **{**ARCH_TRAINING_DEFAULTS.get(arch, {}), **changes})

    def with_changes(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data


@dataclass(frozen=True)
class TeachConfig:
    """How to teach a trained model a person's handwriting (``digitpad.teaching``).

    Each drawing is replayed as at least ``variants`` slightly different
    versions, and all the drawings together as at least ``min_replays``, so a
    few drawings still teach for enough steps. Each batch mixes
    ``drawings_per_batch`` of those versions with ``mnist_per_batch`` MNIST
    training images, so the model learns the person's style without forgetting
    MNIST; an epoch is one pass over the versions. ``holdout_fraction`` of each
    digit's drawings is held out to measure on. The defaults were chosen with
    tests/bench/teach.py (see tests/bench/RESULTS.md).
    """

    epochs: int = 3
    lr: float = 0.0005
    # A stroke reader's peak learning rate: its fully connected layers learn a hand
    # better at 4 times the image network's, and forget no more of MNIST.
    reader_lr: float = 0.002
    drawings_per_batch: int = 32
    mnist_per_batch: int = 96
    variants: int = 16
    min_replays: int = 640
    holdout_fraction: float = 0.2
    seed: int = 0
    log_every: int = 5
    # Where to teach (as TrainConfig.device).
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if not 1 <= int(self.epochs) <= 1000:
            raise ConfigError("epochs must be between 1 and 1000")
        if not 0.0 < float(self.lr) <= 1.0 or not 0.0 < float(self.reader_lr) <= 1.0:
            raise ConfigError("learning rate must be above 0 and at most 1")
        if not 1 <= int(self.drawings_per_batch) <= 4096 or not 0 <= int(self.mnist_per_batch) <= 4096:
            raise ConfigError("a batch takes 1 to 4096 drawings and 0 to 4096 MNIST images")
        if not 1 <= int(self.variants) <= 1000 or not 0 <= int(self.min_replays) <= 100_000:
            raise ConfigError("variants must be between 1 and 1000, and min_replays between 0 and 100,000")
        if not 0.0 <= float(self.holdout_fraction) < 1.0:
            raise ConfigError("the share held out must be at least 0 and below 1")
        if int(self.log_every) < 1:
            raise ConfigError("log_every must be at least 1")

    def with_changes(self, **changes: Any) -> TeachConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "teach", **asdict(self)}
