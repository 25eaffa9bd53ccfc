"""Two processes with DistributedDataParallel (gloo, CPU, 127.0.0.1) follow one process that sees
the same global batch: after an epoch their weights agree."""

import os
import socket

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
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_match_one_process(tmp_path):
    mp.spawn(worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    single_state, single_history = train(GLOBAL_BATCH)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for key, value in single_state.items():
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=1e-5, atol=1e-6)
        assert torch.equal(
            ranks[0]["state"][key], ranks[1]["state"][key]
        )  # replicas stay identical
    for mine, theirs in zip(single_history, ranks[0]["history"]):
        for key in ("train_loss", "val_loss", "abs_rel", "delta1", "rmse"):
            assert abs(mine[key] - theirs[key]) < 1e-5, key
