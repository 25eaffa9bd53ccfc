"""Depth Anything V2 (Yang et al. 2024) as a depthnb model, through Hugging Face ``transformers``.

``build_model("depth-anything-v2", pretrained=True)`` fetches the released weights (99 MB) once;
``predict_depth(model, "kitchen.jpg")`` is then the photograph's depth in metres.

The released weights are the Hugging Face repository's own ``config.json`` and
``model.safetensors``, fetched once at a pinned revision (:mod:`depthnb.models.pretrained`:
``$DEPTHNB_MIRROR`` first, else ``huggingface_hub`` into the user's Hugging Face cache) and read
by one function, :func:`read_snapshot`, whichever way the model is asked for
(``build_model(..., pretrained=True)``, ``load_pretrained(name)``,
:func:`depth_anything_from_files`).

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

from depthnb.errors import MissingPackageError, ModelError
from depthnb.models.blocks import (
    DepthModel,
    check_input,
    imagenet_normalize,
)
from depthnb.models.pretrained import PRETRAINED, SNAPSHOT_FILES, VARIANTS, fetch_snapshot

PATCH_SIZE = 14
TARGET_SIDE = 518


_DELETE_ADVICE = (
    "it is damaged or incomplete: put a complete copy there (from the model's Hugging Face "
    "repository), or delete it and let depthnb.models.load_pretrained download it again"
)


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise MissingPackageError(
            "Depth Anything V2 needs Hugging Face transformers: pip install 'depthnb[models]' "
            "(or transformers>=5.15)"
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


def _read_json(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot be read as JSON ({error}); {_DELETE_ADVICE}") from error
    if not isinstance(config, dict) or config.get("model_type") != "depth_anything":
        raise ModelError(
            f"{path}: is not a Depth Anything configuration (its model_type is "
            f"{config.get('model_type') if isinstance(config, dict) else None!r}, expected "
            f"'depth_anything'); {_DELETE_ADVICE}"
        )
    return config


def snapshot_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """``config.json`` and ``model.safetensors`` of a Depth Anything V2 snapshot: ``path`` is its
    folder or either file in it.

    Raises:
        ModelError: a file is missing.
    """
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    missing = [name for name in SNAPSHOT_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"{folder}: lacks {missing}; expected a Depth Anything V2 snapshot with config.json "
            "and model.safetensors (from its Hugging Face repository)"
        )
    return folder / "config.json", folder / "model.safetensors"


def read_snapshot(path: str | os.PathLike) -> Any:
    """THE loading path of Depth Anything V2's published files (whichever function was called):
    the ``transformers`` module built from ``config.json``, then ``model.safetensors`` read with
    ``safetensors.torch.load_file`` into it. Nothing is downloaded or converted on disk.

    The state dict goes in through ``from_pretrained(None, config=..., state_dict=...)``, so that
    ``transformers`` maps the file's parameter names onto its modules (transformers 5 renamed
    DINOv2's attention layers, and keeps the published names in the files it saves).

    Raises:
        ModelError: a file is missing, damaged or truncated, or does not fit the configuration
            (the message names the file and says what to do).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config_path, weights_path = snapshot_files(path)
    transformers = _transformers()
    try:
        config = transformers.DepthAnythingConfig.from_dict(_read_json(config_path))
    except (TypeError, ValueError, KeyError) as error:
        raise ModelError(f"{config_path}: not a valid DepthAnythingConfig ({error})") from error
    try:
        state = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(
            f"{weights_path}: not a complete safetensors file ({error}); {_DELETE_ADVICE}"
        ) from error
    cls = transformers.DepthAnythingForDepthEstimation
    try:
        net, info = cls.from_pretrained(
            None, config=config, state_dict=state, output_loading_info=True
        )
    except (RuntimeError, ValueError, KeyError) as error:
        raise ModelError(f"{weights_path}: does not fit {config_path} ({error})") from error
    wrong = {key: sorted(info[key])[:5] for key in ("missing_keys", "unexpected_keys")}
    wrong["mismatched_keys"] = sorted(str(k) for k in info["mismatched_keys"])[:5]
    if any(wrong.values()):
        raise ModelError(
            f"{weights_path}: its tensors do not fit the network of {config_path} "
            f"({', '.join(f'{k}: {v}' for k, v in wrong.items() if v)}); {_DELETE_ADVICE}"
        )
    return net.eval()


def variant_of(config: dict[str, Any]) -> str:
    """The :data:`VARIANTS` name of a Depth Anything configuration (its ``to_dict()``): by depth
    type and maximum depth, else the first of its depth type."""
    kind = config.get("depth_estimation_type", "relative")
    same_kind = [name for name, (_, k, _) in VARIANTS.items() if k == kind]
    if not same_kind:
        raise ModelError(f"depth_estimation_type {kind!r}: expected 'metric' or 'relative'")
    exact = [name for name in same_kind if VARIANTS[name][2] == config.get("max_depth")]
    return (exact or same_kind)[0]


class DepthAnythingV2(DepthModel):
    """Depth Anything V2 small, a ``transformers.DepthAnythingForDepthEstimation`` inside.

    Args:
        variant: ``"metric-indoor-small"`` (default; metres, up to 20 m, fine-tuned on Hypersim;
            repository ``depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf``),
            ``"metric-outdoor-small"`` (metres, up to 80 m, Virtual KITTI;
            ``depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf``) or ``"relative-small"``
            (``depth-anything/Depth-Anything-V2-Small-hf``: relative disparity, see below).
        pretrained: load the released weights (~99 MB, once): ``$DEPTHNB_MIRROR`` first, else
            ``huggingface_hub.hf_hub_download`` at the revision pinned in
            :data:`depthnb.models.pretrained.PRETRAINED`, in the user's Hugging Face cache
            (``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and a token are
            honoured). Offline and not cached: DownloadError within about ``timeout`` seconds.
        files: a folder holding the released ``config.json`` and ``model.safetensors`` (or
            either file in it) to load instead of downloading; implies ``pretrained``.
        hf_config: a ``DepthAnythingConfig.to_dict()`` to build instead of the released
            architecture (a tiny one for tests); a pretrained model records its own here, so that
            a checkpoint rebuilds without a download.
        target_side: the processor's target size (518): images are resized as
            :func:`processed_size` says before the network sees them.
        encoding: what the output means (default "metres").
        timeout: seconds to wait for the Hub before giving up.
        cache_dir: a Hugging Face cache folder other than the user's own (default: theirs).

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
        files: str | os.PathLike | None = None,
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
        _, kind, _ = VARIANTS[variant]
        net: Any  # a transformers DepthAnythingForDepthEstimation
        if pretrained and files is None:
            spec = PRETRAINED[f"{self.name}-{variant}"]
            files = fetch_snapshot(spec, timeout=timeout, hub_cache=cache_dir)
        if files is not None:
            net = read_snapshot(files)
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
    and ``model.safetensors`` (a repository snapshot, as ``load_pretrained`` fetches it), or the
    path of either file. The variant (metric indoor or outdoor, relative) is read from the
    configuration; the files are read by :func:`read_snapshot`; nothing is downloaded.

    Raises:
        ModelError: a file is missing or damaged, or they are not a Depth Anything model.
    """
    config_path, _ = snapshot_files(path)
    return DepthAnythingV2(variant=variant_of(_read_json(config_path)), files=path).eval()
