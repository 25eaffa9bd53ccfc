"""The loss terms of :mod:`depthnb.losses`: pixel terms (L1, berHu, scale-invariant log, BCE on
mask logits), gradient and smoothness terms, and SSIM, each with an optional ``valid`` mask (how
the mask is used is described in that module's docstring), plus their shared helpers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from depthnb.errors import ArgumentError, ShapeError
from depthnb.utils.tensors import check_pair, full_precision, masked_mean, no_autocast, zero_invalid


def _image_gradients(
    x: torch.Tensor, valid: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Forward differences as ``tf.image.image_gradients``: dy, dx (B,C,H,W), 0 in the last row/col.

    Returns ``dy, dx, valid_dy, valid_dx``; a difference is valid when both of its pixels are (the
    zero-padded last row / column counts as valid where its pixel is, as in DenseDepth's mean).
    """
    dy = F.pad(x[:, :, 1:, :] - x[:, :, :-1, :], (0, 0, 0, 1))
    dx = F.pad(x[:, :, :, 1:] - x[:, :, :, :-1], (0, 1, 0, 0))
    if valid is None:
        return dy, dx, None, None
    valid_dy = valid.clone()
    valid_dy[:, :, :-1, :] &= valid[:, :, 1:, :]
    valid_dx = valid.clone()
    valid_dx[:, :, :, :-1] &= valid[:, :, :, 1:]
    return dy, dx, valid_dy, valid_dx


# ----------------------------------------------------------------------------------- pixel terms
def l1_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean absolute error over valid pixels. pred, target (B,1,H,W), valid (B,1,H,W) -> scalar."""
    mask = check_pair(pred, target, valid, "l1_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        return masked_mean((pred - target).abs(), mask)


def berhu(error: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
    """Reverse Huber, elementwise: ``|x|`` if ``|x| <= c`` else ``(x^2 + c^2) / (2c)``."""
    abs_error = error.abs()
    c = torch.as_tensor(c, dtype=abs_error.dtype, device=abs_error.device).clamp(min=1e-12)
    return torch.where(abs_error <= c, abs_error, (abs_error**2 + c**2) / (2 * c))


def berhu_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    threshold: float = 0.2,
) -> torch.Tensor:
    """FCRN's berHu loss: L1 for small errors, scaled L2 above ``c = threshold * max |error|``.

    ``c`` is taken over the *valid* pixels of the whole batch and detached (a constant per step,
    as in Laina et al.; FCRN_pytorch's signed max over all pixels is a known bug).
    pred, target (B,1,H,W), valid (B,1,H,W) bool -> scalar.
    """
    mask = check_pair(pred, target, valid, "berhu_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        error = pred - target
        abs_error = error.detach().abs()
        if mask is not None:
            abs_error = torch.where(mask, abs_error, torch.zeros_like(abs_error))
        c = threshold * abs_error.max()
        return masked_mean(berhu(error, c), mask)


def scale_invariant_log_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    lambd: float = 0.5,
) -> torch.Tensor:
    """Eigen et al.'s scale-invariant loss on log depth, averaged over the images of the batch.

    Per image, with ``d = pred - target`` over its n valid pixels:
    ``mean(d^2) - lambd * mean(d)^2``. ``lambd=1`` ignores a global scale entirely, ``lambd=0`` is
    plain L2 on log depth; Eigen used 0.5. pred and target are *log* depth (the ``"log"``
    encoding), (B,1,H,W); valid (B,1,H,W) bool.
    Images with no valid pixel are left out.
    """
    mask = check_pair(pred, target, valid, "scale_invariant_log_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        d = pred - target
        if mask is None:
            mask = torch.ones_like(d, dtype=torch.bool)
        d = torch.where(mask, d, torch.zeros_like(d))
        n = mask.flatten(1).sum(1)
        has_pixels = n > 0
        n = n.clamp(min=1)
        mean_sq = d.pow(2).flatten(1).sum(1) / n
        mean = d.flatten(1).sum(1) / n
        per_image = mean_sq - lambd * mean**2
        return masked_mean(per_image, has_pixels)


def bce_mask_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Binary cross-entropy with logits for a foreground mask, over valid pixels.

    pred (B,1,H,W) logits, the raw network outputs (no sigmoid); target (B,1,H,W) in {0,1};
    valid (B,1,H,W) bool -> scalar.
    """
    mask = check_pair(pred, target, valid, "bce_mask_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        per_pixel = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        return masked_mean(per_pixel, mask)


# -------------------------------------------------------------------------------- gradient terms
def gradient_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """DenseDepth's ``L_grad``: mean of ``|dy(pred) - dy(target)| + |dx(pred) - dx(target)|``.

    Forward differences, zero in the last row/column (``tf.image.image_gradients``), averaged over
    valid pixels; a difference counts only where both of its pixels are valid.
    pred, target (B,1,H,W), valid (B,1,H,W) bool -> scalar.
    """
    mask = check_pair(pred, target, valid, "gradient_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        dy_p, dx_p, valid_dy, valid_dx = _image_gradients(pred, mask)
        dy_t, dx_t, _, _ = _image_gradients(target, None)
        if mask is None:
            return ((dy_p - dy_t).abs() + (dx_p - dx_t).abs()).mean()
        assert valid_dy is not None and valid_dx is not None  # a mask gives validity masks
        zeros = torch.zeros_like(dy_p)
        total = torch.where(valid_dy, (dy_p - dy_t).abs(), zeros) + torch.where(
            valid_dx, (dx_p - dx_t).abs(), zeros
        )
        return masked_mean(total, mask)


def smoothness_loss(
    pred: torch.Tensor, image: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Edge-aware smoothness: depth gradients weighted by ``exp(-|image gradient|)``, per pixel.

    ``mean(|dx d| * exp(-mean_c |dx I|)) + mean(|dy d| * exp(-mean_c |dy I|))``: flat image regions
    (weight 1) ask for flat depth; where the *image* has an edge the weight falls towards
    ``exp(-1)`` or below, so a depth edge there costs little. Used by Godard et al. and
    self-supervised methods, where it is the only thing that shapes untextured regions.
    pred (B,1,H,W) encoded depth, image (B,3,H,W) in [0,1], valid (B,1,H,W) bool -> scalar.
    """
    if image.dim() != 4 or image.shape[0] != pred.shape[0] or image.shape[-2:] != pred.shape[-2:]:
        raise ShapeError(
            f"smoothness_loss: image {tuple(image.shape)} must be (B,C,H,W) with the B, H, W "
            "of the "
            f"prediction {tuple(pred.shape)}"
        )
    mask = check_pair(pred, pred, valid, "smoothness_loss")
    with no_autocast(pred.device):
        pred, image = full_precision(pred, image)
        dy_d, dx_d, valid_dy, valid_dx = _image_gradients(pred, mask)
        dy_i, dx_i, _, _ = _image_gradients(image, None)
        weight_y = torch.exp(-dy_i.abs().mean(1, keepdim=True))
        weight_x = torch.exp(-dx_i.abs().mean(1, keepdim=True))
        return masked_mean(dx_d.abs() * weight_x, valid_dx) + masked_mean(
            dy_d.abs() * weight_y, valid_dy
        )


def keras_smoothness_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """The Keras example's "depth smoothness", reproduced as written.

    ``exp(mean |dx target|) * mean |dx pred| + exp(mean |dy target|) * mean |dy pred|``. Unlike
    :func:`smoothness_loss` the weights come from the *target depth* (not the image), with a
    *positive* exponent, and are averaged to one number per batch before use: the term is not
    edge-aware at all; it penalises every gradient of the prediction equally, more so when the
    target has many edges. pred, target (B,1,H,W), valid (B,1,H,W) bool -> scalar.
    """
    mask = check_pair(pred, target, valid, "keras_smoothness_loss")
    with no_autocast(pred.device):
        pred, target = full_precision(pred, zero_invalid(target, mask))
        dy_p, dx_p, valid_dy, valid_dx = _image_gradients(pred, mask)
        dy_t, dx_t, _, _ = _image_gradients(target, None)
        weight_x = torch.exp(masked_mean(dx_t.abs(), valid_dx))
        weight_y = torch.exp(masked_mean(dy_t.abs(), valid_dy))
        return weight_x * masked_mean(dx_p.abs(), valid_dx) + weight_y * masked_mean(
            dy_p.abs(), valid_dy
        )


# ------------------------------------------------------------------------------------------- SSIM
def gaussian_window(window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """1-D Gaussian weights (window_size,), float64, centred, normalised to sum 1."""
    if window_size < 1 or window_size % 2 == 0 or sigma <= 0:
        raise ArgumentError(
            f"SSIM needs an odd window_size >= 1 and sigma > 0, got window_size={window_size}, "
            f"sigma={sigma}; Wang et al. use 11 and 1.5"
        )
    coords = torch.arange(window_size, dtype=torch.float64) - (window_size - 1) / 2
    weights = torch.exp(-(coords**2) / (2 * sigma**2))
    return weights / weights.sum()


def _filter_valid(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, 'valid' positions only. x (N,1,H,W) -> (N,1,H-k+1,W-k+1)."""
    k = window.numel()
    x = F.conv2d(x, window.reshape(1, 1, 1, k))
    return F.conv2d(x, window.reshape(1, 1, k, 1))


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """The SSIM of Wang et al. (2004) at every position where the window fits.

    pred, target (B,C,H,W) or (H,W), tensors or NumPy arrays, H and W >= window_size ->
    (B,C,H-window_size+1,W-window_size+1), each channel on its own. ``C1 = (0.01 L)^2``,
    ``C2 = (0.03 L)^2`` with ``L = data_range``; population (not sample) covariances; computed in
    float32 (float64 for float64 input).
    """
    x, y = torch.as_tensor(pred), torch.as_tensor(target)  # NumPy arrays welcome
    if x.dim() == 2 and y.dim() == 2:
        x, y = x[None, None], y[None, None]
    if x.dim() != 4 or x.shape != y.shape:
        raise ShapeError(
            f"ssim: pred {tuple(x.shape)} and target {tuple(y.shape)} must both be (B,C,H,W) "
            "(or (H,W))"
            "of one size"
        )
    if min(x.shape[-2:]) < window_size:
        raise ShapeError(
            f"ssim: images {tuple(x.shape[-2:])} are smaller than the {window_size}x{window_size} "
            "window; use larger images or a smaller window_size"
        )
    if data_range <= 0:
        raise ArgumentError(
            f"ssim: data_range must be > 0 (max - min of the values), got {data_range}"
        )
    with no_autocast(x.device):
        x, y = full_precision(x, y)
        b, c, h, w = x.shape
        # A common offset per image and channel changes no variance; removing it keeps float32's
        # E[x^2] - E[x]^2 exact for values far from zero (e.g. inverse depth around 50).
        offset = (0.5 * (x.mean((2, 3), keepdim=True) + y.mean((2, 3), keepdim=True))).detach()
        xc, yc = x - offset, y - offset
        window = gaussian_window(window_size, sigma).to(device=x.device, dtype=x.dtype)
        stacked = torch.cat([xc, yc, xc * xc, yc * yc, xc * yc]).reshape(5 * b * c, 1, h, w)
        filtered = _filter_valid(stacked, window).reshape(5, b, c, h - window_size + 1, -1)
        mu_xc, mu_yc, e_xx, e_yy, e_xy = filtered
        var_x = e_xx - mu_xc**2
        var_y = e_yy - mu_yc**2
        cov_xy = e_xy - mu_xc * mu_yc
        mu_x, mu_y = mu_xc + offset, mu_yc + offset
        c1 = (0.01 * data_range) ** 2
        c2 = (0.03 * data_range) ** 2
        luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
        contrast_structure = (2 * cov_xy + c2) / (var_x + var_y + c2)
        return luminance * contrast_structure


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) over batch, channels and the positions where the window fits.

    Gaussian window (``window_size``, ``sigma``) normalised to sum 1, applied as two 1-D
    convolutions without padding; the same number as scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=L, channel_axis=...)`` per image, and ``pytorch_msssim.ssim(data_range=L)``.

    pred, target (B,C,H,W) (or (H,W), tensors or NumPy arrays, when there is no mask); SSIM is
    symmetric in them. valid (B,1,H,W) or (B,C,H,W) bool: a window position counts only when every
    pixel under it is valid (if none does, the result is 1, i.e. no SSIM loss). Returns a scalar.
    The settings after ``valid`` are keyword-only.
    """
    if valid is not None and not isinstance(valid, torch.Tensor):
        raise ArgumentError(
            f"ssim: valid must be a bool tensor (B,1,H,W), got {valid!r}; pass data_range, "
            "window_size and sigma by name: ssim(pred, target, data_range=100.0)"
        )
    mask = None if valid is None else check_pair(pred, target, valid, "ssim")
    if mask is not None:
        pred, target = zero_invalid(pred, mask), zero_invalid(target, mask)
    similarity = ssim_map(pred, target, data_range=data_range, window_size=window_size, sigma=sigma)
    if mask is None:
        return similarity.mean()
    invalid = (~mask).to(similarity.dtype)
    b, c, h, w = invalid.shape
    # A window position is clean when the max of "invalid" under the window is 0.
    dirty = F.max_pool2d(invalid.reshape(b * c, 1, h, w), window_size, stride=1)
    clean = dirty.reshape(similarity.shape) == 0
    if not bool(clean.any()):
        return similarity.sum() * 0 + 1
    return masked_mean(similarity, clean)
