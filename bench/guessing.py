"""Password guessing against a running CSMS, and what it costs the honest chargers.

``python -m bench.guessing`` starts the CSMS (security profile 1, SQLite, pinned to CPU 0)
with honest chargers that hold Basic-auth passwords, and drives from this process (CPU 1):

1. a baseline: every honest charger sends Heartbeats at an open-loop rate (``--rate``
   calls/s in all); the round trip is measured from each call's scheduled send time;
2. an attack from one source address: ``--attempts`` WebSocket handshakes with wrong
   passwords for one registered id, ``--concurrency`` at a time, while the heartbeats go on;
3. the same from 50 source addresses (127.0.0.2 to 127.0.0.51, all loopback on Linux), each
   guessing at registered and unknown ids in turn, so only the per-address buckets hold;
4. after each attack: the right password for the attacked id, from the attacking address.

It prints the answers the attacker got (401, 429, other), the heartbeat p50/p99/max in each
phase, and a verdict per scenario: the honest chargers' p99 under attack within 2x of the
baseline's. Bounded: each phase has a duration or an attempt count and a deadline, and the
server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from bench.machine import free_port, pin_self
from bench.servers import ServerProcess, csms_executable

PASSWORD = "honest-password-0123"  # noqa: S105 - the bench's own chargers
TARGET = "CP-TARGET"
BOOT = {"chargePointVendor": "bench", "chargePointModel": "guessing"}


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)

    def line(self) -> str:
        if not self.samples:
            return "no samples"
        ordered = sorted(self.samples)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (f"{len(ordered)} calls, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                f"max {ordered[-1] * 1000:.1f} ms")

    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def basic(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def open_charger(port: int, station_id: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/{station_id}",
                       subprotocols=[Subprotocol("ocpp1.6")],
                       additional_headers=basic(station_id, PASSWORD), open_timeout=30)
    await ws.send(orjson.dumps([2, "boot", "BootNotification", BOOT]).decode())
    await ws.recv()
    return ws


async def heartbeats(chargers: list[ClientConnection], rate: float, stop: asyncio.Event,
                     into: list[Latencies]) -> None:
    """Open loop: call n is due at start + n / rate, on charger n mod len(chargers); each
    round trip goes into ``into[-1]`` (the current phase)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    locks = [asyncio.Lock() for _ in chargers]

    async def one(n: int, due: float) -> None:
        ws, lock = chargers[n % len(chargers)], locks[n % len(chargers)]
        async with lock:
            await ws.send(orjson.dumps([2, f"hb{n}", "Heartbeat", {}]).decode())
            await ws.recv()
        into[-1].samples.append(loop.time() - due)

    tasks: set[asyncio.Task[None]] = set()
    n = 0
    while not stop.is_set():
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        task = asyncio.create_task(one(n, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        await asyncio.wait(tasks, timeout=10)


async def attempt(port: int, station_id: str, password: str, source: str) -> str:
    """One handshake; the HTTP status that refused it, or "open" when it was let in."""
    try:
        ws = await connect(f"ws://127.0.0.1:{port}/{station_id}",
                           subprotocols=[Subprotocol("ocpp1.6")],
                           additional_headers=basic(station_id, password),
                           local_addr=(source, 0), open_timeout=30)
    except InvalidStatus as refused:
        return str(refused.response.status_code)
    except (OSError, TimeoutError, InvalidMessage) as exc:  # refused before any HTTP answer
        return type(exc).__name__
    await ws.close()
    return "open"


async def attack(port: int, attempts: int, concurrency: int, sources: list[str],
                 deadline_s: float, rate: float | None) -> Counter[str]:
    """``attempts`` handshakes, ``concurrency`` at a time, at most ``rate`` a second (None:
    as fast as the server answers)."""
    answers: Counter[str] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(attempts):
        queue.put_nowait(n)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            if rate is not None:
                await asyncio.sleep(max(0.0, start + n / rate - loop.time()))  # the pace
            source = sources[n % len(sources)]
            # one address: always the target; many: registered and unknown ids in turn
            station_id = TARGET if len(sources) == 1 else (
                f"CP-HONEST-{n % 5}" if n % 2 else f"CP-GUESS-{n}")
            answers[await attempt(port, station_id, f"wrong-{n}", source)] += 1

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    _, pending = await asyncio.wait(workers, timeout=deadline_s)
    for task in pending:
        task.cancel()
    if pending:
        answers["unfinished (deadline)"] += queue.qsize() + len(pending)
    return answers


async def preregister(config: Path, ids: list[str]) -> None:
    from csms import passwords
    from csms.app import store_only
    from csms.config import load_settings
    from csms.domain.model import RegistrationStatus

    hashed = passwords.hash_password(PASSWORD)
    async with store_only(load_settings(config)) as store:
        for station_id in ids:
            await store.add_station(station_id, RegistrationStatus.ACCEPTED, hashed)


def config_text(port: int, db: Path) -> str:
    return "\n".join([
        "[server]", 'host = "127.0.0.1"', f"port = {port}", "security_profile = 1",
        'unknown_charge_points = "reject"',
        "[database]", f'url = "sqlite+aiosqlite:///{db}"', 'sqlite_synchronous = "FULL"',
        "[api]", "enabled = false", "[logging]", 'level = "warning"', ""])


async def run(opts: argparse.Namespace) -> int:
    pin_self()
    tmp = Path(tempfile.mkdtemp(prefix="csms-guessing-"))
    port = free_port()
    config = tmp / "config.toml"
    config.write_text(config_text(port, tmp / "csms.db"))
    honest = [f"CP-HONEST-{n}" for n in range(opts.honest)]
    proc = await asyncio.create_subprocess_exec(
        csms_executable(), "--config", str(config), "db", "upgrade", cwd=tmp)
    await proc.wait()
    await preregister(config, [*honest, TARGET])
    server = ServerProcess([csms_executable(), "--config", str(config), "run"],
                           tmp / "server.log", port)
    failed = 0
    try:
        await server.start()
        chargers = [await open_charger(port, station_id) for station_id in honest]
        print(f"{opts.honest} honest chargers connected; heartbeats at {opts.rate:g}/s")
        for name, sources in (("one address", ["127.0.0.1"]),
                              ("50 addresses", [f"127.0.0.{n}" for n in range(2, 52)])):
            phases = [Latencies()]
            stop = asyncio.Event()
            beat = asyncio.create_task(heartbeats(chargers, opts.rate, stop, phases))
            await asyncio.sleep(opts.baseline_s)  # the baseline phase lasts this long
            phases.append(Latencies())
            started = time.monotonic()
            answers = await attack(port, opts.attempts, opts.concurrency, sources,
                                   opts.attack_deadline_s, opts.attack_rate)
            took = time.monotonic() - started
            stop.set()
            await beat
            right = await attempt(port, TARGET, PASSWORD, sources[0])
            base, under = phases
            ratio = under.p99() / base.p99() if base.p99() else float("inf")
            verdict = "PASS" if ratio <= 2.0 else "FAIL"
            failed += verdict == "FAIL"
            pace = "as fast as answered" if opts.attack_rate is None else (
                f"at most {opts.attack_rate:g}/s")
            print(f"\n== {opts.attempts} wrong passwords from {name} "
                  f"({opts.concurrency} at a time, {pace}, {took:.1f} s)")
            print("  attacker got: " + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())))
            print(f"  then the right password for {TARGET} from {sources[0]}: {right}")
            print(f"  honest heartbeats, baseline:     {base.line()}")
            print(f"  honest heartbeats, under attack: {under.line()}")
            print(f"  p99 under attack / baseline: {ratio:.2f}x (target <= 2x): {verdict}")
            # let the buckets refill before the next scenario, as an attacker would have to
            await asyncio.sleep(opts.pause_s)
        for ws in chargers:
            with contextlib.suppress(Exception):
                await ws.close()
    finally:
        server.stop()
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--honest", type=int, default=20, help="honest chargers")
    parser.add_argument("--rate", type=float, default=100.0, help="heartbeats per second")
    parser.add_argument("--attempts", type=int, default=2000, help="wrong passwords")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes at a time")
    parser.add_argument("--attack-rate", type=float, default=None,
                        help="wrong passwords per second at most (default: no pause)")
    parser.add_argument("--baseline-s", type=float, default=10.0)
    parser.add_argument("--attack-deadline-s", type=float, default=120.0)
    parser.add_argument("--pause-s", type=float, default=5.0)
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
