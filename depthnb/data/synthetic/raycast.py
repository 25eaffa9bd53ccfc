"""Analytic ray casting for the synthetic rooms: enclosing corners and bounding spheres of objects,
and the first hit of rays on a box (slabs), a sphere or an upright cylinder."""

from __future__ import annotations

import math

import numpy as np

from depthnb.data.synthetic.scene import _INF, _Box, _Object, _Sphere

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
        assert tmin is not None and tmax is not None  # the loop ran over three axes
        hit: np.ndarray = np.where((tmax >= tmin) & (tmin > 0), tmin, _INF)
        return hit
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
