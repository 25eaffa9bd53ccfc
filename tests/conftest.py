"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Small forward passes: on a shared 2-core machine one thread is the fastest. A module
    opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_REHEARSAL_ROWS = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def rehearsal_rows(request) -> list:
    """Rows (lesson, seconds, peak MB, ...) that the full-mode rehearsal adds, one per lesson;
    printed as a table at the end of the run (and written beside the session's temporary files)."""
    return request.config.stash.setdefault(_REHEARSAL_ROWS, [])


def pytest_terminal_summary(terminalreporter, config):
    rows = config.stash.get(_REHEARSAL_ROWS, [])
    if not rows:
        return
    from rehearsal_fixtures import format_rows

    terminalreporter.write_sep("=", "full-mode rehearsal (DEPTHNB_REHEARSAL=1)")
    terminalreporter.write_line(format_rows(rows))
