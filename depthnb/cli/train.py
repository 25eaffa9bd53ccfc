"""``python -m depthnb train``, the project's main job: its settings (one vocabulary) and datasets,
then training, evaluation beside the constant baseline, checkpoints and the figure.

A job's settings are every :class:`~depthnb.train.TrainConfig` field plus the keys only the command
line has (:data:`JOB_DEFAULTS`: which model, which data, at what size, where to resume from). The
``train`` options are generated from the fields (:func:`depthnb.cli.options.add_train_options`;
each option's name is the field's, its help the field's documentation), a ``--config`` JSON file
holds the same keys, and :data:`MAIN_JOB`, the
settings of ``python -m depthnb train`` without arguments, is the synthetic U-Net recipe
(:func:`depthnb.train.synthetic_unet_config`) plus :data:`JOB_DEFAULTS`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from depthnb.cli.figure import save_prediction_figure
from depthnb.cli.options import add_data_options, add_model_options, add_train_options
from depthnb.errors import ConfigError
from depthnb.train.config import (
    CHOICES,
    SYNTHETIC_UNET,
    TrainConfig,
    fits_type,
    synthetic_unet_config,
)
from depthnb.utils.files import atomic_write_text


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``train`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser("train", help="train a model (no arguments: the main job)")
    parser.add_argument(
        "--config", help="JSON file of settings (the options' names, dashes -> underscores)"
    )
    add_model_options(parser)
    add_data_options(parser, DATA_CHOICES)
    parser.add_argument("--resume", help="checkpoint to continue from (e.g. runs/main/last.pt)")
    add_train_options(parser)
    parser.set_defaults(handler=cmd_train)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    """Train; evaluate on held-out data beside the constant baseline; write checkpoints, figure."""
    settings = resolve_settings(args)
    make_out_dir(Path(settings["out_dir"]))  # a bad --out-dir fails now, not after an epoch
    start = time.perf_counter()
    trainer = _job_trainer(settings)
    model, train, held_out = trainer.model, trainer.train_data, trainer.val_data
    rendered = time.perf_counter() - start
    if settings["resume"]:
        trainer.resume(settings["resume"])
    say = print if trainer.is_main else (lambda *a, **k: None)
    say(
        f"depthnb train: {settings['model']} on {settings['data']} "
        f"{settings['size'][0]}x{settings['size'][1]}, "
        f"{len(train)} training / {len(held_out)} held-out images, device {trainer.device}, "
        f"{trainer.dist.world_size} process(es), data ready in {rendered:.0f} s"
    )
    trainer.fit()
    if not trainer.is_main:
        return 0
    trained = time.perf_counter() - start - rendered
    summary = {
        "settings": settings,
        "data_seconds": rendered,
        "train_seconds": trained,
        "device": str(trainer.device),
        **_final_scores(model, train, held_out, settings["batch_size"], trainer.device),
        "history": trainer.history,
    }
    summary["seconds"] = time.perf_counter() - start
    out = Path(settings["out_dir"])
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2, default=str))
    scores, baseline = summary["metrics"], summary["baseline"]
    caption = (
        f"held-out delta1 {scores['delta1']:.3f}, abs_rel {scores['abs_rel']:.3f}; the constant "
        f"{summary['baseline_depth_m']:.2f} m: delta1 {baseline['delta1']:.3f}, "
        f"abs_rel {baseline['abs_rel']:.3f}"
    )
    figure = save_prediction_figure(model, held_out, out / "predictions.png", caption=caption)
    print(
        f"wrote {out / 'best.pt'}, {out / 'last.pt'}, {out / 'metrics.json'}, {figure} "
        f"in {summary['seconds']:.0f} s"
    )
    return 0


def make_out_dir(out: Path) -> None:
    """Create an output folder (``--out-dir``); a ConfigError if a file is in the way (other
    refusals, a read-only or missing parent, are the operating system's errors, reported by the
    CLI)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out-dir {out}: is a file; name a folder for the results") from None


def _job_trainer(settings: dict[str, Any]) -> Any:
    """The Trainer of a job: the synthetic U-Net recipe for the U-Net on synthetic rooms (rooms
    rendered once into memory, the output bias started at their median depth), else the model and
    datasets the settings name."""
    from depthnb.models import build_model
    from depthnb.train.recipes import synthetic_unet_trainer
    from depthnb.train.trainer import Trainer

    model_args = dict(settings["model_args"])
    if settings["pretrained"]:
        model_args["pretrained"] = True
    config = train_config(settings)
    if settings["model"] == "unet" and settings["data"] == "synthetic":
        return synthetic_unet_trainer(
            tuple(settings["size"]),
            scenes=settings["train_scenes"],
            val_scenes=settings["val_scenes"],
            val_seed=settings["val_seed"],
            model_args=model_args,
            on_epoch_end=_print_epoch,
            **config.to_dict(),
        )
    model = build_model(settings["model"], **model_args)
    train, held_out = build_datasets(settings)
    return Trainer(model, train, held_out, config, on_epoch_end=_print_epoch)


def _final_scores(
    model: Any, train: Any, held_out: Any, batch_size: int, device: Any
) -> dict[str, Any]:
    """The trained model's held-out metrics (plain and flip-averaged) beside the constant
    baseline; prints them as a table."""
    from depthnb.data.memory import median_depth
    from depthnb.metrics.baseline import ConstantDepth
    from depthnb.metrics.evaluation import evaluate, format_table

    scores = evaluate(model, held_out, batch_size=batch_size, device=device)
    flipped = evaluate(model, held_out, batch_size=batch_size, flip_tta=True, device=device)
    baseline_depth = median_depth(train)
    baseline = evaluate(
        ConstantDepth(baseline_depth), held_out, batch_size=batch_size, device=device
    )
    rows = {
        "model": scores,
        "model, flip TTA": flipped,
        f"constant {baseline_depth:.2f} m": baseline,
    }
    print(format_table(rows, published=False, columns=TABLE_COLUMNS))
    return {
        "metrics": scores,
        "metrics_flip_tta": flipped,
        "baseline": baseline,
        "baseline_depth_m": baseline_depth,
    }


def _print_epoch(trainer: Any, record: dict[str, Any]) -> None:
    """One line per epoch: the log of a run (progress bars vanish from log files)."""
    from tqdm.auto import tqdm

    shown = " ".join(
        f"{key} {record[key]:.4f}"
        for key in ("train_loss", "val_loss", "abs_rel", "delta1")
        if key in record
    )
    tqdm.write(
        f"epoch {record['epoch']}/{trainer.config.epochs}: {shown}, lr {record['lr']:.2e}, "
        f"{record['images_per_s']:.1f} images/s"
    )


# ---------------------------------------------------------------------------------------------
# Output helpers


#: The metrics the command line prints.
TABLE_COLUMNS = ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10")


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


#: The main job: ``python -m depthnb train`` without flags (benchmarks/bench_main_job.py times it).
MAIN_JOB: dict[str, Any] = {
    **JOB_DEFAULTS,
    **synthetic_unet_config(out_dir="runs/main", progress=True).to_dict(),
}


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
        raise ConfigError("--out-dir none: the job writes checkpoints and metrics; name a folder")


def train_config(settings: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` part of a job's settings."""
    return TrainConfig.from_dict({k: v for k, v in settings.items() if k not in JOB_DEFAULTS})


def build_datasets(settings: dict[str, Any]) -> tuple[Any, Any]:
    """(train, held-out) datasets of the settings' ``data``, at ``size``."""
    return training_set(settings), held_out_set(settings)


def training_set(settings: dict[str, Any]) -> Any:
    """The training set of the settings' ``data`` at ``size`` (the first ``limit`` images, decoded
    once into the cache with ``cache``)."""
    import torch

    from depthnb import data

    name, size, resize = _data_of(settings)
    if name == "synthetic":
        return data.SyntheticRooms(settings["train_scenes"], size=size, seed=settings["seed"])
    path = _data_path(settings)
    if name == "nyu":
        train = data.NYUv2Labeled(path, split="train", transform=resize)
    elif name == "nyu-zip":
        train = data.NYUDepthZip(path, split="train", transform=resize)
    else:
        every = data.DIODE(path, split="val", domain="indoors", transform=resize)
        train = torch.utils.data.Subset(every, range(_diode_cut(every), len(every)))
    if settings["limit"]:
        train = torch.utils.data.Subset(train, range(min(settings["limit"], len(train))))
    if settings["cache"]:
        train = _cached(train, name, size, settings)
    return train


def held_out_set(settings: dict[str, Any]) -> Any:
    """The held-out set of the settings' ``data`` at ``size`` (synthetic: ``val_scenes`` rooms of
    ``val_seed``; NYU: its test split; DIODE: the first tenth of its indoor validation scans)."""
    import torch

    from depthnb import data

    name, size, resize = _data_of(settings)
    if name == "synthetic":
        return data.SyntheticRooms(settings["val_scenes"], size=size, seed=settings["val_seed"])
    path = _data_path(settings)
    if name == "nyu":
        return data.NYUv2Labeled(path, split="test", transform=resize)
    if name == "nyu-zip":
        return data.NYUDepthZip(path, split="test", transform=resize)
    every = data.DIODE(path, split="val", domain="indoors", transform=resize)
    return torch.utils.data.Subset(every, range(_diode_cut(every)))


def _data_of(settings: dict[str, Any]) -> tuple[str, tuple[int, int], Any]:
    """The settings' data name (checked), size and resizing transform."""
    from depthnb.data import transforms

    name, size = settings["data"], tuple(settings["size"])
    if name not in DATA_CHOICES:
        raise ConfigError(f"unknown data {name!r}; choose one of {list(DATA_CHOICES)}")
    return name, size, transforms.Resize(size)


def _data_path(settings: dict[str, Any]) -> Path:
    """``data_root``, or where ``download`` puts the settings' dataset."""
    from depthnb.utils.paths import default_data_dir

    if settings["data_root"]:
        return Path(settings["data_root"])
    return {
        "nyu": default_data_dir() / "nyu" / "nyu_depth_v2_labeled.mat",
        "nyu-zip": default_data_dir() / "nyu" / "nyu_data.zip",
        "diode": default_data_dir() / "diode",
    }[settings["data"]]


def _diode_cut(every: Any) -> int:
    """DIODE has no test split here: the first tenth of its scans are held out."""
    return max(1, len(every) // 10)


def _cached(train: Any, name: str, size: tuple[int, int], settings: dict[str, Any]) -> Any:
    """The training set decoded once into ``data/cache/`` (raw uint8 samples)."""
    from depthnb import data
    from depthnb.utils.paths import default_data_dir

    limit = settings["limit"]
    folder = f"{name}-train-{size[0]}x{size[1]}" + (f"-first{limit}" if limit else "")
    cached = data.build_cache(
        train,
        default_data_dir() / "cache" / folder,
        size=size,
        workers=settings["workers"],
        source=folder,
        settings={key: settings[key] for key in ("data", "data_root", "size", "limit")},
    )
    return data.DepthCache(cached.path, raw=True)
