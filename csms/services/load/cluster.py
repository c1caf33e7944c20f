"""Load management across a cluster: one owner per site, anywhere (ARCHITECTURE property 6).

Rules:
1. Every node runs load management; a node runs a site's passes only while it owns the
   site (csms.store.load.owners): a lease row valid for ``HELD_SHARE`` (0.8) of
   ``[load] owner_lease_s``, renewed every tenth of it, with a fencing token that every
   write of the owner names.
2. Every tenth of a lease a node renews what it holds and takes sites that have no live
   owner, up to its fair share: the enabled sites divided by the nodes that own any (and
   itself), rounded up. A dead node's rows end within 0.8 of a lease of its death, and
   its sites are taken within a tenth of a lease after that: ``owner_lease_s`` bounds the
   takeover (0.9 of it, plus one look).
3. A node that takes a site restores the last owner's memory of it (csms.services.
   load_memory) and runs a pass at once; it forgets the stations that connected anywhere
   since that memory was written (their safe shares are sent again).
4. A node whose renewal fails (the database is unreachable, or another node's token is on
   the site) stops allocating the site as soon as its lease ends by its own clock, whether
   or not it can reach the database: a partitioned node does not keep allocating. Passes
   already running end with a fenced write that fails; the site is then dropped.
5. The events that trigger a pass happen on the node that holds the charger; that node
   broadcasts them (csms.services.commands.bus rule 6) as ``load`` messages, and the owner
   queues the site. A connector's status goes out only when another node owned the
   charger's site at the last look (:attr:`SiteOwnership.elsewhere`): a site without load
   management, or one this node owns, needs nobody else (a site changing hands meanwhile
   gets a pass from its new owner at once, rule 3). Draws come from the meter values in
   the shared database, read by every pass of the owner.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import structlog

from csms.store.load.owners import Ownership, SiteOwners

log = structlog.get_logger(__name__)
LOOKS_PER_LEASE = 10
HELD_SHARE = 0.8  # of owner_lease_s: how long a renewed or taken row is valid
TOPIC = "load"


class SiteOwnership:
    """The sites this node owns (module rules 1, 2 and 4)."""

    def __init__(self, owners: SiteOwners, node: str, clock: Callable[[], datetime],
                 lease_s: float) -> None:
        self.owners = owners
        self.node = node
        self._clock = clock
        self._lease = timedelta(seconds=lease_s * HELD_SHARE)
        self.held: dict[int, Ownership] = {}
        self.elsewhere: set[int] = set()  # sites another node owned at the last look
        self.interval_s = lease_s / LOOKS_PER_LEASE

    def token(self, site_id: int) -> int | None:
        """The fencing token this node holds the site under now, None if it does not."""
        held = self.held.get(site_id)
        if held is None or held.expires_at <= self._clock():
            return None
        return held.token

    def lost(self, site_id: int) -> None:
        """A fenced write failed: another node owns the site now."""
        if self.held.pop(site_id, None) is not None:
            log.warning("load.site_lost", site_id=site_id, node=self.node)

    async def look(self, sites: Iterable[int]) -> list[Ownership]:
        """Renew and take (rule 2); the sites taken by this look.

        Raises: whatever the database raises (the caller logs it; rule 4 holds anyway).
        """
        now = self._clock()
        renewed = await self.owners.renew(
            self.node, {s: o.token for s, o in self.held.items()}, now, self._lease)
        for site_id in [s for s in self.held if s not in renewed]:
            self.lost(site_id)
        for site_id, until in renewed.items():
            held = self.held[site_id]
            self.held[site_id] = Ownership(site_id, held.node, held.token, until)
        wanted = set(sites)
        current = {o.site_id: o for o in await self.owners.owners()}
        self.elsewhere = {s for s, o in current.items()
                          if o.expires_at > now and o.node != self.node}
        owning = {o.node for o in current.values() if o.expires_at > now} | {self.node}
        fair = math.ceil(len(wanted) / len(owning))
        taken = []
        for site_id in sorted(wanted):
            if len(self.held) >= fair:
                break
            known = current.get(site_id)
            if site_id in self.held or (known is not None and known.expires_at > now):
                continue
            got = await self.owners.take(site_id, self.node, now, self._lease)
            if got is not None:
                self.held[site_id] = got
                taken.append(got)
                log.info("load.site_taken", site_id=site_id, node=self.node, token=got.token,
                         previous=None if known is None else known.node)
        for site_id in [s for s in self.held if s not in wanted]:  # disabled meanwhile
            del self.held[site_id]
        return taken

    async def release(self) -> None:
        """Hand every site back now (csms.store.load.owners rule 4)."""
        held, self.held = self.held, {}
        await self.owners.release(self.node, {s: o.token for s, o in held.items()},
                                  self._clock())


async def looking(ownership: SiteOwnership, sites: Callable[[], Awaitable[list[int]]],
                  on_taken: Callable[[Ownership], Awaitable[None]]) -> None:
    """Forever: a look every ``interval_s`` (rule 2), ``on_taken`` for each site taken."""
    while True:
        try:
            found = await sites()
            for taken in await ownership.look(found):
                await on_taken(taken)
        except Exception:  # rule 4: the leases run out by themselves
            log.exception("load.ownership_look_failed", node=ownership.node)
        await asyncio.sleep(ownership.interval_s)
