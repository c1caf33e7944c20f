"""A charger's local authorization list: what to send to bring it up to date. Pure.

Rules:
1. The list a charger should hold is derived from the id-token table (see
   :mod:`csms.store.local_lists`); entries are keyed by
   :func:`csms.domain.authorization.token_key`.
2. The CSMS remembers what it last sent to each charger and the version that made
   (``sent``, ``version``). The difference between the wanted list and ``sent`` is exactly
   what changed since that version: new or changed tokens with their authorization, removed
   tokens with none.
3. If the charger reports the version the CSMS remembers (and it is above 0), a
   differential update carries the difference; otherwise (a charger that lost its list, a
   list changed behind the CSMS's back, a first sync) a full update replaces the list. An
   empty difference sends nothing.
4. Every message bumps the version by one: a full update gets one more than both the
   remembered and the reported version, so it is always above what the charger holds.
5. A message carries at most ``per_message`` entries (1.6 ``SendLocalListMaxLength``, 2.0.1
   ``LocalAuthListCtrlr.ItemsPerMessage``): a full list that does not fit is sent as one full
   update with the first entries followed by differential updates with the rest, each with
   the next version (a differential update must raise the version, 1.6 VersionMismatch).
6. A list longer than ``max_length`` (1.6 ``LocalAuthListMaxLength``, 2.0.1
   ``LocalAuthListCtrlr.Entries``) is not sent at all: :class:`LocalListTooLong`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from csms.domain.authorization import token_key
from csms.domain.commands_auth import LocalAuthEntry, SendLocalList

# Safe defaults when a charger's limits are unknown (the OCA test tool's small chargers).
DEFAULT_PER_MESSAGE: Final = 20
DEFAULT_MAX_LENGTH: Final = 1000


class LocalListTooLong(ValueError):
    """The wanted list has more entries than the charger can hold (rule 6)."""

    def __init__(self, length: int, max_length: int) -> None:
        super().__init__(f"the local list has {length} entries; the charger holds {max_length}")
        self.length = length
        self.max_length = max_length


@dataclass(frozen=True, slots=True)
class ListLimits:
    per_message: int = DEFAULT_PER_MESSAGE
    max_length: int = DEFAULT_MAX_LENGTH


Entries = Mapping[str, LocalAuthEntry]


def keyed(entries: Sequence[LocalAuthEntry]) -> dict[str, LocalAuthEntry]:
    """The entries by token key (rule 1); a later entry of the same key wins."""
    return {token_key(entry.id_token.value): entry for entry in entries}


def difference(wanted: Entries, sent: Entries) -> tuple[LocalAuthEntry, ...]:
    """What turns ``sent`` into ``wanted`` (rule 2), sorted by key: changed or new entries,
    then removals (authorization None)."""
    changed = [wanted[k] for k in sorted(wanted) if sent.get(k) != wanted[k]]
    removed = [LocalAuthEntry(sent[k].id_token, None) for k in sorted(sent) if k not in wanted]
    return tuple(changed + removed)


def split(entries: Sequence[LocalAuthEntry], per_message: int
          ) -> list[tuple[LocalAuthEntry, ...]]:
    """``entries`` in chunks of at most ``per_message`` (at least one chunk, maybe empty).

    Raises:
        ValueError: ``per_message`` below 1.
    """
    if per_message < 1:
        raise ValueError(f"per_message must be at least 1, not {per_message}")
    chunks = [tuple(entries[i:i + per_message]) for i in range(0, len(entries), per_message)]
    return chunks or [()]


def plan(wanted: Entries, sent: Entries, version: int, reported: int | None,
         limits: ListLimits, *, force_full: bool = False) -> list[SendLocalList]:
    """The messages that bring the charger's list to ``wanted`` (module rules); empty when
    it is up to date. ``version`` is the CSMS's remembered version, ``reported`` the
    charger's (None: not asked).

    Raises:
        LocalListTooLong: ``wanted`` exceeds ``limits.max_length``.
    """
    if len(wanted) > limits.max_length:
        raise LocalListTooLong(len(wanted), limits.max_length)
    in_step = version > 0 and (reported is None or reported == version)
    if in_step and not force_full:
        change = difference(wanted, sent)
        if not change:
            return []
        return [SendLocalList(version + n, False, chunk)
                for n, chunk in enumerate(split(change, limits.per_message), start=1)]
    start = max(version, reported or 0) + 1
    full = [wanted[k] for k in sorted(wanted)]
    chunks = split(full, limits.per_message)
    return [SendLocalList(start + n, n == 0, chunk) for n, chunk in enumerate(chunks)]


def applied(sent: Entries, message: SendLocalList) -> dict[str, LocalAuthEntry]:
    """What the charger holds after accepting ``message`` on top of ``sent``."""
    out = {} if message.full else dict(sent)
    for entry in message.entries:
        key = token_key(entry.id_token.value)
        if entry.authorization is None:
            out.pop(key, None)
        else:
            out[key] = entry
    return out
