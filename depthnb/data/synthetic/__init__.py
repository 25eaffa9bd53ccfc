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

Modules: ``scene`` (the scene's dataclasses and the camera), ``textures`` (materials and
patterns), ``furniture`` and ``rooms`` (drawing a room), ``camera`` (intrinsics and rays),
``raycast`` (hits on objects), ``shading`` (shell, lights and shadows), ``render`` (views, rooms
and camera paths), ``datasets`` (samples and the datasets), ``street`` (an outdoor scene with
LiDAR-like depth). This package re-exports their public names and the few private ones the tests
reach for.
"""

from depthnb.data.synthetic.camera import synthetic_intrinsics
from depthnb.data.synthetic.datasets import Sample as Sample
from depthnb.data.synthetic.datasets import (
    SyntheticCameraPath,
    SyntheticFgBg,
    SyntheticRooms,
    to_sample,
)
from depthnb.data.synthetic.render import _render as _render
from depthnb.data.synthetic.render import _scene as _scene
from depthnb.data.synthetic.render import render_camera_path, render_room
from depthnb.data.synthetic.scene import _Box as _Box
from depthnb.data.synthetic.scene import _Sphere as _Sphere
from depthnb.data.synthetic.street import render_street

__all__ = [
    "SyntheticCameraPath",
    "SyntheticFgBg",
    "SyntheticRooms",
    "render_camera_path",
    "render_room",
    "render_street",
    "synthetic_intrinsics",
    "to_sample",
]
