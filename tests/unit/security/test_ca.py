"""The certificate authority's pure core: CSR checks, issuing, hash data, CRL, OCSP."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.security import ca, ocsp

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
POLICY = ca.Policy(organization="Community Charging", validity_days=90)


@pytest.fixture(scope="module")
def authority() -> ca.Authority:
    return ca.create_authority("Test CSMS CA", NOW, organization="Community Charging")


def csr_for(cn: str, org: str | None = "Community Charging",
            key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org is not None:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(
        key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class TestSigning:
    def test_a_good_csr_gets_a_client_certificate_for_the_charger(
            self, authority: ca.Authority) -> None:
        """CN and O kept, our issuer, the configured validity, clientAuth, not a CA."""
        cert = ca.sign_csr(authority, csr_for("CP-1"), "CP-1", POLICY, NOW)
        assert authority.certificate.subject == cert.issuer
        assert NOW + timedelta(days=90) == cert.not_valid_after_utc
        assert NOW - timedelta(minutes=5) == cert.not_valid_before_utc
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert [ExtendedKeyUsageOID.CLIENT_AUTH] == list(eku)
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        cert.verify_directly_issued_by(authority.certificate)
        info = ca.info(cert)
        assert ("CP-1", ca.serial_hex(cert.serial_number)) == (info.common_name, info.serial)

    @pytest.mark.parametrize(("csr", "reason"), [
        (lambda: csr_for("CP-2"), "subject CN is 'CP-2'"),
        (lambda: csr_for("CP-1", org="Other"), "subject O is ['Other']"),
        (lambda: csr_for("CP-1", org=None), "subject O is None"),
        (lambda: csr_for("CP-1", key=rsa.generate_private_key(65537, 1024)),  # noqa: S505
         "RSA key of 1024"),
        (lambda: csr_for("CP-1", key=ec.generate_private_key(ec.SECP521R1())), "secp521r1"),
        (lambda: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
                 "REQUEST-----\n", "not a PEM"),
    ])
    def test_a_bad_csr_is_refused_with_the_reason(
            self, authority: ca.Authority, csr: object, reason: str) -> None:
        """Wrong CN or O, a weak key or curve, garbage: CsrRefused naming it."""
        with pytest.raises(ca.CsrRefused, match=reason.replace("[", r"\[")):
            ca.sign_csr(authority, csr(), "CP-1", POLICY, NOW)  # type: ignore[operator]

    def test_a_tampered_csr_signature_is_refused(self, authority: ca.Authority) -> None:
        """A CSR whose signature does not verify is refused."""
        good = x509.load_pem_x509_csr(csr_for("CP-1").encode())
        der = bytearray(good.public_bytes(serialization.Encoding.DER))
        der[-3] ^= 0x01  # inside the signature
        bad = x509.load_der_x509_csr(bytes(der))
        with pytest.raises(ca.CsrRefused, match="signature"):
            ca.check_csr(bad, "CP-1", POLICY)

    def test_rsa_2048_is_allowed_and_gets_key_encipherment(self, authority: ca.Authority) -> None:
        """RSA keys of the minimum size are signed; key usage fits the key type."""
        key = rsa.generate_private_key(65537, 2048)
        cert = ca.sign_csr(authority, csr_for("CP-1", key=key), "CP-1", POLICY, NOW)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.key_encipherment
        assert not usage.key_agreement

    def test_no_organisation_configured_means_o_is_not_checked(
            self, authority: ca.Authority) -> None:
        """With organization None, any O (or none) is fine."""
        ca.sign_csr(authority, csr_for("CP-1", org=None), "CP-1", ca.Policy(), NOW)


class TestHashData:
    def test_hash_data_matches_the_issuer_as_openssl_computes_it(
            self, authority: ca.Authority) -> None:
        """issuerNameHash/issuerKeyHash agree with an OCSP request built by cryptography."""
        cert = ca.sign_csr(authority, csr_for("CP-1"), "CP-1", POLICY, NOW)
        request = x509_ocsp.OCSPRequestBuilder().add_certificate(
            cert, authority.certificate, hashes.SHA256()).build()
        data = ca.hash_data(cert, authority.certificate)
        assert request.issuer_name_hash.hex() == data.issuer_name_hash
        assert request.issuer_key_hash.hex() == data.issuer_key_hash
        assert format(request.serial_number, "X") == data.serial_number
        root = ca.hash_data(authority.certificate)  # self-signed: its own issuer
        assert root.issuer_key_hash == data.issuer_key_hash
        assert hashlib.sha384(cert.issuer.public_bytes()).hexdigest() == ca.hash_data(
            cert, authority.certificate, "SHA384").issuer_name_hash


class TestRevocation:
    def test_the_crl_lists_revoked_serials_and_is_signed_by_the_ca(
            self, authority: ca.Authority) -> None:
        """Each revoked serial with its time; the CA's signature verifies."""
        at = NOW + timedelta(days=1)
        crl = ca.revocation_list(authority, [("1A2B", at)], NOW, timedelta(days=7))
        assert crl.is_signature_valid(authority.certificate.public_key())  # type: ignore[arg-type]
        revoked = crl.get_revoked_certificate_by_serial_number(0x1A2B)
        assert revoked is not None
        assert at == revoked.revocation_date_utc
        assert NOW + timedelta(days=7) == crl.next_update_utc
        assert "BEGIN X509 CRL" in ca.crl_pem(crl)


class TestOcsp:
    def test_good_revoked_and_unknown_answers(self, authority: ca.Authority) -> None:
        """Our certificates are GOOD or REVOKED; a serial we never issued is UNKNOWN;
        another CA's request is not ours."""
        cert = ca.sign_csr(authority, csr_for("CP-1"), "CP-1", POLICY, NOW)
        data = ca.hash_data(cert, authority.certificate)
        assert ocsp.is_ours(authority, data)
        week = timedelta(days=7)
        good = x509_ocsp.load_der_ocsp_response(ocsp.response(authority, data, cert, None,
                                                              NOW, week))
        assert x509_ocsp.OCSPCertStatus.GOOD == good.certificate_status
        revoked = x509_ocsp.load_der_ocsp_response(
            ocsp.response(authority, data, cert, NOW, NOW, week))
        assert x509_ocsp.OCSPCertStatus.REVOKED == revoked.certificate_status
        unknown = x509_ocsp.load_der_ocsp_response(ocsp.response(
            authority, ca.HashData("SHA256", data.issuer_name_hash, data.issuer_key_hash, "77"),
            None, NOW, NOW, week))
        assert x509_ocsp.OCSPCertStatus.UNKNOWN == unknown.certificate_status
        other = ca.create_authority("Other CA", NOW)
        assert not ocsp.is_ours(other, data)
