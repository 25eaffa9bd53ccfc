"""Drawing a synthetic room: its size, shell materials, doors, windows, pictures, rug, lights and
furniture, and a camera spot that looks across it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np

from depthnb.data.synthetic.furniture import _furnish, _Layout
from depthnb.data.synthetic.scene import (
    _BRICKS,
    _CHECKER,
    _CLEARANCE,
    _GRID,
    _PLAIN,
    _STRIPES,
    _Material,
    _Panel,
    _Room,
)
from depthnb.data.synthetic.textures import _color, _floor_material, _material


def _sample_room(rng: random.Random, place_camera: Callable[[float, float], _Layout]) -> _Room:
    """Draw a room; ``place_camera(width, length)`` places the camera (objects avoid it)."""
    width, length, height = rng.uniform(3.0, 7.5), rng.uniform(3.5, 8.5), rng.uniform(2.4, 3.0)
    # the room's diagonal, hence every depth, stays below 9.8 m
    shrink = min(1.0, math.sqrt((9.8**2 - height**2) / (width**2 + length**2)))
    width, length = width * shrink, length * shrink
    layout = place_camera(width, length)
    wall_kinds = (_PLAIN, _PLAIN, _STRIPES, _GRID, _BRICKS)  # half of the walls painted plain
    wall = _material(rng, wall_kinds, (0.0, 0.35), (0.55, 0.95))
    ceiling = _Material(
        _PLAIN if rng.random() < 0.6 else _GRID,
        _color(rng, (0.0, 0.1), (0.8, 0.97)),
        _color(rng, (0.0, 0.1), (0.4, 0.6)),
        rng.uniform(0.5, 0.7),
        0.02,
    )
    panels: list[_Panel] = []
    kinds = (
        ["door"] * (rng.random() < 0.6)
        + ["window"] * (rng.random() < 0.5)
        + ["picture"] * rng.randrange(4)
    )
    for kind in kinds:
        face = rng.randrange(4)
        span = width if face < 2 else length  # walls 0, 1 run along x
        if kind == "door":
            w, h, z0, border = (
                rng.uniform(0.75, 0.95),
                rng.uniform(1.95, 2.15),
                0.0,
                rng.uniform(0.04, 0.08),
            )
            color = _color(rng, (0.0, 0.5), (0.3, 0.95))
        elif kind == "window":
            w, h, border = rng.uniform(0.8, 1.8), rng.uniform(0.9, 1.4), rng.uniform(0.05, 0.09)
            z0 = rng.uniform(0.7, max(0.75, height - h - 0.3))
            color = _color(rng, (0.1, 0.4), (0.85, 1.0))  # bright sky
        else:
            w, h, border = rng.uniform(0.3, 1.2), rng.uniform(0.3, 0.9), rng.uniform(0.02, 0.05)
            z0 = rng.uniform(1.0, max(1.05, height - h - 0.3))
            color = _color(rng, (0.2, 0.9), (0.2, 0.95))
        h0 = rng.uniform(0.2, max(0.3, span - w - 0.2))
        if any(p.wall == face and h0 < p.h1 + 0.1 and p.h0 < h0 + w + 0.1 for p in panels):
            continue
        frame = _color(rng, (0.0, 0.3), (0.1, 0.95))
        panels.append(_Panel(face, h0, h0 + w, z0, z0 + h, color, frame, border))
    rug = None
    if rng.random() < 0.5:
        rx, ry = rng.uniform(0.6, width / 2 - 0.3), rng.uniform(0.6, length / 2 - 0.3)
        cx, cy = rng.uniform(rx + 0.2, width - rx - 0.2), rng.uniform(ry + 0.2, length - ry - 0.2)
        rug = (float(cx - rx), float(cx + rx), float(cy - ry), float(cy + ry))
    elevation, azimuth = rng.uniform(0.4, 1.2), rng.uniform(0, 2 * math.pi)
    sun_dir = (
        math.cos(elevation) * math.cos(azimuth),
        math.cos(elevation) * math.sin(azimuth),
        math.sin(elevation),
    )
    warm = rng.uniform(0.0, 0.15)
    gain = rng.uniform(0.6, 1.4)
    ambient = float(gain * rng.uniform(0.25, 0.45))
    sun = float(gain * rng.uniform(0.2, 0.6))
    lamp = float(gain * rng.uniform(1.0, 3.0))
    lamp_pos = (
        rng.uniform(0.5, width - 0.5),
        rng.uniform(0.5, length - 0.5),
        float(height - 0.25),
    )
    return _Room(
        width=float(width),
        length=float(length),
        height=float(height),
        floor=_floor_material(rng),
        floor_along_x=bool(rng.random() < 0.5),
        wall=wall,
        accent_wall=rng.randrange(-1, 4),
        accent=_color(rng, (0.1, 0.6), (0.4, 0.9)),
        ceiling=ceiling,
        baseboard=rng.uniform(0.0, 0.15),
        baseboard_color=_color(rng, (0.0, 0.3), (0.2, 0.95)),
        rug=rug,
        rug_material=_material(rng, (_PLAIN, _STRIPES, _CHECKER, _GRID), (0.3, 0.9), (0.2, 0.8)),
        panels=tuple(panels),
        tint=(1.0 + warm, 1.0, 1.0 - warm),
        ambient=ambient,
        sun_dir=sun_dir,
        sun=sun,
        lamp_pos=lamp_pos,
        lamp=lamp,
        objects=tuple(_furnish(rng, (width, length, height), layout)),
    )


def _camera_spot(rng: random.Random, width: float, length: float) -> tuple[float, float, float]:
    """A camera (x, y) position in the room and a yaw (rad) that looks across it."""
    m = _CLEARANCE
    x, y = rng.uniform(m, width - m), rng.uniform(m, length - m)
    target = np.array([width - x, length - y]) + (rng.gauss(0.0, 0.7), rng.gauss(0.0, 0.7))
    gaze = target - (x, y)
    yaw = math.atan2(gaze[1], gaze[0]) if np.hypot(*gaze) > 1.0 else rng.uniform(0, 2 * math.pi)
    return float(x), float(y), float(yaw)
