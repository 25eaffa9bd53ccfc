"""``python -m depthnb download NAME|--list``: the course's datasets and published networks, with
their sizes and licences."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from depthnb.errors import ConfigError

if TYPE_CHECKING:
    from depthnb.hub.sources import RemoteFile


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``download`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser(
        "download", help="download a dataset (nyu-labeled, nyu-zip, nyu-eigen-test, diode-val)"
    )
    parser.add_argument("name", nargs="?", help="dataset name, see depthnb.data.DATASETS")
    parser.add_argument(
        "--list",
        action="store_true",
        help="list every registry file (datasets and published weights), sizes and sources",
    )
    parser.add_argument(
        "--root", help="data folder (default: the repository's data/ or $DEPTHNB_DATA)"
    )
    parser.set_defaults(handler=cmd_download)
    return parser


def cmd_download(args: argparse.Namespace) -> int:
    """Download a dataset with :func:`depthnb.data.download_dataset` and print where it is, or
    with ``--list`` print every registry file (datasets and published weights), its size and
    sources."""
    from depthnb.data.download import download_dataset

    if args.list:
        print(registry_listing())
        return 0
    if not args.name:
        raise ConfigError("download: name a dataset, or pass --list to see them all")
    print(download_dataset(args.name, args.root))
    return 0


def _files_listing(files: Sequence[RemoteFile]) -> list[str]:
    """A registry entry's total size, then each file with its size and sources, one a line."""
    from depthnb.hub.sources import describe_size

    lines = []
    for remote in files:
        lines.append(f"    {remote.filename}  {describe_size(remote)}")
        lines += [f"      {url}" for url in remote.sources()]
        lines += [f"      (in a browser) {page}" for page in remote.pages]
    return lines


def _total(files: Sequence[RemoteFile]) -> str:
    from depthnb.hub.sources import RemoteFile, describe_size

    exact = all(f.size is not None for f in files)
    total = sum(f.expected_bytes or 0 for f in files)
    return describe_size(RemoteFile("", "", size=total if exact else None, approx_size=total))


def registry_licences() -> list[tuple[str, str, str]]:
    """(name, size, licence) of every dataset and published network in the registries, datasets
    first: the table ``download --list`` opens with and the course guide shows."""
    from depthnb.data.download import DATASETS
    from depthnb.models.pretrained import PRETRAINED

    rows = [(spec.name, _total(spec.files), spec.licence) for spec in DATASETS.values()]
    for network in PRETRAINED.values():
        size = _total(network.files) if network.files else "shipped"
        rows.append((network.name, size, network.licence))
    return rows


def _licence_table() -> list[str]:
    rows = [("name", "size", "licence"), *registry_licences()]
    name_width = max(len(row[0]) for row in rows)
    size_width = max(len(row[1]) for row in rows)
    return [f"  {n:<{name_width}}  {s:>{size_width}}  {licence}" for n, s, licence in rows]


def registry_listing() -> str:
    """What ``python -m depthnb download --list`` prints: a table of every dataset and published
    network (name, size, licence), then each one's files, their sizes, and the sources tried in
    order (``$DEPTHNB_MIRROR`` first)."""
    from depthnb.data.download import DATASETS
    from depthnb.hub.sources import MIRROR_ENV
    from depthnb.models.pretrained import PRETRAINED

    lines = ["What the course can fetch, and the terms it comes under:", *_licence_table(), ""]
    lines += [f"Datasets (python -m depthnb download NAME; sources tried in order, {MIRROR_ENV} "]
    lines[-1] += "first when set):"
    for spec in DATASETS.values():
        lines.append(f"  {spec.name}  {_total(spec.files)}  {spec.description}")
        lines += _files_listing(spec.files)
    lines.append("Published weights (depthnb.models.load_pretrained(NAME) downloads them once):")
    for network in PRETRAINED.values():
        size = _total(network.files) if network.files else "shipped with the package"
        lines.append(f"  {network.name}  {size}  {network.description}")
        lines += _files_listing(network.files)
    return "\n".join(lines)
