"""``python -m depthnb download|train|evaluate|predict|bench``: see :mod:`depthnb.cli`."""

import sys

from depthnb.cli import main

if __name__ == "__main__":
    sys.exit(main())
