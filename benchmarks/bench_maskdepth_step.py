"""Milliseconds per training step of the mask-and-depth network: waiting for data vs compute.

    python benchmarks/bench_maskdepth_step.py                 # 64x64, batch 16, on the CPU
    # the seed's setting:
    python benchmarks/bench_maskdepth_step.py --size 160 --batch-size 100 --workers 4

Four variants, measured in the same run on the same synthetic fg/bg scenes (FgBgDepth layout):

- ``baseline``: JPEGs decoded in every step (FgBgDepth), NCHW tensors;
- ``decode once``: the samples decoded once into memory (depthnb.train.InMemoryDataset);
- ``channels_last``: the model and its input in NHWC memory order;
- ``both``.

The variants take turns, ``--repeats`` rounds, and each keeps its fastest round; within a round,
per-step medians (both keep other work on the machine out of the numbers). Prints a table with
each variant's data, compute and total milliseconds per step and its speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from statistics import median

import torch
from torch.utils.data import DataLoader, Dataset

from depthnb.data import FgBgDepth, write_fgbg_dataset
from depthnb.models import build_model
from depthnb.train import InMemoryDataset
from depthnb.train.profiling import time_steps
from depthnb.train.tasks.maskdepth import maskdepth_trainer


def measure(
    dataset: Dataset, args: argparse.Namespace, device: torch.device, channels_last: bool
) -> dict[str, float]:
    """Median milliseconds per step (data, compute, their sum) over ``args.steps`` training steps
    (after ``args.warmup``) of a fresh network."""
    torch.manual_seed(0)
    trainer = maskdepth_trainer(
        build_model("maskdepth"),
        dataset,
        batch_size=args.batch_size,
        device=str(device),
        channels_last=channels_last,
    )
    step = trainer.train_step  # the Trainer's own step: to device, forward, loss, backward, SGD
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    timing = time_steps(loader, step, steps=args.steps, warmup=args.warmup, device=device)
    # medians: a step that another process pre-empted does not move them
    data_ms, compute_ms = 1000 * median(timing.data_s), 1000 * median(timing.compute_s)
    return {"data_ms": data_ms, "compute_ms": compute_ms, "total_ms": data_ms + compute_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--scenes", type=int, default=96, help="synthetic scenes to write")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the fastest is kept")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--root", type=Path, default=None, help="where to write the scenes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / f"fgbg_{args.size}"
        write_fgbg_dataset(root, args.scenes, size=(args.size, args.size))
        datasets = {"JPEG": FgBgDepth(root)}
        datasets["decoded"] = InMemoryDataset(datasets["JPEG"])
        variants = {
            "baseline (JPEG every step, NCHW)": ("JPEG", False),
            "decode once (in memory)": ("decoded", False),
            "channels_last": ("JPEG", True),
            "decode once + channels_last": ("decoded", True),
        }
        rows: dict[str, dict[str, float]] = {}
        for _ in range(args.repeats):  # rounds over all variants; keep each one's fastest round
            for name, (data, channels_last) in variants.items():
                row = measure(datasets[data], args, device, channels_last)
                if name not in rows or row["total_ms"] < rows[name]["total_ms"]:
                    rows[name] = row

    print(
        f"maskdepth training step, {args.size}x{args.size}, batch {args.batch_size}, "
        f"{args.workers} workers, {device} ({torch.get_num_threads()} threads), "
        f"median of {args.steps} steps, fastest of {args.repeats} rounds"
    )
    print(f"{'variant':36s} {'data ms':>9s} {'compute ms':>11s} {'total ms':>9s} {'speed-up':>9s}")
    base = rows["baseline (JPEG every step, NCHW)"]["total_ms"]
    for name, row in rows.items():
        print(
            f"{name:36s} {row['data_ms']:9.1f} {row['compute_ms']:11.1f} {row['total_ms']:9.1f} "
            f"{base / row['total_ms']:8.2f}x"
        )


if __name__ == "__main__":
    main()
