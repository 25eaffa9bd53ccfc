"""``python -m depthnb download|train|evaluate|predict|bench|export|exercises``: see
:mod:`depthnb.cli.main`."""

import sys

from depthnb.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
