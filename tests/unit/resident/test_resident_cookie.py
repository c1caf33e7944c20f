"""The resident page's signed visit cookie and CSRF tokens (csms.resident.cookie)."""

from __future__ import annotations

import pytest

from csms.resident.cookie import Visit, VisitSigner

KEY = b"k" * 32
NOW = 1_800_000_000


class TestVisitSigner:
    def test_a_signed_in_visit_round_trips_until_it_expires(self) -> None:
        """What is dumped loads back, bound to its card, until its expiry second."""
        signer = VisitSigner(KEY)
        visit = signer.signed_in("RES-A", "scrypt$hash", NOW, 900)
        loaded = signer.load(signer.dump(visit), NOW + 899)
        assert visit == loaded
        assert loaded is not None
        assert loaded.signed_in
        assert signer.load(signer.dump(visit), NOW + 900) is None

    def test_a_changed_payload_or_another_key_is_no_visit(self) -> None:
        """Rule 1: a forged card, a cut MAC or another server's key are refused."""
        signer = VisitSigner(KEY)
        value = signer.dump(signer.signed_in("RES-A", "h", NOW, 900))
        forged = VisitSigner(KEY).dump(Visit("n", "RES-B", None, NOW + 900))
        payload, mac = value.rsplit(".", 1)
        other_payload = forged.rsplit(".", 1)[0]
        assert signer.load(f"{other_payload}.{mac}", NOW) is None
        assert signer.load(f"{payload}.{mac[:-2]}", NOW) is None
        assert VisitSigner(b"x" * 32).load(value, NOW) is None
        for junk in (None, "", "abc", "a.b", "." * 2000):
            assert signer.load(junk, NOW) is None

    def test_csrf_tokens_belong_to_one_visit(self) -> None:
        """Rule 4: a visit's token passes; another visit's (the one before sign-in) does
        not; none does not."""
        signer = VisitSigner(KEY)
        before = signer.anonymous(NOW, 3600)
        after = signer.signed_in("RES-A", "h", NOW, 900)
        assert signer.csrf_ok(before, signer.csrf(before))
        assert not signer.csrf_ok(after, signer.csrf(before))
        assert not signer.csrf_ok(after, None)

    def test_the_pin_tag_changes_with_the_pin(self) -> None:
        """Rule 3: a new PIN hash gives another tag, the same one the same tag."""
        signer = VisitSigner(KEY)
        assert signer.pin_tag("scrypt$a") == signer.pin_tag("scrypt$a")
        assert signer.pin_tag("scrypt$a") != signer.pin_tag("scrypt$b")

    def test_a_short_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            VisitSigner(b"short")
