"""The one path from a model's outputs to metres: decode, resize to a size, average with a flip.

Prediction of photographs (:func:`depthnb.predict.predict_depth`), evaluation
(:func:`depthnb.metrics.evaluate`), the Trainer's validation and the tasks
(:class:`depthnb.train.DepthTask`, :class:`depthnb.maskdepth_task.MaskDepthTask`) all call
:func:`decode_outputs` or :func:`predict`, so metres mean the same thing everywhere.

>>> metres = predict_metres(model, images, size=(480, 640), flip_tta=True)  # doctest: +SKIP

Conventions: the depth head's output is decoded to metres with the model's encoding first, then
resized bilinearly (``align_corners=False``) to the requested size, as DenseDepth's and FCRN's
evaluations do; a mask head's logits become probabilities (sigmoid), resized the same way. Flip
averaging runs the mirrored input too, mirrors its predictions back and averages them with the
plain ones (DenseDepth's protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.data.sample import DEPTH, MASK, Sample, to_float
from depthnb.encodings import Encoding
from depthnb.models.blocks import model_encoding

#: What a depth model returns: encoded depth (B,1,h,w), or a dict of heads with a "depth" entry.
Outputs = torch.Tensor | Mapping[str, torch.Tensor]
Size = tuple[int, int] | torch.Size


def spatial_size(tensor: torch.Tensor) -> tuple[int, int]:
    """(H, W) of a tensor (..., H, W)."""
    return int(tensor.shape[-2]), int(tensor.shape[-1])


def upsample_to(pred: torch.Tensor, size: Size) -> torch.Tensor:
    """Bilinearly resize a prediction (B,C,h,w) to ``size`` = (H, W) (unchanged if equal)."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    return F.interpolate(pred, size=tuple(size), mode="bilinear", align_corners=False)


def resize_images(images: torch.Tensor, size: Size) -> torch.Tensor:
    """Images (B,C,h,w) resized to ``size`` = (H, W) the way a network's input is: bilinear with
    antialiasing (so shrinking a photo averages its pixels), unchanged if equal."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(
        images, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    )


def decode_outputs(encoding: Encoding, outputs: Outputs, size: Size) -> dict[str, torch.Tensor]:
    """Raw model outputs -> ``{"depth": metres (B,1,H,W)}``, plus ``"mask"`` probabilities
    (B,1,H,W) in [0,1] when the model has a mask head; (H, W) = ``size``. Computed in float32."""
    heads = {DEPTH: outputs} if isinstance(outputs, torch.Tensor) else dict(outputs)
    decoded = {DEPTH: upsample_to(encoding.decode(heads[DEPTH].float()), size)}
    if MASK in heads:
        decoded[MASK] = upsample_to(torch.sigmoid(heads[MASK].float()), size)
    return decoded


def predict(
    model: nn.Module,
    inputs: torch.Tensor,
    size: Size,
    flip_tta: bool = False,
    *,
    encoding: Encoding | None = None,
    outputs: Outputs | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``inputs`` (B,C,H',W') and decode its outputs at ``size`` (see the module).

    Args:
        flip_tta: also run the mirrored input and average (mirrored back) with the plain one.
        encoding: the depth encoding (default ``model.encoding``; give it for a wrapped model,
            e.g. under DistributedDataParallel).
        outputs: the model's outputs for ``inputs`` if already computed (e.g. for a loss).

    Returns:
        :func:`decode_outputs`' dict: ``depth`` metres (B,1,H,W), and ``mask`` if the model has one.
    """
    encoding = encoding if encoding is not None else model_encoding(model, "predict")
    decoded = decode_outputs(encoding, model(inputs) if outputs is None else outputs, size)
    if flip_tta:
        mirrored = decode_outputs(encoding, model(inputs.flip(-1)), size)
        decoded = {key: 0.5 * (value + mirrored[key].flip(-1)) for key, value in decoded.items()}
    return decoded


def predict_metres(
    model: nn.Module, images: torch.Tensor, size: Size, flip_tta: bool = False
) -> torch.Tensor:
    """Depth in metres (B,1,H,W), (H, W) = ``size``, of ``images`` (B,C,H',W') in [0,1].

    The model runs as it is (call ``model.eval()`` and ``torch.no_grad()`` around it for inference).
    """
    return predict(model, images, size, flip_tta)[DEPTH]


def predicted_batches(
    model: nn.Module,
    batches: Iterable[Sample],
    inputs: Callable[[Sample], torch.Tensor],
    device: torch.device | str | None = None,
    flip_tta: bool = False,
    max_batches: int | None = None,
) -> Iterator[tuple[Sample, dict[str, torch.Tensor]]]:
    """Yield ``(batch on device, prediction)`` for each batch: :func:`predict` of ``inputs(batch)``
    at the ground truth's size, in eval mode without gradients.

    ``device`` defaults to the model's. The model's mode is restored afterwards (also when the
    loop stops early or fails).
    """
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    encoding = model_encoding(model, "predicted_batches")
    was_training = model.training
    model.eval()
    try:
        for index, batch in enumerate(batches):
            if max_batches is not None and index >= max_batches:
                break
            batch = to_float(batch, device)
            with torch.no_grad():
                size = spatial_size(batch[DEPTH])
                prediction = predict(model, inputs(batch), size, flip_tta, encoding=encoding)
            yield batch, prediction
    finally:
        model.train(was_training)
