"""Charger uploads in multipart/form-data: the file part is found, byte for byte."""

from __future__ import annotations

import httpx
import pytest

from csms.api.routes.files.transfer import _file_part


def multipart(files: dict[str, tuple[str, bytes, str]], data: dict[str, str] | None = None
              ) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_the_file_part_comes_back_exactly() -> None:
    content = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    body, content_type = multipart({"file": ("diag.zip", content, "application/zip")},
                                   {"note": "x"})
    assert (content, "diag.zip", "application/zip") == _file_part(body, content_type)


def test_without_a_boundary_it_is_refused() -> None:
    with pytest.raises(ValueError, match="boundary"):
        _file_part(b"", "multipart/form-data")
