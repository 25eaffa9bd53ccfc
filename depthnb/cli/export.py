"""``python -m depthnb export CHECKPOINT|NAME OUT.onnx [--size H W] [--static] [--quantize ...]``,
CHECKPOINT|NAME is any spec :func:`depthnb.models.load` takes.

Exports the model (checked against PyTorch in onnxruntime at two sizes), then optionally replaces
it with an int8 copy (static QDQ, per-channel, calibrated on synthetic rooms or a folder of
photographs at the export size) or a float16 one; prints the file size and, for a quantised
copy, how far its depth is from the fp32 graph's on the calibration images.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from depthnb.errors import ConfigError


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``export`` and its options to the command line's subparsers ``commands``."""
    export = commands.add_parser("export", help="export a model to ONNX (optionally int8 / fp16)")
    export.add_argument("model", help="a checkpoint (.pt), a published-weights or a model name")
    export.add_argument("out", help="the .onnx file to write")
    export.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"),
        help="input size to trace at (default: the size the checkpoint was trained at, else "
        "depthnb.deploy.DEFAULT_SIZE); with --static the only size",
    )  # fmt: skip
    export.add_argument(
        "--static", action="store_true", help="fixed input (1,C,H,W) instead of dynamic B, H, W"
    )
    export.add_argument("--quantize", choices=("int8", "int8-dynamic", "fp16"))
    export.add_argument(
        "--calibration", type=int, default=32, help="synthetic rooms to calibrate int8 on"
    )
    export.add_argument("--calibration-dir", help="calibrate on the photographs of this folder")
    export.set_defaults(handler=cmd_export)
    return export


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``python -m depthnb export``; 0 on success (errors are DepthnbErrors for cli.main)."""
    from depthnb.deploy.export import DEFAULT_SIZE, export_onnx, input_channels
    from depthnb.deploy.quantize import (
        calibration_images,
        convert_fp16,
        folder_images,
        quantize_int8,
    )

    out = Path(args.out)
    if out.suffix != ".onnx":
        raise ConfigError(f"{out}: the output file should end in .onnx")
    from depthnb.models.loader import load

    model = load(args.model)
    size = tuple(args.size or getattr(model, "input_size", None) or DEFAULT_SIZE)
    if not args.quantize:
        export_onnx(model, out, size=size, dynamic=not args.static)
        _report(model, out, size)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", size=size, dynamic=not args.static)
        if args.calibration_dir:
            images = folder_images(args.calibration_dir, size, limit=args.calibration)
        else:
            images = calibration_images(args.calibration, size, input_channels(model))
        if args.quantize == "fp16":
            convert_fp16(fp32, out)
        else:
            mode = "dynamic" if args.quantize == "int8-dynamic" else "static"
            quantize_int8(fp32, out, images, mode=mode)
        difference = _depth_difference(fp32, out, images)
        print(f"fp32 graph {fp32.stat().st_size / 1e6:.1f} MB")
    _report(model, out, size)
    print(f"{args.quantize} vs fp32 on {len(images)} calibration images: mean |depth diff| "
          f"{difference:.3g} m")  # fmt: skip
    return 0


def _report(model: Any, out: Path, size: tuple[int, int]) -> None:
    from depthnb.deploy.quantize import file_size_mb

    name = getattr(model, "name", type(model).__name__)
    print(f"wrote {out} ({file_size_mb(out):.1f} MB): {name}, traced at {size[0]}x{size[1]}")


def _depth_difference(reference: Path, variant: Path, images: Any) -> float:
    """Mean |depth| difference (metres) between two graphs on ``images`` (N,C,H,W), one image at
    a time."""
    import numpy as np

    from depthnb.deploy.session import onnx_session, run_onnx

    sessions = onnx_session(reference), onnx_session(variant)
    total = 0.0
    for image in images:
        a, b = (run_onnx(session, image[None])["depth"] for session in sessions)
        total += float(np.abs(a - b).mean())
    return total / len(images)
