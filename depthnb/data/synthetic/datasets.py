"""The synthetic datasets: renders as samples, and the rooms, fg/bg and camera-path datasets."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from depthnb.data.io import Transform, make_sample
from depthnb.data.synthetic.camera import _check_size
from depthnb.data.synthetic.render import render_camera_path, render_room
from depthnb.errors import ArgumentError

Sample = dict[str, torch.Tensor]


def to_sample(render: dict[str, np.ndarray], fgbg: bool = False) -> Sample:
    """Convert one view of :func:`render_room` to the sample of :mod:`depthnb.data.sample`.

    ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres, ``valid`` bool (1,H,W)
    (depth > 0), ``intrinsics`` float32 (4,); with ``fgbg`` also ``mask`` float32 (1,H,W) in {0,1}
    and ``background`` float32 (3,H,W) in [0,1]. The same conversion as every reader's
    (:func:`depthnb.data.io.make_sample`).
    """
    depth = render["depth"]
    return make_sample(
        render["image"],
        depth,
        depth > 0,
        render["intrinsics"],
        mask=render["mask"] if fgbg else None,
        background=render["background"] if fgbg else None,
    )


def _check_length(name: str, length: int) -> int:
    """``length`` as an int >= 1, else ArgumentError."""
    try:
        value = int(length)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ArgumentError(
            f"{name}: length must be an int >= 1 (number of scenes), got {length!r}"
        )
    return value


class SyntheticRooms(Dataset):
    """``length`` procedural rooms as samples (image, depth, valid, intrinsics); item i is
    ``to_sample(render_room(seed, size, index=i))`` passed through ``transform``."""

    _fgbg = False

    def __init__(
        self,
        length: int,
        size: tuple[int, int] = (240, 320),
        seed: int = 0,
        transform: Transform | None = None,
    ):
        self.length = _check_length(type(self).__name__, length)
        self.size = _check_size(size)
        self.seed = int(seed)
        self.transform = transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not -self.length <= index < self.length:
            raise IndexError(
                f"{type(self).__name__} index {index} out of range for length {self.length}"
            )
        sample = to_sample(
            render_room(self.seed, self.size, index=index % self.length), fgbg=self._fgbg
        )
        return self.transform(sample) if self.transform is not None else sample


class SyntheticFgBg(SyntheticRooms):
    """:class:`SyntheticRooms` with ``mask`` float32 (1,H,W) and ``background`` float32 (3,H,W)."""

    _fgbg = True


class SyntheticCameraPath(Dataset):
    """The ``n_frames`` views of :func:`render_camera_path` as samples (with mask and background).

    The whole path is rendered once, on first access, and kept.
    """

    def __init__(
        self,
        n_frames: int,
        size: tuple[int, int] = (240, 320),
        seed: int = 0,
        transform: Transform | None = None,
    ):
        self.n_frames = _check_length(type(self).__name__, n_frames)
        self.size = _check_size(size)
        self.seed = int(seed)
        self.transform = transform
        self._frames: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, index: int) -> Sample:
        if not -self.n_frames <= index < self.n_frames:
            raise IndexError(
                f"SyntheticCameraPath index {index} out of range for {self.n_frames} frames"
            )
        if self._frames is None:
            self._frames = render_camera_path(self.seed, self.n_frames, self.size)
        frame = {key: value[index] for key, value in self._frames.items() if key != "intrinsics"}
        frame["intrinsics"] = self._frames["intrinsics"]
        sample = to_sample(frame, fgbg=True)
        return self.transform(sample) if self.transform is not None else sample
