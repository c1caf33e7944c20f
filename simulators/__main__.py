"""``python -m simulators``: the same as ``csms-sim``."""

from simulators.cli import main

raise SystemExit(main())
