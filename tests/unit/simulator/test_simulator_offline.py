"""The reconnect schedule and the offline queue of the simulator, without a network."""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulators.behaviour.offline import Backoff, OfflineQueue, is_transaction_message


def test_backoff_is_exponential_capped_and_jittered_deterministically() -> None:
    """Ceilings double up to the cap; each delay lies in [0, ceiling]; a seed repeats."""
    backoff = Backoff(base_s=0.5, cap_s=10.0, max_attempts=10)
    ceilings = [backoff.ceiling(n) for n in range(10)]
    assert [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0] == ceilings
    delays = list(backoff.delays(random.Random(42)))
    assert 10 == len(delays)
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert delays == list(backoff.delays(random.Random(42)))
    assert delays != list(backoff.delays(random.Random(43)))
    assert max(delays[:2]) < max(delays[5:])  # later attempts wait longer
    many = [backoff.delay(6, random.Random(seed)) for seed in range(200)]
    assert max(many) <= 10.0
    assert min(many) < 2.0  # full jitter spans the range


def test_unbounded_backoff_keeps_going() -> None:
    delays = Backoff(base_s=1.0, cap_s=3.0).delays(random.Random(1))
    assert all(next(delays) <= 3.0 for _ in range(100))


@pytest.mark.parametrize(("action", "payload", "queued"), [
    ("StartTransaction", {}, True),
    ("StopTransaction", {}, True),
    ("TransactionEvent", {}, True),
    ("MeterValues", {"transactionId": 5}, True),
    ("MeterValues", {"evseId": 1}, False),
    ("StatusNotification", {}, False),
    ("Heartbeat", {}, False),
])
def test_only_transaction_messages_are_kept(action: str, payload: Any, queued: bool) -> None:
    assert queued == is_transaction_message(action, payload)


async def test_replay_is_in_order_marks_offline_and_remaps_provisional_ids() -> None:
    queue = OfflineQueue()
    started: list[Any] = []
    provisional = queue.provisional_id()
    queue.put("StartTransaction", {"connectorId": 1}, started.append, provisional)
    queue.put("MeterValues", {"transactionId": int(provisional)})
    queue.put("StopTransaction", {"transactionId": int(provisional)})
    queue.put("TransactionEvent", {"seqNo": 3})
    sent: list[tuple[str, Any]] = []

    async def send(action: str, payload: Any) -> Any:
        sent.append((action, dict(payload)))
        return {"transactionId": 77} if action == "StartTransaction" else {}

    await queue.replay(send)
    assert ["StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"] == [
        a for a, _ in sent]
    assert [77, 77] == [p["transactionId"] for _, p in sent[1:3]]
    assert {"seqNo": 3, "offline": True} == sent[3][1]
    assert [{"transactionId": 77}] == started
    assert 0 == len(queue)
    assert 4 == queue.replayed


async def test_an_unanswered_entry_is_sent_again_while_connected() -> None:
    """Module rule 4: a timeout is retried (the attempts of OCPP's transaction messages);
    the entry leaves the queue once answered, and the rest follow in order."""
    queue = OfflineQueue(retry_interval_s=0.0)
    queue.put("TransactionEvent", {"seqNo": 1})
    queue.put("TransactionEvent", {"seqNo": 2})
    sent: list[int] = []

    async def send(_action: str, payload: Any) -> Any:
        sent.append(payload["seqNo"])
        if len(sent) <= 2:  # the first entry's first two sends get no answer
            raise TimeoutError
        return {}

    await queue.replay(send)
    assert [1, 1, 1, 2] == sent
    assert (0, 2, 2) == (len(queue), queue.replayed, queue.retried)


async def test_an_entry_unanswered_at_every_attempt_stays_for_the_next_reconnect() -> None:
    queue = OfflineQueue(attempts=3, retry_interval_s=0.0)
    queue.put("StopTransaction", {"transactionId": 5})
    sent: list[str] = []

    async def send(action: str, _payload: Any) -> Any:
        sent.append(action)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await queue.replay(send)
    assert (3, 1, 0) == (len(sent), len(queue), queue.replayed)
