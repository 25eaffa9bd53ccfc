"""The main job, timed: ``python -m depthnb train`` with its defaults, then its numbers in a table.

    python benchmarks/bench_main_job.py [--threads 2] [--out DIR] [-- more train flags]

Runs the job in a subprocess (torch limited to ``--threads`` threads), measures its wall-clock and
CPU time, reads ``metrics.json`` and prints held-out delta1 / abs_rel / rmse of the U-Net beside
the constant baseline (the training set's median depth everywhere), with the quality target
(delta1 >= 0.85 within 10 minutes at 120x160).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_DELTA1, TARGET_SECONDS = 0.85, 600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (OMP_NUM_THREADS)")
    parser.add_argument("--out", default="/tmp/depthnb_main_job")
    parser.add_argument("extra", nargs="*", help="more flags for `python -m depthnb train`")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    command = [sys.executable, "-m", "depthnb", "train", "--no-progress", "--out", args.out]
    command += args.extra
    print("running:", " ".join(command[1:]), f"(OMP_NUM_THREADS={args.threads})", flush=True)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    summary = json.loads((Path(args.out) / "metrics.json").read_text())
    rows = {
        "U-Net (main job)": summary["metrics"],
        f"constant {summary['baseline_depth_m']:.2f} m": summary["baseline"],
    }
    print(
        f"\nwall {wall:.0f} s (rendering {summary['data_seconds']:.0f} s, "
        f"training {summary['train_seconds']:.0f} s), CPU {cpu:.0f} s, device {summary['device']}"
    )
    print(f"{'':<22}{'delta1':>8}{'abs_rel':>9}{'rmse (m)':>10}{'rmse_log':>10}")
    for label, values in rows.items():
        print(
            f"{label:<22}{values['delta1']:>8.3f}{values['abs_rel']:>9.3f}{values['rmse']:>10.3f}"
            f"{values['rmse_log']:>10.3f}"
        )
    met = summary["metrics"]["delta1"] >= TARGET_DELTA1 and wall <= TARGET_SECONDS
    verdict = "met" if met else "NOT met"
    print(f"target delta1 >= {TARGET_DELTA1} within {TARGET_SECONDS} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
