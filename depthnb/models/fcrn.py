"""FCRN (Laina et al. 2016): a ResNet-50 encoder and four up-projection blocks.

Input (B,3,H,W) in [0,1], any H, W >= 32; output (B,1,16*ceil(H/32),16*ceil(W/32)) in the model's
encoding (default "metres"). At the paper's 228x304 that is 128x160: the output spans the input's
whole field of view (ResNet-50 rounds each stride-2 stage up, 228 -> 8 rows at 1/32, and the decoder
doubles four times), so callers resize it to the input size rather than crop it.

The up-projection comes in two forms that compute the same function: the plain one
(:class:`UpProjection`: unpool, then 5x5 convolutions on a map that is 3/4 zeros) and the fast one
(:class:`FastUpProjection`: four small convolutions on the map before unpooling, interleaved by a
pixel shuffle); :func:`fast_from_plain` converts weights from the first to the second.

``FCRN(release=True)`` is the authors' TensorFlow graph instead (``tensorflow/models/fcrn.py`` and
``network.py`` of iro-cp/FCRN-DepthPrediction), the layout :func:`depthnb.models.fcrn_from_tf_npy`
loads their NYU weights into: Caffe's ResNet-50 (stride 2 on the first 1x1 conv of a stage, not on
the 3x3; a bias on conv1), TensorFlow's SAME max-pool (padding after, not before, on even sizes),
BatchNorm epsilon 1e-4, biases on every decoder conv, the release's paddings of the fast up-conv
(:data:`RELEASE_PADS`) and its input, RGB in 0..255 without mean subtraction.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from depthnb.errors import ModelError
from depthnb.hub.torchvision import load_torchvision_weights
from depthnb.models.blocks import DepthModel, ceil_div, check_input, imagenet_normalize

DECODER_CHANNELS = (1024, 512, 256, 128, 64)

# The fast up-convolution's four kernels: (name, rows of the 5x5 kernel, its columns, kernel size,
# padding of the small map as (left, right, top, bottom)). Output pixel (2i+r, 2j+s) meets the
# unpooled map's non-zeros only through the 5x5 kernel's rows r, r+2, .. and columns s, s+2, ..
EVEN, ODD = slice(0, 5, 2), slice(1, 5, 2)
FAST_KERNELS = (
    ("even_even", EVEN, EVEN, (3, 3), (1, 1, 1, 1)),
    ("even_odd", EVEN, ODD, (3, 2), (0, 1, 1, 1)),
    ("odd_even", ODD, EVEN, (2, 3), (1, 1, 0, 1)),
    ("odd_odd", ODD, ODD, (2, 2), (0, 1, 0, 1)),
)
# The release's unpool_as_conv pads the 2-tap axes before the map, not after (its ConvC, ConvB,
# ConvD are even_odd, odd_even, odd_odd here): output row 2i+1 reads rows i-1, i, not i, i+1. This
# is no 5x5 convolution of an unpooled map, so the release's up-projection has only the fast form.
RELEASE_PADS = {
    "even_even": (1, 1, 1, 1),
    "even_odd": (1, 0, 1, 1),
    "odd_even": (1, 1, 1, 0),
    "odd_odd": (1, 0, 1, 0),
}
RELEASE_BN_EPS = 1e-4


def unpool(x: torch.Tensor) -> torch.Tensor:
    """FCRN's unpooling: (B,C,h,w) -> (B,C,2h,2w), each value in the top-left of its 2x2 cell, zeros
    elsewhere."""
    batch, channels, height, width = x.shape
    out = x.new_zeros(batch, channels, 2 * height, 2 * width)
    out[..., ::2, ::2] = x
    return out


class UpProjection(nn.Module):
    """The plain up-projection: unpool x2; branch 1 conv5x5-BN-ReLU-conv3x3-BN; branch 2 conv5x5-BN;
    sum; ReLU. (B,C_in,h,w) -> (B,C_out,2h,2w). Convolutions without bias (BN follows)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = unpool(x)
        branch1 = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        branch2 = self.bn3(self.conv3(x))
        return F.relu(branch1 + branch2)


class FastUpConv(nn.Module):
    """A 5x5 convolution (padding 2) of ``unpool(x)``, computed without the zeros: four convolutions
    (3x3, 3x2, 2x3, 2x2) of x give the four pixels of each 2x2 output cell; a pixel shuffle
    interleaves them. (B,C_in,h,w) -> (B,C_out,2h,2w), the same parameters as the 5x5 kernel.

    ``release=True``: the TF release's paddings (:data:`RELEASE_PADS`) and a bias on each conv.
    """

    def __init__(self, in_channels: int, out_channels: int, release: bool = False) -> None:
        super().__init__()
        self.convs = nn.ModuleDict(
            {
                name: nn.Conv2d(in_channels, out_channels, size, bias=release)
                for name, _, _, size, _ in FAST_KERNELS
            }
        )
        self.pads = {
            name: RELEASE_PADS[name] if release else pad for name, _, _, _, pad in FAST_KERNELS
        }

    @torch.no_grad()
    def load_from_conv5x5(self, weight: torch.Tensor) -> None:
        """Copy a plain (C_out,C_in,5,5) kernel's entries into the four small kernels."""
        for name, rows, cols, _, _ in FAST_KERNELS:
            conv: nn.Conv2d = self.convs[name]  # type: ignore[assignment]
            conv.weight.copy_(weight[:, :, rows, cols])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.convs[name](F.pad(x, self.pads[name])) for name, *_ in FAST_KERNELS]
        batch, channels, height, width = parts[0].shape
        # Channel c*4 + (2r + s) of the stack becomes pixel (2i+r, 2j+s) of channel c.
        stacked = torch.stack(parts, dim=2).reshape(batch, channels * 4, height, width)
        return F.pixel_shuffle(stacked, 2)


class FastUpProjection(nn.Module):
    """The fast up-projection: :class:`UpProjection` with both 5x5 convs of the unpooled map
    replaced by :class:`FastUpConv`. Same function, same parameter count, ~4x fewer multiplications
    in the 5x5 convs. (B,C_in,h,w) -> (B,C_out,2h,2w). ``release=True``: the TF release's block
    (its paddings, biases on every conv, BN epsilon 1e-4)."""

    def __init__(self, in_channels: int, out_channels: int, release: bool = False) -> None:
        super().__init__()
        eps = RELEASE_BN_EPS if release else 1e-5
        self.conv1 = FastUpConv(in_channels, out_channels, release)
        self.bn1 = nn.BatchNorm2d(out_channels, eps=eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=release)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=eps)
        self.conv3 = FastUpConv(in_channels, out_channels, release)
        self.bn3 = nn.BatchNorm2d(out_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch1 = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        branch2 = self.bn3(self.conv3(x))
        return F.relu(branch1 + branch2)


@torch.no_grad()
def fast_from_plain(plain: UpProjection) -> FastUpProjection:
    """A FastUpProjection computing exactly what ``plain`` computes (weights derived from its 5x5
    kernels; BN parameters and statistics and the 3x3 conv copied), on the same device and dtype."""
    out_channels, in_channels = plain.conv1.weight.shape[:2]
    fast = FastUpProjection(in_channels, out_channels).to(
        device=plain.conv1.weight.device, dtype=plain.conv1.weight.dtype
    )
    fast.conv1.load_from_conv5x5(plain.conv1.weight)
    fast.conv3.load_from_conv5x5(plain.conv3.weight)
    for name in ("bn1", "conv2", "bn2", "bn3"):
        getattr(fast, name).load_state_dict(getattr(plain, name).state_dict())
    fast.train(plain.training)
    return fast


class FCRNDecoder(nn.Module):
    """1x1 conv 2048 -> 1024 + BN, four up-projections 1024 -> 512 -> 256 -> 128 -> 64, dropout,
    conv3x3 -> 1 (no bias; with biases and the release's blocks if ``release``, which needs
    ``fast``). (B,2048,h,w) -> (B,1,16h,16w)."""

    def __init__(self, fast: bool = True, dropout: float = 0.0, release: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2048, DECODER_CHANNELS[0], 1, bias=release)
        self.bn = nn.BatchNorm2d(DECODER_CHANNELS[0], eps=RELEASE_BN_EPS if release else 1e-5)
        self.up = nn.Sequential(
            *(
                FastUpProjection(c_in, c_out, release)
                if fast or release
                else UpProjection(c_in, c_out)
                for c_in, c_out in zip(DECODER_CHANNELS, DECODER_CHANNELS[1:])
            )
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Conv2d(DECODER_CHANNELS[-1], 1, 3, padding=1, bias=release)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.up(self.bn(self.conv(x)))))


class Rescale(nn.Module):
    """x * factor: the release's input, RGB in [0,1] -> float 0..255 as its predict.py feeds."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class SameMaxPool(nn.Module):
    """TensorFlow's ``max_pool(3x3, stride 2, padding='SAME')``: pads ``k - s`` or ``k - s - 1``
    cells, the smaller half before, so an even side is padded after only (PyTorch's padding=1
    pads both sides). (B,C,H,W) -> (B,C,ceil(H/2),ceil(W/2))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max(2 * (ceil_div(size, 2) - 1) + 3 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.max_pool2d(F.pad(x, pads, value=float("-inf")), 3, 2)


def _caffe_resnet(net: nn.Module) -> None:
    """Turn torchvision's ResNet-50 into Caffe's, in place: a bias on conv1, TF's SAME max-pool,
    each stage's stride on its first 1x1 conv instead of the 3x3, BN epsilon 1e-4."""
    net.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=True)
    net.maxpool = SameMaxPool()
    for stage in ("layer2", "layer3", "layer4"):
        first = getattr(net, stage)[0]
        first.conv1.stride, first.conv2.stride = (2, 2), (1, 1)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eps = RELEASE_BN_EPS


def resnet50_encoder(
    pretrained: bool = False, timeout: float = 10.0, release: bool = False
) -> nn.Sequential:
    """ResNet-50 without its pooling and classifier (23,508,032 parameters): (B,3,H,W) ->
    (B,2048,ceil(H/32),ceil(W/32)); ImageNet weights (``ResNet50_Weights.IMAGENET1K_V1``) if
    ``pretrained`` (ModelError at once when offline); Caffe's layout if ``release`` (64 more
    parameters: conv1's bias)."""
    state = None
    if pretrained:  # before building the network, so that an offline machine fails at once
        state = load_torchvision_weights(ResNet50_Weights.IMAGENET1K_V1, timeout=timeout)
    net = resnet50(weights=None)
    if state is not None:
        net.load_state_dict(state)
    if release:
        _caffe_resnet(net)
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    return nn.Sequential(*(getattr(net, name) for name in names))


class FCRN(DepthModel):
    """FCRN: ResNet-50 encoder, 1x1 conv + BN, four up-projections, conv3x3 -> 1.

    Args:
        fast: use the fast up-projection (default; same function and parameters as the plain one).
        dropout: dropout probability before the last conv (the paper has a dropout layer there;
            0 switches it off).
        pretrained: load torchvision's ImageNet ResNet-50 weights (raises ModelError quickly when
            offline).
        encoding: what the output means (default "metres", as the paper regresses depth directly).
        timeout: seconds to wait for the weights server before giving up.
        release: the authors' TensorFlow graph (see the module's docstring), for the weights
            :func:`depthnb.models.fcrn_from_tf_npy` reads: input in [0,1] is scaled to 0..255 with
            no mean subtraction; needs ``fast`` and ``pretrained=False``. 63,572,737 parameters.

    63,563,008 parameters (the paper's 63.6M). Input (B,3,H,W) in [0,1], normalised inside with
    ImageNet statistics, any H, W >= 32 (no padding: the convolutions' zero padding and ResNet's
    rounding-up handle odd sizes). Output (B,1,16*ceil(H/32),16*ceil(W/32)); 228x304 -> 128x160.
    ``output_stride`` is 2, exact when H and W are multiples of 32. Train the decoder at 10x the
    encoder's rate with ``parameter_groups(model, lr, encoder_lr_scale=0.1)``.
    """

    name = "fcrn"
    output_stride = 2
    feature_layers = (
        "encoder.4",
        "encoder.5",
        "encoder.6",
        "encoder.7",
        "decoder.bn",
        "decoder.up.0",
        "decoder.up.1",
        "decoder.up.2",
        "decoder.up.3",
    )

    def __init__(
        self,
        fast: bool = True,
        dropout: float = 0.0,
        pretrained: bool = False,
        encoding: Any = "metres",
        timeout: float = 10.0,
        release: bool = False,
    ) -> None:
        if release and (pretrained or not fast):
            raise ModelError(
                "FCRN(release=True) is the TF release's graph: it has only the fast up-projection "
                "and takes its weights from fcrn_from_tf_npy; use fast=True, pretrained=False"
            )
        config = {"fast": bool(fast), "dropout": float(dropout), "release": bool(release)}
        super().__init__(config, encoding)
        self.normalize: nn.Module = Rescale(255.0) if release else imagenet_normalize()
        self.encoder = resnet50_encoder(pretrained, timeout, release)
        self.decoder = FCRNDecoder(fast, dropout, release)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [0,1] -> (B,1,16*ceil(H/32),16*ceil(W/32)) in the encoding's space."""
        check_input(image, 3, "fcrn")
        return self.decoder(self.encoder(self.normalize(image)))
