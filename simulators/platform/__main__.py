"""``python -m simulators.platform``: the municipal platform of :mod:`simulators.platform.sim`."""

from simulators.platform.sim import main

main()
