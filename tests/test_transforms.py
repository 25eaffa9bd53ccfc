"""Joint transforms keep image, depth, valid, mask and intrinsics aligned (property tests).

The alignment test builds a sample whose depth encodes each pixel's own index (depth = 1 + 0.01 k
for pixel k = v * W + u), so after any chain of geometric transforms every surviving valid pixel
says which original pixel it came from. The test tracks, independently of the code under test,
where each output pixel must come from (a 3x3 map to original pixel coordinates) and how the 3D
world moved (mirror, roll, 1/s); back-projecting through the transformed intrinsics must then give
the original 3D point moved by that motion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from depthnb.data import transforms as T
from depthnb.errors import ArgumentError, DataError, ShapeError

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def code_sample(height: int, width: int, holes: np.ndarray, fx: float, fy: float) -> dict:
    """A sample whose depth is 1 + 0.01 * (v * W + u) metres, 0 in the holes; mask marks u < W/2."""
    index = torch.arange(height * width, dtype=torch.float32).reshape(1, height, width)
    valid = ~torch.from_numpy(holes).reshape(1, height, width)
    v, u = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    image = torch.stack(
        [u / (width - 1), v / (height - 1), torch.full_like(u, 0.5, dtype=torch.float32)]
    )
    return {
        "image": image.float(),
        "depth": torch.where(valid, 1 + 0.01 * index, 0.0),
        "valid": valid,
        "mask": (u < width / 2).float()[None],
        "background": 1 - image.float(),
        "intrinsics": torch.tensor([fx, fy, (width - 1) / 2 + 0.7, (height - 1) / 2 - 0.4]),
        "name": "passes through",
    }


def backproject(u: torch.Tensor, v: torch.Tensor, z: torch.Tensor, intrinsics) -> torch.Tensor:
    """(N,3) points X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z, in float64."""
    fx, fy, cx, cy = (float(x) for x in intrinsics)
    z = z.double()
    return torch.stack([(u.double() - cx) * z / fx, (v.double() - cy) * z / fy, z], dim=1)


# One step of a chain: (name, parameters drawn by hypothesis).
step = st.one_of(
    st.tuples(st.just("flip")),
    st.tuples(
        st.just("crop"), st.floats(0, 1), st.floats(0, 1), st.floats(0.6, 1), st.floats(0.6, 1)
    ),
    st.tuples(st.just("resize"), st.floats(0.6, 1.6), st.floats(0.6, 1.6)),
    st.tuples(st.just("scale"), st.floats(1.0, 1.5)),
    st.tuples(st.just("rotate"), st.floats(-20.0, 20.0)),
)


def apply_step(sample: dict, op: tuple, track: dict) -> dict:
    """Apply one step with the functional API and update the independent bookkeeping in ``track``.

    track["to_source"]: 3x3 map from current pixel (u, v, 1) to original pixel coordinates.
    track["motion"]: 3x3 map from original 3D points to current 3D points.
    track["tolerance"]: how far (original pixels) nearest-neighbour resampling may move a pixel.
    """
    height, width = sample["depth"].shape[1:]
    to_source = track["to_source"]
    pixel_size = float(np.abs(to_source[:2, :2]).sum(axis=0).max())
    name = op[0]
    if name == "flip":
        out = T.hflip(sample)
        step_map = np.array([[-1, 0, width - 1], [0, 1, 0], [0, 0, 1]], float)
        track["motion"] = np.diag([-1.0, 1.0, 1.0]) @ track["motion"]
    elif name == "crop":
        crop_h, crop_w = max(2, round(op[3] * height)), max(2, round(op[4] * width))
        top, left = round(op[1] * (height - crop_h)), round(op[2] * (width - crop_w))
        out = T.crop(sample, top, left, crop_h, crop_w)
        step_map = np.array([[1, 0, left], [0, 1, top], [0, 0, 1]], float)
    elif name in ("resize", "scale"):
        if name == "resize":
            new_h, new_w = max(2, round(op[1] * height)), max(2, round(op[2] * width))
            out = T.resize(sample, (new_h, new_w))
        else:
            factor = op[1]
            new_h, new_w = max(height, round(height * factor)), max(width, round(width * factor))
            out = T.scale(sample, factor)
            track["motion"] = track["motion"] / factor
            track["depth_scale"] *= factor
        sx, sy = new_w / width, new_h / height
        step_map = np.array([[1 / sx, 0, 0.5 / sx - 0.5], [0, 1 / sy, 0.5 / sy - 0.5], [0, 0, 1]])
        if name == "scale":  # then the centre crop back to (height, width)
            step_map = step_map @ np.array(
                [[1, 0, (new_w - width) // 2], [0, 1, (new_h - height) // 2], [0, 0, 1]]
            )
        track["tolerance"] += 0.71 * pixel_size
    else:
        angle = math.radians(op[1])
        out = T.rotate(sample, op[1])
        fx, fy, cx, cy = sample["intrinsics"].tolist()
        k = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        cos, sin = math.cos(angle), math.sin(angle)
        turn = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
        step_map = k @ turn @ np.linalg.inv(k)
        track["motion"] = turn.T @ track["motion"]
        track["tolerance"] += 0.71 * pixel_size
    track["to_source"] = to_source @ step_map
    return out


@SETTINGS
@given(
    height=st.integers(8, 20),
    width=st.integers(8, 20),
    seed=st.integers(0, 2**16),
    focal=st.floats(8.0, 30.0),
    aspect=st.floats(0.9, 1.1),
    chain=st.lists(step, min_size=1, max_size=4),
)
@example(16, 20, 0, 14.0, 1.05, [("rotate", 12.0), ("flip",), ("crop", 0.3, 0.6, 0.8, 0.7)])
@example(12, 18, 1, 10.0, 1.0, [("scale", 1.4), ("rotate", -9.0), ("resize", 1.5, 0.7)])
def test_chains_keep_pixels_and_3d_points_aligned(height, width, seed, focal, aspect, chain):
    holes = np.random.default_rng(seed).random((height, width)) < 0.2
    original = code_sample(height, width, holes, focal, focal * aspect)
    track = {"to_source": np.eye(3), "motion": np.eye(3), "tolerance": 1e-3, "depth_scale": 1.0}
    sample = original
    for op in chain:
        sample = apply_step(sample, op, track)
    T.check_sample(sample)
    assert sample["name"] == "passes through"
    valid = sample["valid"][0]
    depth = sample["depth"][0]
    assert (depth[valid] > 0).all(), "valid implies depth > 0"
    assert (depth[~valid] == 0).all(), "invalid pixels carry depth 0"
    v, u = torch.nonzero(valid, as_tuple=True)
    if len(u) == 0:
        return
    # Which original pixel did each survivor come from? Decode the depth code.
    z_original = depth[v, u].double() * track["depth_scale"]
    code = torch.round((z_original - 1) / 0.01).long()
    assert torch.allclose(z_original, 1 + 0.01 * code.double(), atol=1e-4)
    u0, v0 = code % width, code // width
    assert original["valid"][0, v0, u0].all(), "a valid pixel came from a hole"
    # Nearest-neighbour: the source pixel is within the resampling tolerance of the exact position.
    source = track["to_source"] @ np.stack([u.numpy(), v.numpy(), np.ones(len(u))])
    assert np.abs(source[0] - u0.numpy()).max() <= track["tolerance"]
    assert np.abs(source[1] - v0.numpy()).max() <= track["tolerance"]
    # The mask travelled with the depth.
    assert torch.equal(sample["mask"][0, v, u], original["mask"][0, v0, u0])
    # 3D: back-project through the new intrinsics, undo the known motion, compare.
    points = backproject(u, v, depth[v, u], sample["intrinsics"]).numpy()
    points_original = backproject(u0, v0, z_original, original["intrinsics"]).numpy()
    moved_back = (np.linalg.inv(track["motion"]) @ points.T).T
    error = np.linalg.norm(moved_back - points_original, axis=1)
    allowed = track["tolerance"] * 1.5 * z_original.numpy() / min(focal, focal * aspect) + 1e-4
    assert (error <= allowed).all()


@SETTINGS
@given(height=st.integers(4, 16), width=st.integers(4, 16), seed=st.integers(0, 2**16))
def test_flip_twice_is_identity(height, width, seed):
    holes = np.random.default_rng(seed).random((height, width)) < 0.3
    sample = code_sample(height, width, holes, 10.0, 11.0)
    twice = T.hflip(T.hflip(sample))
    for key in ("image", "depth", "valid", "mask", "background", "intrinsics"):
        assert torch.equal(twice[key], sample[key]), key
    once = T.hflip(sample)
    assert once["intrinsics"][2] == width - 1 - sample["intrinsics"][2]
    assert torch.equal(once["depth"][..., 0], sample["depth"][..., -1])


@SETTINGS
@given(
    height=st.integers(4, 24),
    width=st.integers(4, 24),
    out_h=st.integers(2, 40),
    out_w=st.integers(2, 40),
    seed=st.integers(0, 2**16),
    mode=st.sampled_from(["nearest", "valid_mean"]),
)
def test_resize_never_blends_depth_with_holes(height, width, out_h, out_w, seed, mode):
    rng = np.random.default_rng(seed)
    holes = torch.from_numpy(rng.random((1, height, width)) < 0.4)
    near, far = 2.0, 5.0
    depth = torch.where(torch.from_numpy(rng.random((1, height, width)) < 0.5), near, far)
    sample = {
        "image": torch.rand(3, height, width),
        "depth": torch.where(holes, 0.0, depth).float(),
        "valid": ~holes,
        "intrinsics": torch.tensor([10.0, 10.0, width / 2, height / 2]),
    }
    out = T.resize(sample, (out_h, out_w), depth_mode=mode)
    d, valid = out["depth"], out["valid"]
    assert d.shape == (1, out_h, out_w) and valid.dtype == torch.bool
    assert (d[~valid] == 0).all()
    assert (d[valid] >= near - 1e-5).all() and (d[valid] <= far + 1e-5).all()
    if mode == "nearest":
        assert set(d.unique().tolist()) <= {0.0, near, far}
    assert ((out["image"] >= 0) & (out["image"] <= 1)).all()


def test_resize_valid_mean_averages_only_valid_depths():
    depth = torch.tensor([[[2.0, 0.0, 4.0, 4.0]]]).expand(1, 2, 4).contiguous()
    sample = {
        "image": torch.zeros(3, 2, 4),
        "depth": depth,
        "valid": depth > 0,
        "intrinsics": torch.tensor([4.0, 4.0, 1.5, 0.5]),
    }
    out = T.resize(sample, (1, 2), depth_mode="valid_mean")
    assert out["valid"].tolist() == [[[True, True]]]
    # The antialiased triangle filter gives output pixel 0 the weights 0.75, 0.75, 0.25 on source
    # pixels 0, 1 (a hole) and 2: (0.75 * 2 + 0.25 * 4) / (0.75 + 0.25); the hole does not count.
    assert out["depth"][0, 0].tolist() == pytest.approx([2.5, 4.0])
    # pixel centres: cx' = (1.5 + 0.5) * 0.5 - 0.5, fx' = 4 * 0.5
    assert out["intrinsics"].tolist() == pytest.approx([2.0, 2.0, 0.5, 0.0])


def test_rotation_exposes_invalid_corners_and_keeps_intrinsics():
    sample = code_sample(24, 32, np.zeros((24, 32), bool), 30.0, 30.0)
    out = T.rotate(sample, 5.0)
    assert torch.equal(out["intrinsics"], sample["intrinsics"])
    assert not out["valid"][0, 0, 0] and not out["valid"][0, -1, -1]
    assert out["depth"][0, 0, 0] == 0 and out["valid"].float().mean() > 0.8
    assert torch.equal(T.rotate(sample, 0.0)["depth"], sample["depth"])


def test_rotation_by_a_right_angle_about_the_centre_is_rot90():
    sample = code_sample(9, 9, np.random.default_rng(1).random((9, 9)) < 0.3, 7.0, 7.0)
    sample["intrinsics"] = torch.tensor([7.0, 7.0, 4.0, 4.0])
    out = T.rotate(sample, 90.0)  # counter-clockwise on screen, like np.rot90
    for key in ("depth", "valid", "mask"):
        assert torch.equal(out[key], torch.rot90(sample[key], 1, dims=(1, 2))), key
    assert torch.allclose(out["image"], torch.rot90(sample["image"], 1, dims=(1, 2)), atol=1e-5)


def test_scale_divides_depth_and_scales_focal_length():
    sample = code_sample(20, 20, np.zeros((20, 20), bool), 20.0, 20.0)
    out = T.scale(sample, 1.5)
    fx, fy, cx, cy = out["intrinsics"].tolist()
    assert (fx, fy) == pytest.approx((30.0, 30.0))
    assert out["depth"].max() <= sample["depth"].max() / 1.5 + 1e-6
    assert out["image"].shape == sample["image"].shape


def test_channel_permutation_is_shared_by_image_and_background():
    sample = code_sample(6, 6, np.zeros((6, 6), bool), 5.0, 5.0)
    out = T.permute_channels(sample, (2, 0, 1))
    assert torch.equal(out["image"], sample["image"][[2, 0, 1]])
    assert torch.equal(out["background"], sample["background"][[2, 0, 1]])
    assert out["depth"] is sample["depth"]
    with pytest.raises(ArgumentError, match="permutation"):
        T.permute_channels(sample, (0, 0, 1))


def test_scale_channels_multiplies_each_channel_and_clamps():
    sample = code_sample(6, 8, np.zeros((6, 8), bool), 5.0, 5.0)
    out = T.scale_channels(sample, (0.8, 1.0, 1.5))
    for key in ("image", "background"):
        for channel, gain in enumerate((0.8, 1.0, 1.5)):
            expected = (sample[key][channel] * gain).clamp(0, 1)
            assert torch.allclose(out[key][channel], expected)
    assert out["image"][2].max() == 0.75 and out["background"].max() == 1.0  # 0.5 * 1.5; clamped
    assert not torch.equal(out["image"], sample["image"])
    for key in ("depth", "valid", "mask", "intrinsics"):
        assert out[key] is sample[key]
    for bad in ((1.0, 1.0), (1.0, -0.1, 1.0), (1.0, float("nan"), 1.0)):
        with pytest.raises(ArgumentError, match="gains"):
            T.scale_channels(sample, bad)


def test_random_channel_scale_draws_one_gain_per_channel_in_range():
    sample = code_sample(6, 8, np.zeros((6, 8), bool), 5.0, 5.0)
    sample["image"] = torch.full_like(sample["image"], 0.5)  # no clamping: gain = out / 0.5
    generator = torch.Generator().manual_seed(3)
    gains = torch.stack(
        [
            T.RandomChannelScale(0.8, 1.2, generator)(sample)["image"][:, 0, 0] / 0.5
            for _ in range(50)
        ]
    )
    assert ((gains >= 0.8 - 1e-6) & (gains <= 1.2 + 1e-6)).all()
    assert gains.std(dim=0).min() > 0.05  # the channels vary, each on its own
    assert (gains[:, 0] != gains[:, 1]).all()
    assert abs(float(torch.corrcoef(gains.T)[0, 1])) < 0.5
    with pytest.raises(ArgumentError, match="low <= high"):
        T.RandomChannelScale(1.2, 0.8)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: T.RandomHorizontalFlip(0.5, g),
        lambda g: T.RandomChannelPermutation(0.5, g),
        lambda g: T.RandomRotation(5.0, g),
        lambda g: T.RandomScale((1.0, 1.5), random_crop=True, generator=g),
        lambda g: T.RandomCrop((8, 10), g),
        lambda g: T.ColorJitter(0.3, 0.3, 0.3, 0.05, g),
        lambda g: T.GaussianNoise(0.05, g),
        lambda g: T.RandomChannelScale(0.8, 1.2, g),
        T.fcrn_augmentation,
        T.densedepth_augmentation,
    ],
)
def test_random_transforms_are_reproducible_and_keep_the_contract(make):
    sample = code_sample(12, 16, np.random.default_rng(0).random((12, 16)) < 0.2, 12.0, 12.0)
    outputs = []
    for _ in range(2):
        transform = make(torch.Generator().manual_seed(7))
        outputs.append([transform(sample) for _ in range(4)])
    for first, second in zip(*outputs):
        T.check_sample(first)
        for key in ("image", "depth", "valid", "intrinsics"):
            assert torch.equal(first[key], second[key])
        assert ((first["image"] >= 0) & (first["image"] <= 1)).all()
        assert (first["depth"][first["valid"]] > 0).all()
    assert repr(make(None))


def test_photometric_transforms_leave_geometry_alone():
    sample = code_sample(10, 10, np.zeros((10, 10), bool), 9.0, 9.0)
    for transform in (
        T.ColorJitter(0.5, 0.5, 0.5, 0.1),
        T.GaussianNoise(0.1),
        T.RandomChannelScale(0.5, 0.9),
    ):
        out = transform(sample)
        assert not torch.equal(out["image"], sample["image"])
        for key in ("depth", "valid", "mask", "intrinsics"):
            assert torch.equal(out[key], sample[key])


def test_center_crop_and_random_crop_shift_the_principal_point():
    sample = code_sample(10, 12, np.zeros((10, 12), bool), 9.0, 9.0)
    out = T.CenterCrop((6, 8))(sample)
    assert out["intrinsics"][2:].tolist() == pytest.approx(
        [sample["intrinsics"][2].item() - 2, sample["intrinsics"][3].item() - 2]
    )
    assert torch.equal(out["depth"], sample["depth"][:, 2:8, 2:10])


def test_bad_samples_and_settings_raise_depthnb_errors():
    sample = code_sample(6, 6, np.zeros((6, 6), bool), 5.0, 5.0)
    with pytest.raises(DataError, match="'valid'"):
        T.hflip({k: v for k, v in sample.items() if k != "valid"})
    with pytest.raises(DataError, match="must be a dict"):
        T.hflip((sample["image"], sample["depth"]))
    with pytest.raises(DataError, match="depth"):
        T.hflip({**sample, "depth": sample["depth"][:, :3]})
    with pytest.raises(ShapeError, match="does not fit"):
        T.RandomCrop(8)(sample)
    with pytest.raises(ArgumentError, match="scale_range"):
        T.RandomScale((0.5, 1.5))


def test_jitter_colour_agrees_with_torchvision():
    import torchvision.transforms.v2.functional as TF

    image = torch.rand(3, 9, 11, generator=torch.Generator().manual_seed(3))
    expected = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(image, 1.3), 0.7), 1.4)
    expected = TF.adjust_hue(expected, 0.05)
    assert torch.allclose(T.jitter_colour(image, 1.3, 0.7, 1.4, 0.05), expected, atol=1e-4)
    assert torch.equal(T.jitter_colour(image), image)


def test_every_path_scales_intrinsics_the_same_way():
    """Reader, renderer, resize and cache agree: one rule, about pixel centres."""
    from depthnb.data import NYU_INTRINSICS, render_room, synthetic_intrinsics, to_sample
    from depthnb.geometry import scale_intrinsics

    fx, fy, cx, cy = NYU_INTRINSICS
    by_hand = [fx / 2, fy / 2, (cx + 0.5) / 2 - 0.5, (cy + 0.5) / 2 - 0.5]
    nyu_frame = {  # what NYUv2Labeled yields, at 480x640
        "image": torch.zeros(3, 480, 640),
        "depth": torch.ones(1, 480, 640),
        "valid": torch.ones(1, 480, 640, dtype=torch.bool),
        "intrinsics": torch.tensor(NYU_INTRINSICS),
    }
    paths = {
        "scale_intrinsics": scale_intrinsics(NYU_INTRINSICS, (480, 640), (240, 320)),
        "synthetic_intrinsics": synthetic_intrinsics((240, 320)),
        "resize": T.resize(nyu_frame, (240, 320))["intrinsics"],
    }
    for name, intrinsics in paths.items():
        assert [float(x) for x in intrinsics] == pytest.approx(by_hand, rel=1e-6), name
    # a room rendered small carries what resizing the same room rendered large gives
    large = to_sample(render_room(0, (64, 96)))
    np.testing.assert_allclose(
        T.resize(large, (32, 48))["intrinsics"].numpy(), synthetic_intrinsics((32, 48)), rtol=1e-6
    )
