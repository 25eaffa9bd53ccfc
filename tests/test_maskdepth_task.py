"""The fg/bg mask-and-depth task: its input, loss, metrics, training by the one Trainer (with
checkpoints and resume) and the seed's counts."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from depthnb.data import FgBgDepth, write_fgbg_dataset
from depthnb.encodings import get_encoding
from depthnb.errors import ConfigError, DataError
from depthnb.losses import maskdepth_loss, ssim
from depthnb.models import build_model, count_macs, macs_by_module
from depthnb.train import TrainConfig, match_resolution
from depthnb.train.tasks.maskdepth import (
    MASKDEPTH_SEED,
    SEED_PARAMETERS,
    MaskDepthTask,
    collect_predictions,
    encoding_range,
    evaluate_maskdepth,
    maskdepth_trainer,
    seed_counts,
    stack_inputs,
)


def _batch(b: int = 2, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "image": torch.rand(b, 3, size, size, generator=g),
        "background": torch.rand(b, 3, size, size, generator=g),
        "mask": (torch.rand(b, 1, size, size, generator=g) > 0.7).float(),
        "depth": 1 + 4 * torch.rand(b, 1, size, size, generator=g),
        "valid": torch.ones(b, 1, size, size, dtype=torch.bool),
    }


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: a second intra-op thread only adds synchronisation (and, on a busy
    machine, spin-waiting that makes each step many times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_fgbg(tmp_path_factory):
    root = write_fgbg_dataset(tmp_path_factory.mktemp("fgbg") / "scenes", 8, size=(32, 32), seed=3)
    return FgBgDepth(root)


def test_stack_inputs_puts_background_first():
    batch = _batch()
    x = stack_inputs(batch)
    assert x.shape == (2, 6, 32, 32)
    assert torch.equal(x[:, :3], batch["background"]) and torch.equal(x[:, 3:], batch["image"])
    with pytest.raises(DataError, match="background"):
        stack_inputs({"image": batch["image"]})


def test_loss_is_the_seeds_and_matches_the_package():
    torch.manual_seed(0)
    model = build_model("maskdepth")
    task = MaskDepthTask.for_model(model)
    batch = _batch()
    outputs = model(task.inputs(batch))
    loss, parts = task.loss(outputs, batch)
    assert loss.requires_grad
    loss = loss.detach()
    assert float(loss) == pytest.approx(2 * parts["mask_bce"] + parts["depth_ssim_loss"], rel=1e-5)
    depth_half = torch.nn.functional.avg_pool2d(batch["depth"], 2)
    reference = maskdepth_loss(
        outputs,
        {"mask": batch["mask"], "depth": depth_half},
        torch.ones_like(depth_half, dtype=torch.bool),
        data_range=task.ssim_range,
    )
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-5)


def test_loss_decreases_on_a_tiny_dataset(tiny_fgbg):
    torch.manual_seed(0)
    model = build_model("maskdepth", filters=(8, 16, 32, 32, 32))
    trainer = maskdepth_trainer(
        model, tiny_fgbg, epochs=6, batch_size=4, lr=0.05, step_epochs=100, log_every=1
    )
    trainer.fit()
    losses = [row["loss"] for row in trainer.steps]
    assert len(losses) == 12 and all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-2:]) < 0.8 * sum(losses[:2])
    row = trainer.steps[0]
    assert {"epoch", "step", "lr", "loss", "mask_bce", "depth_ssim_loss"} <= set(row)
    assert row["loss"] == pytest.approx(2 * row["mask_bce"] + row["depth_ssim_loss"], rel=1e-5)
    record = trainer.history[-1]
    assert {"train_loss", "train_mask_bce", "train_depth_ssim_loss"} <= set(record)


def test_recipe_steps_the_learning_rate_by_epoch(tiny_fgbg):
    model = build_model("maskdepth", filters=(4, 4, 4, 4, 4))
    trainer = maskdepth_trainer(
        model, tiny_fgbg, tiny_fgbg, epochs=3, batch_size=8, step_epochs=2, log_every=1
    )
    assert trainer.config.optimizer == "sgd" and trainer.config.momentum == 0.9
    history = trainer.fit()
    assert [row["lr"] for row in trainer.steps] == pytest.approx([0.01, 0.01, 0.001])
    assert {"iou", "abs_rel", "delta1", "train_loss", "val_loss", "val_mask_bce"} <= set(
        history[-1]
    )
    assert trainer.monitor == "iou"
    with pytest.raises(ConfigError, match="batch_sise"):
        maskdepth_trainer(model, tiny_fgbg, epochs=1, batch_sise=100)
    assert TrainConfig.from_dict(MASKDEPTH_SEED).schedule == "step"


class ReadOrder(torch.utils.data.Dataset):
    """A dataset that notes the index of every item it is asked for."""

    def __init__(self, dataset: FgBgDepth) -> None:
        self.dataset, self.read = dataset, []

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        self.read.append(int(index))
        return self.dataset[index]


def test_the_trainer_is_the_seeds_loop_written_plainly(tiny_fgbg):
    """Fed the samples in the Trainer's order, the seed's own loop (SGD, StepLR once per epoch,
    2 BCE + (1 - SSIM) on the half-resolution depth) ends with the Trainer's weights, bit for bit:
    what lesson 12 gets from the Trainer differs from the old loop only in the shuffle order."""
    epochs, batch, step_epochs = 3, 4, 2
    order = ReadOrder(tiny_fgbg)
    torch.manual_seed(0)
    trained = build_model("maskdepth", filters=(4, 4, 4, 4, 4))
    maskdepth_trainer(
        trained, order, epochs=epochs, batch_size=batch, step_epochs=step_epochs, seed=5
    ).fit()

    torch.manual_seed(0)
    model = build_model("maskdepth", filters=(4, 4, 4, 4, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_epochs, gamma=0.1)
    per_epoch, span = len(tiny_fgbg), encoding_range(model.encoding)  # SSIM's L: 9.9 m
    model.train()
    for epoch in range(epochs):
        indices = order.read[epoch * per_epoch : (epoch + 1) * per_epoch]
        for start in range(0, per_epoch, batch):
            samples = [tiny_fgbg[i] for i in indices[start : start + batch]]
            b = {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
            out = model(torch.cat([b["background"], b["image"]], dim=1))
            depth, valid = match_resolution(b["depth"], b["valid"], tuple(out["depth"].shape[-2:]))
            encoded = model.encoding.encode(depth)
            similarity = ssim(out["depth"], encoded, data_range=span, valid=valid)
            bce = F.binary_cross_entropy_with_logits(out["mask"], b["mask"].float())
            loss = 2 * bce + (1 - similarity)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    assert len(order.read) == epochs * per_epoch
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoints_and_resume_continue_exactly(tiny_fgbg, tmp_path):
    def trainer(out, **settings):
        torch.manual_seed(0)
        model = build_model("maskdepth", filters=(4, 4, 4, 4, 4))
        return maskdepth_trainer(
            model, tiny_fgbg, tiny_fgbg, epochs=3, batch_size=4, out_dir=str(out), **settings
        )

    whole = trainer(tmp_path / "whole")
    whole.fit()
    stopped = trainer(tmp_path / "stopped")
    stopped.fit(until_epoch=2)
    assert (tmp_path / "stopped" / "best.pt").is_file()
    resumed = trainer(tmp_path / "resumed").resume(tmp_path / "stopped" / "last.pt")
    assert resumed.epoch == 2 and resumed.step == 4
    resumed.fit()
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, msg=key)
    assert resumed.history[-1]["iou"] == pytest.approx(whole.history[-1]["iou"])
    from depthnb.predict import load_checkpoint

    loaded = load_checkpoint(tmp_path / "whole" / "last.pt")
    loader = DataLoader(tiny_fgbg, batch_size=4)
    again = evaluate_maskdepth(loaded, loader)
    assert again["iou"] == pytest.approx(whole.history[-1]["iou"], abs=1e-9)
    kept = collect_predictions(loaded, loader)
    assert kept["mask_probability"].shape == kept["mask"].shape == (8, 1, 32, 32)


class FixedOutputs(nn.Module):
    """Returns given mask logits and depth (metres) for whatever batch it sees, in order."""

    def __init__(self, logits: torch.Tensor, depth: torch.Tensor) -> None:
        super().__init__()
        self.logits, self.depth = logits, depth
        self.anchor = nn.Parameter(torch.zeros(()))
        self.encoding = get_encoding("metres")
        self.calls = 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        start, self.calls = self.calls, self.calls + len(x)
        return {"mask": self.logits[start : self.calls], "depth": self.depth[start : self.calls]}


def test_iou_on_known_masks_thresholds_probabilities():
    size = 32
    truth = torch.zeros(2, 1, size, size)
    truth[0, :, :16, :16] = 1  # 256 pixels
    truth[1, :, 16:, 16:] = 1  # 256 pixels
    logits = torch.full((2, 1, size, size), -5.0)
    logits[0, :, :16, 8:24] = 0.2  # probability 0.55: foreground; overlaps image 0's square by 128
    logits[1, :, 16:, 16:] = -0.2  # probability 0.45: background, though the logit > -0.5
    depth = torch.full((2, 1, size, size), 3.0)
    model = FixedOutputs(logits, torch.full((2, 1, size // 2, size // 2), 3.0))
    batch = {**_batch(2, size), "mask": truth, "depth": depth}
    loader = [{k: v[:1] for k, v in batch.items()}, {k: v[1:] for k, v in batch.items()}]
    scores = evaluate_maskdepth(model, loader)
    # pooled over both images: intersection 128, union 256 + 256 + 128 = 640
    assert scores["iou"] == pytest.approx(128 / 640)
    assert scores["abs_rel"] == pytest.approx(0.0, abs=1e-6) and scores["delta1"] == 1.0
    model.calls = 0
    task = MaskDepthTask.for_model(model)
    per_batch = task.metrics(model(task.inputs(batch)), batch)
    assert per_batch["iou"] == pytest.approx(128 / 640)


def test_seed_counts_explain_the_double_counted_decoder():
    with torch.device("meta"):  # counted without computing anything
        model = build_model("maskdepth", in_channels=2)
    counts = seed_counts(model, (160, 160))
    assert 500_000 < counts["parameters"] < 520_000
    assert counts["seed_parameters"] == counts["parameters"] + counts["decoder_parameters"]
    assert counts["seed_parameters"] == pytest.approx(SEED_PARAMETERS, rel=0.02)
    assert counts["seed_macs"] == counts["macs"] + counts["decoder_macs"]
    per_child = macs_by_module(model, (160, 160))
    total = per_child.pop("total")
    assert sum(per_child.values()) == counts["macs"] == total == count_macs(model, (160, 160))
