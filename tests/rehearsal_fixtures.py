"""What the full-mode rehearsal serves: every file of the download registries in its real format.

:func:`write_mirror` fills a folder with the course's datasets (NYU's labeled ``.mat`` and
``splits.mat``, DenseDepth's ``nyu_data.zip`` and ``nyu_test.zip``, DIODE's ``val.tar.gz``) and the
published networks (:data:`depthnb.models.pretrained.PRETRAINED`: Keras ``nyu.h5``, FCRN's ``.npy``,
the Depth Anything V2 snapshot) under the registry's file names, so that ``DEPTHNB_MIRROR`` pointed
at :class:`MirrorServer` serves all of them. Images are synthetic rooms at the datasets' real sizes
(480x640, DIODE's 768x1024), few of them; weights are random. The labeled ``.mat`` has the real
file's 1449 frames and the official split's 795 / 654 indices, but only :data:`NYU_FRAMES` frames
are written (the others are HDF5 fill values and take no space).
"""

from __future__ import annotations

import functools
import http.server
import tarfile
import tempfile
import threading
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
from fixture_writers import (
    write_diode_scan,
    write_eigen_test_zip,
    write_kitti_selection,
    write_nyu_mat,
    write_nyu_zip,
    write_splits_mat,
)
from published_writers import (
    random_densedepth,
    write_depth_anything_snapshot,
    write_fcrn_npy,
    write_keras_h5,
)

from depthnb.data.download import DATASETS
from depthnb.data.synthetic import render_room
from depthnb.models.pretrained import PRETRAINED, VARIANTS

NYU_FRAMES = 12
"""Frames written into the labeled ``.mat``: 8 are the first of the train split, 4 of the test."""
NYU_LABELED = (1449, 795, 654)  # frames, train, test of the real file
ZIP_TRAIN, ZIP_TEST, EIGEN_TEST = 16, 8, 12
DIODE_SCANS = 2  # per domain, at 768x1024
KITTI_FRAMES = 2  # per split, at 352x1216


def rooms(n: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic rooms: images uint8 (n,H,W,3) and depths float32 (n,H,W) metres."""
    scenes = [render_room(seed=seed, size=size, index=i) for i in range(n)]
    return np.stack([s["image"] for s in scenes]), np.stack([s["depth"] for s in scenes])


def kinect_holes(depths: np.ndarray, seed: int) -> np.ndarray:
    """``depths`` with zeros where a Kinect would have no reading: a margin and random blobs."""
    rng = np.random.default_rng(seed)
    raw = depths.copy()
    raw[:, :, :8] = 0
    for frame in raw:
        for _ in range(4):
            top, left = rng.integers(0, frame.shape[0] - 40), rng.integers(0, frame.shape[1] - 40)
            frame[top : top + 30, left : left + 30] = 0
    return raw


def write_nyu_labeled(folder: Path) -> None:
    """``nyu_depth_v2_labeled.mat`` (1449 frames, :data:`NYU_FRAMES` written) and ``splits.mat``
    whose first train and test indices (1-based) point at the written frames."""
    images, depths = rooms(NYU_FRAMES, (480, 640), seed=11)
    write_nyu_mat(
        folder / "nyu_depth_v2_labeled.mat",
        images,
        depths,
        raw_depths=kinect_holes(depths, seed=0),
        total=NYU_LABELED[0],
    )
    frames, n_train, _ = NYU_LABELED
    written_train = list(range(1, 9))
    written_test = list(range(9, NYU_FRAMES + 1))
    rest = list(range(NYU_FRAMES + 1, frames + 1))
    train = written_train + rest[: n_train - len(written_train)]
    test = written_test + rest[n_train - len(written_train) :]
    write_splits_mat(folder / "splits.mat", train, test)


def write_nyu_archives(folder: Path) -> None:
    """DenseDepth's ``nyu_data.zip`` (8-bit train depths, 16-bit mm test depths) and
    ``nyu_test.zip`` (the Eigen test layout)."""
    images, depths = rooms(ZIP_TRAIN + ZIP_TEST, (480, 640), seed=12)
    eight_bit = np.round(np.clip(depths / 10 * 255, 0, 255)).astype(np.uint8)
    millimetres = np.round(depths * 1000).astype(np.uint16)
    train = list(zip(images[:ZIP_TRAIN], eight_bit[:ZIP_TRAIN]))
    test = list(zip(images[ZIP_TRAIN:], millimetres[ZIP_TRAIN:]))
    write_nyu_zip(folder / "nyu_data.zip", train, test)
    images, depths = rooms(EIGEN_TEST, (480, 640), seed=13)
    write_eigen_test_zip(folder / "nyu_test.zip", images, depths)


def write_diode_val(folder: Path) -> None:
    """DIODE's ``val.tar.gz``: ``val/{indoors,outdoor}/scene_*/scan_*/`` at 768x1024."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for domain_index, domain in enumerate(("indoors", "outdoor")):
            images, depths = rooms(DIODE_SCANS, (768, 1024), seed=20 + domain_index)
            for i, (image, depth) in enumerate(zip(images, depths)):
                mask = (depth < 9.0).astype(np.float32)
                write_diode_scan(root, "val", domain, f"{i:05d}_{domain}", image, depth, mask)
        with tarfile.open(folder / "val.tar.gz", "w:gz", compresslevel=1) as tar:
            tar.add(root / "val", arcname="val")


def write_kitti_selection_zip(folder: Path) -> None:
    """KITTI's ``data_depth_selection.zip``: ``depth_selection/`` with its three splits."""
    with tempfile.TemporaryDirectory() as tmp:
        selection = Path(tmp) / "depth_selection"
        write_kitti_selection(Path(tmp), KITTI_FRAMES)
        with zipfile.ZipFile(folder / "data_depth_selection.zip", "w") as archive:
            for path in sorted(selection.rglob("*")):
                archive.write(path, path.relative_to(tmp).as_posix())


def write_published(folder: Path) -> None:
    """The published networks' files under the registry's file names, random weights."""
    names = {f.filename for spec in PRETRAINED.values() for f in spec.files}
    write_keras_h5(random_densedepth(1.0, seed=0), folder / "nyu.h5")
    write_fcrn_npy(folder / "NYU_ResNet-UpProj.npy", seed=0)
    for variant, (repo, _, _) in VARIANTS.items():
        write_depth_anything_snapshot(folder / repo.split("/")[-1], seed=0, variant=variant)
    missing = sorted(name for name in names if not (folder / name).is_file())
    assert not missing, f"the rehearsal lacks published files {missing}"


def write_mirror(folder: Path) -> Path:
    """Every registry file (datasets and published networks) in ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_nyu_labeled(folder)
    write_nyu_archives(folder)
    write_diode_val(folder)
    write_kitti_selection_zip(folder)
    write_published(folder)
    names = {f.filename for spec in (*DATASETS.values(), *PRETRAINED.values()) for f in spec.files}
    missing = sorted(name for name in names if not (folder / name).is_file())
    assert not missing, f"the rehearsal's mirror lacks registry files {missing}"
    return folder


class MirrorServer:
    """A class mirror on 127.0.0.1: serves the files of ``folder`` by path (HTTP/1.0, threads).

    >>> with MirrorServer(folder) as server:   # doctest: +SKIP
    ...     os.environ["DEPTHNB_MIRROR"] = server.url
    """

    def __init__(self, folder: Path) -> None:
        self.served: list[str] = []
        """The path of every file served whole or in part (GET with status 200 or 206), in order."""
        served = self.served

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send_response(self, code: int, message: str | None = None) -> None:
                if self.command == "GET" and code in (200, 206):
                    served.append(urllib.parse.unquote(self.path.split("?")[0]).lstrip("/"))
                super().send_response(code, message)

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> MirrorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def registry_names(paths: list[str]) -> set[str]:
    """The registry entries (:data:`DATASETS`, :data:`PRETRAINED` names) whose files are among the
    served ``paths`` (paths relative to the mirror, as :attr:`MirrorServer.served` lists them)."""
    owners = {
        remote.filename: name
        for name, spec in (*DATASETS.items(), *PRETRAINED.items())
        for remote in spec.files
    }
    unknown = sorted(path for path in paths if path not in owners)
    assert not unknown, f"the mirror served files that no registry entry lists: {unknown}"
    return {owners[path] for path in paths}


def format_rows(rows: list[dict]) -> str:
    """The rehearsal's table: per lesson, seconds, peak memory (the largest process, ru_maxrss;
    the whole process tree, summed PSS) and the load average at its end; the total time."""
    head = f"{'lesson':<28} {'seconds':>8} {'process MB':>11} {'tree MB':>8}  load (1, 5, 15 min)"
    lines = [head]
    for row in rows:
        load = " ".join(f"{x:.1f}" for x in row["load"])
        lines.append(
            f"{row['lesson']:<28} {row['seconds']:>8.0f} {row['peak_process_mb']:>11}"
            f" {row['peak_tree_mb']:>8}  {load}{'  FAILED' if row['error'] else ''}"
        )
    lines.append(f"{'total':<28} {sum(r['seconds'] for r in rows):>8.0f}")
    return "\n".join(lines)
