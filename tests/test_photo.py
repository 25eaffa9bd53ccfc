"""A user's own image: depthnb.data.photo.open_image, and every door it comes in by
(predict_depth, the predict command). Fixtures are real files written by tests/photo_fixtures.py;
expectations are computed there with NumPy alone."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from photo_fixtures import BAD, GOOD, assert_matches, huge_png, phone_jpeg
from PIL import Image, ImageFile

from depthnb.checkpoint import save_checkpoint
from depthnb.cli.main import main
from depthnb.data import load_image, open_image
from depthnb.data.photo import MAX_PIXELS
from depthnb.errors import ArgumentError, ImageError
from depthnb.models import build_model
from depthnb.models.checkpoints import model_checkpoint
from depthnb.predict import load_checkpoint, predict_depth


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    good = {name: write(folder) for name, write in GOOD.items()}
    bad = {name: (write(folder)[0], phrase) for name, (write, phrase) in BAD.items()}
    return good, bad


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("unet", filters=(2, 4, 8, 8, 8)).eval()


@pytest.mark.parametrize("name", list(GOOD))
def test_each_file_opens_upright_and_scaled_by_its_range(files, name):
    path, expected = files[0][name]
    image = open_image(path)
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    assert_matches(np.asarray(image), expected, name)
    assert_matches(load_image(str(path)), expected, name)


@pytest.mark.parametrize("name", ["exif6", "png16", "palette-alpha"])
def test_every_kind_of_source_gives_the_same_pixels(files, name):
    path, _ = files[0][name]
    reference = load_image(path)
    data = path.read_bytes()
    with open(path, "rb") as file:
        from_file = load_image(file)
        assert not file.closed  # the caller's file object is left open
    lazy = Image.open(path)  # header only: open_image decodes it and applies its EXIF
    mode, size = lazy.mode, lazy.size
    sources = [data, bytearray(data), memoryview(data), io.BytesIO(data), lazy]
    for result in [from_file] + [load_image(source) for source in sources]:
        np.testing.assert_array_equal(result, reference)
    assert (lazy.mode, lazy.size) == (mode, size)  # the caller's image is left as it was


def test_a_16_bit_photo_keeps_its_gradient(files):
    pixels = load_image(files[0]["png16"][0])
    assert Image.open(files[0]["png16"][0]).mode == "I;16"
    row = pixels[0, :, 0].astype(int)
    assert (pixels != 255).any() and row.min() == 0 and row.max() == 255  # not all white
    assert (np.diff(row) >= 0).all() and len(np.unique(row)) > 200  # the ramp survives


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_file_is_one_clear_image_error(files, name):
    path, phrase = files[1][name]
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not escape
        with pytest.raises(ImageError, match=phrase) as caught:
            open_image(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, ValueError)
    assert Image.MAX_IMAGE_PIXELS == limit  # the global limit is never touched
    if name == "not-an-image":
        assert "JPEG" in str(caught.value) and "PNG" in str(caught.value)  # what it can read
    with pytest.raises(ImageError, match=phrase):
        open_image(path.read_bytes())


def test_the_limit_is_checked_from_the_header_before_decoding(files, monkeypatch, tmp_path):
    def no_decoding(self):
        raise AssertionError("decoded an image over the limit")

    path, _ = phone_jpeg(tmp_path, 6)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match="48x64 = 3,072 pixels, over the limit of 3,000"):
        open_image(path, max_pixels=3000)
    with pytest.raises(ImageError, match="over the limit"):
        open_image(huge_png(tmp_path, 9000, 9000)[0])  # 81 MP: PIL itself does not object
    monkeypatch.undo()
    assert MAX_PIXELS == 80_000_000 and open_image(path, max_pixels=3072).size == (64, 48)


def _grey_of(image: Image.Image) -> list[int]:
    return [int(v) for v in np.asarray(open_image(image))[0, :, 0]]


def test_every_pil_mode_maps_to_rgb_by_its_meaning():
    def one(mode, *values):
        return [tuple(int(c) for c in open_image(Image.new(mode, (1, 1), v)).getpixel((0, 0)))
                for v in values]  # fmt: skip

    assert one("1", 0, 1) == [(0, 0, 0), (255, 255, 255)]
    assert one("L", 7) == [(7, 7, 7)]
    assert one("RGBA", (255, 0, 0, 0), (255, 0, 0, 255)) == [(255, 255, 255), (255, 0, 0)]
    assert one("LA", (0, 0), (0, 255)) == [(255, 255, 255), (0, 0, 0)]
    assert one("PA", (0, 0)) == [(255, 255, 255)]  # palette entry 0 is black, alpha 0: white
    assert one("La", (0, 0), (100, 255)) == [(255, 255, 255), (100, 100, 100)]
    assert one("RGBa", (0, 0, 0, 0)) == [(255, 255, 255)]
    assert one("YCbCr", (128, 128, 128)) == [(128, 128, 128)]
    assert one("HSV", (0, 255, 255), (85, 255, 255)) == [(255, 0, 0), (0, 255, 0)]
    assert one("CMYK", (0, 0, 0, 0), (255, 0, 0, 0)) == [(255, 255, 255), (0, 255, 255)]
    white, black = one("LAB", (255, 128, 128), (0, 128, 128))
    assert min(white) >= 250 and max(black) <= 5  # L* 100 and 0, neutral a* b*
    assert one("I;16", 65535, 257) == [(255, 255, 255), (1, 1, 1)]
    assert one("I;16B", 32896) == [(128, 128, 128)]
    assert one("I", 65535, 0) == [(255, 255, 255), (0, 0, 0)]  # 16-bit data held as "I"
    assert one("F", 0.5, 2.0) == [(128, 128, 128), (255, 255, 255)]  # constant: clipped 0..1
    ints = Image.fromarray(np.array([[-1000, 0, 99_000]], np.int32))  # beyond 16 bits: own range
    assert ints.mode == "I" and _grey_of(ints) == [0, 3, 255]  # 1000 / 100000 * 255 = 2.55
    floats = Image.fromarray(np.array([[np.nan, -np.inf, 1.0, 2.0, 3.0, np.inf]], np.float32))
    assert floats.mode == "F" and _grey_of(floats) == [0, 0, 0, 128, 255, 255]


def test_wrong_sources_and_limits_are_named(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        open_image(tmp_path)
    with pytest.raises(ImageError, match="got a list"):
        open_image([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="not an image"):
        open_image(b"")
    for limit in (0, -5, 2.5, True):
        with pytest.raises(ArgumentError, match="max_pixels"):
            open_image(Image.new("RGB", (2, 2)), max_pixels=limit)  # type: ignore[arg-type]
    pixels = load_image(Image.new("RGB", (3, 2), (1, 2, 3)))
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 3, 3) and pixels.flags.writeable


# ---- through predict_depth and the predict command ---------------------------------------------


def test_predict_depth_sees_the_photo_upright_and_scaled(files, model):
    path, expected = files[0]["exif6"]
    for source in (path, Image.open(path), path.read_bytes()):
        assert predict_depth(model, source).shape == expected.shape[:2]  # (48, 64), not (64, 48)
    ramp, ramp_pixels = files[0]["png16"]
    np.testing.assert_array_equal(
        predict_depth(model, Image.open(ramp)), predict_depth(model, ramp_pixels)
    )
    for path, phrase in files[1].values():
        with pytest.raises(ImageError, match=phrase):
            predict_depth(model, path)


def test_the_predict_command_upright_scaled_or_one_line(files, model, tmp_path, capsys):
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(model_checkpoint(model, (32, 48)), checkpoint)
    (phone, upright), (ramp, ramp_pixels) = files[0]["exif6"], files[0]["png16"]
    out = tmp_path / "out"
    assert main(["predict", str(checkpoint), str(phone), str(ramp), "--out-dir", str(out)]) == 0
    assert np.load(out / f"{phone.stem}_depth.npy").shape == upright.shape[:2]
    reloaded = load_checkpoint(checkpoint)
    np.testing.assert_allclose(
        np.load(out / f"{ramp.stem}_depth.npy"), predict_depth(reloaded, ramp_pixels), rtol=1e-6
    )
    capsys.readouterr()
    for path, phrase in files[1].values():
        assert main(["predict", str(checkpoint), str(path), "--out-dir", str(out)]) != 0
        err = capsys.readouterr().err
        assert phrase in err and str(path) in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_calibration_photos_are_opened_upright(tmp_path):
    from depthnb.deploy.quantize import folder_images

    phone_jpeg(tmp_path, 6)  # stored sideways: its stored top-left quadrant is green
    images = folder_images(tmp_path, (24, 32))
    assert images.shape == (1, 3, 24, 32)
    assert np.allclose(images[0, :, 2:8, 2:10].mean(axis=(1, 2)), (1, 0, 0), atol=0.1)  # red
