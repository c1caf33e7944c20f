"""The simulated charger's certificates: a chain only for its pending key, its trust store."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.security import ca
from simulators.station import SimStation

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def station(version: str = "ocpp2.0.1") -> SimStation:
    return SimStation("CP-SIM", version, "ws://127.0.0.1:1/")


class TestSimCertificates:
    def test_a_chain_is_accepted_only_for_the_pending_key(self) -> None:
        """Signed for the CSR it sent: Accepted and kept; for another key, or a second time
        after the key was taken: Rejected."""
        authority = ca.create_authority("CA", NOW)
        st, other = station(), station()
        mine = ca.sign_csr(authority, st.certificates.csr_pem(), "CP-SIM", ca.Policy(), NOW)
        theirs = ca.sign_csr(authority, other.certificates.csr_pem(), "CP-SIM", ca.Policy(),
                             NOW)
        assert "Rejected" == st.certificates.signed(ca.chain_pem(authority, theirs))
        assert "Accepted" == st.certificates.signed(ca.chain_pem(authority, mine))
        assert ca.to_pem(mine) == st.certificates.certificate_pem
        assert "Rejected" == st.certificates.signed(ca.chain_pem(authority, mine))
        assert "Rejected" == st.certificates.signed("not a certificate")

    def test_trust_store_reports_and_deletes_by_hash_data(self) -> None:
        """Installed roots are reported with OCPP hash data and deleted by them."""
        authority = ca.create_authority("CA", NOW)
        st = station()
        assert "Rejected" == st.certificates.install("CSMSRootCertificate", "garbage")
        assert "Accepted" == st.certificates.install("CSMSRootCertificate",
                                                     authority.certificate_pem)
        [(use, data)] = st.certificates.ids([])
        expected = ca.hash_data(authority.certificate)
        assert ("CSMSRootCertificate", expected.serial_number) == (use, data["serialNumber"])
        assert [] == st.certificates.ids(["V2GRootCertificate"])
        assert "Accepted" == st.certificates.delete(data)
        assert "NotFound" == st.certificates.delete(data)
