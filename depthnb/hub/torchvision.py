"""torchvision's ImageNet weights, from torch.hub's cache or downloaded after checking that the
server answers, so that an offline machine gets an error at once instead of a hang."""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.error import URLError
from urllib.parse import urlparse

import torch

from depthnb.errors import DownloadError
from depthnb.hub.transfer import reachable


def load_torchvision_weights(weights: Any, timeout: float = 10.0) -> dict[str, torch.Tensor]:
    """The state dict of a torchvision weights enum (e.g. ``ResNet50_Weights.IMAGENET1K_V1``).

    Uses torch.hub's cache (``$TORCH_HOME/hub/checkpoints``) when the file is there; otherwise
    checks that the server answers within ``timeout`` seconds before downloading, so that an
    offline machine gets a DownloadError at once instead of a hang.
    """
    url = weights.url
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))
    advice = (
        f"run once with network access (the file is cached in {os.path.dirname(cached)}), copy the "
        "file there by hand, or build the model with pretrained=False"
    )
    if not os.path.isfile(cached):
        reason = reachable(url, timeout)
        if reason is not None:
            raise DownloadError(f"cannot download ImageNet weights from {url} ({reason}): {advice}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(max(timeout, 30.0))
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (URLError, OSError, RuntimeError) as error:
        raise DownloadError(
            f"downloading ImageNet weights from {url} failed "
            f"({type(error).__name__}: {error}): {advice}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
