"""Seeding and random states, one home: every generator seeded from one number
(:func:`seed_everything`), seeds derived from (seed, keys) (:func:`derive_seed`), and the states
of ``random``, NumPy and torch saved into and restored from a checkpoint (:func:`rng_state`,
:func:`set_rng_state`)."""

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


def seed_everything(seed: int, deterministic: bool | None = None) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (all devices).

    ``deterministic=True`` also makes torch use deterministic algorithms (warning where none
    exists) and turns off cuDNN's autotuner; ``False`` lets cuDNN pick the fastest kernels;
    ``None`` (the default) leaves those switches alone.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic is None:
        return
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic and torch.cuda.is_available()


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's (CPU, CUDA) generators, weights_only-safe."""
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss_next],
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any], source: str | os.PathLike = "checkpoint") -> None:
    """Restore the generators saved by :func:`rng_state` (CUDA when the device count matches).

    Raises:
        CheckpointError: ``state`` is not what :func:`rng_state` returns (a damaged file);
            the message names ``source`` (the checkpoint's path).
    """
    try:
        _set_rng_state(state)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
        raise CheckpointError(
            f"{source}: its saved random states are damaged ({type(error).__name__}: {error}); "
            "resume from another checkpoint or start afresh"
        ) from error


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)


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
