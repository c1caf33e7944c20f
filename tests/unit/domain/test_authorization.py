"""The verdict on an id token (csms.domain.authorization.decide): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from csms.domain.authorization import TokenRecord, decide, token_key
from csms.domain.model import Authorization, AuthorizationStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
TICK = timedelta(microseconds=1)

BASE = datetime(2000, 1, 1, tzinfo=UTC)
aware_times = st.builds(
    lambda us, hours: (BASE + timedelta(microseconds=us)).astimezone(
        timezone(timedelta(hours=hours))
    ),
    st.integers(min_value=0, max_value=100 * 366 * 24 * 3600 * 10**6),
    st.integers(min_value=-12, max_value=14),
)


class TestUnknownToken:
    def test_rejected_under_reject_policy(self) -> None:
        """A token the table does not hold is Invalid when unknown tokens are refused."""
        assert Authorization(AuthorizationStatus.INVALID) == decide(
            None, accept_unknown=False, now=NOW
        )

    def test_accepted_under_accept_policy(self) -> None:
        """A token the table does not hold is Accepted when unknown tokens are accepted."""
        assert Authorization(AuthorizationStatus.ACCEPTED) == decide(
            None, accept_unknown=True, now=NOW
        )

    @pytest.mark.parametrize("accept_unknown", [True, False])
    def test_no_expiry_and_no_group(self, accept_unknown: bool) -> None:
        """The verdict on an unknown token carries neither expiry nor group."""
        verdict = decide(None, accept_unknown=accept_unknown, now=NOW)
        assert verdict.expires_at is None
        assert verdict.group_id is None


class TestKnownToken:
    def test_accepted_without_expiry(self) -> None:
        """An Accepted token without expiry stays Accepted, with its group."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED, None, "ROOM-3-201")
        assert Authorization(AuthorizationStatus.ACCEPTED, None, "ROOM-3-201") == decide(
            record, accept_unknown=False, now=NOW
        )

    def test_accepted_before_expiry(self) -> None:
        """An Accepted token before its expiry is Accepted and carries the expiry."""
        expires = NOW + timedelta(days=30)
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED, expires, "G")
        assert Authorization(AuthorizationStatus.ACCEPTED, expires, "G") == decide(
            record, accept_unknown=False, now=NOW
        )

    def test_accepted_one_microsecond_before_expiry(self) -> None:
        """One microsecond before expires_at the token is still Accepted."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED, NOW + TICK)
        assert AuthorizationStatus.ACCEPTED == decide(record, accept_unknown=False, now=NOW).status

    def test_accepted_at_exactly_expiry(self) -> None:
        """At exactly expires_at the token is not yet past its expiry: still Accepted."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED, NOW)
        assert AuthorizationStatus.ACCEPTED == decide(record, accept_unknown=False, now=NOW).status

    def test_expired_one_microsecond_after_expiry(self) -> None:
        """One microsecond past expires_at an Accepted token is Expired."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED, NOW - TICK, "G")
        assert Authorization(AuthorizationStatus.EXPIRED, NOW - TICK, "G") == decide(
            record, accept_unknown=False, now=NOW
        )

    def test_expiry_compares_instants_across_offsets(self) -> None:
        """Expiry at midnight +08:00 is 16:00 UTC: Accepted at 15:59 UTC, Expired at 16:01."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.ACCEPTED,
                             datetime(2026, 11, 28, 0, 0, tzinfo=CST))
        before = datetime(2026, 11, 27, 15, 59, tzinfo=UTC)
        after = datetime(2026, 11, 27, 16, 1, tzinfo=UTC)
        assert AuthorizationStatus.ACCEPTED == decide(
            record, accept_unknown=False, now=before
        ).status
        assert AuthorizationStatus.EXPIRED == decide(record, accept_unknown=False, now=after).status

    @pytest.mark.parametrize("accept_unknown", [True, False])
    def test_policy_does_not_affect_known_tokens(self, accept_unknown: bool) -> None:
        """The unknown-token policy does not change the verdict on a known token."""
        record = TokenRecord("04A1B2C3", AuthorizationStatus.BLOCKED)
        assert AuthorizationStatus.BLOCKED == decide(
            record, accept_unknown=accept_unknown, now=NOW
        ).status

    @pytest.mark.parametrize(
        "status",
        [AuthorizationStatus.BLOCKED, AuthorizationStatus.INVALID, AuthorizationStatus.EXPIRED,
         AuthorizationStatus.NO_CREDIT, AuthorizationStatus.UNKNOWN],
    )
    @pytest.mark.parametrize("expires_offset", [None, timedelta(days=-1), timedelta(0),
                                                timedelta(days=1)])
    def test_non_accepted_status_is_kept(
        self, status: AuthorizationStatus, expires_offset: timedelta | None
    ) -> None:
        """Blocked stays Blocked (and so every non-Accepted status), expired or not."""
        expires = None if expires_offset is None else NOW + expires_offset
        record = TokenRecord("04A1B2C3", status, expires, "G")
        assert Authorization(status, expires, "G") == decide(
            record, accept_unknown=True, now=NOW
        )


class TestDecideProperties:
    @settings(database=None)
    @given(
        status=st.sampled_from(AuthorizationStatus),
        expires=st.none() | aware_times,
        now=aware_times,
        group=st.none() | st.text(min_size=1, max_size=20),
        accept_unknown=st.booleans(),
    )
    def test_verdict_keeps_expiry_and_group(
        self, status: AuthorizationStatus, expires: datetime | None, now: datetime,
        group: str | None, accept_unknown: bool,
    ) -> None:
        """Any known token's verdict carries the record's expiry and group unchanged."""
        verdict = decide(TokenRecord("T", status, expires, group),
                         accept_unknown=accept_unknown, now=now)
        assert expires == verdict.expires_at
        assert group == verdict.group_id

    @settings(database=None)
    @given(status=st.sampled_from(AuthorizationStatus), expires=st.none() | aware_times,
           now=aware_times)
    def test_only_accepted_can_expire(
        self, status: AuthorizationStatus, expires: datetime | None, now: datetime
    ) -> None:
        """The verdict differs from the stored status only for a past Accepted token."""
        verdict = decide(TokenRecord("T", status, expires), accept_unknown=False, now=now)
        if status is not AuthorizationStatus.ACCEPTED or expires is None or expires > now:
            assert status == verdict.status
        elif expires < now:
            assert AuthorizationStatus.EXPIRED == verdict.status

    @settings(database=None)
    @given(expires=aware_times, now=aware_times)
    def test_accepted_expires_exactly_when_past(self, expires: datetime, now: datetime) -> None:
        """Away from the boundary, an Accepted token is Expired iff now is past expires_at."""
        assume(expires != now)
        verdict = decide(TokenRecord("T", AuthorizationStatus.ACCEPTED, expires),
                         accept_unknown=False, now=now)
        expected = AuthorizationStatus.EXPIRED if expires < now else AuthorizationStatus.ACCEPTED
        assert expected == verdict.status


class TestTokenKey:
    @pytest.mark.parametrize(("value", "key"), [
        pytest.param("deadbeef", "DEADBEEF", id="hex-lower"),
        pytest.param("DeadBeef", "DEADBEEF", id="hex-mixed"),
        pytest.param("04A1B2C3", "04A1B2C3", id="hex-upper-unchanged"),
        pytest.param("res-9", "RES-9", id="non-hex-ascii"),
        pytest.param("nl-abc-c12345678-x", "NL-ABC-C12345678-X", id="emaid"),
        pytest.param("04:a1:b2", "04:A1:B2", id="separators-kept"),
        pytest.param(" 04a1", " 04A1", id="spaces-kept"),
        pytest.param("straße-ä", "STRAßE-ä", id="non-ascii-as-is"),
        pytest.param("", "", id="empty"),
    ])
    def test_examples(self, value: str, key: str) -> None:
        """ASCII letters are upper-cased; nothing else changes (Rule 3)."""
        assert key == token_key(value)

    @settings(database=None)
    @given(st.text(max_size=36))
    def test_a_key_is_its_own_key_and_as_long_as_the_token(self, value: str) -> None:
        """Idempotent and length-preserving, so it fits the token's column."""
        key = token_key(value)
        assert (key, len(value)) == (token_key(key), len(key))

    @settings(database=None)
    @given(st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=20))
    def test_spellings_of_one_hex_uid_share_a_key(self, uid: str) -> None:
        """Any case of a hex UID has the key of its upper-case spelling."""
        assert token_key(uid.lower()) == token_key(uid) == uid.upper()
