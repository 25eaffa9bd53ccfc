"""The command line: ``python -m depthnb download|train|evaluate|predict|bench|export|exercises``.

``python -m depthnb train`` with no arguments is the project's main job: it renders synthetic rooms
at 120x160, trains a U-Net on whatever device there is, evaluates it on held-out rooms (another
seed) beside a constant-depth baseline, and writes ``best.pt``, ``last.pt``, ``metrics.json`` and
``predictions.png`` to ``runs/main/``. Flags change the model, data, sizes and every training
setting (one option per :class:`depthnb.train.TrainConfig` field, named after it, see
:mod:`depthnb.cli.options`; a ``--config FILE.json`` holds the same keys, dashes as underscores)::

    python -m depthnb train --model densedepth --pretrained --data nyu-zip --size 480 640 \\
        --batch-size 8 --lr 1e-4 --epochs 20 --out-dir runs/densedepth
    torchrun --nproc_per_node=2 -m depthnb train --batch-size 8     # DDP on 2 GPUs
    python -m depthnb evaluate runs/main/best.pt
    python -m depthnb evaluate densedepth-nyu --data nyu-eigen-test   # the published weights
    python -m depthnb predict runs/main/best.pt photo.jpg --out-dir depth/
    python -m depthnb download nyu-labeled
    python -m depthnb download --list        # every file, its size and where it can be had
    python -m depthnb bench --model densedepth --size 480 640 --batch-size 8
    python -m depthnb exercises --student student/   # the lessons without their solutions

Each subcommand's module (:mod:`depthnb.cli.train`, ``evaluate``, ``predict``, ``download``,
``bench``, ``export``, ``exercises``) adds its own parser, options and handler
(``add_parser(subparsers)``); this module builds the top parser, dispatches, and turns errors into
exit codes.

A bad flag or value prints what was wrong on one line (``depthnb train: error: ...``) and exits
with status 2; missing or broken data, a refused path or a diverged training exit with 1,
Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence

from depthnb.cli import bench, download, evaluate, exercises, export, predict, train
from depthnb.errors import ArgumentError, CheckpointError, ConfigError, DepthnbError, ModelError

__all__ = ["build_parser", "main"]

#: The subcommands, in the order ``--help`` lists them: each module's ``add_parser(subparsers)``
#: adds its parser and sets its ``handler``.
SUBCOMMANDS = (download, train, evaluate, predict, bench, export, exercises)
COMMANDS = tuple(module.__name__.rsplit(".", 1)[-1] for module in SUBCOMMANDS)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`ConfigError` (printed by :func:`main`, exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands (each parsed namespace has the subcommand's
    ``handler``)."""
    parser = _Parser(prog="python -m depthnb", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in SUBCOMMANDS:
        module.add_parser(commands)
    return parser


#: errno values of an operating-system error about a path the user gave (a missing file, a
#: folder where a file was expected, no permission, a read-only or full disk, ...): reported as
#: one line, not a traceback.
_PATH_ERRNOS = frozenset(
    (
        errno.ENOENT,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.EEXIST,
        errno.ENOSPC,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    )
)


def _command_of(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (for the error line), or ``""`` before one is known."""
    return next((word for word in argv if word in COMMANDS), "")


def _path_error(error: OSError) -> str:
    """One line for an operating-system error about a path: the path, the reason, what to do."""
    path = error.filename if error.filename is not None else "a path"
    reason = error.strerror or str(error)
    if error.filename2 is not None:
        path = f"{path} -> {error.filename2}"
    advice = {
        errno.EROFS: "choose a writable folder (--out-dir, --root or $DEPTHNB_DATA)",
        errno.ENOSPC: "free some space or choose another folder",
        errno.EACCES: "check its permissions or choose another path",
        errno.EPERM: "check its permissions or choose another path",
    }.get(error.errno or 0, "check the path")
    return f"{path}: {reason}; {advice}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; returns the exit status: 2 for a bad flag, value, model or checkpoint,
    1 for other depthnb errors (missing or broken data, failed downloads, a diverged training) and
    for a path the operating system refused (missing, a folder, no permission, read-only, full),
    130 when interrupted (Ctrl-C). Errors print one line, ``depthnb COMMAND: error: ...``, on
    stderr; never a traceback."""
    words = list(sys.argv[1:] if argv is None else argv)
    prefix = " ".join(("depthnb", _command_of(words))).strip()
    try:
        args = build_parser().parse_args(words)
        return int(args.handler(args))
    except (ArgumentError, ConfigError, ModelError, CheckpointError) as error:  # a bad value
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    except DepthnbError as error:  # the data or a download failed, training diverged
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno not in _PATH_ERRNOS:
            raise
        print(f"{prefix}: error: {_path_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
