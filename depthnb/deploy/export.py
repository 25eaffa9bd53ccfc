"""Export a depth network to ONNX with metres as its output, and check it in onnxruntime.

The graph is the model plus what the package does around it in eager mode: the encoding's
``decode`` (so the graph returns metres, whatever the model predicts), and for a mask-and-depth
model a sigmoid on the mask (probabilities in [0,1], not logits). Input ``"image"`` (B,C,H,W)
float32 in [0,1] (C = 3, or the model's ``in_channels``: 6 for the mask-and-depth network,
background RGB then fg-on-bg RGB); outputs ``"depth"`` (B,1,h,w) metres at the model's output
resolution, and ``"mask"`` (B,1,H,W) probabilities for the mask-and-depth network.

Which exporter: torch has two. The TorchScript one (``dynamo=False``, the default here) traces a
forward pass and records the shape arithmetic as ONNX ops, so batch, height and width stay
symbolic. The dynamo one (``dynamo=True``, onnxscript) is where PyTorch is going, but on these
models it is far slower, cannot export the plain FCRN up-projection (its strided zero-insertion)
with symbolic sizes, and turns the negative floor divisions of size arithmetic into truncating
ONNX divisions (wrong sides for odd sizes; docs/notes.md has the details).
``exporter="dynamo"`` is kept for when the TorchScript one is removed, and is what a
model asks for with ``onnx_exporter = "dynamo"``: Depth Anything V2, whose preprocessing (an
antialiased bicubic resize to a multiple of 14) has no TorchScript-exporter operator; the dynamo
exporter writes it as an ONNX Resize (opset 18) at a fixed height and width
(``onnx_dynamic_size = False``: its resized size is computed in Python from the input's).

Dynamic sizes: all four course models (U-Net, DenseDepth, FCRN plain and fast, mask-and-depth)
export with symbolic batch, height and width (any H, W >= 32, as in PyTorch; ONNX cannot state the
minimum): the reflect padding to a multiple of 32 inside U-Net, DenseDepth and the mask-and-depth
network is recorded as computed pads, FCRN needs none. :func:`export_onnx` checks a second size;
a model whose graph froze its size there is exported again with a fixed height and width (a
warning says so), and keeps a dynamic batch.

Tolerance: the fp32 graph must equal PyTorch to 1e-4 m plus 1.5e-4 of the largest depth
(:func:`allowed_difference`): the two take float32 sums in different orders, and an inverse-depth
output near 10 m turns a relative error of 1e-4 or less in the network's output into up to about
a millimetre (the differences seen: docs/notes.md).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from depthnb.errors import ArgumentError, DeployError, ModelError
from depthnb.utils.files import atomic_write_bytes
from depthnb.utils.optional import require

OPSET = 17
INPUT_NAME = "image"
MIN_SIDE = 32
TOLERANCE_M = 1e-4  # largest |ONNX fp32 - PyTorch| accepted, metres (and mask probability) ...
TOLERANCE_RELATIVE = 1.5e-4  # ... plus this fraction of the largest output (see allowed_difference)
DEFAULT_SIZE = (240, 320)
EXPORTERS = ("torchscript", "dynamo")


def input_channels(model: nn.Module) -> int:
    """The channels the model's input has: ``config["in_channels"]`` if it says, else 3 (RGB)."""
    return int(getattr(model, "config", {}).get("in_channels", 3))


class DepthGraph(nn.Module):
    """What the exported graph computes: (B,C,H,W) in [0,1] -> depth (B,1,h,w) metres, and for a
    mask-and-depth model also the mask (B,1,H,W) as probabilities (sigmoid of the logits)."""

    encoding: Any  # the model's, an Encoding (not a module)

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, "encoding"):
            raise ModelError(
                f"{type(model).__name__} has no .encoding to decode its output to metres; build "
                "it with depthnb.models.build_model or load it with depthnb.models.load"
            )
        self.model = model
        self.encoding = model.encoding

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image)
        if isinstance(out, dict):
            unknown = sorted(set(out) - {"depth", "mask"})
            if "depth" not in out or unknown:
                raise ModelError(
                    f"cannot export outputs {sorted(out)}: a dict output needs 'depth' and may "
                    "have 'mask'; wrap the model so that it returns those"
                )
            depth = self.encoding.decode(out["depth"])
            return (depth, torch.sigmoid(out["mask"])) if "mask" in out else (depth,)
        return (self.encoding.decode(out),)


@torch.no_grad()
def reference_outputs(model: nn.Module, images: torch.Tensor) -> dict[str, np.ndarray]:
    """What the graph must return for ``images`` (B,C,H,W), computed by PyTorch in eval mode:
    {"depth": (B,1,h,w) metres[, "mask": (B,1,H,W) probabilities]} as float32 NumPy arrays."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters(), torch.empty(0)).device
        outputs = DepthGraph(model)(images.to(device))
    finally:
        model.train(was_training)
    names = ("depth", "mask")[: len(outputs)]
    return {name: out.float().cpu().numpy() for name, out in zip(names, outputs)}


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in size)
    except (TypeError, ValueError) as error:
        raise ArgumentError(f"size must be (H, W) in pixels, got {size!r}") from error
    if min(height, width) < MIN_SIDE:
        raise ArgumentError(f"size {(height, width)} is too small: the models need H, W >= 32")
    return height, width


def _example(
    model: nn.Module, batch_size: int, size: tuple[int, int], seed: int = 0
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch_size, input_channels(model), *size, generator=generator)


def _trace(
    model: nn.Module, size: tuple[int, int], dynamic_batch: bool, dynamic_size: bool, exporter: str
) -> bytes:
    """The ONNX bytes of :class:`DepthGraph` (model), traced in eval mode at ``size`` (a batch
    of 2, or 1 when the batch is fixed), on the model's device; the model's mode is restored."""
    was_training = model.training
    try:
        return _trace_eval(DepthGraph(model).eval(), size, dynamic_batch, dynamic_size, exporter)
    finally:
        model.train(was_training)


def _trace_eval(
    graph: DepthGraph, size: tuple[int, int], dynamic_batch: bool, dynamic_size: bool, exporter: str
) -> bytes:
    model = graph.model
    device = next(model.parameters(), torch.empty(0)).device
    example = _example(model, 2, size).to(device)
    names = [*reference_outputs(model, example)]
    axes = {0: "batch"} if dynamic_batch else {}
    if dynamic_size:
        axes.update({2: "height", 3: "width"})
    if not dynamic_batch:
        example = example[:1]
    with warnings.catch_warnings():
        # Size branches and Python ints in the models warn while tracing; the second-size check
        # in export_onnx is what tells whether the graph still follows the sizes.
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            buffer = io.BytesIO()
            torch.onnx.export(  # a file object works too, the stubs say path only
                graph, (example,), buffer, dynamo=False, opset_version=OPSET,  # type: ignore[arg-type]
                input_names=[INPUT_NAME], output_names=names,
                dynamic_axes={INPUT_NAME: axes, **{name: axes for name in names}},
            )  # fmt: skip
            return buffer.getvalue()
        require("onnxscript")  # what torch's dynamo exporter writes its graphs with
        dim = torch.export.Dim.DYNAMIC
        program = torch.onnx.export(
            graph, (example,), dynamo=True, opset_version=max(OPSET, 18),
            input_names=[INPUT_NAME], output_names=names,
            dynamic_shapes={INPUT_NAME: {axis: dim for axis in axes}}, verbose=False,
        )  # fmt: skip
        if program is None:
            raise DeployError("torch.onnx.export(dynamo=True) returned no program")
        return program.model_proto.SerializeToString()


def _metadata(model: nn.Module, size: tuple[int, int], dynamic: bool) -> dict[str, str]:
    """What a user of the .onnx file needs to know, stored as the model's metadata_props."""
    encoding: Any = getattr(model, "encoding", None)
    return {
        "depthnb_model": str(getattr(model, "name", type(model).__name__)),
        "depthnb_config": json.dumps(getattr(model, "config", {}), default=str),
        "encoding": json.dumps(encoding.to_dict() if hasattr(encoding, "to_dict") else {}),
        "input": f"{INPUT_NAME}: (B,{input_channels(model)},H,W) float32 in [0,1]",
        "outputs": "depth: (B,1,h,w) metres; mask (if present): (B,1,H,W) probability",
        "export_size": f"{size[0]}x{size[1]}",
        "dynamic": str(bool(dynamic)),
    }


def save_model_proto(proto: Any, path: str | os.PathLike) -> Path:
    """``onnx.checker`` a ModelProto, then write it atomically
    (:func:`depthnb.utils.files.atomic_write_bytes`); DeployError if it is invalid."""
    onnx = require("onnx")
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        raise DeployError(f"the ONNX graph for {path} is invalid: {error}") from error
    return atomic_write_bytes(path, proto.SerializeToString())


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    size: Sequence[int] = DEFAULT_SIZE,
    dynamic: bool = True,
    *,
    check: bool = True,
    exporter: str | None = None,
) -> Path:
    """Export ``model`` to ONNX at ``path``: input (B,C,H,W) in [0,1], output depth in metres.

    Args:
        model: a depthnb model (anything with ``.encoding``; a dict output {"depth", "mask"}
            becomes the outputs "depth" (metres) and "mask" (probabilities)).
        path: the .onnx file, written to a temporary name and renamed (checked by onnx.checker).
        size: (H, W) to trace at; the fixed size when ``dynamic`` is False.
        dynamic: symbolic batch, height and width (height and width only where the model allows:
            see the module docstring); False fixes everything at (1, C, H, W), as mobile
            runtimes prefer.
        check: run the graph in onnxruntime at ``size`` (and, if dynamic, at a second size) and
            compare with PyTorch (DeployError beyond :func:`allowed_difference`).
        exporter: "torchscript" or "dynamo"; None takes the model's ``onnx_exporter``
            (default "torchscript").

    Returns:
        The path written.
    """
    onnx = require("onnx")
    exporter = exporter or getattr(model, "onnx_exporter", "torchscript")
    if exporter not in EXPORTERS:
        raise ArgumentError(f"exporter={exporter!r}; choose one of {EXPORTERS}")
    size = _check_size(size)
    path = Path(path)
    dynamic_size = dynamic and getattr(model, "onnx_dynamic_size", True)
    while True:
        proto = onnx.load_from_string(_trace(model, size, dynamic, dynamic_size, exporter))
        metadata = _metadata(model, size, dynamic_size)
        onnx.helper.set_model_props(proto, metadata)
        save_model_proto(proto, path)
        if not check:
            return path
        other = (size[0] + 24, size[1] + 40)  # not multiples of 32: exercises the padding
        compared = _compare(model, path, [size, other] if dynamic_size else [size], 2, False, 0)
        _raise_if_off(size, *compared[size], path)
        if not dynamic_size or compared[other][0] <= allowed_difference(compared[other][1]):
            return path
        warnings.warn(
            f"{metadata['depthnb_model']}: the graph exported with a symbolic height and width "
            f"does not follow them (max |diff| {compared[other][0]:.3g} at {other}); exporting "
            f"again with a fixed size {size} and a dynamic batch",
            stacklevel=2,
        )
        dynamic_size = False


def _raise_if_off(size: tuple[int, int], difference: float, largest: float, path: Path) -> None:
    if not difference <= allowed_difference(largest):
        raise DeployError(
            f"{path} disagrees with PyTorch at {size}: max |diff| {difference:.3g} > "
            f"{allowed_difference(largest):.3g}; report the model and size (the export is left "
            "for inspection)"
        )


def check_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    sizes: Sequence[Sequence[int]] = ((64, 96), (96, 128)),
    batch_size: int = 2,
    *,
    strict: bool = True,
    seed: int = 0,
) -> dict[tuple[int, int], float]:
    """Run an exported graph in onnxruntime and compare it with ``model`` in PyTorch.

    Random images (``batch_size``, C, H, W) in [0,1] at each size (the graph's own fixed batch or
    size where it has one) go through both; returns, for each (H, W), the largest absolute
    difference over all outputs (metres for depth, probability for the mask). ``onnx.checker``
    runs first. :func:`allowed_difference` says how large it may be.

    Raises:
        DeployError: the file is not a valid ONNX model; or (with ``strict``) onnxruntime cannot
            run a size, or returns other output names or shapes. Without ``strict`` such a size
            gets ``inf``.
    """
    compared = _compare(model, path, sizes, batch_size, strict, seed)
    return {size: difference for size, (difference, _) in compared.items()}


def allowed_difference(largest: float) -> float:
    """The tolerance of an fp32 graph against PyTorch: :data:`TOLERANCE_M` (1e-4 m), plus
    :data:`TOLERANCE_RELATIVE` (1.5e-4) of the largest output value ``largest`` (float32 sums in
    another order differ by up to about 1e-3 m on untrained networks' 10 to 40 m outputs; a wrong
    operator is off by tenths of a metre)."""
    return TOLERANCE_M + TOLERANCE_RELATIVE * abs(largest)


def _compare(
    model: nn.Module,
    path: str | os.PathLike,
    sizes: Sequence[Sequence[int]],
    batch_size: int,
    strict: bool,
    seed: int,
) -> dict[tuple[int, int], tuple[float, float]]:
    """For each size: (max |ONNX - PyTorch| over all outputs, largest |PyTorch output|)."""
    from depthnb.deploy.session import fixed_input_shape, onnx_session

    onnx = require("onnx")
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as error:
        raise DeployError(f"{path} is not a valid ONNX model: {error}") from error
    session = onnx_session(path)
    fixed = fixed_input_shape(session)
    compared: dict[tuple[int, int], tuple[float, float]] = {}
    for requested in sizes:
        size = _check_size(requested)
        shape = [batch_size, input_channels(model), *size]
        shape = [given if given is not None else want for given, want in zip(fixed, shape)]
        images = _example(model, shape[0], (shape[2], shape[3]), seed)
        expected = reference_outputs(model, images)
        largest = max(float(np.abs(value).max()) for value in expected.values())
        try:
            got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {
                session.get_inputs()[0].name: images.numpy()})))  # fmt: skip
            if sorted(got) != sorted(expected):
                raise DeployError(f"{path} has outputs {sorted(got)}, PyTorch {sorted(expected)}")
            for name, value in expected.items():
                if got[name].shape != value.shape:
                    raise DeployError(
                        f"{path}: output {name!r} at {tuple(shape)} has shape {got[name].shape}, "
                        f"PyTorch's {value.shape}"
                    )
        except Exception as error:  # onnxruntime raises its own exception types
            if strict:
                if isinstance(error, DeployError):
                    raise
                raise DeployError(
                    f"onnxruntime cannot run {path} at {tuple(shape)}: {error}"
                ) from error
            compared[size] = (float("inf"), largest)
            continue
        difference = max(float(np.abs(got[n] - value).max()) for n, value in expected.items())
        compared[size] = (difference, largest)
    return compared
