"""The options several subcommands share: argparse value types, the model and data option groups,
and the training options generated from :class:`~depthnb.train.TrainConfig` (one option per field,
named after it). Imports no torch."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from depthnb.train.config import CHOICES, TrainConfig, field_help


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a count, a size in pixels, a batch)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def json_dict(text: str) -> dict[str, Any]:
    """argparse type: a JSON object (``--model-args '{"width": 0.5}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--model-args``, ``--pretrained``."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="unet, densedepth, fcrn (depthnb.models.list_models())")
    group.add_argument(
        "--model-args", type=json_dict, help="JSON keyword arguments, e.g. '{\"width\": 0.5}'"
    )
    group.add_argument(
        "--pretrained", action="store_true", default=None, help="ImageNet encoder weights"
    )


def add_data_options(
    parser: argparse.ArgumentParser, choices: tuple[str, ...], training: bool = True
) -> None:
    """``--data`` (one of ``choices``), ``--data-root``, ``--size``, ``--val-scenes``,
    ``--val-seed``; with ``training`` also the training set's ``--train-scenes``, ``--limit`` and
    ``--cache``."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=choices)
    group.add_argument("--data-root", help="file or folder of the dataset (default: under data/)")
    group.add_argument(
        "--size", type=positive_int, nargs=2, metavar=("H", "W"), help="image size, pixels"
    )
    if training:
        group.add_argument("--train-scenes", type=positive_int, help="synthetic rooms to train on")
    group.add_argument(
        "--val-scenes", type=positive_int, help="held-out synthetic rooms (or images) to score"
    )
    group.add_argument("--val-seed", type=int, help="seed of the held-out synthetic rooms")
    if not training:
        return
    group.add_argument(
        "--limit",
        type=positive_int,
        help="use only the first N training images of a real dataset (N >= 1)",
    )
    group.add_argument(
        "--cache",
        action="store_true",
        default=None,
        help="decode a real dataset's training images once, at --size, into data/cache/ "
        "(uint8 memory maps; batches are converted and augmented on the device)",
    )


_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def _nullable(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = convert.__name__  # argparse names the type in its errors
    return parse


def add_train_options(parser: argparse.ArgumentParser, names: list[str] | None = None) -> None:
    """One option per :class:`TrainConfig` field (or the fields ``names``), named after it:
    ``--batch-size`` for ``batch_size``, ``--augment/--no-augment`` for booleans, ``none`` for an
    optional value; each option's help is the field's documentation. Options not given are absent
    from the parsed namespace."""
    helps = field_help()
    group = parser.add_argument_group("training (TrainConfig)")
    for field in fields(TrainConfig):
        if names is not None and field.name not in names:
            continue
        kind = str(field.type).replace(" | None", "")
        text = re.sub(r":\w+:`~?([^`]*)`", r"\1", helps[field.name]).replace("``", "")
        options: dict[str, Any] = {"help": text, "default": argparse.SUPPRESS}
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        else:
            convert = _TYPES[kind]
            options["type"] = _nullable(convert) if "None" in str(field.type) else convert
            options["choices"] = CHOICES.get(field.name)
        group.add_argument("--" + field.name.replace("_", "-"), dest=field.name, **options)
