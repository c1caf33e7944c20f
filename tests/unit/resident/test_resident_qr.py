"""The connector's QR code (csms.resident.qr)."""

from __future__ import annotations

import segno

from csms.resident.qr import page_url, qr_png


class TestQr:
    def test_the_url_names_the_charger_as_one_segment(self) -> None:
        """Rule 1: a slash or space in an id is percent-encoded; the base's slash is not
        doubled."""
        assert "https://c.example/console/r/CP%201%2Fa/2" == page_url(
            "https://c.example/", "CP 1/a", 2)

    def test_the_png_holds_the_url_at_level_m(self) -> None:
        """Rule 2: a PNG; the code of that URL has error correction M; each module is
        ``scale`` pixels (the image is (modules + 8) * scale wide)."""
        url = page_url("http://127.0.0.1:8080", "CP-1", 1)
        png = qr_png(url, scale=4)
        code = segno.make_qr(url, error="m", boost_error=False)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert "M" == code.error
        width = int.from_bytes(png[16:20], "big")
        assert (code.symbol_size(scale=4, border=4)[0]) == width
