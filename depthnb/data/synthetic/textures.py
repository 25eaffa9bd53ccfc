"""Materials and procedural textures of the synthetic rooms: random colours and materials, the
anti-aliased patterns (stripes, checks, grids, planks, rings, bricks) and their albedo."""

from __future__ import annotations

import colorsys
import random

import numpy as np

from depthnb.data.synthetic.scene import (
    _BRICKS,
    _CHECKER,
    _GRID,
    _PLAIN,
    _PLANKS,
    _RINGS,
    _STRIPES,
    _Material,
)


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


def _square(u: np.ndarray, period: float, footprint: np.ndarray, unit: float = 1.0) -> np.ndarray:
    """Anti-aliased square wave in [-1, 1] along ``u`` (m) with ``period`` m (``unit``: the
    material's, see :class:`_Material`).

    A triangle wave steepened so that each edge spans one pixel footprint, faded to 0 (the mean)
    before the period reaches two pixels.
    """
    x = u * (1.0 / period)
    x -= np.floor(x)
    x -= 0.5
    wave = np.abs(x) * 4.0 - 1.0
    wave *= period * 0.5 / (footprint + 1e-6 * unit)
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
        return 0.5 + 0.5 * _square(u, p, footprint, m.unit)
    if m.kind == _CHECKER:
        s = _square(u, p, footprint, m.unit) * _square(v, p, footprint, m.unit)
        if w is not None:
            s *= _square(w, p, footprint, m.unit)
        return 0.5 + 0.5 * s
    if m.kind == _GRID:
        line = np.maximum(_lines(u, p, m.line, footprint), _lines(v, p, m.line, footprint))
        if w is not None:
            line = np.maximum(line, _lines(w, p, m.line, footprint))
        return line
    if m.kind == _PLANKS:  # boards of width p along u, of random length, with random tints
        board = np.floor(v * (1.0 / p))
        seams = np.maximum(
            _lines(v, p, m.line, footprint),
            _lines(u + _hash(board) * (3.0 * m.unit), 1.5 * m.unit, m.line, footprint),
        )
        tint = 0.35 * _hash(board + 7.0) * _fade(footprint, p)
        return np.maximum(seams, tint)
    if m.kind == _RINGS:  # wood-like rings around the local x axis (3-D coordinates only)
        r = np.sqrt(v * v + w * w) + 0.2 * p * _hash(np.floor(u * (4.0 / m.unit)))  # type: ignore[operator]
        return 0.5 + 0.5 * _square(r, p, footprint, m.unit)
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
