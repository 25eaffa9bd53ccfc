"""The command line: ``python -m depthnb download|train|evaluate|predict|bench``.

``python -m depthnb train`` with no arguments is the project's main job: it renders synthetic rooms
at 120x160, trains a U-Net on whatever device there is, evaluates it on held-out rooms (another
seed) beside a constant-depth baseline, and writes ``best.pt``, ``last.pt``, ``metrics.json`` and
``predictions.png`` to ``runs/main/``. Flags (or ``--config FILE.json`` with the same names,
dashes as underscores) change the model, data, sizes and training settings::

    python -m depthnb train --model densedepth --pretrained --data nyu-zip --size 480 640 \\
        --batch 8 --lr 1e-4 --epochs 20 --out runs/densedepth
    torchrun --nproc_per_node=2 -m depthnb train --batch 8          # DDP on 2 GPUs
    python -m depthnb evaluate runs/main/best.pt
    python -m depthnb predict runs/main/best.pt photo.jpg --out depth/
    python -m depthnb download nyu-labeled
    python -m depthnb bench --model densedepth --size 480 640 --batch 8

A bad flag or value prints what was wrong and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from depthnb.deploy.command import add_export_parser, cmd_export
from depthnb.errors import CheckpointError, ConfigError, DepthnbError, ModelError

DATA_CHOICES = ("synthetic", "nyu", "nyu-zip", "diode")

# The main job: tuned to reach delta1 >= 0.85 on held-out rooms in a few minutes on 2 CPU cores
# (the values of depthnb.train.SYNTHETIC_UNET; tests/test_cli.py checks that they agree).
MAIN_JOB: dict[str, Any] = {
    "model": "unet",
    "model_args": {"filters": [8, 16, 32, 64, 128]},
    "pretrained": False,
    "data": "synthetic",
    "data_root": None,
    "size": [120, 160],
    "train_scenes": 1000,
    "val_scenes": 100,
    "val_seed": 1000,
    "limit": None,
    "cache": False,
    "epochs": 12,
    "batch": 8,
    "lr": 2e-3,
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "schedule": "onecycle",
    "warmup": 0.1,
    "loss": "l1",
    "encoder_lr_scale": 1.0,
    "precision": "auto",
    "channels_last": True,
    "compile": False,
    "accumulate": 1,
    "clip_grad": None,
    "workers": 0,
    "augment": True,
    "jitter": 0.1,
    "sync_bn": False,
    "device": "auto",
    "seed": 0,
    "out": "runs/main",
    "resume": None,
    "progress": True,
    "tensorboard": False,
}


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`ConfigError` (printed by :func:`main`, exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands."""
    parser = _Parser(prog="python -m depthnb", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    download = commands.add_parser(
        "download", help="download a dataset (nyu-labeled, nyu-zip, diode-val)"
    )
    download.add_argument("name", help="dataset name, see depthnb.data.DATASETS")
    download.add_argument(
        "--root", help="data folder (default: the repository's data/ or $DEPTHNB_DATA)"
    )

    train = commands.add_parser("train", help="train a model (no arguments: the main job)")
    train.add_argument(
        "--config", help="JSON file of settings (keys as the flags, dashes -> underscores)"
    )
    _add_model_flags(train)
    _add_data_flags(train)
    group = train.add_argument_group("training")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch", type=int, help="images per step per process")
    group.add_argument("--lr", type=float, help="peak learning rate")
    group.add_argument("--optimizer", choices=("adam", "adamw", "sgd"))
    group.add_argument("--weight-decay", type=float)
    group.add_argument("--schedule", choices=("constant", "poly", "step", "plateau", "onecycle"))
    group.add_argument("--warmup", type=float, help="fraction of steps spent warming up")
    group.add_argument("--loss", help="a depthnb.losses name, or auto (the model's paper's loss)")
    group.add_argument("--encoder-lr-scale", type=float)
    group.add_argument("--accumulate", type=int, help="micro-batches per optimizer step")
    group.add_argument("--clip-grad", type=float, help="clip the gradient norm to this")
    group.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="flip + channel permutation (+ jitter) on the device",
    )
    group.add_argument("--jitter", type=float, help="colour jitter strength (0 = off)")
    group.add_argument("--seed", type=int)
    group.add_argument("--out", help="output folder (default runs/main)")
    group.add_argument("--resume", help="checkpoint to continue from (e.g. runs/main/last.pt)")
    group.add_argument("--tensorboard", action="store_true", default=None)
    group.add_argument(
        "--sync-bn", action="store_true", default=None, help="SyncBatchNorm under torchrun"
    )
    _add_device_flags(train)
    train.add_argument("--no-progress", dest="progress", action="store_false", default=None)

    evaluate = commands.add_parser("evaluate", help="metrics of a checkpoint on a dataset")
    evaluate.add_argument("checkpoint")
    _add_data_flags(evaluate)
    evaluate.add_argument("--batch", type=int, default=8)
    evaluate.add_argument(
        "--flip-tta", action="store_true", help="average with the mirrored prediction"
    )
    evaluate.add_argument("--crop", choices=("eigen", "nyu_toolbox"), help="evaluation crop (NYU)")
    evaluate.add_argument("--device", default="auto")

    predict = commands.add_parser("predict", help="depth maps (PNG + .npy metres) of photographs")
    predict.add_argument("checkpoint")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument(
        "--out", default="predictions", help="output folder (default predictions/)"
    )
    predict.add_argument("--flip-tta", action="store_true")
    predict.add_argument("--max-side", type=int, help="longer side of the inference size, pixels")
    predict.add_argument("--device", default="auto")

    bench = commands.add_parser("bench", help="training throughput of a model on this device")
    _add_model_flags(bench)
    bench.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=[120, 160])
    bench.add_argument("--batch", type=int, default=8)
    bench.add_argument("--steps", type=int, default=10)
    _add_device_flags(bench)
    add_export_parser(commands)
    return parser


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="unet, densedepth, fcrn (depthnb.models.list_models())")
    group.add_argument(
        "--model-args", type=_json_dict, help="JSON keyword arguments, e.g. '{\"width\": 0.5}'"
    )
    group.add_argument(
        "--pretrained", action="store_true", default=None, help="ImageNet encoder weights"
    )


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=DATA_CHOICES)
    group.add_argument("--data-root", help="file or folder of the dataset (default: under data/)")
    group.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="image size, pixels")
    group.add_argument("--train-scenes", type=int, help="synthetic rooms to train on")
    group.add_argument(
        "--val-scenes", type=int, help="held-out synthetic rooms (or images) to score"
    )
    group.add_argument("--val-seed", type=int, help="seed of the held-out synthetic rooms")
    group.add_argument(
        "--limit", type=int, help="use only the first N training images of a real dataset"
    )
    group.add_argument(
        "--cache",
        action="store_true",
        default=None,
        help="decode a real dataset's training images once, at --size, into data/cache/ "
        "(uint8 memory maps; batches are converted and augmented on the device)",
    )


def _add_device_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("device")
    group.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    group.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    group.add_argument("--channels-last", action="store_true", default=None)
    group.add_argument(
        "--compile", action="store_true", default=None, help="torch.compile the model"
    )
    group.add_argument("--workers", type=int, help="DataLoader worker processes")


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The main job's settings, overridden by ``--config`` then by the flags given."""
    settings = dict(MAIN_JOB)
    given: set[str] = set()
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            loaded = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"--config {path}: cannot read it as JSON ({error})") from error
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {path}: must hold a JSON object of settings")
        unknown = sorted(set(loaded) - set(MAIN_JOB))
        if unknown:
            raise ConfigError(
                f"--config {path}: unknown settings {unknown}; known: {sorted(MAIN_JOB)}"
            )
        settings.update(loaded)
        given.update(loaded)
    for key in MAIN_JOB:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
            given.add(key)
    if settings["model"] != MAIN_JOB["model"] and "model_args" not in given:
        settings["model_args"] = {}  # the main job's U-Net widths do not apply to another model
    for key in ("train_scenes", "val_scenes"):
        if settings[key] < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    if min(settings["size"]) < 32:
        raise ConfigError(f"--size {settings['size']}: both sides must be at least 32 pixels")
    return settings


# ---------------------------------------------------------------------------------------------
# Data


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
        folder = f"{name}-train-{size[0]}x{size[1]}" + (
            f"-first{settings['limit']}" if settings["limit"] else ""
        )
        cached = data.build_cache(
            train,
            default_data_dir() / "cache" / folder,
            size=size,
            num_workers=settings["workers"],
            source=folder,
        )
        train = data.DepthCache(cached.path, raw=True)
    return train, held_out


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_train(args: argparse.Namespace) -> int:
    """Train; evaluate on held-out data beside the constant baseline; write checkpoints, figure."""
    from depthnb.metrics import evaluate
    from depthnb.models import build_model
    from depthnb.train import (
        ConstantDepth,
        TrainConfig,
        Trainer,
        median_depth,
        synthetic_unet_trainer,
    )

    settings = resolve_settings(args)
    start = time.perf_counter()
    model_args = dict(settings["model_args"])
    if settings["pretrained"]:
        model_args["pretrained"] = True
    config = {
        "epochs": settings["epochs"],
        "batch_size": settings["batch"],
        "lr": settings["lr"],
        "optimizer": settings["optimizer"],
        "weight_decay": settings["weight_decay"],
        "schedule": settings["schedule"],
        "warmup": settings["warmup"],
        "loss": settings["loss"],
        "encoder_lr_scale": settings["encoder_lr_scale"],
        "precision": settings["precision"],
        "channels_last": settings["channels_last"],
        "compile": settings["compile"],
        "accumulate": settings["accumulate"],
        "clip_grad_norm": settings["clip_grad"],
        "workers": settings["workers"],
        "augment": settings["augment"],
        "jitter": settings["jitter"],
        "sync_bn": settings["sync_bn"],
        "device": settings["device"],
        "out_dir": settings["out"],
        "tensorboard": settings["tensorboard"],
    }
    if settings["model"] == "unet" and settings["data"] == "synthetic":
        # the main job's recipe (depthnb.train.synthetic_unet_trainer): rooms rendered once into
        # memory, the output bias started at the training rooms' median depth
        trainer = synthetic_unet_trainer(
            tuple(settings["size"]),
            scenes=settings["train_scenes"],
            val_scenes=settings["val_scenes"],
            seed=settings["seed"],
            val_seed=settings["val_seed"],
            model_args=model_args,
            progress=settings["progress"],
            on_epoch_end=_print_epoch,
            **config,
        )
        model, train, held_out = trainer.model, trainer.train_data, trainer.val_data
    else:
        model = build_model(settings["model"], **model_args)
        train, held_out = build_datasets(settings)
        trainer = Trainer(
            model,
            train,
            held_out,
            TrainConfig(seed=settings["seed"], progress=settings["progress"], **config),
            on_epoch_end=_print_epoch,
        )
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
    out = Path(settings["out"])
    scores = evaluate(model, held_out, batch_size=settings["batch"], device=trainer.device)
    baseline_depth = median_depth(train)
    baseline = evaluate(
        ConstantDepth(baseline_depth), held_out, batch_size=settings["batch"], device=trainer.device
    )
    flipped = evaluate(
        model, held_out, batch_size=settings["batch"], flip_tta=True, device=trainer.device
    )
    print(
        _metrics_table(
            {
                "model": scores,
                "model, flip TTA": flipped,
                f"constant {baseline_depth:.2f} m": baseline,
            }
        )
    )
    summary = {
        "settings": settings,
        "seconds": time.perf_counter() - start,
        "data_seconds": rendered,
        "train_seconds": trained,
        "device": str(trainer.device),
        "metrics": scores,
        "metrics_flip_tta": flipped,
        "baseline": baseline,
        "baseline_depth_m": baseline_depth,
        "history": trainer.history,
    }
    out.mkdir(parents=True, exist_ok=True)
    _write_text(out / "metrics.json", json.dumps(summary, indent=2, default=str))
    figure = save_prediction_figure(model, held_out, out / "predictions.png")
    print(
        f"wrote {out / 'best.pt'}, {out / 'last.pt'}, {out / 'metrics.json'}, {figure} "
        f"in {summary['seconds']:.0f} s"
    )
    return 0


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


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print the metrics of a checkpoint on held-out data (synthetic by default)."""
    from depthnb.metrics import evaluate
    from depthnb.predict import load_checkpoint
    from depthnb.train import resolve_device

    model = load_checkpoint(args.checkpoint)
    settings = dict(MAIN_JOB)
    settings["size"] = list(args.size or model.input_size or MAIN_JOB["size"])
    for key in ("data", "data_root", "val_scenes", "val_seed", "limit"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["train_scenes"] = 1
    _, held_out = build_datasets(settings)
    device = resolve_device(args.device)
    scores = evaluate(
        model.to(device),
        held_out,
        batch_size=args.batch,
        flip_tta=args.flip_tta,
        crop=args.crop,
        device=device,
    )
    print(
        f"{args.checkpoint}: {settings['data']} held-out, {len(held_out)} images"
        f"{', flip TTA' if args.flip_tta else ''}{', crop ' + args.crop if args.crop else ''}"
    )
    print(_metrics_table({Path(args.checkpoint).name: scores}))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Write ``<name>_depth.png`` (plasma colours) and ``<name>_depth.npy`` (metres) per image."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    from depthnb.predict import load_checkpoint, predict_depth
    from depthnb.train import resolve_device
    from depthnb.viz import colorize

    model = load_checkpoint(args.checkpoint).to(resolve_device(args.device))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.images:
        path = Path(name)
        try:
            with Image.open(path) as image:
                upright = ImageOps.exif_transpose(image)  # phones store the rotation in EXIF
                depth = predict_depth(
                    model, upright, flip_tta=args.flip_tta, max_side=args.max_side
                )
        except (OSError, UnidentifiedImageError) as error:
            raise ConfigError(f"{path}: cannot read it as an image ({error})") from error
        png, npy = out / f"{path.stem}_depth.png", out / f"{path.stem}_depth.npy"
        _write_bytes(png, lambda f, d=depth: Image.fromarray(colorize(d)).save(f, format="PNG"))
        _write_bytes(npy, lambda f, d=depth: np.save(f, d))
        print(
            f"{path}: {depth.shape[1]}x{depth.shape[0]}, "
            f"depth {depth.min():.2f}..{depth.max():.2f} m "
            f"-> {png}, {npy}"
        )
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download a dataset with :func:`depthnb.data.download_dataset` and print where it is."""
    from depthnb.data import download_dataset

    print(download_dataset(args.name, args.root))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Print training images/s (and peak GPU memory) of a model at a size and batch."""
    from depthnb.models import build_model
    from depthnb.train import measure_throughput, resolve_device

    model = build_model(args.model or "unet", **(args.model_args or {}))
    device = resolve_device(args.device or "auto")
    result = measure_throughput(
        model,
        batch_size=args.batch,
        size=tuple(args.size),
        steps=args.steps,
        device=device,
        precision=args.precision or "auto",
        channels_last=bool(args.channels_last),
        compile=bool(args.compile),
    )
    print(
        f"{model.name} {args.size[0]}x{args.size[1]} batch {args.batch} on {device} "
        f"({result['precision']}{', channels_last' if args.channels_last else ''}): "
        f"{result['images_per_s']:.1f} images/s, {result['step_ms']:.0f} ms/step"
        + (f", peak memory {result['peak_memory_mb']:.0f} MiB" if result["peak_memory_mb"] else "")
    )
    return 0


COMMANDS = {
    "download": cmd_download,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "bench": cmd_bench,
    "export": cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; returns the exit status: 2 for a bad flag, value, model or checkpoint,
    1 for other depthnb errors (missing or broken data, failed downloads)."""
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (
        ConfigError,
        ModelError,
        CheckpointError,
    ) as error:  # a bad flag, value or file argument
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DepthnbError as error:  # the data or a download failed
        print(f"error: {error}", file=sys.stderr)
        return 1


# ---------------------------------------------------------------------------------------------
# Output helpers


def _metrics_table(rows: dict[str, dict[str, float]]) -> str:
    names = ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10")
    width = max(len(label) for label in rows) + 2
    lines = [" " * width + "".join(f"{name:>10}" for name in names)]
    for label, values in rows.items():
        lines.append(f"{label:<{width}}" + "".join(f"{values[name]:>10.4f}" for name in names))
    return "\n".join(lines)


def _write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as file:
        write(file)
    tmp.replace(path)


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, lambda f: f.write(text.encode()))


def save_prediction_figure(model: Any, dataset: Any, path: Path, rows: int = 4) -> Path:
    """PNG of ``rows`` held-out samples: rgb | ground truth | prediction | abs. relative error."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from depthnb.predict import predict_depth

    rows = min(rows, len(dataset))
    fig, axes = plt.subplots(rows, 4, figsize=(12, 2.4 * rows + 0.6), squeeze=False)
    for row in range(rows):
        sample = dataset[row * max(1, len(dataset) // rows)]
        gt = sample["depth"][0].numpy()
        pred = predict_depth(model, sample["image"])
        error = np.abs(pred - gt) / np.maximum(gt, 1e-3)
        vmax = float(max(gt.max(), np.percentile(pred, 99)))
        panels = [
            (sample["image"].permute(1, 2, 0).numpy(), "image", {}),
            (gt, "ground truth (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (pred, "prediction (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (error, "|pred - gt| / gt", {"cmap": "magma", "vmin": 0, "vmax": 0.3}),
        ]
        for ax, (picture, title, style) in zip(axes[row], panels):
            shown = ax.imshow(picture, **style)
            ax.set_title(title)
            ax.set_xlabel("x (pixels)")
            ax.set_ylabel("y (pixels)")
            if style:
                fig.colorbar(shown, ax=ax, fraction=0.035)
    fig.suptitle(f"{getattr(model, 'name', 'model')}: held-out predictions")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
