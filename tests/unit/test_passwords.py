"""Charge-point passwords (csms.passwords): salted scrypt hashes."""

from __future__ import annotations

import base64
import re
import string

import pytest

from csms import passwords

PASSWORD = "k7Qm-2vXz_9LpR4tWb8nYc3H"  # the shape generate() produces
URLSAFE = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture(scope="module")
def stored() -> str:
    """One stored hash of PASSWORD, computed once (scrypt is deliberately slow)."""
    return passwords.hash_password(PASSWORD)


class TestHash:
    def test_round_trip(self, stored: str) -> None:
        """The password that was hashed verifies against its hash."""
        assert True is passwords.verify(PASSWORD, stored)

    def test_stored_form(self, stored: str) -> None:
        """The stored form is scrypt$13$8$1$<16-byte salt>$<32-byte key>, base64."""
        scheme, log2_n, r, p, salt, key = stored.split("$")
        assert ("scrypt", "13", "8", "1") == (scheme, log2_n, r, p)
        assert 16 == len(base64.b64decode(salt, validate=True))
        assert 32 == len(base64.b64decode(key, validate=True))

    def test_does_not_contain_the_password(self, stored: str) -> None:
        """The stored form does not reveal the password."""
        assert PASSWORD not in stored

    def test_two_hashes_differ(self, stored: str) -> None:
        """Hashing the same password twice gives different salts and keys; both verify."""
        again = passwords.hash_password(PASSWORD)
        assert stored != again
        assert stored.split("$")[4] != again.split("$")[4]
        assert True is passwords.verify(PASSWORD, again)

    def test_non_ascii_password(self) -> None:
        """A password with non-ASCII characters hashes and verifies."""
        password = "充电桩-密码-2026"
        assert True is passwords.verify(password, passwords.hash_password(password))

    def test_empty_password(self) -> None:
        """Even an empty password round-trips (and nothing else matches it)."""
        empty = passwords.hash_password("")
        assert True is passwords.verify("", empty)
        assert False is passwords.verify(" ", empty)


class TestVerify:
    @pytest.mark.parametrize(
        "attempt",
        [
            "k7Qm-2vXz_9LpR4tWb8nYc3h",  # last letter's case
            "k7Qm-2vXz_9LpR4tWb8nYc3",  # one character short
            PASSWORD + " ",
            "",
            "wrong",
        ],
    )
    def test_wrong_password(self, stored: str, attempt: str) -> None:
        """Any other password does not verify."""
        assert False is passwords.verify(attempt, stored)

    def test_key_from_other_salt(self, stored: str) -> None:
        """A key paired with another hash's salt does not verify."""
        other = passwords.hash_password(PASSWORD).split("$")
        mixed = stored.split("$")
        mixed[4] = other[4]
        assert False is passwords.verify(PASSWORD, "$".join(mixed))

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "plaintext",
            "scrypt$13$8$1$c2FsdA==",  # five fields
            "scrypt$13$8$1$c2FsdA==$a2V5$extra",  # seven fields
            "bcrypt$13$8$1$c2FsdA==$a2V5",  # another scheme
            "scrypt$x$8$1$c2FsdA==$a2V5",  # cost not a number
            "scrypt$13$8$1$c2FsdA=$a2V5",  # bad base64 padding
            "scrypt$13$8$1$c2FsdA==$a2V5=",  # bad base64 padding in the key
            "scrypt$13$8$1$密码$a2V5",  # non-ASCII salt
            "scrypt$0$8$1$c2FsdA==$a2V5",  # n = 1 is not a valid scrypt cost
            "scrypt$-1$8$1$c2FsdA==$a2V5",  # negative shift
            "scrypt$30$8$1$c2FsdA==$a2V5",  # needs more memory than allowed
        ],
    )
    def test_malformed_stored_hash_is_false(self, bad: str) -> None:
        """A malformed stored hash never verifies and raises nothing."""
        assert False is passwords.verify(PASSWORD, bad)

    @pytest.mark.parametrize(
        "bad",
        [
            "scrypt$64$8$1$c2FsdA==$a2V5",  # n = 2**64 does not fit scrypt's parameter
            "scrypt$13$-8$1$c2FsdA==$a2V5",  # negative block size
            "scrypt$13$99999999999999999999$1$c2FsdA==$a2V5",  # block size out of range
            "scrypt$13$8$99999999999999999999$c2FsdA==$a2V5",  # parallelism out of range
            "scrypt$99999999999999999999$8$1$c2FsdA==$a2V5",  # absurd cost exponent
        ],
    )
    def test_out_of_range_cost_is_false(self, bad: str) -> None:
        """Cost numbers outside what scrypt accepts are malformed: False, no exception."""
        assert False is passwords.verify(PASSWORD, bad)


class TestGenerate:
    def test_length_and_alphabet(self) -> None:
        """A generated password is 24 URL-safe characters."""
        password = passwords.generate()
        assert 24 == len(password)
        assert set() == set(password) - URLSAFE

    def test_within_ocpp_password_length(self) -> None:
        """Generated passwords fit OCPP's 16 to 40 characters."""
        assert 16 <= len(passwords.generate()) <= 40

    def test_unique(self) -> None:
        """A thousand generated passwords are all different."""
        generated = {passwords.generate() for _ in range(1000)}
        assert 1000 == len(generated)

    def test_entropy_shape(self) -> None:
        """Across many passwords the characters spread over the whole alphabet."""
        characters = "".join(passwords.generate() for _ in range(500))
        assert 60 <= len(set(characters))
        assert re.search(r"[A-Z]", characters)
        assert re.search(r"[a-z]", characters)
        assert re.search(r"[0-9]", characters)

    def test_round_trips_through_hash(self) -> None:
        """A generated password verifies against its own hash."""
        password = passwords.generate()
        assert True is passwords.verify(password, passwords.hash_password(password))
