"""Rendering synthetic rooms: one view of a room, a room of a (seed, index) series, and a room
seen along a smooth camera path."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from depthnb.data.synthetic.camera import _check_size, _Rays
from depthnb.data.synthetic.furniture import _Layout
from depthnb.data.synthetic.raycast import _bounding_sphere, _corners, _intersect
from depthnb.data.synthetic.rooms import _camera_spot, _sample_room
from depthnb.data.synthetic.scene import _CLEARANCE, _Camera, _camera, _Room, _scale_scene
from depthnb.data.synthetic.shading import _shade_objects, _shell, _to_uint8
from depthnb.errors import ArgumentError


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


def render_room(
    seed: int, size: tuple[int, int] = (240, 320), index: int = 0, scale: float = 1.0
) -> dict[str, np.ndarray]:
    """Render room ``index`` of the series ``seed``; the scene depends on (seed, index) only.

    Returns numpy arrays: ``image`` uint8 (H,W,3); ``depth`` float32 (H,W) metres, z-depth along the
    optical axis, within about 0.6..10; ``mask`` bool (H,W), True on objects; ``background`` uint8
    (H,W,3), the same view of the empty room (equal to ``image`` outside ``mask``); ``intrinsics``
    float32 (4,) fx, fy, cx, cy in pixels (NYU's, scaled to ``size`` = (H, W)).
    The same (seed, index) at another size shows the same scene.

    ``scale`` = k > 0 renders the same scene with every world length times k (the room, its
    furniture and textures, the camera's position; the lamp k**2 times as strong): the image is
    the same, up to float rounding, and ``depth`` is k times as large. One image cannot tell them.
    """
    k = float(scale)
    if not (math.isfinite(k) and k > 0):
        raise ArgumentError(f"render_room: scale must be a finite number > 0, got {scale!r}")
    room, cam = _scene(seed, index)
    if k != 1.0:
        room, cam = _scale_scene(room, cam, k)
    return _render(room, cam, _check_size(size))


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
    # the camera is above the floor, the horizon's row, the sizes of furniture); with wider
    # ranges of height and pitch, a U-Net trained for minutes got the layout but not the scale
    # (the figures: benchmarks/bench_main_job.py).
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
    ``mask`` bool (T,H,W), ``background`` uint8 (T,H,W,3), ``intrinsics`` float32 (4,), and
    ``pose`` float64 (T,4,4): each frame's world-from-camera transform (camera frame X right, Y
    down, Z forward; world z up; metres), so a camera-frame point p lies at
    ``pose[t, :3, :3] @ p + pose[t, :3, 3]`` in the room.
    """
    h, w = _check_size(size)
    if int(n_frames) < 1:
        raise ArgumentError(f"render_camera_path: n_frames must be >= 1, got {n_frames!r}")
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
    frames, poses = [], np.tile(np.eye(4), (int(n_frames), 1, 1))
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
        poses[i, :3, :3], poses[i, :3, 3] = cam.rotation, cam.position
    out = {
        key: np.stack([f[key] for f in frames]) for key in ("image", "depth", "mask", "background")
    }
    out["intrinsics"] = frames[0]["intrinsics"]
    out["pose"] = poses
    return out
