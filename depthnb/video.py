"""Single-image depth models on video: per-frame prediction, temporal smoothing, flicker, GIFs.

A model that sees one frame at a time makes small independent errors in every frame, most of all in
the overall scale, and the depth video flickers. Two cheap remedies, both causal (frame t uses
frames <= t only):

- ``"ema"``: an exponential moving average, s_t = alpha d_t + (1 - alpha) s_{t-1}.
- ``"ema_scale"``: first align the new frame's scale to the running estimate with the median
  ratio r_t = median(s_{t-1} / d_t), so the average blends structure, not two different scales;
  the running scale itself moves towards each frame's by the fraction ``scale_alpha`` per frame
  (a slow average of the scale, so a real change of scene depth is still followed).

A relative model (one whose depth is right only up to a scale per frame) first needs one scale
for the whole clip: :func:`align_to_first` brings every frame to the first frame's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from depthnb.errors import ArgumentError, DataError, MissingPackageError, ShapeError
from depthnb.utils.files import atomic_path
from depthnb.viz.colors import colorize, depth_range

SMOOTHING = (None, "ema", "ema_scale")


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """Frames of a video file as uint8 (T,H,W,3): GIF (and other multi-frame images) through Pillow;
    MP4 and other formats through imageio when it is installed.
    """
    from PIL import Image, ImageSequence

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no video at {path}; check the path.")
    if path.suffix.lower() in (".gif", ".png", ".apng", ".webp", ".tif", ".tiff"):
        with Image.open(path) as video:
            frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(video)]
        return np.stack(frames)
    try:
        import imageio.v3 as iio
    except ImportError:
        raise MissingPackageError(
            f"reading {path.suffix} video needs imageio: `pip install imageio[ffmpeg]`, or convert "
            "the clip to a GIF, or pass the frames as a (T,H,W,3) uint8 array."
        ) from None
    pixels = np.asarray(iio.imread(path))
    return pixels[..., :3] if pixels.ndim == 4 else np.repeat(pixels[..., None], 3, axis=-1)


def _median_ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    ok = np.isfinite(numerator) & np.isfinite(denominator) & (numerator > 0) & (denominator > 0)
    return float(np.median(numerator[ok] / denominator[ok])) if ok.any() else 1.0


def align_to_first(depths: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Every frame of a depth video brought to the first frame's scale; returns float32 (T,H,W).

    Frame t is multiplied by s_t = median(depths[0] / depths[t]) over the pixels valid in both
    frames (s_0 = 1; a frame that shares no valid pixel with the first keeps s_t = 1). The ratio
    compares each pixel with itself, so it assumes the depth seen at a pixel barely changes (a
    still or slowly moving camera): when the camera moves towards the scene it holds every frame
    at the first frame's depth level. Aligning each frame to the previous one instead lets every
    step's small error carry on into the later frames (drift).

    Args:
        depths: (T,H,W) predicted depth (or any quantity right up to a scale per frame).
        valid: (T,H,W) bool, the pixels to trust; default: depth positive and finite.
    """
    depths = np.asarray(depths, dtype=np.float32)
    if depths.ndim != 3:
        raise ShapeError(f"depths have shape {depths.shape}; expected a video (T,H,W).")
    usable = np.isfinite(depths) & (depths > 0)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != depths.shape:
            raise ShapeError(f"valid {valid.shape} and depths {depths.shape} differ in shape.")
        usable &= valid
    out = depths.copy()
    for t in range(1, len(depths)):
        both = usable[0] & usable[t]
        if both.any():
            out[t] = depths[t] * np.median(depths[0][both] / depths[t][both])
    return out


def smooth_depths(
    depths: np.ndarray,
    smoothing: str | None = "ema",
    alpha: float = 0.5,
    scale_alpha: float = 0.2,
) -> np.ndarray:
    """Causal temporal smoothing of a depth video (T,H,W) metres; returns float32 (T,H,W).

    Args:
        depths: per-frame predictions.
        smoothing: None (unchanged), ``"ema"`` or ``"ema_scale"`` (see the module docstring).
        alpha: weight of the newest frame, in (0, 1]; smaller is smoother and lags more.
        scale_alpha: ``"ema_scale"`` only: how far the running scale moves towards each new
            frame's, in [0, 1]; 0 locks the scale of the first frame, 1 follows every frame.
    """
    if smoothing not in SMOOTHING:
        raise ArgumentError(f"smoothing={smoothing!r}; use one of {SMOOTHING}.")
    if not 0.0 < alpha <= 1.0 or not 0.0 <= scale_alpha <= 1.0:
        raise ArgumentError(
            f"alpha={alpha} must lie in (0, 1], scale_alpha={scale_alpha} in [0, 1]."
        )
    depths = np.asarray(depths, dtype=np.float32)
    if depths.ndim != 3:
        raise ShapeError(f"depths have shape {depths.shape}; expected a video (T,H,W).")
    if smoothing is None or len(depths) == 0:
        return depths.copy()
    out = np.empty_like(depths)
    out[0] = depths[0]
    for t in range(1, len(depths)):
        frame, previous = depths[t], out[t - 1]
        if smoothing == "ema_scale":
            ratio = _median_ratio(previous, frame)  # brings the frame to the running scale
            step = ratio ** (-scale_alpha)  # moves the running scale part of the way back
            frame, previous = frame * ratio * step, previous * step
        out[t] = alpha * frame + (1.0 - alpha) * previous
    return out


def predict_video(
    model: Any,
    frames: np.ndarray | str | os.PathLike,
    smoothing: str | None = None,
    alpha: float = 0.5,
    scale_alpha: float = 0.2,
    flip_tta: bool = False,
) -> np.ndarray:
    """Depth for every frame of a video, optionally smoothed over time.

    Args:
        model: a depthnb model (any input size; see depthnb.predict.predict_depth).
        frames: uint8 (T,H,W,3) frames, or the path of a video file (see :func:`read_frames`).
        smoothing, alpha, scale_alpha: see :func:`smooth_depths`.
        flip_tta: average each frame's prediction with its mirrored input's.

    Returns:
        float32 (T,H,W) depth in metres, the frames' size.
    """
    from depthnb.inference import predict_depth

    if not isinstance(frames, np.ndarray):
        frames = read_frames(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ShapeError(f"frames have shape {frames.shape}; expected (T,H,W,3) uint8.")
    if len(frames) == 0:
        raise ShapeError("frames hold no frame (T = 0); pass a video with at least one frame.")
    depths = np.stack([predict_depth(model, frame, flip_tta=flip_tta) for frame in frames])
    return smooth_depths(depths, smoothing, alpha, scale_alpha)


def flicker(
    pred: np.ndarray,
    target: np.ndarray | None = None,
    static_threshold: float = 0.01,
) -> float:
    """Mean absolute change of predicted depth (metres) between consecutive frames, where the scene
    did not change.

    pred (T,H,W) is the predicted depth of each frame, metres. With ground truth ``target``
    (T,H,W, metres, 0 where unknown), a pixel counts for frames t-1, t when its true depth is known
    in both and changed by less than ``static_threshold`` (relative: 0.01 = 1 %); a perfect, steady
    model scores about 0 whatever the camera does. Without ground truth, every pixel with a positive
    prediction in both frames counts (only meaningful for a static camera).
    """
    pred = np.asarray(pred, dtype=np.float32)
    if pred.ndim != 3 or len(pred) < 2:
        raise ShapeError(f"flicker needs a video (T,H,W) with T >= 2, got shape {pred.shape}.")
    change = np.abs(pred[1:] - pred[:-1])
    if target is None:
        static = (pred[1:] > 0) & (pred[:-1] > 0)
    else:
        target = np.asarray(target, dtype=np.float32)
        if target.shape != pred.shape:
            raise ShapeError(f"target {target.shape} and pred {pred.shape} differ in shape.")
        known = (target[1:] > 0) & (target[:-1] > 0)
        relative = np.abs(target[1:] - target[:-1]) / np.where(known, target[:-1], 1.0)
        static = known & (relative < static_threshold)
    if not static.any():
        raise DataError(
            "no pixel stays static between consecutive frames; raise static_threshold "
            f"(now {static_threshold}) or use a slower camera path."
        )
    return float(change[static].mean())


def depth_video_frames(
    frames: np.ndarray,
    depths: np.ndarray,
    cmap: str = "plasma",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """Side-by-side uint8 frames (T,H,2W,3): the RGB frame | its depth, one colour range for all."""
    frames, depths = np.asarray(frames), np.asarray(depths, dtype=np.float32)
    if frames.shape[:3] != depths.shape:
        raise ShapeError(f"frames {frames.shape} and depths {depths.shape} differ in size.")
    if vmin is None or vmax is None:
        low, high = depth_range(depths.reshape(-1, depths.shape[-1]))
        vmin, vmax = low if vmin is None else vmin, high if vmax is None else vmax
    coloured = np.stack([colorize(d, cmap, vmin, vmax) for d in depths])
    return np.concatenate([frames.astype(np.uint8), coloured], axis=2)


def save_depth_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    depths: np.ndarray,
    fps: float = 10.0,
    cmap: str = "plasma",
    title: str | None = None,
) -> Path:
    """Save frames (T,H,W,3) uint8 and depths (T,H,W) metres side by side as a GIF or an MP4.

    GIF uses matplotlib's PillowWriter (always available); MP4 uses FFMpegWriter and needs the
    ``ffmpeg`` program. One colour range for the whole clip, so colour changes are depth changes.
    Written to a temporary file, then renamed.
    """
    import matplotlib.pyplot as plt
    from matplotlib import animation

    path = Path(path)
    suffix = path.suffix.lower()
    writer: animation.AbstractMovieWriter
    if suffix == ".gif":
        writer = animation.PillowWriter(fps=fps)  # type: ignore[arg-type]  # any float rate works
    elif suffix == ".mp4":
        if shutil.which("ffmpeg") is None:
            raise MissingPackageError(
                f"saving {path} as MP4 needs ffmpeg (`apt install ffmpeg`); save a .gif instead."
            )
        writer = animation.FFMpegWriter(fps=fps)  # type: ignore[arg-type]
    else:
        raise ArgumentError(f"{path}: save the depth video as .gif or .mp4.")
    tiles = depth_video_frames(frames, depths, cmap)
    height, width = tiles.shape[1:3]
    figure = plt.figure(figsize=(width / 100, height / 100 + (0.3 if title else 0)), dpi=100)
    axes = figure.add_axes((0, 0, 1, height / (height + (30 if title else 0))))
    axes.set_axis_off()
    if title:
        figure.suptitle(title, y=0.99, fontsize=9)
    image = axes.imshow(tiles[0])
    try:
        with atomic_path(path) as temporary, writer.saving(figure, str(temporary), dpi=100):
            for tile in tiles:
                image.set_data(tile)
                writer.grab_frame()
    finally:
        plt.close(figure)
    return path
