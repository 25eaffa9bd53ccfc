"""Warping and the photometric reprojection loss: exact warps (identity, a plane seen after an
integer-pixel shift), the renderer's poses against its own depth, the loss on a rendered camera
path (lowest at the true depth), the scale ambiguity with an unknown pose, and SSIM against
scikit-image."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from depthnb.data import render_camera_path
from depthnb.errors import ArgumentError, ShapeError
from depthnb.geometry import backproject, relative_pose, warp_source
from depthnb.losses import photometric_reprojection_loss
from depthnb.losses.photometric import _ssim_3x3, photometric_error

SIZE = (60, 80)


@pytest.fixture(scope="module")
def path() -> dict[str, torch.Tensor]:
    render = render_camera_path(seed=2, n_frames=12, size=SIZE)
    return {
        "image": torch.from_numpy(render["image"]).permute(0, 3, 1, 2).float() / 255,
        "depth": torch.from_numpy(render["depth"])[:, None],
        "pose": torch.from_numpy(render["pose"]),
        "intrinsics": torch.from_numpy(render["intrinsics"]),
    }


def _neighbours(path: dict, gap: int = 2) -> tuple:
    """Targets gap..T-gap-1 with the frames gap before and after: images, depth, poses."""
    t = torch.arange(gap, len(path["image"]) - gap)
    poses = [relative_pose(path["pose"][t], path["pose"][t + d]).float() for d in (-gap, gap)]
    return (
        path["image"][t],
        [path["image"][t - gap], path["image"][t + gap]],
        path["depth"][t],
        poses,
    )


def test_backproject_is_the_pinhole_formula():
    depth = torch.rand(2, 1, 5, 7) + 0.5
    intrinsics = torch.tensor([[6.0, 5.0, 3.2, 2.1], [4.0, 4.5, 2.9, 1.7]])
    points = backproject(depth, intrinsics)
    v, u = np.indices((5, 7), dtype=np.float32)
    for i in range(2):
        fx, fy, cx, cy = intrinsics[i].tolist()
        z = depth[i, 0].numpy()
        expected = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
        np.testing.assert_allclose(points[i].permute(1, 2, 0).numpy(), expected, rtol=1e-6)


def test_identity_pose_gives_the_source_back():
    source = torch.rand(2, 3, 20, 24)
    depth = torch.rand(2, 1, 20, 24) + 1.0
    warped, inside = warp_source(source, depth, torch.eye(4), torch.tensor([20.0, 20, 11.5, 9.5]))
    torch.testing.assert_close(warped, source, rtol=0, atol=1e-5)
    assert inside.all()
    loss = photometric_reprojection_loss(source, source, depth, torch.eye(4), [20.0, 20, 11.5, 9.5])
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_a_sideways_step_shifts_a_plane_by_fx_t_over_z():
    # a wall 2 m away, the source camera 0.1 m to the left: fx * t / Z = 60 * 0.1 / 2 = 3 px
    texture = torch.rand(1, 3, 16, 40, generator=torch.Generator().manual_seed(0))
    source, target = texture[..., :32], texture[..., 3:35]
    depth = torch.full((1, 1, 16, 32), 2.0)
    pose = torch.eye(4)
    pose[0, 3] = 0.1  # T_{s<-t}: every target point is 0.1 m further right in the source camera
    intrinsics = torch.tensor([60.0, 60.0, 15.5, 7.5])
    warped, inside = warp_source(source, depth, pose, intrinsics)
    assert inside[..., :29].all() and not inside[..., 29:].any()
    torch.testing.assert_close(warped[..., :29], target[..., :29], rtol=0, atol=1e-5)
    error = photometric_error(warped, target)
    assert error[..., :28].abs().max() < 1e-5  # zero wherever the 3x3 window is inside too
    wrong = photometric_reprojection_loss(target, source, depth * 2, pose, intrinsics)
    assert wrong > 0.05 > photometric_reprojection_loss(target, source, depth, pose, intrinsics)


def test_the_renderers_poses_carry_depth_between_frames(path):
    # Frame t's points moved into frame t+2's camera must have the depth frame t+2 sees there.
    pose = relative_pose(path["pose"][4], path["pose"][6]).float()
    depth_t, depth_s = path["depth"][4:5], path["depth"][6:7]
    points = backproject(depth_t, path["intrinsics"]).flatten(2)
    moved_z = (pose[:3, :3] @ points + pose[:3, 3:])[:, 2].view_as(depth_t)
    seen, inside = warp_source(depth_s, depth_t, pose, path["intrinsics"])
    agree = ((seen - moved_z).abs() / moved_z < 0.01)[inside]
    assert inside.float().mean() > 0.8 and agree.float().mean() > 0.9


def test_loss_is_lowest_at_the_true_depth(path):
    target, sources, depth, poses = _neighbours(path)
    intrinsics = path["intrinsics"]
    losses = {
        k: photometric_reprojection_loss(target, sources, depth * k, poses, intrinsics).item()
        for k in (0.5, 0.8, 1.0, 1.25, 2.0)
    }
    assert losses[1.0] < 0.03
    assert losses[1.0] < 0.6 * min(losses[0.8], losses[1.25])
    assert losses[0.8] < losses[0.5] and losses[1.25] < losses[2.0]


def test_depth_and_translation_scale_together(path):
    # With an unknown pose the depth scale is ambiguous: (k D, k t) warps exactly like (D, t).
    target, sources, depth, poses = _neighbours(path)
    intrinsics = path["intrinsics"]
    reference = photometric_reprojection_loss(target, sources, depth, poses, intrinsics)
    for k in (0.5, 3.0):
        scaled = [p.clone() for p in poses]
        for p in scaled:
            p[:, :3, 3] *= k
        loss = photometric_reprojection_loss(target, sources, depth * k, scaled, intrinsics)
        assert loss.item() == pytest.approx(reference.item(), rel=1e-4)


def test_per_pixel_minimum_ignores_a_useless_source(path):
    target, sources, depth, poses = _neighbours(path)
    intrinsics = path["intrinsics"]
    noise = torch.rand(sources[0].shape, generator=torch.Generator().manual_seed(0))
    good = photometric_reprojection_loss(target, sources[0], depth, poses[0], intrinsics)
    both = [sources[0], noise], [poses[0], poses[0]]
    assert photometric_reprojection_loss(target, *both[:1], depth, both[1], intrinsics) <= good
    mean = photometric_reprojection_loss(target, both[0], depth, both[1], intrinsics, reduce="mean")
    assert mean > 3 * good


def test_gradients_reach_the_depth_and_valid_limits_the_pixels(path):
    target, sources, depth, poses = _neighbours(path)
    guess = (depth * 1.3).requires_grad_()
    loss = photometric_reprojection_loss(target, sources, guess, poses, path["intrinsics"])
    loss.backward()
    assert torch.isfinite(guess.grad).all() and guess.grad.abs().sum() > 0
    nothing = torch.zeros_like(depth, dtype=torch.bool)
    assert (
        photometric_reprojection_loss(
            target, sources, depth, poses, path["intrinsics"], nothing
        ).item()
        == 0.0
    )


def test_ssim_matches_scikit_image_inside():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 12, 14, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.rand(1, 1, 12, 14, generator=g, dtype=torch.float64)).clamp(0, 1)
    _, reference = structural_similarity(
        x[0, 0].numpy(),
        y[0, 0].numpy(),
        win_size=3,
        data_range=1.0,
        full=True,
        use_sample_covariance=False,
        gaussian_weights=False,
    )
    ours = _ssim_3x3(x, y)[0, 0].numpy()
    np.testing.assert_allclose(ours[1:-1, 1:-1], reference[1:-1, 1:-1], rtol=1e-10)


def test_bad_arguments_raise():
    image, depth = torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8)
    k = torch.tensor([8.0, 8, 3.5, 3.5])
    with pytest.raises(ShapeError, match="pose"):
        photometric_reprojection_loss(image, [image, image], depth, torch.eye(4), k)
    with pytest.raises(ArgumentError):
        photometric_reprojection_loss(image, image, depth, torch.eye(4), k, reduce="max")
    with pytest.raises(ShapeError, match="pose"):
        warp_source(image, depth, torch.eye(3), k)
    with pytest.raises(ShapeError, match="intrinsics"):
        warp_source(image, depth, torch.eye(4), torch.ones(3))
    with pytest.raises(ShapeError):
        warp_source(image[..., :4], depth, torch.eye(4), k)
