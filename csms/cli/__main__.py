"""``python -m csms.cli``: the ``csms`` command, as ``python -m csms``."""

import sys

from csms.cli import main

if __name__ == "__main__":
    sys.exit(main())
