"""NumPy or torch depth maps and images to NumPy at the edges (figures, files): a depth map (H,W),
an image (H,W,3), the pixels whose depth can be trusted."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthnb.errors import ShapeError

ArrayLike = Any  # numpy array or torch tensor


def as_depth_map(depth: ArrayLike, where: str = "depth") -> np.ndarray:
    """A depth map as float32 numpy (H,W): accepts numpy or tensors shaped (H,W) or (1,H,W)."""
    if isinstance(depth, torch.Tensor):
        depth = depth.detach().cpu().float().numpy()
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim == 3 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise ShapeError(
            f"{where} has shape {tuple(depth.shape)}; expected one depth map (H,W) or (1,H,W). "
            "Index one sample out of a batch first, e.g. batch['depth'][0]."
        )
    return depth


def as_rgb_image(image: ArrayLike, where: str = "image") -> np.ndarray:
    """An image as numpy (H,W,3) from (3,H,W), (H,W,3) or (H,W); keeps the dtype (uint8, float)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ShapeError(
            f"{where} has shape {tuple(image.shape)}; expected (3,H,W), (H,W,3) or (H,W)."
        )
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image[..., :3]


def valid_pixels(depth: np.ndarray, valid: ArrayLike | None = None) -> np.ndarray:
    """Boolean (H,W): finite, positive depth, and ``valid`` where given."""
    ok = np.isfinite(depth) & (depth > 0)
    if valid is not None:
        mask = as_depth_map(valid, "valid").astype(bool)
        if mask.shape != depth.shape:
            raise ShapeError(
                f"valid {mask.shape} and depth {depth.shape} differ in size; pass the mask that "
                "belongs to this depth map (e.g. sample['valid'])."
            )
        ok &= mask
    return ok
