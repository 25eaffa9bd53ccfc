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
from depthnb.train.config import CHOICES, field_help, fits_type

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


#: The JSON type of each setting only the command line has (the TrainConfig fields' come from
#: their annotations).
_JOB_TYPES: dict[str, str] = {
    "model": "str",
    "model_args": "dict",
    "pretrained": "bool",
    "data": "str",
    "data_root": "str | None",
    "size": "size",
    "train_scenes": "int",
    "val_scenes": "int",
    "val_seed": "int",
    "limit": "int | None",
    "cache": "bool",
    "resume": "str | None",
}
_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "dict": "a JSON object",
    "size": "[H, W], two whole numbers",
}


def setting_types() -> dict[str, str]:
    """Every setting's JSON type: ``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"dict"``,
    ``"size"`` (two ints), each possibly ``" | None"``."""
    return {**_JOB_TYPES, **{field.name: str(field.type) for field in fields(TrainConfig)}}


def _describe(kind: str) -> str:
    name = _TYPE_NAMES[kind.removesuffix(" | None")]
    return f"{name} or null" if kind.endswith(" | None") else name


def check_settings(values: dict[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` for a setting of ``values`` with an unknown name, the wrong JSON
    type or a value outside its choices, naming the key, what it must be and ``where`` it came
    from (e.g. ``"--config run.json"``)."""
    unknown = sorted(set(values) - set(MAIN_JOB))
    if unknown:
        raise ConfigError(f"{where}: unknown settings {unknown}; known: {sorted(MAIN_JOB)}")
    types = setting_types()
    for key, value in values.items():
        if not fits_type(value, types[key]):
            raise ConfigError(
                f"{where}: {key} must be {_describe(types[key])}, got {value!r} "
                f"({type(value).__name__})"
            )
        choices = {"data": DATA_CHOICES, **CHOICES}.get(key)
        if choices is not None and value not in choices:
            raise ConfigError(f"{where}: {key} {value!r} is not one of {list(choices)}")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"--config {path}: cannot read it as JSON ({error})") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config {path}: must hold a JSON object of settings")
    check_settings(loaded, f"--config {path}")
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
    check_job_settings(settings)
    train_config(settings)  # checks every training setting
    return settings


def check_job_settings(settings: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the flag of a job setting out of range (scene counts,
    ``limit``, ``size``, no ``out_dir``)."""
    for key in ("train_scenes", "val_scenes"):
        if settings[key] < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    if settings["limit"] is not None and settings["limit"] < 1:
        raise ConfigError(
            f"--limit {settings['limit']}: must be at least 1 (leave it out to use every image)"
        )
    if min(settings["size"]) < 32:
        raise ConfigError(f"--size {settings['size']}: both sides must be at least 32 pixels")
    if settings["out_dir"] is None:
        raise ConfigError("--out none: the job writes checkpoints and metrics; name a folder")


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
    elif name == "diode":
        path = root or default_data_dir() / "diode"
        every = data.DIODE(path, split="val", domain="indoors", transform=resize)
        order = list(range(len(every)))
        cut = max(1, len(order) // 10)
        train = torch.utils.data.Subset(every, order[cut:])
        held_out = torch.utils.data.Subset(every, order[:cut])
    else:
        raise ConfigError(f"unknown data {name!r}; choose one of {list(DATA_CHOICES)}")
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
