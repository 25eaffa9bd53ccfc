"""Two processes with DistributedDataParallel (gloo, CPU, 127.0.0.1) follow one process that sees
the same global batch: after an epoch their weights agree; and stopped inside an epoch, they resume
from the mid-epoch checkpoint exactly. (One spawn of the two processes runs both.)"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import Dataset

from depthnb.encodings import get_encoding
from depthnb.train import Trainer

SAMPLES, GLOBAL_BATCH = 16, 4


class TinyNet(nn.Module):
    """No BatchNorm (SyncBatchNorm needs CUDA): a batch's gradient does not depend on its split."""

    name = "tiny"
    output_stride = 1

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.config: dict = {}
        self.encoding = get_encoding("log")
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1)
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image) + 1.0


class Scenes(Dataset):
    """Fixed random images; depth a smooth function of them (metres)."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.rand(SAMPLES, 3, 16, 24, generator=generator)

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, index: int) -> dict:
        image = self.images[index]
        depth = 1.0 + 3.0 * image.mean(0, keepdim=True)
        return {"image": image, "depth": depth, "valid": depth > 0}


def train(batch_size: int) -> tuple[dict, list]:
    trainer = Trainer(
        TinyNet(),
        Scenes(),
        Scenes(),
        epochs=2,
        batch_size=batch_size,
        lr=0.05,
        optimizer="sgd",
        schedule="poly",
        loss="l1",
        progress=False,
        device="cpu",
    )
    trainer.fit()
    return trainer.model.state_dict(), trainer.history


def worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    try:
        state, history = train(GLOBAL_BATCH // world_size)
        torch.save({"state": state, "history": history}, os.path.join(out_dir, f"rank{rank}.pt"))
        crash_then_resume(rank, out_dir)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def spawned(tmp_path_factory):
    """The folder where the two processes left their results."""
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return out


def test_two_gloo_processes_match_one_process(spawned):
    single_state, single_history = train(GLOBAL_BATCH)
    ranks = [torch.load(spawned / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for key, value in single_state.items():
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=1e-5, atol=1e-6)
        assert torch.equal(
            ranks[0]["state"][key], ranks[1]["state"][key]
        )  # replicas stay identical
    for mine, theirs in zip(single_history, ranks[0]["history"]):
        for key in ("train_loss", "val_loss", "abs_rel", "delta1", "rmse"):
            assert abs(mine[key] - theirs[key]) < 1e-5, key


class Crash(Exception):
    """Both processes die at the same step (a lost VM)."""


def crash_then_resume(rank: int, out_dir: str) -> None:
    """Straight, then crashed inside epoch 2 and resumed from its mid-epoch checkpoint."""
    from depthnb.losses import l1_loss

    calls = []

    def crashing(pred, target, valid):
        calls.append(1)
        if len(calls) == 6:  # epoch 2, batch 2 of 4: last.pt is from step 5
            raise Crash
        return l1_loss(pred, target, valid)

    def trainer(name: str, loss_fn=None) -> Trainer:
        settings = {"epochs": 2, "batch_size": 2, "lr": 0.05, "optimizer": "sgd"}
        settings.update(schedule="poly", progress=False, device="cpu", checkpoint_every=1)
        out = os.path.join(out_dir, name)
        return Trainer(TinyNet(), Scenes(), loss_fn=loss_fn, out_dir=out, loss="l1", **settings)

    straight = trainer("straight")
    straight.fit()
    try:
        trainer("crashed", crashing).fit()
    except Crash:
        pass
    dist.barrier()  # rank 0 has written last.pt
    resumed = trainer("resumed").resume(os.path.join(out_dir, "crashed", "last.pt"))
    at = (resumed.epoch, resumed.step, resumed.progress.batches)
    resumed.fit()
    result = {"at": at, "state": resumed.model.state_dict(), "history": resumed.history}
    result.update(straight=straight.model.state_dict(), straight_history=straight.history)
    torch.save(result, os.path.join(out_dir, f"resumed{rank}.pt"))


def test_two_processes_resume_inside_an_epoch_exactly(spawned):
    for rank in range(2):
        result = torch.load(spawned / f"resumed{rank}.pt", weights_only=True)
        assert result["at"] == (1, 5, 1)
        for key, value in result["straight"].items():
            assert torch.equal(result["state"][key], value), key
        for mine, theirs in zip(result["straight_history"], result["history"], strict=True):
            assert abs(mine["train_loss"] - theirs["train_loss"]) < 1e-6  # summed in another order
