"""DenseDepth (Alhashim & Wonka 2018): an ImageNet DenseNet-169 encoder and an up-sampling decoder.

Input (B,3,H,W) in [0,1], any H, W >= 32; output (B,1,ceil(H/2),ceil(W/2)) (480x640 -> 240x320) in
the model's encoding (default "inverse", DenseDepth's DepthNorm ``max_depth / depth``).
``densedepth_from_keras`` (``depthnb.models.convert.keras_densedepth``) loads the authors'
published Keras weights into this model.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import DenseNet169_Weights, densenet169

from depthnb.errors import ModelError
from depthnb.hub.torchvision import load_torchvision_weights
from depthnb.models.blocks import (
    DepthModel,
    ceil_div,
    check_input,
    imagenet_normalize,
    pad_to_multiple,
)

# Encoder layers whose outputs the decoder uses, coarse to fine, with their stride and channels.
SKIP_TAPS = (
    ("transition2", 16, 256),  # after transition2's 2x2 average pool
    ("transition1", 8, 128),  # after transition1's 2x2 average pool
    ("pool0", 4, 64),  # the stem's 3x3 max pool
    ("relu0", 2, 64),  # the stem's 7x7 stride-2 conv, BN, ReLU
)
ENCODER_CHANNELS = 1664  # densenet169().features output (norm5), stride 32
INPUT_NORMS = ("imagenet", "none")

# torchvision's DenseNet checkpoints name layers "norm.1"; the modules are called "norm1".
_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


class UpSample(nn.Module):
    """Bilinear up-sampling to the skip's size, concat the skip, two conv3x3 + LeakyReLU(0.2).

    (B,C_in,h,w) and skip (B,C_skip,H,W) -> (B,C_out,H,W). ``align_corners=True`` is TF 1.x
    ``resize_images(..., align_corners=True)``, which the published weights were trained with;
    False is half-pixel centres (TF2 ``tf.image.resize``).
    """

    def __init__(self, in_channels: int, out_channels: int, align_corners: bool = True) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv_b = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(
            x, size=skip.shape[-2:], mode="bilinear", align_corners=self.align_corners
        )
        x = self.act(self.conv_a(torch.cat([x, skip], dim=1)))
        return self.act(self.conv_b(x))


class DenseDepthDecoder(nn.Module):
    """1x1 conv 1664 -> 1664*width, four UpSample blocks halving the channels, conv3x3 -> 1.

    Takes the encoder's features dict (``norm5`` and the four skip taps) and returns (B,1,H/2,W/2)
    for an input of (B,3,H,W).
    """

    def __init__(self, width: float = 1.0, align_corners: bool = True) -> None:
        super().__init__()
        features = int(ENCODER_CHANNELS * width)
        if features < 16:
            raise ModelError(
                f"densedepth width={width} leaves {features} channels; use width >= 0.01"
            )
        self.conv = nn.Conv2d(ENCODER_CHANNELS, features, 1)
        blocks, channels = [], features
        for index, (_, _, skip_channels) in enumerate(SKIP_TAPS, start=1):
            out = features // 2**index
            blocks.append(UpSample(channels + skip_channels, out, align_corners))
            channels = out
        self.up1, self.up2, self.up3, self.up4 = blocks
        self.head = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.conv(F.relu(features["norm5"]))
        for block, (tap, _, _) in zip((self.up1, self.up2, self.up3, self.up4), SKIP_TAPS):
            x = block(x, features[tap])
        return self.head(x)


def densenet169_features(pretrained: bool = False, timeout: float = 10.0) -> nn.Sequential:
    """torchvision's ``densenet169().features`` (12,484,480 parameters), with ImageNet weights if
    ``pretrained`` (``DenseNet169_Weights.IMAGENET1K_V1``; ModelError at once when offline)."""
    state = None
    if pretrained:  # before building the network, so that an offline machine fails at once
        state = load_torchvision_weights(DenseNet169_Weights.IMAGENET1K_V1, timeout=timeout)
    features = densenet169(weights=None).features
    if state is not None:
        renamed = {_OLD_KEY.sub(r"\1\2", key): value for key, value in state.items()}
        prefix = "features."
        features.load_state_dict(
            {key[len(prefix) :]: value for key, value in renamed.items() if key.startswith(prefix)}
        )
    return features


class DenseDepth(DepthModel):
    """DenseDepth: DenseNet-169 encoder with four skip taps and a bilinear up-sampling decoder.

    Args:
        width: decoder width factor (1.0: 42,657,689 parameters, the paper's 42.6M; 0.5:
            21,365,405). The encoder alone has 12,484,480.
        pretrained: load torchvision's ImageNet weights into the encoder (downloads ~55 MB once;
            raises ModelError quickly when offline).
        encoding: what the output means (default "inverse": DepthNorm, max_depth / depth).
        timeout: seconds to wait for the weights server before giving up.
        input_norm: "imagenet" (normalise inside with ImageNet mean and std, as torchvision's
            weights expect) or "none" (the network sees [0,1] RGB, as DenseDepth's Keras model).
        align_corners: the decoder's bilinear up-sampling; True (TF 1.x aligned corners, the
            published weights) or False (half-pixel centres).
        bn_eps: the encoder's BatchNorm epsilon (torch's 1e-5; Keras's DenseNet uses 1.001e-5).

    Input (B,3,H,W) in [0,1], normalised inside as ``input_norm`` says. Any H, W >= 32: the input
    is reflect-padded at the bottom/right to a multiple of 32 and the output cropped to
    (B,1,ceil(H/2),ceil(W/2)). ``.encoder`` is the DenseNet, ``.decoder`` the rest.
    """

    name = "densedepth"
    output_stride = 2
    feature_layers = (
        "encoder.relu0",
        "encoder.pool0",
        "encoder.transition1",
        "encoder.transition2",
        "encoder.norm5",
        "decoder.up1",
        "decoder.up2",
        "decoder.up3",
        "decoder.up4",
    )

    def __init__(
        self,
        width: float = 1.0,
        pretrained: bool = False,
        encoding: Any = "inverse",
        timeout: float = 10.0,
        input_norm: str = "imagenet",
        align_corners: bool = True,
        bn_eps: float = 1e-5,
    ) -> None:
        if input_norm not in INPUT_NORMS:
            raise ModelError(
                f"densedepth input_norm={input_norm!r}; choose one of {list(INPUT_NORMS)}"
            )
        if not (isinstance(bn_eps, (int, float)) and 0 < bn_eps < 1):
            raise ModelError(f"densedepth bn_eps={bn_eps!r}; use a small positive float, e.g. 1e-5")
        config = {
            "width": float(width),
            "input_norm": input_norm,
            "align_corners": bool(align_corners),
            "bn_eps": float(bn_eps),
        }
        super().__init__(config, encoding)
        self.normalize = imagenet_normalize() if input_norm == "imagenet" else nn.Identity()
        self.encoder = densenet169_features(pretrained, timeout)
        for module in self.encoder.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps = float(bn_eps)
        self.decoder = DenseDepthDecoder(width, bool(align_corners))

    def encode(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The encoder's outputs the decoder uses: {"relu0", "pool0", "transition1", "transition2",
        "norm5"} -> (B,C,H/s,W/s) with s = 2, 4, 8, 16, 32, for an input (B,3,H,W) whose sides are
        multiples of 32 (other sizes round down at each pooling)."""
        x = self.normalize(image)
        wanted = {tap for tap, _, _ in SKIP_TAPS} | {"norm5"}
        features = {}
        for name, layer in self.encoder.named_children():
            x = layer(x)
            if name in wanted:
                features[name] = x
        return features

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [0,1] -> (B,1,ceil(H/2),ceil(W/2)) in the encoding's space."""
        check_input(image, 3, "densedepth")
        height, width = image.shape[-2:]
        out = self.decoder(self.encode(pad_to_multiple(image)))
        return out[..., : ceil_div(height, 2), : ceil_div(width, 2)]
