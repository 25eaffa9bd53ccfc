"""The Trainer: it learns, its settings are checked, its schedules have their shapes,
gradient accumulation equals a bigger batch (batch augmentation: tests/test_augment.py)."""

import math
import os
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from depthnb import ConfigError, ModelError
from depthnb.data import SyntheticRooms
from depthnb.encodings import get_encoding
from depthnb.models import build_model
from depthnb.train import (
    InMemoryDataset,
    TrainConfig,
    Trainer,
    match_resolution,
    resolve_precision,
    schedule_preview,
    set_output_depth,
    train_synthetic_unet,
)

SIZE = (32, 48)
TINY_UNET = {"filters": (2, 4, 8, 8, 8)}


class TinyNet(nn.Module):
    """Two convolutions, no BatchNorm: gradients do not depend on how a batch is split."""

    name = "tiny"
    output_stride = 1

    def __init__(self) -> None:
        super().__init__()
        self.config: dict = {}
        self.encoding = get_encoding("log")
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1)
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image) + 1.0


@pytest.fixture(scope="module")
def rooms() -> InMemoryDataset:
    return InMemoryDataset(SyntheticRooms(8, size=SIZE, seed=0))


def quiet(**settings) -> dict:
    return {"progress": False, "loss": "l1", **settings}


def test_trainer_learns_and_records_history(rooms):
    torch.manual_seed(0)
    model = build_model("unet", **TINY_UNET)
    seen = []
    trainer = Trainer(
        model,
        rooms,
        rooms,
        epochs=4,
        batch_size=4,
        lr=3e-2,
        schedule="onecycle",
        warmup=0.3,
        on_epoch_end=lambda t, record: seen.append(record["epoch"]),
        **quiet(),
    )
    history = trainer.fit()
    assert seen == [1, 2, 3, 4] and trainer.epoch == 4 and trainer.step == 8
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for key in ("lr", "train_loss", "val_loss", "abs_rel", "delta1", "rmse", "images_per_s"):
        assert all(math.isfinite(record[key]) for record in history), key
    assert trainer.input_size == list(SIZE)


def test_accumulation_equals_the_bigger_batch(rooms):
    def run(batch_size: int, accumulate: int) -> dict:
        torch.manual_seed(1)
        trainer = Trainer(
            TinyNet(),
            rooms,
            epochs=1,
            batch_size=batch_size,
            accumulate=accumulate,
            lr=1e-2,
            optimizer="sgd",
            clip_grad_norm=10.0,
            **quiet(),
        )
        trainer.fit()
        return trainer.model.state_dict()

    whole, split = run(8, 1), run(4, 2)
    for key in whole:
        torch.testing.assert_close(whole[key], split[key], rtol=1e-5, atol=1e-6)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="adamax")
    with pytest.raises(ConfigError, match="warmup"):
        TrainConfig(warmup=1.5)
    with pytest.raises(ConfigError, match="unknown training settings"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ModelError, match="encoding"):
        Trainer(nn.Conv2d(3, 1, 1), SyntheticRooms(2, size=SIZE), progress=False)


def test_precision_follows_the_device():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    assert resolve_precision("fp16", cpu) is torch.float16
    with pytest.raises(ConfigError):
        resolve_precision("fp8", cpu)


def test_bf16_autocast_trains_on_cpu(rooms):
    trainer = Trainer(
        TinyNet(), rooms, epochs=1, batch_size=4, precision="bf16", channels_last=True, **quiet()
    )
    assert trainer.amp_dtype is torch.bfloat16
    assert math.isfinite(trainer.fit()[-1]["train_loss"])


def test_schedules_have_their_shapes():
    steps = 10
    onecycle = schedule_preview("onecycle", epochs=5, steps_per_epoch=steps, lr=1.0, warmup=0.2)
    peak = max(range(len(onecycle)), key=onecycle.__getitem__)
    assert 8 <= peak <= 11 and onecycle[0] < 0.1 and onecycle[-1] < 1e-3
    poly = schedule_preview("poly", epochs=5, steps_per_epoch=steps, lr=1.0)
    assert poly[0] == 1.0 and all(a >= b for a, b in zip(poly, poly[1:])) and poly[-1] < 0.1
    step = schedule_preview(
        "step", epochs=5, steps_per_epoch=steps, lr=1.0, step_epochs=2, gamma=0.1
    )
    assert step[19] == 1.0 and step[20] == pytest.approx(0.1) and step[40] == pytest.approx(0.01)
    plateau = schedule_preview(
        "plateau", epochs=6, steps_per_epoch=steps, lr=1.0, patience=1, monitor="train_loss"
    )
    assert plateau[0] == 1.0 and plateau[-1] < 1.0
    warm = schedule_preview("constant", epochs=2, steps_per_epoch=steps, lr=1.0, warmup=0.5)
    assert warm[0] == pytest.approx(0.1) and warm[9:] == [1.0] * 11


def test_targets_are_area_downsampled_over_valid_pixels():
    depth = torch.tensor([[1.0, 3.0], [5.0, 0.0]]).view(1, 1, 2, 2)
    valid = depth > 0
    small, small_valid = match_resolution(depth, valid, (1, 1))
    assert small.item() == pytest.approx(3.0) and small_valid.item()
    same = match_resolution(depth, valid, (2, 2))
    assert same[0] is depth


@pytest.mark.filterwarnings("ignore:tensorboard is not installed")
def test_deterministic_switch_and_optional_tensorboard(rooms, tmp_path):
    """Deterministic algorithms are on while the Trainer trains, and only then."""
    seen = []
    trainer = Trainer(
        TinyNet(),
        rooms,
        epochs=1,
        batch_size=8,
        deterministic=True,
        tensorboard=True,
        out_dir=str(tmp_path),
        on_epoch_end=lambda t, r: seen.append(torch.are_deterministic_algorithms_enabled()),
        **quiet(),
    )
    assert not torch.are_deterministic_algorithms_enabled()
    trainer.fit()
    assert seen == [True] and not torch.are_deterministic_algorithms_enabled()
    if trainer.writer is not None:  # tensorboard installed: event files appear
        assert any((tmp_path / "tensorboard").iterdir())


class DropoutNet(TinyNet):
    """TinyNet with dropout: its training draws from torch's global generator."""

    def __init__(self) -> None:
        super().__init__()
        self.body.insert(1, nn.Dropout2d(0.5))


def process_state() -> dict:
    """Every global random state and switch a Trainer could change."""
    return {
        "initial_seed": torch.initial_seed(),
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "cublas": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "numpy":
            assert a[key][0] == b[key][0] and all(
                np.array_equal(x, y) for x, y in zip(a[key][1:], b[key][1:])
            ), key
        elif torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("deterministic", [False, True])
def test_a_trainer_leaves_the_process_state_as_it_found_it(rooms, deterministic):
    model = DropoutNet()
    torch.manual_seed(123)
    random.seed(4)
    np.random.seed(5)
    before = process_state()
    trainer = Trainer(
        model, rooms, rooms, epochs=1, batch_size=4, deterministic=deterministic, **quiet()
    )
    assert_same_state(before, process_state())
    trainer.fit()
    trainer.validate()
    trainer.train_step(next(iter(trainer.train_loader)))
    trainer.state_dict()
    assert_same_state(before, process_state())


def test_two_runs_with_the_same_seed_match_whatever_the_callers_state(rooms):
    def run(seed: int, caller_seed: int) -> dict:
        torch.manual_seed(0)  # the same initial weights
        model = DropoutNet()
        torch.manual_seed(caller_seed)  # the caller's own draws: not the run's
        trainer = Trainer(model, rooms, epochs=2, batch_size=4, lr=1e-2, seed=seed, **quiet())
        trainer.fit()
        return trainer.model.state_dict()

    first, again, other = run(7, 1), run(7, 2), run(8, 1)
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_time_budget_stops_mid_epoch_and_fit_can_go_on(rooms):
    from depthnb.losses import l1_loss

    def slow_l1(pred, target, valid):
        time.sleep(0.05)
        return l1_loss(pred, target, valid)

    torch.manual_seed(0)
    trainer = Trainer(
        TinyNet(),
        rooms,
        epochs=100,
        batch_size=1,
        lr=1e-3,
        time_budget_s=0.12,
        loss_fn=slow_l1,
        **quiet(),
    )
    start = time.perf_counter()
    history = trainer.fit()
    assert time.perf_counter() - start < 1.0
    assert trainer.epoch == 1 and len(history) == 1 and history[0]["partial"] is True
    assert 2 <= trainer.step < len(rooms)
    trainer.fit()  # another budget: the next epoch, stopped early too
    assert trainer.epoch == 2 and len(trainer.history) == 2
    with pytest.raises(ConfigError, match="time_budget_s"):
        TrainConfig(time_budget_s=0)


def test_train_synthetic_unet_for_a_fixed_time():
    model, trainer = train_synthetic_unet(
        SIZE, seconds=1.0, scenes=4, model_args=TINY_UNET, batch_size=2, device="cpu"
    )
    assert not model.training and trainer.step >= 1 and trainer.config.time_budget_s == 1.0
    assert trainer.config.schedule == "constant" and trainer.model is model
    assert sum(record["seconds"] for record in trainer.history) < 5.0


def test_set_output_depth_starts_the_head_at_a_depth():
    model = set_output_depth(build_model("unet", **TINY_UNET), 3.0)
    assert float(model.head.bias.detach()) == pytest.approx(math.log(3.0), rel=1e-6)
    with pytest.raises(ModelError, match="head"):
        set_output_depth(TinyNet(), 3.0)


@pytest.mark.parametrize(
    ("gpu", "capability", "expected"),
    [
        ("Tesla T4 (Colab)", (7, 5), torch.float16),
        ("Tesla V100", (7, 0), torch.float16),
        ("A100", (8, 0), torch.bfloat16),
        ("L4", (8, 9), torch.bfloat16),
        ("H100", (9, 0), torch.bfloat16),
    ],
)
def test_auto_precision_on_simulated_gpus(monkeypatch, gpu, capability, expected):
    """fp16 below compute capability 8.0 (the Trainer then enables its GradScaler), where bf16 is
    only emulated even though ``torch.cuda.is_bf16_supported()`` may say True; bf16 from 8.0."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    assert resolve_precision("auto", torch.device("cuda")) is expected, gpu
