"""The ``train`` command's job: its settings (one vocabulary) and its datasets.

A job's settings are every :class:`~depthnb.train.TrainConfig` field plus the keys only the command
line has (:data:`JOB_DEFAULTS`: which model, which data, at what size, where to resume from). The
``train`` flags are generated from the fields (:func:`add_train_flags`; each flag's help is the
field's documentation), a ``--config`` JSON file holds the same keys, and :data:`MAIN_JOB`, the
settings of ``python -m depthnb train`` without arguments, is the synthetic U-Net recipe
(:func:`depthnb.train.synthetic_unet_config`) plus :data:`JOB_DEFAULTS`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from depthnb.errors import ConfigError
from depthnb.train import SYNTHETIC_UNET, TrainConfig, synthetic_unet_config
from depthnb.train.config import CHOICES, field_help

DATA_CHOICES = ("synthetic", "nyu", "nyu-zip", "diode")

#: The settings only the command line has, at the main job's values.
JOB_DEFAULTS: dict[str, Any] = {
    "model": "unet",
    "model_args": {"filters": SYNTHETIC_UNET["filters"]},
    "pretrained": False,
    "data": "synthetic",
    "data_root": None,
    "size": [120, 160],
    "train_scenes": SYNTHETIC_UNET["scenes"],
    "val_scenes": 100,
    "val_seed": 1000,
    "limit": None,
    "cache": False,
    "resume": None,
}

#: The main job: reaches delta1 about 0.90 on held-out rooms in about 5 minutes on 2 CPU cores.
MAIN_JOB: dict[str, Any] = {
    **JOB_DEFAULTS,
    **synthetic_unet_config(out_dir="runs/main", progress=True).to_dict(),
}

#: Short spellings kept beside the generated flags (``--batch`` for ``--batch-size``, ...).
ALIASES = {"batch_size": ["--batch"], "out_dir": ["--out"], "clip_grad_norm": ["--clip-grad"]}

_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def _nullable(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = convert.__name__  # argparse names the type in its errors
    return parse


def add_train_flags(parser: argparse.ArgumentParser, names: list[str] | None = None) -> None:
    """One flag per :class:`TrainConfig` field (or the fields ``names``): ``--batch-size`` for
    ``batch_size``, ``--augment/--no-augment`` for booleans, ``none`` for an optional value.
    Flags not given are absent from the parsed namespace."""
    helps = field_help()
    group = parser.add_argument_group("training (TrainConfig)")
    for field in fields(TrainConfig):
        if names is not None and field.name not in names:
            continue
        flags = ["--" + field.name.replace("_", "-"), *ALIASES.get(field.name, [])]
        kind = str(field.type).replace(" | None", "")
        text = re.sub(r":\w+:`~?([^`]*)`", r"\1", helps[field.name]).replace("``", "")
        options: dict[str, Any] = {"help": text, "default": argparse.SUPPRESS}
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        else:
            convert = _TYPES[kind]
            options["type"] = _nullable(convert) if "None" in str(field.type) else convert
            options["choices"] = CHOICES.get(field.name)
        group.add_argument(*flags, dest=field.name, **options)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"--config {path}: cannot read it as JSON ({error})") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config {path}: must hold a JSON object of settings")
    unknown = sorted(set(loaded) - set(MAIN_JOB))
    if unknown:
        raise ConfigError(f"--config {path}: unknown settings {unknown}; known: {sorted(MAIN_JOB)}")
    return loaded


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The main job's settings, overridden by ``--config`` then by the flags given; checked.

    Returns every key of :data:`MAIN_JOB` (the job's keys and the TrainConfig fields).
    """
    settings = dict(MAIN_JOB)
    given = dict(_read_config(Path(args.config))) if getattr(args, "config", None) else {}
    trained = {field.name for field in fields(TrainConfig)}  # generated flags: absent unless given
    given.update(
        {k: v for k, v in vars(args).items() if k in trained or (k in MAIN_JOB and v is not None)}
    )
    settings.update(given)
    if settings["model"] != MAIN_JOB["model"] and "model_args" not in given:
        settings["model_args"] = {}  # the main job's U-Net widths do not apply to another model
    for key in ("train_scenes", "val_scenes"):
        if settings[key] < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    if min(settings["size"]) < 32:
        raise ConfigError(f"--size {settings['size']}: both sides must be at least 32 pixels")
    train_config(settings)  # checks every training setting
    return settings


def train_config(settings: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` part of a job's settings."""
    return TrainConfig.from_dict({k: v for k, v in settings.items() if k not in JOB_DEFAULTS})


def build_datasets(settings: dict[str, Any]) -> tuple[Any, Any]:
    """(train, held-out) datasets of the settings' ``data``, at ``size``."""
    import torch

    from depthnb import data
    from depthnb.data import transforms

    name, size = settings["data"], tuple(settings["size"])
    if name == "synthetic":
        train = data.SyntheticRooms(settings["train_scenes"], size=size, seed=settings["seed"])
        held_out = data.SyntheticRooms(settings["val_scenes"], size=size, seed=settings["val_seed"])
        return train, held_out
    resize = transforms.Resize(size)
    root = Path(settings["data_root"]) if settings["data_root"] else None
    from depthnb.notebook import default_data_dir

    if name == "nyu":
        path = root or default_data_dir() / "nyu" / "nyu_depth_v2_labeled.mat"
        train = data.NYUv2Labeled(path, split="train", transform=resize)
        held_out = data.NYUv2Labeled(path, split="test", transform=resize)
    elif name == "nyu-zip":
        path = root or default_data_dir() / "nyu" / "nyu_data.zip"
        train = data.NYUDepthZip(path, split="train", transform=resize)
        held_out = data.NYUDepthZip(path, split="test", transform=resize)
    else:
        path = root or default_data_dir() / "diode"
        every = data.DIODE(path, split="val", domain="indoors", transform=resize)
        order = list(range(len(every)))
        cut = max(1, len(order) // 10)
        train = torch.utils.data.Subset(every, order[cut:])
        held_out = torch.utils.data.Subset(every, order[:cut])
    if settings["limit"]:
        train = torch.utils.data.Subset(train, range(min(settings["limit"], len(train))))
    if settings["cache"]:
        train = _cached(train, name, size, settings)
    return train, held_out


def _cached(train: Any, name: str, size: tuple[int, int], settings: dict[str, Any]) -> Any:
    """The training set decoded once into ``data/cache/`` (raw uint8 samples)."""
    from depthnb import data
    from depthnb.notebook import default_data_dir

    limit = settings["limit"]
    folder = f"{name}-train-{size[0]}x{size[1]}" + (f"-first{limit}" if limit else "")
    cached = data.build_cache(
        train,
        default_data_dir() / "cache" / folder,
        size=size,
        num_workers=settings["workers"],
        source=folder,
        settings={key: settings[key] for key in ("data", "data_root", "size", "limit")},
    )
    return data.DepthCache(cached.path, raw=True)
