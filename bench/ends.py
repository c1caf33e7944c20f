"""The store's cost of a session end, this tree beside ``--compare REV``, in one run.

    python -m bench.ends --chargers 500 --compare main      # about a minute

For each tree (the working tree, then REV extracted with ``git archive``) and each
``--db``: a fresh database, the evening network written by ``bench/evening_setup.py`` with
that tree's store code, then ``bench/end_cost.py`` with that tree's CSMS on ``PYTHONPATH``
(pinned to CPU 0): ``2 × --chargers`` sessions started, sampled and ended at once. Prints
ends per second, statements and thread hops per end, and the statements of one end.
``--rounds`` alternates the trees that many times (the machine is shared: the spread of
one tree's rounds shows how much of a difference is noise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.evening import Tree
from bench.evening_run import config_toml, two_ports
from bench.machine import REPO
from bench.servers import Database


async def _child(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[1]} failed ({proc.returncode}): {err.decode()[-1500:]}")
    return out.decode().strip().splitlines()[-1]


async def one(tree: Tree, db: str, chargers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="csms-ends-"))
    database = Database(db, tmp)
    config = tmp / "csms.toml"
    config.write_text(config_toml(*two_ports(), database.url))
    try:
        await database.create()
        await _child([sys.executable, str(REPO / "bench" / "evening_setup.py"), "--config",
                      str(config), "--chargers", str(chargers + 2), "--webhook-url",
                      "http://127.0.0.1:9/hook"], tree.env(), tmp, 120 + chargers / 10)
        line = await _child([sys.executable, str(REPO / "bench" / "end_cost.py"), "--config",
                             str(config), "--chargers", str(chargers)], tree.env(), tmp,
                            120 + chargers)
        result: dict[str, Any] = json.loads(line)
        return result
    finally:
        await database.drop()
        shutil.rmtree(tmp, ignore_errors=True)


async def run(chargers: int, dbs: list[str], compare: str | None, rounds: int
              ) -> list[tuple[str, str, dict[str, Any]]]:
    tmp = Path(tempfile.mkdtemp(prefix="csms-ends-trees-"))
    try:
        trees = [Tree("this tree", REPO)]
        if compare:
            trees.append(Tree.extract(compare, tmp / "compare"))
        results = []
        for db in dbs:
            for _ in range(rounds):
                for tree in trees:
                    print(f"  {tree.label} on {db} ...", flush=True)
                    results.append((tree.label, db, await one(tree, db, chargers)))
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ends", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chargers", type=int, default=500)
    p.add_argument("--db", default="sqlite", help="sqlite, postgres or sqlite,postgres")
    p.add_argument("--compare", default=None, metavar="REV")
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args(argv)
    results = asyncio.run(run(a.chargers, a.db.split(","), a.compare, a.rounds))
    print(f"\n{'tree':<26} {'db':<9} {'ends':>6} {'ends/s':>8} {'statements/end':>15} "
          f"{'hops/end':>9} {'µs per hop':>11}")
    for label, db, r in results:
        print(f"{label[:26]:<26} {db:<9} {r['ends']:>6} {r['ends_per_s']:>8,.1f} "
              f"{r['statements_per_end']:>15} {r['hops_per_end']:>9} {r['hop_wait_us']:>11}")
    label, _, first = results[0]
    print(f"\nthe statements of one end run alone ({label}, {first['alone']['statements']} "
          f"statements, {first['alone']['hops']} hops):")
    for statement, count in first["alone"]["list"].items():
        print(f"  {count} × {statement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
