"""Lighting and shading of the synthetic rooms: the room shell (faces, panels, rug, corner
darkening), object surfaces, lamp, sun and ambient light, shadows objects cast on each other,
and the conversion of linear radiance to display uint8."""

from __future__ import annotations

import math

import numpy as np

from depthnb.data.synthetic.camera import _Rays
from depthnb.data.synthetic.raycast import _intersect
from depthnb.data.synthetic.scene import _INF, _Box, _Object, _Room, _Sphere
from depthnb.data.synthetic.textures import _albedo, _pattern


def _to_uint8(linear: np.ndarray, tint: tuple[float, float, float]) -> np.ndarray:
    """Linear radiance (3,...) lit by light of colour ``tint`` -> display uint8 (...,3), gamma 2."""
    out = linear * np.asarray(tint, dtype=np.float32).reshape((3,) + (1,) * (linear.ndim - 1))
    np.sqrt(out, out=out)
    out *= 255.0
    out += 0.5
    np.minimum(out, 255.0, out=out)
    return np.ascontiguousarray(np.moveaxis(out.astype(np.uint8), 0, -1))


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
    inv = 1.0 / (lx * lx + ly * ly + lz * lz + 0.3 * room.unit * room.unit)
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
        irradiance *= _corner_light(e1 / room.unit) * _corner_light(e2 / room.unit)
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
    lift = 1e-3 * room.unit
    start = (px + lift * nx, py + lift * ny, pz + lift * nz)
    lamp[_shadows(room, spheres, bounds, start, (lx, ly, lz))] = 0.0
    sun[_shadows(room, spheres, bounds, start, None)] = 0.0
    irradiance = lamp + sun + room.ambient * (0.8 + 0.2 * nz)
    # 1 where the object meets its support, fading out over a sixth of a (room) metre
    contact = np.maximum(1.0 - (pz - support) * (6.0 / room.unit), 0.0)
    irradiance *= 1.0 - 0.45 * contact * contact
    image.reshape(-1, 3)[pixels] = _to_uint8(albedo * irradiance, room.tint)
