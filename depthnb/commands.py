"""The bodies of the command-line subcommands of :mod:`depthnb.cli` (download, train, evaluate,
predict, bench; export lives in :mod:`depthnb.deploy.command`), and the output helpers they share
(the metrics table's columns, PNG writing, the held-out prediction figure)."""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depthnb.errors import CheckpointError, ConfigError, DepthnbError, ModelError
from depthnb.files import atomic_write, atomic_write_text
from depthnb.jobs import (
    MAIN_JOB,
    build_datasets,
    check_job_settings,
    resolve_settings,
    train_config,
)

if TYPE_CHECKING:
    from depthnb.data.sources import RemoteFile

# ---------------------------------------------------------------------------------------------
# Commands


def cmd_train(args: argparse.Namespace) -> int:
    """Train; evaluate on held-out data beside the constant baseline; write checkpoints, figure."""
    settings = resolve_settings(args)
    _make_out_dir(Path(settings["out_dir"]))  # a bad --out fails now, not after an epoch
    start = time.perf_counter()
    trainer = _job_trainer(settings)
    model, train, held_out = trainer.model, trainer.train_data, trainer.val_data
    rendered = time.perf_counter() - start
    if settings["resume"]:
        trainer.resume(settings["resume"])
    say = print if trainer.is_main else (lambda *a, **k: None)
    say(
        f"depthnb train: {settings['model']} on {settings['data']} "
        f"{settings['size'][0]}x{settings['size'][1]}, "
        f"{len(train)} training / {len(held_out)} held-out images, device {trainer.device}, "
        f"{trainer.dist.world_size} process(es), data ready in {rendered:.0f} s"
    )
    trainer.fit()
    if not trainer.is_main:
        return 0
    trained = time.perf_counter() - start - rendered
    summary = {
        "settings": settings,
        "data_seconds": rendered,
        "train_seconds": trained,
        "device": str(trainer.device),
        **_final_scores(model, train, held_out, settings["batch_size"], trainer.device),
        "history": trainer.history,
    }
    summary["seconds"] = time.perf_counter() - start
    out = Path(settings["out_dir"])
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2, default=str))
    scores, baseline = summary["metrics"], summary["baseline"]
    caption = (
        f"held-out delta1 {scores['delta1']:.3f}, abs_rel {scores['abs_rel']:.3f}; the constant "
        f"{summary['baseline_depth_m']:.2f} m: delta1 {baseline['delta1']:.3f}, "
        f"abs_rel {baseline['abs_rel']:.3f}"
    )
    figure = save_prediction_figure(model, held_out, out / "predictions.png", caption=caption)
    print(
        f"wrote {out / 'best.pt'}, {out / 'last.pt'}, {out / 'metrics.json'}, {figure} "
        f"in {summary['seconds']:.0f} s"
    )
    return 0


def _make_out_dir(out: Path) -> None:
    """Create the output folder ``--out``; a ConfigError if a file is in the way (other refusals,
    a read-only or missing parent, are the operating system's errors, reported by the CLI)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {out}: is a file; name a folder for the results") from None


def _job_trainer(settings: dict[str, Any]) -> Any:
    """The Trainer of a job: the synthetic U-Net recipe for the U-Net on synthetic rooms (rooms
    rendered once into memory, the output bias started at their median depth), else the model and
    datasets the settings name."""
    from depthnb.models import build_model
    from depthnb.train import Trainer, synthetic_unet_trainer

    model_args = dict(settings["model_args"])
    if settings["pretrained"]:
        model_args["pretrained"] = True
    config = train_config(settings)
    if settings["model"] == "unet" and settings["data"] == "synthetic":
        return synthetic_unet_trainer(
            tuple(settings["size"]),
            scenes=settings["train_scenes"],
            val_scenes=settings["val_scenes"],
            val_seed=settings["val_seed"],
            model_args=model_args,
            on_epoch_end=_print_epoch,
            **config.to_dict(),
        )
    model = build_model(settings["model"], **model_args)
    train, held_out = build_datasets(settings)
    return Trainer(model, train, held_out, config, on_epoch_end=_print_epoch)


def _final_scores(
    model: Any, train: Any, held_out: Any, batch_size: int, device: Any
) -> dict[str, Any]:
    """The trained model's held-out metrics (plain and flip-averaged) beside the constant
    baseline; prints them as a table."""
    from depthnb.metrics import evaluate, format_table
    from depthnb.train import ConstantDepth, median_depth

    scores = evaluate(model, held_out, batch_size=batch_size, device=device)
    flipped = evaluate(model, held_out, batch_size=batch_size, flip_tta=True, device=device)
    baseline_depth = median_depth(train)
    baseline = evaluate(
        ConstantDepth(baseline_depth), held_out, batch_size=batch_size, device=device
    )
    rows = {
        "model": scores,
        "model, flip TTA": flipped,
        f"constant {baseline_depth:.2f} m": baseline,
    }
    print(format_table(rows, published=False, columns=TABLE_COLUMNS))
    return {
        "metrics": scores,
        "metrics_flip_tta": flipped,
        "baseline": baseline,
        "baseline_depth_m": baseline_depth,
    }


def _print_epoch(trainer: Any, record: dict[str, Any]) -> None:
    """One line per epoch: the log of a run (progress bars vanish from log files)."""
    from tqdm.auto import tqdm

    shown = " ".join(
        f"{key} {record[key]:.4f}"
        for key in ("train_loss", "val_loss", "abs_rel", "delta1")
        if key in record
    )
    tqdm.write(
        f"epoch {record['epoch']}/{trainer.config.epochs}: {shown}, lr {record['lr']:.2e}, "
        f"{record['images_per_s']:.1f} images/s"
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print the metrics of a checkpoint or a published network on held-out data.

    On ``--data nyu-eigen-test`` the protocol is DenseDepth's own (``evaluate.py``): the network
    sees each 480x640 image at its training size, the prediction is decoded, upsampled to 480x640
    and averaged with the mirrored image's, cropped to the file's Eigen crop, and pooled; the row
    prints beside the published ones.
    """
    from depthnb.metrics import evaluate, format_table
    from depthnb.models import list_pretrained, load_pretrained
    from depthnb.predict import load_checkpoint
    from depthnb.train import resolve_device

    named = args.checkpoint in list_pretrained()
    model = load_pretrained(args.checkpoint) if named else load_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    if args.data == "nyu-eigen-test":
        from depthnb.data import NYUEigenTest
        from depthnb.notebook import default_data_dir

        path = args.data_root or default_data_dir() / "nyu" / "nyu_test.zip"
        held_out = NYUEigenTest(path)
        scores = evaluate(
            model.to(device),
            held_out,
            batch_size=args.batch,
            flip_tta=True,
            crop=args.crop or held_out.crop,
            device=device,
            input_size=model.input_size,
        )
        print(
            f"{args.checkpoint}: {path}, {len(held_out)} images, DenseDepth's protocol (input "
            f"{model.input_size or 'as stored'}, upsampled to 480x640, flip averaging, crop "
            f"{args.crop or held_out.crop}, pooled; abs_rel with gt in the denominator)"
        )
        print(format_table({args.checkpoint: scores}))
        if named:
            _print_difference(args.checkpoint, scores)
        return 0
    settings = dict(MAIN_JOB)
    settings["size"] = list(args.size or model.input_size or MAIN_JOB["size"])
    for key in ("data", "data_root", "val_scenes", "val_seed", "limit"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["train_scenes"] = 1
    check_job_settings(settings)
    _, held_out = build_datasets(settings)
    scores = evaluate(
        model.to(device),
        held_out,
        batch_size=args.batch,
        flip_tta=args.flip_tta,
        crop=args.crop,
        device=device,
    )
    print(
        f"{args.checkpoint}: {settings['data']} held-out, {len(held_out)} images"
        f"{', flip TTA' if args.flip_tta else ''}{', crop ' + args.crop if args.crop else ''}"
    )
    print(
        format_table({Path(args.checkpoint).name: scores}, published=False, columns=TABLE_COLUMNS)
    )
    return 0


def _print_difference(name: str, scores: dict[str, float]) -> None:
    """Our row minus the published row the network ``name`` is reported to give, if it has one."""
    from depthnb.metrics import PUBLISHED
    from depthnb.models import PRETRAINED

    row = PRETRAINED[name].published
    if row is None:
        return
    gaps = ", ".join(f"{key} {scores[key] - value:+.4f}" for key, value in PUBLISHED[row].items())
    print(f"ours - {row}: {gaps}")


def cmd_predict(args: argparse.Namespace) -> int:
    """Write ``<name>_depth.png`` (plasma colours) and ``<name>_depth.npy`` (metres) per image."""
    import numpy as np

    from depthnb.data.photo import open_image
    from depthnb.predict import load_checkpoint, predict_depth
    from depthnb.train import resolve_device
    from depthnb.viz import colorize

    model = load_checkpoint(args.checkpoint).to(resolve_device(args.device))
    out = Path(args.out)
    _make_out_dir(out)
    paths = [Path(name) for name in args.images]
    for path, stem in zip(paths, output_stems(paths)):
        photo = open_image(path)  # upright (EXIF), RGB by its mode's range, a pixel limit
        depth = predict_depth(model, photo, flip_tta=args.flip_tta, max_side=args.max_side)
        if not np.isfinite(depth).all():
            raise _not_finite(args.checkpoint, path, model)
        if stem != path.stem:
            print(f"{path}: another image is named {path.stem} too; writing {stem}_depth.*")
        png, npy = out / f"{stem}_depth.png", out / f"{stem}_depth.npy"
        atomic_write(png, functools.partial(_save_png, colorize(depth)))
        atomic_write(npy, functools.partial(np.save, arr=depth))
        print(
            f"{path}: {depth.shape[1]}x{depth.shape[0]}, "
            f"depth {depth.min():.2f}..{depth.max():.2f} m "
            f"-> {png}, {npy}"
        )
    return 0


def output_stems(paths: Sequence[Path]) -> list[str]:
    """One output name per input image: its file stem, with ``-2``, ``-3``, ... added where a stem
    is taken already (``a/x.jpg``, ``b/x.png`` -> ``x``, ``x-2``; compared ignoring case, as on
    the file systems of Windows and macOS)."""
    taken: set[str] = set()
    stems = []
    for path in paths:
        stem, count = path.stem, 1
        while stem.lower() in taken:
            count += 1
            stem = f"{path.stem}-{count}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def _not_finite(checkpoint: str, path: Path, model: Any) -> DepthnbError:
    """The error for a prediction with NaN or infinite depth: the checkpoint's weights, if they
    are not finite (a diverged training), else the model's arithmetic."""
    import torch

    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return CheckpointError(
            f"{checkpoint}: its weights hold NaN or infinite values (its training diverged), so "
            f"the depth of {path} is NaN; use a checkpoint of a run that did not diverge "
            "(train again with a lower --lr)"
        )
    return ModelError(
        f"{checkpoint}: predicted NaN or infinite depth for {path}; the model overflowed on this "
        "image (try --device cpu, or another checkpoint)"
    )


def cmd_download(args: argparse.Namespace) -> int:
    """Download a dataset with :func:`depthnb.data.download_dataset` and print where it is, or
    with ``--list`` print every registry file (datasets and published weights), its size and
    sources."""
    from depthnb.data import download_dataset

    if args.list:
        print(registry_listing())
        return 0
    if not args.name:
        raise ConfigError("download: name a dataset, or pass --list to see them all")
    print(download_dataset(args.name, args.root))
    return 0


def _files_listing(files: Sequence[RemoteFile]) -> list[str]:
    """A registry entry's total size, then each file with its size and sources, one a line."""
    from depthnb.data.sources import describe_size

    lines = []
    for remote in files:
        lines.append(f"    {remote.filename}  {describe_size(remote)}")
        lines += [f"      {url}" for url in remote.sources()]
        lines += [f"      (in a browser) {page}" for page in remote.pages]
    return lines


def _total(files: Sequence[RemoteFile]) -> str:
    from depthnb.data.sources import RemoteFile, describe_size

    exact = all(f.size is not None for f in files)
    total = sum(f.expected_bytes or 0 for f in files)
    return describe_size(RemoteFile("", "", size=total if exact else None, approx_size=total))


def registry_licences() -> list[tuple[str, str, str]]:
    """(name, size, licence) of every dataset and published network in the registries, datasets
    first: the table ``download --list`` opens with and the course guide shows."""
    from depthnb.data.download import DATASETS
    from depthnb.models.pretrained import PRETRAINED

    rows = [(spec.name, _total(spec.files), spec.licence) for spec in DATASETS.values()]
    for network in PRETRAINED.values():
        size = _total(network.files) if network.files else "shipped"
        rows.append((network.name, size, network.licence))
    return rows


def _licence_table() -> list[str]:
    rows = [("name", "size", "licence"), *registry_licences()]
    name_width = max(len(row[0]) for row in rows)
    size_width = max(len(row[1]) for row in rows)
    return [f"  {n:<{name_width}}  {s:>{size_width}}  {licence}" for n, s, licence in rows]


def registry_listing() -> str:
    """What ``python -m depthnb download --list`` prints: a table of every dataset and published
    network (name, size, licence), then each one's files, their sizes, and the sources tried in
    order (``$DEPTHNB_MIRROR`` first)."""
    from depthnb.data.download import DATASETS
    from depthnb.data.sources import MIRROR_ENV
    from depthnb.models.pretrained import PRETRAINED

    lines = ["What the course can fetch, and the terms it comes under:", *_licence_table(), ""]
    lines += [f"Datasets (python -m depthnb download NAME; sources tried in order, {MIRROR_ENV} "]
    lines[-1] += "first when set):"
    for spec in DATASETS.values():
        lines.append(f"  {spec.name}  {_total(spec.files)}  {spec.description}")
        lines += _files_listing(spec.files)
    lines.append("Published weights (depthnb.models.load_pretrained(NAME) downloads them once):")
    for network in PRETRAINED.values():
        size = _total(network.files) if network.files else "shipped with the package"
        lines.append(f"  {network.name}  {size}  {network.description}")
        lines += _files_listing(network.files)
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    """Print training images/s (and peak GPU memory) of a model at a size and batch."""
    from depthnb.models import build_model
    from depthnb.train import measure_throughput, resolve_device

    model = build_model(args.model or "unet", **(args.model_args or {}))
    device = resolve_device(getattr(args, "device", "auto"))
    result = measure_throughput(
        model,
        batch_size=args.batch,
        size=tuple(args.size),
        steps=args.steps,
        device=device,
        precision=getattr(args, "precision", "auto"),
        channels_last=getattr(args, "channels_last", False),
        compile=getattr(args, "compile", False),
    )
    print(
        f"{model.name} {args.size[0]}x{args.size[1]} batch {args.batch} on {device} "
        f"({result['precision']}{', channels_last' if result['channels_last'] else ''}): "
        f"{result['images_per_s']:.1f} images/s, {result['step_ms']:.0f} ms/step"
        + (f", peak memory {result['peak_memory_mb']:.0f} MiB" if result["peak_memory_mb"] else "")
    )
    return 0


# ---------------------------------------------------------------------------------------------
# Output helpers


def _save_png(rgb: Any, file: Any) -> None:
    """Write an (H,W,3) uint8 array to an open binary file as PNG."""
    from PIL import Image

    Image.fromarray(rgb).save(file, format="PNG")


#: The metrics the command line prints.
TABLE_COLUMNS = ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10")


def save_prediction_figure(
    model: Any, dataset: Any, path: Path, rows: int = 4, caption: str = ""
) -> Path:
    """PNG of ``rows`` held-out samples: rgb | ground truth | prediction | abs. relative error,
    under a title that adds ``caption`` (the main job's: its scores beside the constant's)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from depthnb.predict import predict_depth

    rows = min(rows, len(dataset))
    fig, axes = plt.subplots(rows, 4, figsize=(12, 2.4 * rows + 0.6), squeeze=False)
    for row in range(rows):
        sample = dataset[row * max(1, len(dataset) // rows)]
        gt = sample["depth"][0].numpy()
        pred = predict_depth(model, sample["image"])
        error = np.abs(pred - gt) / np.maximum(gt, 1e-3)
        vmax = float(max(gt.max(), np.percentile(pred, 99)))
        panels = [
            (sample["image"].permute(1, 2, 0).numpy(), "image", {}),
            (gt, "ground truth (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (pred, "prediction (m)", {"cmap": "plasma", "vmin": 0, "vmax": vmax}),
            (error, "|pred - gt| / gt", {"cmap": "magma", "vmin": 0, "vmax": 0.3}),
        ]
        for ax, (picture, title, style) in zip(axes[row], panels):
            shown = ax.imshow(picture, **style)
            ax.set_title(title)
            ax.set_xlabel("u (pixels)")
            ax.set_ylabel("v (pixels)")
            if style:
                fig.colorbar(shown, ax=ax, fraction=0.035)
    title = f"{getattr(model, 'name', 'model')}: held-out predictions"
    fig.suptitle(f"{title}\n{caption}" if caption else title)
    fig.tight_layout()
    try:
        atomic_write(path, lambda file: fig.savefig(file, format="png"))
    finally:
        plt.close(fig)
    return path
