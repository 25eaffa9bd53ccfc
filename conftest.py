"""Test-suite settings: quick mode and a headless plot backend, for the tests and the nbval kernels.

Set at import time so that the notebook kernels nbval starts inherit them.
"""

import os

os.environ["DEPTHNB_QUICK"] = "1"
os.environ["MPLBACKEND"] = "Agg"
