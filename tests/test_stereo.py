"""Stereo matching (depthnb.stereo) and its measures (depthnb.metrics.stereo): tiny cases worked
out by hand, a brute-force reference for the cost volume, and the matcher on Middlebury 2014's
*Motorcycle* (scikit-image), held to bounds measured there.

Measured on scikit-image 0.26's pair, grey = mean of RGB, 64 candidates, window 9, non-occluded
pixels (84.5 % of the image): SAD winner-take-all EPE 3.42 px, bad-2 22.9 %; census with sub-pixel
refinement 0.98 px, 5.7 %; the left-right check keeps 95.5 % of them, EPE 0.52 px there; the best
constant disparity (41.3 px) 14.5 px, 93.4 %. The bounds below leave room for another scikit-image's
resampling, not for a broken matcher.
"""

from __future__ import annotations

import math

import pytest
import torch

from depthnb.errors import ArgumentError, DataError, ShapeError
from depthnb.metrics.stereo import (
    bad_pixel_rate,
    best_constant_disparity,
    end_point_error,
    stereo_metrics,
)
from depthnb.models.heads import BinsHead, bin_centres
from depthnb.stereo import (
    census_cost_volume,
    census_transform,
    left_right_check,
    match_stereo,
    nonoccluded,
    right_cost_volume,
    sad_cost_volume,
    subpixel_refine,
    window_sum,
    winner_take_all,
)

INF = math.inf


def _brute_sad(left: torch.Tensor, right: torch.Tensor, count: int, window: int) -> torch.Tensor:
    """The definition, term by term: the mean |L - R(u - d)| over the window's pairs inside."""
    b, _, h, w = left.shape
    cost = torch.full((b, count, h, w), INF, dtype=torch.float64)
    r = window // 2
    for i in range(b):
        for d in range(count):
            for v in range(h):
                for u in range(d, w):
                    terms = [
                        (left[i, :, y, x] - right[i, :, y, x - d]).abs().mean()
                        for y in range(v - r, v + r + 1)
                        for x in range(u - r, u + r + 1)
                        if 0 <= y < h and 0 <= x < w and x - d >= 0
                    ]
                    cost[i, d, v, u] = torch.stack(terms).mean()
    return cost


def test_sad_cost_volume_by_hand():
    # one row: left [1, 5, 9, 4], right [5, 9, 4, 0]: left u matches right u - 1
    left = torch.tensor([[[[1.0, 5.0, 9.0, 4.0]]]])
    right = torch.tensor([[[[5.0, 9.0, 4.0, 0.0]]]])
    cost = sad_cost_volume(left, right, num_disparities=3, window=1)
    expected = torch.tensor(
        [
            [4.0, 4.0, 5.0, 4.0],  # d = 0: |1-5| |5-9| |9-4| |4-0|
            [INF, 0.0, 0.0, 0.0],  # d = 1: the match (u = 0 has no right pixel at -1)
            [INF, INF, 4.0, 5.0],  # d = 2: |9-5| |4-9|
        ]
    )
    assert torch.equal(cost[0, :, 0], expected)
    # a window of 3 averages the pairs that exist: at u = 1, d = 1, pairs u' = 1, 2 (u' = 0 has
    # no right pixel): (0 + 0) / 2; at u = 3, d = 0, pairs u' = 2, 3: (5 + 4) / 2
    wide = sad_cost_volume(left, right, num_disparities=3, window=3)
    assert wide[0, 1, 0, 1] == 0.0 and wide[0, 0, 0, 3] == 4.5 and wide[0, 1, 0, 0] == INF
    assert winner_take_all(cost)[0, 0, 0, 1:].tolist() == [1, 1, 1]


def test_sad_cost_volume_agrees_with_the_definition_term_by_term():
    generator = torch.Generator().manual_seed(3)
    left = torch.rand(2, 3, 6, 9, generator=generator)
    right = torch.rand(2, 3, 6, 9, generator=generator)
    for window in (1, 3, 5):
        fast = sad_cost_volume(left, right, 4, window)
        slow = _brute_sad(left.double(), right.double(), 4, window)
        assert torch.equal(torch.isinf(fast), torch.isinf(slow))
        finite = torch.isfinite(slow)
        assert torch.allclose(fast[finite].double(), slow[finite], atol=1e-6)


def test_window_sum_is_a_box_sum_with_zeros_outside():
    values = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    summed = window_sum(values, 3)
    assert summed[0, 0, 1, 1].item() == pytest.approx(sum([0, 1, 2, 4, 5, 6, 8, 9, 10]))
    assert summed[0, 0, 0, 0].item() == pytest.approx(0 + 1 + 4 + 5)


def test_census_transform_and_cost_by_hand():
    image = torch.tensor([[[[5.0, 1.0, 7.0], [2.0, 4.0, 9.0], [3.0, 8.0, 6.0]]]])
    bits = census_transform(image, window=3)[0, :, 1, 1]  # neighbours of the centre 4, row by row
    assert bits.tolist() == [False, True, False, True, False, True, False, False]
    # a gain and an offset leave the census cost unchanged: 0 at the true shift
    generator = torch.Generator().manual_seed(0)
    left = torch.rand(1, 1, 10, 24, generator=generator)
    right = torch.roll(left, -2, dims=-1) * 0.5 + 0.2
    cost = census_cost_volume(left, right, num_disparities=5, window=3, census_window=3)
    # (the columns whose windows reach the roll's wrap or a replicated border are left out)
    assert torch.all(cost[0, 2, :, 4:-3] == 0)
    assert (winner_take_all(cost)[0, 0, 1:-1, 4:-4] == 2).all()
    assert (cost[torch.isfinite(cost)] <= 1).all()


def test_subpixel_parabola_by_hand():
    # costs 4, 1, 2 around d = 1: the parabola's minimum at 1 + (4 - 2) / (2 (4 - 2 + 2)) = 1.25
    cost = torch.tensor([4.0, 1.0, 2.0, 9.0]).view(1, 4, 1, 1)
    best = winner_take_all(cost)
    assert best.item() == 1
    assert subpixel_refine(cost, best).item() == pytest.approx(1.25)
    # a true quadratic (d - 2.3)^2 is found exactly
    d = torch.arange(6, dtype=torch.float32)
    quadratic = ((d - 2.3) ** 2).view(1, 6, 1, 1)
    assert subpixel_refine(quadratic, winner_take_all(quadratic)).item() == pytest.approx(2.3)
    # at the first candidate, or next to an infinite cost, the integer stays
    edge = torch.tensor([0.0, 1.0, 2.0]).view(1, 3, 1, 1)
    assert subpixel_refine(edge, winner_take_all(edge)).item() == 0.0
    blocked = torch.tensor([INF, 1.0, 2.0]).view(1, 3, 1, 1)
    assert subpixel_refine(blocked, torch.tensor([[[[1]]]])).item() == 1.0


def test_right_cost_volume_reindexes_the_left_one():
    cost = torch.arange(24, dtype=torch.float32).reshape(1, 2, 3, 4)
    right = right_cost_volume(cost)
    assert torch.equal(right[0, 0], cost[0, 0])
    assert torch.equal(right[0, 1, :, :3], cost[0, 1, :, 1:])
    assert torch.isinf(right[0, 1, :, 3]).all()


def test_left_right_check_by_hand():
    # left disparities 2 everywhere; the right view agrees except at its column 1
    left = torch.full((1, 1, 1, 6), 2.0)
    right = torch.full((1, 1, 1, 6), 2.0)
    right[..., 1] = 5.0
    passed = left_right_check(left, right)[0, 0, 0].tolist()
    # u = 0, 1 land outside (u - 2 < 0); u = 3 lands on the disagreeing column 1
    assert passed == [False, False, True, False, True, True]
    assert left_right_check(left, right + 1.0)[0, 0, 0, 2]  # within the 1-px tolerance
    assert not left_right_check(left, right + 1.5)[0, 0, 0, 2]


def test_nonoccluded_by_hand():
    # a near object (disparity 3) at u = 4, 5 lands on right columns 1, 2 and hides the
    # background pixels (disparity 1) at u = 2, 3 that land there too
    gt = torch.tensor([[[[1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 1.0, INF]]]])
    seen = nonoccluded(gt)[0, 0, 0].tolist()
    assert seen == [False, True, False, False, True, True, True, False]


def test_measures_by_hand():
    gt = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, INF, float("nan"), 8.0]])
    pred = torch.tensor([[1.5, 4.0, 6.0, 4.0], [5.0, 0.0, 0.0, 10.5]])
    # scored: 6 pixels, errors 0.5, 2, 3, 0, 0, 2.5
    assert end_point_error(pred, gt) == pytest.approx(8.0 / 6)
    assert bad_pixel_rate(pred, gt, threshold=2.0) == pytest.approx(100 * 2 / 6)  # 2.0 not bad
    assert bad_pixel_rate(pred, gt, threshold=0.0) == pytest.approx(100 * 4 / 6)
    valid = torch.tensor([[True, True, False, False], [True, True, True, True]])
    assert end_point_error(pred, gt, valid) == pytest.approx(5.0 / 4)
    assert stereo_metrics(pred, gt, thresholds=(1.0,)) == {
        "epe": pytest.approx(8.0 / 6),
        "bad_1": pytest.approx(100 * 3 / 6),
    }
    assert best_constant_disparity(gt) == 3.0  # median of 1, 2, 3, 4, 5, 8 (the lower middle)
    rejected = pred.clone()
    rejected[0, 2] = float("nan")  # a matcher's rejected pixel is not scored
    assert end_point_error(rejected, gt) == pytest.approx(5.0 / 5)


def test_measures_refuse_what_cannot_be_scored():
    with pytest.raises(ShapeError, match="one resolution"):
        end_point_error(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(DataError, match="no pixel"):
        bad_pixel_rate(torch.zeros(2), torch.full((2,), INF))
    with pytest.raises(ArgumentError):
        bad_pixel_rate(torch.zeros(2), torch.zeros(2), threshold=-1.0)


def test_matcher_refuses_bad_arguments():
    image = torch.rand(1, 1, 8, 8)
    with pytest.raises(ShapeError, match=r"image\[None, None\]"):
        sad_cost_volume(image[0, 0], image[0, 0], 4)
    with pytest.raises(ArgumentError, match="odd"):
        sad_cost_volume(image, image, 4, window=4)
    with pytest.raises(ArgumentError, match="num_disparities"):
        sad_cost_volume(image, image, 9)
    with pytest.raises(ArgumentError, match="census"):
        match_stereo(image, image, 4, cost="ncc")


def test_bins_head_by_hand():
    assert torch.allclose(
        bin_centres(torch.tensor([[0.25, 0.25, 0.5]]), 0.0, 4.0), torch.tensor([[0.5, 1.5, 3.0]])
    )
    head = BinsHead(2, bins=3, min_depth=1.0, max_depth=4.0, adaptive=False)
    assert torch.allclose(head.fixed_centres, torch.tensor([1.0, 2.0, 4.0]))  # even in log depth
    with torch.no_grad():  # logits log 1, log 1, log 2 -> probabilities 1/4, 1/4, 1/2
        head.logits.weight.zero_()
        head.logits.bias.copy_(torch.log(torch.tensor([1.0, 1.0, 2.0])))
    depth = head(torch.randn(2, 2, 3, 5))
    assert depth.shape == (2, 1, 3, 5)
    assert torch.allclose(depth, torch.full_like(depth, 0.25 * 1 + 0.25 * 2 + 0.5 * 4))
    adaptive = BinsHead(4, bins=8, min_depth=0.5, max_depth=10.0)
    features = torch.randn(3, 4, 5, 6)
    centres = adaptive.centres(features)
    assert centres.shape == (3, 8) and (centres.diff(dim=1) > 0).all()
    out = adaptive(features)
    assert out.shape == (3, 1, 5, 6) and (out >= 0.5).all() and (out <= 10.0).all()


# ------------------------------------------------------------------ on the real pair
@pytest.fixture(scope="module")
def motorcycle():
    pytest.importorskip("skimage")
    from depthnb.data.middlebury import motorcycle_pair

    pair = motorcycle_pair()

    def grey(image):
        return torch.from_numpy(image).float().mean(-1)[None, None]

    disparity = torch.from_numpy(pair.disparity)[None, None]
    return grey(pair.left), grey(pair.right), disparity, nonoccluded(disparity)


def test_nonoccluded_pixels_of_motorcycle(motorcycle):
    _, _, disparity, visible = motorcycle
    known = torch.isfinite(disparity)
    assert 0.80 < visible.float().mean() < 0.90 < known.float().mean() < 0.95
    assert not (visible & ~known).any()


def test_sad_matcher_on_motorcycle(motorcycle):
    left, right, disparity, visible = motorcycle
    cost = sad_cost_volume(left, right, 64, window=9)
    assert cost.shape == (1, 64, 500, 741)
    plain = winner_take_all(cost).float()
    scores = stereo_metrics(plain, disparity, visible)
    assert 2.5 < scores["epe"] < 4.5 and 15 < scores["bad_2"] < 30
    constant = torch.full_like(disparity, best_constant_disparity(disparity, visible))
    baseline = stereo_metrics(constant, disparity, visible)
    assert baseline["epe"] > 12 and baseline["bad_2"] > 90


def test_census_matcher_on_motorcycle(motorcycle):
    left, right, disparity, visible = motorcycle
    match = match_stereo(left, right, 64, window=9, cost="census")
    scores = stereo_metrics(match.disparity, disparity, visible)
    assert scores["epe"] < 1.5 and scores["bad_2"] < 8
    kept = match.consistent & visible
    assert kept.sum() > 0.9 * visible.sum()
    assert end_point_error(match.disparity, disparity, kept) < 0.8
    # the check rejects occluded pixels far more often than visible ones
    occluded = torch.isfinite(disparity) & ~visible
    assert (~match.consistent[occluded]).float().mean() > 3 * (~kept[visible]).float().mean()


def test_matched_disparity_gives_the_motorcycles_depths(motorcycle):
    from depthnb.data.middlebury import MOTORCYCLE, disparity_to_depth

    left, right, disparity, visible = motorcycle
    match = match_stereo(left, right, 64, window=9, cost="census")
    matched = disparity_to_depth(match.disparity, MOTORCYCLE)
    truth = disparity_to_depth(disparity, MOTORCYCLE)
    scored = visible & match.consistent
    relative = ((matched - truth).abs() / truth)[scored]
    assert relative.median() < 0.01  # a good match is within a centimetre per metre
    assert 2.0 < truth[scored].min() and truth[scored].max() < 5.1
