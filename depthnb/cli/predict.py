"""``python -m depthnb predict CHECKPOINT|NAME IMAGE...``: depth maps of photographs, written as
coloured PNGs (and raw ``.npy`` metres)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from depthnb.cli.figure import save_png
from depthnb.cli.options import positive_int
from depthnb.cli.train import make_out_dir
from depthnb.errors import CheckpointError, DepthnbError, ModelError
from depthnb.utils.files import atomic_write


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``predict`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser("predict", help="depth maps (PNG + .npy metres) of photographs")
    parser.add_argument("checkpoint")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument(
        "--out-dir", default="predictions", help="output folder (default predictions/)"
    )
    parser.add_argument("--flip-tta", action="store_true")
    parser.add_argument(
        "--max-side", type=positive_int, help="longer side of the inference size, pixels"
    )
    parser.add_argument("--device", default="auto")
    parser.set_defaults(handler=cmd_predict)
    return parser


def cmd_predict(args: argparse.Namespace) -> int:
    """Write ``<name>_depth.png`` (plasma colours) and ``<name>_depth.npy`` (metres) per image."""
    import numpy as np

    from depthnb.data.photo import open_image
    from depthnb.inference import predict_depth
    from depthnb.models.loader import load
    from depthnb.utils.device import resolve_device
    from depthnb.viz.colors import colorize

    model = load(args.checkpoint, resolve_device(args.device))
    out = Path(args.out_dir)
    make_out_dir(out)
    paths = [Path(name) for name in args.images]
    for path, stem in zip(paths, output_stems(paths)):
        photo = open_image(path)  # upright (EXIF), RGB by its mode's range, a pixel limit
        depth = predict_depth(model, photo, flip_tta=args.flip_tta, max_side=args.max_side)
        if not np.isfinite(depth).all():
            raise _not_finite(args.checkpoint, path, model)
        if stem != path.stem:
            print(f"{path}: another image is named {path.stem} too; writing {stem}_depth.*")
        png, npy = out / f"{stem}_depth.png", out / f"{stem}_depth.npy"
        atomic_write(png, functools.partial(save_png, colorize(depth)))
        atomic_write(npy, functools.partial(np.save, arr=depth))
        print(
            f"{path}: {depth.shape[1]}x{depth.shape[0]}, "
            f"depth {depth.min():.2f}..{depth.max():.2f} m "
            f"-> {png}, {npy}"
        )
    return 0


def output_stems(paths: Sequence[Path]) -> list[str]:
    """One output name per input image: its file stem, with ``-2``, ``-3``, ... added where a stem
    is taken already (``a/x.jpg``, ``b/x.png`` -> ``x``, ``x-2``; compared ignoring case, as on
    the file systems of Windows and macOS)."""
    taken: set[str] = set()
    stems = []
    for path in paths:
        stem, count = path.stem, 1
        while stem.lower() in taken:
            count += 1
            stem = f"{path.stem}-{count}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def _not_finite(checkpoint: str, path: Path, model: Any) -> DepthnbError:
    """The error for a prediction with NaN or infinite depth: the checkpoint's weights, if they
    are not finite (a diverged training), else the model's arithmetic."""
    import torch

    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return CheckpointError(
            f"{checkpoint}: its weights hold NaN or infinite values (its training diverged), so "
            f"the depth of {path} is NaN; use a checkpoint of a run that did not diverge "
            "(train again with a lower --lr)"
        )
    return ModelError(
        f"{checkpoint}: predicted NaN or infinite depth for {path}; the model overflowed on this "
        "image (try --device cpu, or another checkpoint)"
    )
