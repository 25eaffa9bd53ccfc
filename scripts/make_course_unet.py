"""Remake the course U-Net that ships inside the package (``depthnb/weights/unet-synthetic.pt``).

    python scripts/make_course_unet.py            # trains the main job (~5 min on 2 CPU cores)
    python scripts/make_course_unet.py --run runs/main   # pack a main-job run that exists

It runs the project's main job (``python -m depthnb train``: a U-Net trained on 1,000 synthetic
rooms at 120x160 with the recipe of ``depthnb.train``), keeps the best checkpoint's weights in
float16 (half the bytes; the test ``tests/test_pretrained.py`` checks that the rounding costs no
accuracy), drops the optimizer and RNG state, and writes the checkpoint and a JSON record of how it
was made (command, metrics on held-out rooms, versions, SHA-256) beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from depthnb.checkpoint import read_checkpoint, save_checkpoint
from depthnb.cli.train import check_settings

WEIGHTS = Path(__file__).resolve().parents[1] / "depthnb" / "weights"
NAME = "unet-synthetic"
#: Settings that say where the job ran and how it printed, not how the weights were made.
UNRECORDED = ("out_dir", "resume", "progress")


def score(path: Path, settings: dict) -> dict[str, dict[str, float]]:
    """The packed checkpoint and the constant baseline on the main job's held-out rooms."""
    from depthnb.data import SyntheticRooms, median_depth
    from depthnb.metrics import evaluate
    from depthnb.metrics.baseline import ConstantDepth
    from depthnb.predict import load_checkpoint

    size = tuple(settings["size"])
    held_out = SyntheticRooms(settings["val_scenes"], size=size, seed=settings["val_seed"])
    train = SyntheticRooms(settings["train_scenes"], size=size, seed=settings["seed"])
    median = median_depth(train)  # the main job's constant: the training rooms' median
    return {
        "held_out": evaluate(load_checkpoint(path), held_out),
        "constant": {"depth_m": median, **evaluate(ConstantDepth(median), held_out)},
    }


def recorded_settings(settings: dict) -> dict:
    """The job's settings (``metrics.json``'s, today's names) without where it ran and how it
    printed, checked as ``python -m depthnb train --config`` checks a file."""
    kept = {key: value for key, value in settings.items() if key not in UNRECORDED}
    check_settings(kept, "the record's settings")
    return kept


def pack(run: Path, out_dir: Path = WEIGHTS) -> Path:
    """Write ``<out_dir>/unet-synthetic.pt`` (the run's best weights in fp16) and a ``.json``
    record of how it was made and what it scores, measured on the packed file itself."""
    checkpoint = read_checkpoint(run / "best.pt")
    summary = json.loads((run / "metrics.json").read_text())
    state = {
        key: value.half() if value.is_floating_point() else value
        for key, value in checkpoint["state_dict"].items()
    }
    slim = {
        key: checkpoint[key]
        for key in ("format", "version", "model_name", "model_config", "encoding", "epoch", "step")
    }
    slim.update(state_dict=state, input_size=checkpoint.get("input_size"))
    path = save_checkpoint(slim, out_dir / f"{NAME}.pt")
    scores = score(path, summary["settings"])
    record = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
        "made_by": "python scripts/make_course_unet.py (the main job: python -m depthnb train)",
        "made_on": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "settings": recorded_settings(summary["settings"]),
        "epoch": checkpoint["epoch"],
        "train_seconds": round(summary["train_seconds"]),
        "held_out_metrics": scores["held_out"],
        "constant_baseline": scores["constant"],
    }
    record_path = out_dir / f"{NAME}.json"
    tmp = record_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(record_path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="an existing main-job output folder to pack")
    args = parser.parse_args()
    if args.run is None:
        args.run = Path(tempfile.mkdtemp(prefix="course-unet-"))
        command = [sys.executable, "-m", "depthnb", "train", "--out-dir", str(args.run)]
        subprocess.run([*command, "--no-progress"], check=True)
    path = pack(args.run)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
