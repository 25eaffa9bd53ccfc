"""MiDaS's scale-and-shift-invariant loss: the closed-form fit against lstsq, the invariances, the
mask, degenerate images, precision under autocast, and the Trainer's path to it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthnb.encodings import get_encoding
from depthnb.losses import LOSSES, get_loss, ssi_loss
from depthnb.metrics.align import fit_scale_shift, to_disparity
from depthnb.train.tasks.depth import DepthTask


def _data(seed: int = 0, dtype: torch.dtype = torch.float32):
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(3, 1, 16, 20, generator=generator, dtype=dtype) + 0.1
    pred = torch.randn(3, 1, 16, 20, generator=generator, dtype=dtype)
    valid = torch.rand(3, 1, 16, 20, generator=generator) > 0.3
    return pred, target, valid


def _lstsq_reference(pred, target, valid, gradient_weight=0.0, scales=4) -> float:
    """The loss from numpy's lstsq per image and plain loops, independently of the package."""
    squares, count, residuals = 0.0, 0, []
    for p, g, m in zip(pred[:, 0].double(), target[:, 0].double(), valid[:, 0]):
        design = np.stack([p[m].numpy(), np.ones(int(m.sum()))], axis=1)
        (s, t), *_ = np.linalg.lstsq(design, g[m].numpy(), rcond=None)
        residual = np.where(m.numpy(), s * p.numpy() + t - g.numpy(), 0.0)
        squares += float((residual**2).sum())
        count += int(m.sum())
        residuals.append((residual, m.numpy()))
    loss = squares / (2 * count)
    for k in range(scales if gradient_weight else 0):
        step, total, valid_count = 2**k, 0.0, 0
        for residual, m in residuals:
            r, v = residual[::step, ::step], m[::step, ::step]
            for y in range(r.shape[0]):
                for x in range(r.shape[1]):
                    if x + 1 < r.shape[1] and v[y, x] and v[y, x + 1]:
                        total += abs(r[y, x + 1] - r[y, x])
                    if y + 1 < r.shape[0] and v[y, x] and v[y + 1, x]:
                        total += abs(r[y + 1, x] - r[y, x])
            valid_count += int(v.sum())
        loss += gradient_weight * total / valid_count
    return loss


def test_closed_form_fit_equals_lstsq() -> None:
    pred, target, valid = _data(dtype=torch.float64)
    pred = 50 + pred  # a large mean against the spread: the normal equations would lose digits
    scale, shift = fit_scale_shift(pred, target, valid)
    for i in range(3):
        m = valid[i, 0]
        design = torch.stack([pred[i, 0][m], torch.ones(int(m.sum()), dtype=torch.float64)], 1)
        solution = torch.linalg.lstsq(design, target[i, 0][m][:, None]).solution[:, 0]
        torch.testing.assert_close(torch.stack([scale[i], shift[i]]), solution, rtol=1e-9, atol=0)
    for weight in (0.0, 0.5):
        expected = _lstsq_reference(pred, target, valid, gradient_weight=weight)
        loss = ssi_loss(pred, target, valid, gradient_weight=weight)
        assert loss.dtype == torch.float64 and loss.item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_invariant_to_positive_scale_and_any_shift_of_pred(weight: float) -> None:
    for dtype, scales, rel in [
        (torch.float64, (1e-3, 0.5, 7.0, 1e3), 1e-9),
        # float32 input itself keeps ~7 digits: a spread of 0.05 around 500 keeps 4 of them.
        (torch.float32, (0.05, 0.5, 7.0, 1e3), 1e-4),
    ]:
        pred, target, valid = _data(1, dtype)
        reference = ssi_loss(pred, target, valid, gradient_weight=weight)
        assert reference > 0.01
        for scale in scales:
            for shift in (-40.0, 0.0, 3.0, 500.0):
                loss = ssi_loss(scale * pred + shift, target, valid, gradient_weight=weight)
                assert loss.item() == pytest.approx(reference.item(), rel=rel), (scale, shift)
    # Not invariant in the target's space: an affine map of the *target* does change the loss.
    assert ssi_loss(pred, 2 * target, valid) > 1.5 * ssi_loss(pred, target, valid)


def test_zero_at_an_affine_fit_per_image() -> None:
    _, target, valid = _data(2)
    scales = torch.tensor([3.0, 0.02, 250.0]).view(3, 1, 1, 1)
    shifts = torch.tensor([-1.0, 4.0, 0.0]).view(3, 1, 1, 1)
    pred = scales * target + shifts  # a different affine map in each image
    assert ssi_loss(pred, target, valid).item() == pytest.approx(0.0, abs=1e-9)
    assert ssi_loss(pred, target, valid, gradient_weight=0.5).item() == pytest.approx(0, abs=1e-5)
    # Through depth: disparity 1/depth, or the inverse encoding's 10/depth, is all the same.
    depth = 1 / target
    assert ssi_loss(pred, to_disparity(depth, valid), valid).item() == pytest.approx(0, abs=1e-9)
    assert ssi_loss(-pred, target, valid).item() == pytest.approx(0, abs=1e-9)  # any s != 0


def test_gradients_are_finite_and_invalid_pixels_change_nothing() -> None:
    pred, target, valid = _data(3)
    pred.requires_grad_(True)
    loss = ssi_loss(pred, target, valid, gradient_weight=0.5)
    loss.backward()
    grad = pred.grad.clone()
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert torch.all(grad[~valid] == 0)
    garbage = torch.where(valid, 0.0, float("nan"))
    corrupt_pred = (pred.detach() + torch.where(valid, 0.0, float("inf"))).requires_grad_(True)
    other = ssi_loss(corrupt_pred, target + garbage, valid, gradient_weight=0.5)
    other.backward()
    assert other.item() == loss.item()
    assert torch.equal(corrupt_pred.grad, grad)


def test_images_with_fewer_than_two_valid_pixels() -> None:
    pred, target, valid = _data(4)
    valid[0] = False
    valid[0, 0, 3, 4] = True  # one valid pixel: fitted exactly
    valid[1] = False  # none
    pred.requires_grad_(True)
    loss = ssi_loss(pred, target, valid, gradient_weight=0.5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    only_third = ssi_loss(pred[2:], target[2:], valid[2:])
    m2 = int(valid[2].sum())
    assert ssi_loss(pred, target, valid).item() == pytest.approx(
        only_third.item() * m2 / (m2 + 1), rel=1e-5
    )
    nothing = ssi_loss(pred, target, torch.zeros_like(valid), gradient_weight=0.5)
    nothing.backward()
    assert nothing.item() == 0.0 and nothing.requires_grad
    # A constant prediction: the best fit is the target's mean, the loss half its variance.
    flat = torch.full_like(target, 2.0)
    per_image = [target[i][valid[i]] for i in range(3)]
    expected = sum(((v - v.mean()) ** 2).sum() for v in per_image if v.numel()) / (2 * valid.sum())
    assert ssi_loss(flat, target, valid).item() == pytest.approx(float(expected), rel=1e-5)


def test_computed_in_float32_under_autocast_and_from_half_inputs() -> None:
    pred, target, valid = _data(5)
    target = 10 / (target * 5)  # inverse-encoded values, 2..200: where fp16 products overflow
    pred = 3 * target + 0.5 * torch.randn_like(target)
    reference = ssi_loss(pred, target, valid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = ssi_loss(pred.bfloat16(), target, valid)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=5e-2)
    half = ssi_loss(pred.half(), target.half(), valid)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert half.item() == pytest.approx(reference.item(), rel=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_fp16_autocast_on_gpu_matches_cpu() -> None:
    pred, target, valid = _data(6)
    target = 10 / (target * 5)
    pred = 3 * target + 0.5 * torch.randn_like(target)
    cpu = ssi_loss(pred, target, valid, gradient_weight=0.5)
    with torch.autocast("cuda", dtype=torch.float16):
        gpu = ssi_loss(pred.cuda().half(), target.cuda(), valid.cuda(), gradient_weight=0.5)
    assert gpu.dtype == torch.float32 and gpu.item() == pytest.approx(cpu.item(), rel=1e-2)


def test_registered_for_the_trainer_on_inverse_encoded_targets() -> None:
    assert LOSSES["ssi"] is ssi_loss and get_loss("ssi") is ssi_loss
    assert get_loss("ssi", gradient_weight=0.5).keywords == {"gradient_weight": 0.5}
    depth = torch.rand(2, 1, 16, 16) * 8 + 1
    batch = {"depth": depth, "valid": torch.ones_like(depth, dtype=torch.bool)}
    task = DepthTask(get_encoding("inverse"), get_loss("ssi"))
    disparity_like = 0.3 / depth - 0.01  # any affine map of 1/depth
    loss, _ = task.loss(disparity_like, batch)
    assert loss.item() == pytest.approx(0.0, abs=1e-9)
    assert task.loss(depth, batch)[0] > 1e-3  # depth is not disparity
