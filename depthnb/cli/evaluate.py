"""``python -m depthnb evaluate CHECKPOINT|NAME``: a model's depth metrics on held-out data, beside
the constant-depth baseline and the published numbers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from depthnb.cli.options import add_data_options, positive_int
from depthnb.cli.train import (
    DATA_CHOICES,
    MAIN_JOB,
    TABLE_COLUMNS,
    check_job_settings,
    held_out_set,
)
from depthnb.metrics.protocols import CROPS, RENAMED_CROPS, renamed_crop_message

EVALUATE_DATA_CHOICES = (*DATA_CHOICES, "nyu-eigen-test")  # a test set: nothing to train on


def crop_name(text: str) -> str:
    """``--crop``'s value; a former name (``eigen``) is refused with the name it has now."""
    if text in RENAMED_CROPS:
        raise argparse.ArgumentTypeError(renamed_crop_message(text))
    return text


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser(
        "evaluate", help="metrics of a checkpoint or a published network on a dataset"
    )
    parser.add_argument(
        "checkpoint", help="a checkpoint file, or a name of depthnb.models.list_pretrained()"
    )
    add_data_options(parser, EVALUATE_DATA_CHOICES, training=False)
    parser.add_argument("--batch-size", type=positive_int, default=8, help="images per batch")
    parser.add_argument(
        "--flip-tta", action="store_true", help="average with the mirrored prediction"
    )
    parser.add_argument(
        "--crop", type=crop_name, choices=tuple(CROPS), help="evaluation crop (NYU)"
    )
    parser.add_argument("--device", default="auto")
    parser.set_defaults(handler=cmd_evaluate)
    return parser


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print the metrics of a checkpoint or a published network on held-out data.

    On ``--data nyu-eigen-test`` the protocol is DenseDepth's own (``evaluate.py``): the network
    sees each 480x640 image at its training size, the prediction is decoded, upsampled to 480x640
    and averaged with the mirrored image's, cropped to the file's crop (``eigen_test_crop.npy``:
    DenseDepth's, rows 20:460, columns 24:616), and pooled; the row prints beside the published
    ones.
    """
    from depthnb.metrics.evaluation import evaluate, format_table
    from depthnb.models.loader import load
    from depthnb.models.pretrained import list_pretrained
    from depthnb.utils.device import resolve_device

    named = args.checkpoint in list_pretrained()
    device = resolve_device(args.device)
    model = load(args.checkpoint, device)
    if args.data == "nyu-eigen-test":
        from depthnb.data.nyu_eigen import NYUEigenTest
        from depthnb.utils.paths import default_data_dir

        path = args.data_root or default_data_dir() / "nyu" / "nyu_test.zip"
        held_out = NYUEigenTest(path)
        scores = evaluate(
            model,
            held_out,
            batch_size=args.batch_size,
            flip_tta=True,
            crop=args.crop or held_out.crop,
            device=device,
            input_size=getattr(model, "input_size", None),
        )
        print(
            f"{args.checkpoint}: {path}, {len(held_out)} images, DenseDepth's protocol (input "
            f"{model.input_size or 'as stored'}, upsampled to 480x640, flip averaging, crop "
            f"{args.crop or held_out.crop}, pooled; abs_rel with gt in the denominator)"
        )
        print(format_table({args.checkpoint: scores}))
        if named:
            _print_difference(args.checkpoint, scores)
        return 0
    settings = dict(MAIN_JOB)
    settings["size"] = list(args.size or getattr(model, "input_size", None) or MAIN_JOB["size"])
    for key in ("data", "data_root", "val_scenes", "val_seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    check_job_settings(settings)
    held_out = held_out_set(settings)
    scores = evaluate(
        model,
        held_out,
        batch_size=args.batch_size,
        flip_tta=args.flip_tta,
        crop=args.crop,
        device=device,
    )
    print(
        f"{args.checkpoint}: {settings['data']} held-out, {len(held_out)} images"
        f"{', flip TTA' if args.flip_tta else ''}{', crop ' + args.crop if args.crop else ''}"
    )
    print(
        format_table({Path(args.checkpoint).name: scores}, published=False, columns=TABLE_COLUMNS)
    )
    return 0


def _print_difference(name: str, scores: dict[str, float]) -> None:
    """Our row minus the published row the network ``name`` is reported to give, if it has one."""
    from depthnb.metrics.protocols import PUBLISHED
    from depthnb.models.pretrained import PRETRAINED

    row = PRETRAINED[name].published
    if row is None:
        return
    gaps = ", ".join(f"{key} {scores[key] - value:+.4f}" for key, value in PUBLISHED[row].items())
    print(f"ours - {row}: {gaps}")
