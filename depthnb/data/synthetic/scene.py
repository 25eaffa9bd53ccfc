"""The scene description of the synthetic rooms: materials, objects, panels, the room and the
camera (frozen dataclasses), the pattern kinds, and the camera built from yaw, pitch and roll."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TypeVar, cast

import numpy as np

_CLEARANCE = 0.7  # metres between the camera (or its path) and any wall or object, horizontally
_INF = np.float32(np.inf)
_Tuple = TypeVar("_Tuple", bound=tuple[float, ...])

# Pattern kinds. Shell and object materials use the same small set.
_PLAIN, _STRIPES, _CHECKER, _GRID, _PLANKS, _RINGS, _BRICKS = range(7)


@dataclass(frozen=True)
class _Material:
    """A two-colour procedural texture: ``kind`` mixes ``color_a`` and ``color_b`` (linear RGB)."""

    kind: int
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    period: float  # metres
    line: float = 0.01  # line width for grids, planks and bricks, metres
    unit: float = 1.0  # metres per unit of the patterns' fixed lengths (k in a room scaled by k)


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
    unit: float = 1.0  # metres per unit of the shading's fixed lengths (k in a room scaled by k)


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


def _scale_scene(room: _Room, cam: _Camera, k: float) -> tuple[_Room, _Camera]:
    """The same room and camera with every world length times ``k`` (> 0), so the image is the same.

    Positions, sizes, texture periods and the camera's position scale by ``k``; its orientation
    does not. The lamp is ``k**2`` times as strong (its light falls off with the square of the
    distance), and the renderer's own fixed lengths (corner and contact darkening) scale through
    ``unit``. Depth along every ray is then ``k`` times as large.
    """

    def pt(p: _Tuple) -> _Tuple:
        return cast(_Tuple, tuple(k * x for x in p))

    def mat(m: _Material) -> _Material:
        return replace(m, period=k * m.period, line=k * m.line, unit=k * m.unit)

    def obj(o: _Object) -> _Object:
        if isinstance(o, _Box):
            return replace(o, center=pt(o.center), half=pt(o.half))
        if isinstance(o, _Sphere):
            return replace(o, center=pt(o.center), radius=k * o.radius)
        return replace(o, center=pt(o.center), z0=k * o.z0, z1=k * o.z1, radius=k * o.radius)

    def panel(p: _Panel) -> _Panel:
        return replace(p, h0=k * p.h0, h1=k * p.h1, z0=k * p.z0, z1=k * p.z1, border=k * p.border)

    objects = tuple(
        replace(obj(o), material=mat(o.material), support=k * o.support) for o in room.objects
    )
    scaled = replace(
        room,
        width=k * room.width,
        length=k * room.length,
        height=k * room.height,
        floor=mat(room.floor),
        wall=mat(room.wall),
        ceiling=mat(room.ceiling),
        baseboard=k * room.baseboard,
        rug=None if room.rug is None else pt(room.rug),
        rug_material=mat(room.rug_material),
        panels=tuple(panel(p) for p in room.panels),
        lamp_pos=pt(room.lamp_pos),
        lamp=k * k * room.lamp,
        objects=objects,
        unit=k * room.unit,
    )
    return scaled, _Camera(pt(cam.position), cam.rotation)
