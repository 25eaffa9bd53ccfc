"""The full-mode rehearsal: every lesson run top to bottom in FULL mode, offline.

What a student gets in Colab, with only the counts cut (``DEPTHNB_REHEARSAL=1``: steps, epochs,
images; the code paths, models and image sizes are full mode's):

- ``DEPTHNB_MIRROR`` points every registry download at a server on 127.0.0.1 serving the
  datasets and published networks in their real formats (``rehearsal_fixtures.write_mirror``);
- torchvision's weights cache (``TORCH_HOME``) holds random ImageNet weights under the real file
  names, so ``pretrained=True`` loads them;
- each lesson gets a fresh, empty ``DEPTHNB_DATA`` (a new Colab VM: nothing from an earlier
  lesson), and ``DEPTHNB_QUICK`` is unset;
- one torch thread per process unless ``OMP_NUM_THREADS`` says otherwise: on two cores shared with
  DataLoader workers (and, in CI, other jobs) a second intra-op thread made lesson 06 2.5 times
  slower (399 s against 161 s, load 3 to 6).

Every cell must run; each lesson's wall time and peak memory are measured (peak below 10 GB and
below the RAM the lesson states at its top, ``depthnb.course.budgets``) and printed as a table at
the end of the run. The registry files the mirror served to a lesson must be exactly the downloads
its budget states (torchvision's weights come from the seeded cache, so they are not compared).
One lesson: ``pytest tests/test_rehearsal.py -k 07_nyu_evaluation``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from published_writers import seed_torchvision_cache
from rehearsal_fixtures import MirrorServer, format_rows, registry_names, write_mirror

from depthnb.course.budgets import BUDGETS, TORCHVISION_BYTES

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
"""Every lesson (tests/test_notebooks_meta.py holds the list of their names)."""
PEAK_LIMIT_MB = 10 * 1024  # Colab's free VM has 12.7 GB
LESSON_TIMEOUT_S = 900

pytestmark = [pytest.mark.slow, pytest.mark.rehearsal]


@pytest.fixture(scope="session")
def rehearsal(tmp_path_factory):
    """The served mirror and the seeded torch cache: the environment every lesson runs in."""
    base = tmp_path_factory.mktemp("rehearsal")
    mirror = write_mirror(base / "mirror")
    seed_torchvision_cache(base / "torch")
    env = {k: v for k, v in os.environ.items() if k != "DEPTHNB_QUICK"}
    env.update(
        DEPTHNB_REHEARSAL="1",
        TORCH_HOME=str(base / "torch"),
        HF_HUB_OFFLINE="1",
        NO_PROXY="127.0.0.1,localhost",
        MPLBACKEND="Agg",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    with MirrorServer(mirror) as server:
        env["DEPTHNB_MIRROR"] = server.url
        yield base, env, server
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_in_full_mode(lesson, rehearsal, rehearsal_rows):
    base, env, server = rehearsal
    served_before = len(server.served)
    data = base / f"data-{lesson}"
    result_file = base / f"{lesson}.json"
    notebook = ROOT / "notebooks" / f"{lesson}.ipynb"
    runner = Path(__file__).with_name("rehearsal_runner.py")
    subprocess.run(
        [sys.executable, str(runner), str(notebook), str(result_file)],
        env={**env, "DEPTHNB_DATA": str(data)},
        timeout=LESSON_TIMEOUT_S + 60,
        check=False,
    )
    result = json.loads(result_file.read_text())
    rehearsal_rows.append(result)
    (base.parent / "rehearsal_table.txt").write_text(format_rows(rehearsal_rows) + "\n")
    seconds, peak = result["seconds"], result["peak_tree_mb"]
    print(f"\n{lesson}: {seconds:.0f} s, peak {peak} MB; seconds per cell (index, s):")
    print(result["cells"])
    assert result["error"] is None, f"{lesson} failed in full mode:\n{result['error']}"
    peak = max(result["peak_tree_mb"], result["peak_process_mb"])
    assert peak < PEAK_LIMIT_MB, f"{lesson} peaked at {peak} MB (limit {PEAK_LIMIT_MB} MB)"
    stated_mb = BUDGETS[lesson[:2]].ram_gb * 1000
    assert peak < stated_mb, f"{lesson} peaked at {peak} MB; its budget states {stated_mb:.0f} MB"
    served = registry_names(server.served[served_before:])
    stated = set(BUDGETS[lesson[:2]].downloads) - set(TORCHVISION_BYTES)  # from TORCH_HOME here
    assert served == stated, (
        f"{lesson} fetched {sorted(served)} from the mirror; its budget states {sorted(stated)}"
    )
    shutil.rmtree(data, ignore_errors=True)  # passed: its downloads and runs may go
