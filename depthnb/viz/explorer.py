"""DepthExplorer: sliders over a dataset and a model's predictions, in a notebook (ipywidgets).

    explorer = DepthExplorer(SyntheticRooms(8, size=(96, 128)), {"U-Net": model})
    explorer                      # last expression of a cell: shows the widgets

Every widget's callback calls :meth:`DepthExplorer.update`, which draws one new figure inside an
``ipywidgets.Output`` (``clear_output(wait=True)`` then ``plt.show()``), so Colab's inline backend
replaces the picture instead of stacking a new one under it. Predictions are cached per
(model, sample), so moving the colour map, range, probe or view sliders redraws at once.

A photograph of your own (the upload button; in Colab also "Upload with Colab", which has no size
limit; or :meth:`DepthExplorer.load_photo` from code) is opened by
:func:`depthnb.data.photo.open_image`: upright, RGB, within a pixel limit. It has no known camera:
its intrinsics are assumed from a horizontal field of view, ``fov_deg`` (by default
:data:`depthnb.geometry.NYU_FOV_DEG`, 63.3 degrees: NYU's colour camera; a phone's main camera
sees about 65 to 70), so its point cloud is right up to that guess (and its depths are in the
metres of the model's training camera, whatever camera took the photo).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from depthnb.data.photo import ImageSource, open_image
from depthnb.errors import ConfigError, DataError, ImageError, ModelError
from depthnb.geometry import NYU_FOV_DEG, depth_to_points, intrinsics_from_fov
from depthnb.utils.arrays import as_depth_map
from depthnb.viz.colors import COLORMAPS, abs_rel_map, colorize, depth_range
from depthnb.viz.points import plot_points

DATASET, PHOTO = "dataset sample", "your photo"


def _models(models: Any) -> dict[str, Any]:
    """name -> model (nn.Module), checkpoint path or published name (loaded on first use)."""
    if isinstance(models, (str, os.PathLike)):
        return {os.path.basename(os.fspath(models)): models}
    if isinstance(models, torch.nn.Module):
        return {getattr(models, "name", "model"): models}
    if isinstance(models, Mapping) and models:
        return dict(models)
    raise ModelError(
        "models must be an nn.Module, a checkpoint path, or a non-empty dict name -> model or "
        f"checkpoint path; got {type(models).__name__}."
    )


def uploaded_files(value: Any) -> list[bytes]:
    """The files' bytes in a ``FileUpload.value`` of either ipywidgets generation.

    ipywidgets 8: a tuple of dicts with ``"content"`` (a memoryview); ipywidgets 7 (what Colab
    preloads): a dict ``{file name: {"metadata": {...}, "content": bytes}}``.
    """
    files = value.values() if isinstance(value, Mapping) else value
    return [bytes(entry["content"]) for entry in files]


def depth_colorbar(ax: Any, cmap: str, vmin: float, vmax: float, label: str = "depth (m)") -> Any:
    """A colour bar (in metres by default) beside panel ``ax``, drawn from colorize'd RGB, so the
    bar gets its own mappable with the same map and range.

    It lives in an inset axes of ``ax`` (``ax.child_axes``), so ``figure.axes`` keeps one entry
    per panel; constrained layout makes room for it. Returns the colour bar.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(Normalize(vmin, vmax), matplotlib.colormaps[cmap])
    bar = ax.figure.colorbar(mappable, cax=ax.inset_axes((1.04, 0.0, 0.06, 1.0)))
    bar.set_label(label)
    return bar


def colab_files() -> ModuleType | None:
    """Colab's ``google.colab.files`` (uploads and downloads through the browser), or None
    outside Colab."""
    try:
        from google.colab import files
    except ImportError:
        return None
    return files


def _array_image(array: np.ndarray) -> Image.Image:
    """A uint8 array (H,W), (H,W,3) or (H,W,4) -> a PIL image (grey, RGB, RGBA)."""
    if array.dtype != np.uint8 or array.shape[2:] not in ((), (3,), (4,)) or array.ndim < 2:
        raise ImageError(
            f"a photo array must be uint8 (H,W), (H,W,3) or (H,W,4); got {array.dtype} "
            f"{array.shape}. Convert it with (image * 255).round().astype(np.uint8), or pass "
            "the image file's path or bytes"
        )
    return Image.fromarray(np.ascontiguousarray(array))


class DepthExplorer:
    """Widgets to browse a dataset's samples, a model's predictions, errors and point clouds.

    Args:
        dataset: a depthnb dataset (samples with ``image`` (3,H,W), ``depth`` (1,H,W) metres,
            ``intrinsics`` (4,), optional ``valid`` (1,H,W)). Samples may differ in size; one
            with no valid depth (a photograph, :func:`depthnb.data.real_scenes.photo_sample`)
            is shown with "no ground truth".
        models: an nn.Module, a checkpoint path, or a dict name -> model, checkpoint path or a
            name of :func:`depthnb.models.list_pretrained` (each loaded when first chosen).
        fov_deg: assumed horizontal field of view of an uploaded photo, degrees (default: NYU's
            colour camera's, :data:`depthnb.geometry.NYU_FOV_DEG`).
        max_points: points drawn in the 3D view (a random subset).
        flip_tta: predict with flip test-time augmentation.
        display_side: an uploaded photo is shrunk to at most this many pixels on its longer side
            (the network sees at most its training size anyway).
        names: one name per sample, shown in its title ("sample 3: rocket"); None shows the
            index only.

    Sliders update when released (``continuous_update=False``): every redraw runs matplotlib,
    and a drag would otherwise queue one per pixel. Every widget is one of ipywidgets' own, which
    Colab's built-in widget manager draws: the explorer does not switch on Colab's custom widget
    manager (only third-party widgets need it). In Colab an "Upload with Colab" button sits beside
    the upload widget: it calls ``google.colab.files.upload()``, which takes files of any size
    (ipywidgets' ``FileUpload`` drops files of 1 MB and more in Colab). The probe sliders span the
    image shown: their ranges follow it when a sample or photo of another size comes up.

    State that tests read: ``current_index``, ``source`` (``"dataset sample"`` or ``"your photo"``),
    ``last_probe`` (dict x, y, true_m, pred_m), ``figure`` (the latest matplotlib Figure),
    ``n_renders``, ``cache_hits``, ``cache_misses``, ``photo`` (uint8 (H,W,3) or None),
    ``colab_upload`` (the "Upload with Colab" button, None outside Colab).
    """

    def __init__(
        self,
        dataset: Sequence[dict],
        models: Any,
        fov_deg: float = NYU_FOV_DEG,
        max_points: int = 6000,
        flip_tta: bool = False,
        display_side: int = 640,
        names: Sequence[str] | None = None,
    ) -> None:
        if len(dataset) == 0:
            raise DataError("DepthExplorer needs a dataset with at least one sample.")
        if names is not None and len(names) != len(dataset):
            raise DataError(
                f"names has {len(names)} entries for {len(dataset)} samples: give one name per "
                "sample, or none"
            )
        self.names = None if names is None else [str(name) for name in names]
        self.dataset = dataset
        self.models = _models(models)
        self.fov_deg = fov_deg
        self.max_points = max_points
        self.flip_tta = flip_tta
        self.display_side = display_side
        self.current_index = 0
        self.source = DATASET
        self.photo: np.ndarray | None = None
        self._photo_id = 0
        self.last_probe: dict[str, float] = {}
        self.figure: Any = None
        self.n_renders = self.cache_hits = self.cache_misses = 0
        self._cache: dict[tuple[str, Any], np.ndarray] = {}
        self._samples: dict[int, dict] = {}
        self._resizing = False

        first = self._sample(0)
        height, width = first["depth"].shape
        low, high = depth_range(first["depth"]) if first["depth"].max() > 0 else (0.5, 8.0)
        top = float(np.ceil(max(high * 1.5, 1.0)))
        style = {"description_width": "initial"}
        slider = {"continuous_update": False}
        self.sample = widgets.IntSlider(
            0, 0, len(dataset) - 1, description="sample", style=style, **slider
        )
        self.model = widgets.Dropdown(options=list(self.models), description="model")
        self.cmap = widgets.Dropdown(options=list(COLORMAPS), value="plasma", description="colours")
        self.depth_range = widgets.FloatRangeSlider(
            value=(round(low, 1), round(high, 1)), min=0.0, max=top, step=0.1,
            description="range (m)", style=style, **slider,
        )  # fmt: skip
        self.show_error = widgets.Checkbox(False, description="error map (abs rel)")
        self.probe_x = widgets.IntSlider(width // 2, 0, width - 1, description="probe x", **slider)
        self.probe_y = widgets.IntSlider(
            height // 2, 0, height - 1, description="probe y", **slider
        )
        self.azimuth = widgets.IntSlider(-70, -180, 180, 5, description="azimuth", **slider)
        self.elevation = widgets.IntSlider(15, -90, 90, 5, description="elevation", **slider)
        self.source_choice = widgets.ToggleButtons(options=[DATASET], description="show")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="photo")
        self._colab_files = colab_files()
        uploads: list[widgets.Widget] = [self.source_choice, self.upload]
        self.colab_upload: widgets.Button | None = None
        if self._colab_files is not None:
            self.colab_upload = widgets.Button(description="Upload with Colab", icon="upload")
            self.colab_upload.on_click(lambda _: self.upload_with_colab())
            uploads.append(self.colab_upload)
        self.probe_label = widgets.HTML()
        self.output = widgets.Output()
        for control in self._controls():
            control.observe(self._on_change, names="value")
        self.sample.observe(self._on_sample, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox(uploads),
                widgets.HBox([self.sample, self.model, self.cmap]),
                widgets.HBox([self.depth_range, self.show_error]),
                widgets.HBox([self.probe_x, self.probe_y, self.probe_label]),
                widgets.HBox([self.azimuth, self.elevation]),
                self.output,
            ]
        )
        self.update()

    def _controls(self) -> list[widgets.Widget]:
        return [
            self.model, self.cmap, self.depth_range, self.show_error,
            self.probe_x, self.probe_y, self.azimuth, self.elevation, self.source_choice,
        ]  # fmt: skip

    def _ipython_display_(self) -> None:
        """Show the widgets: ``display(explorer)``, or ``explorer`` as a cell's last line.

        IPython's display machinery calls this; the widget then displays itself the way its
        ipywidgets generation does (8: ``_repr_mimebundle_``; 7, Colab's: ``_ipython_display_``).
        """
        from IPython.display import display

        display(self.widget)

    # ---- data ---------------------------------------------------------------------------------

    def _sample(self, index: int) -> dict:
        """Sample ``index`` as numpy: image float (H,W,3), depth (H,W) metres, intrinsics (4,)."""
        if index not in self._samples:
            sample = self.dataset[index]
            depth = as_depth_map(sample["depth"])
            if "valid" in sample:
                depth = np.where(as_depth_map(sample["valid"]) > 0, depth, 0.0)
            image = sample["image"]
            self._samples[index] = {
                "image": image,
                "rgb": np.moveaxis(np.asarray(image, dtype=np.float32), 0, -1).clip(0, 1),
                "depth": depth.astype(np.float32),
                "intrinsics": np.asarray(sample["intrinsics"], dtype=np.float32),
            }
        return self._samples[index]

    def _model(self, name: str) -> Any:
        model = self.models[name]
        if isinstance(model, (str, os.PathLike)):
            from depthnb.models.loader import load

            model = self.models[name] = load(model)
        return model

    def predict(self, name: str, key: Any, image: Any) -> np.ndarray:
        """Predicted depth (H,W) metres of ``image`` by model ``name``, cached under (name, key)."""
        if (name, key) in self._cache:
            self.cache_hits += 1
        else:
            from depthnb.inference import predict_depth

            self.cache_misses += 1
            self._cache[(name, key)] = predict_depth(self._model(name), image, self.flip_tta)
        return self._cache[(name, key)]

    def load_photo(self, photo: ImageSource | np.ndarray) -> None:
        """Show a photograph instead of a sample and predict its depth.

        Args:
            photo: an image file's path or bytes (what the upload widgets hand over), a binary
                file object, a PIL image, or a uint8 array (H,W,3). Opened by
                :func:`depthnb.data.photo.open_image` (EXIF orientation applied, any mode mapped
                to RGB, a pixel limit), then shrunk to ``display_side`` on its longer side.

        Raises:
            ImageError: not an image, a damaged one, one over the pixel limit, or an array that
                is not uint8 (H,W), (H,W,3) or (H,W,4).
        """
        if isinstance(photo, np.ndarray):
            photo = _array_image(photo)
        image = open_image(photo)
        image.thumbnail((self.display_side, self.display_side), Image.Resampling.LANCZOS)
        self.photo = np.asarray(image)  # a 12 MP photo redraws like a 480x640 one
        self._cache = {key: v for key, v in self._cache.items() if not isinstance(key[1], tuple)}
        self._photo_id += 1
        if PHOTO not in self.source_choice.options:
            self.source_choice.options = [DATASET, PHOTO]
        if self.source_choice.value == PHOTO:
            self.update()
        else:
            self.source_choice.value = PHOTO  # its observer calls update()

    def upload_with_colab(self) -> list[str]:
        """In Colab: ask for photos with ``google.colab.files.upload()`` (no size limit), load
        each with :meth:`load_photo` (the last one stays shown); return their file names.

        Raises:
            ConfigError: outside Colab (use the upload widget or :meth:`load_photo`).
        """
        if self._colab_files is None:
            raise ConfigError(
                "upload_with_colab works only inside Google Colab; here use the explorer's photo "
                "button, or explorer.load_photo(path)"
            )
        uploaded = self._colab_files.upload()
        for data in uploaded.values():
            self.load_photo(data)
        return list(uploaded)

    def _on_upload(self, change: dict) -> None:
        files = uploaded_files(change["new"])
        if files:
            self.load_photo(files[0])

    def _on_sample(self, change: dict) -> None:
        if self.source_choice.value == PHOTO:
            self.source_choice.value = DATASET  # its observer calls update()
        else:
            self.update()

    def _on_change(self, change: dict) -> None:
        if not self._resizing:
            self.update()

    def _fit_probe(self, height: int, width: int) -> None:
        """Set the probe sliders' ranges to an image of (height, width), without redrawing (a
        value that falls outside is clipped by the slider)."""
        self._resizing = True
        try:
            for slider, side in ((self.probe_x, width), (self.probe_y, height)):
                if slider.max != side - 1:
                    slider.value = min(slider.value, side - 1)
                    slider.max = side - 1
        finally:
            self._resizing = False

    # ---- drawing ------------------------------------------------------------------------------

    def _current(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, str]:
        """rgb (H,W,3), true depth (H,W) or None, predicted depth (H,W), intrinsics (4,), title."""
        name = self.model.value
        if self.source == PHOTO and self.photo is not None:
            pred = self.predict(name, ("photo", self._photo_id), self.photo)
            intrinsics = intrinsics_from_fov(self.photo.shape[:2], self.fov_deg)
            return (
                self.photo,
                None,
                pred,
                intrinsics,
                f"your photo ({self.fov_deg:.3g} deg FOV assumed)",
            )
        sample = self._sample(self.current_index)
        pred = self.predict(name, self.current_index, sample["image"])
        title = f"sample {self.current_index}"
        if self.names is not None:
            title += f": {self.names[self.current_index]}"
        truth = sample["depth"] if sample["depth"].max() > 0 else None  # a photo: none known
        return sample["rgb"], truth, pred, sample["intrinsics"], title

    def update(self) -> None:
        """Read every widget, recompute what changed, and draw one new figure into the output."""
        import matplotlib.pyplot as plt
        from IPython.display import clear_output

        self.current_index = int(self.sample.value)
        self.source = self.source_choice.value
        rgb, gt, pred, intrinsics, title = self._current()
        height, width = pred.shape
        self._fit_probe(height, width)
        x, y = min(self.probe_x.value, width - 1), min(self.probe_y.value, height - 1)
        true_m = float(gt[y, x]) if gt is not None and gt[y, x] > 0 else float("nan")
        self.last_probe = {"x": x, "y": y, "true_m": true_m, "pred_m": float(pred[y, x])}
        truth = "unknown" if np.isnan(true_m) else f"{true_m:.2f} m"
        self.probe_label.value = (
            f"<b>pixel ({x}, {y})</b>: true {truth}, predicted {pred[y, x]:.2f} m"
        )
        vmin, vmax = self.depth_range.value
        panels = ["rgb", "gt", "pred"] + (["error"] if self.show_error.value else []) + ["cloud"]
        if self.figure is not None:
            plt.close(self.figure)
        with self.output:
            clear_output(wait=True)
            figure = plt.figure(figsize=(3.4 * len(panels) + 1.5, 3.4), layout="constrained")
            grid = figure.add_gridspec(1, len(panels), width_ratios=[1] * (len(panels) - 1) + [1.5])
            for i, panel in enumerate(panels):
                projection = "3d" if panel == "cloud" else None
                ax = figure.add_subplot(grid[0, i], projection=projection)
                if panel == "rgb":
                    ax.imshow(rgb)
                    ax.plot([x], [y], "+", color="white", markersize=14, markeredgewidth=2)
                    ax.set_title(title)
                elif panel == "gt":
                    shown = np.zeros_like(pred) if gt is None else gt
                    ax.imshow(colorize(shown, self.cmap.value, vmin, vmax))
                    ax.set_title(f"true depth ({vmin:.1f}-{vmax:.1f} m)")
                    depth_colorbar(ax, self.cmap.value, vmin, vmax)
                elif panel == "pred":
                    ax.imshow(colorize(pred, self.cmap.value, vmin, vmax))
                    ax.set_title(f"predicted: {self.model.value}")
                    depth_colorbar(ax, self.cmap.value, vmin, vmax)
                elif panel == "error":
                    error = abs_rel_map(pred, gt) if gt is not None else np.full(pred.shape, np.nan)
                    ax.imshow(colorize(error, "magma", 0.0, 0.5))
                    ax.set_title("abs rel error (0-0.5)")
                    depth_colorbar(ax, "magma", 0.0, 0.5, label="|pred - true| / true")
                else:
                    points, colors = depth_to_points(pred, intrinsics, rgb)
                    view = {"elev": self.elevation.value, "azim": self.azimuth.value}
                    plot_points(points, colors, self.max_points, ax, **view, size=2,
                                title="predicted point cloud")  # fmt: skip
                if gt is None and panel in ("gt", "error"):
                    ax.text(width / 2, height / 2, "no ground truth", color="white",
                            ha="center", va="center")  # fmt: skip
                if panel != "cloud":
                    ax.set_xlabel("u (pixels)")
                    ax.set_ylabel("v (pixels)")
            self.figure = figure
            self.n_renders += 1
            plt.show()
