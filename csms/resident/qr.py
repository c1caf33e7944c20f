"""The printable QR code on each connector: a PNG of the resident page's URL. Pure: no I/O.

Rules:
1. The URL is ``<public base>/console/r/<charge point id>/<connector>``, the charge point id
   percent-encoded as one path segment.
2. Error correction level M (15 %): a sticker survives some dirt and scratches; a quiet
   zone of 4 modules, as the standard asks.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno

PAGE_PREFIX = "/console/r"


def page_path(station_id: str, connector: int) -> str:
    """Rule 1, without the base."""
    return f"{PAGE_PREFIX}/{quote(station_id, safe='')}/{connector}"


def page_url(base_url: str, station_id: str, connector: int) -> str:
    return base_url.rstrip("/") + page_path(station_id, connector)


def qr_png(url: str, scale: int = 10) -> bytes:
    """The PNG of ``url`` as a QR code (rule 2), each module ``scale`` pixels wide."""
    code = segno.make_qr(url, error="m", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
