"""Losses: SSIM against two independent references, values by hand, masks, gradients, autocast."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as msssim_ssim
from skimage.metrics import structural_similarity

from depthnb.errors import ArgumentError, ShapeError
from depthnb.losses import (
    berhu_loss,
    densedepth_loss,
    get_loss,
    gradient_loss,
    keras_loss,
    keras_smoothness_loss,
    l1_loss,
    maskdepth_loss,
    scale_invariant_log_loss,
    smoothness_loss,
    ssim,
)
from depthnb.losses import composite as losses


def _structured(h: int, w: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """A piecewise-smooth 'room': a ramp, a box and a disc, a little noise. (C,H,W) in [0,1]."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    image = np.empty((c, h, w))
    for k in range(c):
        img = 0.3 + 0.4 * yy + 0.1 * k
        img[h // 4 : h // 2, w // 3 : 2 * w // 3] = 0.8
        img[(yy - 0.6) ** 2 + (xx - 0.3) ** 2 < 0.02] = 0.1
        image[k] = img + rng.normal(0, 0.02, (h, w))
    return np.clip(image, 0, 1)


SSIM_CASES = [
    # (height, width, channels, data range, offset, kind)
    (11, 11, 1, 1.0, 0.0, "random"),
    (12, 17, 1, 1.0, 0.0, "random"),
    (32, 47, 3, 255.0, 0.0, "random"),
    (40, 40, 2, 100.0, 1.0, "structured"),
    (63, 50, 1, 1.0, 0.0, "structured"),
    (48, 64, 3, 2.0, -1.0, "structured"),
    (120, 160, 1, math.log(100), 0.0, "structured"),
]


@pytest.mark.parametrize("h,w,c,data_range,offset,kind", SSIM_CASES)
def test_ssim_matches_skimage_and_pytorch_msssim(h, w, c, data_range, offset, kind) -> None:
    rng = np.random.default_rng(h * w + c)
    if kind == "random":
        x = rng.random((c, h, w))
        y = np.clip(x + rng.normal(0, 0.15, x.shape), 0, 1)
    else:
        x = _structured(h, w, c, rng)
        y = np.clip(np.roll(x, 2, axis=-1) + rng.normal(0, 0.05, x.shape), 0, 1)
    x, y = x * data_range + offset, y * data_range + offset
    reference = structural_similarity(
        x,
        y,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=0,
    )
    xt = torch.tensor(x[None], dtype=torch.float32)
    yt = torch.tensor(y[None], dtype=torch.float32)
    ours = ssim(xt, yt, data_range=data_range).item()
    assert abs(ours - reference) < 1e-5
    assert abs(ours - msssim_ssim(xt, yt, data_range=data_range, size_average=True).item()) < 1e-4
    exact = ssim(torch.tensor(x[None]), torch.tensor(y[None]), data_range=data_range).item()
    assert abs(exact - reference) < 1e-9


def test_ssim_takes_plain_numpy_images() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((37, 29))
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    reference = structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert abs(ssim(x, y).item() - reference) < 1e-9


def test_ssim_batch_is_mean_of_images_and_identity_is_one() -> None:
    x = torch.rand(3, 2, 30, 40)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    per_image = torch.stack([ssim(x[i : i + 1], y[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(ssim(x, y), per_image.mean())
    assert abs(ssim(x, x).item() - 1) < 1e-6


def test_ssim_precise_far_from_zero() -> None:
    # Inverse depth sits around 50: float32 E[x^2] - E[x]^2 would lose the variance.
    rng = np.random.default_rng(1)
    x = 1000 + rng.random((1, 40, 40))
    y = x + rng.normal(0, 0.05, x.shape)
    reference = structural_similarity(
        x[0], y[0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    ours = ssim(
        torch.tensor(x[None], dtype=torch.float32), torch.tensor(y[None], dtype=torch.float32)
    )
    assert abs(ours.item() - reference) < 1e-4


def test_ssim_window_sums_to_one_and_errors() -> None:
    window = losses.gaussian_window(11, 1.5)
    assert window.shape == (11,) and abs(window.sum().item() - 1) < 1e-12
    assert window.argmax() == 5
    with pytest.raises(ArgumentError, match="odd"):
        losses.gaussian_window(10)
    with pytest.raises(ShapeError, match="smaller than"):
        ssim(torch.rand(1, 1, 8, 30), torch.rand(1, 1, 8, 30))
    with pytest.raises(ShapeError, match="same size|one size"):
        ssim(torch.rand(1, 1, 20, 30), torch.rand(1, 1, 20, 31))


def test_ssim_valid_mask_counts_only_clean_windows() -> None:
    x = torch.rand(1, 1, 40, 40)
    y = x.clone()
    y[..., :, 30:] = 5.0  # garbage behind a hole in the right strip
    valid = torch.ones(1, 1, 40, 40, dtype=torch.bool)
    valid[..., :, 30:] = False
    # Windows whose 11 columns reach column 30 are dropped: only positions 0..19 of the 30 remain.
    assert abs(ssim(x, y, valid=valid).item() - 1) < 1e-6
    assert ssim(x, y).item() < 0.9
    nothing = torch.zeros_like(valid)
    assert ssim(x, y, valid=nothing).item() == 1.0


def test_l1_and_masks() -> None:
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    target = torch.tensor([[[[1.5, 2.0], [0.0, 8.0]]]])
    assert l1_loss(pred, target).item() == pytest.approx((0.5 + 0 + 3 + 4) / 4)
    valid = target > 0
    assert l1_loss(pred, target, valid).item() == pytest.approx((0.5 + 0 + 4) / 3)
    # Nothing valid: zero, not NaN, and still differentiable.
    pred.requires_grad_(True)
    loss = l1_loss(pred, target, torch.zeros_like(valid))
    loss.backward()
    assert loss.item() == 0 and torch.all(pred.grad == 0)


def test_berhu_hand_computed() -> None:
    pred = torch.tensor([[[[0.0, 0.0, 0.0, 0.0]]]])
    target = torch.tensor([[[[1.0, 0.1, -0.3, 50.0]]]])
    valid = torch.tensor([[[[True, True, True, False]]]])
    # c = 0.2 * max |error| over VALID pixels = 0.2; the invalid 50 must not enlarge it.
    c = 0.2
    expected = ((1.0**2 + c**2) / (2 * c) + 0.1 + (0.3**2 + c**2) / (2 * c)) / 3
    assert berhu_loss(pred, target, valid).item() == pytest.approx(expected, rel=1e-6)
    # Small errors are L1, the largest is (x^2 + c^2) / 2c: continuous at |x| = c.
    assert losses.berhu(torch.tensor(0.2), 0.2).item() == pytest.approx(0.2)
    assert losses.berhu(torch.tensor(0.2001), 0.2).item() == pytest.approx(0.2, abs=1e-3)
    assert get_loss("fcrn")(pred, target, valid).item() == pytest.approx(expected, rel=1e-6)


def test_berhu_threshold_is_detached() -> None:
    pred = torch.zeros(1, 1, 1, 3, requires_grad=True)
    target = torch.tensor([[[[1.0, 0.1, 0.0]]]])
    berhu_loss(pred, target).backward()
    # d/dp of (e^2 + c^2)/(2c) at e = p - t = -1, c = 0.2 (a constant): e / c = -5;
    # of |e| at e = -0.1: -1.
    torch.testing.assert_close(pred.grad, torch.tensor([[[[-5.0, -1.0, 0.0]]]]) / 3)


def test_gradient_loss_matches_densedepth_definition() -> None:
    pred = torch.rand(2, 1, 6, 7)
    target = torch.rand(2, 1, 6, 7)

    # tf.image.image_gradients pads with zeros; DenseDepth averages over all H*W pixels.
    def image_gradients(x):
        dy = torch.zeros_like(x)
        dx = torch.zeros_like(x)
        dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
        dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
        return dy, dx

    dy_p, dx_p = image_gradients(pred)
    dy_t, dx_t = image_gradients(target)
    expected = ((dy_p - dy_t).abs() + (dx_p - dx_t).abs()).mean()
    torch.testing.assert_close(gradient_loss(pred, target), expected)
    # A constant offset has no gradient error.
    assert gradient_loss(target + 3, target).item() == pytest.approx(0, abs=1e-6)


def test_gradient_loss_ignores_differences_touching_invalid_pixels() -> None:
    target = torch.zeros(1, 1, 4, 4)
    pred = torch.zeros(1, 1, 4, 4)
    pred[..., 1, 1] = 7.0  # a spike on an invalid pixel
    valid = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    valid[..., 1, 1] = False
    assert gradient_loss(pred, target, valid).item() == 0
    assert gradient_loss(pred, target).item() > 0


def test_scale_invariant_log_loss() -> None:
    target = torch.log(torch.rand(2, 1, 8, 8) * 5 + 0.5)
    # lambda = 1: a global scale (a shift in log space) costs nothing.
    assert scale_invariant_log_loss(target + 0.7, target, lambd=1.0).item() == pytest.approx(
        0, abs=1e-6
    )
    # lambda = 0.5: d = 0.7 everywhere -> 0.49 - 0.5 * 0.49.
    assert scale_invariant_log_loss(target + 0.7, target).item() == pytest.approx(0.245, rel=1e-5)
    # Per image: image 0 shifted by 0.2, image 1 by 0.6; lambda 0 is mean squared log error.
    pred = target.clone()
    pred[0] += 0.2
    pred[1] += 0.6
    assert scale_invariant_log_loss(pred, target, lambd=0.0).item() == pytest.approx(
        (0.04 + 0.36) / 2
    )


def test_bce_mask_loss_equals_torch() -> None:
    logits = torch.randn(2, 1, 5, 5)
    target = (torch.rand(2, 1, 5, 5) > 0.5).float()
    torch.testing.assert_close(
        losses.bce_mask_loss(logits, target), F.binary_cross_entropy_with_logits(logits, target)
    )


def test_smoothness_edge_aware_vs_keras_variant() -> None:
    # A depth step exactly where the image has an edge.
    depth = torch.zeros(1, 1, 8, 8)
    depth[..., 4:] = 1.0
    image = depth.expand(1, 3, 8, 8).clone()
    flat_image = torch.zeros(1, 3, 8, 8)
    edge_aware_at_edge = smoothness_loss(depth, image).item()
    edge_aware_flat = smoothness_loss(depth, flat_image).item()
    assert edge_aware_at_edge == pytest.approx(edge_aware_flat * math.exp(-1))
    # Keras variant: exp(mean |dx target|) * mean |dx pred| (+ y); no image involved.
    mean_dx = 8 / 64
    assert keras_smoothness_loss(depth, depth).item() == pytest.approx(math.exp(mean_dx) * mean_dx)
    # Its weight grows with the target's edges: it punishes the same prediction MORE.
    assert (
        keras_smoothness_loss(depth, depth).item()
        > keras_smoothness_loss(depth, torch.zeros_like(depth)).item()
    )


def test_composites_are_built_from_their_parts() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 1, 24, 32) * 99 + 1
    pred = target + torch.randn_like(target) * 5
    valid = torch.rand(2, 1, 24, 32) > 0.05
    expected = (
        ((1 - ssim(pred, target, data_range=100.0, valid=valid)) / 2).clamp(0, 1)
        + gradient_loss(pred, target, valid)
        + 0.1 * l1_loss(pred, target, valid)
    )
    torch.testing.assert_close(densedepth_loss(pred, target, valid), expected)
    torch.testing.assert_close(
        densedepth_loss(pred, target, valid, l1_weight=0.0, gradient_weight=0.0, ssim_weight=2.0),
        2 * ((1 - ssim(pred, target, data_range=100.0, valid=valid)) / 2).clamp(0, 1),
    )
    log_t, log_p = torch.log(target / 10), torch.log(pred.clamp(min=0.5) / 10)
    expected_keras = (
        0.85 * (1 - ssim(log_p, log_t, data_range=math.log(100), window_size=7))
        + 0.1 * l1_loss(log_p, log_t)
        + 0.9 * keras_smoothness_loss(log_p, log_t)
    )
    torch.testing.assert_close(keras_loss(log_p, log_t), expected_keras)
    torch.testing.assert_close(get_loss("unet")(log_p, log_t), expected_keras)

    mask_logits = torch.randn(2, 1, 24, 32)
    mask = (torch.rand(2, 1, 24, 32) > 0.5).float()
    depth_p, depth_t = torch.rand(2, 1, 12, 16), torch.rand(2, 1, 12, 16)
    out = maskdepth_loss({"mask": mask_logits, "depth": depth_p}, {"mask": mask, "depth": depth_t})
    expected_md = 2 * F.binary_cross_entropy_with_logits(mask_logits, mask) + (
        1 - ssim(depth_p, depth_t)
    )
    torch.testing.assert_close(out, expected_md)


@pytest.mark.parametrize(
    "name", ["l1", "berhu", "gradient", "silog", "densedepth", "keras", "fcrn"]
)
def test_every_loss_is_differentiable_and_masked(name: str) -> None:
    torch.manual_seed(1)
    target = torch.rand(2, 1, 20, 24) + 1
    pred = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    valid = torch.ones_like(target, dtype=torch.bool)
    valid[:, :, :, 18:] = False
    loss = get_loss(name)(pred, target, valid)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # Garbage (NaN, inf) in the target under the mask changes nothing.
    corrupted = target.clone()
    corrupted[:, :, :, 18:] = float("nan")
    pred.grad = None
    corrupted_loss = get_loss(name)(pred, corrupted, valid)
    corrupted_loss.backward()
    torch.testing.assert_close(corrupted_loss, loss)
    assert torch.isfinite(pred.grad).all()


def test_losses_under_autocast_compute_in_float32() -> None:
    target = torch.rand(2, 1, 24, 32) * 99 + 1
    pred = target + torch.randn_like(target)
    reference = densedepth_loss(pred, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = densedepth_loss(pred.bfloat16(), target)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_losses_on_gpu_match_cpu() -> None:
    target = torch.rand(2, 1, 24, 32) * 99 + 1
    pred = target + torch.randn_like(target)
    cpu = densedepth_loss(pred, target)
    with torch.autocast("cuda", dtype=torch.float16):
        gpu = densedepth_loss(pred.cuda().half(), target.cuda())
    assert gpu.item() == pytest.approx(cpu.item(), rel=1e-2)


def test_shape_and_name_errors() -> None:
    with pytest.raises(ShapeError, match="upsample"):
        l1_loss(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 16, 16))
    with pytest.raises(ShapeError, match="valid mask"):
        l1_loss(
            torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), torch.ones(1, 1, 4, 4, dtype=torch.bool)
        )
    with pytest.raises(ArgumentError, match="unknown loss"):
        get_loss("mse")
    with pytest.raises(ShapeError, match="torch tensors"):
        l1_loss(np.ones((1, 1, 8, 8)), np.ones((1, 1, 8, 8)))
    with pytest.raises(ShapeError, match="'mask' and 'depth'"):
        maskdepth_loss({"depth": torch.rand(1, 1, 16, 16)}, {"depth": torch.rand(1, 1, 16, 16)})
    with pytest.raises(ShapeError, match="got Tensor"):
        maskdepth_loss(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
    with pytest.raises(ArgumentError, match="bad settings"):
        get_loss("l1", threshold=0.2)
    assert get_loss("keras", smoothness_weight=0.5).keywords == {"smoothness_weight": 0.5}
