"""Point clouds: back-projection, intrinsics through resizes and crops, normals, flat floors."""

import matplotlib
import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from depthnb import ArgumentError, DepthnbError
from depthnb.viz import (
    depth_to_points,
    intrinsics_from_fov,
    normals_from_depth,
    plot_points,
    plot_points_plotly,
)

matplotlib.use("Agg")

# An analytic box room seen by a level camera: floor 1.5 m below it (Y down), ceiling 1.2 m above,
# side walls at X = -2 and X = 2.5, back wall at Z = 6 (metres, camera frame).
PLANES = {
    "floor": (1, 1.5),
    "ceiling": (1, -1.2),
    "left": (0, -2.0),
    "right": (0, 2.5),
    "back": (2, 6.0),
}
INTRINSICS = np.array([60.0, 60.0, 39.5, 29.5], np.float32)  # 80x60 pixels


def box_room(h=60, w=80, intrinsics=INTRINSICS):
    """z-depth (H,W) metres and the name of the plane each pixel sees."""
    fx, fy, cx, cy = intrinsics
    v, u = np.indices((h, w), dtype=np.float64)
    ray = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)])  # Z = 1 per unit ray
    hits = []
    for axis, offset in PLANES.values():
        with np.errstate(divide="ignore"):
            t = offset / ray[axis]
        hits.append(np.where(t > 0, t, np.inf))
    hits = np.stack(hits)
    return hits.min(0).astype(np.float32), np.array(list(PLANES))[hits.argmin(0)]


def _fit_plane(points):
    """Unit normal and RMS residual (metres) of the least-squares plane through (N,3) points."""
    centred = points - points.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[-1], singular[-1] / np.sqrt(len(points))


def test_back_projection_formula_and_colours():
    depth, _ = box_room()
    depth[0, :5] = 0.0
    depth[1, 0] = np.nan
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    points, colors = depth_to_points(
        torch.from_numpy(depth)[None], torch.from_numpy(INTRINSICS), image
    )
    assert points.dtype == np.float32 and points.shape == (60 * 80 - 6, 3)
    assert colors.dtype == np.uint8 and colors.shape == points.shape
    v, u = 30, 70
    fx, fy, cx, cy = INTRINSICS
    z = depth[v, u]
    expected = [(u - cx) * z / fx, (v - cy) * z / fy, z]
    index = v * 80 + u - 6  # row-major order, six pixels dropped before it
    assert np.allclose(points[index], expected) and (colors[index] == image[v, u]).all()
    float_colors = depth_to_points(depth, INTRINSICS, image.transpose(2, 0, 1) / 255.0)[1]
    assert float_colors.dtype == np.float32 and float_colors.max() <= 1.0
    assert len(depth_to_points(depth, INTRINSICS, stride=4)) == 15 * 20 - 2
    with pytest.raises(DepthnbError, match="intrinsics"):
        depth_to_points(depth, [1.0, 2.0, 3.0])
    with pytest.raises(DepthnbError, match="differ in size"):
        depth_to_points(depth, INTRINSICS, image[:10])
    with pytest.raises(DepthnbError, match="valid .* differ in size"):
        depth_to_points(depth, INTRINSICS, valid=np.ones((10, 10), bool))


def test_box_room_cloud_has_flat_floor_and_square_corners():
    depth, label = box_room()
    points = depth_to_points(depth, INTRINSICS)
    floor = points[label.reshape(-1) == "floor"]
    normal, residual = _fit_plane(floor)
    assert residual < 1e-5 and abs(normal[1]) > 0.9999
    normals = normals_from_depth(depth, INTRINSICS)
    inner = np.zeros_like(label, dtype=bool)
    inner[2:-2, 2:-2] = True
    n_floor = np.median(normals[(label == "floor") & inner], axis=0)  # median: skip the edges
    n_back = np.median(normals[(label == "back") & inner], axis=0)
    assert np.allclose(n_floor, [0, -1, 0], atol=1e-4)  # up, towards the camera
    assert np.allclose(n_back, [0, 0, -1], atol=1e-4)
    assert abs(float(n_floor @ n_back)) < 1e-4  # a square corner
    assert np.allclose(np.linalg.norm(normals[inner & (label == "floor")], axis=-1), 1.0, atol=1e-5)


def _cluster(points, normals, candidates, normal_atol=0.002):
    """Points whose normal is within about 4 degrees of the candidates' median normal."""
    median = np.median(normals[candidates], axis=0)
    median /= np.linalg.norm(median)
    return points[candidates & (normals @ median > 1 - normal_atol)]


@pytest.mark.parametrize("seed", [3, 11])
def test_synthetic_room_floor_is_planar_and_meets_walls_at_right_angles(seed):
    from depthnb.data import render_room

    room = render_room(seed=seed, size=(120, 160))
    depth = np.where(room["mask"], 0.0, room["depth"])  # the room's shell: walls, floor, ceiling
    points = depth_to_points(depth, room["intrinsics"])
    normals = normals_from_depth(depth, room["intrinsics"])[depth > 0]
    # the camera is pitched and rolled a little: the floor's normals point roughly up (-Y)
    floor = _cluster(points, normals, normals @ [0.0, -1.0, 0.0] > 0.7)
    assert len(floor) > 300
    floor_normal, residual = _fit_plane(floor)
    assert residual < 0.005, f"floor is not flat: rms {residual:.4f} m off its plane"
    # walls: normals at right angles to the floor's; take the most common wall direction
    wall_like = np.abs(normals @ floor_normal) < 0.1
    directions, counts = np.unique(np.round(normals[wall_like], 1), axis=0, return_counts=True)
    main = np.zeros(len(normals), bool)
    main[wall_like] = (np.round(normals[wall_like], 1) == directions[counts.argmax()]).all(1)
    wall = _cluster(points, normals, main)
    assert len(wall) > 300
    wall_normal, wall_residual = _fit_plane(wall)
    assert wall_residual < 0.005
    angle = np.degrees(np.arccos(abs(float(floor_normal @ wall_normal))))
    assert angle == pytest.approx(90.0, abs=0.5), f"wall meets floor at {angle:.2f} degrees"


def _agree_in_3d(cloud, reference):
    distance, _ = cKDTree(reference).query(cloud)
    return float(np.median(distance)), float(np.percentile(distance, 95))


def test_cloud_survives_resize_and_crop_with_updated_intrinsics():
    from depthnb.data import render_room, transforms

    room = render_room(seed=1, size=(120, 160))
    sample = {
        "image": torch.from_numpy(room["image"]).permute(2, 0, 1).float() / 255,
        "depth": torch.from_numpy(room["depth"])[None],
        "valid": torch.from_numpy(room["depth"] > 0)[None],
        "intrinsics": torch.from_numpy(room["intrinsics"]),
    }
    reference = depth_to_points(sample["depth"], sample["intrinsics"])
    changed = transforms.center_crop(transforms.resize(sample, (90, 120)), (64, 96))
    cloud = depth_to_points(changed["depth"], changed["intrinsics"])
    median, p95 = _agree_in_3d(cloud, reference)
    assert median < 0.02 and p95 < 0.06, (median, p95)
    stale = depth_to_points(changed["depth"], sample["intrinsics"])  # intrinsics not updated
    assert _agree_in_3d(stale, reference)[0] > 5 * median + 0.05


def test_intrinsics_from_fov():
    fx, fy, cx, cy = intrinsics_from_fov((480, 640), 90.0)
    assert fx == pytest.approx(320.0) and fy == fx and (cx, cy) == (319.5, 239.5)
    with pytest.raises(DepthnbError, match="between 0 and 180"):
        intrinsics_from_fov((480, 640), 180.0)
    with pytest.raises(TypeError):  # the old (width, height, fov) order cannot pass silently
        intrinsics_from_fov(640, 480, 90.0)
    with pytest.raises(ArgumentError, match=r"\(H, W\)"):
        intrinsics_from_fov(640, 90.0)


def test_the_one_default_field_of_view_is_nyus_colour_camera():
    """NYU_FOV_DEG is derived from NYU's fx, so the default gives NYU's fx back at 640x480, and
    the explorer assumes the same camera."""
    import inspect

    from depthnb.data import NYU_INTRINSICS
    from depthnb.geometry import NYU_FOV_DEG
    from depthnb.viz.explorer import DepthExplorer

    assert NYU_FOV_DEG == pytest.approx(63.33, abs=0.01)
    fx, fy, cx, cy = intrinsics_from_fov((480, 640))
    assert fx == pytest.approx(NYU_INTRINSICS[0], rel=1e-6) and fy == fx
    assert inspect.signature(DepthExplorer).parameters["fov_deg"].default == NYU_FOV_DEG


def test_plot_points_one_scatter_equal_axes_subsampled():
    depth, _ = box_room()
    points, colors = depth_to_points(depth, INTRINSICS, np.zeros((60, 80, 3), np.uint8))
    ax = plot_points(points, colors, max_points=1000)
    assert len(ax.collections) == 1
    assert len(ax.collections[0].get_offsets()) == 1000
    aspect = ax.get_box_aspect()
    spans = np.ptp(points[:, [0, 2, 1]], axis=0)
    assert np.allclose(aspect / aspect.max(), spans / spans.max(), atol=0.05)
    assert "Z forward" in ax.get_ylabel() and "up" in ax.get_zlabel()


@pytest.mark.parametrize(
    "elev, azim, end_on", [(90, -90, "z"), (-88, 10, "z"), (0, -90, "y"), (3, 180, "x")]
)
def test_plot_points_blanks_only_the_axis_seen_end_on(elev, azim, end_on):
    import matplotlib.pyplot as plt

    depth, _ = box_room()
    ax = plot_points(depth_to_points(depth, INTRINSICS), elev=elev, azim=azim)
    ax.figure.canvas.draw()
    for name in "xyz":
        axis = getattr(ax, f"{name}axis")
        labels = [t.get_text() for t in axis.get_ticklabels()]
        if name == end_on:
            assert axis.get_label_text() == "" and not any(labels), (name, labels)
        else:
            assert axis.get_label_text().endswith("(m)") and any(labels), (name, labels)
    plt.close(ax.figure)


def test_plotly_view_or_a_clear_error():
    points = np.zeros((10, 3), np.float32)
    try:
        import plotly  # noqa: F401
    except ImportError:
        with pytest.raises(DepthnbError, match="pip install plotly"):
            plot_points_plotly(points)
    else:
        figure = plot_points_plotly(points, np.zeros((10, 3), np.uint8))
        assert figure.layout.scene.aspectmode == "data"
