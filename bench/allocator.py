"""Allocator benchmark: ``python -m bench.allocator``.

Times ``csms.smartcharging.allocate`` in the steady state (each call gets the previous
allocation, meter values included) for

1. 1,000 sessions on one site: a root and 5 feeders, scarce enough that some are paused;
2. 10,000 sessions across 500 sites (20 each, root + 2 feeders): one call per site.

3. the pure part of the load service's pass over those 500 sites: headroom from a
   profile, the limit tree, the static safe shares, the allocation, and the lease decision
   (which limits to send) for every session.

Prints the median and p99 time per call over a bounded number of repetitions. Pure CPU,
one process; the sessions come from a seeded generator.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from csms.smartcharging import Allocation, Node, SessionDemand, SiteTree, allocate
from csms.smartcharging.headroom import residential_profile
from csms.smartcharging.leases import Lease, LeasePolicy, needs_sending
from csms.smartcharging.site import (
    EvseSpec,
    SiteLimits,
    build_tree,
    guaranteed_w,
    headroom,
    safe_shares,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_site(
    rng: random.Random, site_id: str, sessions: int, feeders: int, first_id: int
) -> tuple[SiteTree, list[SessionDemand]]:
    """A site whose root allows about 60 % of its sessions at 7 kW (220 V, 32 A)."""
    full_w = 220.0 * 32
    root = Node(site_id, 0.6 * sessions * full_w)
    nodes = [root] + [
        Node(f"{site_id}/f{i}", 0.2 * sessions * full_w, site_id) for i in range(feeders)
    ]
    demands = [
        SessionDemand(
            first_id + i, nodes[rng.randrange(len(nodes))].node_id,
            rng.choice([16.0, 32.0, 32.0, 63.0]),
            T0 - timedelta(seconds=rng.randrange(36_000)),
            rng.choice([1, 1, 1, 3]), rng.choice([0, 0, 0, 1]),
            rng.choice([None, rng.uniform(0, 32)]),
        )
        for i in range(sessions)
    ]
    return SiteTree(site_id, tuple(nodes), 220.0), demands


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_calls(
    sites: Sequence[tuple[SiteTree, list[SessionDemand]]], rounds: int
) -> list[float]:
    """Seconds per allocate call, ``rounds`` steps of 10 s of every site."""
    previous: list[Allocation | None] = [None] * len(sites)
    samples: list[float] = []
    for step in range(rounds):
        now = T0 + timedelta(seconds=10 * step)
        for i, (tree, sessions) in enumerate(sites):
            start = time.perf_counter()
            previous[i] = allocate(tree, sessions, now, previous[i])
            samples.append(time.perf_counter() - start)
    return samples


def report(name: str, samples: Sequence[float], sessions: int) -> None:
    median, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(
        f"{name}: {len(samples)} calls, median {median * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms "
        f"per call ({median / sessions * 1e6:.2f} µs per session at the median)"
    )


def time_passes(sites: Sequence[tuple[SiteTree, list[SessionDemand]]], rounds: int
                ) -> list[float]:
    """Seconds per sweep of the load service's pure work over every site."""
    limits = SiteLimits(0, 800.0, 0.8, 1.0, 10_000.0, 220.0)
    profile = residential_profile(500_000.0)
    policy = LeasePolicy()
    previous: list[Allocation | None] = [None] * len(sites)
    leases: dict[int, Lease] = {}
    sweeps = []
    for step in range(rounds):
        now = T0 + timedelta(seconds=60 * step)
        start = time.perf_counter()
        for i, (tree, sessions) in enumerate(sites):
            head = headroom(limits, now, profile, None)
            build_tree(limits, head.available_w, ())
            evses = [EvseSpec(str(d.session_id), 1, d.max_a, d.phases) for d in sessions]
            safe_shares(build_tree(limits, guaranteed_w(limits, profile, 0.0), ()), evses, 0)
            previous[i] = allocation = allocate(tree, sessions, now, previous[i])
            for limit in allocation.limits:
                if needs_sending(leases.get(limit.session_id), "1", limit.limit_a, now,
                                 policy):
                    leases[limit.session_id] = Lease("1", limit.limit_a,
                                                     now + timedelta(seconds=policy.lease_s))
        sweeps.append(time.perf_counter() - start)
    return sweeps


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="calls on the big site")
    parser.add_argument("--fleet-rounds", type=int, default=10, help="sweeps over 500 sites")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    big = make_site(rng, "big", 1_000, 5, 0)
    report("1 site x 1,000 sessions (5 feeders)", time_calls([big], args.rounds), 1_000)
    fleet = [make_site(rng, f"s{i}", 20, 2, 1_000_000 + 20 * i) for i in range(500)]
    samples = time_calls(fleet, args.fleet_rounds)
    report("500 sites x 20 sessions", samples, 20)
    sweeps = [sum(samples[i : i + 500]) for i in range(0, len(samples), 500)]
    print(
        f"  10,000 sessions across 500 sites: median {statistics.median(sweeps) * 1e3:.1f} ms "
        f"per sweep of all sites ({len(sweeps)} sweeps)"
    )
    passes = time_passes(fleet, args.fleet_rounds)
    print(
        f"  load-service pure pass over 500 sites (headroom, tree, safe shares, allocation, "
        f"lease decisions): median {statistics.median(passes) * 1e3:.1f} ms per sweep"
    )


if __name__ == "__main__":
    main()
