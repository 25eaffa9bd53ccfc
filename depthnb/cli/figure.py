"""The figures the command line writes: PNG files, and the held-out prediction figure (image,
ground truth, prediction, error) of ``train`` and ``evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depthnb.utils.files import atomic_write


def save_png(rgb: Any, file: Any) -> None:
    """Write an (H,W,3) uint8 array to an open binary file as PNG."""
    from PIL import Image

    Image.fromarray(rgb).save(file, format="PNG")


def save_prediction_figure(
    model: Any, dataset: Any, path: Path, rows: int = 4, caption: str = ""
) -> Path:
    """PNG of ``rows`` held-out samples: rgb | ground truth | prediction | abs. relative error,
    under a title that adds ``caption`` (the main job's: its scores beside the constant's)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from depthnb.inference import predict_depth

    rows = min(rows, len(dataset))
    fig, axes = plt.subplots(rows, 4, figsize=(12, 2.4 * rows + 0.6), squeeze=False)
    for row in range(rows):
        sample = dataset[row * max(1, len(dataset) // rows)]
        gt = sample["depth"][0].numpy()
        pred = predict_depth(model, sample["image"])
        error = np.abs(pred - gt) / np.maximum(gt, 1e-3)
        vmax = float(max(gt.max(), np.percentile(pred, 99)))
        panels = [
            (sample["image"].permute(1, 2, 0).numpy(), "image", {}),
            (gt, "ground truth (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (pred, "prediction (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (error, "|pred - gt| / gt", {"cmap": "magma", "vmin": 0, "vmax": 0.3}),
        ]
        for ax, (picture, title, style) in zip(axes[row], panels):
            shown = ax.imshow(picture, **style)
            ax.set_title(title)
            ax.set_xlabel("u (pixels)")
            ax.set_ylabel("v (pixels)")
            if style:
                fig.colorbar(shown, ax=ax, fraction=0.035)
    title = f"{getattr(model, 'name', 'model')}: held-out predictions"
    fig.suptitle(f"{title}\n{caption}" if caption else title)
    fig.tight_layout()
    try:
        atomic_write(path, lambda file: fig.savefig(file, format="png"))
    finally:
        plt.close(fig)
    return path
