"""Files on disk under ``files.directory``: firmware the CSMS serves, logs chargers upload.

Rules:
1. A file is written to a temporary name in its directory and renamed into place once
   complete and flushed, so a reader never sees half a file; its SHA-256 is computed while
   it is written.
2. Firmware is stored under its SHA-256 (one copy per content); a log upload under its
   request id and SHA-256.
3. Reading back checks the SHA-256 against the one recorded (:class:`Corrupt` if it differs);
   :meth:`FileVault.verified` checks a file once per size and modification time, so a
   fleet downloading the same firmware reads it from disk to hash it once, then streams it.
4. Disk work runs in a thread (``asyncio.to_thread``), off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Final

FIRMWARE: Final = "firmware"
LOGS: Final = "logs"
CHECKED_MAX: Final = 1024  # files whose check is remembered


class TooLarge(ValueError):
    """More bytes than allowed; nothing was kept."""


class Mismatch(ValueError):
    """Not the SHA-256 announced; nothing was kept."""


class Corrupt(RuntimeError):
    """A stored file's content no longer has its recorded SHA-256."""


class FileVault:
    """The CSMS's file directory (module rules)."""

    def __init__(self, directory: Path) -> None:
        self._root = directory
        self._checked: dict[tuple[str, int, int], str] = {}

    def path(self, area: str, stored_name: str) -> Path:
        return self._root / area / stored_name

    async def put(self, area: str, chunks: AsyncIterator[bytes], max_bytes: int,
                  prefix: str = "", expect: str | None = None) -> tuple[str, int, str]:
        """Store the stream; (stored name, size, sha256 hex). Raises TooLarge, or Mismatch
        when ``expect`` is given and is not the content's SHA-256 (nothing kept)."""
        folder = self._root / area
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        temporary = folder / f".incoming-{secrets.token_hex(8)}"
        digest, size = hashlib.sha256(), 0
        handle = await asyncio.to_thread(temporary.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"more than {max_bytes} bytes")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush, handle)
            if expect is not None and expect.lower() != digest.hexdigest():
                raise Mismatch(f"the file's SHA-256 is {digest.hexdigest()},"
                               f" not {expect.lower()}")
        except BaseException:
            handle.close()
            await asyncio.to_thread(temporary.unlink, True)
            raise
        handle.close()
        sha = digest.hexdigest()
        name = f"{prefix}{sha}"
        await asyncio.to_thread(os.replace, temporary, folder / name)
        return name, size, sha

    async def verified(self, area: str, stored_name: str, sha256: str) -> Path:
        """The file's path, its content checked (rule 3). Raises Corrupt, OSError."""
        path = self.path(area, stored_name)
        stat = await asyncio.to_thread(path.stat)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if self._checked.get(key) != sha256:
            if await asyncio.to_thread(_sha256_of, path) != sha256:
                raise Corrupt(f"{area}/{stored_name} does not match its SHA-256 {sha256}")
            if len(self._checked) >= CHECKED_MAX:
                self._checked.clear()
            self._checked[key] = sha256
        return path

    async def read(self, area: str, stored_name: str, sha256: str) -> bytes:
        """The file's bytes, checked (rule 3). Raises Corrupt, OSError."""
        data = await asyncio.to_thread(self.path(area, stored_name).read_bytes)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise Corrupt(f"{area}/{stored_name} does not match its SHA-256 {sha256}")
        return data


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as a stream, for :meth:`FileVault.put`."""
    yield data
