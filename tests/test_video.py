"""Video depth: temporal smoothing lowers flicker without costing accuracy; GIFs; video files."""

import numpy as np
import pytest
import torch
from PIL import Image

from depthnb import DepthnbError
from depthnb.data import render_camera_path
from depthnb.video import (
    align_to_first,
    flicker,
    predict_video,
    read_frames,
    save_depth_video,
    smooth_depths,
)


@pytest.fixture(scope="module")
def path():
    return render_camera_path(seed=0, n_frames=30, size=(48, 64))


def _abs_rel(pred, gt):
    known = gt > 0
    return float(np.mean(np.abs(pred[known] - gt[known]) / gt[known]))


def _jittery(gt, seed=0):
    """A single-image model's errors: a random scale per frame (8 %) and pixel noise (3 %)."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(0.0, 0.08, (len(gt), 1, 1)))
    return (gt * scale * np.exp(rng.normal(0.0, 0.03, gt.shape))).astype(np.float32)


@pytest.mark.parametrize("smoothing", ["ema", "ema_scale"])
def test_smoothing_lowers_flicker_and_keeps_accuracy(path, smoothing):
    gt = path["depth"]
    raw = _jittery(gt)
    smooth = smooth_depths(raw, smoothing)
    assert flicker(smooth, gt) < 0.6 * flicker(raw, gt)
    assert _abs_rel(smooth, gt) <= _abs_rel(raw, gt) + 0.01
    assert flicker(gt, gt) < flicker(smooth, gt)  # the truth sets the floor: < 1 % change per frame


def test_scale_alignment_beats_plain_averaging_on_scale_jitter(path):
    gt = path["depth"]
    raw = _jittery(gt, seed=1)
    ema, aligned = smooth_depths(raw, "ema"), smooth_depths(raw, "ema_scale")
    assert flicker(aligned, gt) < flicker(ema, gt)
    locked = smooth_depths(raw, "ema_scale", scale_alpha=0.0)  # the first frame's scale forever
    assert _abs_rel(aligned, gt) < _abs_rel(locked, gt)


def test_align_to_first_removes_a_scale_per_frame_of_a_still_scene():
    """A relative model on a still camera: the truth times a scale per frame, with invalid pixels
    holding nonsense. Aligned, every frame has the first frame's scale (the median ignores the
    pixel noise), and invalid pixels take no part."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(1.0, 5.0, (12, 16)).astype(np.float32)
    scales = np.exp(rng.normal(0.0, 0.2, (6, 1, 1)))
    video = (truth * scales).astype(np.float32)
    valid = rng.random(video.shape) > 0.3
    video[~valid] *= 10.0  # nonsense where not valid
    aligned = align_to_first(video, valid)
    assert aligned.dtype == np.float32 and aligned.shape == video.shape
    for t in range(len(video)):
        assert np.allclose(aligned[t][valid[t]], (truth * scales[0])[valid[t]], rtol=1e-5)
    assert np.array_equal(align_to_first(video[:1], valid[:1]), video[:1])
    lonely = valid.copy()
    lonely[2] = ~lonely[0]  # frame 2 shares no valid pixel with frame 0: it keeps its scale
    assert np.array_equal(align_to_first(video, lonely)[2], video[2])


def test_align_to_first_holds_a_moving_camera_at_the_first_frames_depth():
    """The ratio compares each pixel with itself: on a camera moving into the room (lesson 13's
    path, median depth 3.7 m down to 2.5 m) it removes the jitter but also the real change of
    depth, so the last frame comes out too far (why ema_scale lets its scale follow)."""
    gt = render_camera_path(seed=2, n_frames=24, size=(60, 80))["depth"]
    assert np.median(gt[-1][gt[-1] > 0]) < 0.75 * np.median(gt[0][gt[0] > 0])
    raw = _jittery(gt, seed=2)
    aligned = align_to_first(raw)
    assert flicker(aligned, gt) < 0.7 * flicker(raw, gt)
    level = [np.median(aligned[t][gt[t] > 0] / gt[t][gt[t] > 0]) for t in (0, -1)]
    assert level[1] > 1.25 * level[0]
    with pytest.raises(DepthnbError, match="shape"):
        align_to_first(raw[0])
    with pytest.raises(DepthnbError, match="shape"):
        align_to_first(raw, raw[:2] > 0)


def test_smoothing_is_causal_and_validates(path):
    raw = _jittery(path["depth"])
    full = smooth_depths(raw, "ema_scale")
    assert np.allclose(full[:10], smooth_depths(raw[:10], "ema_scale"))  # no look-ahead
    assert np.array_equal(smooth_depths(raw, None), raw)
    with pytest.raises(DepthnbError, match="smoothing"):
        smooth_depths(raw, "kalman")
    with pytest.raises(DepthnbError, match="alpha"):
        smooth_depths(raw, "ema", alpha=0.0)
    with pytest.raises(DepthnbError, match="static_threshold"):
        flicker(raw, path["depth"], static_threshold=0.0)


def test_predict_video_from_frames_and_from_a_gif(path, tmp_path):
    from depthnb.models import build_model

    torch.manual_seed(0)
    model = build_model("unet", filters=(4, 4, 8, 8, 8)).eval()
    frames = path["image"][:4]
    depths = predict_video(model, frames, smoothing="ema")
    assert depths.shape == (4, 48, 64) and depths.dtype == np.float32
    gif = tmp_path / "clip.gif"
    Image.fromarray(frames[0]).save(
        gif, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]]
    )
    assert read_frames(gif).shape == frames.shape
    from_file = predict_video(model, gif, smoothing="ema")
    assert from_file.shape == depths.shape and np.all(from_file > 0)
    with pytest.raises(DepthnbError, match="no frame"):
        predict_video(model, frames[:0])


def test_save_depth_video_gif(path, tmp_path):
    target = save_depth_video(tmp_path / "depth.gif", path["image"][:5], path["depth"][:5], fps=5)
    with Image.open(target) as gif:
        assert gif.n_frames == 5 and gif.size == (128, 48)
    assert [p.name for p in tmp_path.iterdir()] == ["depth.gif"]
    with pytest.raises(DepthnbError, match=".gif or .mp4"):
        save_depth_video(tmp_path / "depth.avi", path["image"][:2], path["depth"][:2])
