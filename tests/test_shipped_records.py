"""The JSON records shipped with the package: the course U-Net's record names its file exactly and
holds settings that ``python -m depthnb train --config FILE`` accepts today, under today's names."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import fields
from pathlib import Path

import pytest

from depthnb.cli.main import build_parser
from depthnb.cli.train import JOB_DEFAULTS, MAIN_JOB, resolve_settings, train_config
from depthnb.errors import ConfigError
from depthnb.models import pretrained as registry
from depthnb.train import TrainConfig

#: Every JSON file shipped inside the package (package data: the weights' records).
RECORDS = sorted(Path(registry.__file__).parents[1].rglob("*.json"))
ROOT = Path(__file__).resolve().parent.parent


def _load_remaker():
    path = ROOT / "scripts" / "make_course_unet.py"
    spec = importlib.util.spec_from_file_location("make_course_unet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_shipped_weights_file_has_a_record():
    assert registry.WEIGHTS_DIR / "unet-synthetic.json" in RECORDS
    weights = {path.stem for path in registry.WEIGHTS_DIR.glob("*.pt")}
    assert {path.stem for path in RECORDS} == weights


@pytest.mark.parametrize("record_path", RECORDS, ids=[path.stem for path in RECORDS])
def test_record_names_its_file_exactly(record_path: Path):
    record = json.loads(record_path.read_text(encoding="utf-8"))
    weights = record_path.with_name(record["file"])
    assert weights.stat().st_size == record["bytes"]
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == record["sha256"]


@pytest.mark.parametrize("record_path", RECORDS, ids=[path.stem for path in RECORDS])
def test_record_settings_pass_the_config_flag(record_path: Path, tmp_path: Path):
    settings = json.loads(record_path.read_text(encoding="utf-8"))["settings"]
    trained = {field.name for field in fields(TrainConfig)}
    assert set(settings) <= trained | set(JOB_DEFAULTS), set(settings) - trained - set(JOB_DEFAULTS)

    config = tmp_path / "settings.json"
    config.write_text(json.dumps(settings), encoding="utf-8")
    args = build_parser().parse_args(["train", "--config", str(config)])
    resolved = resolve_settings(args)  # what `python -m depthnb train --config FILE` runs with
    assert {key: resolved[key] for key in settings} == settings
    training = train_config(resolved)
    for key in settings.keys() & trained:
        assert getattr(training, key) == settings[key], key


def test_an_old_setting_name_in_a_record_would_be_refused(tmp_path: Path):
    config = tmp_path / "old.json"
    config.write_text(json.dumps({"batch": 8, "clip_grad": None}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown settings \['batch', 'clip_grad'\]"):
        resolve_settings(build_parser().parse_args(["train", "--config", str(config)]))


def test_the_remaker_records_todays_setting_names():
    remaker = _load_remaker()
    recorded = remaker.recorded_settings(dict(MAIN_JOB))  # metrics.json holds the resolved job
    assert set(MAIN_JOB) - set(recorded) == {"out_dir", "resume", "progress"}
    with pytest.raises(ConfigError, match=r"the record's settings: unknown settings \['batch'\]"):
        remaker.recorded_settings({**MAIN_JOB, "batch": 8})
