"""Scoring the 654-image NYU test set at 480x640 once predictions exist: depthnb vs plain NumPy.

A synthetic stand-in of the same size: ground truth 0.5..10 m with 5 % holes, predictions off by
about 10 %, in batches of 8 (a pool of distinct batches is cycled so that 654 images never sit in
memory at once; the cost of scoring does not depend on the values). Protocol: DenseDepth's crop,
pooled, depth clamped to [1e-3, 10] m. Every implementation must return the same numbers.

    python benchmarks/bench_evaluate.py [--images 654] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from depthnb.metrics import METRIC_NAMES, DepthMetricAccumulator, crop_mask, depth_metrics

MIN_DEPTH, MAX_DEPTH = 1e-3, 10.0


def make_batches(
    n_images: int, batch: int, pool: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A pool of distinct (pred, gt) float32 batches (B,1,480,640), metres."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(min(pool, -(-n_images // batch))):
        gt = rng.uniform(0.5, 10.0, (batch, 1, 480, 640)).astype(np.float32)
        gt[rng.random(gt.shape) < 0.05] = 0.0
        pred = (gt.clip(0.5) * np.exp(rng.normal(0, 0.1, gt.shape))).astype(np.float32)
        batches.append((pred, gt))
    return batches


def numpy_reference(batches: list, sizes: list[int]) -> dict[str, float]:
    """A plain NumPy implementation, as evaluation scripts write it: mask, clip, sum, divide."""
    crop = crop_mask((480, 640), "densedepth").numpy()
    sums = np.zeros(9)
    count = 0
    for index, size in enumerate(sizes):
        pred, gt = batches[index % len(batches)]
        pred, gt = pred[:size, 0], gt[:size, 0]
        valid = (gt > 0) & (gt >= MIN_DEPTH) & (gt <= MAX_DEPTH) & crop
        g = gt[valid].astype(np.float64)
        p = np.clip(pred[valid], MIN_DEPTH, MAX_DEPTH).astype(np.float64)
        ratio = np.maximum(g / p, p / g)
        sums += [
            np.sum(np.abs(g - p) / g),
            np.sum((g - p) ** 2 / g),
            np.sum((g - p) ** 2),
            np.sum((np.log(g) - np.log(p)) ** 2),
            np.sum(np.abs(np.log10(g) - np.log10(p))),
            np.sum(ratio < 1.25),
            np.sum(ratio < 1.25**2),
            np.sum(ratio < 1.25**3),
            np.sum(np.log(p) - np.log(g)),
        ]
        count += g.size
    mean = sums / count
    silog = 100 * np.sqrt(mean[3] - mean[8] ** 2)  # before rmse_log's root
    mean[2:4] = np.sqrt(mean[2:4])
    return dict(zip(METRIC_NAMES, [*mean[:8].tolist(), silog]))


def accumulator_run(batches: list, sizes: list[int], device: str) -> dict[str, float]:
    """DepthMetricAccumulator over the batches, moved to ``device`` as an evaluation would."""
    tensors = [(torch.from_numpy(p).to(device), torch.from_numpy(g).to(device)) for p, g in batches]
    acc = DepthMetricAccumulator(MIN_DEPTH, MAX_DEPTH, crop="densedepth")
    for index, size in enumerate(sizes):
        pred, gt = tensors[index % len(tensors)]
        acc.update(pred[:size], gt[:size])
    result = acc.compute("pooled")
    if device == "cuda":
        torch.cuda.synchronize()
    return result


def one_shot_run(batches: list, sizes: list[int]) -> tuple[float, dict[str, float]]:
    """depthnb.metrics.depth_metrics, one call on the whole set (concatenated first, not timed)."""
    pred = np.concatenate([batches[i % len(batches)][0][:s] for i, s in enumerate(sizes)])
    gt = np.concatenate([batches[i % len(batches)][1][:s] for i, s in enumerate(sizes)])
    start = time.perf_counter()
    result = depth_metrics(pred, gt, crop="densedepth", min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    return time.perf_counter() - start, result


def timed(fn: Callable[[], dict], repeats: int) -> tuple[float, dict]:
    """Best wall time of ``repeats`` runs, and the result."""
    best, result = float("inf"), {}
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=654)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pool", type=int, default=8, help="distinct batches generated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (NumPy uses one)")
    parser.add_argument(
        "--no-one-shot",
        action="store_true",
        help="skip the one depth_metrics "
        "call on the whole set (it holds the set in memory: 1.6 GB at 654 images)",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    sizes = [min(args.batch_size, args.images - i) for i in range(0, args.images, args.batch_size)]
    batches = make_batches(args.images, args.batch_size, args.pool)
    rows: list[tuple[str, float, dict]] = []
    t, reference = timed(lambda: numpy_reference(batches, sizes), args.repeats)
    rows.append(("NumPy reference (streaming, float64 sums)", t, reference))
    t, result = timed(lambda: accumulator_run(batches, sizes, "cpu"), args.repeats)
    rows.append((f"DepthMetricAccumulator, CPU ({torch.get_num_threads()} threads)", t, result))
    if not args.no_one_shot:
        t, result = one_shot_run(batches, sizes)
        rows.append(("depth_metrics, one call on the whole set, CPU", t, result))
    if torch.cuda.is_available():
        accumulator_run(batches, sizes[:2], "cuda")  # warm-up
        t, result = timed(lambda: accumulator_run(batches, sizes, "cuda"), args.repeats)
        rows.append(
            (f"DepthMetricAccumulator, {torch.cuda.get_device_name(0)} (incl. copies)", t, result)
        )

    print(
        f"Scoring {args.images} images of 480x640 (DenseDepth's crop, pooled), "
        f"batches of {args.batch_size}"
    )
    print("| implementation | seconds | images/s | time vs NumPy | max |diff| vs NumPy |")
    print("|---|---:|---:|---:|---:|")
    base = rows[0][1]
    for name, seconds, metrics in rows:
        diff = max(abs(metrics[k] - reference[k]) for k in METRIC_NAMES)
        print(
            f"| {name} | {seconds:.2f} | {args.images / seconds:.0f} "
            f"| {seconds / base:.2f}x | {diff:.1e} |"
        )
        assert diff < 1e-5, f"{name} disagrees with the NumPy reference by {diff}"


if __name__ == "__main__":
    main()
