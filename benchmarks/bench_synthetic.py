"""Renderer throughput: synthetic rooms per second on one core, at 120x160 and 240x320.

Run: ``python benchmarks/bench_synthetic.py [--frames N]``. Threads are pinned to one (numpy,
OpenMP, torch) before numpy is imported. Prints wall-clock and CPU-time rates measured in the same
run; on a machine shared with other jobs the CPU-time column is the one-core figure.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from depthnb.data.synthetic import render_room  # noqa: E402

TARGETS = {(120, 160): 100.0, (240, 320): 25.0}  # frames per second
COLUMNS = (
    "size (HxW)",
    "frames",
    "wall frames/s",
    "wall ms/frame",
    "CPU frames/s",
    "CPU ms/frame",
    "target frames/s",
    "wall / target",
    "CPU / target",
)


def measure(size: tuple[int, int], frames: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per frame for ``frames`` distinct scenes at ``size`` = (H, W)."""
    for i in range(5):  # warm-up: caches, first-call costs
        render_room(0, size, index=10_000 + i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(frames):
        render_room(0, size, index=i)
    return (time.perf_counter() - wall) / frames, (time.process_time() - cpu) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frames", type=int, default=200, help="scenes at 120x160 (a quarter as many at 240x320)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"render_room, one thread; load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for (h, w), target in TARGETS.items():
        frames = args.frames if (h, w) == (120, 160) else max(1, args.frames // 4)
        wall, cpu = measure((h, w), frames)
        row = (f"{h}x{w}", frames, f"{1 / wall:.1f}", f"{1000 * wall:.2f}", f"{1 / cpu:.1f}",
               f"{1000 * cpu:.2f}", f"{target:.0f}", f"{1 / wall / target:.2f}",
               f"{1 / cpu / target:.2f}")  # fmt: skip
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
