"""``csms ca ...`` against a SQLite file, and the CA key check at start-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from csms import cli
from csms.app import running
from csms.config import CertificateSettings
from csms.security import ca_files
from tests.api.test_organisation import cli_db
from tests.conftest import make_settings
from tests.unit.security.test_ca import csr_for

__all__ = ["cli_db"]
AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def run(argv: list[str]) -> int:
    return cli.main(argv, clock=lambda: AT)


@pytest.fixture
def ca_env(cli_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSMS_CERTIFICATES__CA_KEY_FILE", str(tmp_path / "ca.key"))
    monkeypatch.setenv("CSMS_CERTIFICATES__CA_CERT_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("CSMS_CERTIFICATES__ORGANIZATION", "Community Charging")
    monkeypatch.setenv("CSMS_CERTIFICATES__CRL_FILE", str(tmp_path / "crl.pem"))
    return tmp_path


def test_init_sign_list_revoke_crl(ca_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole offline life: init (0600 key), check, sign a CSR, list, revoke, CRL."""
    assert 0 == run(["ca", "init", "--common-name", "Test CA"])
    assert 0o600 == (ca_env / "ca.key").stat().st_mode & 0o777
    assert 2 == run(["ca", "init"])  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert 0 == run(["ca", "check"])
    assert "CN=Test CA" in capsys.readouterr().out
    (ca_env / "cp.csr").write_text(csr_for("CP-CLI"))
    assert 0 == run(["ca", "sign", "CP-CLI", str(ca_env / "cp.csr")])
    chain = capsys.readouterr().out
    leaf = x509.load_pem_x509_certificate(chain.encode())
    assert 2 == chain.count("BEGIN CERTIFICATE")
    assert 1 == run(["ca", "sign", "CP-OTHER", str(ca_env / "cp.csr")])  # CN mismatch
    assert "subject CN is 'CP-CLI'" in capsys.readouterr().err
    assert 0 == run(["ca", "list", "CP-CLI"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    serial = format(leaf.serial_number, "X")
    assert [(serial, "issued")] == [(r["serial"], r["status"]) for r in rows]
    assert 0 == run(["ca", "revoke", "CP-CLI", "--reason", "lost"])
    assert serial in capsys.readouterr().out
    assert 1 == run(["ca", "revoke", "CP-CLI", "--reason", "again"])  # nothing valid left
    crl = x509.load_pem_x509_crl((ca_env / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    assert 0 == run(["ca", "crl"])
    assert "BEGIN X509 CRL" in capsys.readouterr().out


def test_an_exposed_key_is_refused_naming_it(ca_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A group-readable key: `ca check` exits 2 and the message names the key file."""
    assert 0 == run(["ca", "init"])
    (ca_env / "ca.key").chmod(0o644)
    capsys.readouterr()
    assert 2 == run(["ca", "check"])
    err = capsys.readouterr().err
    assert "certificates.ca_key_file" in err
    assert str(ca_env / "ca.key") in err


async def test_the_server_does_not_start_with_an_exposed_key(
        database_url: str, tmp_path: Path) -> None:
    """running() refuses to start: CaKeyExposed, and nothing is left running."""
    certificates = CertificateSettings(enabled=True, ca_key_file=tmp_path / "ca.key",
                                       ca_cert_file=tmp_path / "ca.pem")
    ca_files.init(certificates, "Test CA", AT, 3650)
    (tmp_path / "ca.key").chmod(0o604)
    settings = make_settings(database_url).model_copy(update={"certificates": certificates})
    with pytest.raises(ca_files.CaKeyExposed, match="chmod 600"):
        async with running(settings):
            pass
