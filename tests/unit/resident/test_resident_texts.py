"""The resident page's words (csms.resident.texts)."""

from __future__ import annotations

import pytest

from csms.resident import texts


class TestTexts:
    def test_every_text_has_both_languages(self) -> None:
        """Rule 1: two non-empty texts per key."""
        for key, pair in texts.TEXTS.items():
            assert len(texts.LANGUAGES) == len(pair), key
            assert all(pair), key

    def test_the_language_is_asked_then_remembered_then_chinese(self) -> None:
        """Rule 2."""
        assert ["en", "zh", "en", "zh"] == [texts.language(q, c) for q, c in (
            ("en", "zh"), (None, None), (None, "en"), ("fr", None))]

    def test_an_unknown_status_is_shown_as_sent_and_other_keys_raise(self) -> None:
        t = texts.translator("en")
        assert ("Charging", "Weird") == (t("status.Charging"), t("status.Weird"))
        with pytest.raises(KeyError):
            t("nope")
