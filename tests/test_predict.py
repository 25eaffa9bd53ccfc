"""predict_depth takes a photograph of any size and format and returns metres at that size."""

import numpy as np
import pytest
import torch
from PIL import Image

from depthnb import DepthnbError
from depthnb.inference import image_to_tensor, inference_size
from depthnb.models import build_model
from depthnb.predict import predict_depth


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("unet", filters=(2, 4, 8, 8, 8)).eval()


def rgb(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rgb(37, 53),
        lambda: rgb(37, 53)[..., 0],
        lambda: np.dstack([rgb(37, 53), np.full((37, 53), 200, np.uint8)]),
        lambda: rgb(37, 53)[..., :1],
        lambda: rgb(37, 53).astype(np.float32) / 255,
        lambda: rgb(37, 53).astype(np.uint16) * 257,
        lambda: Image.fromarray(rgb(37, 53)),
        lambda: Image.fromarray(rgb(37, 53)).convert("L"),
        lambda: Image.fromarray(rgb(37, 53)).convert("RGBA"),
        lambda: Image.fromarray(rgb(37, 53)).convert("P"),
        lambda: Image.fromarray(rgb(37, 53)).convert("CMYK"),
        lambda: Image.fromarray(rgb(37, 53)[..., 0].astype(np.int32) * 100).convert("I"),
        lambda: torch.from_numpy(rgb(37, 53)).permute(2, 0, 1).float() / 255,
        lambda: torch.from_numpy(rgb(37, 53)).permute(2, 0, 1).contiguous(),
    ],
    ids=[
        "rgb",
        "grey",
        "rgba",
        "hxwx1",
        "float",
        "uint16",
        "pil",
        "pil-L",
        "pil-RGBA",
        "pil-P",
        "pil-CMYK",
        "pil-I",
        "tensor",
        "tensor-uint8",
    ],
)
def test_every_kind_of_image_gives_metres_at_its_size(model, make):
    depth = predict_depth(model, make())
    assert depth.shape == (37, 53) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth > 0).all()


def test_large_odd_photograph_is_resized_and_back(model):
    photo = rgb(301, 517)
    depth = predict_depth(model, photo, max_side=160)
    assert depth.shape == (301, 517)
    assert inference_size(301, 517, 160) == (93, 160)
    assert inference_size(20, 20, 640) == (32, 32)
    assert inference_size(60, 80, 160, upscale=True) == (120, 160)


def test_a_checkpointed_model_runs_at_its_training_size(model, monkeypatch):
    seen = []
    monkeypatch.setattr(model, "input_size", (64, 96), raising=False)
    handle = model.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[-2:]))
    try:
        assert predict_depth(model, rgb(240, 360)).shape == (240, 360)
        assert predict_depth(model, rgb(32, 48)).shape == (32, 48)
    finally:
        handle.remove()
    assert [tuple(s) for s in seen] == [(64, 96), (64, 96)]


def test_flip_tta_is_the_mean_of_the_two_views(model):
    photo = rgb(64, 96)
    plain = predict_depth(model, photo)
    mirrored = predict_depth(model, photo[:, ::-1].copy())[:, ::-1]
    np.testing.assert_allclose(
        predict_depth(model, photo, flip_tta=True), (plain + mirrored) / 2, rtol=1e-5, atol=1e-5
    )


def test_same_as_the_model_at_its_own_size(model):
    image = torch.rand(3, 61, 95)
    expected = model.encoding.decode(model(image[None]))[0, 0].detach().numpy()
    np.testing.assert_allclose(predict_depth(model, image), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 5, 6, 3), np.uint8), "shape"),
        (np.zeros((40, 50, 2), np.uint8), "shape"),
        (np.zeros((40, 50, 3), bool), "dtype"),
        (np.zeros((0, 50, 3), np.uint8), "empty"),
        (np.full((40, 50, 3), np.nan, np.float32), "NaN"),
        (torch.zeros(2, 3, 40, 50), "shape"),
        ("no-such-photo.jpg", "no-such-photo.jpg: no such file"),
        (b"GIF89a but not really", "not an image"),
        ([[1, 2, 3]], "list"),
    ],
)
def test_bad_input_raises_a_depthnb_error(model, bad, message):
    with pytest.raises(DepthnbError, match=message):
        predict_depth(model, bad)


def test_image_to_tensor_scales_to_unit_range():
    assert image_to_tensor(np.full((2, 3), 255, np.uint8)).tolist() == [[[1.0] * 3] * 2] * 3
    assert image_to_tensor(np.full((2, 3, 3), 65535, np.uint16)).max() == 1.0


def test_mask_and_depth_models_and_bad_settings(model):
    class DictOutput(torch.nn.Module):
        """A mask-and-depth style model: returns {"mask", "depth"}."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = model
            self.encoding = model.encoding

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            depth = self.inner(x)
            return {"mask": torch.zeros_like(depth), "depth": depth}

    photo = rgb(40, 56)
    wrapped = DictOutput().train()
    np.testing.assert_allclose(
        predict_depth(wrapped, photo), predict_depth(model, photo), rtol=1e-6, atol=1e-6
    )
    assert wrapped.training  # the mode is restored
    with pytest.raises(DepthnbError, match="max_side"):
        predict_depth(model, photo, max_side=8)
    with pytest.raises(DepthnbError, match="encoding"):
        predict_depth(torch.nn.Conv2d(3, 1, 1), photo)
