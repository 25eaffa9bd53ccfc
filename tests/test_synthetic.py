"""Synthetic RGB-D rooms: determinism, z-depth through the intrinsics, fg/bg, the datasets."""

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import depthnb
from depthnb.data import synthetic
from depthnb.data.synthetic import (
    SyntheticCameraPath,
    SyntheticFgBg,
    SyntheticRooms,
    render_camera_path,
    render_room,
    synthetic_intrinsics,
    to_sample,
)

SIZE = (48, 64)


@pytest.fixture(scope="module")
def scenes() -> list[dict]:
    return [render_room(3, SIZE, index=i) for i in range(40)]


def test_render_room_arrays(scenes):
    for r in scenes[:5]:
        assert set(r) == {"image", "depth", "mask", "background", "intrinsics"}
        assert r["image"].dtype == np.uint8 and r["image"].shape == (*SIZE, 3)
        assert r["background"].dtype == np.uint8 and r["background"].shape == (*SIZE, 3)
        assert r["depth"].dtype == np.float32 and r["depth"].shape == SIZE
        assert r["mask"].dtype == bool and r["mask"].shape == SIZE
        assert r["intrinsics"].dtype == np.float32 and r["intrinsics"].shape == (4,)
        assert all(array.flags.c_contiguous for array in r.values())


def test_deterministic_for_seed_and_index(scenes):
    again = render_room(3, SIZE, index=2)
    for key in again:
        np.testing.assert_array_equal(again[key], scenes[2][key])
    assert not np.array_equal(scenes[2]["depth"], scenes[3]["depth"])
    assert not np.array_equal(render_room(4, SIZE, index=2)["depth"], scenes[2]["depth"])


def test_same_scene_at_twice_the_size():
    # Pixels are areas: pixel k at size (H, W) covers pixels 2k and 2k + 1 at (2H, 2W), and its ray
    # is the mean of theirs (intrinsics scaled about pixel centres). On a plane, inverse depth is
    # affine in the pixel coordinates, so 1 / depth of the small render is the mean of 1 / depth
    # over each 2x2 block of the large one (except where the block straddles an edge).
    small, large = (
        render_room(5, SIZE, index=1),
        render_room(5, (2 * SIZE[0], 2 * SIZE[1]), index=1),
    )
    block = (1 / large["depth"]).reshape(SIZE[0], 2, SIZE[1], 2).mean(axis=(1, 3))
    assert np.isclose(1 / block, small["depth"], rtol=1e-3).mean() > 0.95
    # not pixel 2k's ray (what scaling cx by W'/W without the half-pixel terms would give)
    assert np.isclose(large["depth"][::2, ::2], small["depth"], rtol=1e-3).mean() < 0.5


def test_a_room_scaled_by_k_gives_the_same_image_and_k_times_the_depth():
    # Every world length (room, furniture, textures, camera position) times k: each ray meets the
    # same surface point, scaled, so colours repeat and z-depth grows k-fold. k = 2 and 1/2 are
    # exact in floating point; k = 3 rounds, and a ray grazing an outline may flip.
    base = render_room(6, SIZE, index=3)
    for k in (2.0, 0.5):
        scaled = render_room(6, SIZE, index=3, scale=k)
        for key in ("image", "background", "mask", "intrinsics"):
            np.testing.assert_array_equal(scaled[key], base[key])
        np.testing.assert_array_equal(scaled["depth"], k * base["depth"])
    three = render_room(6, SIZE, index=3, scale=3.0)
    assert (np.abs(three["image"].astype(int) - base["image"]).max(axis=-1) <= 1).mean() > 0.99
    assert np.isclose(three["depth"], 3 * base["depth"], rtol=1e-4).mean() > 0.99
    # the geometry really is scaled: the camera and the room are three times as large
    room, cam = synthetic._scene(6, 3)
    big_room, big_cam = synthetic.render._scale_scene(room, cam, 3.0)
    assert big_room.height == pytest.approx(3 * room.height)
    assert big_cam.position == pytest.approx(tuple(3 * x for x in cam.position))
    assert big_room.floor.period == pytest.approx(3 * room.floor.period)
    with pytest.raises(depthnb.ArgumentError, match="scale"):
        render_room(6, SIZE, scale=0.0)


def test_depth_range_and_objects(scenes):
    depths = np.stack([r["depth"] for r in scenes])
    assert np.isfinite(depths).all()
    assert depths.min() >= 0.5 and depths.max() <= 10.0
    assert np.percentile(depths.reshape(len(scenes), -1).max(axis=1), 90) > 4.0  # rooms, not boxes
    with_objects = np.mean([r["mask"].mean() > 0.01 for r in scenes])
    assert with_objects > 0.8


def test_intrinsics_scale_with_size():
    np.testing.assert_allclose(
        synthetic_intrinsics((480, 640)), depthnb.data.NYU_INTRINSICS, rtol=1e-6
    )
    fx, fy, cx, cy = depthnb.data.NYU_INTRINSICS  # about pixel centres: (c + 0.5) s - 0.5
    np.testing.assert_allclose(
        synthetic_intrinsics((240, 320)),
        [fx / 2, fy / 2, (cx + 0.5) / 2 - 0.5, (cy + 0.5) / 2 - 0.5],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        synthetic_intrinsics((120, 320)), [259.42895, 129.8674, 162.5412, 63.05905], rtol=1e-6
    )
    np.testing.assert_array_equal(
        render_room(0, (120, 320))["intrinsics"], synthetic_intrinsics((120, 320))
    )


def _back_project(depth: np.ndarray, intrinsics: np.ndarray, camera) -> np.ndarray:
    """World points (H,W,3) from z-depth: X = (u - cx) Z / fx, Y = (v - cy) Z / fy, then pose."""
    fx, fy, cx, cy = intrinsics
    v, u = np.mgrid[: depth.shape[0], : depth.shape[1]]
    points = np.stack([(u - cx) * depth / fx, (v - cy) * depth / fy, depth], axis=-1)
    return points @ camera.rotation.T + np.asarray(camera.position)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_depth_is_z_depth_through_the_intrinsics(index):
    room, camera = synthetic._scene(7, index)
    empty = dataclasses.replace(room, objects=())
    render = synthetic._render(empty, camera, SIZE)
    assert not render["mask"].any()
    np.testing.assert_array_equal(render["image"], render["background"])
    p = _back_project(render["depth"].astype(np.float64), render["intrinsics"], camera)
    # every back-projected point of the empty room lies on one of its six planes
    gaps = np.stack(
        [
            p[..., 0],
            room.width - p[..., 0],
            p[..., 1],
            room.length - p[..., 1],
            p[..., 2],
            room.height - p[..., 2],
        ]
    )
    # (reading depth as the ray length would put points up to ~25 % of their depth off the planes)
    assert np.abs(gaps).min(axis=0).max() < 1e-3
    assert (np.abs(p[..., 2]) < 1e-3).sum() > 50  # the floor is in view
    ray_length = (
        render["depth"] * np.linalg.norm(p - np.asarray(camera.position), axis=-1) / render["depth"]
    )
    wrong = _back_project(ray_length, render["intrinsics"], camera)
    wrong_gaps = np.stack([wrong[..., 2], room.height - wrong[..., 2]])
    assert np.abs(wrong_gaps).min(axis=0).max() > 0.01


def _surface_distance(obj, p: np.ndarray) -> np.ndarray:
    """Signed distance (m) from points p (n,3) to the surface of a scene object."""
    if isinstance(obj, synthetic._Box):
        c, s = np.cos(obj.yaw), np.sin(obj.yaw)
        x, y, z = (p - obj.center).T
        q = np.abs(np.stack([c * x + s * y, -s * x + c * y, z], axis=1)) - obj.half
    elif isinstance(obj, synthetic._Sphere):
        return np.linalg.norm(p - obj.center, axis=1) - obj.radius
    else:
        radial = np.hypot(p[:, 0] - obj.center[0], p[:, 1] - obj.center[1])
        q = np.stack([radial - obj.radius, np.maximum(obj.z0 - p[:, 2], p[:, 2] - obj.z1)], axis=1)
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_object_depth_lands_on_object_surfaces(index):
    room, camera = synthetic._scene(8, index)
    render = synthetic._render(room, camera, SIZE)
    assert render["mask"].any()
    p = _back_project(render["depth"].astype(np.float64), render["intrinsics"], camera)
    on_objects = p[render["mask"]]
    distance = np.min([np.abs(_surface_distance(obj, on_objects)) for obj in room.objects], axis=0)
    assert distance.max() < 2e-3
    # every object pixel is nearer than the empty room behind it
    empty = synthetic._render(dataclasses.replace(room, objects=()), camera, SIZE)
    assert (render["depth"][render["mask"]] < empty["depth"][render["mask"]]).all()


def test_objects_are_where_image_differs_from_background(scenes):
    changed = []
    for r in scenes:
        differs = (r["image"] != r["background"]).any(axis=-1)
        assert not differs[~r["mask"]].any()  # outside the mask image == background exactly
        changed.append(differs[r["mask"]])
    assert np.concatenate(changed).mean() > 0.9


def test_brightness_does_not_encode_depth(scenes):
    brightness = np.concatenate([r["image"].mean(axis=-1).ravel() for r in scenes])
    depth = np.concatenate([r["depth"].ravel() for r in scenes])
    assert abs(np.corrcoef(brightness, depth)[0, 1]) < 0.3
    assert abs(np.corrcoef(brightness, np.log(depth))[0, 1]) < 0.3


def test_textures_and_colours_vary(scenes):
    means = np.array([r["image"].reshape(-1, 3).mean(axis=0) for r in scenes])
    assert means.std(axis=0).min() > 10  # colours change from room to room
    grad = np.mean([np.abs(np.diff(r["image"].astype(float), axis=1)).mean() for r in scenes])
    assert grad > 2.0  # not flat-shaded blobs


def test_camera_path_is_smooth():
    path = render_camera_path(2, 12, SIZE)
    assert path["image"].shape == (12, *SIZE, 3) and path["image"].dtype == np.uint8
    assert path["depth"].shape == (12, *SIZE) and path["depth"].dtype == np.float32
    assert path["mask"].shape == (12, *SIZE) and path["background"].shape == (12, *SIZE, 3)
    assert path["intrinsics"].shape == (4,)
    pose = path[
        "pose"
    ]  # world-from-camera; the renderer's depths agree with it (test_reprojection)
    assert pose.shape == (12, 4, 4) and np.all(pose[:, 3] == [0, 0, 0, 1])
    np.testing.assert_allclose(
        pose[:, :3, :3] @ pose[:, :3, :3].transpose(0, 2, 1),
        np.eye(3)[None].repeat(12, 0),
        atol=1e-12,
    )
    assert 0.4 < np.linalg.norm(pose[-1, :3, 3] - pose[0, :3, 3]) < 1.6  # the 0.5..1.5 m dolly
    depth = path["depth"]
    step = np.abs(np.diff(depth, axis=0)).mean(axis=(1, 2)) / depth.mean()
    assert step.max() < 0.1  # consecutive frames differ a little
    assert np.abs(depth[-1] - depth[0]).mean() / depth.mean() > step.max()  # but the camera moves
    np.testing.assert_array_equal(render_camera_path(2, 12, SIZE)["image"], path["image"])


def test_rooms_dataset_sample_contract():
    seen = []
    dataset = SyntheticRooms(
        3, size=SIZE, seed=1, transform=lambda s: {**s, "seen": seen.append(1) or 1}
    )
    assert len(dataset) == 3
    sample = dataset[0]
    assert seen == [1] and sample["seen"] == 1
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, *SIZE)
    assert 0.0 <= sample["image"].min() and sample["image"].max() <= 1.0
    assert sample["depth"].dtype == torch.float32 and sample["depth"].shape == (1, *SIZE)
    assert sample["valid"].dtype == torch.bool and sample["valid"].all()
    assert sample["intrinsics"].dtype == torch.float32 and sample["intrinsics"].shape == (4,)
    render = render_room(1, SIZE, index=2)
    np.testing.assert_array_equal(
        SyntheticRooms(3, SIZE, seed=1)[2]["depth"][0].numpy(), render["depth"]
    )
    batch = next(iter(DataLoader(SyntheticRooms(4, SIZE), batch_size=2)))
    assert batch["image"].shape == (2, 3, *SIZE) and batch["intrinsics"].shape == (2, 4)
    with pytest.raises(IndexError):
        dataset[3]


def test_fgbg_dataset_and_to_sample():
    sample = SyntheticFgBg(2, SIZE, seed=4)[1]
    render = render_room(4, SIZE, index=1)
    assert sample["mask"].dtype == torch.float32 and sample["mask"].shape == (1, *SIZE)
    assert sample["background"].dtype == torch.float32 and sample["background"].shape == (3, *SIZE)
    np.testing.assert_array_equal(sample["mask"][0].numpy(), render["mask"].astype(np.float32))
    np.testing.assert_allclose(
        sample["background"].permute(1, 2, 0).numpy() * 255, render["background"], atol=1e-3
    )
    assert set(to_sample(render)) == {"image", "depth", "valid", "intrinsics"}
    assert "mask" not in SyntheticRooms(1, SIZE)[0]


def test_camera_path_dataset_renders_once():
    dataset = SyntheticCameraPath(5, SIZE, seed=2)
    assert len(dataset) == 5
    first = dataset[0]
    frames = dataset._frames
    last = dataset[-1]
    assert dataset._frames is frames
    assert set(first) == {"image", "depth", "valid", "intrinsics", "mask", "background"}
    np.testing.assert_array_equal(
        last["depth"][0].numpy(), render_camera_path(2, 5, SIZE)["depth"][4]
    )
    with pytest.raises(IndexError):
        dataset[5]


def test_bad_arguments_raise_argument_and_data_errors():
    with pytest.raises(depthnb.ArgumentError, match="size"):
        render_room(0, (4, 4))
    with pytest.raises(depthnb.ArgumentError, match="size"):
        SyntheticRooms(2, size=(48,))
    with pytest.raises(depthnb.ArgumentError, match="length"):
        SyntheticRooms(0)
    with pytest.raises(depthnb.ArgumentError, match="n_frames"):
        render_camera_path(0, 0, SIZE)
