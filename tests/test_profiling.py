"""The profiling helpers measure what they claim: data wait vs compute, pstats rows, operators."""

import time

import pytest
import torch

from depthnb.errors import ArgumentError, DataError
from depthnb.train.profiling import (
    CProfileReport,
    ProfileRow,
    StepTiming,
    cprofile_top,
    time_steps,
    torch_profile_table,
)


class SlowLoader:
    """Yields ``n`` integers, sleeping ``delay`` seconds before each (a loader decoding JPEGs)."""

    def __init__(self, n: int, delay: float) -> None:
        self.n, self.delay = n, delay

    def __iter__(self):
        for i in range(self.n):
            time.sleep(self.delay)
            yield i


def test_time_steps_splits_data_and_compute():
    seen = []

    def step(batch):
        seen.append(batch)
        time.sleep(0.02)

    timing = time_steps(SlowLoader(4, 0.01), step, steps=5, warmup=1)
    assert isinstance(timing, StepTiming)
    assert len(timing.data_s) == len(timing.compute_s) == 5
    # 6 steps over a 4-batch loader: it restarts, and the batches come in order
    assert seen == [0, 1, 2, 3, 0, 1]
    summary = timing.summary()
    assert summary["steps"] == 5
    # sleeps only ever overrun, by a little on a busy machine
    assert 9.5 <= summary["data_ms"] < 40
    assert 19.5 <= summary["compute_ms"] < 60
    # the split accounts for the whole wall-clock time
    assert summary["data_ms"] + summary["compute_ms"] == pytest.approx(
        summary["total_ms"], rel=0.05
    )
    assert 0.15 < summary["data_fraction"] < 0.6


def test_time_steps_rejects_bad_arguments():
    with pytest.raises(ArgumentError, match="steps"):
        time_steps([1], lambda b: None, steps=0)
    with pytest.raises(DataError, match="empty loader"):
        time_steps([], lambda b: None, steps=1)


def _busy_function():
    total = 0
    for i in range(200_000):
        total += i * i
    return total


def test_cprofile_top_finds_the_slow_function():
    report = cprofile_top(lambda: [_busy_function() for _ in range(3)], top=5)
    assert isinstance(report, CProfileReport)
    assert 1 <= len(report.rows) <= 5
    assert all(isinstance(row, ProfileRow) for row in report.rows)
    top = report.rows[0]
    assert "_busy_function" in top.function and top.ncalls == 3
    assert [r.tottime_s for r in report.rows] == sorted(
        (r.tottime_s for r in report.rows), reverse=True
    )
    assert top.tottime_s <= report.total_s
    assert "tottime" in report.text and "_busy_function" in report.text
    with pytest.raises(ArgumentError, match="sorts by"):
        cprofile_top(_busy_function, sort="wall")


def test_torch_profile_table_names_the_operators():
    a = torch.randn(128, 128)

    def work():
        for _ in range(5):
            torch.mm(a, a).relu_()

    report = torch_profile_table(work, row_limit=5)
    assert "Self CPU" in report.table
    names = [row["name"] for row in report.rows]
    assert "aten::mm" in names
    mm = next(row for row in report.rows if row["name"] == "aten::mm")
    assert mm["calls"] == 5 and mm["self_cpu_ms"] > 0
    assert [r["self_cpu_ms"] for r in report.rows] == sorted(
        (r["self_cpu_ms"] for r in report.rows), reverse=True
    )
