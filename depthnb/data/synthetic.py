"""Procedural RGB-D rooms: a small vectorised numpy ray caster, so every lesson has data at once.

A scene is a box-shaped room (floor, ceiling, four walls, baseboard, doors, windows, pictures, a
rug) furnished with boxes (cabinets, tables, crates, sofas), spheres and cylinders that stand on the
floor, on each other or against the walls. Textures live in world or object coordinates, so they
shrink with distance (a texture-gradient cue), and fade to their mean colour once a pixel covers
about a period of them (cheap anti-aliasing). Shading is Lambertian: hemispheric ambient light, a
directional light and a point light under the ceiling, shadows that objects cast on each other,
and darkening in the room's corners and where an object touches its support. Brightness does not
encode distance: there is no fog, and colours, materials and light intensities are drawn anew for
every scene.

The camera has the NYU Depth v2 intrinsics scaled to the output size, a random height (1.3 to
1.6 m, hand-held as NYU's was), pitch (-15 to +3 degrees), yaw and roll, and stays at least 0.7 m
(horizontally) from walls and objects, so depths lie within about 0.6 to 10 m. Depth is z-depth
along the optical axis (what a Kinect measures), not the ray length. Rays are cast analytically
(slabs for boxes, quadratics for spheres and cylinders), each object only over the pixels its
bounding box projects to.

Outside the foreground mask, ``image`` equals ``background`` exactly: objects cast no shadows on
the room shell, so the pair suits the background / foreground-on-background lessons.
"""

from __future__ import annotations

import colorsys
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from depthnb.data.io import Transform, make_sample, scale_intrinsics
from depthnb.data.nyu import NYU_INTRINSICS, NYU_SIZE
from depthnb.errors import DataError

__all__ = [
    "SyntheticCameraPath",
    "SyntheticFgBg",
    "SyntheticRooms",
    "render_camera_path",
    "render_room",
    "synthetic_intrinsics",
    "to_sample",
]

Sample = dict[str, torch.Tensor]

_CLEARANCE = 0.7  # metres between the camera (or its path) and any wall or object, horizontally
_INF = np.float32(np.inf)

# Pattern kinds. Shell and object materials use the same small set.
_PLAIN, _STRIPES, _CHECKER, _GRID, _PLANKS, _RINGS, _BRICKS = range(7)


# --------------------------------------------------------------------------------------- scene


@dataclass(frozen=True)
class _Material:
    """A two-colour procedural texture: ``kind`` mixes ``color_a`` and ``color_b`` (linear RGB)."""

    kind: int
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    period: float  # metres
    line: float = 0.01  # line width for grids, planks and bricks, metres


@dataclass(frozen=True)
class _Box:
    """A box with centre (x, y, z) m, half sizes (hx, hy, hz) m, turned by ``yaw`` rad about +z."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float
    material: _Material
    support: float  # height (m) of what it stands on: contact darkening starts there


@dataclass(frozen=True)
class _Sphere:
    """A sphere with centre (x, y, z) m and ``radius`` m."""

    center: tuple[float, float, float]
    radius: float
    material: _Material
    support: float


@dataclass(frozen=True)
class _Cylinder:
    """An upright cylinder: axis at (x, y) m, from height z0 to z1 m, ``radius`` m."""

    center: tuple[float, float]
    z0: float
    z1: float
    radius: float
    material: _Material
    support: float


_Object = _Box | _Sphere | _Cylinder


@dataclass(frozen=True)
class _Panel:
    """A framed rectangle on wall ``wall`` (face 0..3), a picture, door or window: horizontal span
    h0..h1 m along the wall, heights z0..z1 m, a frame ``border`` m wide."""

    wall: int
    h0: float
    h1: float
    z0: float
    z1: float
    color: tuple[float, float, float]
    frame: tuple[float, float, float]
    border: float


@dataclass(frozen=True)
class _Room:
    """The room shell [0, width] x [0, length] x [0, height] (m, z up), its lights and objects."""

    width: float
    length: float
    height: float
    floor: _Material
    floor_along_x: bool
    wall: _Material
    accent_wall: int  # face 0..3 painted in ``accent``, or -1
    accent: tuple[float, float, float]
    ceiling: _Material
    baseboard: float  # height, m
    baseboard_color: tuple[float, float, float]
    rug: tuple[float, float, float, float] | None  # x0, x1, y0, y1 (m)
    rug_material: _Material
    panels: tuple[_Panel, ...]
    tint: tuple[float, float, float]  # colour of all the lights
    ambient: float
    sun_dir: tuple[float, float, float]  # unit vector towards the directional light
    sun: float
    lamp_pos: tuple[float, float, float]
    lamp: float
    objects: tuple[_Object, ...]


@dataclass(frozen=True)
class _Camera:
    """A pinhole camera at ``position`` (m); ``rotation`` columns: right, down, forward (world)."""

    position: tuple[float, float, float]
    rotation: np.ndarray  # (3,3) float64, world-from-camera


def _camera(position: tuple[float, float, float], yaw: float, pitch: float, roll: float) -> _Camera:
    """Camera looking along ``yaw`` (rad, about +z from +x), ``pitch`` (rad, > 0 up), ``roll``."""
    forward = np.array(
        [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)]
    )
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(forward, right)
    cr, sr = math.cos(roll), math.sin(roll)
    right, down = cr * right + sr * down, -sr * right + cr * down
    place = (float(position[0]), float(position[1]), float(position[2]))
    return _Camera(place, np.stack([right, down, forward], axis=1))


def _color(rng: random.Random, sat: tuple[float, float], val: tuple[float, float]) -> tuple:
    """A random linear-RGB colour from HSV ranges (value in display space, squared to linear)."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return (r * r, g * g, b * b)


def _shade_of(color: tuple, factor: float) -> tuple:
    """``color`` scaled by ``factor``, clipped to 1."""
    return tuple(min(1.0, c * factor) for c in color)


def _material(rng: random.Random, kinds: tuple[int, ...], sat: tuple, val: tuple) -> _Material:
    """A random material of one of ``kinds``, colours from the HSV ranges ``sat`` and ``val``."""
    kind = rng.choice(kinds)
    a = _color(rng, sat, val)
    if rng.random() < 0.5:
        b = _shade_of(a, rng.uniform(0.35, 0.7))
    else:
        b = _color(rng, sat, val)
    periods = {
        _STRIPES: (0.06, 0.3),
        _CHECKER: (0.08, 0.4),
        _RINGS: (0.03, 0.12),
        _BRICKS: (0.2, 0.3),
    }
    period = periods.get(kind, (0.1, 0.4))
    return _Material(kind, a, b, rng.uniform(*period), rng.uniform(0.006, 0.015))


def _floor_material(rng: random.Random) -> _Material:
    """Wooden boards, tiles, a chequered or a plain floor."""
    kind = rng.choices((_PLANKS, _GRID, _CHECKER, _PLAIN), weights=(0.45, 0.3, 0.15, 0.1))[0]
    if kind == _PLANKS:
        a = colorsys.hsv_to_rgb(
            rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.7), rng.uniform(0.35, 0.85)
        )
        a = (a[0] * a[0], a[1] * a[1], a[2] * a[2])
        return _Material(kind, a, _shade_of(a, 0.45), rng.uniform(0.1, 0.22), 0.006)
    a = _color(rng, (0.0, 0.35), (0.35, 0.9))
    b = (
        _shade_of(a, rng.uniform(0.3, 0.7))
        if rng.random() < 0.6
        else _color(rng, (0.0, 0.5), (0.3, 0.9))
    )
    period = float(rng.uniform(0.3, 0.6) if kind != _PLAIN else 1.0)
    return _Material(kind, a, b, period, rng.uniform(0.005, 0.015))


@dataclass(frozen=True)
class _Layout:
    """Where the camera goes: ``keep_out`` (K,2) positions (m) that objects keep ``_CLEARANCE``
    from, and ``view`` = (x, y, yaw) (m, m, rad), the main viewpoint, near which objects go."""

    keep_out: np.ndarray
    view: tuple[float, float, float]


def _gaze_wall(room: tuple[float, float], view: tuple[float, float, float]) -> tuple[int, float]:
    """The wall (0: y = 0, 1: y = length, 2: x = width, 3: x = 0) that the view axis meets, and
    where along it (its x or y coordinate, m)."""
    width, length = room
    x, y, yaw = view
    c, s = math.cos(yaw), math.sin(yaw)
    tx = ((width - x) / c if c > 0 else -x / c) if abs(c) > 1e-9 else math.inf
    ty = ((length - y) / s if s > 0 else -y / s) if abs(s) > 1e-9 else math.inf
    if ty < tx:
        return (1 if s > 0 else 0), x + ty * c
    return (2 if c > 0 else 3), y + tx * s


def _free_spot(
    rng: random.Random,
    room: tuple[float, float],
    half: tuple[float, float],
    taken: list[tuple[float, float, float, float]],
    layout: _Layout,
    against_wall: bool,
) -> tuple[float, float, float] | None:
    """Find (x, y, yaw) for a footprint of half sizes ``half`` (m) that overlaps nothing.

    ``taken`` holds axis-aligned footprints (x0, x1, y0, y1). Most tries are drawn where the camera
    looks. Returns None after 30 failed tries.
    """
    width, length = room
    vx, vy, vyaw = layout.view
    for _ in range(30):
        in_view = rng.random() < 0.7
        if against_wall:
            if in_view:  # near where the view axis meets a wall
                wall, at = _gaze_wall(room, layout.view)
                at += rng.uniform(-1.5, 1.5)
            else:
                wall = rng.randrange(4)
                at = rng.uniform(0.0, width if wall < 2 else length)
            yaw = (0.0, math.pi, 0.5 * math.pi, 1.5 * math.pi)[wall]
            # the box's local +y (its depth axis) points away from the wall it stands against
            hx, hy = (half[0], half[1]) if wall < 2 else (half[1], half[0])
            if hx > width / 2 or hy > length / 2:
                continue
            gap = 0.01
            if wall < 2:  # against y = 0 or y = length
                x, y = min(max(at, hx), width - hx), (hy + gap if wall == 0 else length - hy - gap)
            else:  # against x = width or x = 0
                x, y = (width - hx - gap if wall == 2 else hx + gap), min(max(at, hy), length - hy)
        else:
            yaw = rng.uniform(0.0, math.pi)
            c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
            hx, hy = c * half[0] + s * half[1], s * half[0] + c * half[1]
            if 2 * hx + 0.1 > width or 2 * hy + 0.1 > length:
                continue
            if in_view:
                distance, angle = rng.uniform(1.2, 5.0), vyaw + rng.uniform(-0.45, 0.45)
                x, y = vx + distance * math.cos(angle), vy + distance * math.sin(angle)
                if not (hx + 0.05 < x < width - hx - 0.05 and hy + 0.05 < y < length - hy - 0.05):
                    continue
            else:
                x, y = (
                    rng.uniform(hx + 0.05, width - hx - 0.05),
                    rng.uniform(hy + 0.05, length - hy - 0.05),
                )
        box = (x - hx, x + hx, y - hy, y + hy)
        if any(
            box[0] < t[1] + 0.05
            and t[0] < box[1] + 0.05
            and box[2] < t[3] + 0.05
            and t[2] < box[3] + 0.05
            for t in taken
        ):
            continue
        keep_out = layout.keep_out
        nearest = np.hypot(
            np.maximum(0.0, np.maximum(box[0] - keep_out[:, 0], keep_out[:, 0] - box[1])),
            np.maximum(0.0, np.maximum(box[2] - keep_out[:, 1], keep_out[:, 1] - box[3])),
        )
        if nearest.min() < _CLEARANCE:
            continue
        taken.append(box)
        return float(x), float(y), float(yaw)
    return None


@dataclass
class _Furnishing:
    """What placing furniture in one room needs: the generator, the room, the layout, and the
    objects and footprints placed so far."""

    rng: random.Random
    room: tuple[float, float, float]
    layout: _Layout
    objects: list[_Object] = field(default_factory=list)
    taken: list[tuple[float, float, float, float]] = field(default_factory=list)

    def mat(self) -> _Material:  # plain is listed twice: drawn twice as often
        """A material for one object."""
        return _material(
            self.rng, (_PLAIN, _STRIPES, _CHECKER, _GRID, _RINGS, _PLAIN), (0.2, 0.9), (0.25, 0.95)
        )

    def spot(
        self, half: tuple[float, ...], against_wall: bool
    ) -> tuple[float, float, float] | None:
        """A free (x, y, yaw) for a footprint of half sizes ``half[:2]`` (:func:`_free_spot`)."""
        footprint = (half[0], half[1])
        return _free_spot(
            self.rng, self.room[:2], footprint, self.taken, self.layout, against_wall=against_wall
        )

    def small_on_top(
        self, x: float, y: float, yaw: float, top: float, half: tuple[float, float]
    ) -> None:
        """Stack a small box, sphere or cylinder on a surface at height ``top`` m, inside the
        surface's footprint: centre (x, y), half sizes ``half`` (m), turned by ``yaw``."""
        kind = self.rng.randrange(3)
        size = self.rng.uniform(0.05, 0.15)
        reach_x, reach_y = half[0] - 1.45 * size, half[1] - 1.45 * size
        if min(reach_x, reach_y) < 0:
            return
        lx, ly = self.rng.uniform(-reach_x, reach_x), self.rng.uniform(-reach_y, reach_y)
        c, s = math.cos(yaw), math.sin(yaw)
        cx, cy = x + c * lx - s * ly, y + s * lx + c * ly
        if kind == 0:
            box = (size, size * self.rng.uniform(0.5, 1.0), self.rng.uniform(0.04, 0.2))
            self.objects.append(
                _Box((cx, cy, top + box[2]), box, self.rng.uniform(0, math.pi), self.mat(), top)
            )
        elif kind == 1:
            self.objects.append(_Sphere((cx, cy, top + size), size, self.mat(), top))
        else:
            self.objects.append(
                _Cylinder(
                    (cx, cy), top, top + self.rng.uniform(0.08, 0.4), size * 0.8, self.mat(), top
                )
            )


def _cabinet(f: _Furnishing) -> None:
    """Tall or low box against a wall, perhaps with something on it."""
    half = (f.rng.uniform(0.3, 1.0), f.rng.uniform(0.18, 0.3), f.rng.uniform(0.25, 1.0))
    spot = f.spot(half[:2], against_wall=True)
    if spot:
        x, y, yaw = spot
        f.objects.append(_Box((x, y, half[2]), half, yaw, f.mat(), 0.0))
        if half[2] < 0.6 and f.rng.random() < 0.7:
            f.small_on_top(x, y, yaw, 2 * half[2], half[:2])


def _sofa(f: _Furnishing) -> None:
    """Seat and back rest against a wall."""
    half = (f.rng.uniform(0.6, 1.0), f.rng.uniform(0.35, 0.5), f.rng.uniform(0.2, 0.28))
    spot = f.spot(half[:2], against_wall=True)
    if spot:
        x, y, yaw = spot
        material = f.mat()
        f.objects.append(_Box((x, y, half[2]), half, yaw, material, 0.0))
        back = 0.09
        # local +y points away from the wall: the back rest is at local y = back - depth
        bx, by = x + math.sin(yaw) * (half[1] - back), y - math.cos(yaw) * (half[1] - back)
        f.objects.append(
            _Box(
                (bx, by, 2 * half[2] + 0.2),
                (half[0], back, 0.2),
                yaw,
                material,
                2 * half[2],
            )
        )


def _table(f: _Furnishing) -> None:
    """Top on four legs, things on it."""
    half = (f.rng.uniform(0.4, 0.8), f.rng.uniform(0.3, 0.5))
    spot = f.spot(half, against_wall=f.rng.random() < 0.3)
    if spot:
        x, y, yaw = spot
        top = f.rng.uniform(0.65, 0.8)
        material = f.mat()
        thick = 0.03
        f.objects.append(_Box((x, y, top - thick), (half[0], half[1], thick), yaw, material, top))
        c, s = math.cos(yaw), math.sin(yaw)
        for sx in (-1, 1):
            for sy in (-1, 1):
                lx, ly = sx * (half[0] - 0.06), sy * (half[1] - 0.06)
                leg = (x + c * lx - s * ly, y + s * lx + c * ly, (top - 2 * thick) / 2)
                f.objects.append(_Box(leg, (0.03, 0.03, (top - 2 * thick) / 2), yaw, material, 0.0))
        for _ in range(f.rng.randrange(0, 3)):
            f.small_on_top(x, y, yaw, top, half)


def _crate(f: _Furnishing) -> None:
    """Box on the floor, sometimes a second one stacked on it."""
    half = (f.rng.uniform(0.15, 0.4), f.rng.uniform(0.15, 0.4), f.rng.uniform(0.15, 0.4))
    spot = f.spot(half[:2], against_wall=False)
    if spot:
        x, y, yaw = spot
        f.objects.append(_Box((x, y, half[2]), half, yaw, f.mat(), 0.0))
        if f.rng.random() < 0.5:
            top = 2 * half[2]
            h2 = (
                half[0] * f.rng.uniform(0.5, 0.9),
                half[1] * f.rng.uniform(0.5, 0.9),
                f.rng.uniform(0.1, 0.3),
            )
            f.objects.append(
                _Box((x, y, top + h2[2]), h2, yaw + f.rng.uniform(-0.5, 0.5), f.mat(), top)
            )


def _ball(f: _Furnishing) -> None:
    """A ball on the floor."""
    r = f.rng.uniform(0.12, 0.4)
    spot = f.spot((r, r), against_wall=False)
    if spot:
        f.objects.append(_Sphere((spot[0], spot[1], r), r, f.mat(), 0.0))


def _column(f: _Furnishing) -> None:
    """Column, bin or stool."""
    r = f.rng.uniform(0.1, 0.35)
    spot = f.spot((r, r), against_wall=False)
    if spot:
        top = float(f.rng.uniform(0.3, min(2.0, f.room[2] - 0.3)))
        f.objects.append(_Cylinder(spot[:2], 0.0, top, r, f.mat(), 0.0))


_FURNITURE = {"cabinet": _cabinet, "table": _table, "crate": _crate, "sofa": _sofa, "ball": _ball}


def _furnish(rng: random.Random, room: tuple[float, float, float], layout: _Layout) -> list:
    """Furniture-like objects for a room of (width, length, height) m, clear of the camera."""
    furnishing = _Furnishing(rng, room, layout)
    n_items = rng.randrange(3, 8)
    for _ in range(n_items):
        item = rng.choices(
            ("cabinet", "table", "crate", "sofa", "ball", "column"), weights=(5, 3, 4, 2, 3, 3)
        )[0]
        _FURNITURE.get(item, _column)(furnishing)
    return furnishing.objects


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


# ------------------------------------------------------------------------------------- rendering


def synthetic_intrinsics(size: tuple[int, int]) -> np.ndarray:
    """NYU Depth v2 intrinsics scaled to ``size`` = (H, W): float32 (4,) fx, fy, cx, cy pixels.

    Scaled by :func:`depthnb.data.io.scale_intrinsics` (about pixel centres), so a room rendered
    at 480x640 and resized with :func:`depthnb.data.transforms.resize` carries the intrinsics of
    the same room rendered at the smaller size.
    """
    return np.array(scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, size), dtype=np.float32)


@lru_cache(maxsize=16)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates (u - cx) / fx, shape (W,), and (v - cy) / fy, shape (H,)."""
    fx, fy, cx, cy = synthetic_intrinsics((h, w)).tolist()
    a = ((np.arange(w) - cx) / fx).astype(np.float32)
    b = ((np.arange(h) - cy) / fy).astype(np.float32)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise DataError(f"synthetic rooms: size must be (H, W), got {size!r}") from None
    if h < 8 or w < 8:
        raise DataError(
            f"synthetic rooms: size (H, W) = {size!r} is too small; use at least (8, 8)"
        )
    return h, w


def _lines(u: np.ndarray, period: float, width: float, footprint: np.ndarray) -> np.ndarray:
    """Coverage in [0,1] of lines ``width`` m wide every ``period`` m along ``u``.

    A line covers ``width / footprint`` of a pixel wider than it; as pixels grow towards the period
    the coverage blends into its mean, ``width / period`` (no moire).
    """
    dist = np.abs(u * (1.0 / period) - np.floor(u * (1.0 / period) + 0.5)) * period
    seen = np.maximum(footprint, width)
    coverage = (dist < 0.5 * seen) * (width / seen)
    mean = width / period
    return mean + (coverage - mean) * _fade(footprint, period)


def _fade(footprint: np.ndarray, period: float) -> np.ndarray:
    """Contrast left in [0,1] of a pattern of ``period`` m seen by pixels of ``footprint`` m."""
    return np.clip(1.5 - footprint * (3.0 / period), 0.0, 1.0)


def _square(u: np.ndarray, period: float, footprint: np.ndarray) -> np.ndarray:
    """Anti-aliased square wave in [-1, 1] along ``u`` (m) with ``period`` m.

    A triangle wave steepened so that each edge spans one pixel footprint, faded to 0 (the mean)
    before the period reaches two pixels.
    """
    x = u * (1.0 / period)
    x -= np.floor(x)
    x -= 0.5
    wave = np.abs(x) * 4.0 - 1.0
    wave *= period * 0.5 / (footprint + 1e-6)
    np.clip(wave, -1.0, 1.0, out=wave)
    wave *= _fade(footprint, period)
    return wave


def _hash(i: np.ndarray) -> np.ndarray:
    """Pseudo-random value in [0,1) per integer-valued float ``i`` (|i| < 1000)."""
    x = i * (0.7548776662 + i * 0.0915)
    return x - np.floor(x)


def _pattern(
    m: _Material, u: np.ndarray, v: np.ndarray, w: np.ndarray | None, footprint: np.ndarray
) -> np.ndarray:
    """Mix factor in [0,1] between the material's colours a (0) and b (1) at surface coords (m)."""
    p = m.period
    if m.kind == _PLAIN:
        return np.zeros_like(u)
    if m.kind == _STRIPES:
        return 0.5 + 0.5 * _square(u, p, footprint)
    if m.kind == _CHECKER:
        s = _square(u, p, footprint) * _square(v, p, footprint)
        if w is not None:
            s *= _square(w, p, footprint)
        return 0.5 + 0.5 * s
    if m.kind == _GRID:
        line = np.maximum(_lines(u, p, m.line, footprint), _lines(v, p, m.line, footprint))
        if w is not None:
            line = np.maximum(line, _lines(w, p, m.line, footprint))
        return line
    if m.kind == _PLANKS:  # boards of width p along u, of random length, with random tints
        board = np.floor(v * (1.0 / p))
        seams = np.maximum(
            _lines(v, p, m.line, footprint), _lines(u + _hash(board) * 3.0, 1.5, m.line, footprint)
        )
        tint = 0.35 * _hash(board + 7.0) * _fade(footprint, p)
        return np.maximum(seams, tint)
    if m.kind == _RINGS:  # wood-like rings around the local x axis (3-D coordinates only)
        r = np.sqrt(v * v + w * w) + 0.2 * p * _hash(np.floor(u * 4.0))  # type: ignore[operator]
        return 0.5 + 0.5 * _square(r, p, footprint)
    # bricks: courses of height p/3 with staggered joints every p
    course = np.floor(v * (3.0 / p))
    joint = _lines(u + 0.5 * p * (course - 2.0 * np.floor(course * 0.5)), p, m.line, footprint)
    return np.maximum(joint, _lines(v, p / 3.0, m.line, footprint))


def _albedo(m: _Material, mix: np.ndarray) -> np.ndarray:
    """(3,n) linear albedo (channels first) from a (n,) mix factor between colours a and b."""
    a = np.asarray(m.color_a, dtype=np.float32)[:, None]
    if m.kind == _PLAIN:
        return np.broadcast_to(a, (3, mix.size))
    b = np.asarray(m.color_b, dtype=np.float32)[:, None]
    return a + (b - a) * mix


def _to_uint8(linear: np.ndarray, tint: tuple[float, float, float]) -> np.ndarray:
    """Linear radiance (3,...) lit by light of colour ``tint`` -> display uint8 (...,3), gamma 2."""
    out = linear * np.asarray(tint, dtype=np.float32).reshape((3,) + (1,) * (linear.ndim - 1))
    np.sqrt(out, out=out)
    out *= 255.0
    out += 0.5
    np.minimum(out, 255.0, out=out)
    return np.ascontiguousarray(np.moveaxis(out.astype(np.uint8), 0, -1))


class _Rays:
    """Ray directions of a view, (H,W) each: p = origin + t d; d's camera z = 1, so t = z-depth."""

    def __init__(self, cam: _Camera, size: tuple[int, int]):
        self.h, self.w = size
        self.intrinsics = synthetic_intrinsics(size)
        self.fx = float(self.intrinsics[0])
        a, b = _pixel_grid(self.h, self.w)
        r = cam.rotation.tolist()
        self.cam = cam
        self.origin = cam.position
        # d_world = R @ (a, b, 1): separable in rows and columns, one broadcast add each; (H,W) each
        self.d = [(r[i][0] * a)[None, :] + (r[i][1] * b + r[i][2])[:, None] for i in range(3)]

    def rect(self, corners: np.ndarray) -> tuple[slice, slice] | None:
        """Pixel rows and columns that can see inside the convex hull of ``corners`` (K,3) m."""
        q = (corners - np.asarray(self.origin)) @ self.cam.rotation
        z = q[:, 2]
        if (z <= 0.01).all():
            return None
        if (z <= 0.01).any():
            return slice(0, self.h), slice(0, self.w)
        fx, fy, cx, cy = self.intrinsics.tolist()
        u, v = fx * q[:, 0] / z + cx, fy * q[:, 1] / z + cy
        c0, c1 = max(0, math.floor(u.min())), min(self.w, math.ceil(u.max()) + 1)
        r0, r1 = max(0, math.floor(v.min())), min(self.h, math.ceil(v.max()) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)


_SIGNS = np.array(
    [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
)


def _corners(obj: _Object) -> np.ndarray:
    """(8,3) corners of a box enclosing the object, metres."""
    if isinstance(obj, _Box):
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        local = _SIGNS * obj.half
        turn = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        return local @ turn + obj.center
    if isinstance(obj, _Sphere):
        return _SIGNS * obj.radius + obj.center
    mid = 0.5 * (obj.z0 + obj.z1)
    return _SIGNS * (obj.radius, obj.radius, obj.z1 - mid) + (obj.center[0], obj.center[1], mid)


def _intersect(
    obj: _Object, o: tuple, dx: np.ndarray, dy: np.ndarray, dz: np.ndarray
) -> np.ndarray:
    """Ray parameter t of the first hit (inf if none) of rays ``o`` + t (dx, dy, dz), all (h,w)."""
    if isinstance(obj, _Box):  # slab method in the box's frame
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        px, py, pz = (o[i] - obj.center[i] for i in range(3))
        ox, oy = c * px + s * py, -s * px + c * py
        lx, ly = c * dx + s * dy, c * dy - s * dx
        tmin = tmax = None
        for d, oo, hh in ((lx, ox, obj.half[0]), (ly, oy, obj.half[1]), (dz, pz, obj.half[2])):
            t1 = (-hh - oo) / d
            t2 = (hh - oo) / d
            near, far = np.minimum(t1, t2), np.maximum(t1, t2)
            tmin = near if tmin is None else np.maximum(tmin, near, out=tmin)
            tmax = far if tmax is None else np.minimum(tmax, far, out=tmax)
        return np.where((tmax >= tmin) & (tmin > 0), tmin, _INF)  # type: ignore[operator,return-value]
    if isinstance(obj, _Sphere):
        ox, oy, oz = (o[i] - obj.center[i] for i in range(3))
        a = dx * dx + dy * dy + dz * dz
        b = ox * dx + oy * dy + oz * dz
        disc = b * b - a * (ox * ox + oy * oy + oz * oz - obj.radius**2)
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
        return np.where((disc > 0) & (t > 0), t, _INF)
    # upright cylinder: side from the 2-D circle, then the cap that faces the ray's origin
    ox, oy, oz = o[0] - obj.center[0], o[1] - obj.center[1], o[2]
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    disc = b * b - a * (ox * ox + oy * oy - obj.radius**2)
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    z = oz + t * dz
    t = np.where((disc > 0) & (z >= obj.z0) & (z <= obj.z1) & (t > 0), t, _INF)
    above, below = np.greater(oz, obj.z1), np.less(oz, obj.z0)
    if above.any() or below.any():
        tc = (np.where(above, obj.z1, obj.z0) - oz) / dz
        x, y = ox + tc * dx, oy + tc * dy
        cap = (above | below) & (x * x + y * y <= obj.radius**2) & (tc > 0)
        t = np.minimum(t, np.where(cap, tc, _INF))
    return t


def _bounding_sphere(corners: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """Centre (m) and radius (m) of a sphere around ``corners`` (K,3) m."""
    center = corners.mean(axis=0)
    return tuple(center.tolist()), float(np.sqrt(((corners - center) ** 2).sum(axis=1).max()))


def _may_shade(
    spheres: list[tuple[tuple[float, float, float], float]],
    k: int,
    j: int,
    lamp: tuple[float, float, float] | None,
    sun: tuple[float, float, float] | None,
) -> bool:
    """Whether object ``j`` can cast a shadow on object ``k`` (bounding ``spheres``) from the point
    light at ``lamp`` or the directional light towards ``sun`` (unit vector): a cheap, conservative
    test that leaves out most pairs."""
    (ck, rk), (cj, rj) = spheres[k], spheres[j]
    if sun is not None:  # j must lie in the cylinder swept from k towards the sun
        d = [a - b for a, b in zip(cj, ck)]
        along = sum(a * b for a, b in zip(d, sun))
        across = math.sqrt(max(0.0, sum(a * a for a in d) - along * along))
        return along > -(rk + rj) and across < rk + rj
    # j must lie in the cone from the lamp around k, and not beyond k
    assert lamp is not None  # without a sun, the light is the lamp
    to_k, to_j = [a - b for a, b in zip(ck, lamp)], [a - b for a, b in zip(cj, lamp)]
    dk, dj = math.hypot(*to_k), math.hypot(*to_j)
    if dj - rj > dk + rk:
        return False
    if dk <= rk or dj <= rj:
        return True
    cos = sum(a * b for a, b in zip(to_k, to_j)) / (dk * dj)
    return math.acos(min(1.0, max(-1.0, cos))) < math.asin(rk / dk) + math.asin(rj / dj)


def _shadows(
    room: _Room,
    spheres: list[tuple[tuple[float, float, float], float]],
    bounds: np.ndarray,
    start: tuple[np.ndarray, np.ndarray, np.ndarray],
    lamp_offset: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """(n,) True where object points ``start`` (sorted by object: object k owns the points
    ``bounds[k]:bounds[k + 1]``) do not see the lamp (through ``lamp_offset`` = lamp - start, for
    0 < t < 1) or, if ``lamp_offset`` is None, the sun, because another object is in the way."""
    shadowed = np.zeros(start[0].shape, dtype=bool)
    lamp, sun = (room.lamp_pos, None) if lamp_offset is not None else (None, room.sun_dir)
    direction, t_max = (lamp_offset, 1.0) if lamp_offset is not None else (room.sun_dir, _INF)
    seen = [k for k in range(len(room.objects)) if bounds[k] < bounds[k + 1]]
    for j, obj in enumerate(room.objects):
        if any(k != j and _may_shade(spheres, k, j, lamp, sun) for k in seen):
            hit = _intersect(obj, start, *direction) < t_max
            hit[bounds[j] : bounds[j + 1]] = False  # convex objects do not shade themselves
            shadowed |= hit
    return shadowed


def _object_surface(obj: _Object, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple:
    """World unit normal (nx, ny, nz) and local texture coordinates (u, v, w) at hit points (n,)."""
    if isinstance(obj, _Box):
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        x, y, z = px - obj.center[0], py - obj.center[1], pz - obj.center[2]
        u, v = c * x + s * y, -s * x + c * y
        hx, hy, hz = obj.half
        rx, ry, rz = np.abs(u) * (1 / hx), np.abs(v) * (1 / hy), np.abs(z) * (1 / hz)
        on_x = (rx >= ry) & (rx >= rz)
        on_y = ~on_x & (ry >= rz)
        on_z = ~on_x & ~on_y
        nlx, nly = on_x * np.sign(u), on_y * np.sign(v)
        normal = (c * nlx - s * nly, s * nlx + c * nly, on_z * np.sign(z))
        return normal, (u, v, z)
    if isinstance(obj, _Sphere):
        x, y, z = px - obj.center[0], py - obj.center[1], pz - obj.center[2]
        k = 1.0 / obj.radius
        return (x * k, y * k, z * k), (x, y, z)
    x, y = px - obj.center[0], py - obj.center[1]
    radial = np.sqrt(x * x + y * y)
    cap = (obj.radius - radial) > np.minimum(np.abs(pz - obj.z1), np.abs(pz - obj.z0))
    inverse = ~cap / np.maximum(radial, 1e-6)
    nz = cap * np.sign(pz - 0.5 * (obj.z0 + obj.z1))
    return (x * inverse, y * inverse, nz), (x, y, pz - obj.z0)


def _lamp_light(
    room: _Room, lx: np.ndarray, ly: np.ndarray, lz: np.ndarray | float, cos_d: np.ndarray | float
) -> np.ndarray:
    """Irradiance (n,) from the lamp at offset (lx, ly, lz) = lamp - p; cos_d = n . (lamp - p)."""
    inv = 1.0 / (lx * lx + ly * ly + lz * lz + 0.3)
    return cos_d * (room.lamp * inv * np.sqrt(inv))


def _sky_light(room: _Room, normal: tuple[float, float, float]) -> float:
    """Irradiance from hemisphere ambient and sun on a surface with unit ``normal``: a constant."""
    sun_cos = max(0.0, sum(n * s for n, s in zip(normal, room.sun_dir)))
    return room.ambient * (0.8 + 0.2 * normal[2]) + room.sun * sun_cos


# Shell faces: (normal, in-plane axes (u, v), plane axis, plane coordinate as 0 = low or 1 = high).
# Walls 0..3 are the ones _free_spot puts furniture against.
_FACES = (
    ((0.0, 1.0, 0.0), (0, 2), 1, 0),  # 0: wall y = 0
    ((0.0, -1.0, 0.0), (0, 2), 1, 1),  # 1: wall y = length
    ((-1.0, 0.0, 0.0), (1, 2), 0, 1),  # 2: wall x = width
    ((1.0, 0.0, 0.0), (1, 2), 0, 0),  # 3: wall x = 0
    ((0.0, 0.0, 1.0), (0, 1), 2, 0),  # 4: floor
    ((0.0, 0.0, -1.0), (0, 1), 2, 1),  # 5: ceiling
)


def _corner_light(gap: np.ndarray) -> np.ndarray:
    """Share (0.65..1) of light reaching a point ``gap`` m from a concave edge (cheap occlusion)."""
    q = np.maximum(1.0 - gap * 2.5, 0.0)
    return 1.0 - 0.35 * q * q


def _shell_albedo(
    room: _Room, face: int, u: np.ndarray, v: np.ndarray, footprint: np.ndarray
) -> np.ndarray:
    """(3,n) albedo of shell face ``face`` at in-plane coordinates (u, v) m."""
    if face == 4:
        fu, fv = (u, v) if room.floor_along_x else (v, u)
        albedo = _albedo(room.floor, _pattern(room.floor, fu, fv, None, footprint))
        if room.rug is not None:
            x0, x1, y0, y1 = room.rug
            on = (u > x0) & (u < x1) & (v > y0) & (v < y1)
            if on.any():
                albedo = albedo.copy()
                albedo[:, on] = _albedo(
                    room.rug_material,
                    _pattern(room.rug_material, u[on], v[on], None, footprint[on]),
                )
        return albedo
    if face == 5:
        return _albedo(room.ceiling, _pattern(room.ceiling, u, v, None, footprint))
    if face == room.accent_wall:
        albedo = np.empty((3, u.size), dtype=np.float32)
        albedo[:] = np.asarray(room.accent, dtype=np.float32)[:, None]
    else:
        albedo = _albedo(room.wall, _pattern(room.wall, u, v, None, footprint)).copy()
    albedo[:, v < room.baseboard] = np.reshape(room.baseboard_color, (3, 1))
    for panel in room.panels:
        if panel.wall != face:
            continue
        inside = (u > panel.h0) & (u < panel.h1) & (v > panel.z0) & (v < panel.z1)
        if inside.any():
            uu, vv = u[inside], v[inside]
            edge = np.minimum(
                np.minimum(uu - panel.h0, panel.h1 - uu), np.minimum(vv - panel.z0, panel.z1 - vv)
            )
            albedo[:, inside] = np.where(
                edge < panel.border,
                np.reshape(panel.frame, (3, 1)),
                np.reshape(panel.color, (3, 1)),
            )
    return albedo


def _shell(room: _Room, rays: _Rays) -> tuple[np.ndarray, np.ndarray]:
    """Depth (H,W) m and linear colour (3,H,W) of the empty room seen by ``rays``."""
    o = rays.origin
    dx, dy, dz = rays.d
    size = (room.width, room.length, room.height)
    tx = np.maximum(-o[0] / dx, (size[0] - o[0]) / dx)
    ty = np.maximum(-o[1] / dy, (size[1] - o[1]) / dy)
    tz = np.maximum(-o[2] / dz, (size[2] - o[2]) / dz)
    t = np.minimum(np.minimum(tx, ty), tz)
    up, north, east = (dz > 0).view(np.int8), (dy > 0).view(np.int8), (dx <= 0).view(np.int8)
    face = np.where(tz == t, up + np.int8(4), np.where(ty == t, north, east + np.int8(2))).ravel()
    tf = t.ravel()
    d = [di.ravel() for di in rays.d]
    color = np.empty((3, tf.size), dtype=np.float32)
    for k, (normal, (iu, iv), axis, high) in enumerate(_FACES):
        idx = np.flatnonzero(face == k)
        if idx.size == 0:
            continue
        tk = tf[idx]
        u, v = o[iu] + tk * d[iu][idx], o[iv] + tk * d[iv][idx]
        camera_gap = size[axis] - o[axis] if high else o[axis]
        lamp_gap = size[axis] - room.lamp_pos[axis] if high else room.lamp_pos[axis]
        # the pixel's footprint on the plane, m: t / (fx |n . d|), and |n . d| = camera_gap / t
        footprint = tk * tk * (1.0 / (rays.fx * camera_gap))
        irradiance = _lamp_light(
            room, room.lamp_pos[iu] - u, room.lamp_pos[iv] - v, lamp_gap, lamp_gap
        )
        irradiance += _sky_light(room, normal)
        # darkening towards the room's edges and corners (a cheap ambient occlusion)
        e1 = np.minimum(u, size[iu] - u)
        e2 = np.minimum(v, size[iv] - v)
        irradiance *= _corner_light(e1) * _corner_light(e2)
        color[:, idx] = _shell_albedo(room, k, u, v, footprint) * irradiance
    return t, color.reshape(3, rays.h, rays.w)


def _shade_objects(
    room: _Room,
    rays: _Rays,
    depth: np.ndarray,
    owner: np.ndarray,
    spheres: list[tuple[tuple[float, float, float], float]],
    image: np.ndarray,
) -> None:
    """Shade every object pixel (``owner`` (H,W) >= 0, hit at z-depth ``depth``) into ``image``
    (H,W,3) uint8: texture, hemisphere ambient, sun and lamp with the shadows objects cast on each
    other, darkening where an object touches its support."""
    owned = owner.ravel()
    pixels = np.flatnonzero(owned >= 0)
    if pixels.size == 0:
        return
    pixels = pixels[np.argsort(owned[pixels], kind="stable")]  # grouped by object
    bounds = np.searchsorted(owned[pixels], np.arange(len(room.objects) + 1))
    t = depth.ravel()[pixels]
    d = [di.ravel()[pixels] for di in rays.d]
    px, py, pz = (o + t * di for o, di in zip(rays.origin, d))
    n = pixels.size
    nx, ny, nz, support = (np.empty(n, dtype=np.float32) for _ in range(4))
    albedo = np.empty((3, n), dtype=np.float32)
    for k, obj in enumerate(room.objects):
        part = slice(bounds[k], bounds[k + 1])
        if part.start == part.stop:
            continue
        normal, (u, v, w) = _object_surface(obj, px[part], py[part], pz[part])
        nx[part], ny[part], nz[part] = normal
        cos = np.abs(normal[0] * d[0][part] + normal[1] * d[1][part] + normal[2] * d[2][part])
        footprint = t[part] / (rays.fx * np.maximum(cos, 1e-3))
        albedo[:, part] = _albedo(obj.material, _pattern(obj.material, u, v, w, footprint))
        support[part] = obj.support
    lx, ly, lz = room.lamp_pos[0] - px, room.lamp_pos[1] - py, room.lamp_pos[2] - pz
    lamp = _lamp_light(room, lx, ly, lz, np.maximum(nx * lx + ny * ly + nz * lz, 0.0))
    sx, sy, sz = room.sun_dir
    sun = room.sun * np.maximum(nx * sx + ny * sy + nz * sz, 0.0)
    # shadows that objects cast on each other (none on the room, so the background stays exact)
    start = (px + 1e-3 * nx, py + 1e-3 * ny, pz + 1e-3 * nz)
    lamp[_shadows(room, spheres, bounds, start, (lx, ly, lz))] = 0.0
    sun[_shadows(room, spheres, bounds, start, None)] = 0.0
    irradiance = lamp + sun + room.ambient * (0.8 + 0.2 * nz)
    contact = np.maximum(1.0 - (pz - support) * 6.0, 0.0)  # 1 where the object meets its support
    irradiance *= 1.0 - 0.45 * contact * contact
    image.reshape(-1, 3)[pixels] = _to_uint8(albedo * irradiance, room.tint)


def _render(room: _Room, cam: _Camera, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Render one view of ``room``: image, depth, mask, background and intrinsics (numpy)."""
    rays = _Rays(cam, size)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        depth, background = _shell(room, rays)
        image = _to_uint8(background, room.tint)
        background = image.copy()
        dx, dy, dz = rays.d
        owner = np.full(depth.shape, -1, dtype=np.int16)
        corners = [_corners(obj) for obj in room.objects]
        spheres = [_bounding_sphere(c) for c in corners]
        rects = [rays.rect(c) for c in corners]
        for k, (obj, rect) in enumerate(zip(room.objects, rects)):
            if rect is not None:
                t = _intersect(obj, rays.origin, dx[rect], dy[rect], dz[rect])
                closer = t < depth[rect]
                depth[rect][closer] = t[closer]
                owner[rect][closer] = k
        _shade_objects(room, rays, depth, owner, spheres, image)
    return {
        "image": image,
        "depth": depth,
        "mask": owner >= 0,
        "background": background,
        "intrinsics": rays.intrinsics,
    }


# ------------------------------------------------------------------------------------- public API


def render_room(
    seed: int, size: tuple[int, int] = (240, 320), index: int = 0
) -> dict[str, np.ndarray]:
    """Render room ``index`` of the series ``seed``; the scene depends on (seed, index) only.

    Returns numpy arrays: ``image`` uint8 (H,W,3); ``depth`` float32 (H,W) metres, z-depth along the
    optical axis, within about 0.6..10; ``mask`` bool (H,W), True on objects; ``background`` uint8
    (H,W,3), the same view of the empty room (equal to ``image`` outside ``mask``); ``intrinsics``
    float32 (4,) fx, fy, cx, cy in pixels (NYU's, scaled to ``size`` = (H, W)).
    The same (seed, index) at another size shows the same scene.
    """
    return _render(*_scene(seed, index), _check_size(size))


def _scene(seed: int, index: int) -> tuple[_Room, _Camera]:
    """The room and camera of scene (seed, index)."""
    rng = random.Random(f"depthnb-room/{int(seed)}/{int(index)}")
    layouts: list[_Layout] = []

    def place_camera(width: float, length: float) -> _Layout:
        x, y, yaw = _camera_spot(rng, width, length)
        layouts.append(_Layout(np.array([[x, y]]), (x, y, yaw)))
        return layouts[0]

    room = _sample_room(rng, place_camera)
    x, y, yaw = layouts[0].view
    # A hand-held camera at chest to eye height (NYU Depth v2 was filmed so), looking about
    # level or a little down. From one image, absolute scale is only fixed by such cues (how high
    # the camera is above the floor, the horizon's row, the sizes of furniture); with heights
    # 1.0-1.7 m and pitches -25..+3 degrees, a U-Net trained for minutes got the layout but not
    # the scale (held-out delta1 after 4 epochs 0.66, against 0.82 with 1.3-1.6 m and -15..0
    # degrees; the main job's notes are in benchmarks/bench_main_job.py).
    height = float(rng.uniform(1.3, min(1.6, room.height - 0.8)))
    pitch = math.radians(rng.uniform(-15.0, 3.0))
    roll = math.radians(rng.uniform(-4.0, 4.0))
    return room, _camera((x, y, height), yaw, pitch, roll)


def render_camera_path(
    seed: int, n_frames: int, size: tuple[int, int] = (240, 320)
) -> dict[str, np.ndarray]:
    """Render ``n_frames`` views of one room along a smooth camera path (a slow dolly with a pan).

    Position, yaw, pitch and roll follow eased curves (zero velocity at both ends), so consecutive
    frames differ a little. Returns ``image`` uint8 (T,H,W,3), ``depth`` float32 (T,H,W) metres,
    ``mask`` bool (T,H,W), ``background`` uint8 (T,H,W,3), ``intrinsics`` float32 (4,).
    """
    h, w = _check_size(size)
    if int(n_frames) < 1:
        raise DataError(f"render_camera_path: n_frames must be >= 1, got {n_frames!r}")
    rng = random.Random(f"depthnb-path/{int(seed)}")
    path: dict[str, Any] = {}

    def place_camera(width: float, length: float) -> _Layout:
        """A straight dolly of 0.5..1.5 m from a spot looking across the room."""
        m = _CLEARANCE
        for _ in range(100):
            x, y, yaw = _camera_spot(rng, width, length)
            heading = yaw + rng.uniform(-1.2, 1.2)
            distance = rng.uniform(0.5, 1.5)
            end = np.array([x + distance * math.cos(heading), y + distance * math.sin(heading)])
            if m <= end[0] <= width - m and m <= end[1] <= length - m:
                break
        else:
            end = np.array([x, y])
        start = np.array([x, y])
        path.update(start=start, end=end, yaw=yaw, pan=math.radians(rng.uniform(-25.0, 25.0)))
        middle = 0.5 * (start + end)
        positions = start + np.linspace(0.0, 1.0, 16)[:, None] * (end - start)
        pan = float(path["pan"])
        return _Layout(positions, (float(middle[0]), float(middle[1]), yaw + 0.5 * pan))

    room = _sample_room(rng, place_camera)
    height = float(rng.uniform(1.0, min(1.6, room.height - 0.9)))
    pan = path["pan"]
    pitch0, pitch1 = (math.radians(rng.uniform(-20.0, 0.0)) for _ in range(2))
    roll0, roll1 = (math.radians(rng.uniform(-3.0, 3.0)) for _ in range(2))
    bob = rng.uniform(0.0, 0.05)
    frames = []
    for i in range(int(n_frames)):
        s = i / max(1, int(n_frames) - 1)
        e = 0.5 - 0.5 * math.cos(math.pi * s)  # eased: smooth start and stop
        xy = path["start"] + e * (path["end"] - path["start"])
        cam = _camera(
            (xy[0], xy[1], height + bob * math.sin(math.pi * s)),
            path["yaw"] + pan * e,
            pitch0 + (pitch1 - pitch0) * e,
            roll0 + (roll1 - roll0) * e,
        )
        frames.append(_render(room, cam, (h, w)))
    out = {
        key: np.stack([f[key] for f in frames]) for key in ("image", "depth", "mask", "background")
    }
    out["intrinsics"] = frames[0]["intrinsics"]
    return out


def to_sample(render: dict[str, np.ndarray], fgbg: bool = False) -> Sample:
    """Convert one view of :func:`render_room` to the sample of :mod:`depthnb.data.sample`.

    ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres, ``valid`` bool (1,H,W)
    (depth > 0), ``intrinsics`` float32 (4,); with ``fgbg`` also ``mask`` float32 (1,H,W) in {0,1}
    and ``background`` float32 (3,H,W) in [0,1]. The same conversion as every reader's
    (:func:`depthnb.data.io.make_sample`).
    """
    depth = render["depth"]
    return make_sample(
        render["image"],
        depth,
        depth > 0,
        render["intrinsics"],
        mask=render["mask"] if fgbg else None,
        background=render["background"] if fgbg else None,
    )


def _check_length(name: str, length: int) -> int:
    """``length`` as an int >= 1, else DataError."""
    try:
        value = int(length)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise DataError(f"{name}: length must be an int >= 1 (number of scenes), got {length!r}")
    return value


class SyntheticRooms(Dataset):
    """``length`` procedural rooms as samples (image, depth, valid, intrinsics); item i is
    ``to_sample(render_room(seed, size, index=i))`` passed through ``transform``."""

    _fgbg = False

    def __init__(
        self,
        length: int,
        size: tuple[int, int] = (240, 320),
        seed: int = 0,
        transform: Transform | None = None,
    ):
        self.length = _check_length(type(self).__name__, length)
        self.size = _check_size(size)
        self.seed = int(seed)
        self.transform = transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not -self.length <= index < self.length:
            raise IndexError(
                f"{type(self).__name__} index {index} out of range for length {self.length}"
            )
        sample = to_sample(
            render_room(self.seed, self.size, index=index % self.length), fgbg=self._fgbg
        )
        return self.transform(sample) if self.transform is not None else sample


class SyntheticFgBg(SyntheticRooms):
    """:class:`SyntheticRooms` with ``mask`` float32 (1,H,W) and ``background`` float32 (3,H,W)."""

    _fgbg = True


class SyntheticCameraPath(Dataset):
    """The ``n_frames`` views of :func:`render_camera_path` as samples (with mask and background).

    The whole path is rendered once, on first access, and kept.
    """

    def __init__(
        self,
        n_frames: int,
        size: tuple[int, int] = (240, 320),
        seed: int = 0,
        transform: Transform | None = None,
    ):
        self.n_frames = _check_length(type(self).__name__, n_frames)
        self.size = _check_size(size)
        self.seed = int(seed)
        self.transform = transform
        self._frames: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, index: int) -> Sample:
        if not -self.n_frames <= index < self.n_frames:
            raise IndexError(
                f"SyntheticCameraPath index {index} out of range for {self.n_frames} frames"
            )
        if self._frames is None:
            self._frames = render_camera_path(self.seed, self.n_frames, self.size)
        frame = {key: value[index] for key, value in self._frames.items() if key != "intrinsics"}
        frame["intrinsics"] = self._frames["intrinsics"]
        sample = to_sample(frame, fgbg=True)
        return self.transform(sample) if self.transform is not None else sample
