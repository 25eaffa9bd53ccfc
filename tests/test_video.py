"""Video depth: temporal smoothing lowers flicker without costing accuracy; GIFs; video files."""

import numpy as np
import pytest
import torch
from PIL import Image

from depthnb import DepthnbError
from depthnb.data import render_camera_path
from depthnb.video import flicker, predict_video, read_frames, save_depth_video, smooth_depths


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
