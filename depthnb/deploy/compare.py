"""What a deployed copy costs and buys: file size, CPU latency and depth metrics of PyTorch eager,
ONNX fp32, int8 and fp16, on the same held-out images, beside a constant-depth baseline.

:func:`compare_variants` measures the rows, :func:`format_comparison` prints them as a table
(``python -m depthnb export`` shows it).
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.deploy.export import DepthGraph
from depthnb.deploy.quantize import file_size_mb
from depthnb.deploy.session import median_latency_ms, onnx_depth, onnx_session, run_onnx
from depthnb.metrics.depth import depth_metrics

COLUMNS = ("size_mb", "latency_ms", "abs_rel", "rmse", "delta1")


def state_dict_mb(model: nn.Module) -> float:
    """Megabytes of the model's weights and buffers as PyTorch stores them (float32)."""
    tensors = model.state_dict().values()
    return sum(t.numel() * t.element_size() for t in tensors) / 1e6


@torch.no_grad()
def eager_depth(model: nn.Module, images: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """PyTorch's depth (B,1,H,W) metres for images (B,C,H,W), resized to the images' size."""
    graph = DepthGraph(model).eval()
    parts = [graph(images[i : i + batch_size])[0] for i in range(0, len(images), batch_size)]
    depth = torch.cat(parts)
    return F.interpolate(depth, size=images.shape[-2:], mode="bilinear", align_corners=False)


def compare_variants(
    model: nn.Module,
    paths: dict[str, str | os.PathLike],
    images: torch.Tensor,
    depth: torch.Tensor,
    valid: torch.Tensor,
    constant_m: float | None = None,
    repeats: int = 20,
    threads: int | None = None,
) -> dict[str, dict[str, Any]]:
    """One row per variant: {"pytorch eager", "onnx fp32", "onnx int8", ...} -> size_mb,
    latency_ms (median, batch 1, CPU), diff_m (mean |depth - PyTorch's depth|, metres), abs_rel,
    rmse, delta1 on ``images`` (N,C,H,W) against ``depth`` (N,1,H,W) metres where ``valid``; plus
    "constant depth" (``constant_m`` metres everywhere) if given. A variant onnxruntime cannot run
    on the CPU gets an ``error`` entry instead.

    Every row also has ``size_ratio`` and ``speedup`` against PyTorch eager.
    """
    model = model.eval()
    one = images[:1]
    rows: dict[str, dict[str, Any]] = {}
    with torch.no_grad():
        eager_ms = median_latency_ms(lambda: model(one), repeats)
    eager = eager_depth(model, images)
    rows["pytorch eager"] = {
        "size_mb": state_dict_mb(model),
        "latency_ms": eager_ms,
        "diff_m": 0.0,
        **depth_metrics(eager, depth, valid),
    }
    for kind, path in paths.items():
        row: dict[str, Any] = {"size_mb": file_size_mb(path)}
        try:
            session = onnx_session(path, threads)
            row["latency_ms"] = median_latency_ms(partial(run_onnx, session, one), repeats)
            predicted = onnx_depth(session, images)
            row["diff_m"] = float((predicted - eager).abs()[valid].mean())
            row.update(depth_metrics(predicted, depth, valid))
        except Exception as error:  # e.g. no CPU kernel for a float16 op
            row["error"] = str(error).splitlines()[0][:120]
        rows[f"onnx {kind}"] = row
    if constant_m is not None:
        constant = torch.full_like(depth, constant_m)
        rows["constant depth"] = {
            "diff_m": float((constant - eager).abs()[valid].mean()),
            **depth_metrics(constant, depth, valid),
        }
    base = rows["pytorch eager"]
    for row in rows.values():
        if "size_mb" in row:
            row["size_ratio"] = row["size_mb"] / base["size_mb"]
        if "latency_ms" in row:
            row["speedup"] = base["latency_ms"] / row["latency_ms"]
    return rows


def format_comparison(rows: dict[str, dict[str, Any]], title: str = "") -> str:
    """The rows of :func:`compare_variants` as a plain-text table: ratios and |diff| (mean
    absolute depth difference, metres) against PyTorch eager."""
    header = (
        f"{'variant':<18}{'MB':>8}{'x size':>8}{'ms':>9}{'speedup':>9}{'|diff| m':>10}"
        f"{'abs_rel':>9}{'rmse m':>9}{'delta1':>8}"
    )
    lines = [title] if title else []
    lines += [header, "-" * len(header)]
    for name, row in rows.items():
        cells = [
            f"{row[key]:>{width}{fmt}}" if key in row else f"{'-':>{width}}"
            for key, width, fmt in (
                ("size_mb", 8, ".2f"), ("size_ratio", 8, ".2f"), ("latency_ms", 9, ".2f"),
                ("speedup", 9, ".2f"), ("diff_m", 10, ".4f"), ("abs_rel", 9, ".4f"),
                ("rmse", 9, ".4f"),
                ("delta1", 8, ".4f"),
            )
        ]  # fmt: skip
        line = f"{name:<18}" + "".join(cells)
        lines.append(line + (f"  ({row['error']})" if "error" in row else ""))
    return "\n".join(lines)
