"""A procedural street seen from a car, with sparse LiDAR-like depth: an outdoor counterpart to the
synthetic rooms, for the outdoor protocol when KITTI itself is not at hand.

The camera has KITTI's intrinsics on the 352x1216 frames of its depth selection (fx = fy = 721.5
pixels), sits 1.65 m above a flat road (KITTI's camera height) and looks along it, level. The
scene is a road with lane markings and pavements, rows of building facades on both sides (with
gaps where the sky shows) and parked or driving cars (boxes); everything is shaded with one sun.
Depth is z-depth along the optical axis, in metres, 0 where a ray meets only sky.

The ``lidar`` map imitates KITTI's annotated ground truth: a return only where a Velodyne HDL-64E
mounted at the camera would look (elevation +2 to -24.8 degrees), up to 100 m, on about a third of
those pixels (KITTI's accumulated scans leave the rest empty), and 0 elsewhere (the sky, the top of
the frame, everything beyond the range).
"""

from __future__ import annotations

import numpy as np

#: fx, fy, cx, cy of KITTI's camera 2 on the 352x1216 crop (drive 2011_09_26).
KITTI_CROP_INTRINSICS = (721.5377, 721.5377, 596.5593, 149.854)
CAMERA_HEIGHT = 1.65  # metres above the road
LIDAR_ELEVATION = (-24.8, 2.0)  # degrees, the HDL-64E's vertical field of view
LIDAR_RANGE = 100.0  # metres
LIDAR_DENSITY = 0.35  # fraction of the pixels in the LiDAR's view that get a return
_SUN = np.array([0.4, -0.8, 0.45]) / np.linalg.norm([0.4, -0.8, 0.45])  # towards the sun


def _boxes(rng: np.random.Generator, road: float) -> list[tuple[np.ndarray, np.ndarray, tuple]]:
    """Cars: (low corner, high corner, colour), camera coordinates (x right, y down, z ahead)."""
    cars = []
    for _ in range(int(rng.integers(3, 7))):
        lane = rng.choice([-1.0, 1.0]) * rng.uniform(1.6, road - 1.1)
        z0 = rng.uniform(6.0, 55.0)
        low = np.array([lane - 0.9, CAMERA_HEIGHT - 1.5, z0])
        cars.append((low, low + np.array([1.8, 1.5, 4.3]), tuple(rng.uniform(0.1, 0.9, 3))))
    return cars


def render_street(
    seed: int,
    size: tuple[int, int] = (352, 1216),
    intrinsics: tuple[float, float, float, float] | None = None,
) -> dict[str, np.ndarray]:
    """One street scene as numpy arrays.

    Args:
        seed: picks the street (widths, buildings, cars, colours).
        size: (H, W) pixels.
        intrinsics: fx, fy, cx, cy in pixels; None scales :data:`KITTI_CROP_INTRINSICS` to ``size``.

    Returns:
        ``image`` uint8 (H,W,3); ``depth`` float32 (H,W) metres, 0 for sky; ``lidar`` float32
        (H,W) metres, 0 = no return; ``intrinsics`` float32 (4,).
    """
    height, width = size
    if intrinsics is None:
        scale_y, scale_x = height / 352, width / 1216
        fx, fy, cx, cy = KITTI_CROP_INTRINSICS
        cx, cy = (cx + 0.5) * scale_x - 0.5, (cy + 0.5) * scale_y - 0.5
        intrinsics = (fx * scale_x, fy * scale_y, cx, cy)
    fx, fy, cx, cy = intrinsics
    rng = np.random.default_rng(seed)
    v, u = np.indices((height, width), dtype=np.float64)
    dx, dy = (u - cx) / fx, (v - cy) / fy  # ray (dx, dy, 1): its parameter is the z-depth
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(dy > 1e-9, CAMERA_HEIGHT / dy, np.inf)  # the road and pavements
        normal: np.ndarray = np.zeros((height, width, 3))  # ndarray: np.where gives any shape
        normal[..., 1] = -1.0
        x, z = dx * depth, depth
        road = rng.uniform(3.5, 5.5)
        asphalt = 0.28 + 0.04 * np.sin(7.1 * x + 3.3 * z) * np.sin(2.3 * z)
        dash = (np.abs(x) < 0.08) & (np.mod(z, 9.0) < 3.0)
        grey = np.where(np.abs(x) > road, 0.55, np.where(dash, 0.9, asphalt))
        colour = np.repeat(grey[..., None], 3, axis=2)
        for side in (-1.0, 1.0):  # facades: blocks along z with their own height and colour
            wall = side * (road + rng.uniform(2.5, 5.0))
            t = np.where(dx * side > 1e-9, wall / dx, np.inf)
            ends = np.cumsum(rng.uniform(8.0, 25.0, 12))
            block = np.searchsorted(ends, t)
            tops = CAMERA_HEIGHT - rng.uniform(5.0, 18.0, 13)
            tops[rng.random(13) < 0.2] = np.inf  # gaps between buildings
            hues = rng.uniform(0.3, 0.85, (13, 3))
            hit = (t < depth) & (block < 13) & (dy * t >= tops[np.minimum(block, 12)])
            windows = (np.mod(t, 3.0) < 1.6) & (np.mod(dy * t, 3.0) < 1.5)
            shade = np.where(windows, 0.45, 1.0)[..., None] * hues[np.minimum(block, 12)]
            depth, colour = np.where(hit, t, depth), np.where(hit[..., None], shade, colour)
            normal = np.where(hit[..., None], np.array([-side, 0.0, 0.0]), normal)
        for low, high, paint in _boxes(rng, road):  # slabs with d_z = 1
            ray = (dx, dy, np.ones_like(dx))
            near = [np.minimum(lo / d, hi / d) for lo, hi, d in zip(low, high, ray)]
            far = [np.maximum(lo / d, hi / d) for lo, hi, d in zip(low, high, ray)]
            t_near, t_far = np.max(near, axis=0), np.min(far, axis=0)
            hit = (t_near <= t_far) & (t_near > 0) & (t_near < depth)
            axis = np.argmax(near, axis=0)
            face = np.zeros((height, width, 3))
            for k in range(3):
                face[..., k] = np.where(axis == k, -np.sign(ray[k]), 0.0)
            depth = np.where(hit, t_near, depth)
            colour = np.where(hit[..., None], np.array(paint), colour)
            normal = np.where(hit[..., None], face, normal)
    sky = ~np.isfinite(depth)
    light = 0.45 + 0.75 * np.clip(normal @ _SUN, 0.0, None)
    sky_colour = np.stack([0.55 + 0.25 * v / height, 0.7 + 0.2 * v / height, np.ones_like(v)], -1)
    rgb = np.where(sky[..., None], sky_colour, colour * light[..., None])
    rgb = rgb + rng.normal(0.0, 0.015, rgb.shape)
    depth = np.where(sky, 0.0, depth).astype(np.float32)
    elevation = np.degrees(np.arctan2(-dy, np.hypot(dx, 1.0)))
    seen = (elevation >= LIDAR_ELEVATION[0]) & (elevation <= LIDAR_ELEVATION[1])
    returns = (
        seen & (depth > 0) & (depth <= LIDAR_RANGE) & (rng.random(depth.shape) < LIDAR_DENSITY)
    )
    return {
        "image": np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8),
        "depth": depth,
        "lidar": np.where(returns, depth, 0.0).astype(np.float32),
        "intrinsics": np.asarray(intrinsics, dtype=np.float32),
    }
