"""The decode-once cache: same samples back (at the cache size), atomic, reused, pickles cheaply."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import depthnb
from depthnb.data import transforms as T
from depthnb.data.cache import DepthCache, build_cache
from depthnb.data.sample import to_float
from depthnb.errors import DataError


class TinyScenes(Dataset):
    """Hand-built samples at 12x16: a ramp image, depth 1..9 m with a hole, optional fg/bg keys."""

    def __init__(self, length: int = 5, fgbg: bool = False, height: int = 12, width: int = 16):
        self.length, self.fgbg, self.height, self.width = length, fgbg, height, width
        self.calls = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        self.calls += 1
        h, w = self.height, self.width
        g = torch.Generator().manual_seed(index)
        image = torch.rand(3, h, w, generator=g)
        depth = 1 + 8 * torch.rand(1, h, w, generator=g)
        valid = torch.ones(1, h, w, dtype=torch.bool)
        valid[:, : h // 3, : w // 4] = False
        sample = {
            "image": image,
            "depth": torch.where(valid, depth, 0.0),
            "valid": valid,
            "intrinsics": torch.tensor([20.0 + index, 21.0, (w - 1) / 2, (h - 1) / 2]),
        }
        if self.fgbg:
            sample["mask"] = (torch.rand(1, h, w, generator=g) > 0.5).float()
            sample["background"] = torch.rand(3, h, w, generator=g)
        return sample


def test_round_trip_at_the_source_size(tmp_path):
    dataset = TinyScenes(fgbg=True)
    cache = build_cache(dataset, tmp_path / "tiny", size=(12, 16), progress=False)
    assert len(cache) == 5 and cache.keys == [
        "image",
        "depth",
        "valid",
        "intrinsics",
        "mask",
        "background",
    ]
    for index in range(len(dataset)):
        original, cached = dataset[index], cache[index]
        T.check_sample(cached)
        assert cached["image"].dtype == torch.float32 and cached["depth"].dtype == torch.float32
        assert (cached["image"] - original["image"]).abs().max() <= 0.5 / 255 + 1e-6
        assert (cached["background"] - original["background"]).abs().max() <= 0.5 / 255 + 1e-6
        assert torch.equal(cached["valid"], original["valid"])
        assert torch.equal(cached["mask"], original["mask"])
        assert torch.equal(cached["intrinsics"], original["intrinsics"])
        relative = (cached["depth"] - original["depth"]).abs() / original["depth"].clamp_min(1e-6)
        assert relative[original["valid"]].max() < 1e-3  # float16
        assert (cached["depth"][~cached["valid"]] == 0).all()
    files = {p.name: np.load(p, mmap_mode="r") for p in (tmp_path / "tiny").glob("*.npy")}
    assert files["image.npy"].dtype == np.uint8 and files["image.npy"].shape == (5, 12, 16, 3)
    assert files["depth.npy"].dtype == np.float16 and files["depth.npy"].shape == (5, 12, 16)
    assert files["intrinsics.npy"].dtype == np.float32


def test_resizes_to_the_training_size_with_intrinsics(tmp_path):
    dataset = TinyScenes(length=3, height=24, width=32)
    cache = build_cache(dataset, tmp_path / "half", size=(12, 16), progress=False)
    for index in range(3):
        expected = T.resize(dataset[index], (12, 16))
        cached = cache[index]
        assert cached["depth"].shape == (1, 12, 16)
        assert torch.allclose(cached["intrinsics"], expected["intrinsics"])
        assert torch.equal(cached["valid"], expected["valid"])
        assert torch.allclose(cached["depth"], expected["depth"], rtol=1e-3)
        # nearest depth: every cached value is (the float16 of) a value of the source
        source_values = dataset[index]["depth"].half().float().unique()
        assert torch.isin(
            cached["depth"].unique(), torch.cat([source_values, torch.zeros(1)])
        ).all()


def test_existing_cache_is_reused_and_mismatches_raise(tmp_path):
    dataset = TinyScenes()
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False)
    calls = dataset.calls
    again = build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False)
    assert dataset.calls == calls and len(again) == 5
    with pytest.raises(DataError, match="overwrite=True"):
        build_cache(dataset, tmp_path / "c", size=(6, 8), progress=False)
    with pytest.raises(DataError, match="overwrite=True"):
        build_cache(TinyScenes(length=4), tmp_path / "c", size=(12, 16), progress=False)
    rebuilt = build_cache(dataset, tmp_path / "c", size=(6, 8), overwrite=True, progress=False)
    assert rebuilt.size == (6, 8) and rebuilt[0]["image"].shape == (3, 6, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary folders left


def test_damaged_cache_is_detected_and_rebuilt(tmp_path):
    dataset = TinyScenes()
    path = tmp_path / "c"
    build_cache(dataset, path, size=(12, 16), progress=False)
    np.save(path / "depth.npy", np.zeros((2, 12, 16), np.float16))  # truncated
    with pytest.raises(DataError, match="depth.npy"):
        DepthCache(path)
    cache = build_cache(dataset, path, size=(12, 16), progress=False)
    assert len(cache) == 5 and cache[4]["depth"].shape == (1, 12, 16)
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "keys": ["image", "depth"]}))
    with pytest.raises(DataError, match="does not list"):
        DepthCache(path)
    (path / "meta.json").unlink()  # a folder that never completed
    with pytest.raises(DataError, match="meta.json"):
        DepthCache(path)
    meta_missing_rebuilt = build_cache(dataset, path, size=(12, 16), progress=False)
    assert json.loads((path / "meta.json").read_text())["length"] == len(meta_missing_rebuilt)


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    class Broken(TinyScenes):
        def __getitem__(self, index):
            sample = super().__getitem__(index)
            if index == 3:
                del sample["valid"]
            return sample

    with pytest.raises(DataError, match="item 3"):
        build_cache(Broken(), tmp_path / "broken", size=(12, 16), progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="empty"):
        build_cache(TinyScenes(length=0), tmp_path / "empty", progress=False)
    with pytest.raises(DataError, match="both >= 1"):
        build_cache(TinyScenes(), tmp_path / "flat", size=(0, 16), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_pickles_cheaply_and_feeds_dataloader_workers_with_transforms(tmp_path):
    cache = build_cache(
        TinyScenes(length=8), tmp_path / "c", size=(12, 16), workers=2, progress=False
    )
    cache[0]  # opens the memory maps here
    assert len(pickle.dumps(cache)) < 2000
    cache.transform = T.Compose([T.RandomHorizontalFlip(), T.RandomChannelPermutation()])
    loader = DataLoader(cache, batch_size=4, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2
    assert batches[0]["image"].shape == (4, 3, 12, 16) and batches[0]["valid"].dtype == torch.bool
    assert batches[1]["intrinsics"].shape == (4, 4)


def test_raw_samples_travel_as_uint8_and_convert_to_the_float_sample(tmp_path):
    build_cache(TinyScenes(fgbg=True), tmp_path / "tiny", size=(12, 16), progress=False)
    floats, raw = DepthCache(tmp_path / "tiny"), DepthCache(tmp_path / "tiny", raw=True)
    item = raw[2]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 12, 16)
    assert item["background"].dtype == torch.uint8 and item["depth"].dtype == torch.float16
    batch = to_float(torch.utils.data.default_collate([raw[0], raw[2]]), device="cpu")
    for key, value in torch.utils.data.default_collate([floats[0], floats[2]]).items():
        assert batch[key].dtype == value.dtype and torch.equal(batch[key], value), key
    assert to_float(batch)["image"] is batch["image"]  # converting twice changes nothing
    with pytest.raises(DataError, match="BatchAugment"):
        DepthCache(tmp_path / "tiny", transform=T.RandomHorizontalFlip(), raw=True)


def test_a_cache_that_cannot_fit_is_refused_before_writing(tmp_path, monkeypatch):
    from collections import namedtuple

    from depthnb.data.cache import cache_bytes
    from depthnb.utils import files

    assert round(cache_bytes(50_688, (480, 640)) / 1e9) == 93  # NYU's zip at full size
    assert round(cache_bytes(50_688, (240, 320)) / 1e9) == 23  # what fits a Colab disk
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: usage(0, 0, 10_000_000))
    rooms = depthnb.data.SyntheticRooms(4, size=(32, 48), seed=0)
    with pytest.raises(DataError, match=r"needs about 1\.1 GB of disk, and only 0\.0 GB is free"):
        build_cache(rooms, tmp_path / "sub" / "cache", size=(32, 48), progress=False)
    assert not (tmp_path / "sub").exists() or not any((tmp_path / "sub").iterdir())


def test_written_files_and_folders_get_the_umasks_mode(tmp_path):
    """The atomic writer (caches, checkpoints, ONNX exports) gives 0o666 / 0o777 less the umask,
    not tempfile's 0600, and reads the umask without changing it."""
    import os
    import stat

    from depthnb.utils.files import (
        atomic_path,
        atomic_write,
        atomic_write_bytes,
        current_umask,
    )

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027 and current_umask() == 0o027
        atomic_write(tmp_path / "a.bin", lambda file: file.write(b"a"))
        atomic_write_bytes(tmp_path / "model.onnx", b"onnx bytes")
        with atomic_path(tmp_path / "made.bin") as temporary:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(descriptor)
        cache = build_cache(TinyScenes(length=2), tmp_path / "c", size=(12, 16), progress=False)
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.bin") == mode(tmp_path / "model.onnx") == 0o640
    assert mode(tmp_path / "made.bin") == 0o640
    assert mode(cache.path) == 0o750 and mode(cache.path / "image.npy") == 0o640
    assert (tmp_path / "model.onnx").read_bytes() == b"onnx bytes"


def _nyu_zip(path, brightness: int):
    """DenseDepth's nyu_data.zip layout with two train and one test pair of 12x16, all pixels of
    the given brightness (so that the archive's images can be told apart)."""
    from fixture_writers import write_nyu_zip

    rgb = np.full((12, 16, 3), brightness, np.uint8)
    pair = (rgb, np.full((12, 16), 40, np.uint8))
    test = (rgb, np.full((12, 16), 2000, np.uint16))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_nyu_zip(path, train=[pair, pair], test=[test])


def test_a_changed_data_root_or_source_rebuilds_the_cache(tmp_path, monkeypatch, capsys):
    """`--cache` with `--data-root` A, then B (same name, size and limit, so the same cache
    folder): the second run is rebuilt from B, with a message, instead of reusing A's images;
    the same for A's archive replaced in place, and for other settings."""
    from depthnb.cli.train import MAIN_JOB, build_datasets

    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    first, second = (
        _nyu_zip(tmp_path / "a" / "nyu_data.zip", 40),
        _nyu_zip(tmp_path / "b" / "z", 200),
    )
    settings = {**MAIN_JOB, "data": "nyu-zip", "size": [12, 16], "cache": True, "workers": 0}

    def brightness(root) -> float:
        train, _ = build_datasets({**settings, "data_root": str(root)})
        return float(train[1]["image"].float().mean())

    assert brightness(first) == 40
    assert "caching nyu-zip-train-12x16" in capsys.readouterr().err  # the progress bar
    assert brightness(first) == 40 and capsys.readouterr().err == ""  # reused, silently
    assert brightness(second) == 200
    message = capsys.readouterr().err
    assert "nyu-zip-train-12x16: rebuilding the cache, since it was made from" in message
    assert str(first.resolve()) in message and str(second.resolve()) in message
    _nyu_zip(second, 90)  # replaced in place
    assert brightness(second) == 90
    assert f"{second.resolve()} changed since" in capsys.readouterr().err
    meta = json.loads(
        (tmp_path / "data" / "cache" / "nyu-zip-train-12x16" / "meta.json").read_text()
    )
    assert meta["made_from"]["settings"]["data_root"] == str(second)
    (entry,) = meta["made_from"]["files"]
    assert entry["path"] == str(second.resolve()) and entry["size"] == second.stat().st_size
    assert entry["mtime_ns"] == second.stat().st_mtime_ns


def test_a_cache_of_a_folder_notices_a_changed_file_and_other_settings(tmp_path, capsys):
    class FolderScenes(TinyScenes):
        def __init__(self, root):
            super().__init__(length=2)
            self.root = root

    root = tmp_path / "scenes"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.bin").write_bytes(b"1234")
    dataset = torch.utils.data.Subset(FolderScenes(root), [0, 1])
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False, settings={"k": 1})
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False, settings={"k": 1})
    assert capsys.readouterr().err == ""
    (root / "sub" / "b.bin").write_bytes(b"new")
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False, settings={"k": 1})
    assert "scenes changed since (files, bytes" in capsys.readouterr().err
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False, settings={"k": 2})
    assert "made with other settings (k differ)" in capsys.readouterr().err
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    (entry,) = meta["made_from"]["files"]
    assert (entry["files"], entry["bytes"]) == (2, 7)
    del meta["made_from"]  # a cache written before caches recorded their sources
    (tmp_path / "c" / "meta.json").write_text(json.dumps(meta))
    build_cache(dataset, tmp_path / "c", size=(12, 16), progress=False, settings={"k": 2})
    assert "it records no source" in capsys.readouterr().err
