"""Files of Hugging Face Hub repositories at pinned commits: :class:`HubFile`, and fetching one into
the user's own Hugging Face cache with ``huggingface_hub`` (their ``HF_*`` settings and token)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthnb.errors import DownloadError
from depthnb.hub.sources import MIRROR_ENV, RemoteFile
from depthnb.hub.transfer import reachable


@dataclass(frozen=True)
class HubFile(RemoteFile):
    """A file of a Hugging Face Hub repository at a pinned commit.

    ``filename`` is ``<repository folder>/<name>``: its path under a class mirror
    (``$DEPTHNB_MIRROR/<filename>``) and in the data folder when the mirror serves it. From the Hub
    it is fetched by ``huggingface_hub.hf_hub_download(repo, name, revision=revision)`` into the
    user's Hugging Face cache, never from a hand-made URL; ``url`` is where it lives on the Hub at
    that commit, shown in listings and in the by-hand instructions.
    """

    repo: str = ""
    revision: str = ""

    @property
    def name(self) -> str:
        """The file's name in its repository (``config.json``, ``model.safetensors``)."""
        return self.filename.rsplit("/", 1)[-1]

    def sources(self) -> list[str]:
        """``$DEPTHNB_MIRROR/<filename>`` when set, then the Hub (``HF_ENDPOINT`` when set)."""
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        first = [f"{mirror.rstrip('/')}/{self.filename}"] if mirror else []
        try:
            from huggingface_hub import hf_hub_url
        except ImportError:
            return first + [self.url]
        return first + [hf_hub_url(self.repo, self.name, revision=self.revision)]


def hub_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return flag in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE)


def hub_file(remote: HubFile, timeout: float, hub_cache: str | os.PathLike | None) -> Path:
    """``remote`` in the user's Hugging Face cache (``hub_cache`` instead when given): taken from
    there without a request when present, else downloaded by ``hf_hub_download`` at the pinned
    revision after checking within ``timeout`` s that the Hub (``HF_ENDPOINT``) answers.

    Raises:
        DownloadError: offline (``HF_HUB_OFFLINE`` or no answer) and not cached, or the Hub
            refused; the message says where it tried.
    """
    from huggingface_hub import constants, hf_hub_download

    options: dict[str, Any] = {"revision": remote.revision}
    if hub_cache is not None:
        options["cache_dir"] = os.fspath(hub_cache)
    try:
        return Path(hf_hub_download(remote.repo, remote.name, local_files_only=True, **options))
    except OSError:  # LocalEntryNotFoundError: not in the cache yet
        pass
    where = f"{remote.name} of {remote.repo} at revision {remote.revision[:10]}"
    if hub_offline():
        raise DownloadError(f"{where} is not in the Hugging Face cache and HF_HUB_OFFLINE is set")
    reason = reachable(constants.ENDPOINT, timeout)
    if reason is not None:
        raise DownloadError(f"cannot download {where} from {constants.ENDPOINT} ({reason})")
    try:
        path = hf_hub_download(remote.repo, remote.name, etag_timeout=timeout, **options)
    except Exception as error:  # huggingface_hub's and its HTTP client's, whichever version
        raise DownloadError(
            f"downloading {where} from {constants.ENDPOINT} failed "
            f"({type(error).__name__}: {error})"
        ) from error
    return Path(path)


def forget_hub_file(path: Path) -> None:
    """Delete a file of the Hugging Face cache: its snapshot link and the blob it points to (a
    link alone would be rebuilt from the blob without downloading)."""
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
