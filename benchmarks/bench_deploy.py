"""What deployment costs and buys, per model: file size, CPU latency at batch 1 and accuracy of
PyTorch eager, ONNX fp32, ONNX int8 (static QDQ per-channel, and dynamic) and ONNX fp16, with the
ratios against eager and a constant-depth row, in one run.

The U-Net is trained here on synthetic rooms for ``--seconds`` (or loaded from ``--checkpoint``),
so its accuracy rows mean something; every variant is scored on the same held-out rooms (seed 1000)
and calibrated on rooms of their own (seed 9000). ``--architectures fcrn densedepth`` adds those
networks untrained, with the log encoding so that no output sits at a clamp (ImageNet weights are
not downloaded here): their sizes and latencies are real, their accuracy rows are not; the
|diff| column (mean |depth - PyTorch eager's|, metres) compares the variants.

    python benchmarks/bench_deploy.py [--seconds 90] [--checkpoint runs/main/best.pt]
        [--size 120 160] [--test 48] [--calibration 32] [--architectures fcrn densedepth]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from depthnb.data import SyntheticRooms
from depthnb.deploy import calibration_images, check_onnx, export_onnx, variants
from depthnb.deploy.compare import compare_variants, format_comparison
from depthnb.models import build_model
from depthnb.predict import load_checkpoint
from depthnb.train import InMemoryDataset, median_depth, train_synthetic_unet

KINDS = ("int8", "int8-dynamic", "fp16")


def trained_unet(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    """The checkpoint given, or a U-Net trained on synthetic rooms for ``args.seconds``."""
    if args.checkpoint:
        return load_checkpoint(args.checkpoint), f"unet ({args.checkpoint})"
    start = time.perf_counter()
    model, trainer = train_synthetic_unet(
        tuple(args.size), seconds=args.seconds, scenes=args.scenes, batch_size=8, device="cpu"
    )
    took = time.perf_counter() - start
    return model, f"unet, trained {trainer.step} steps ({took:.0f} s incl. rendering)"


def bench_model(
    model: torch.nn.Module, label: str, args: argparse.Namespace, held_out: dict, folder: Path
) -> None:
    size = tuple(args.size)
    fp32 = export_onnx(model, folder / f"{model.name}.onnx", size=size)
    tolerance = check_onnx(model, fp32, [size, (size[0] + 32, size[1] + 32)])
    images = calibration_images(args.calibration, size)
    paths = variants(fp32, folder, images, KINDS)
    rows = compare_variants(
        model, {k: p for k, p in paths.items()}, held_out["image"], held_out["depth"],
        held_out["valid"], constant_m=held_out["constant"], repeats=args.repeats,
    )  # fmt: skip
    diffs = ", ".join(f"{h}x{w}: {d:.1e} m" for (h, w), d in tolerance.items())
    print(format_comparison(rows, title=f"\n{label}; fp32 graph vs PyTorch max |diff| {diffs}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a U-Net checkpoint instead of training one")
    parser.add_argument("--seconds", type=float, default=90.0, help="U-Net training time")
    parser.add_argument("--scenes", type=int, default=400, help="training rooms")
    parser.add_argument("--size", type=int, nargs=2, default=[120, 160], metavar=("H", "W"))
    parser.add_argument("--test", type=int, default=48, help="held-out rooms scored")
    parser.add_argument("--calibration", type=int, default=32, help="int8 calibration rooms")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per variant")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads")
    parser.add_argument("--architectures", nargs="*", default=[], help="also these, untrained")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"{args.test} held-out rooms at {args.size[0]}x{args.size[1]}; latency: median of "
          f"{args.repeats} runs at batch 1")  # fmt: skip
    test = InMemoryDataset(SyntheticRooms(args.test, size=tuple(args.size), seed=1000))
    batch = next(iter(torch.utils.data.DataLoader(test, batch_size=len(test))))
    calibration_rooms = SyntheticRooms(args.calibration, size=tuple(args.size), seed=9000)
    batch["constant"] = median_depth(calibration_rooms)  # the constant baseline, not test data
    with tempfile.TemporaryDirectory() as tmp:
        model, label = trained_unet(args)
        bench_model(model, label, args, batch, Path(tmp))
        for name in args.architectures:
            torch.manual_seed(0)
            model = build_model(name, encoding="log").eval()  # log: outputs never clamped
            bench_model(model, f"{name} (untrained, log encoding)", args, batch, Path(tmp))


if __name__ == "__main__":
    main()
