"""The command line: a tiny train run writes its files; evaluate and predict read them; bad flags
and values exit with status 2 and say what was wrong."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from depthnb.cli.main import build_parser, main
from depthnb.cli.train import MAIN_JOB, resolve_settings

TINY = [
    "--size",
    "32",
    "48",
    "--train-scenes",
    "8",
    "--val-scenes",
    "4",
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--model-args",
    '{"filters": [2, 4, 8, 8, 8]}',
    "--no-progress",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", *TINY, "--out-dir", str(out)]) == 0
    return out


def test_train_writes_checkpoints_metrics_and_figure(run, capsys):
    for name in ("best.pt", "last.pt", "metrics.json", "predictions.png"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "metrics.json").read_text())
    assert set(summary["metrics"]) >= {"delta1", "abs_rel"} and set(summary["baseline"]) >= {
        "delta1"
    }
    assert len(summary["history"]) == 2 and summary["baseline_depth_m"] > 0
    assert Image.open(run / "predictions.png").size[0] > 400


def test_resume_continues_a_run(run, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                *TINY,
                "--epochs",
                "3",
                "--resume",
                str(run / "last.pt"),
                "--out-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [record["epoch"] for record in history] == [1, 2, 3]


def test_evaluate_and_predict_use_the_checkpoint(run, tmp_path, capsys, monkeypatch):
    import depthnb.data

    built = []  # evaluate builds the held-out rooms only, no training set

    class Recorded(depthnb.data.SyntheticRooms):
        def __init__(self, length, **kwargs):
            built.append((length, kwargs["seed"]))
            super().__init__(length, **kwargs)

    monkeypatch.setattr(depthnb.data, "SyntheticRooms", Recorded)
    assert main(["evaluate", str(run / "best.pt"), "--val-scenes", "2", "--val-seed", "7"]) == 0
    assert built == [(2, 7)]
    monkeypatch.undo()
    assert "delta1" in capsys.readouterr().out
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (45, 70, 4), dtype=np.uint8)).save(
        photo
    )
    out = tmp_path / "out"
    assert main(["predict", str(run / "best.pt"), str(photo), "--out-dir", str(out)]) == 0
    depth = np.load(tmp_path / "out" / "photo_depth.npy")
    assert depth.shape == (45, 70) and depth.dtype == np.float32 and (depth > 0).all()
    coloured = Image.open(tmp_path / "out" / "photo_depth.png")
    assert coloured.size == (70, 45) and coloured.mode == "RGB"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "epochs"),
        (["train", "--bogus"], "unrecognized"),
        (["train", "--schedule", "cosine"], "invalid choice"),
        (["train", "--model", "resnet"], "unknown model"),
        (["train", "--size", "8", "8"], "at least 32"),
        (["train", "--config", "/no/such/file.json"], "cannot read"),
        (["frobnicate"], "invalid choice"),
        (["predict", "/no/such.pt", "x.png"], "no checkpoint"),
        # DenseDepth's crop was called "eigen": the former name points at the new one
        (["evaluate", "a.pt", "--crop", "eigen"], "now called 'densedepth'"),
        (["evaluate", "a.pt", "--crop", "garg"], "invalid choice"),
    ],
)
def test_bad_flags_and_values_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_config_file_then_flags_override_the_main_job(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"epochs": 3, "lr": 0.01}))
    settings = resolve_settings(
        build_parser().parse_args(["train", "--config", str(config), "--lr", "0.02"])
    )
    assert (
        settings["epochs"] == 3
        and settings["lr"] == 0.02
        and settings["model"] == MAIN_JOB["model"]
    )
    config.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(Exception, match="unknown settings"):
        resolve_settings(build_parser().parse_args(["train", "--config", str(config)]))
    other = resolve_settings(build_parser().parse_args(["train", "--model", "fcrn"]))
    assert other["model_args"] == {}


def test_module_entry_point_prints_help():
    out = subprocess.run(
        [sys.executable, "-m", "depthnb", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for command in ("download", "train", "evaluate", "predict", "bench", "export", "exercises"):
        assert command in out.stdout


def test_train_on_a_real_dataset_through_the_decode_once_cache(tmp_path, monkeypatch, capsys):
    from fixture_writers import (
        patterned_depths,
        patterned_images,
        write_nyu_mat,
        write_splits_mat,
    )

    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    mat = write_nyu_mat(
        tmp_path / "nyu_depth_v2_labeled.mat",
        patterned_images(6, 48, 64),
        patterned_depths(6, 48, 64),
    )
    write_splits_mat(tmp_path / "splits.mat", train=[1, 2, 3, 4], test=[5, 6])
    out = tmp_path / "run"
    tiny = ["--size", "32", "48", "--epochs", "1", "--batch-size", "2", "--no-progress"]
    widths = ["--model-args", '{"filters": [2, 4, 8, 8, 8]}']
    command = ["train", "--data", "nyu", "--data-root", str(mat), "--cache", *tiny, *widths]
    assert main([*command, "--out-dir", str(out)]) == 0
    meta = json.loads((tmp_path / "data" / "cache" / "nyu-train-32x48" / "meta.json").read_text())
    assert meta["length"] == 4 and meta["size"] == [32, 48]
    assert (out / "best.pt").is_file() and "2 held-out" in capsys.readouterr().out


def test_every_training_setting_is_a_flag_and_a_config_key(tmp_path):
    from dataclasses import fields

    from depthnb.train import TrainConfig

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    flags = {option for action in train._actions for option in action.option_strings}
    for field in fields(TrainConfig):
        assert "--" + field.name.replace("_", "-") in flags, field.name
        assert field.name in MAIN_JOB
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"batch_size": 3, "schedule": "step", "step_epochs": 4}))
    settings = resolve_settings(
        parser.parse_args(["train", "--config", str(config), "--gamma", "0.5", "--no-augment"])
    )
    assert settings["batch_size"] == 3 and settings["schedule"] == "step"
    assert settings["step_epochs"] == 4 and settings["gamma"] == 0.5 and not settings["augment"]
    plateau = resolve_settings(
        parser.parse_args(
            ["train", "--schedule", "plateau", "--patience", "1", "--batch-size", "5"]
        )
    )
    assert plateau["patience"] == 1 and plateau["batch_size"] == 5
    unclipped = resolve_settings(parser.parse_args(["train", "--clip-grad-norm", "none"]))
    assert unclipped["clip_grad_norm"] is None
    helps = {action.dest: action.help for action in train._actions}
    assert "momentum" in helps["momentum"].lower() and helps["log_every"]


@pytest.mark.parametrize(
    ("argv", "dest", "value"),
    [
        (["train", "--batch", "4"], "batch_size", 4),
        (["train", "--clip-grad", "1.5"], "clip_grad_norm", 1.5),
        (["train", "--out", "runs/x"], "out_dir", "runs/x"),
        (["evaluate", "a.pt", "--batch", "3"], "batch_size", 3),
        (["bench", "--batch", "2"], "batch_size", 2),
        (["predict", "a.pt", "photo.jpg", "--out", "depth"], "out_dir", "depth"),
        (["evaluate", "a.pt", "--crop", "densedepth"], "crop", "densedepth"),
    ],
)
def test_the_former_spellings_of_renamed_flags_still_work(argv, dest, value):
    """The command line's flags are part of the contract: --batch, --clip-grad and --out, the
    spellings before one name per setting, still reach the same setting (as argparse's unique
    prefixes of --batch-size, --clip-grad-norm and --out-dir; a new flag that shares such a
    prefix would break them, and this test)."""
    assert getattr(build_parser().parse_args(argv), dest) == value
