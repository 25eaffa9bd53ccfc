"""DepthExplorer, headless: set widget values, check the state and the drawn figure follow.

Runs under both ipywidgets generations: 8 (CI's newest packages) and 7.7.1 with IPython 7.34
(Colab's, in the Colab twin). Colab itself is simulated by a fake ``google.colab`` module.
"""

import datetime
import io
import re
import struct
import sys
import types
import zlib

import ipywidgets
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from depthnb.data import SyntheticRooms
from depthnb.errors import ConfigError, DepthnbError, ImageError
from depthnb.models import build_model
from depthnb.viz.explorer import DATASET, PHOTO, DepthExplorer

IPYWIDGETS_7 = ipywidgets.__version__.startswith("7.")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

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


def _mixed(parts):
    """A dataset of two sizes: a 48x64 room, then a 30x90 photograph with no ground truth."""
    from depthnb.data.real_scenes import photo_sample

    dataset, _ = parts
    photo = np.random.default_rng(1).integers(0, 256, (30, 90, 3), dtype=np.uint8)
    return [dataset[0], photo_sample(photo)]


def test_samples_are_named_in_their_titles(parts):
    _, models = parts
    explorer = DepthExplorer(_mixed(parts), models, max_points=500, names=["a room", "a photo"])
    assert explorer.figure.axes[0].get_title() == "sample 0: a room"
    explorer.sample.value = 1
    assert explorer.figure.axes[0].get_title() == "sample 1: a photo"
    with pytest.raises(DepthnbError, match="one name per sample"):
        DepthExplorer(_mixed(parts), models, names=["only one"])


def test_a_sample_without_ground_truth_says_so(parts):
    _, models = parts
    explorer = DepthExplorer(_mixed(parts), models, max_points=500)
    explorer.sample.value = 1
    assert np.isnan(explorer.last_probe["true_m"]) and explorer.last_probe["pred_m"] > 0
    texts = [text.get_text() for text in explorer.figure.axes[1].texts]
    assert texts == ["no ground truth"]
    assert "true unknown" in explorer.probe_label.value


def test_the_probe_spans_the_image_shown(parts):
    """Samples of other sizes: the probe sliders' ranges follow, with one redraw per change."""
    _, models = parts
    explorer = DepthExplorer(_mixed(parts), models, max_points=500)
    assert (explorer.probe_x.max, explorer.probe_y.max) == (63, 47)
    explorer.probe_y.value = 40
    assert _changes(explorer, explorer.sample, 1) == (1, True)  # 30x90: no redraw per slider
    assert (explorer.probe_x.max, explorer.probe_y.max) == (89, 29)
    assert explorer.probe_y.value == 29 and explorer.last_probe["y"] == 29  # clipped inside
    assert _changes(explorer, explorer.probe_x, 85) == (1, True)  # reachable now
    assert explorer.last_probe["x"] == 85
    explorer.sample.value = 0
    assert (explorer.probe_x.max, explorer.probe_y.max) == (63, 47)
    assert explorer.last_probe["x"] == 63


def _browser_upload(upload, name: str, data: bytes) -> None:
    """What the browser does when a file is chosen in ``upload`` (a FileUpload), per generation.

    ipywidgets 8 syncs ``value``, a list of dicts; 7.7.1 syncs ``metadata`` and ``data`` and
    then bumps ``_counter``, whose observer builds the read-only ``value`` dict.
    """
    kind = "image/png" if name.endswith(".png") else "image/jpeg"
    if IPYWIDGETS_7:
        upload.metadata = [{"name": name, "type": kind, "size": len(data), "lastModified": 0}]
        upload.data = [data]
        upload._counter += 1
    else:
        upload.value = [
            {
                "name": name, "type": kind, "size": len(data), "content": memoryview(data),
                "last_modified": datetime.datetime.now(datetime.timezone.utc),
            }
        ]  # fmt: skip


def test_uploaded_photo_gets_depth_and_a_cloud(explorer, parts):
    dataset, _ = parts
    rgb = (dataset[1]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[:40, :56]
    renders = explorer.n_renders
    _browser_upload(explorer.upload, "photo.png", _png(rgb))
    assert explorer.source == PHOTO and explorer.source_choice.value == PHOTO
    assert explorer.n_renders == renders + 1
    assert np.array_equal(explorer.photo, rgb)
    assert _pixels(explorer, 0).shape == (40, 56, 3)
    assert _pixels(explorer, 2).shape == (40, 56, 3)
    assert "63.3 deg" in explorer.figure.axes[0].get_title()  # NYU_FOV_DEG, the default
    assert np.isnan(explorer.last_probe["true_m"]) and explorer.last_probe["pred_m"] > 0
    assert len(explorer.figure.axes[-1].collections[0].get_offsets()) == 500
    explorer.sample.value = 2  # back to the dataset
    assert explorer.source == DATASET and explorer.current_index == 2


def test_the_upload_value_is_read_only_in_ipywidgets_7(explorer):
    """Why lessons feed the explorer through load_photo and never assign upload.value."""
    if not IPYWIDGETS_7:
        pytest.skip("ipywidgets 8's FileUpload.value may be assigned")
    from traitlets import TraitError

    with pytest.raises(TraitError, match="read-only"):
        explorer.upload.value = {}


def test_not_an_image_is_a_clear_error(explorer):
    with pytest.raises(ImageError, match="not an image Pillow can read"):
        explorer.load_photo(b"not an image")
    assert explorer.source == DATASET and explorer.photo is None
    with pytest.raises(ImageError, match=r"uint8 \(H,W\), \(H,W,3\)"):
        explorer.load_photo(np.zeros((8, 8, 3), np.float32))


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


# ---- display, under ipywidgets 7 (Colab's) and 8 ----------------------------------------------


@pytest.fixture
def shell():
    """An IPython shell (what runs a notebook's cells), with its own namespace and no history."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    created = not InteractiveShell.initialized()
    config = Config({"HistoryManager": {"enabled": False}})
    namespace = types.ModuleType("explorer_test_namespace")
    yield InteractiveShell.instance(config=config, user_module=namespace)
    if created:
        InteractiveShell.clear_instance()


def _displayed(shell, cell: str, **names) -> list[dict]:
    """The mimebundles that running ``cell`` publishes; fails on any error or printed text."""
    from IPython.utils.capture import capture_output

    shell.user_ns.update(names)
    with capture_output() as captured:
        shell.run_cell(cell).raise_error()
    printed = re.sub(r"Out\[\d+\]: ", "", captured.stdout)  # a terminal shell's output prompt
    assert printed.strip() == "" and captured.stderr == ""  # where a failed repr would go
    return [output.data for output in captured.outputs]


def test_the_explorer_displays_itself_as_a_widget(shell, explorer):
    for cell in ("explorer", "from IPython.display import display\ndisplay(explorer)"):
        (bundle,) = _displayed(shell, cell, explorer=explorer)
        assert bundle[WIDGET_VIEW]["model_id"] == explorer.widget.model_id
        assert bundle["text/plain"].startswith("VBox(")


def test_the_explorer_displays_in_a_cell_that_also_prints(shell, explorer):
    """The lesson's cell: an expression statement that displays, then the widget as the value."""
    bundles = _displayed(shell, "explorer.widget\nexplorer", explorer=explorer)
    assert [b[WIDGET_VIEW]["model_id"] for b in bundles] == [explorer.widget.model_id]


# ---- a user's photograph goes through depthnb.data.photo.open_image --------------------------


def _jpeg(rgb: np.ndarray, orientation: int | None = None, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation  # EXIF Orientation
    Image.fromarray(rgb).save(buffer, format="JPEG", exif=exif, quality=quality)
    return buffer.getvalue()


def _left_white(height: int, width: int) -> np.ndarray:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = 255
    return rgb


def test_a_phone_photo_is_shown_upright(explorer):
    """EXIF orientation 6: the camera was turned 90 degrees; the pixels are stored sideways."""
    explorer.load_photo(_jpeg(_left_white(40, 60), orientation=6))
    assert explorer.photo.shape == (60, 40, 3)  # portrait, as it was taken
    grey = explorer.photo.mean(axis=(1, 2))
    assert grey[:25].min() > 200 and grey[35:].max() < 55  # the stored left half is now on top
    assert _pixels(explorer, 2).shape == (60, 40, 3)


def test_a_16_bit_photo_is_scaled_by_its_range(explorer, tmp_path):
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(np.tile(ramp, (24, 1))).save(path)
    assert Image.open(path).mode.startswith("I")  # a true 16-bit PNG
    explorer.load_photo(path)
    row = explorer.photo[12, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row) >= 0)
    assert abs(row[32] - 255 * 32 / 63) <= 1  # by the 16-bit range, not clipped at 255


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` RGB pixels and holds none of them."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(explorer):
    with pytest.raises(ImageError, match="over the limit"):
        explorer.load_photo(_png_header_only(12000, 8000))  # 96 MP: 288 MB if decoded
    with pytest.raises(ImageError, match="decompression-bomb"):
        explorer.load_photo(_png_header_only(30000, 20000))  # 600 MP: Pillow's own limit
    assert explorer.source == DATASET and explorer.photo is None


# ---- Colab: files.upload() beside the upload widget ---------------------------------------------


@pytest.fixture
def colab(monkeypatch):
    """A fake ``google.colab``: ``files.upload()`` returns the next dict queued in ``uploads``;
    ``output.enable_custom_widget_manager`` records calls."""
    uploads: list[dict[str, bytes]] = []
    managers: list[bool] = []
    package = types.ModuleType("google.colab")
    package.files = types.SimpleNamespace(upload=lambda: uploads.pop(0))
    package.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: managers.append(1))
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", package)
    return uploads, managers


def test_in_colab_a_button_uploads_through_colab_files(colab, parts):
    uploads, managers = colab
    dataset, models = parts
    explorer = DepthExplorer(dataset, models, max_points=500)
    assert explorer.colab_upload is not None
    assert explorer.colab_upload in explorer.widget.children[0].children
    assert managers == []  # ipywidgets' own widgets only: Colab's built-in manager draws them
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    phone = _jpeg(noise, orientation=6)
    assert len(phone) > 2_000_000  # a phone-sized file, which FileUpload drops in Colab
    uploads.append({"first.png": _png(_left_white(30, 40)), "phone.jpg": phone})
    renders = explorer.n_renders
    explorer.colab_upload.click()
    assert explorer.n_renders == renders + 2  # each file loaded; the last one stays shown
    assert explorer.source == PHOTO and explorer.photo.shape == (640, 480, 3)  # upright, shrunk
    uploads.append({})  # the student cancels: nothing changes
    assert explorer.upload_with_colab() == [] and explorer.n_renders == renders + 2


def test_outside_colab_there_is_no_colab_button(monkeypatch, parts):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import google.colab fails
    dataset, models = parts
    explorer = DepthExplorer(dataset, models, max_points=500)
    assert explorer.colab_upload is None and len(explorer.widget.children[0].children) == 2
    with pytest.raises(ConfigError, match="only inside Google Colab") as raised:
        explorer.upload_with_colab()
    assert isinstance(raised.value, DepthnbError)
