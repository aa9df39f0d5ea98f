"""Training hyperparameters as frozen dataclasses, and the named experiments.

A :class:`TrainConfig` names itself: :attr:`TrainConfig.name` is the model name plus a
hash of every field that differs from the class defaults (OpenLTH's convention), so
equal requests map to one run directory and are trained once. Each named experiment
in :data:`EXPERIMENTS` is a config with the papers' settings: Frankle (2020) uses
OpenLTH's published defaults, Goodfellow et al. (2015, App. A) the Pylearn2
configurations of the cited works, Im et al. (2016, §3.4) batch 128 for 200 epochs.
The convolutional families (:data:`experiments.models.CONV_FAMILIES`) keep their
paper's CIFAR-10 recipe on every dataset, epochs included, and drop only CIFAR's
crop-and-flip augmentation elsewhere; a study with a smaller budget trims the epochs
(``experiment(name, epochs=2)``, ``--epochs 2``). :func:`describe_experiments` states
each recipe and its source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from landscapes.names import unknown_name
from landscapes.paths import CURVES as _CURVES

__all__ = ["TrainConfig", "EXPERIMENTS", "experiment", "describe_experiments", "train_command",
           "PRECISIONS", "CURVES"]

#: Allowed ``precision`` values: float32, or autocast to bfloat16 (CPU and CUDA) or
#: float16 (CUDA only, with loss scaling).
PRECISIONS = ("float32", "bfloat16", "float16")

_INIT = re.compile(r"^normal\(\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*,\s*(\d+(?:\.\d+)?(?:e-?\d+)?)\s*\)$")


def _help(text: str, **kwargs: Any) -> Any:
    # The help text lives with the field so ``--help`` and the docs cannot drift apart.
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run. Defaults: OpenLTH's LeNet-300-100 on MNIST.

    Durations (``milestones``, ``warmup``) are OpenLTH strings: ``"80ep,120ep"`` in
    epochs or ``"1000it"`` in iterations. Seeds are separate for the initialisation,
    the data order (minibatches and augmentation) and dropout, so two runs can share an
    init and the same minibatches while using different optimizers (Im et al. 2016 §4.1).

    Examples
    --------
    >>> TrainConfig().name
    'mnist_mlp-defaults'
    >>> TrainConfig(lr=0.05).name == TrainConfig(lr=0.05).name != TrainConfig().name
    True
    >>> TrainConfig(optimizer="adm")
    Traceback (most recent call last):
    ...
    ValueError: unknown optimizer 'adm' (did you mean 'adam'?); choose from [...]
    """

    model: str = _help("network, see `experiments.models` (the dataset follows from it)",
                       default="mnist_mlp")
    optimizer: str = _help("optimizer name, see `experiments.optimizers`", default="sgd")
    lr: float = _help("learning rate", default=0.1)
    momentum: float | None = _help("momentum coefficient (optimizer default when unset)",
                                   default=None)
    weight_decay: float = _help("L2 weight decay", default=0.0)
    batch_size: int = _help("examples per minibatch", default=128)
    epochs: float = _help("length of training in epochs (fractions allowed)", default=40.0)
    milestones: str = _help("learning-rate drops, e.g. '80ep,120ep' or '1000it,2000it'",
                            default="")
    gamma: float = _help("factor applied to the learning rate at each milestone", default=0.1)
    warmup: str = _help("linear learning-rate warmup, e.g. '5ep' or '500it'", default="")
    clip_grad_norm: float | None = _help("clip the gradient's global norm to this value",
                                         default=None)
    augment: bool = _help("CIFAR-style augmentation: 4-pixel pad-and-crop and flips",
                          default=False)
    init: str = _help("'default' (the model's own), or 'normal(mean,std)' for every weight "
                      "(Im et al. 2016 App. A.5)", default="default")
    init_seed: int = _help("seed of the initialisation", default=0)
    data_seed: int = _help("seed of the minibatch order and augmentation", default=0)
    dropout_seed: int = _help("seed of the dropout masks", default=0)
    switch_at: int | None = _help("iteration at which to switch optimizer (Im et al. §4.3)",
                                  default=None)
    switch_optimizer: str | None = _help("optimizer after `switch_at`", default=None)
    switch_lr: float | None = _help("learning rate after `switch_at` (default: lr)",
                                    default=None)
    train_examples: int | None = _help("train on the first N training examples only",
                                       default=None)
    checkpoints: tuple[int, ...] = _help("extra iterations to checkpoint, besides Frankle's "
                                         "{0, 2^k, 1000k} and every epoch", default=())
    precision: str = _help("float32, or autocast to bfloat16 (CPU and GPU) or float16 (GPU "
                           "only); it changes the numbers, so it names the run",
                           default="float32")
    spawn_at: int | None = _help("start from iteration k of the parent run (this config without "
                                 "the spawn fields), its optimizer and schedule included; k must "
                                 "be a checkpoint of the parent (Frankle et al. 2020)",
                                 default=None)
    spawn_child: int | None = _help("which child of the spawn: 1, 2, ... draw their own data order "
                                    "and augmentation from spawn_at on; 0 keeps the parent's "
                                    "(it reproduces the parent's weights)", default=None)
    curve: str | None = _help("train a mode-connecting curve between curve_ends instead of a "
                              "network: 'bezier' or 'polychain' (Garipov et al. 2018)",
                              default=None)
    curve_ends: tuple[str, ...] = _help("the curve's two endpoint runs in the store, each "
                                        "'<config name>/replicate_<r>' (their final weights)",
                                        default=())

    def __post_init__(self) -> None:
        _coerce(self)
        _validate(self)

    @property
    def name(self) -> str:
        """``<model>-<hash of the non-default fields>``, or ``<model>-defaults``."""
        changed = {
            f.name: _jsonable(getattr(self, f.name))
            for f in fields(self)
            if f.name != "model" and getattr(self, f.name) != f.default
        }
        if not changed:
            return f"{self.model}-defaults"
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()
        return f"{self.model}-{digest[:12]}"

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown!r}; choose from "
                             f"{[f.name for f in fields(cls)]}")
        values = dict(values)
        if "checkpoints" in values:
            values["checkpoints"] = tuple(int(t) for t in values["checkpoints"])
        if "curve_ends" in values:
            values["curve_ends"] = tuple(str(t) for t in values["curve_ends"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def parent(self) -> TrainConfig | None:
        """The run a spawned child starts from: this config without ``spawn_at`` and
        ``spawn_child`` (None for a run that is not a child)."""
        if self.spawn_at is None:
            return None
        return self.replace(spawn_at=None, spawn_child=None)

    def iterations(self, per_epoch: int) -> int:
        """Total number of iterations given the iterations per epoch."""
        return max(1, round(self.epochs * per_epoch))


def parse_init(text: str) -> tuple[float, float] | None:
    """``"default"`` → None; ``"normal(-10,0.01)"`` → (mean, std).

    Examples
    --------
    >>> parse_init("normal(-10,0.01)")
    (-10.0, 0.01)
    """
    if text == "default":
        return None
    match = _INIT.match(text.replace(" ", ""))
    if match is None:
        raise ValueError(f"bad init {text!r}; use 'default' or 'normal(mean,std)', "
                         "e.g. 'normal(-1,1)'")
    return float(match.group(1)), float(match.group(2))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _choose(kind: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise unknown_name(kind, value, choices)


def _coerce(config: TrainConfig) -> None:
    # 1 and 1.0 must name the same run, and a CLI string must not slip through.
    casts = {"float": float, "int": int}
    for f in fields(config):
        value = getattr(config, f.name)
        cast = casts.get(str(f.type).split(" |")[0])
        if cast is None or value is None or isinstance(value, bool):
            continue
        try:
            object.__setattr__(config, f.name, cast(value))
        except (TypeError, ValueError):
            raise ValueError(f"{f.name} must be a number, got {value!r}") from None
    if isinstance(config.curve_ends, (list, tuple)):
        object.__setattr__(config, "curve_ends", tuple(str(e) for e in config.curve_ends))
    else:
        raise ValueError(f"curve_ends must be a pair of runs, got {config.curve_ends!r}")
    if isinstance(config.checkpoints, (list, tuple)):
        object.__setattr__(config, "checkpoints", tuple(sorted({int(t) for t in config.checkpoints})))
    else:
        raise ValueError(f"checkpoints must be a list of iterations, got {config.checkpoints!r}")


def _validate(config: TrainConfig) -> None:
    from experiments.models import MODELS
    from experiments.optimizers import OPTIMIZERS

    _choose("model", config.model, list(MODELS))
    _choose("optimizer", config.optimizer, list(OPTIMIZERS))
    if config.switch_optimizer is not None:
        _choose("optimizer", config.switch_optimizer, list(OPTIMIZERS))
    if (config.switch_at is None) != (config.switch_optimizer is None):
        raise ValueError("switch_at and switch_optimizer go together; got "
                         f"switch_at={config.switch_at!r}, "
                         f"switch_optimizer={config.switch_optimizer!r}")
    _choose("precision", config.precision, list(PRECISIONS))
    positive = {"lr": config.lr, "batch_size": config.batch_size, "epochs": config.epochs}
    if config.switch_lr is not None:
        positive["switch_lr"] = config.switch_lr
    for key, value in positive.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, got {value!r}")
    if config.momentum is not None and not 0 <= config.momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {config.momentum!r}")
    if config.weight_decay < 0 or config.gamma <= 0:
        raise ValueError(f"weight_decay must be ≥ 0 and gamma > 0, got "
                         f"{config.weight_decay!r} and {config.gamma!r}")
    if config.train_examples is not None and config.train_examples < 1:
        raise ValueError(f"train_examples must be ≥ 1, got {config.train_examples!r}")
    if config.switch_at is not None and config.switch_at < 1:
        raise ValueError(f"switch_at must be ≥ 1, got {config.switch_at!r}")
    _validate_spawn(config)
    _validate_curve(config)
    if any(t < 0 for t in config.checkpoints):
        raise ValueError(f"checkpoint iterations must be ≥ 0, got {config.checkpoints!r}")
    from experiments.schedules import parse_steps

    for key in ("milestones", "warmup"):
        parse_steps(getattr(config, key), 1)
    parse_init(config.init)


#: Allowed ``curve`` values (:func:`landscapes.paths.bezier`, :func:`landscapes.paths.polychain`).
CURVES = _CURVES
_RUN_REF = re.compile(r"^[A-Za-z0-9_.-]+/replicate_\d+$")


def _validate_spawn(config: TrainConfig) -> None:
    if (config.spawn_at is None) != (config.spawn_child is None):
        raise ValueError("spawn_at and spawn_child go together; got "
                         f"spawn_at={config.spawn_at!r}, spawn_child={config.spawn_child!r}")
    if config.spawn_at is not None and (config.spawn_at < 0 or config.spawn_child < 0):
        raise ValueError(f"spawn_at and spawn_child must be ≥ 0, got {config.spawn_at!r} and "
                         f"{config.spawn_child!r}")
    if config.spawn_at is not None and config.curve is not None:
        raise ValueError("a curve run cannot be spawned; set spawn_at or curve, not both")


def _validate_curve(config: TrainConfig) -> None:
    if config.curve is None:
        if config.curve_ends:
            raise ValueError(f"curve_ends={config.curve_ends!r} needs a curve kind; set curve "
                             f"to one of {list(CURVES)}")
        return
    _choose("curve", config.curve, list(CURVES))
    if len(config.curve_ends) != 2 or not all(_RUN_REF.match(e) for e in config.curve_ends):
        raise ValueError(f"curve_ends must be two runs '<config name>/replicate_<r>', got "
                         f"{config.curve_ends!r}")
    if config.curve_ends[0] == config.curve_ends[1]:
        raise ValueError(f"a curve needs two different endpoint runs, got {config.curve_ends!r}")


def _openlth_cifar(model: str, augment: bool = True) -> TrainConfig:
    # OpenLTH cifar_resnet_20 / cifar_vgg_16: 160 epochs = 62,560 iterations at batch 128.
    return TrainConfig(model=model, optimizer="momentum", lr=0.1, momentum=0.9,
                       weight_decay=1e-4, epochs=160.0, milestones="80ep,120ep",
                       augment=augment)


def _im_cifar(model: str, augment: bool = False) -> TrainConfig:
    # Im et al. §3.4: batch 128 for 200 epochs; SGD's rate from {0.2, 0.1, 0.05, 0.01},
    # 0.05 being the one of their VGG switching experiments (Figs. 13-15). They do not
    # say they augment, and we do not.
    return TrainConfig(model=model, optimizer="sgd", lr=0.05, epochs=200.0, augment=augment)


def _goodfellow_mnist(model: str) -> TrainConfig:
    # Pylearn2's MNIST configurations: batch 100, SGD with momentum 0.5 (their momentum
    # ramp and max-norm constraints are not reproduced).
    return TrainConfig(model=model, optimizer="momentum", lr=0.05, momentum=0.5,
                       batch_size=100, epochs=40.0)


# Each conv family's recipe from its paper, which trains it on CIFAR-10: the config, its
# source, whether it augments CIFAR-10, and whether the paper also trains the network
# without batch norm (Im et al. do, §4.4; OpenLTH's networks always have it, so their
# _nobn experiments reuse the batch-norm recipe untuned). On the other datasets the same
# hyperparameters stay the defaults (the studies trim epochs to their budgets), without
# the CIFAR-style augmentation: flipping a digit can change what it is.
_OPENLTH = "OpenLTH's (Frankle 2020, §2)"
_IM = "Im et al.'s (2016, §3.4; SGD lr 0.05 of their {0.2, 0.1, 0.05, 0.01})"
_FAMILY_RECIPES = {
    "resnet20": (_openlth_cifar, _OPENLTH, True, False),
    "vgg16": (_openlth_cifar, _OPENLTH, True, False),
    "vgg16_dropout": (_im_cifar, _IM, False, True),
    "nin": (_im_cifar, _IM, False, True),
}


def _family_experiment(
    name: str, family: str, dataset: str, batch_norm: bool
) -> tuple[TrainConfig, str]:
    recipe, source, augments, without_bn = _FAMILY_RECIPES[family]
    untuned = ""
    if not (batch_norm or without_bn):
        untuned = "; set for the batch-norm network, no paper trains this one"
    if dataset == "cifar10":
        return recipe(name, augment=augments), source + untuned
    text = f"{source} for CIFAR-10, kept with its epochs (trim them with --epochs)"
    return recipe(name, augment=False), text + ", without its augmentation" * augments + untuned


def _registry() -> dict[str, tuple[TrainConfig, str]]:
    from experiments.models import MODELS
    from experiments.models.mlp import MLP_WIDTHS

    explicit = {
        "mnist_mlp": (TrainConfig(), "OpenLTH's mnist_lenet_300_100 (Frankle 2020, §2)"),
        "fashion_mlp": (TrainConfig(model="fashion_mlp"),
                        "OpenLTH's MNIST LeNet-300-100 recipe, on Fashion-MNIST"),
        # OpenLTH imagenet_resnet_50: batch 1024, lr 0.4 with 5 warmup epochs, 90 epochs.
        "imagenet_resnet50": (TrainConfig(model="imagenet_resnet50", optimizer="momentum",
                                          lr=0.4, momentum=0.9, weight_decay=1e-4,
                                          batch_size=1024, epochs=90.0, warmup="5ep",
                                          milestones="30ep,60ep,80ep", augment=False),
                              "OpenLTH's imagenet_resnet_50 (Frankle 2020, §2)"),
        # Goodfellow et al. App. A: the Pylearn2 conv maxout net, without augmentation.
        "cifar_maxout": (TrainConfig(model="cifar_maxout", optimizer="momentum", lr=0.05,
                                     momentum=0.5, batch_size=100, epochs=100.0),
                         "Pylearn2's cifar10_no_aug_valid (Goodfellow et al. 2015, App. A), "
                         "without its momentum ramp and max-norm constraints"),
        # Zaremba et al. (2014) medium: SGD lr 1, divided by 1.2 after each epoch from the
        # 6th on, 39 epochs, batch 20 × 35 steps, gradient norm clipped at 5.
        "ptb_lstm_medium": (TrainConfig(model="ptb_lstm_medium", optimizer="sgd", lr=1.0,
                                        batch_size=20, epochs=39.0, clip_grad_norm=5.0,
                                        milestones=",".join(f"{e}ep" for e in range(6, 39)),
                                        gamma=1 / 1.2),
                            "Zaremba et al. 2014, medium: lr ÷1.2 each epoch from the 6th, "
                            "35-step truncated backpropagation"),
    }
    for width in MLP_WIDTHS:  # the width sweep trains every width with LeNet's recipe
        explicit[f"mnist_mlp_w{width}"] = (TrainConfig(model=f"mnist_mlp_w{width}"),
                                           "OpenLTH's mnist_lenet_300_100 recipe")
    out = {}
    for name, model in MODELS.items():
        if name in explicit:
            out[name] = explicit[name]
        elif model.family is not None:
            batch_norm = not name.endswith("_nobn")
            out[name] = _family_experiment(name, model.family, model.dataset, batch_norm)
        elif name.startswith("mnist_"):
            out[name] = (_goodfellow_mnist(name), "Pylearn2's MNIST configurations (Goodfellow "
                         "et al. 2015, App. A), without their momentum ramp and max-norm "
                         "constraints")
        else:
            raise RuntimeError(f"model {name!r} has no experiment; add one to _registry")
    return out


#: Named experiments with the papers' hyperparameters.
EXPERIMENTS: dict[str, TrainConfig] = {}
# Where each experiment's hyperparameters come from, in words; filled with EXPERIMENTS.
_RECIPES: dict[str, str] = {}


def experiment(name: str, **overrides: Any) -> TrainConfig:
    """The config of a named experiment, with some fields overridden.

    Examples
    --------
    >>> experiment("mnist_mlp", epochs=1).epochs
    1.0
    >>> experiment("mnst_mlp")
    Traceback (most recent call last):
    ...
    ValueError: unknown experiment 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from [...]
    """
    registry = _experiments()
    _choose("experiment", name, list(registry))
    return registry[name].replace(**overrides) if overrides else registry[name]


def describe_experiments() -> list[tuple[str, str]]:
    """(name, one line) for every named experiment: the network, the recipe and its source.

    Examples
    --------
    >>> line = dict(describe_experiments())["fashion_resnet20"]
    >>> print(line[:line.index(";")])
    ResNet-20, OpenLTH (Frankle 2020, §2), batch norm
    >>> print(line[line.index("["):])
    [momentum 0.9, lr 0.1, weight decay 0.0001, batch 128, 160 epochs, lr ×0.1 at 80ep,120ep]
    """
    from experiments.models import MODELS

    out = []
    for name, config in _experiments().items():
        description = MODELS[config.model].description
        out.append((name, f"{description}. Recipe: {_RECIPES[name]} [{_settings(config)}]"))
    return out


def _settings(config: TrainConfig) -> str:
    # The hyperparameters a reader needs to recognise the recipe, on one line.
    optimizer = config.optimizer
    if config.momentum is not None:  # "momentum 0.9", or e.g. "rk2 (momentum 0.5)"
        coefficient = f"{config.momentum:g}"
        optimizer += f" {coefficient}" if optimizer == "momentum" else f" (momentum {coefficient})"
    parts = [optimizer, f"lr {config.lr:g}"]
    if config.weight_decay:
        parts.append(f"weight decay {config.weight_decay:g}")
    parts += [f"batch {config.batch_size}", f"{config.epochs:g} epochs"]
    if config.warmup:
        parts.append(f"warmup {config.warmup}")
    steps = [step for step in config.milestones.split(",") if step]
    if steps:
        at = ",".join(steps) if len(steps) <= 4 else f"{steps[0]}…{steps[-1]} ({len(steps)} drops)"
        parts.append(f"lr ×{config.gamma:.3g} at {at}")
    if config.clip_grad_norm is not None:
        parts.append(f"gradient norm ≤ {config.clip_grad_norm:g}")
    if config.augment:
        parts.append("crop-and-flip augmentation")
    return ", ".join(parts)


def train_command(config: TrainConfig, replicates: int = 1) -> str:
    """The ``python -m experiments.train`` command that trains ``config``.

    It names the experiment of ``config.model`` and overrides what differs from it,
    so error messages can say exactly what to run again.

    Examples
    --------
    >>> train_command(experiment("mnist_mlp", epochs=2, checkpoints=(3, 5)), replicates=3)
    'python -m experiments.train mnist_mlp --epochs 2.0 --checkpoints 3,5 --replicates 3'
    >>> train_command(experiment("cifar_resnet20", momentum=None))
    'python -m experiments.train cifar_resnet20 --momentum none'
    """
    import shlex

    base = experiment(config.model)
    words = ["python", "-m", "experiments.train", config.model]
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "model" or value == getattr(base, f.name):
            continue
        if value is None:
            text = "none"
        elif isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, tuple):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        words += [f"--{f.name.replace('_', '-')}", shlex.quote(text)]
    if replicates != 1:
        words += ["--replicates", str(replicates)]
    return " ".join(words)


def _experiments() -> dict[str, TrainConfig]:
    # Built on first use: validating the configs imports the model and optimizer registries.
    if not EXPERIMENTS:
        registry = _registry()
        _RECIPES.update({name: text for name, (_, text) in registry.items()})
        EXPERIMENTS.update({name: config for name, (config, _) in registry.items()})
    return EXPERIMENTS
