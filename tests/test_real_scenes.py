"""Real scenes on every machine (depthnb.data.real_scenes): scikit-image's photographs and their
licences, photographs as samples without ground truth, the wall's plane, and the window and mirror
composites on Middlebury's Motorcycle. Expectations come from the docstrings of scikit-image and
from a plane built here by hand, not from the code under test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthnb.data.sample import check_sample
from depthnb.errors import ArgumentError, DataError
from depthnb.geometry import intrinsics_from_fov

skimage_data = pytest.importorskip("skimage.data")

from depthnb.data import motorcycle_pair, motorcycle_sample  # noqa: E402
from depthnb.data.real_scenes import (  # noqa: E402
    PHOTOGRAPHS,
    WALL_RECTANGLE,
    mirror_composite,
    paste_in_wall,
    photo_sample,
    photograph,
    region_mask,
    wall_plane,
    window_composite,
)

ROWS, COLS = WALL_RECTANGLE


@pytest.fixture(scope="module")
def motorcycle():
    return motorcycle_sample()


@pytest.fixture(scope="module")
def window():
    return window_composite()


@pytest.fixture(scope="module")
def mirror():
    return mirror_composite()


@pytest.mark.parametrize("name", sorted(PHOTOGRAPHS))
def test_each_licence_is_the_one_its_docstring_states(name):
    doc = " ".join(getattr(skimage_data, name).__doc__.split())
    licence = PHOTOGRAPHS[name].licence
    if licence.startswith("CC0"):
        assert "CC0 by the photographer" in doc
        assert licence[len("CC0 (") :].split(";")[0].rstrip(")") in doc  # the photographer
    else:
        assert licence.startswith("public domain") and "public domain" in doc.lower()


@pytest.mark.parametrize("name", sorted(PHOTOGRAPHS))
def test_photographs_are_rgb_and_their_regions_fit(name):
    image = photograph(name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    raw = np.asarray(getattr(skimage_data, name)())
    assert image.shape[:2] == raw.shape[:2]
    if raw.ndim == 2:  # grey: the same level in the three channels
        assert np.array_equal(image[..., 0], raw) and np.array_equal(image[..., 2], raw)
    for rows, cols in PHOTOGRAPHS[name].regions.values():
        assert 0 <= rows.start < rows.stop <= image.shape[0]
        assert 0 <= cols.start < cols.stop <= image.shape[1]


def test_an_unknown_photograph_is_a_clear_error():
    with pytest.raises(ArgumentError, match="choose one of rocket"):
        photograph("moon landing")


def test_a_photograph_sample_has_no_ground_truth_and_an_assumed_camera():
    image = photograph("coffee")
    sample = photo_sample(image, fov_deg=70.0)
    assert check_sample(sample) == (400, 600)
    assert not sample["valid"].any() and float(sample["depth"].abs().max()) == 0.0
    assert torch.allclose(
        sample["intrinsics"], torch.from_numpy(intrinsics_from_fov((400, 600), 70))
    )
    assert np.array_equal((sample["image"] * 255).round().byte().permute(1, 2, 0).numpy(), image)
    with pytest.raises(ArgumentError, match=r"uint8 \(H,W,3\)"):
        photo_sample(image.astype(np.float32))


def test_wall_plane_recovers_a_plane_through_what_stands_in_front():
    """A wall n . X = c seen by a pinhole camera, with a post in front and holes."""
    fx, cx, cy = 500.0, 60.0, 40.0
    v, u = np.mgrid[0:80, 0:120].astype(np.float64)
    normal, offset = np.array([0.3, -0.1, 1.0]), 4.0  # a slanted wall about 4 m away
    rays = np.stack([(u - cx) / fx, (v - cy) / fx, np.ones_like(u)], axis=-1)
    truth = offset / (rays @ normal)  # z of the ray's point on the plane
    measured = truth.copy()
    measured[:, 50:58] -= 0.3  # a post 30 cm in front of the wall
    measured[::7, ::5] = 0.0  # no depth there
    region = (slice(5, 75), slice(10, 110))
    fitted = wall_plane(measured.astype(np.float32), region)
    assert fitted.shape == (70, 100)
    assert np.allclose(fitted, truth[region], rtol=1e-4)  # the post and the holes included


def test_wall_plane_needs_three_depths():
    with pytest.raises(DataError, match="a plane needs 3"):
        wall_plane(np.zeros((10, 10), np.float32), (slice(0, 5), slice(0, 5)))


@pytest.mark.parametrize("kind", ["window", "mirror"])
def test_composites_change_only_the_rectangle(kind, motorcycle, window, mirror, request):
    composite = {"window": window, "mirror": mirror}[kind]
    assert check_sample(composite) == (500, 741)
    assert torch.equal(composite["intrinsics"], motorcycle["intrinsics"])
    inside = region_mask(WALL_RECTANGLE, (500, 741))
    assert int(inside.sum()) == 95 * 250
    for key in ("image", "depth", "valid"):
        outside = ~inside.expand_as(composite[key])
        assert torch.equal(composite[key][outside], motorcycle[key][outside])
    assert composite["valid"][0, ROWS, COLS].all()  # the pane's depth is known everywhere
    changed = (composite["image"][:, ROWS, COLS] - motorcycle["image"][:, ROWS, COLS]).abs()
    assert float(changed.mean()) > 0.05  # another picture is there


def test_the_pane_lies_in_the_walls_plane(motorcycle, window, mirror):
    measured = motorcycle["depth"][0, ROWS, COLS]
    pane = window["depth"][0, ROWS, COLS]
    assert torch.equal(pane, mirror["depth"][0, ROWS, COLS])
    known = measured > 0
    gap = (pane[known] - measured[known]).abs()
    assert float((gap < 0.05).float().mean()) > 0.8  # the module's "within 5 cm of 83 %"
    assert float((gap / measured[known]).mean()) < 0.01  # "a mean relative difference of 0.6 %"
    assert 4.2 < float(pane.min()) and float(pane.max()) < 5.0  # the back wall, 4.3 to 5.0 m


def test_the_mirror_shows_the_scene_flipped(mirror):
    pasted = (mirror["image"][:, ROWS, COLS] * 255).permute(1, 2, 0).numpy()
    flipped = motorcycle_pair().left[:, ::-1].astype(np.float64)
    top = (500 - round(741 * 95 / 250)) // 2  # centre-cropped to the rectangle's aspect
    rows = slice(top, top + round(741 * 95 / 250))
    small = (
        torch.nn.functional.interpolate(
            torch.from_numpy(flipped[rows].copy()).permute(2, 0, 1)[None],
            size=(95, 250),
            mode="area",
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    assert np.abs(pasted - small).mean() < 6  # grey levels: the same picture, resampled
    assert np.abs(pasted - small[:, ::-1]).mean() > 20  # and not unflipped


def test_a_resized_composite_keeps_the_rectangle_with_region_mask():
    small = window_composite(size=(250, 370))
    assert check_sample(small) == (250, 370)
    inside = region_mask(WALL_RECTANGLE, (500, 741), (250, 370))
    assert small["valid"][0][inside].all()
    assert 4.2 < float(small["depth"][0][inside].min()) < float(small["depth"][0][inside].max()) < 5


def test_a_rectangle_outside_the_image_is_refused():
    with pytest.raises(ArgumentError, match="inside 500x741"):
        paste_in_wall(photograph("rocket"), (slice(450, 600), slice(0, 100)))
    with pytest.raises(ArgumentError, match="inside 500x741"):
        paste_in_wall(photograph("rocket"), (slice(10, 10), slice(0, 100)))
