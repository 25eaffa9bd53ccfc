"""Samples per second: the decode-once cache vs decoding and resizing PNGs for every sample.

Writes ``--scenes`` synthetic scenes as 480x640 PNG pairs (8-bit RGB, 16-bit millimetre depth,
the layout of DenseDepth's test set) to a temporary folder, then feeds three loaders through a
``DataLoader`` with ``--workers`` processes and the same augmentation (horizontal flip, RGB channel
permutation, colour jitter) at 240x320, in the same run, and prints a table: samples per second
(wall clock) and CPU milliseconds per sample (independent of the machine's other load).

1. PNG: decode and resize both PNGs for every sample, per-sample transforms (the baseline).
2. The cache with float samples and per-sample transforms in the workers.
3. The cache with ``raw=True``: uint8 images travel from the workers, and the training process
   converts and augments whole batches (``to_float`` + ``BatchAugment``), which on a GPU runs
   on the device. With a cheap decode, moving float32 batches between processes is what limits
   row 2 on two cores; uint8 is a quarter of the bytes.

    python benchmarks/bench_loader.py                 # 200 scenes, 2 workers, batch 8
    python benchmarks/bench_loader.py --scenes 50     # quicker
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate

from depthnb.data import transforms as T
from depthnb.data.augment import BatchAugment
from depthnb.data.cache import DepthCache, build_cache
from depthnb.data.nyu import NYU_INTRINSICS, NYU_SIZE
from depthnb.data.sample import to_float
from depthnb.geometry import scale_intrinsics

SOURCE_SIZE = NYU_SIZE


def write_png_scenes(root: Path, count: int, seed: int = 0) -> None:
    """Write ``count`` photo-like 480x640 scenes: ``NNNN_rgb.png`` and ``NNNN_depth.png`` (mm)."""
    rng = np.random.default_rng(seed)
    height, width = SOURCE_SIZE
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(count):
        # a tilted floor-to-wall depth ramp with two boxes in front, 0.5..10 m, and a hole
        depth = 2.0 + 6.0 * (1 - v / height) * rng.uniform(0.5, 1.0) + 0.002 * u
        for _ in range(2):
            top, left = rng.integers(0, height - 120), rng.integers(0, width - 160)
            depth[top : top + 120, left : left + 160] = rng.uniform(0.5, 2.0)
        depth[:40, :60] = 0.0  # no reading
        shade = (1.0 / (1.0 + 0.15 * depth))[..., None]
        base = rng.uniform(60, 200, size=3).astype(np.float32)
        noise = rng.normal(0.0, 8.0, size=(height, width, 3)).astype(np.float32)  # sensor grain
        rgb = np.clip(base * (0.6 + 0.8 * shade) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(root / f"{index:04d}_rgb.png")
        Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(
            root / f"{index:04d}_depth.png"
        )


class PngFolder(Dataset):
    """Decode an RGB PNG and a 16-bit millimetre depth PNG per sample and resize them to ``size``.

    The straightforward loader most reference implementations use. Depth is resized with nearest
    neighbour; NYU's intrinsics are scaled to ``size`` by ``scale_intrinsics``.
    """

    def __init__(self, root: Path, size: tuple[int, int] | None = None, transform=None):
        self.rgb = sorted(Path(root).glob("*_rgb.png"))
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rgb_path = self.rgb[index]
        image = Image.open(rgb_path).convert("RGB")
        depth = Image.open(str(rgb_path).replace("_rgb.png", "_depth.png"))
        intrinsics = NYU_INTRINSICS
        if self.size is not None and (image.height, image.width) != self.size:
            intrinsics = scale_intrinsics(intrinsics, (image.height, image.width), self.size)
            image = image.resize(self.size[::-1], Image.BILINEAR)
            depth = depth.resize(self.size[::-1], Image.NEAREST)
        depth_m = torch.from_numpy(np.asarray(depth, dtype=np.float32) / 1000.0)[None]
        sample = {
            "image": torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous().float()
            / 255.0,
            "depth": depth_m,
            "valid": depth_m > 0,
            "intrinsics": torch.tensor(intrinsics, dtype=torch.float32),
        }
        return self.transform(sample) if self.transform is not None else sample


def augmentation() -> T.Compose:
    """Flip, channel permutation, colour jitter: the same for every loader."""
    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomChannelPermutation(),
            T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        ]
    )


def samples_per_second(
    dataset: Dataset,
    workers: int,
    batch_size: int,
    min_seconds: float,
    on_batch: Callable[[dict], dict] | None = None,
) -> float:
    """Throughput of a shuffled DataLoader, after its workers have delivered a first batch.

    ``on_batch`` runs on each batch in this process (the training process), and counts.
    """
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        drop_last=True,
    )
    iterator = iter(loader)
    next(iterator)  # start-up (fork, first decode) is not throughput
    count, start = 0, time.perf_counter()
    while True:
        for batch in iterator:
            if on_batch is not None:
                batch = on_batch(batch)
            count += batch["image"].shape[0]
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count / elapsed
        iterator = iter(loader)


def cpu_ms_per_sample(
    dataset: Dataset,
    batch_size: int,
    min_samples: int = 64,
    on_batch: Callable[[dict], dict] | None = None,
) -> float:
    """CPU milliseconds per sample (fetch, augment, collate, ``on_batch``) here, on one thread.

    CPU time, unlike wall-clock time, does not depend on what else the machine is running, so
    this column stays comparable on a busy machine; on an idle one, throughput with W workers is
    about W * 1000 / (this number).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    try:
        finish = on_batch if on_batch is not None else (lambda batch: batch)
        finish(default_collate([dataset[0] for _ in range(batch_size)]))  # warm up
        count, start = 0, time.process_time()
        while count < min_samples or time.process_time() - start < 1.0:
            finish(
                default_collate([dataset[(count + i) % len(dataset)] for i in range(batch_size)])
            )
            count += batch_size
        return (time.process_time() - start) / count * 1000
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--min-seconds", type=float, default=5.0)
    args = parser.parse_args()
    size = tuple(args.size)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "png").mkdir()
        start = time.perf_counter()
        write_png_scenes(root / "png", args.scenes)
        written = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in (root / "png").iterdir()) / 2**20
        start = time.perf_counter()
        cache = build_cache(
            PngFolder(root / "png"),
            root / "cache",
            size=size,
            num_workers=args.workers,
            source="bench-png",
            progress=False,
        )
        built = time.perf_counter() - start
        cache.transform = augmentation()
        png = PngFolder(root / "png", size=size, transform=augmentation())
        raw = DepthCache(root / "cache", raw=True)
        augment = BatchAugment(brightness=0.2, contrast=0.2, saturation=0.2)

        def on_device(batch: dict) -> dict:
            return augment(to_float(batch, device="cpu"))

        loaders = [(png, None), (cache, None), (raw, on_device)]
        rates = [
            samples_per_second(data, args.workers, args.batch_size, args.min_seconds, finish)
            for data, finish in loaders
        ]
        costs = [
            cpu_ms_per_sample(data, args.batch_size, on_batch=finish) for data, finish in loaders
        ]
    print(
        f"{args.scenes} scenes 480x640 ({megabytes:.0f} MB of PNG, written in {written:.1f} s), "
        f"cache built at {size[0]}x{size[1]} in {built:.1f} s; batch {args.batch_size}, "
        f"flip + channel permutation + colour jitter; torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"| loader | samples/s, DataLoader with {args.workers} workers "
        "| CPU ms per sample (1 thread, in process) |"
    )
    print("|---|---:|---:|")
    print(f"| decode + resize PNG per sample | {rates[0]:.0f} | {costs[0]:.1f} |")
    print(
        "| decode-once cache, float samples, per-sample transforms "
        f"| {rates[1]:.0f} | {costs[1]:.2f} |"
    )
    print(
        "| decode-once cache, uint8 through the workers, to_float + BatchAugment in the training "
        f"process | {rates[2]:.0f} | {costs[2]:.2f} |"
    )
    for row, name in ((1, "float samples"), (2, "uint8 + batch augmentation")):
        print(
            f"| ratio, cache ({name}) / PNG | {rates[row] / rates[0]:.1f}x "
            f"| {costs[0] / costs[row]:.1f}x |"
        )


if __name__ == "__main__":
    main()
