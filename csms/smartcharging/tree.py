"""The limit tree of a site: a root (the site's connection) with optional sub-circuits.

Rules:
1. Every node has a limit in W on the total power of the sessions below it. A limit given
   in A per phase is converted with ``Node.from_amps`` (``limit_a × voltage_v × phases``).
2. Exactly one root (no parent); every other node names an existing parent; no cycles.
3. Power of a session = ``limit_a × voltage_v × phases``; ``voltage_v`` is the site's
   phase voltage (230 V by default, 220 V where that is the local norm).
4. Per-phase balance inside a node is not modelled: a node's limit bounds the sum over
   all phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    limit_w: float
    parent_id: str | None = None

    @classmethod
    def from_amps(
        cls, node_id: str, limit_a: float, voltage_v: float, phases: int = 3,
        parent_id: str | None = None,
    ) -> Node:
        """A node whose limit is ``limit_a`` on each of ``phases`` phases at ``voltage_v``."""
        return cls(node_id, limit_a * voltage_v * phases, parent_id)


@dataclass(frozen=True, slots=True)
class SiteTree:
    """A site's nodes; ``paths`` maps each node to its ancestors, itself first, root last."""

    site_id: str
    nodes: tuple[Node, ...]
    voltage_v: float = 230.0
    paths: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.voltage_v <= 0:
            raise ValueError("voltage_v must be positive")
        by_id = {node.node_id: node for node in self.nodes}
        if len(by_id) != len(self.nodes):
            raise ValueError("duplicate node id")
        roots = [node for node in self.nodes if node.parent_id is None]
        if len(roots) != 1:
            raise ValueError("a site tree has exactly one root")
        for node in self.nodes:
            if node.limit_w < 0:
                raise ValueError(f"node {node.node_id}: negative limit")
            if node.parent_id is not None and node.parent_id not in by_id:
                raise ValueError(f"node {node.node_id}: unknown parent {node.parent_id}")
        object.__setattr__(self, "paths", {n: _path(n, by_id) for n in by_id})

    @property
    def root(self) -> Node:
        return next(node for node in self.nodes if node.parent_id is None)

    def limit_w(self, node_id: str) -> float:
        return next(node.limit_w for node in self.nodes if node.node_id == node_id)

    @classmethod
    def single(cls, site_id: str, limit_w: float, voltage_v: float = 230.0) -> SiteTree:
        """A site with only its root node, named after the site."""
        return cls(site_id, (Node(site_id, limit_w),), voltage_v)


def _path(node_id: str, by_id: dict[str, Node]) -> tuple[str, ...]:
    path = [node_id]
    parent = by_id[node_id].parent_id
    while parent is not None:
        if parent in path:
            raise ValueError(f"cycle through node {parent}")
        path.append(parent)
        parent = by_id[parent].parent_id
    return tuple(path)
