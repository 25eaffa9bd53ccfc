"""Every mistake a user can make on the command line or in the API gets one clear message: no
traceback, a non-zero exit (2 for a bad flag, value or checkpoint; 1 for data, paths and a
diverged training; 130 for Ctrl-C), and a DepthnbError subclass that names what was wrong."""

import ast
import errno
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import depthnb
from depthnb.checkpoint import save_checkpoint
from depthnb.cli import download as cli_download
from depthnb.cli import main as cli
from depthnb.cli.predict import output_stems
from depthnb.cli.train import MAIN_JOB, build_datasets
from depthnb.data import SyntheticRooms
from depthnb.errors import (
    ArgumentError,
    CheckpointError,
    ConfigError,
    DataError,
    DepthnbError,
    ShapeError,
    TrainingError,
)
from depthnb.metrics import crop_box, depth_metrics, evaluate
from depthnb.models import build_model
from depthnb.models.checkpoints import model_checkpoint
from depthnb.train import InMemoryDataset, TrainConfig, Trainer
from depthnb.train.profiling import measure_throughput

TINY_UNET = {"filters": [2, 4, 8, 8, 8]}
FAST = [
    "--size",
    "32",
    "32",
    "--train-scenes",
    "4",
    "--val-scenes",
    "2",
    "--epochs",
    "1",
    "--batch-size",
    "2",
    "--model-args",
    json.dumps(TINY_UNET),
    "--no-progress",
]


def run_main(argv, capsys) -> tuple[int, str]:
    """main(argv)'s exit status and stderr, which must be one error line and no traceback."""
    status = cli.main([str(word) for word in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def assert_one_error_line(err: str, command: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"depthnb {command}: error: "), err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(model_checkpoint(build_model("unet", **TINY_UNET)), path)
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    pixels = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


# ------------------------------------------------------------------------- the command line
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", "--lr", "inf"], ["lr", "finite"]),
        (["train", "--lr", "nan"], ["lr", "finite"]),
        (["train", "--lr", "0"], ["lr", "positive"]),
        (["train", "--lr=-1e-3"], ["lr", "positive"]),
        (["train", "--limit", "0"], ["--limit", "at least 1"]),
        (["train", "--batch-size", "0"], ["batch_size", "at least 1"]),
        (["train", "--batch-size", "-4"], ["batch_size", "at least 1"]),
        (["train", "--epochs", "0"], ["epochs", "at least 1"]),
        (["train", "--size", "0", "0"], ["--size", "at least 1"]),
        (["train", "--size", "16", "40"], ["--size", "at least 32"]),
        (["train", "--train-scenes", "0"], ["--train-scenes", "at least 1"]),
        (["train", "--out-dir", "none"], ["--out-dir", "folder"]),
        (["train", "--clip-grad-norm", "inf"], ["clip_grad_norm", "finite"]),
        (["train", "--momentum", "1.5"], ["momentum"]),
        (["train", "--seed", "-1"], ["seed"]),
        (["bench", "--steps", "0"], ["--steps", "at least 1"]),
        (["bench", "--batch-size", "0"], ["--batch-size", "at least 1"]),
        (["bench", "--size", "0", "10"], ["--size", "at least 1"]),
        (["bench", "--steps", "ten"], ["--steps", "not a whole number"]),
        (["evaluate", "x.pt", "--batch-size", "0"], ["--batch-size", "at least 1"]),
        (["evaluate", "x.pt", "--val-scenes", "0"], ["--val-scenes", "at least 1"]),
        (["evaluate", "x.pt", "--limit", "5"], ["unrecognized", "--limit"]),  # no training set
        (["predict", "x.pt", "y.png", "--max-side", "0"], ["--max-side", "at least 1"]),
    ],
)
def test_bad_values_exit_2_with_one_line(argv, words, capsys):
    status, err = run_main(argv, capsys)
    assert status == 2
    assert_one_error_line(err, argv[0])
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"data": "kitti"}, ["data", "'kitti'", "synthetic", "nyu-zip", "diode"]),
        ({"lr": "fast"}, ["lr", "a number", "'fast'", "str"]),
        ({"lr": True}, ["lr", "a number", "bool"]),
        ({"epochs": 2.5}, ["epochs", "a whole number", "2.5"]),
        ({"size": [64]}, ["size", "[H, W]"]),
        ({"cache": "yes"}, ["cache", "true or false"]),
        ({"model_args": [1, 2]}, ["model_args", "a JSON object"]),
        ({"limit": "all"}, ["limit", "a whole number or null"]),
        ({"schedule": "cosine"}, ["schedule", "'cosine'", "onecycle"]),
        ({"epochz": 3}, ["unknown settings", "epochz"]),
        ({"lr": float("nan")}, ["lr", "finite"]),
        ({"limit": 0}, ["--limit", "at least 1"]),
    ],
)
def test_config_files_are_checked_by_name_type_and_choice(config, words, tmp_path, capsys):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(config))
    status, err = run_main(["train", "--config", path], capsys)
    assert status == 2
    assert_one_error_line(err, "train")
    for word in words:
        assert word in err
    if "unknown settings" not in words and "finite" not in words and "--limit" not in words:
        assert str(path) in err  # the file is named beside the key


def test_unreadable_config_files(tmp_path, capsys):
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"lr": "\xff\xfe"}')
    status, err = run_main(["train", "--config", path], capsys)
    assert status == 2 and "cannot read it as JSON" in err
    path.write_text("[1, 2]")
    status, err = run_main(["train", "--config", path], capsys)
    assert status == 2 and "JSON object" in err


def test_no_dataset_name_falls_through_to_diode():
    settings = {**MAIN_JOB, "data": "kitti"}
    with pytest.raises(ConfigError, match="unknown data 'kitti'.*diode"):
        build_datasets(settings)


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (OSError(errno.EROFS, "Read-only file system", "/data/nyu"), 1, ["/data/nyu", "writable"]),
        (OSError(errno.ENOSPC, "No space left on device", "/data/x"), 1, ["free some space"]),
        (PermissionError(errno.EACCES, "Permission denied", "/root/x"), 1, ["permissions"]),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "a.pt"), 1, ["a.pt"]),
        (DataError("the archive is damaged"), 1, ["damaged"]),
        (TrainingError("training diverged"), 1, ["diverged"]),
        (CheckpointError("not a checkpoint"), 2, ["not a checkpoint"]),
    ],
)
def test_errors_of_a_command_become_one_line(monkeypatch, capsys, error, status, words):
    def fails(args):
        raise error

    monkeypatch.setattr(cli_download, "cmd_download", fails)
    code, err = run_main(["download", "nyu-labeled"], capsys)
    assert code == status
    assert_one_error_line(err, "download")
    for word in words:
        assert word in err


def test_ctrl_c_exits_130_and_other_os_errors_are_not_hidden(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_download, "cmd_download", interrupted)
    code, err = run_main(["download", "nyu-labeled"], capsys)
    assert code == 130 and "interrupted" in err

    def broken_disk(args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cli_download, "cmd_download", broken_disk)
    with pytest.raises(OSError, match="Input/output"):  # not a user's mistake: not swallowed
        cli.main(["download", "nyu-labeled"])


def test_out_paths_blocked_by_files_fail_before_any_work(tmp_path, checkpoint, photo, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status, err = run_main(["train", *FAST, "--out-dir", blocker], capsys)
    assert status == 2 and "is a file" in err
    status, err = run_main(["train", *FAST, "--out-dir", blocker / "run"], capsys)
    assert status == 1 and str(blocker / "run") in err  # NotADirectoryError, as one line
    status, err = run_main(["predict", checkpoint, photo, "--out-dir", blocker], capsys)
    assert status == 2 and "is a file" in err
    assert_one_error_line(err, "predict")


def test_predict_names_outputs_of_the_same_stem_apart(tmp_path, checkpoint, photo, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg"
    Image.open(photo).save(first)
    Image.open(photo).crop((0, 0, 32, 24)).save(second)
    out = tmp_path / "out"
    argv = ["predict", str(checkpoint), str(first), str(second), "--out-dir", str(out)]
    assert cli.main(argv) == 0
    said = capsys.readouterr().out
    assert "another image is named x too; writing x-2_depth.*" in said
    assert np.load(out / "x_depth.npy").shape == (40, 48)
    assert np.load(out / "x-2_depth.npy").shape == (24, 32)
    assert output_stems([Path("a/x.jpg"), Path("b/X.png"), Path("x-2.png"), Path("c/x.gif")]) == [
        "x",
        "X-2",
        "x-2-2",
        "x-3",
    ]


def test_predict_with_nan_weights_is_an_error_naming_the_checkpoint(tmp_path, photo, capsys):
    model = build_model("unet", **TINY_UNET)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    broken = tmp_path / "diverged.pt"
    save_checkpoint(model_checkpoint(model), broken)
    status, err = run_main(["predict", broken, photo, "--out-dir", tmp_path / "out"], capsys)
    assert status == 2
    assert_one_error_line(err, "predict")
    assert str(broken) in err and "NaN" in err and "nan..nan" not in err
    assert not list((tmp_path / "out").iterdir())


def test_diverged_cli_training_exits_1_and_writes_no_checkpoint(tmp_path, capsys):
    status, err = run_main(["train", *FAST, "--lr", "1e30", "--out-dir", tmp_path], capsys)
    assert status == 1
    assert_one_error_line(err, "train")
    assert "diverged" in err and "step" in err and "--lr" in err
    assert not list(tmp_path.glob("*.pt"))


def test_module_entry_point_prints_no_traceback(tmp_path):
    config = tmp_path / "kitti.json"
    config.write_text('{"data": "kitti"}')
    for argv, status in ((["bench", "--steps", "0"], 2), (["train", "--config", str(config)], 2)):
        done = subprocess.run(
            [sys.executable, "-m", "depthnb", *argv], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == status, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith(f"depthnb {argv[0]}: error: ")


# --------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def rooms() -> InMemoryDataset:
    return InMemoryDataset(SyntheticRooms(8, size=(32, 32), seed=0))


def tiny_trainer(data, out_dir, **settings) -> Trainer:
    torch.manual_seed(0)
    base = {"epochs": 2, "batch_size": 4, "lr": 1e-2, "loss": "l1", "device": "cpu"}
    config = TrainConfig.from_dict({**base, "progress": False, "out_dir": str(out_dir), **settings})
    return Trainer(build_model("unet", **TINY_UNET), data, config=config)


def test_nan_in_training_stops_it_and_keeps_best_pt(rooms, tmp_path):
    trainer = tiny_trainer(rooms, tmp_path)
    trainer.fit(until_epoch=1)
    best = (tmp_path / "best.pt").read_bytes()
    last = (tmp_path / "last.pt").read_bytes()
    for group in trainer.optimizer.param_groups:
        group["lr"] = 1e30
    diverged = r"epoch 2: the training loss \(l1_loss\) was (nan|inf) at step [34]"
    with pytest.raises(TrainingError, match=diverged):
        trainer.fit()
    assert (tmp_path / "best.pt").read_bytes() == best
    assert (tmp_path / "last.pt").read_bytes() == last
    assert trainer.epoch == 1 and len(trainer.history) == 1


def test_a_nan_score_is_never_the_best(rooms, tmp_path):
    trainer = tiny_trainer(rooms, tmp_path)
    assert not trainer._is_best({"train_loss": float("nan")})
    assert trainer._is_best({"train_loss": 1.0}) and trainer.best == 1.0


def test_resume_with_another_batch_size_under_onecycle_is_refused_at_once(rooms, tmp_path):
    first = tiny_trainer(rooms, tmp_path / "run", schedule="onecycle", warmup=0.3)
    first.fit(until_epoch=1)
    last = tmp_path / "run" / "last.pt"
    other = tiny_trainer(rooms, tmp_path / "other", schedule="onecycle", warmup=0.3, batch_size=2)
    with pytest.raises(ConfigError, match=r"batch_size 4 then, 2 now.*--batch-size 4.*new run"):
        other.resume(last)
    assert other.step == 0 and other.epoch == 0  # nothing was loaded
    changed = tiny_trainer(rooms, tmp_path / "other", schedule="poly")
    with pytest.raises(ConfigError, match="--schedule onecycle"):
        changed.resume(last)
    same = tiny_trainer(rooms, tmp_path / "same", schedule="onecycle", warmup=0.3, epochs=3)
    same.resume(last)  # a longer run at the same batch size carries on
    same.fit()
    assert same.epoch == 3


# ------------------------------------------------------------------------------ the API
def test_depth_metrics_on_nothing_is_a_shape_error():
    with pytest.raises(ShapeError, match="nothing to score"):
        depth_metrics(torch.zeros(0, 1, 4, 4), torch.zeros(0, 1, 4, 4))
    with pytest.raises(ShapeError, match="nothing to score"):
        depth_metrics(np.zeros((3, 0)), np.zeros((3, 0)))
    with pytest.raises(ShapeError, match="differ in size"):
        depth_metrics(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 8, 8))
    with pytest.raises(ShapeError, match="dtype"):
        depth_metrics(np.array([["a", "b"]]), np.ones((1, 2)))


@pytest.mark.parametrize("crop", [(0, 10, 0, 4), (2, 2, 0, 4), (-1, 3, 0, 4), (0, 4, 3, 1)])
def test_crops_outside_the_image_name_the_crop_and_the_size(crop):
    with pytest.raises(ShapeError, match=r"crop \(.*\).*4x4 image"):
        crop_box((4, 4), crop)
    with pytest.raises(ShapeError, match="4x4 image"):
        depth_metrics(torch.ones(4, 4), torch.ones(4, 4), crop=crop)


def test_crop_bounds_must_be_integers():
    with pytest.raises(ArgumentError, match="four integers"):
        crop_box((4, 4), (0.5, 3, 0, 4))
    assert crop_box((4, 4), (np.int64(1), 3, 0, 4)) == (1, 3, 0, 4)


def test_evaluate_checks_its_batch_size_and_data(rooms):
    model = build_model("unet", **TINY_UNET)
    with pytest.raises(ArgumentError, match="batch_size=0"):
        evaluate(model, rooms, batch_size=0)
    with pytest.raises(DataError, match="empty"):
        evaluate(model, torch.utils.data.Subset(rooms, []))


def test_bench_and_training_settings_are_checked():
    model = build_model("unet", **TINY_UNET)
    with pytest.raises(ArgumentError, match="steps"):
        measure_throughput(model, steps=0)
    for bad in ({"lr": float("inf")}, {"lr": "1e-3"}, {"epochs": 0}, {"batch_size": True}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrainConfig(**bad)
    assert TrainConfig(epochs=np.int64(2), lr=np.float32(1e-3)).epochs == 2


def test_the_package_raises_no_bare_depthnb_error():
    """Each raise picks the subclass of its meaning (and so the builtin a user would catch)."""
    bare = []
    for path in Path(depthnb.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if getattr(node.exc.func, "id", None) == DepthnbError.__name__:
                    bare.append(f"{path.name}:{node.lineno}")
    assert not bare, bare


@pytest.mark.parametrize(
    ("width", "height", "fov", "match"),
    [
        (640, 480, 0.0, "fov_deg"),
        (640, 480, float("nan"), "fov_deg"),
        (640, 480, 200.0, "fov_deg"),
        (0, 480, 60.0, "at least 1"),
        (640, -1, 60.0, "at least 1"),
    ],
)
def test_fields_of_view_and_sizes_are_checked(width, height, fov, match):
    from depthnb.viz import intrinsics_from_fov

    with pytest.raises(ArgumentError, match=match):
        intrinsics_from_fov((height, width), fov)
