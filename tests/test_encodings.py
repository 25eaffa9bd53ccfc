"""Depth encodings: values of DenseDepth's DepthNorm, round trips, dict round trips, errors."""

import doctest

import pytest
import torch

import depthnb.encodings
from depthnb.encodings import encoding_from_dict, get_encoding
from depthnb.errors import ArgumentError, DepthnbError


def test_doctests() -> None:
    assert doctest.testmod(depthnb.encodings).failed == 0


@pytest.mark.parametrize("name", ["metres", "inverse", "log"])
def test_round_trip_in_range(name: str) -> None:
    depth = torch.linspace(0.1, 10.0, 1000).reshape(1, 1, 10, 100)
    enc = get_encoding(name)
    assert enc.name == name
    back = enc.decode(enc.encode(depth))
    assert back.shape == depth.shape and back.dtype == torch.float32
    torch.testing.assert_close(back, depth, rtol=1e-6, atol=1e-6)


def test_inverse_matches_densedepth_depthnorm() -> None:
    # DenseDepth: 1000 / clip(depth_cm, 10, 1000); targets in [1, 100].
    depth_m = torch.tensor([0.0, 0.05, 0.1, 0.5, 2.0, 10.0, 25.0])
    expected = 1000.0 / (depth_m * 100).clamp(10, 1000)
    enc = get_encoding("inverse")
    torch.testing.assert_close(enc.encode(depth_m), expected)
    assert enc.encode(depth_m).min() == 1.0 and enc.encode(depth_m).max() == 100.0
    assert enc.data_range == 100.0
    # Out-of-range depths come back clipped; out-of-range predictions decode inside 0.1..10 m.
    torch.testing.assert_close(enc.decode(enc.encode(depth_m)), depth_m.clamp(0.1, 10.0))
    decoded = enc.decode(torch.tensor([-3.0, 0.0, 0.5, 250.0]))
    assert torch.all((decoded >= 0.1) & (decoded <= 10.0))


def test_inverse_custom_range() -> None:
    enc = get_encoding("inverse", min_depth=0.5, max_depth=80.0)
    torch.testing.assert_close(
        enc.encode(torch.tensor([0.5, 8.0, 80.0])), torch.tensor([160.0, 10.0, 1.0])
    )
    assert enc.data_range == 160.0


def test_log_is_natural_log_and_finite_at_zero() -> None:
    enc = get_encoding("log")
    torch.testing.assert_close(enc.encode(torch.tensor([1.0, torch.e])), torch.tensor([0.0, 1.0]))
    assert torch.isfinite(enc.encode(torch.zeros(3))).all()


def test_decode_half_precision_gives_float32() -> None:
    for name in ["metres", "inverse", "log"]:
        enc = get_encoding(name)
        out = enc.decode(enc.encode(torch.tensor([1.0, 2.0])).half())
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, torch.tensor([1.0, 2.0]), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["metres", "inverse", "log"])
def test_dict_round_trip(name: str) -> None:
    enc = get_encoding(name)
    d = enc.to_dict()
    assert d["name"] == name
    assert encoding_from_dict(dict(d)) == enc
    assert get_encoding(enc) is enc


def test_errors_say_what_to_do() -> None:
    with pytest.raises(ArgumentError, match="choose one of"):
        get_encoding("disparity")
    with pytest.raises(ArgumentError, match="choose one of"):
        get_encoding(["inverse"])
    with pytest.raises(DepthnbError, match="min_depth"):
        get_encoding("inverse", min_depth=5.0, max_depth=1.0)
    for name in ("metres", "log"):
        with pytest.raises(ArgumentError, match="min_depth > 0"):
            get_encoding(name, min_depth=0.0)
    with pytest.raises(ArgumentError, match="bad settings"):
        get_encoding("log", max_depth=3.0)
    with pytest.raises(ArgumentError, match="'name'"):
        encoding_from_dict({"min_depth": 0.1})
