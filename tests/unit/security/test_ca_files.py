"""The CA's files: created owner-only, refused at start when group/other-readable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from csms.config import CertificateSettings
from csms.errors import ConfigError
from csms.security import ca_files

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def settings(tmp_path: Path, **more: object) -> CertificateSettings:
    return CertificateSettings(enabled=True, ca_key_file=tmp_path / "ca.key",
                               ca_cert_file=tmp_path / "ca.pem", **more)


class TestCaFiles:
    def test_init_writes_an_owner_only_key_and_load_reads_it_back(self, tmp_path: Path) -> None:
        """Mode 0600 from the start; the loaded CA is the one created."""
        s = settings(tmp_path)
        made = ca_files.init(s, "Test CA", NOW, 3650)
        assert 0o600 == (tmp_path / "ca.key").stat().st_mode & 0o777
        loaded = ca_files.load(s)
        assert made.certificate == loaded.certificate

    def test_a_key_readable_by_others_is_refused_naming_the_key(self, tmp_path: Path) -> None:
        """Group/other bits set: CaKeyExposed with the file and its mode."""
        s = settings(tmp_path)
        ca_files.init(s, "Test CA", NOW, 3650)
        (tmp_path / "ca.key").chmod(0o640)
        with pytest.raises(ca_files.CaKeyExposed, match=r"ca_key_file .*ca\.key.*0640"):
            ca_files.load(s)

    def test_a_passphrase_protects_the_key(self, tmp_path: Path) -> None:
        """Encrypted on disk; the wrong passphrase or none is a ConfigError naming the key."""
        s = settings(tmp_path, ca_key_passphrase="correct horse")
        ca_files.init(s, "Test CA", NOW, 3650)
        assert b"ENCRYPTED" in (tmp_path / "ca.key").read_bytes()
        ca_files.load(s)
        with pytest.raises(ConfigError, match="ca_key_passphrase"):
            ca_files.load(settings(tmp_path, ca_key_passphrase="wrong"))
        with pytest.raises(ConfigError, match="ca_key_passphrase"):
            ca_files.load(settings(tmp_path))

    def test_init_never_overwrites(self, tmp_path: Path) -> None:
        """An existing key is kept; init refuses."""
        s = settings(tmp_path)
        ca_files.init(s, "Test CA", NOW, 3650)
        with pytest.raises(ConfigError, match="already exists"):
            ca_files.init(s, "Test CA", NOW, 3650)

    def test_enabled_needs_both_files(self) -> None:
        """certificates.enabled without ca_key_file names the key."""
        with pytest.raises(ValueError, match=r"certificates\.ca_key_file"):
            CertificateSettings(enabled=True, ca_cert_file=Path("x.pem"))
