"""Lesson 01's exercise, DenseDepth's depth PNGs read as metres, and its question: what 8-bit
storage loses."""

from __future__ import annotations

import numpy as np
import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Number, Question
from depthnb.data.nyu import depth_png_to_metres


def _png_to_metres(values: np.ndarray) -> np.ndarray:
    """(H,W) uint8 (x/255*10 m) or uint16 (millimetres) PNG values -> (H,W) float32 metres."""
    return depth_png_to_metres(values, 8 if values.dtype == np.uint8 else 16)


def _png_cases(generator: torch.Generator) -> list[Case]:
    eight_bit = torch.randint(1, 256, (48, 64), generator=generator).numpy().astype(np.uint8)
    millimetres = torch.randint(400, 10_000, (7, 5), generator=generator).numpy()
    holes = eight_bit.copy()
    holes[::3, ::4] = 0  # no reading: 0 stays 0 m (unknown) under either rule
    return [
        Case("an 8-bit training PNG (48x64)", (eight_bit,)),
        Case("a 16-bit test PNG in millimetres, odd size 7x5", (millimetres.astype(np.uint16),)),
        Case("an 8-bit PNG with holes (zeros)", (holes,)),
    ]


def _always_8_bit_rule(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32) / 255 * 10


def _always_millimetres(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32) / 1000


def _integer_overflow(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return (values * 10 / 255).astype(np.float32)  # values * 10 wraps around in uint8
    return values.astype(np.float32) / 1000


EXERCISES = (
    Exercise(
        key="01.1",
        title="DenseDepth's depth PNGs in metres",
        difficulty="quick",
        reference=_png_to_metres,
        hides=("depthnb.data.nyu.depth_png_to_metres",),
        cases=_png_cases,
        mistakes=(
            Mistake(
                "8-bit rule for both",
                _always_8_bit_rule,
                "the 16-bit PNG came out far too deep: 16-bit PNGs hold millimetres "
                "(value / 1000 m); only 8-bit ones use value / 255 * 10. Choose the rule by the "
                "array's dtype (np.uint8 or np.uint16).",
            ),
            Mistake(
                "millimetres for both",
                _always_millimetres,
                "the 8-bit PNG came out about 25x too shallow: 8-bit PNGs hold value / 255 * 10 m "
                "(a step of 3.9 cm), not millimetres. Choose the rule by the array's dtype.",
            ),
            Mistake(
                "integer overflow",
                _integer_overflow,
                "some 8-bit depths are wrong, the far ones: values * 10 is computed in uint8 and "
                "wraps around above 255. Convert to float first: values.astype(np.float32).",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "01.P1",
        "What is the largest error, in centimetres, of storing depths between 0 and 10 m in an "
        "8-bit PNG as z = 10 q / 255 m (q from 0 to 255, rounded to the nearest whole number)?",
        Number(1.96, "cm", abs_tol=0.2),
        "Neighbouring values are 10 m / 255 = 3.92 cm apart, and rounding to the nearest one is "
        "off by at most half a step: 1.96 cm. The step itself, 3.92 cm, is twice the error. "
        "16-bit millimetres are off by at most 0.5 mm.",
    ),
)
