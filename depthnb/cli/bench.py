"""``python -m depthnb bench``: training throughput of a model on this machine."""

from __future__ import annotations

import argparse


def cmd_bench(args: argparse.Namespace) -> int:
    """Print training images/s (and peak GPU memory) of a model at a size and batch."""
    from depthnb.models import build_model
    from depthnb.train.profiling import measure_throughput
    from depthnb.utils.device import resolve_device

    model = build_model(args.model or "unet", **(args.model_args or {}))
    device = resolve_device(getattr(args, "device", "auto"))
    result = measure_throughput(
        model,
        batch_size=args.batch,
        size=tuple(args.size),
        steps=args.steps,
        device=device,
        precision=getattr(args, "precision", "auto"),
        channels_last=getattr(args, "channels_last", False),
        compile=getattr(args, "compile", False),
    )
    print(
        f"{model.name} {args.size[0]}x{args.size[1]} batch {args.batch} on {device} "
        f"({result['precision']}{', channels_last' if result['channels_last'] else ''}): "
        f"{result['images_per_s']:.1f} images/s, {result['step_ms']:.0f} ms/step"
        + (f", peak memory {result['peak_memory_mb']:.0f} MiB" if result["peak_memory_mb"] else "")
    )
    return 0
