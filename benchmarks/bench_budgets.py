"""Where each lesson's full-mode minutes come from, and the CPU rate behind setup()'s warning.

    python benchmarks/bench_budgets.py [--threads 2] [--repeats 3]

First the networks: forward MACs per image recounted with ``depthnb.models.count_macs`` beside
the figures ``depthnb.course.budgets`` states, and the measured CPU rate (GMAC/s, the best of
``--repeats``) of a training step and of inference, against ``budgets.CPU_MACS_PER_S`` (the
baseline, so the ratio says how far this machine is from the stated rate). Then the lessons: the
downloads, the GPU work at ``budgets.T4_MACS_PER_S``, the fixed minutes, and the totals on a T4
and on this CPU.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from depthnb.course import budgets
from depthnb.models import build_model, count_macs

NETWORKS = [
    ("densedepth", (480, 640), 1, {"pretrained": False}, budgets.DENSEDEPTH_480x640),
    ("fcrn", (228, 304), 2, {"pretrained": False}, budgets.FCRN_228x304),
    ("unet", (240, 320), 4, {}, budgets.UNET_240x320),
    ("unet", (120, 160), 8, {}, budgets.UNET_120x160),
    ("maskdepth", (160, 160), 8, {"in_channels": 6}, budgets.MASKDEPTH_160x160),
]


def best_seconds(step, repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``step()`` after one warm-up."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def train_step(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Forward and backward of one batch (B,C,H,W); the loss is the mean of the depth output."""
    out = model(images)
    out = out["depth"] if isinstance(out, dict) else out
    out.float().mean().backward()


def network_rows(repeats: int) -> list[str]:
    rows = [
        "| network | size | stated GMAC | counted GMAC | train GMAC/s | infer GMAC/s | x stated |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, size, batch, kwargs, stated in NETWORKS:
        model = build_model(name, **kwargs)
        channels = kwargs.get("in_channels", 3)
        counted = count_macs(model, size)
        images = torch.rand(batch, channels, *size)

        model.train()
        train_s = best_seconds(partial(train_step, model, images), repeats)
        model.eval()
        with torch.no_grad():
            infer_s = best_seconds(partial(model, images), repeats)
        train_rate = counted * batch * budgets.TRAIN_COST / train_s
        infer_rate = counted * batch / infer_s
        rows.append(
            f"| {name} | {size[0]}x{size[1]} | {stated / 1e9:.2f} | {counted / 1e9:.2f} | "
            f"{train_rate / 1e9:.1f} | {infer_rate / 1e9:.1f} | "
            f"{train_rate / budgets.CPU_MACS_PER_S:.2f} |"
        )
    return rows


def lesson_rows() -> list[str]:
    rows = [
        "| lesson | downloads | GPU work (min on a T4) | fixed min | T4 total | 2-core CPU total |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for lesson, budget in budgets.BUDGETS.items():
        work = "; ".join(
            f"{w.what}: {w.seconds(budgets.T4_MACS_PER_S) / 60:.1f}" for w in budget.work
        )
        rows.append(
            f"| {lesson} | {budget.download_bytes() / 1e9:.2f} GB | {work or '-'} | "
            f"{budget.fixed_minutes:g} | {budget.minutes()} min | "
            f"{budget.minutes(budgets.CPU_MACS_PER_S)} min |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"stated rates: T4 {budgets.T4_MACS_PER_S / 1e12:.1f} TMAC/s, "
        f"CPU {budgets.CPU_MACS_PER_S / 1e9:.0f} GMAC/s; {args.threads} threads\n"
    )
    print("\n".join(network_rows(args.repeats)))
    print()
    print("\n".join(lesson_rows()))


if __name__ == "__main__":
    main()
