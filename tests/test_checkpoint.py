"""Checkpoints: exact resume, atomic writes, weights_only loading, clear errors for bad files."""

import os

import pytest
import torch

from depthnb import CheckpointError
from depthnb import checkpoint as checkpoint_module
from depthnb.data import SyntheticRooms
from depthnb.models import build_model
from depthnb.predict import load_checkpoint
from depthnb.train import InMemoryDataset, Trainer

SIZE = (32, 48)
FILTERS = (2, 4, 8, 8, 8)


@pytest.fixture(scope="module")
def rooms() -> InMemoryDataset:
    return InMemoryDataset(SyntheticRooms(8, size=SIZE, seed=0))


def make_trainer(rooms, out_dir, model_seed: int = 0) -> Trainer:
    torch.manual_seed(model_seed)
    model = build_model("unet", filters=FILTERS)
    return Trainer(
        model,
        rooms,
        rooms,
        epochs=3,
        batch_size=4,
        lr=1e-2,
        schedule="onecycle",
        warmup=0.3,
        augment=True,
        jitter=0.2,
        loss="l1",
        progress=False,
        out_dir=str(out_dir),
    )


def test_resume_ends_with_the_same_weights(rooms, tmp_path):
    straight = make_trainer(rooms, tmp_path / "straight")
    straight.fit()
    interrupted = make_trainer(rooms, tmp_path / "interrupted")
    interrupted.fit(until_epoch=1)
    torch.manual_seed(1234)  # a fresh process would not share the first run's random state
    resumed = make_trainer(rooms, tmp_path / "interrupted", model_seed=99)
    resumed.resume(tmp_path / "interrupted" / "last.pt")
    assert resumed.epoch == 1 and resumed.step == 2 and len(resumed.history) == 1
    resumed.fit()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [r["train_loss"] for r in straight.history] == [r["train_loss"] for r in resumed.history]
    assert straight.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]


def test_checkpoint_is_a_plain_weights_only_dict(rooms, tmp_path):
    trainer = make_trainer(rooms, tmp_path)
    trainer.fit(until_epoch=1)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["format"] == "depthnb-checkpoint" and saved["version"] == 1
    assert saved["model_name"] == "unet" and list(saved["model_config"]["filters"]) == list(FILTERS)
    assert saved["encoding"] == {"name": "log", "min_depth": 1e-3}
    for key in ("optimizer", "scheduler", "scaler", "rng", "history", "metrics"):
        assert key in saved
    assert torch.is_tensor(saved["rng"]["numpy"]["keys"]) and saved["epoch"] == 1
    assert (tmp_path / "best.pt").is_file()
    model = load_checkpoint(tmp_path / "best.pt")
    assert not model.training and model.input_size == SIZE
    image = rooms[0]["image"][None]
    trainer.model.eval()
    torch.testing.assert_close(model(image), trainer.model(image))


def test_a_crash_while_saving_keeps_the_previous_checkpoint(rooms, tmp_path, monkeypatch):
    trainer = make_trainer(rooms, tmp_path)
    trainer.fit(until_epoch=1)
    before = (tmp_path / "last.pt").read_bytes()

    def crash(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(until_epoch=2)
    assert (tmp_path / "last.pt").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "last.pt"]  # no temporary file left behind
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "last.pt").input_size == SIZE


def test_bad_files_raise_checkpoint_error(rooms, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a depthnb checkpoint"):
        load_checkpoint(foreign)
    trainer = make_trainer(rooms, tmp_path / "run")
    good = trainer.save_checkpoint(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(truncated)
    checkpoint = torch.load(good, weights_only=True)
    for version in (checkpoint["version"] + 1, "2"):
        future = tmp_path / "future.pt"
        torch.save({**checkpoint, "version": version}, future)
        with pytest.raises(CheckpointError, match="upgrade depthnb"):
            load_checkpoint(future)
    other = Trainer(build_model("unet", filters=(2, 4, 8, 8, 16)), rooms, progress=False, loss="l1")
    with pytest.raises(CheckpointError, match="build the same model"):
        other.resume(good)


@pytest.mark.parametrize("key", ["rng", "scheduler", "history", "optimizer", "scaler"])
def test_resume_without_training_state_names_what_is_missing(rooms, tmp_path, key):
    """Resuming needs the whole training state (an exact resume replays the schedule and the
    random draws): a checkpoint without one entry is refused naming it, before the Trainer is
    touched; loading it for inference needs none of it."""
    trainer = make_trainer(rooms, tmp_path / "run")
    trainer.fit(until_epoch=1)
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    del checkpoint[key]
    path = checkpoint_module.save_checkpoint(checkpoint, tmp_path / "partial.pt")
    fresh = make_trainer(rooms, tmp_path / "fresh", model_seed=5)
    before = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    with pytest.raises(CheckpointError, match=rf"partial\.pt lacks the training state \['{key}'\]"):
        fresh.resume(path)
    after = fresh.model.state_dict()
    assert fresh.epoch == 0 and all(torch.equal(before[k], v) for k, v in after.items())
    assert load_checkpoint(path).input_size == SIZE


@pytest.mark.parametrize(
    ("key", "value"), [("rng", {"python": [3]}), ("history", "x"), ("scheduler", [1])]
)
def test_resume_with_damaged_training_state_is_refused(rooms, tmp_path, key, value):
    trainer = make_trainer(rooms, tmp_path / "run")
    trainer.fit(until_epoch=1)
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    checkpoint[key] = value
    path = checkpoint_module.save_checkpoint(checkpoint, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match=r"damaged\.pt"):
        make_trainer(rooms, tmp_path / "fresh").resume(path)
