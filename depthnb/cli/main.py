"""The command line: ``python -m depthnb download|train|evaluate|predict|bench|export|exercises``.

``python -m depthnb train`` with no arguments is the project's main job: it renders synthetic rooms
at 120x160, trains a U-Net on whatever device there is, evaluates it on held-out rooms (another
seed) beside a constant-depth baseline, and writes ``best.pt``, ``last.pt``, ``metrics.json`` and
``predictions.png`` to ``runs/main/``. Flags change the model, data, sizes and every training
setting (one flag per :class:`depthnb.train.TrainConfig` field, see :mod:`depthnb.cli.train`; a
``--config FILE.json`` holds the same keys, dashes as underscores)::

    python -m depthnb train --model densedepth --pretrained --data nyu-zip --size 480 640 \\
        --batch 8 --lr 1e-4 --epochs 20 --out runs/densedepth
    torchrun --nproc_per_node=2 -m depthnb train --batch 8          # DDP on 2 GPUs
    python -m depthnb evaluate runs/main/best.pt
    python -m depthnb evaluate densedepth-nyu --data nyu-eigen-test   # the published weights
    python -m depthnb predict runs/main/best.pt photo.jpg --out depth/
    python -m depthnb download nyu-labeled
    python -m depthnb download --list        # every file, its size and where it can be had
    python -m depthnb bench --model densedepth --size 480 640 --batch 8
    python -m depthnb exercises --student student/   # the lessons without their solutions

A bad flag or value prints what was wrong on one line (``depthnb train: error: ...``) and exits
with status 2; missing or broken data, a refused path or a diverged training exit with 1,
Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from collections.abc import Sequence
from typing import Any

from depthnb.cli.bench import cmd_bench
from depthnb.cli.download import cmd_download
from depthnb.cli.evaluate import EVALUATE_DATA_CHOICES, cmd_evaluate
from depthnb.cli.exercises import add_exercises_parser, cmd_exercises
from depthnb.cli.export import add_export_parser, cmd_export
from depthnb.cli.figure import save_prediction_figure
from depthnb.cli.predict import cmd_predict
from depthnb.cli.train import (
    DATA_CHOICES,
    MAIN_JOB,
    add_train_flags,
    build_datasets,
    cmd_train,
    resolve_settings,
)
from depthnb.errors import ArgumentError, CheckpointError, ConfigError, DepthnbError, ModelError

__all__ = [
    "DATA_CHOICES",
    "EVALUATE_DATA_CHOICES",
    "MAIN_JOB",
    "build_datasets",
    "build_parser",
    "main",
    "resolve_settings",
    "save_prediction_figure",
]


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`ConfigError` (printed by :func:`main`, exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands."""
    parser = _Parser(prog="python -m depthnb", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    download = commands.add_parser(
        "download", help="download a dataset (nyu-labeled, nyu-zip, nyu-eigen-test, diode-val)"
    )
    download.add_argument("name", nargs="?", help="dataset name, see depthnb.data.DATASETS")
    download.add_argument(
        "--list",
        action="store_true",
        help="list every registry file (datasets and published weights), sizes and sources",
    )
    download.add_argument(
        "--root", help="data folder (default: the repository's data/ or $DEPTHNB_DATA)"
    )

    train = commands.add_parser("train", help="train a model (no arguments: the main job)")
    train.add_argument(
        "--config", help="JSON file of settings (the keys of the flags, dashes -> underscores)"
    )
    _add_model_flags(train)
    _add_data_flags(train)
    train.add_argument("--resume", help="checkpoint to continue from (e.g. runs/main/last.pt)")
    add_train_flags(train)

    evaluate = commands.add_parser(
        "evaluate", help="metrics of a checkpoint or a published network on a dataset"
    )
    evaluate.add_argument(
        "checkpoint", help="a checkpoint file, or a name of depthnb.models.list_pretrained()"
    )
    _add_data_flags(evaluate, EVALUATE_DATA_CHOICES)
    evaluate.add_argument("--batch", type=_positive_int, default=8, help="images per batch")
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
    predict.add_argument(
        "--max-side", type=_positive_int, help="longer side of the inference size, pixels"
    )
    predict.add_argument("--device", default="auto")

    bench = commands.add_parser("bench", help="training throughput of a model on this device")
    _add_model_flags(bench)
    bench.add_argument(
        "--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=[120, 160]
    )
    bench.add_argument("--batch", type=_positive_int, default=8)
    bench.add_argument("--steps", type=_positive_int, default=10, help="timed steps")
    add_train_flags(bench, ["device", "precision", "channels_last", "compile"])
    add_export_parser(commands)
    add_exercises_parser(commands)
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


def _add_data_flags(
    parser: argparse.ArgumentParser, choices: tuple[str, ...] = DATA_CHOICES
) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", choices=choices)
    group.add_argument("--data-root", help="file or folder of the dataset (default: under data/)")
    group.add_argument(
        "--size", type=_positive_int, nargs=2, metavar=("H", "W"), help="image size, pixels"
    )
    group.add_argument("--train-scenes", type=_positive_int, help="synthetic rooms to train on")
    group.add_argument(
        "--val-scenes", type=_positive_int, help="held-out synthetic rooms (or images) to score"
    )
    group.add_argument("--val-seed", type=int, help="seed of the held-out synthetic rooms")
    group.add_argument(
        "--limit",
        type=_positive_int,
        help="use only the first N training images of a real dataset (N >= 1)",
    )
    group.add_argument(
        "--cache",
        action="store_true",
        default=None,
        help="decode a real dataset's training images once, at --size, into data/cache/ "
        "(uint8 memory maps; batches are converted and augmented on the device)",
    )


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a count, a size in pixels, a batch)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


COMMANDS = {
    "download": cmd_download,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "bench": cmd_bench,
    "export": cmd_export,
    "exercises": cmd_exercises,
}


#: errno values of an operating-system error about a path the user gave (a missing file, a
#: folder where a file was expected, no permission, a read-only or full disk, ...): reported as
#: one line, not a traceback.
_PATH_ERRNOS = frozenset(
    (
        errno.ENOENT,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.EEXIST,
        errno.ENOSPC,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    )
)


def _command_of(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (for the error line), or ``""`` before one is known."""
    return next((word for word in argv if word in COMMANDS), "")


def _path_error(error: OSError) -> str:
    """One line for an operating-system error about a path: the path, the reason, what to do."""
    path = error.filename if error.filename is not None else "a path"
    reason = error.strerror or str(error)
    if error.filename2 is not None:
        path = f"{path} -> {error.filename2}"
    advice = {
        errno.EROFS: "choose a writable folder (--out, --root or $DEPTHNB_DATA)",
        errno.ENOSPC: "free some space or choose another folder",
        errno.EACCES: "check its permissions or choose another path",
        errno.EPERM: "check its permissions or choose another path",
    }.get(error.errno or 0, "check the path")
    return f"{path}: {reason}; {advice}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; returns the exit status: 2 for a bad flag, value, model or checkpoint,
    1 for other depthnb errors (missing or broken data, failed downloads, a diverged training) and
    for a path the operating system refused (missing, a folder, no permission, read-only, full),
    130 when interrupted (Ctrl-C). Errors print one line, ``depthnb COMMAND: error: ...``, on
    stderr; never a traceback."""
    words = list(sys.argv[1:] if argv is None else argv)
    prefix = " ".join(("depthnb", _command_of(words))).strip()
    try:
        args = build_parser().parse_args(words)
        return COMMANDS[args.command](args)
    except (ArgumentError, ConfigError, ModelError, CheckpointError) as error:  # a bad value
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    except DepthnbError as error:  # the data or a download failed, training diverged
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno not in _PATH_ERRNOS:
            raise
        print(f"{prefix}: error: {_path_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
