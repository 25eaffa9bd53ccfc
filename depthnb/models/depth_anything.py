"""Depth Anything V2 (Yang et al. 2024) as a depthnb model, through Hugging Face ``transformers``.

>>> model = build_model("depth-anything-v2", pretrained=True)      # 99 MB, once  # doctest: +SKIP
>>> predict_depth(model, Image.open("kitchen.jpg"))                # metres       # doctest: +SKIP

A DINOv2 ViT encoder and a DPT decoder; the metric indoor model was fine-tuned on Hypersim and
predicts metres up to 20 m. The wrapper does what ``transformers``' image processor does (its
``DPTImageProcessor``: ``keep_aspect_ratio``, ``ensure_multiple_of=14``, bicubic, ImageNet
statistics) inside ``forward``, so the model takes (B,3,H,W) in [0,1] like every depthnb model and
returns (B,1,H,W) at the input's size. ``transformers`` is an optional extra
(``pip install "depthnb[models]"``; Colab ships it) imported only when a model is built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.errors import ModelError
from depthnb.models.blocks import (
    DepthModel,
    _reachable,
    check_input,
    imagenet_normalize,
)

PATCH_SIZE = 14
TARGET_SIDE = 518
# variant -> (Hugging Face repository, depth_estimation_type, max_depth in metres)
VARIANTS = {
    "metric-indoor-small": (
        "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
        "metric",
        20,
    ),
    "relative-small": ("depth-anything/Depth-Anything-V2-Small-hf", "relative", 1),
}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise ModelError(
            "Depth Anything V2 needs Hugging Face transformers: pip install 'depthnb[models]' "
            "(or transformers>=4.45)"
        ) from error
    return transformers


def processed_size(
    height: int, width: int, target: int = TARGET_SIDE, multiple: int = PATCH_SIZE
) -> tuple[int, int]:
    """The size ``DPTImageProcessor`` resizes an image to (``keep_aspect_ratio=True``,
    ``ensure_multiple_of``): scale by whichever of ``target/height``, ``target/width`` is closer
    to 1, then round each side to the nearest multiple (Python's ``round``). 480x640 -> 518x686,
    240x320 -> 392x518. Unlike the processor, a side never rounds down to 0. Sides are taken
    as Python ints (an ONNX trace records this size, not a rule: such a graph has a fixed size).
    """
    height, width = int(height), int(width)
    scale_h, scale_w = target / height, target / width
    scale = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h
    new_height, new_width = (
        max(multiple, round(side * scale / multiple) * multiple) for side in (height, width)
    )
    return new_height, new_width


def _variant_config(variant: str) -> Any:
    """The released small model's architecture, without downloading (its config.json's values)."""
    transformers = _transformers()
    _, kind, max_depth = VARIANTS[variant]
    backbone = transformers.Dinov2Config(
        image_size=TARGET_SIDE,
        hidden_size=384,
        num_attention_heads=6,
        out_indices=[3, 6, 9, 12],
        reshape_hidden_states=False,
    )
    return transformers.DepthAnythingConfig(
        backbone_config=backbone, depth_estimation_type=kind, max_depth=max_depth
    )


def _from_pretrained(repo: str, cache_dir: str | os.PathLike | None, timeout: float) -> nn.Module:
    """``DepthAnythingForDepthEstimation.from_pretrained(repo)``: from the local cache if there,
    else downloaded after checking within ``timeout`` s that the hub answers, so that an offline
    machine gets a ModelError at once instead of retries."""
    transformers = _transformers()
    from huggingface_hub import constants

    cls = transformers.DepthAnythingForDepthEstimation
    try:
        return cls.from_pretrained(repo, local_files_only=True, cache_dir=cache_dir)
    except (OSError, ValueError):
        pass  # not cached yet
    advice = (
        "run once with network access (Hugging Face caches the files, in cache_dir= if given), "
        "or build the model with pretrained=False"
    )
    offline = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    if offline or constants.HF_HUB_OFFLINE:
        raise ModelError(f"{repo} is not in the local cache and HF_HUB_OFFLINE is set: {advice}")
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    reason = _reachable(endpoint, timeout)
    if reason is not None:
        raise ModelError(f"cannot download {repo} from {endpoint} ({reason}): {advice}")
    try:
        return cls.from_pretrained(repo, cache_dir=cache_dir)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelError(
            f"downloading {repo} from {endpoint} failed ({type(error).__name__}: {error}): {advice}"
        ) from error


class DepthAnythingV2(DepthModel):
    """Depth Anything V2 small, a ``transformers.DepthAnythingForDepthEstimation`` inside.

    Args:
        variant: ``"metric-indoor-small"`` (default; metres, up to 20 m; repository
            ``depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf``) or ``"relative-small"``
            (``depth-anything/Depth-Anything-V2-Small-hf``: relative disparity, see below).
        pretrained: load the released weights (``from_pretrained``; ~99 MB, cached by Hugging
            Face). Offline and not cached: ModelError within ``timeout`` seconds.
        hf_config: a ``DepthAnythingConfig.to_dict()`` to build instead of the released
            architecture (a tiny one for tests); a pretrained model records its own here, so that
            a checkpoint rebuilds without a download.
        target_side: the processor's target size (518): images are resized as
            :func:`processed_size` says before the network sees them.
        encoding: what the output means (default "metres").
        timeout: seconds to wait for the hub before giving up.
        cache_dir: where Hugging Face keeps the download (a Drive folder on Colab survives).

    Input (B,3,H,W) RGB in [0,1], any H, W >= 32; output (B,1,H,W): the prediction at the
    processed size, resized back bilinearly. ``relative`` is False for the metric model (metres,
    in (0, 20)); True for ``"relative-small"``, whose output is affine-invariant disparity (larger
    is nearer, no unit): not metres whatever ``encoding`` says; score it only after alignment.
    """

    name = "depth-anything-v2"
    output_stride = 1
    # ONNX (depthnb.deploy): the antialiased bicubic resize exports only through the dynamo
    # exporter, and the resized size is Python arithmetic, so the graph has a fixed H and W.
    onnx_exporter = "dynamo"
    onnx_dynamic_size = False

    def __init__(
        self,
        variant: str = "metric-indoor-small",
        pretrained: bool = False,
        hf_config: dict[str, Any] | None = None,
        target_side: int = TARGET_SIDE,
        encoding: Any = "metres",
        timeout: float = 10.0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise ModelError(f"unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
        if not isinstance(target_side, int) or target_side < PATCH_SIZE:
            raise ModelError(f"target_side={target_side!r}: use an int >= {PATCH_SIZE}, e.g. 518")
        repo, kind, _ = VARIANTS[variant]
        net: Any  # a transformers DepthAnythingForDepthEstimation
        if pretrained:
            net = _from_pretrained(repo, cache_dir, timeout)
        else:
            net = _transformers().DepthAnythingForDepthEstimation(self._config(variant, hf_config))
        if net.config.depth_estimation_type != kind:
            raise ModelError(
                f"variant {variant!r} is {kind} depth, but its configuration says "
                f"{net.config.depth_estimation_type!r}: pass the variant that matches hf_config"
            )
        config = json.loads(net.config.to_json_string(use_diff=False))
        super().__init__(
            {"variant": variant, "hf_config": config, "target_side": target_side}, encoding
        )
        self.net = net
        self.relative = kind == "relative"
        self.target_side = target_side
        self.normalize = imagenet_normalize()

    @staticmethod
    def _config(variant: str, hf_config: dict[str, Any] | None) -> Any:
        if hf_config is None:
            return _variant_config(variant)
        if not isinstance(hf_config, dict) or hf_config.get("model_type") != "depth_anything":
            raise ModelError(
                "hf_config must be a DepthAnythingConfig.to_dict() (model_type "
                f"'depth_anything'), got {type(hf_config).__name__}"
            )
        try:
            return _transformers().DepthAnythingConfig.from_dict(hf_config)
        except (TypeError, ValueError, KeyError) as error:
            raise ModelError(f"hf_config is not a valid DepthAnythingConfig: {error}") from error

    @property
    def encoder(self) -> nn.Module:
        """The DINOv2 backbone (for ``freeze_encoder`` and ``parameter_groups``)."""
        backbone: nn.Module = self.net.backbone
        return backbone

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """What the Hugging Face processor makes of the image: (B,3,H,W) in [0,1] -> ImageNet-
        normalised (B,3,h,w), (h, w) = :func:`processed_size`.

        The processor resizes the uint8 image bicubically with antialiasing, as PIL does: rows
        first, then columns, saturating to 0..255 after each pass. Two float passes clamped to
        [0,1] reproduce that within one grey level (one pass differs by up to 90 levels next to
        sharp edges, where the first pass overshoots).
        """
        height, width = processed_size(image.shape[-2], image.shape[-1], self.target_side)
        pixels = image
        for size in ((image.shape[-2], width), (height, width)):
            pixels = F.interpolate(
                pixels, size=size, mode="bicubic", align_corners=False, antialias=True
            ).clamp(0, 1)
        return self.normalize(pixels)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [0,1] -> (B,1,H,W) depth in metres (relative disparity if ``relative``)."""
        check_input(image, 3, self.name)
        depth = self.net(pixel_values=self.preprocess(image)).predicted_depth
        return F.interpolate(
            depth[:, None], size=tuple(image.shape[-2:]), mode="bilinear", align_corners=False
        )


def depth_anything_from_files(path: str | os.PathLike) -> DepthAnythingV2:
    """Depth Anything V2 from its Hugging Face files on disk: a folder holding ``config.json``
    and ``model.safetensors`` (a repository snapshot, as ``load_pretrained`` downloads it), or the
    path of either file. Read by ``transformers`` itself (``local_files_only``); nothing is
    downloaded.

    Raises:
        ModelError: a file is missing, or they are not a Depth Anything model.
    """
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    missing = [
        name for name in ("config.json", "model.safetensors") if not (folder / name).is_file()
    ]
    if missing:
        raise ModelError(
            f"{folder}: lacks {missing}; expected a Depth Anything V2 snapshot with config.json "
            "and model.safetensors (from its Hugging Face repository)"
        )
    cls = _transformers().DepthAnythingForDepthEstimation
    try:
        net = cls.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{folder}: not a Depth Anything V2 model ({error})") from error
    kind = net.config.depth_estimation_type
    variant = next(name for name, (_, k, _) in VARIANTS.items() if k == kind)
    config = json.loads(net.config.to_json_string(use_diff=False))
    model = DepthAnythingV2(variant=variant, hf_config=config)
    model.net.load_state_dict(net.state_dict())
    return model.eval()
