"""Fetching files: the places a file can be had (sources and mirrors), resumable checked
transfers, archive extraction that stays inside its folder, Google Drive links, the Hugging Face
Hub and torchvision's ImageNet weights. Below :mod:`depthnb.data` and :mod:`depthnb.models`,
which name the files; nothing here knows what a file holds.

=======================  =========================================================================
module                   what it holds
=======================  =========================================================================
``hub.sources``          :class:`~depthnb.hub.sources.RemoteFile` and trying each of its sources
``hub.transfer``         :func:`~depthnb.hub.transfer.download_url`: resumable, retried, verified
``hub.extract``          :func:`~depthnb.hub.extract.safe_extract`: zip and tar, inside the target
``hub.gdrive``           a Google Drive share link to the URL that serves its bytes
``hub.huggingface``      a file of a Hugging Face Hub repository at a pinned commit
``hub.torchvision``      torchvision's ImageNet weights, without hanging offline
=======================  =========================================================================
"""
