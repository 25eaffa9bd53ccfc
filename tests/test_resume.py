"""Exact resume: a run stopped (at an epoch's end or inside one), rebuilt in a fresh Trainer and
resumed ends bit for bit where the uninterrupted run does (CPU, fp32), with the dataset's own
random transforms, batch augmentation, DataLoader workers (persistent) and every schedule."""

import copy
import multiprocessing

import pytest
import torch

from depthnb import CheckpointError, ConfigError
from depthnb.data import SyntheticRooms
from depthnb.data import transforms as T
from depthnb.losses import l1_loss
from depthnb.models import build_model
from depthnb.train import EpochSampler, InMemoryDataset, SeededSamples, TrainConfig, Trainer

SIZE = (32, 48)
TINY_UNET = {"filters": (2, 4, 8, 8, 8)}


@pytest.fixture(scope="module")
def augmented() -> InMemoryDataset:
    """Ten rooms with FCRN's random scale, rotation, colour jitter and flip, drawn per sample."""
    return InMemoryDataset(SyntheticRooms(10, size=SIZE, seed=0), transform=T.fcrn_augmentation())


@pytest.fixture(scope="module")
def plain() -> InMemoryDataset:
    return InMemoryDataset(SyntheticRooms(8, size=SIZE, seed=0))


def make_trainer(data, out_dir, model_seed: int = 0, loss_fn=None, **settings) -> Trainer:
    torch.manual_seed(model_seed)
    model = build_model("unet", **TINY_UNET)
    base = {
        "epochs": 3,
        "batch_size": 4,
        "lr": 1e-2,
        "loss": "l1",
        "device": "cpu",
        "progress": False,
        "log_every": 1,
        "out_dir": str(out_dir),
    }
    return Trainer(model, data, config=TrainConfig.from_dict({**base, **settings}), loss_fn=loss_fn)


def fresh_process_state() -> None:
    """What a new process would have: other global random states."""
    torch.manual_seed(12345)


def assert_same_run(straight: Trainer, resumed: Trainer) -> None:
    """Same weights (BatchNorm statistics too), per-step losses and learning rates, history,
    schedule and optimizer state."""
    assert resumed.step == straight.step and resumed.epoch == straight.epoch
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.steps == straight.steps  # every step's loss, its parts and its lr
    timing = ("seconds", "images_per_s")
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert {k: v for k, v in a.items() if k not in timing} == {
            k: v for k, v in b.items() if k not in timing
        }
    assert resumed.scheduler.state_dict() == straight.scheduler.state_dict()
    moments = straight.optimizer.state_dict()["state"]
    for index, values in resumed.optimizer.state_dict()["state"].items():
        for name, value in values.items():
            assert torch.equal(value, moments[index][name]), (index, name)


def stop_and_resume(data, tmp_path, until_epoch: int, **settings) -> Trainer:
    first = make_trainer(data, tmp_path / "stopped", **settings)
    first.fit(until_epoch=until_epoch)
    del first
    fresh_process_state()
    resumed = make_trainer(data, tmp_path / "resumed", model_seed=99, **settings)
    resumed.resume(tmp_path / "stopped" / "last.pt")
    resumed.fit()
    return resumed


def test_samples_depend_on_epoch_and_index_only(augmented):
    seeded = SeededSamples(augmented, seed=0)
    torch.manual_seed(1)
    a = seeded[2, 3]
    torch.manual_seed(2)
    state = torch.get_rng_state()
    b = seeded[2, 3]
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is left alone
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["depth"], b["depth"])
    assert not torch.equal(seeded[3, 3]["image"], a["image"])  # another epoch, other draws
    assert not torch.equal(SeededSamples(augmented, seed=1)[2, 3]["image"], a["image"])


def test_random_dataset_transforms_resume_exactly(augmented, tmp_path):
    settings = {"batch_size": 2, "augment": True, "jitter": 0.2}
    straight = make_trainer(augmented, tmp_path / "straight", **settings)
    straight.fit()
    assert_same_run(straight, stop_and_resume(augmented, tmp_path, 1, **settings))


def test_persistent_workers_resume_exactly_and_draw_what_no_workers_draw(augmented, tmp_path):
    settings = {"batch_size": 2, "augment": True, "epochs": 2, "workers": 2}
    straight = make_trainer(augmented, tmp_path / "straight", **settings)
    assert straight.train_loader.persistent_workers and straight.train_loader.num_workers == 2
    straight.fit()
    assert_same_run(straight, stop_and_resume(augmented, tmp_path, 1, **settings))
    in_process = make_trainer(augmented, tmp_path / "in_process", **{**settings, "workers": 0})
    in_process.fit()
    assert_same_run(straight, in_process)  # a sample is the same in any process


def test_workers_end_with_each_fit_and_the_next_fit_carries_on_exactly(augmented, tmp_path):
    """Idle workers hold memory (each a copy of the process as it was when it started): they
    persist from epoch to epoch of one fit(), not after it; a later fit() starts new ones."""
    settings = {"batch_size": 2, "augment": True, "epochs": 2, "workers": 2}
    straight = make_trainer(augmented, tmp_path / "straight", **settings)
    straight.fit()
    before = set(multiprocessing.active_children())
    in_two = make_trainer(augmented, tmp_path / "in_two", **settings)
    in_two.fit(until_epoch=1)
    assert set(multiprocessing.active_children()) <= before
    in_two.fit()
    assert set(multiprocessing.active_children()) <= before
    assert_same_run(straight, in_two)


class Crash(Exception):
    """The process dies here (a Colab disconnect)."""


def crashing_l1(at_call: int):
    calls = []

    def loss(pred, target, valid):
        calls.append(1)
        if len(calls) == at_call:
            raise Crash
        return l1_loss(pred, target, valid)

    return loss


@pytest.mark.parametrize(
    ("workers", "accumulate", "crash_at", "steps_done", "batches_done"),
    [(0, 2, 9, 4, 2), (2, 1, 9, 8, 3)],  # 5 batches an epoch of 10 rooms, batch_size 2
)
def test_interrupted_inside_an_epoch_resumes_exactly(
    augmented, tmp_path, workers, accumulate, crash_at, steps_done, batches_done
):
    settings = {
        "batch_size": 2,
        "epochs": 2,
        "augment": True,
        "jitter": 0.2,
        "schedule": "onecycle",
        "warmup": 0.3,
        "workers": workers,
        "accumulate": accumulate,
        "checkpoint_every": 2,
    }
    straight = make_trainer(augmented, tmp_path / "straight", **settings)
    straight.fit()
    before = set(multiprocessing.active_children())
    crashing = make_trainer(
        augmented, tmp_path / "crashed", loss_fn=crashing_l1(crash_at), **settings
    )
    with pytest.raises(Crash):
        crashing.fit()
    assert set(multiprocessing.active_children()) <= before  # no workers left by the crash
    del crashing
    fresh_process_state()
    counted = copy.copy(augmented)  # the same stored rooms, with a transform that counts its calls
    counted.transform = Counting(augmented.transform)
    resumed = make_trainer(counted, tmp_path / "resumed", model_seed=99, **settings)
    resumed.resume(tmp_path / "crashed" / "last.pt")
    assert (resumed.epoch, resumed.step, resumed.progress.batches) == (1, steps_done, batches_done)
    assert len(resumed.history) == 1 and len(resumed.steps) == steps_done
    resumed.fit()
    assert resumed.progress.batches == 0  # the epoch was finished
    if workers == 0:  # the batches done were skipped, not loaded
        assert counted.transform.calls == len(augmented) - 2 * batches_done
    assert_same_run(straight, resumed)


class Counting:
    """A transform that counts the samples it sees (in this process)."""

    def __init__(self, transform) -> None:
        self.transform, self.calls = transform, 0

    def __call__(self, sample):
        self.calls += 1
        return self.transform(sample)


def test_the_sampler_skips_the_start_of_its_permutation(plain):
    sampler = EpochSampler(plain, num_replicas=1, rank=0, seed=3)
    sampler.set_epoch(2)
    order = list(sampler)
    assert [epoch for epoch, _ in order] == [2] * len(plain)
    assert sorted(index for _, index in order) == list(range(len(plain)))
    sampler.skip = 3
    assert list(sampler) == order[3:] and len(sampler) == len(plain) - 3
    sampler.set_epoch(3)
    assert [index for _, index in sampler] != [index for _, index in order[3:]]


SCHEDULES = [
    ("step", {"step_epochs": 1, "gamma": 0.5}),
    ("onecycle", {"warmup": 0.3}),
    ("poly", {"warmup": 0.2}),
    ("plateau", {"patience": 0, "lr": 0.3}),
]


@pytest.mark.parametrize(("schedule", "settings"), SCHEDULES, ids=[s for s, _ in SCHEDULES])
def test_schedule_state_after_resume_is_the_uninterrupted_runs(plain, tmp_path, schedule, settings):
    settings = {"schedule": schedule, **settings}
    states = []

    def keep_state(trainer, record):
        states.append(copy.deepcopy(trainer.scheduler.state_dict()))

    straight = make_trainer(plain, tmp_path / "straight", **settings)
    straight.on_epoch_end = keep_state
    straight.fit()
    rates = [record["lr"] for record in straight.steps]
    assert len(set(rates)) > 1, "the schedule should change the learning rate in this run"
    first = make_trainer(plain, tmp_path / "stopped", **settings)
    first.fit(until_epoch=1)
    fresh_process_state()
    resumed = make_trainer(plain, tmp_path / "resumed", model_seed=99, **settings)
    resumed.resume(tmp_path / "stopped" / "last.pt")
    assert resumed.scheduler.state_dict() == states[0]
    assert resumed.optimizer.param_groups[0]["lr"] == straight.steps[resumed.step]["lr"]
    resumed.fit()
    assert [record["lr"] for record in resumed.steps] == rates
    assert_same_run(straight, resumed)


def test_mid_epoch_checkpoints_need_out_dir_and_the_same_batch_size(plain, tmp_path):
    with pytest.raises(ConfigError, match="checkpoint_every"):
        TrainConfig(checkpoint_every=1)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        TrainConfig(checkpoint_every=-1, out_dir=str(tmp_path))
    trainer = make_trainer(plain, tmp_path / "run", batch_size=2, checkpoint_every=1)
    trainer.fit(until_epoch=1)
    last = tmp_path / "run" / "last.pt"
    assert torch.load(last, weights_only=True)["progress"] is None  # written at the epoch's end
    trainer.progress.batches = 2
    trainer._save_mid_epoch()
    assert torch.load(last, weights_only=True)["progress"]["batches"] == 2
    other = make_trainer(plain, tmp_path / "other", batch_size=4)
    with pytest.raises(CheckpointError, match="batch_size=2"):
        other.resume(last)
