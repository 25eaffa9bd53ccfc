"""Run one lesson top to bottom in a fresh kernel; write its time, peak memory and error as JSON.

    python tests/rehearsal_runner.py notebooks/06_training.ipynb result.json

The kernel inherits this process's environment (the rehearsal sets it). Run in a process of its
own per lesson, so that ``getrusage(RUSAGE_CHILDREN)`` sees only this lesson's kernel and its
DataLoader workers. Peak memory is reported two ways: the largest single process
(``ru_maxrss``, exact) and the largest total of the whole process tree, polled every 0.1 s, as
the sum of each process's proportional set size (PSS: a page shared by forked workers is split
among them, so the sum is the memory the tree holds; RSS where PSS cannot be read).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


class TreeMemory(threading.Thread):
    """Polls the summed PSS of this process's descendants; ``peak`` is the largest seen (bytes)."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self.done = interval, 0, threading.Event()
        self.at_peak: list[int] = []  # each process's share at the peak, largest first
        self.cell, self.cell_at_peak = -1, -1  # the code cell running (index in the notebook)

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.wait(self.interval):
            sizes = []
            for child in me.children(recursive=True):
                try:
                    sizes.append(proportional_size(child))
                except psutil.Error:
                    pass  # ended between the listing and the reading
            if sum(sizes) > self.peak:
                self.peak, self.at_peak = sum(sizes), sorted(sizes, reverse=True)
                self.cell_at_peak = self.cell


def proportional_size(process: psutil.Process) -> int:
    """PSS of ``process`` in bytes (Linux ``smaps_rollup``), else its RSS."""
    try:
        return process.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return process.memory_info().rss


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """Seconds the kernel spent on a code cell, from nbclient's timing metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0

    def parse(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds()


def run(notebook: Path, timeout: int = 900) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    memory = TreeMemory()
    client.on_cell_execute = lambda cell, cell_index: setattr(memory, "cell", cell_index)
    memory.start()
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as failure:
        error = str(failure)
    except Exception as failure:  # a dead kernel, a timeout: report, do not hide
        error = f"{type(failure).__name__}: {failure}"
    seconds = time.perf_counter() - start
    memory.done.set()
    memory.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    cells = [
        (index, round(cell_seconds(cell), 1))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]
    return {
        "lesson": notebook.stem,
        "seconds": round(seconds, 1),
        "peak_process_mb": round(children / 2**20),
        "peak_tree_mb": round(memory.peak / 2**20),
        "cell_at_peak": memory.cell_at_peak,
        "processes_at_peak_mb": [round(size / 2**20) for size in memory.at_peak],
        "cells": cells,
        "error": error,
        "load": os.getloadavg(),
    }


if __name__ == "__main__":
    result = run(Path(sys.argv[1]))
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1))
    sys.exit(1 if result["error"] else 0)
