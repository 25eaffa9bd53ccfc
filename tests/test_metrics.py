"""Depth metrics by hand, the references' pitfalls, crops, alignment, the accumulator, evaluate."""

import doctest
import math

import numpy as np
import pytest
import torch
from torch import nn

import depthnb.metrics.depth
from depthnb.encodings import get_encoding
from depthnb.errors import ArgumentError, DataError, ModelError
from depthnb.metrics import (
    PUBLISHED,
    DepthMetricAccumulator,
    align_scale_shift,
    crop_mask,
    depth_metrics,
    evaluate,
    format_table,
    mask_iou,
    median_scale,
)

GT = np.array([[1.0, 2.0], [4.0, 5.0]])
PRED = np.array([[1.5, 2.0], [3.0, 8.0]])


def test_doctests() -> None:
    assert doctest.testmod(depthnb.metrics.depth).failed == 0


def test_each_metric_by_hand() -> None:
    m = depth_metrics(PRED, GT)
    # |gt - pred| = 0.5, 0, 1, 3
    assert m["abs_rel"] == pytest.approx((0.5 / 1 + 0 + 1 / 4 + 3 / 5) / 4)
    assert m["sq_rel"] == pytest.approx((0.25 / 1 + 0 + 1 / 4 + 9 / 5) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 9) / 4))
    logs = [math.log(1.5), 0.0, math.log(4 / 3), math.log(8 / 5)]
    assert m["rmse_log"] == pytest.approx(math.sqrt(sum(v * v for v in logs) / 4))
    assert m["log10"] == pytest.approx(sum(abs(v) / math.log(10) for v in logs) / 4)
    # ratios max(gt/pred, pred/gt) = 1.5, 1, 1.333, 1.6
    assert m["delta1"] == pytest.approx(1 / 4)  # only 1.0 < 1.25
    assert m["delta2"] == pytest.approx(3 / 4)  # < 1.5625: 1, 1.333, 1.5
    assert m["delta3"] == pytest.approx(1.0)  # < 1.953
    assert set(m) == set(depthnb.metrics.METRIC_NAMES)
    assert all(isinstance(v, float) for v in m.values())


def test_delta_threshold_is_strict_and_double_precision_input_stays_double() -> None:
    gt = np.array([1.0, 2.0, 4.0, 8.0])
    pred = gt * np.array([1.0, 1.25, 1 / 1.25, 1.2])
    ratio = np.maximum(gt / pred, pred / gt)  # the reference, in float64
    m = depth_metrics(pred[None], gt[None])
    assert m["delta1"] == np.mean(ratio < 1.25)
    assert m["abs_rel"] == pytest.approx(np.mean(np.abs(gt - pred) / gt), rel=1e-12)


def test_shapes_and_types_agree() -> None:
    reference = depth_metrics(PRED, GT)
    for pred, gt in [
        (torch.tensor(PRED), torch.tensor(GT)),
        (torch.tensor(PRED)[None, None], torch.tensor(GT)[None, None]),
        (PRED[None].astype(np.float32), GT[None].astype(np.float32)),
    ]:
        for key, value in depth_metrics(pred, gt).items():
            assert value == pytest.approx(reference[key], rel=1e-6)


def test_swapped_arguments_change_abs_rel() -> None:
    # DenseDepth's compute_errors was called (pred, gt) swapped: abs_rel divides by the prediction.
    right = depth_metrics(PRED, GT)
    swapped = depth_metrics(GT, PRED)
    assert swapped["abs_rel"] == pytest.approx((0.5 / 1.5 + 0 + 1 / 3 + 3 / 8) / 4)
    assert swapped["abs_rel"] != pytest.approx(right["abs_rel"])
    # Symmetric metrics do not notice.
    for key in ["rmse", "rmse_log", "log10", "delta1", "delta2", "delta3"]:
        assert swapped[key] == pytest.approx(right[key])


def test_millimetres_are_caught_and_scale_matters() -> None:
    with pytest.raises(DataError, match="millimetres"):
        depth_metrics(PRED * 1000, GT * 1000)  # every gt above max_depth = 10 m
    # Prediction in mm against gt in m: clamped to 10 m everywhere, a terrible score.
    assert depth_metrics(PRED * 1000, GT)["delta1"] == 0.0
    # Relative metrics do not depend on the unit when the range allows it; rmse does.
    mm = depth_metrics(PRED * 1000, GT * 1000, max_depth=1e4)
    m = depth_metrics(PRED, GT)
    assert mm["abs_rel"] == pytest.approx(m["abs_rel"])
    assert mm["rmse"] == pytest.approx(1000 * m["rmse"])


def test_invalid_pixels_are_excluded() -> None:
    gt = np.array([[1.0, 0.0], [4.0, np.nan]])
    pred = np.array([[1.5, 9.0], [3.0, 8.0]])
    m = depth_metrics(pred, gt)
    assert m["abs_rel"] == pytest.approx((0.5 + 0.25) / 2)
    valid = np.array([[True, True], [False, True]])
    assert depth_metrics(pred, gt, valid)["abs_rel"] == pytest.approx(0.5)
    # gt outside [min_depth, max_depth] is ignored; pred is clamped into it.
    assert depth_metrics(PRED, GT, max_depth=4.5)["abs_rel"] == pytest.approx((0.5 + 0 + 0.25) / 3)
    assert depth_metrics(np.full((2, 2), 50.0), GT, max_depth=10)["rmse"] == pytest.approx(
        math.sqrt(((10 - 1) ** 2 + 8**2 + 6**2 + 5**2) / 4)
    )


def test_named_crops() -> None:
    dense = crop_mask((480, 640), "densedepth")
    assert dense.sum() == 440 * 592 and dense[20, 24] and not dense[19, 24] and not dense[20, 616]
    toolbox = crop_mask((480, 640), "nyu_toolbox")
    assert toolbox.sum() == 427 * 561 and toolbox[44, 40] and not toolbox[471, 40]
    half = crop_mask((240, 320), "densedepth")
    assert half.sum() == 220 * 296 and half[10, 12] and not half[9, 12]
    assert crop_mask((4, 4), (1, 3, 0, 2)).sum() == 4
    with pytest.raises(ArgumentError, match="choose one of"):
        crop_mask((480, 640), "garg")
    with pytest.raises(ArgumentError, match="four integers"):
        crop_mask((480, 640), (20, 460, 24))


def test_crop_changes_which_pixels_count() -> None:
    gt = np.full((480, 640), 2.0)
    pred = gt.copy()
    pred[:10] = 4.0  # a bad border, outside DenseDepth's crop
    assert depth_metrics(pred, gt)["delta1"] < 1
    assert depth_metrics(pred, gt, crop="densedepth")["delta1"] == 1.0


def test_pooled_vs_per_image() -> None:
    gt = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 1.0)])
    pred = gt.copy()
    pred[0, 0, 0] = 3.0  # image 0: one pixel off by 2 m; image 1 perfect
    gt[1, 1, :] = 0.0  # image 1 has only 2 valid pixels
    pooled = depth_metrics(pred, gt, aggregate="pooled")
    per_image = depth_metrics(pred, gt, aggregate="per_image")
    assert pooled["rmse"] == pytest.approx(math.sqrt(4 / 6))
    assert per_image["rmse"] == pytest.approx((math.sqrt(4 / 4) + 0) / 2)
    assert pooled["abs_rel"] == pytest.approx(2 / 6)
    assert per_image["abs_rel"] == pytest.approx((2 / 4 + 0) / 2)
    with pytest.raises(ArgumentError, match="aggregate"):
        depth_metrics(pred, gt, aggregate="mean")


def test_median_scaling_and_scale_shift() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 8, (2, 1, 16, 16))
    scales = np.array([0.3, 4.0]).reshape(2, 1, 1, 1)
    scaled = median_scale(torch.tensor(gt * scales), torch.tensor(gt))
    torch.testing.assert_close(scaled, torch.tensor(gt))  # (B,1,H,W) and float64 in, the same out
    affine = align_scale_shift(torch.tensor(gt * scales + 2.0), torch.tensor(gt))
    torch.testing.assert_close(affine, torch.tensor(gt), rtol=1e-9, atol=1e-9)
    one = median_scale(gt[0, 0] * 2.0, gt[0, 0])  # (H,W) NumPy in: a (H,W) tensor out
    assert one.shape == (16, 16) and torch.allclose(one, torch.tensor(gt[0, 0]))
    assert depth_metrics(gt * scales, gt, align="median")["abs_rel"] == pytest.approx(0, abs=1e-6)
    assert depth_metrics(gt * scales + 2, gt, align="scale_shift")["delta1"] == 1.0
    assert depth_metrics(gt * scales, gt)["delta1"] < 0.5
    with pytest.raises(ArgumentError, match="align"):
        depth_metrics(gt, gt, align="mean")


def test_accumulator_equals_one_shot() -> None:
    torch.manual_seed(0)
    gt = torch.rand(7, 1, 48, 64) * 9 + 0.5
    gt[gt < 1.0] = 0  # holes
    pred = gt.clamp(min=0.5) * torch.exp(0.2 * torch.randn_like(gt))
    valid = torch.rand(7, 1, 48, 64) > 0.1
    gt[3] = 0  # an image without a single valid pixel
    for aggregate in ["pooled", "per_image"]:
        for crop in [None, "densedepth"]:
            one_shot = depth_metrics(pred, gt, valid, crop=crop, aggregate=aggregate)
            acc = DepthMetricAccumulator(crop=crop)
            for start in range(0, 7, 3):
                acc.update(pred[start : start + 3], gt[start : start + 3], valid[start : start + 3])
            streamed = acc.compute(aggregate)
            for key in one_shot:
                assert streamed[key] == pytest.approx(one_shot[key], rel=1e-9)
    assert acc.num_images == 6
    acc.reset()
    with pytest.raises(DataError):
        acc.compute()


def test_mask_iou() -> None:
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    probabilities = torch.tensor([[0.9, 0.4, 0.7, 0.1]])
    assert mask_iou(probabilities, target) == pytest.approx(1 / 3)
    assert mask_iou(probabilities, target, threshold=0.3) == pytest.approx(2 / 3)
    logits = torch.logit(probabilities)
    assert mask_iou(logits, target, from_logits=True) == pytest.approx(1 / 3)
    with pytest.raises(ArgumentError, match="from_logits"):
        mask_iou(logits, target)
    assert mask_iou(torch.zeros(2, 2), torch.zeros(2, 2)) == 1.0


class _DepthFromImage(nn.Module):
    """A test model: the image's green channel holds depth / 10; it predicts that, plus a bias on
    the left half of its input, in inverse encoding at half resolution."""

    def __init__(self, left_bias: float = 0.0) -> None:
        super().__init__()
        self.encoding = get_encoding("inverse")
        self.left_bias = left_bias
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        depth = image[:, 1:2] * 10
        depth[..., : depth.shape[-1] // 2] += self.left_bias
        depth = torch.nn.functional.avg_pool2d(depth, 2)
        return self.encoding.encode(depth) * self.weight


class _Samples(torch.utils.data.Dataset):
    def __init__(self, depth: torch.Tensor) -> None:
        self.depth = depth

    def __len__(self) -> int:
        return len(self.depth)

    def __getitem__(self, i: int) -> dict:
        depth = self.depth[i]
        image = torch.cat([torch.zeros_like(depth), depth / 10, torch.zeros_like(depth)])
        return {"image": image, "depth": depth, "valid": depth > 0}


def test_evaluate_decodes_upsamples_flips_and_crops() -> None:
    h, w = 48, 64
    yy = torch.linspace(1, 4, h)[:, None].expand(h, w)
    depth = torch.stack([yy + k for k in range(5)])[:, None].contiguous()
    dataset = _Samples(depth)
    model = _DepthFromImage()
    row = evaluate(model, dataset, batch_size=2)
    assert row["num_images"] == 5
    assert row["delta1"] == 1.0 and row["abs_rel"] < 0.01  # smooth depth survives 2x down/up
    # A bias on the left half of the input: flip averaging spreads it, halving the error.
    biased = _DepthFromImage(left_bias=1.0)
    plain = evaluate(biased, dataset)
    flipped = evaluate(biased, dataset, flip_tta=True)
    assert flipped["rmse"] == pytest.approx(plain["rmse"] / math.sqrt(2), rel=0.05)
    # A manual one-shot computation equals evaluate (pooled and per image).
    images = torch.stack([dataset[i]["image"] for i in range(5)])
    pred = get_encoding("inverse").decode(model(images))
    pred = torch.nn.functional.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False)
    for aggregate in ["pooled", "per_image"]:
        manual = depth_metrics(pred, depth, crop="densedepth", aggregate=aggregate)
        row = evaluate(model, dataset, crop="densedepth", aggregate=aggregate)
        for key in manual:
            assert row[key] == pytest.approx(manual[key], rel=1e-6)
    assert model.training  # evaluate restores the mode
    with pytest.raises(ModelError, match="encoding"):
        evaluate(nn.Conv2d(3, 1, 1), dataset)


class _Seeing(_DepthFromImage):
    """Records the device its weight was on when it ran."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        self.ran_on = self.weight.device
        return super().forward(image)


class _Failing(_Samples):
    def __getitem__(self, i: int) -> dict:
        if i == 3:
            raise OSError("unreadable sample")
        return super().__getitem__(i)


def _depths() -> torch.Tensor:
    return torch.linspace(1, 4, 5 * 32 * 48).view(5, 1, 32, 48)


def test_evaluate_leaves_the_model_in_its_mode_and_place() -> None:
    model = _Seeing()
    weight, value = model.weight, model.weight.detach().clone()
    evaluate(model, _Samples(_depths()), batch_size=2, device=torch.device("cpu"))
    assert model.training and model.weight is weight and torch.equal(weight.detach(), value)
    model.eval()
    with pytest.raises(OSError, match="unreadable"):  # a failure midway puts it back too
        evaluate(model, _Failing(_depths()), batch_size=2)
    assert not model.training and model.weight.device.type == "cpu"


def test_evaluate_refuses_a_model_split_across_devices() -> None:
    model = _DepthFromImage()
    model.register_buffer("elsewhere", torch.zeros(1, device="meta"))
    with pytest.raises(ArgumentError, match="several devices"):
        evaluate(model, _Samples(_depths()), device="cpu")
    assert model.weight.device.type == "cpu" and model.elsewhere.device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_evaluate_on_another_device_puts_the_model_back() -> None:
    model = _Seeing()
    evaluate(model, _Samples(_depths()), device="cuda")
    assert model.ran_on.type == "cuda" and model.weight.device.type == "cpu"
    model.cuda()
    evaluate(model, _Samples(_depths()), device="cpu")
    assert model.ran_on.type == "cpu" and model.weight.device.type == "cuda"


def test_format_table_lists_published_rows() -> None:
    table = format_table({"ours": {"delta1": 0.5, "abs_rel": 0.2}})
    lines = table.splitlines()
    assert lines[2].startswith("ours") and "0.500" in lines[2] and "-" in lines[2]
    assert "DenseDepth (paper)" in table and "0.846" in table and "0.573" in table
    assert PUBLISHED["FCRN (paper)"]["delta1"] == 0.811
    assert "FCRN" not in format_table({"ours": {}}, published=False)
