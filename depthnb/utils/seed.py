"""Seeding and random states, one home: the process's generators seeded from one number when a
caller asks (:func:`seed_everything`), seeds derived from (seed, keys) (:func:`derive_seed`), a
run's own random states kept apart from the process's (:class:`RunRandomness`), and the switches
of deterministic algorithms set for a block only (:func:`algorithm_switches`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from depthnb.errors import CheckpointError

#: cuBLAS's workspace setting that makes its matrix products repeatable (read by CUDA).
CUBLAS_WORKSPACE = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (all devices): a change to
    the whole process, for a caller who asks for it (a lesson's setup); the Trainer does not
    call it (it keeps its own states, :class:`RunRandomness`)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def algorithm_switches(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Inside the block: torch's deterministic algorithms on (warning where an operation has
    none) and cuDNN's autotuner off if ``deterministic``; else deterministic algorithms off and
    the autotuner on for a CUDA ``device``. The switches (and ``CUBLAS_WORKSPACE_CONFIG``) are put
    back as they were afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    name, value = CUBLAS_WORKSPACE
    workspace = os.environ.get(name)
    if deterministic and workspace is None:
        os.environ[name] = value
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic and device.type == "cuda"
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
        if workspace is None:
            os.environ.pop(name, None)


class RunRandomness:
    """A run's own states of the generators that code without a ``generator`` argument draws
    from (dropout, a loss's or a task's random draws): Python's ``random``, NumPy's global
    generator, torch's CPU generator and the run's CUDA device's, started from ``seed`` as
    :func:`seed_everything` would start them, without touching the process's.

    :meth:`active` puts them in place for a block and puts the caller's back afterwards, keeping
    how far the run drew; :meth:`to_dict` and :meth:`load_dict` save them into and restore them
    from a checkpoint (weights_only-safe).
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.cuda = device if device.type == "cuda" else None
        cuda = None
        if self.cuda is not None:
            cuda = torch.Generator(device=self.cuda).manual_seed(seed).get_state()
        self.state: tuple[Any, Any, torch.Tensor, torch.Tensor | None] = (
            random.Random(seed).getstate(),
            np.random.RandomState(seed % 2**32).get_state(),
            torch.Generator().manual_seed(seed).get_state(),
            cuda,
        )
        self.is_active = False

    def _capture(self) -> tuple[Any, Any, torch.Tensor, torch.Tensor | None]:
        cuda = None if self.cuda is None else torch.cuda.get_rng_state(self.cuda)
        return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda

    def _install(self, state: tuple[Any, Any, torch.Tensor, torch.Tensor | None]) -> None:
        python, numpy, cpu, cuda = state
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(cpu)
        if self.cuda is not None and cuda is not None:
            torch.cuda.set_rng_state(cuda, self.cuda)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The run's states in place of the process's inside the block (nested: a no-op)."""
        if self.is_active:
            yield
            return
        caller = self._capture()
        self._install(self.state)
        self.is_active = True
        try:
            yield
        finally:
            self.is_active = False
            self.state = self._capture()
            self._install(caller)

    def to_dict(self) -> dict[str, Any]:
        """The run's states (the live ones inside :meth:`active`), weights_only-safe: python,
        numpy, torch (CPU) and cuda (a list: the run's device's state, or empty)."""
        python, numpy, cpu, cuda = self._capture() if self.is_active else self.state
        version, internal, gauss_next = python
        kind, keys, pos, has_gauss, cached = numpy
        return {
            "python": [version, list(internal), gauss_next],
            "numpy": {
                "kind": str(kind),
                "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            },
            "torch": cpu.clone(),
            "cuda": [] if cuda is None else [cuda.clone()],
        }

    def load_dict(self, saved: dict[str, Any], source: str | os.PathLike = "checkpoint") -> None:
        """Continue from states saved by :meth:`to_dict` (the CUDA state when there is one and
        this run is on CUDA).

        Raises:
            CheckpointError: ``saved`` is not what :meth:`to_dict` returns (a damaged file); the
                message names ``source`` (the checkpoint's path).
        """
        try:
            state = _parse(saved, self.cuda)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
            raise CheckpointError(
                f"{source}: its saved random states are damaged ({type(error).__name__}: "
                f"{error}); resume from another checkpoint or start afresh"
            ) from error
        if self.is_active:
            self._install(state)
        else:
            self.state = state


def _parse(
    saved: dict[str, Any], cuda: torch.device | None
) -> tuple[Any, Any, torch.Tensor, torch.Tensor | None]:
    """The states of :meth:`RunRandomness.to_dict`'s dict in the generators' own types, each
    tried on a generator of its kind (a damaged one raises here, not mid-run)."""
    version, internal, gauss_next = saved["python"]
    python = (int(version), tuple(int(v) for v in internal), gauss_next)
    numpy_saved = saved["numpy"]
    numpy = (
        numpy_saved["kind"],
        numpy_saved["keys"].numpy().astype(np.uint32),
        numpy_saved["pos"],
        numpy_saved["has_gauss"],
        numpy_saved["cached_gaussian"],
    )
    random.Random().setstate(python)
    np.random.RandomState().set_state(numpy)
    cpu = saved["torch"].cpu()  # read with map_location: maybe on the GPU
    torch.Generator().set_state(cpu)
    cuda_states = saved.get("cuda") or []
    cuda_state = None
    if cuda is not None and len(cuda_states) == 1:
        cuda_state = cuda_states[0].cpu()
        torch.Generator(device=cuda).set_state(cuda_state)
    return python, numpy, cpu, cuda_state


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed from a run's seed and the place it is used (e.g. ``"sample", epoch, index``).

    A hash (BLAKE2b), so neighbouring keys give unrelated seeds; the same keys always give the
    same seed, in any process and after a resume.
    """
    text = ":".join(str(part) for part in (seed, *keys))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_rngs(seed: int) -> None:
    """Seed torch's CPU generator, NumPy's and Python's global generators (not CUDA's)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """:func:`seed_rngs` inside the block; the previous states are put back afterwards."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = torch.default_generator.get_state()
    seed_rngs(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.default_generator.set_state(torch_state)
