"""Plain vs fast FCRN up-projection: time both forms at the FCRN decoder's sizes, in one run.

    python benchmarks/bench_upprojection.py [--repeats 3] [--batch-size 1]
                                            [--height 228 --width 304] [--device cpu] [--threads N]

Prints, for each of the four up-projection blocks of FCRN at the given input size, the best
forward time of ``--repeats`` (the minimum is the least disturbed by other work on the machine)
of the plain block (unpool + 5x5 convs) and of the fast one (four small convs + pixel shuffle)
with weights derived from the plain one, the speed-up, both forms' MACs, and the largest
difference between their outputs. Repeats alternate plain and fast so that load on a
shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import time

import torch

from depthnb.models import count_macs
from depthnb.models.fcrn import DECODER_CHANNELS, UpProjection, fast_from_plain


def time_forward(module: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds for one forward pass (synchronising CUDA if needed)."""
    if x.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    module(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--height", type=int, default=228)
    parser.add_argument("--width", type=int, default=304)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)

    height, width = -(-args.height // 32), -(-args.width // 32)  # ResNet-50's output at 1/32
    print(
        f"FCRN up-projection, input {args.height}x{args.width}, batch {args.batch_size}, {device}, "
        f"{torch.get_num_threads()} threads, best of {args.repeats}"
    )
    header = (
        f"{'block':>12} {'in size':>9} {'out size':>9} {'plain ms':>9} {'fast ms':>8} "
        f"{'speed-up':>8} {'plain GMAC':>10} {'fast GMAC':>9} {'max |diff|':>10}"
    )
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0]
    for c_in, c_out in zip(DECODER_CHANNELS, DECODER_CHANNELS[1:]):
        plain = UpProjection(c_in, c_out).to(device).eval()
        fast = fast_from_plain(plain).eval()
        x = torch.randn(args.batch_size, c_in, height, width, device=device)
        shape = {"channels": c_in, "batch_size": args.batch_size}
        with torch.no_grad():
            diff = (plain(x) - fast(x)).abs().max().item()  # also the warm-up
            times: dict[str, list[float]] = {"plain": [], "fast": []}
            for _ in range(args.repeats):
                times["plain"].append(time_forward(plain, x))
                times["fast"].append(time_forward(fast, x))
        plain_ms = min(times["plain"]) * 1e3
        fast_ms = min(times["fast"]) * 1e3
        totals[0] += plain_ms
        totals[1] += fast_ms
        print(
            f"{f'{c_in}->{c_out}':>12} {f'{height}x{width}':>9} {f'{2 * height}x{2 * width}':>9} "
            f"{plain_ms:9.1f} {fast_ms:8.1f} {plain_ms / fast_ms:7.2f}x "
            f"{count_macs(plain, (height, width), **shape) / 1e9:10.2f} "
            f"{count_macs(fast, (height, width), **shape) / 1e9:9.2f} "
            f"{diff:10.1e}"
        )
        height, width = 2 * height, 2 * width
    print(
        f"{'all four':>12} {'':>9} {'':>9} {totals[0]:9.1f} {totals[1]:8.1f} "
        f"{totals[0] / totals[1]:7.2f}x"
    )


if __name__ == "__main__":
    main()
