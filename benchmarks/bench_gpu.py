"""DenseDepth and FCRN at their published sizes on a GPU: fp32 against AMP + channels_last.

    python benchmarks/bench_gpu.py              # needs CUDA; prints a table
    python benchmarks/bench_gpu.py --cpu-smoke  # tiny sizes on the CPU, to check the script runs

For each model: training images/s (forward, loss, backward, Adam step on random images), peak
GPU memory, and the time one NYU epoch (DenseDepth's 50,688 training pairs) would take. Mixed
precision is bf16 where the GPU supports it, else fp16 with a gradient scaler. Without a GPU
(and without ``--cpu-smoke``) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys

import torch

from depthnb.models import build_model
from depthnb.train import measure_throughput

NYU_TRAIN_IMAGES = 50_688
# name, model kwargs, (H, W), batch: the papers' training settings
CASES = [
    ("densedepth", {}, (480, 640), 8),
    ("fcrn", {}, (228, 304), 16),
]
SMOKE_CASES = [
    ("densedepth", {"width": 0.25}, (64, 96), 2),
    ("fcrn", {}, (64, 96), 2),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if args.cpu_smoke:
        device, cases, steps = torch.device("cpu"), SMOKE_CASES, 2
    elif torch.cuda.is_available():
        device, cases, steps = torch.device("cuda"), CASES, args.steps
    else:
        print(
            "bench_gpu: no CUDA GPU visible here; nothing measured. Run it on a GPU runtime "
            "(e.g. Colab), or pass --cpu-smoke for a tiny CPU run of the script."
        )
        return 0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke sizes)"
    print(f"device: {name}, torch {torch.__version__}")
    header = (
        f"{'model':<11}{'size':>9}{'batch':>6}  {'mode':<25}{'images/s':>9}{'ms/step':>9}"
        f"{'peak MiB':>9}{'NYU epoch':>10}{'speed-up':>9}"
    )
    print(header)
    for model_name, kwargs, size, batch in cases:
        base = None
        for label, precision, channels_last in (
            ("fp32", "fp32", False),
            ("AMP+channels_last", "auto" if device.type == "cuda" else "bf16", True),
        ):
            torch.manual_seed(0)
            model = build_model(model_name, **kwargs)
            result = measure_throughput(
                model,
                batch_size=batch,
                size=size,
                steps=steps,
                warmup=1 if args.cpu_smoke else 5,
                device=device,
                precision=precision,
                channels_last=channels_last,
            )
            base = base or result["images_per_s"]
            epoch_min = NYU_TRAIN_IMAGES / result["images_per_s"] / 60
            peak = f"{result['peak_memory_mb']:.0f}" if result["peak_memory_mb"] else "-"
            print(
                f"{model_name:<11}{size[0]:>4}x{size[1]:<4}{batch:>6}  "
                f"{label + ' (' + result['precision'] + ')':<25}{result['images_per_s']:>9.1f}"
                f"{result['step_ms']:>9.0f}{peak:>9}{epoch_min:>8.0f} min"
                f"{result['images_per_s'] / base:>8.2f}x"
            )
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
