"""DepthExplorer, headless: set widget values, check the state and the drawn figure follow."""

import datetime
import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from depthnb.data import SyntheticRooms
from depthnb.models import build_model
from depthnb.viz import DepthExplorer
from depthnb.viz.explorer import DATASET, PHOTO

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    models = {name: build_model("unet", filters=(4, 4, 8, 8, 8)).eval() for name in ("a", "b")}
    return SyntheticRooms(3, size=(48, 64), seed=0), models


@pytest.fixture
def explorer(parts):
    dataset, models = parts
    return DepthExplorer(dataset, models, max_points=500)


def _pixels(explorer, panel):
    """The image data of one panel of the latest figure (0 RGB, 1 true depth, 2 prediction)."""
    return np.array(explorer.figure.axes[panel].images[0].get_array())


def _changes(explorer, widget, value):
    """Set a widget and return (renders added, figure replaced)."""
    renders, figure = explorer.n_renders, explorer.figure
    widget.value = value
    return explorer.n_renders - renders, explorer.figure is not figure


def test_first_render_and_layout(explorer):
    assert explorer.n_renders == 1 and explorer.cache_misses == 1
    titles = [ax.get_title() for ax in explorer.figure.axes]
    assert titles[0] == "sample 0" and titles[2] == "predicted: a"
    assert explorer.figure.axes[-1].name == "3d"
    assert len(explorer.figure.axes[-1].collections) == 1  # one scatter


def test_sample_slider_redraws_and_caches(explorer, parts):
    before = _pixels(explorer, 1)
    assert _changes(explorer, explorer.sample, 2) == (1, True)
    assert explorer.current_index == 2 and explorer.cache_misses == 2
    assert not np.array_equal(before, _pixels(explorer, 1))
    hits = explorer.cache_hits
    explorer.sample.value = 0
    assert explorer.cache_misses == 2 and explorer.cache_hits == hits + 1  # from the cache
    assert np.array_equal(before, _pixels(explorer, 1))


def test_probe_reads_true_and_predicted_depth(explorer, parts):
    dataset, _ = parts
    assert _changes(explorer, explorer.probe_x, 5) == (1, True)
    explorer.probe_y.value = 40
    probe = explorer.last_probe
    assert (probe["x"], probe["y"]) == (5, 40)
    assert probe["true_m"] == pytest.approx(float(dataset[0]["depth"][0, 40, 5]))
    prediction = explorer.predict("a", 0, None)  # cached, so the image is not needed
    assert probe["pred_m"] == pytest.approx(float(prediction[40, 5]))
    assert f"{probe['true_m']:.2f} m" in explorer.probe_label.value
    assert f"{probe['pred_m']:.2f} m" in explorer.probe_label.value


def test_every_control_redraws(explorer):
    pred = _pixels(explorer, 2)
    assert _changes(explorer, explorer.cmap, "turbo") == (1, True)
    assert not np.array_equal(pred, _pixels(explorer, 2))
    pred = _pixels(explorer, 2)
    assert _changes(explorer, explorer.depth_range, (1.0, 2.0)) == (1, True)
    assert not np.array_equal(pred, _pixels(explorer, 2))
    assert "1.0-2.0 m" in explorer.figure.axes[1].get_title()
    panels = len(explorer.figure.axes)
    assert _changes(explorer, explorer.show_error, True) == (1, True)
    assert len(explorer.figure.axes) == panels + 1
    assert explorer.figure.axes[3].get_title().startswith("abs rel error")
    assert _changes(explorer, explorer.azimuth, 40) == (1, True)
    assert _changes(explorer, explorer.elevation, -30) == (1, True)
    assert (explorer.figure.axes[-1].azim, explorer.figure.axes[-1].elev) == (40, -30)
    misses = explorer.cache_misses
    assert _changes(explorer, explorer.model, "b") == (1, True)
    assert explorer.cache_misses == misses + 1
    assert explorer.figure.axes[2].get_title() == "predicted: b"


def test_a_disconnected_callback_is_detected(explorer):
    """The checks above fail when a widget stops calling update(): show that they would."""
    explorer.probe_x.unobserve(explorer._on_change, names="value")
    assert _changes(explorer, explorer.probe_x, 7) == (0, False)
    assert explorer.last_probe["x"] != 7
    explorer.sample.unobserve(explorer._on_sample, names="value")
    explorer.sample.value = 1
    assert explorer.current_index == 0


def test_uploaded_photo_gets_depth_and_a_cloud(explorer, parts):
    dataset, _ = parts
    rgb = (dataset[1]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[:40, :56]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    data = buffer.getvalue()
    renders = explorer.n_renders
    explorer.upload.value = [
        {
            "name": "photo.png", "type": "image/png", "size": len(data),
            "content": memoryview(data),
            "last_modified": datetime.datetime.now(datetime.timezone.utc),
        }
    ]  # fmt: skip
    assert explorer.source == PHOTO and explorer.source_choice.value == PHOTO
    assert explorer.n_renders == renders + 1
    assert np.array_equal(explorer.photo, rgb)
    assert _pixels(explorer, 0).shape == (40, 56, 3)
    assert _pixels(explorer, 2).shape == (40, 56, 3)
    assert "65 deg" in explorer.figure.axes[0].get_title()
    assert np.isnan(explorer.last_probe["true_m"]) and explorer.last_probe["pred_m"] > 0
    assert len(explorer.figure.axes[-1].collections[0].get_offsets()) == 500
    explorer.sample.value = 2  # back to the dataset
    assert explorer.source == DATASET and explorer.current_index == 2


def test_not_an_image_is_a_clear_error(explorer):
    from depthnb import DepthnbError

    with pytest.raises(DepthnbError, match="PNG or JPEG"):
        explorer.load_photo(b"not an image")


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_both_ipywidgets_upload_shapes_are_read():
    from depthnb.viz.explorer import uploaded_files

    data = _png(np.full((4, 6, 3), 9, np.uint8))
    eight = (
        {"name": "a.png", "type": "image/png", "size": len(data), "content": memoryview(data)},
    )
    seven = {"a.png": {"metadata": {"name": "a.png", "size": len(data)}, "content": data}}
    assert uploaded_files(eight) == [data] == uploaded_files(seven)
    assert uploaded_files(()) == [] == uploaded_files({})


def test_an_ipywidgets_7_upload_reaches_the_photo(explorer):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :20] = 255
    data = _png(rgb)
    explorer._on_upload({"new": {"p.png": {"metadata": {"name": "p.png"}, "content": data}}})
    assert explorer.source == PHOTO and np.array_equal(explorer.photo, rgb)


def test_a_large_photo_is_drawn_from_a_display_sized_copy(explorer):
    big = np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    explorer.load_photo(big)
    assert explorer.photo.shape == (480, 640, 3)  # display_side 640, aspect kept
    assert explorer.last_probe["pred_m"] > 0


def test_sliders_redraw_on_release_not_on_every_pixel(explorer):
    for slider in (
        explorer.sample,
        explorer.depth_range,
        explorer.probe_x,
        explorer.probe_y,
        explorer.azimuth,
        explorer.elevation,
    ):
        assert slider.continuous_update is False


def test_depth_panels_have_a_colour_bar_in_metres(explorer):
    for panel in (1, 2):  # true depth, prediction
        (bar_axes,) = explorer.figure.axes[panel].child_axes
        assert "(m)" in bar_axes.get_ylabel()
        assert bar_axes.get_ylim() == pytest.approx(explorer.depth_range.value)
    explorer.depth_range.value = (1.0, 3.0)  # the redraw's bar follows the new range
    (bar_axes,) = explorer.figure.axes[2].child_axes
    assert bar_axes.get_ylim() == pytest.approx((1.0, 3.0))
    assert not explorer.figure.axes[0].child_axes  # none on the photo
