"""The constant baselines: ConstantDepth and the best constant per metric."""

import pytest
import torch

from depthnb.errors import DataError
from depthnb.metrics import depth_metrics
from depthnb.metrics.baseline import ConstantDepth, best_constants
from depthnb.metrics.depth import HIGHER_IS_BETTER


@pytest.fixture(scope="module")
def depth() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(6, 1, 24, 32, generator=generator) ** 2) * 8 + 0.5  # skewed: mean > median


def test_constant_depth_fills_every_pixel():
    out = ConstantDepth(2.5)(torch.zeros(2, 3, 5, 7))
    assert out.shape == (2, 1, 5, 7) and torch.all(out == 2.5)


def test_rmse_is_best_at_the_mean_and_abs_rel_at_the_inverse_weighted_median(depth):
    best = best_constants(depth)
    assert best["rmse"][0] == pytest.approx(float(depth.mean()), rel=1e-6)
    values, _ = depth.flatten().sort()
    weights = (1 / values).cumsum(0)
    weighted_median = float(values[int((weights >= weights[-1] / 2).nonzero()[0])])
    assert best["abs_rel"][0] == pytest.approx(weighted_median, rel=0.03)  # the grid's spacing


@pytest.mark.parametrize("reference", ["median", "mean"])
def test_no_constant_beats_the_best_one(depth, reference):
    best = best_constants(depth)
    constant = float(depth.median() if reference == "median" else depth.mean())
    scores = depth_metrics(torch.full_like(depth, constant), depth)
    for metric, (_, score) in best.items():
        if metric in HIGHER_IS_BETTER:
            assert score >= scores[metric] * (1 - 1e-6), metric
        else:
            assert score <= scores[metric] * (1 + 1e-6), metric  # silog: equal for all


def test_the_median_is_not_best_for_abs_rel_or_rmse(depth):
    best = best_constants(depth)
    median = torch.full_like(depth, float(depth.median()))
    scores = depth_metrics(median, depth)
    assert best["abs_rel"][1] < scores["abs_rel"] - 0.01
    assert best["rmse"][1] < scores["rmse"] - 0.01


def test_scores_are_those_of_depth_metrics_on_the_valid_pixels(depth):
    valid = torch.zeros_like(depth, dtype=torch.bool)
    valid[..., :16] = True
    best = best_constants(depth, valid)
    constant, score = best["delta1"]
    flat = torch.full_like(depth, constant)
    assert score == pytest.approx(depth_metrics(flat, depth, valid)["delta1"])
    assert best_constants(depth[..., :16])["rmse"] == pytest.approx(best["rmse"])


def test_no_valid_pixel_is_a_data_error():
    with pytest.raises(DataError, match="valid depth pixel"):
        best_constants(torch.zeros(1, 1, 4, 4))
