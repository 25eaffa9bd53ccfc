"""Memory of an in-memory training set: bytes per sample and peak RSS while building it.

Three layouts of the same rooms at 240x320, each built in its own process (so that each peak is
its own), in the same run:

1. ``float32, list + stack`` (the baseline): float samples (image and depth float32, valid bool)
   collected in a list, then stacked, as InMemoryDataset first did (the list and the stacked
   tensors are alive together).
2. ``uint8 + float32 depth, filled``: colour uint8, depth float32, preallocated and filled.
3. ``InMemoryDataset`` (now): colour uint8, depth float16, valid bool, preallocated and filled
   (:func:`depthnb.data.sample.to_compact`).

The source is 16 rendered rooms, cycled (each item a fresh float sample, as a renderer or decoder
hands it over): rendering 4000 distinct rooms takes minutes on two cores, and what building costs
in memory does not depend on the pictures. Each layout is measured at ``--scenes`` and twice that;
the peak at ``--target`` scenes is extrapolated linearly from those two, and measured directly for
the layouts whose projected peak stays under ``--max-gb`` (the baseline at 4000 scenes would need
about 10 GB on a machine shared with others).

Then the main job's constant baseline (the training set's median depth) over an in-memory set of
``--baseline-scenes`` rooms at 240x320, both ways, each in its own process: a float copy of every
valid depth and ``torch.median`` (the baseline, as the main job first did), and
:func:`depthnb.data.memory.median_depth`'s histogram (now); the peak is measured above the process
after the set is built, and the two medians are compared. ``--main-job`` also runs
``python -m depthnb train`` on 1,000 rooms at 240x320 for one epoch and prints its peak RSS (the
target is 1.5 GB).

    python benchmarks/bench_memory.py                       # 400 and 800 scenes, target 4000
    python benchmarks/bench_memory.py --scenes 100 --target 1000 --main-job
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import Dataset

from depthnb.data import SyntheticRooms
from depthnb.data.sample import COLOUR_KEYS, to_uint8
from depthnb.train import InMemoryDataset, median_depth

SIZE = (240, 320)
LAYOUTS = ("float32, list + stack", "uint8 + float32 depth, filled", "InMemoryDataset (now)")


class Cycled(Dataset):
    """``count`` items cycling through a few rendered rooms; each item a fresh float sample."""

    def __init__(self, count: int, distinct: int = 16) -> None:
        self.count = count
        rooms = SyntheticRooms(distinct, size=SIZE, seed=0)
        self.rooms = [rooms[i] for i in range(distinct)]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value.clone() for key, value in self.rooms[index % len(self.rooms)].items()}


def build_float_stacked(source: Cycled) -> dict[str, torch.Tensor]:
    """The baseline: a list of float samples, then one torch.stack per key."""
    samples = [source[i] for i in range(len(source))]
    return {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}


def build_uint8_filled(source: Cycled) -> dict[str, torch.Tensor]:
    """uint8 colour, float32 depth, preallocated and filled sample by sample."""
    first = source[0]
    tensors = {
        key: torch.empty(
            (len(source), *value.shape), dtype=torch.uint8 if key in COLOUR_KEYS else value.dtype
        )
        for key, value in first.items()
    }
    for index in range(len(source)):
        sample = source[index]
        for key, value in sample.items():
            tensors[key][index] = to_uint8(value) if key in COLOUR_KEYS else value
    return tensors


def rss_bytes() -> int:
    """This process's resident memory now."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def child(layout: int, count: int) -> None:
    """Build one layout here and print its stored bytes and peak RSS above the start (JSON)."""
    torch.set_num_threads(1)
    source = Cycled(count)
    start = rss_bytes()
    if layout == 0:
        tensors = build_float_stacked(source)
    elif layout == 1:
        tensors = build_uint8_filled(source)
    else:
        tensors = InMemoryDataset(source).tensors
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    stored = sum(t.numel() * t.element_size() for t in tensors.values())
    print(json.dumps({"stored": stored, "peak_above_start": peak - start}))


def baseline_child(way: int, count: int) -> None:
    """Build ``count`` rooms in memory, take their median depth one way (0: float copy, 1: the
    histogram), and print the median and the peak RSS above the built set (JSON)."""
    torch.set_num_threads(1)
    rooms = InMemoryDataset(Cycled(count))
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if way == 0:
        values = [rooms[i]["depth"][rooms[i]["valid"]] for i in range(len(rooms))]
        median = float(torch.cat(values).median())
    else:
        median = median_depth(rooms)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"median": median, "peak_above_start": peak - start}))


def main_job_child(scenes: int) -> None:
    """Run ``python -m depthnb train`` on ``scenes`` rooms at 240x320 for one epoch in this
    process, then print its peak RSS (JSON, bytes): this process's, or its DataLoader workers' if
    one of them peaked higher."""
    from depthnb.cli.main import main as depthnb_main

    with tempfile.TemporaryDirectory() as out:
        status = depthnb_main(["train", "--size", "240", "320", "--train-scenes", str(scenes),
                               "--val-scenes", "100", "--epochs", "1", "--no-progress",
                               "--out-dir", out])  # fmt: skip
    if status != 0:
        raise SystemExit(status)
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    peaks = [resource.getrusage(w).ru_maxrss * 1024 for w in who]
    print(json.dumps({"peak": max(peaks)}))


def main_job_peak(scenes: int) -> float:
    """Peak RSS (bytes) of the main job on ``scenes`` rooms at 240x320, one epoch, in a process of
    its own: ``RUSAGE_CHILDREN`` here would report the largest of every child this script ran."""
    command = [sys.executable, __file__, "--main-job-child", str(scenes)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(json.loads(output.strip().splitlines()[-1])["peak"])


def measure(layout: int, count: int) -> dict[str, int]:
    """Run :func:`child` in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", str(layout), str(count)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=400, help="the smaller measured count")
    parser.add_argument("--target", type=int, default=4000, help="the count extrapolated to")
    parser.add_argument("--max-gb", type=float, default=4.0, help="measure the target below this")
    parser.add_argument("--baseline-scenes", type=int, default=1000, help="rooms for the median")
    parser.add_argument("--main-job", action="store_true", help="also the main job's peak RSS")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-child", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--main-job-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.main_job_child:
        main_job_child(args.main_job_child)
        return
    if args.child:
        child(*args.child)
        return
    if args.baseline_child:
        baseline_child(*args.baseline_child)
        return
    small, large, target = args.scenes, 2 * args.scenes, args.target
    pixels = SIZE[0] * SIZE[1]
    gb = 1e9
    print(f"in-memory rooms at {SIZE[0]}x{SIZE[1]}; peak RSS above the process at start, GB")
    header = (
        f"{'layout':32s} {'B/sample':>10s} {'B/pixel':>8s} {f'@{small}':>7s} {f'@{large}':>7s} "
        f"{f'@{target} (extrap.)':>17s} {f'@{target} (meas.)':>15s}"
    )
    print(header)
    print("-" * len(header))
    for layout, name in enumerate(LAYOUTS):
        a, b = measure(layout, small), measure(layout, large)
        per_sample = a["stored"] / small
        slope = (b["peak_above_start"] - a["peak_above_start"]) / (large - small)
        projected = a["peak_above_start"] + slope * (target - small)
        measured = "-"
        if projected < args.max_gb * gb:
            measured = f"{measure(layout, target)['peak_above_start'] / gb:.2f}"
        print(
            f"{name:32s} {per_sample:10.0f} {per_sample / pixels:8.2f} "
            f"{a['peak_above_start'] / gb:7.2f} {b['peak_above_start'] / gb:7.2f} "
            f"{projected / gb:17.2f} {measured:>15s}"
        )
    count = args.baseline_scenes
    print(f"\nthe constant baseline over {count} in-memory rooms at 240x320, GB above the set")
    results = []
    for way in (0, 1):
        command = [sys.executable, __file__, "--baseline-child", str(way), str(count)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    ratio = results[0]["peak_above_start"] / max(results[1]["peak_above_start"], 1)
    difference = abs(results[1]["median"] / results[0]["median"] - 1)
    print(f"{'way':32s} {'median (m)':>11s} {'peak':>7s}")
    for name, result in zip(("float copy + torch.median", "median_depth (histogram)"), results):
        print(f"{name:32s} {result['median']:11.5f} {result['peak_above_start'] / gb:7.3f}")
    print(f"ratio of peaks {ratio:.0f}x; relative difference of the medians {difference:.1e}")
    if args.main_job:
        peak = main_job_peak(1000)
        print(f"\nmain job, 1000 rooms at 240x320, 1 epoch: peak RSS {peak / gb:.2f} GB "
              "(target: under 1.5 GB)")  # fmt: skip


if __name__ == "__main__":
    main()
