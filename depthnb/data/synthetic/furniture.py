"""Furniture of the synthetic rooms: free spots clear of the camera, and cabinets, sofas, tables,
crates, balls and columns placed on the floor, against walls or on each other."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from depthnb.data.synthetic.scene import (
    _CHECKER,
    _CLEARANCE,
    _GRID,
    _PLAIN,
    _RINGS,
    _STRIPES,
    _Box,
    _Cylinder,
    _Material,
    _Object,
    _Sphere,
)
from depthnb.data.synthetic.textures import _material


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
