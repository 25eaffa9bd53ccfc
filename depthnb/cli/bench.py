"""``python -m depthnb bench``: training throughput of a model on this machine."""

from __future__ import annotations

import argparse
from typing import Any

from depthnb.cli.options import add_model_options, add_train_options, positive_int


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``bench`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser("bench", help="training throughput of a model on this device")
    add_model_options(parser)
    parser.add_argument(
        "--size", type=positive_int, nargs=2, metavar=("H", "W"), default=[120, 160]
    )
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--steps", type=positive_int, default=10, help="timed steps")
    add_train_options(parser, ["device", "precision", "channels_last", "compile"])
    parser.set_defaults(handler=cmd_bench)
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """Print training images/s (and peak GPU memory) of a model at a size and batch."""
    from depthnb.models import build_model
    from depthnb.train.profiling import measure_throughput
    from depthnb.utils.device import resolve_device

    model = build_model(args.model or "unet", **(args.model_args or {}))
    device = resolve_device(getattr(args, "device", "auto"))
    result = measure_throughput(
        model,
        batch_size=args.batch_size,
        size=tuple(args.size),
        steps=args.steps,
        device=device,
        precision=getattr(args, "precision", "auto"),
        channels_last=getattr(args, "channels_last", False),
        compile=getattr(args, "compile", False),
    )
    print(
        f"{model.name} {args.size[0]}x{args.size[1]} batch {args.batch_size} on {device} "
        f"({result['precision']}{', channels_last' if result['channels_last'] else ''}): "
        f"{result['images_per_s']:.1f} images/s, {result['step_ms']:.0f} ms/step"
        + (f", peak memory {result['peak_memory_mb']:.0f} MiB" if result["peak_memory_mb"] else "")
    )
    return 0
