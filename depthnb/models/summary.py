"""Looking inside a model: parameter and MAC counts, freezing the encoder, optimizer parameter
groups with a separate encoder learning rate, and intermediate feature maps for visualisation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from depthnb.errors import ArgumentError, ModelError


def count_parameters(model: nn.Module) -> dict[str, int]:
    """{"total": all parameters, "trainable": those with requires_grad}; buffers (BN statistics) are
    not parameters and are not counted."""
    params = list(model.parameters())
    return {
        "total": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
    }


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode (BN statistics untouched) and restore each module's mode afterwards."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def _input_channels(model: nn.Module) -> int:
    config = getattr(model, "config", {})
    return int(config.get("in_channels", 3)) if isinstance(config, dict) else 3


def _example_input(
    model: nn.Module, input_size: Sequence[int], channels: int | None, batch_size: int
) -> torch.Tensor:
    """A zero input (batch_size, C, H, W) on the model's device, C = ``channels`` or the model's
    ``config["in_channels"]`` (3 without one)."""
    size = tuple(int(s) for s in input_size)
    if len(size) != 2 or min(size) < 1:
        raise ArgumentError(
            f"input_size={tuple(input_size)} is not an image size (H, W); pass the channels and "
            "the batch size by name: count_macs(model, (H, W), channels=C, batch_size=B)"
        )
    c = _input_channels(model) if channels is None else int(channels)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    return torch.zeros((int(batch_size), c, *size), device=device, dtype=dtype)


def _countable_attention() -> Any:
    """Attention computed by its matrix products, which the flop counter sees: the fused CPU
    kernel of ``scaled_dot_product_attention`` is not counted (a ViT's QK^T and AV went missing on
    the CPU, 3 % of Depth Anything V2 small at 140x140 and more at larger inputs, while the same
    model on the ``meta`` device counted them)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH])


def count_macs(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    channels: int | None = None,
    batch_size: int = 1,
) -> int:
    """Multiply-accumulates of one forward pass of ``batch_size`` images of ``input_size`` (H, W)
    with ``channels`` channels (default: the model's ``config["in_channels"]``, else 3).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products; 2
    FLOPs per MAC), so MACs = FLOPs / 2. Element-wise work (BN, activations, interpolation) is not
    counted, as in the papers' figures. A model on the ``meta`` device is counted without computing
    anything, which is fast even for big inputs.
    """
    x = _example_input(model, input_size, channels, batch_size)
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), torch.no_grad(), _countable_attention(), counter:
        model(x)
    return counter.get_total_flops() // 2


def macs_by_module(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    channels: int | None = None,
    batch_size: int = 1,
    level: int = 1,
) -> dict[str, int]:
    """MACs of one forward pass (as :func:`count_macs`) split by the model's direct children:
    {"encoder": .., "decoder": .., ..., "total": ..}; a child that is never called (a ModuleList)
    does not appear. Work done in the model's own ``forward`` (outside any child) is in "total"
    only. ``level=2`` splits by the children's children instead ({"net.backbone": .., ...}: a
    wrapped network's parts), and so on."""
    x = _example_input(model, input_size, channels, batch_size)
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), torch.no_grad(), _countable_attention(), counter:
        model(x)
    parts = {}
    for key, counts in counter.get_flop_counts().items():
        names = key.split(".")
        if len(names) == level + 1 and names[0] != "Global":
            parts[".".join(names[1:])] = sum(counts.values()) // 2
    parts["total"] = counter.get_total_flops() // 2
    return parts


def _encoder(model: nn.Module) -> nn.Module:
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ModelError(
            f"{type(model).__name__} has no .encoder (only models with a pretrained encoder, "
            "'densedepth' and 'fcrn', have one)"
        )
    return encoder


def freeze_encoder(model: nn.Module, frozen: bool = True) -> nn.Module:
    """Set ``requires_grad = not frozen`` on every encoder parameter; returns the model.

    BatchNorm statistics still update in train mode; call ``model.encoder.eval()`` after
    ``model.train()`` to hold them too.
    """
    for param in _encoder(model).parameters():
        param.requires_grad_(not frozen)
    return model


def parameter_groups(
    model: nn.Module, lr: float, encoder_lr_scale: float = 1.0
) -> list[dict[str, Any]]:
    """Parameter groups for a torch optimizer: the encoder at ``lr * encoder_lr_scale``, the rest at
    ``lr``.

    FCRN trains its decoder at 10x the encoder's rate: ``parameter_groups(model, 0.1, 0.1)`` gives
    the decoder 0.1 and the ResNet 0.01. A model without ``.encoder`` gets one group at ``lr``.
    Frozen parameters stay in their group (the optimizer skips them while they have no gradient),
    so unfreezing later needs no new optimizer.
    """
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        return [{"params": list(model.parameters()), "lr": lr, "name": "all"}]
    encoder_ids = {id(p) for p in encoder.parameters()}
    rest = [p for p in model.parameters() if id(p) not in encoder_ids]
    return [
        {"params": list(encoder.parameters()), "lr": lr * encoder_lr_scale, "name": "encoder"},
        {"params": rest, "lr": lr, "name": "decoder"},
    ]


def feature_maps(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """Outputs of named submodules during one forward pass of ``x``: name -> (B,C,h,w) tensor.

    ``layers`` are names from ``model.named_modules()``; None takes the model's
    ``feature_layers`` (its encoder stages and decoder blocks, shallow to deep). A module that
    returns a tuple contributes its first tensor. Runs in eval mode without gradients; returns
    detached tensors on the CPU, in the order of ``layers``.
    """
    names = list(layers) if layers is not None else list(getattr(model, "feature_layers", ()))
    modules = dict(model.named_modules())
    missing = [name for name in names if name not in modules]
    if missing or not names:
        children = [name for name, _ in model.named_children()]
        raise ModelError(
            f"feature_maps: no layers named {missing or names} in {type(model).__name__}; "
            "pass names "
            f"from model.named_modules(), e.g. its children {children}"
        )
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            while isinstance(output, (tuple, list)):
                output = output[0]
            captured[name] = output.detach().cpu()

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in names]
    try:
        with _eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: captured[name] for name in names if name in captured}
