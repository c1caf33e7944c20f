"""Fixtures of the end-to-end tests: a CSMS feeding the platform simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from csms.app import Csms, running
from csms.config import load_settings
from simulators.platform.sim import PlatformSim, Secrets, serving
from tests.conftest import make_settings

SECRETS = Secrets("MA0000001", "op-secret", "1234567890abcdef", "abcdef1234567890",
                  "sig-secret-0001", "MA0000002", "platform-secret")


def platform_settings(url: str, **extra: Any) -> dict[str, Any]:
    """[platform] pointing at the simulator, with quick retries for the tests."""
    return {"enabled": True, "url": url, "operator_id": SECRETS.operator_id,
            "operator_secret": SECRETS.operator_secret, "data_secret": SECRETS.data_secret,
            "data_iv": SECRETS.data_iv, "sig_secret": SECRETS.sig_secret,
            "platform_id": SECRETS.platform_id, "platform_secret": SECRETS.platform_secret,
            "retry_interval_s": 0.3, "poll_interval_s": 0.5, "timeout_s": 2.0, **extra}


@dataclass
class Rig:
    csms: Csms
    sim: PlatformSim

    @property
    def evcs(self) -> str:
        return f"http://127.0.0.1:{self.csms.api_port}/evcs/v1"


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    sim = PlatformSim(SECRETS)
    async with serving(sim) as url:
        base = make_settings(database_url)
        settings = load_settings(None, **{
            **base.model_dump(mode="json", exclude={"platform"}),
            "platform": platform_settings(url, send_alarms=True)})
        async with running(settings) as app:
            yield Rig(app, sim)


