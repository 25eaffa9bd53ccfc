"""The Trainer's overhead against a bare training loop: same model, same batches, same loss.

    python benchmarks/bench_trainer.py [--scenes 64] [--batch-size 16] [--repeats 3] [--threads N]

Both sides run one epoch over the same in-memory synthetic rooms (120x160) with the same U-Net,
Adam and L1 loss on log depth; the Trainer adds its progress bar, the sampler, the resolution
check, loss bookkeeping and the scheduler (validation and checkpoints off). Runs alternate and the
fastest of ``--repeats`` counts, so a busy machine hurts both sides alike. Prints a table and the
ratio (target: overhead under 5%).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from depthnb.data import SyntheticRooms
from depthnb.losses import get_loss
from depthnb.models import build_model
from depthnb.train import InMemoryDataset, Trainer

FILTERS = (8, 16, 32, 64, 128)


def bare_epoch(model: torch.nn.Module, data: InMemoryDataset, batch: int) -> float:
    """One epoch of the plainest loop; returns seconds."""
    loss_fn = get_loss("l1")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    model.train()
    start = time.perf_counter()
    for sample in loader:
        pred = model(sample["image"])
        loss = loss_fn(pred, model.encoding.encode(sample["depth"]), sample["valid"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def trainer_epoch(model: torch.nn.Module, data: InMemoryDataset, batch: int) -> float:
    """One epoch of :class:`depthnb.train.Trainer` (progress bars on); returns seconds."""
    trainer = Trainer(
        model, data, epochs=1, batch_size=batch, lr=1e-3, loss="l1", device="cpu", precision="fp32"
    )
    start = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = InMemoryDataset(SyntheticRooms(args.scenes, size=(120, 160), seed=0))
    torch.manual_seed(0)
    model = build_model("unet", filters=FILTERS)
    bare_epoch(model, data, args.batch_size)  # warm-up: allocator, kernels
    times: dict[str, list[float]] = {"bare loop": [], "Trainer": []}
    for _ in range(args.repeats):
        times["bare loop"].append(bare_epoch(model, data, args.batch_size))
        times["Trainer"].append(trainer_epoch(model, data, args.batch_size))
    steps = args.scenes // args.batch_size
    best = {name: min(values) for name, values in times.items()}
    print(
        f"\nU-Net {FILTERS} at 120x160, batch {args.batch_size}, {steps} steps/epoch, "
        f"{args.threads} thread(s), best of {args.repeats}"
    )
    print(f"{'loop':<12}{'s/epoch':>10}{'ms/step':>10}{'images/s':>10}{'ratio':>8}")
    for name, seconds in best.items():
        print(
            f"{name:<12}{seconds:>10.2f}{1000 * seconds / steps:>10.1f}"
            f"{steps * args.batch_size / seconds:>10.1f}{seconds / best['bare loop']:>8.3f}"
        )
    overhead = best["Trainer"] / best["bare loop"] - 1
    print(f"Trainer overhead: {100 * overhead:+.1f}% (target < 5%)")


if __name__ == "__main__":
    main()
