"""Where code runs: picking the device and the precision, waiting for a GPU.

torch is imported on first use, so that the settings' vocabulary (:data:`PRECISIONS`) and the
command line's ``--help`` do not load it.

One place for each, used by the Trainer, the notebooks' ``setup()``, evaluation and profiling.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from depthnb.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def default_device() -> torch.device:
    """The best device here: CUDA, then Apple's MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA, else MPS, else CPU; any other name is checked to exist."""
    import torch

    if name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(
            f"device {name!r} is not a torch device name (try auto, cpu, cuda)"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} asked for, but torch sees no CUDA GPU here; use --device cpu"
        )
    return device


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None`` = fp32, no autocast).

    ``"auto"`` is bf16 on GPUs with native bf16 (compute capability 8.0 and up: A100, L4, H100),
    fp16 (with a GradScaler, see the Trainer) below that (Colab's T4 is 7.5; there
    ``torch.cuda.is_bf16_supported()`` can say True, counting emulation, which is slow), and fp32
    on CPU and MPS.
    """
    import torch

    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} must be one of {PRECISIONS}")
    if precision == "auto":
        if device.type != "cuda":
            return None
        major, _ = torch.cuda.get_device_capability(device)
        return torch.bfloat16 if major >= 8 else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued GPU work on ``device`` (no-op on the CPU) so that a clock read is true."""
    import torch

    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device is not None and device.type == "mps":
        torch.mps.synchronize()
