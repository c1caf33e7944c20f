"""Waiting for asynchronous effects without fixed sleeps: poll a condition until a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout_s: float = 5.0,
    poll_s: float = 0.005,
    what: str = "condition",
) -> None:
    """Return as soon as ``predicate()`` is true; raise :class:`TimeoutError` at the deadline.

    The predicate is checked first without waiting, then every ``poll_s`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} not met within {timeout_s} s")
        await asyncio.sleep(poll_s)
