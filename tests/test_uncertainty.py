"""The Laplace NLL (its closed-form minimiser, safe gradients, masks), the calibration table on
samples drawn from known Laplaces, and the second head on an unchanged U-Net."""

import math

import pytest
import torch

from depthnb.checkpoint import save_checkpoint
from depthnb.errors import ArgumentError, DataError, ModelError, ShapeError
from depthnb.losses import laplace_nll
from depthnb.losses.laplace import LOG_SCALE_RANGE, LaplaceHead
from depthnb.metrics import uncertainty_calibration
from depthnb.metrics.baseline import ConstantDepth
from depthnb.models import build_model
from depthnb.models.checkpoints import model_checkpoint
from depthnb.predict import load_checkpoint


def _pair(seed: int = 0, shape=(2, 1, 6, 7)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(shape, generator=g, dtype=torch.float64)
    return mean, mean + torch.randn(shape, generator=g, dtype=torch.float64)


def test_value_by_hand():
    mean = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    target = torch.tensor([0.5, -1.0]).view(1, 1, 1, 2)
    log_scale = torch.tensor([0.0, math.log(4.0)]).view(1, 1, 1, 2)
    expected = ((0.5 / 1 + 0.0) + (2.0 / 4 + math.log(4.0))) / 2
    assert laplace_nll(mean, target, log_scale=log_scale).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_minimiser_over_the_scale_is_the_absolute_error():
    mean, target = _pair()
    residual = (target - mean).abs()
    best = residual.log().requires_grad_()
    loss = laplace_nll(mean, target, log_scale=best)
    (gradient,) = torch.autograd.grad(loss, best)
    assert gradient.abs().max() < 1e-12  # stationary at s = log|y - mu| ...
    assert loss.item() == pytest.approx((1 + residual.log()).mean().item(), rel=1e-12)
    for step in (-0.3, -0.01, 0.01, 0.3):  # ... and a minimum: any other scale costs more
        assert laplace_nll(mean, target, log_scale=best.detach() + step) > loss
    # and plain gradient descent from b = 1 finds b = |y - mu| at every pixel
    log_scale = torch.zeros_like(mean, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_scale], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = laplace_nll(mean, target, log_scale=log_scale) * mean.numel()
        value.backward()
        return value

    optimizer.step(closure)
    torch.testing.assert_close(log_scale.detach().exp(), residual, rtol=1e-4, atol=1e-6)


def test_gradients_stay_finite_at_extremes():
    mean = torch.zeros(1, 1, 2, 3, requires_grad=True)
    target = torch.tensor([[[[0.0, 0.0, 1e6], [1.0, 0.0, -3.0]]]])
    log_scale = torch.tensor([[[[-1e4, 1e4, -1e4], [50.0, -50.0, 0.0]]]], requires_grad=True)
    loss = laplace_nll(mean, target, log_scale=log_scale)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_scale.grad).all()
    # a zero error cannot pull the loss below the clamp's floor
    low = laplace_nll(
        torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), log_scale=torch.full((1, 1, 1, 1), -1e4)
    )
    assert low.item() == pytest.approx(LOG_SCALE_RANGE[0])


def test_invalid_pixels_are_ignored():
    mean, target = _pair(1)
    log_scale = torch.randn_like(mean)
    valid = torch.rand(mean.shape, generator=torch.Generator().manual_seed(2)) > 0.4
    dirty = [t.clone() for t in (mean, log_scale, target)]
    for t in dirty:
        t[~valid] = float("nan")
    dirty_mean, dirty_scale = (t.requires_grad_() for t in dirty[:2])
    loss = laplace_nll(dirty_mean, dirty[2], valid, log_scale=dirty_scale)
    loss.backward()
    kept = (target - mean).abs()[valid] * torch.exp(-log_scale[valid]) + log_scale[valid]
    assert loss.item() == pytest.approx(kept.mean().item(), rel=1e-12)
    assert torch.isfinite(dirty_mean.grad).all() and (dirty_scale.grad[~valid] == 0).all()
    nothing = laplace_nll(dirty_mean, dirty[2], torch.zeros_like(valid), log_scale=dirty_scale)
    assert nothing.item() == 0.0


def test_bad_shapes_raise():
    mean, target = _pair()
    with pytest.raises(ShapeError, match="log_scale"):
        laplace_nll(mean, target, log_scale=mean[:, :, :3])
    with pytest.raises(ShapeError):
        laplace_nll(mean, target[:, :, :3], log_scale=mean)


def _laplace_samples(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Scales b from 0.01 to 1 and errors |y - mu| drawn from Laplace(0, b): E|error| = b."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.exp(
        torch.empty(n, dtype=torch.float64).uniform_(math.log(0.01), 0.0, generator=g)
    )
    error = -scale * torch.log1p(-torch.rand(n, generator=g, dtype=torch.float64))  # Exp(mean b)
    return error, scale


def test_calibration_of_a_calibrated_model_lies_on_the_diagonal():
    error, scale = _laplace_samples(200_000)
    table = uncertainty_calibration(error, scale, bins=10)
    assert table["count"].tolist() == [20_000] * 10
    assert (table["scale"].diff() > 0).all()
    torch.testing.assert_close(table["error"], table["scale"], rtol=0.03, atol=0)
    # an over-confident model (it claims half the true scale) lies above the diagonal, at 2x
    half = uncertainty_calibration(error, scale / 2, bins=10)
    torch.testing.assert_close(half["error"], 2 * half["scale"], rtol=0.03, atol=0)


def test_calibration_masks_and_bins():
    error, scale = _laplace_samples(1000, seed=3)
    valid = scale < 0.1
    error[~valid] = float("nan")
    table = uncertainty_calibration(
        error.view(10, 100), scale.view(10, 100), valid.view(10, 100), 4
    )
    assert table["count"].sum() == valid.sum() and len(table["count"]) == 4
    assert table["scale"].max() < 0.1
    lowest = torch.sort(scale[valid]).values[: int(table["count"][0])]
    assert table["scale"][0].item() == pytest.approx(lowest.mean().item())
    assert len(uncertainty_calibration(error[:3], scale[:3], bins=10)["count"]) <= 3
    with pytest.raises(DataError):
        uncertainty_calibration(error, scale, torch.zeros_like(valid))
    with pytest.raises(ArgumentError):
        uncertainty_calibration(error, scale, bins=0)
    with pytest.raises(ShapeError):
        uncertainty_calibration(error, scale[:5])


def test_laplace_head_leaves_the_model_alone(tmp_path):
    torch.manual_seed(0)
    model = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()
    keys = list(model.state_dict())
    wrapped = LaplaceHead(model, init_scale=0.2).eval()
    image = torch.rand(2, 3, 40, 56)  # not a multiple of 32: the model pads and crops
    with torch.no_grad():
        mean, log_scale = wrapped(image)
        torch.testing.assert_close(mean, model(image), rtol=0, atol=0)
    assert log_scale.shape == mean.shape == (2, 1, 40, 56)
    with torch.no_grad():
        same_mean, features = wrapped.features(image)
        torch.testing.assert_close(wrapped.scale_head(features), log_scale)
    assert features.shape == (2, 4, 40, 56) and torch.equal(same_mean, mean)
    torch.testing.assert_close(log_scale, torch.full_like(log_scale, math.log(0.2)))
    assert not model.head._forward_hooks  # the hook lives only inside the wrapper's forward
    assert list(model.state_dict()) == keys and wrapped.encoding is model.encoding
    # the depth model still saves and loads as a depthnb checkpoint
    path = save_checkpoint(model_checkpoint(model, input_size=(40, 56)), tmp_path / "unet.pt")
    with torch.no_grad():
        torch.testing.assert_close(load_checkpoint(path)(image), mean)


def test_laplace_head_learns_where_the_errors_are():
    torch.manual_seed(0)
    wrapped = LaplaceHead(build_model("unet", filters=(4, 8, 8, 8, 8)))
    image = torch.rand(4, 3, 32, 32)
    image[:, :, :, 16:] = 0.5  # the right half has no texture to read the depth from
    noise = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    target = torch.where(torch.arange(32) < 16, 0.02 * noise, noise)  # right half: noisy target
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=1e-2)
    for _ in range(100):
        mean, log_scale = wrapped(image)
        loss = laplace_nll(mean, target, log_scale=log_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    wrapped.eval()
    with torch.no_grad():
        scale = wrapped(image)[1].exp()
    assert scale[..., 16:].mean() > 5 * scale[..., :16].mean()


def test_laplace_head_needs_a_conv_head():
    with pytest.raises(ModelError, match="head"):
        LaplaceHead(ConstantDepth(2.0))
    with pytest.raises(ArgumentError):
        LaplaceHead(build_model("unet", filters=(4, 8, 8, 8, 8)), init_scale=0.0)
