"""The managed file store: generated names, paths kept inside the directory, atomic streamed writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

TEMP_DIR = '.tmp'
STALE_SHARED_TEMP_SECONDS = 24 * 3600  # a shared temp folder untouched this long belongs to a process that died
CHUNK = 1024 * 1024
FILE_MODE, DIR_MODE = 0o600, 0o700  # stored files (uploads, results, backups) are the owner's only


class FileTooLarge(ValueError):
    """An upload went past the size limit while streaming."""


class UnsafePath(ValueError):
    """A relative path that would leave the storage directory."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    relative_path: str
    size: int
    sha256: str


class FileStore:
    """Job files under ``root``. With ``node`` (several processes sharing the directory, e.g. a shared mount),
    each process keeps its temp files in a folder of its own, so one starting never removes another's."""

    def __init__(self, root: Path, *, node: str | None = None) -> None:
        self.root = root.resolve()
        self._node = node
        self.temp_dir = self.root / TEMP_DIR / node if node else self.root / TEMP_DIR  # this process's temp files

    def prepare(self) -> None:
        """Create the directory and drop temp files left by a crash (shared: only those untouched for a day)."""
        self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # a shared mount may belong to someone else
            self.root.chmod(DIR_MODE)
        if self._node is None:
            shutil.rmtree(self.root / TEMP_DIR, ignore_errors=True)
        else:
            (self.root / TEMP_DIR).mkdir(mode=DIR_MODE, exist_ok=True)
            stale = time.time() - STALE_SHARED_TEMP_SECONDS
            for entry in (self.root / TEMP_DIR).iterdir():
                if _last_modified(entry) < stale:
                    _remove(entry)
        self.temp_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)

    def path(self, relative_path: str) -> Path:
        """The absolute path of a stored file; raises UnsafePath if it would leave the store."""
        candidate = Path(relative_path)
        if candidate.is_absolute() or not relative_path:
            raise UnsafePath(relative_path)
        resolved = (self.root / candidate).resolve()
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise UnsafePath(relative_path)
        return resolved

    def temp_path(self) -> Path:
        """A fresh path in the store's temp area; move it in with ``adopt``."""
        return self.temp_dir / f'{uuid.uuid4().hex}.part'

    async def save_stream(self, chunks: AsyncIterator[bytes], *, limit: int | None = None) -> StoredFile:
        """Stream chunks to a temp file, enforcing ``limit`` as they arrive, then move it into place."""
        temp = self.temp_path()
        digest, size = hashlib.sha256(), 0
        try:
            async with aiofiles.open(temp, 'wb') as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise FileTooLarge(f'The file is larger than the limit of {limit // (1024 * 1024)} MB')
                    digest.update(chunk)
                    await file.write(chunk)
            return await self._move_in(temp, size, digest.hexdigest())
        except BaseException:
            await aiofiles.os.remove(temp) if temp.exists() else None
            raise

    def save_bytes(self, data: bytes) -> StoredFile:
        """Store bytes (blocking: call from a worker thread)."""
        temp = self.temp_path()
        temp.write_bytes(data)
        return self.adopt(temp)

    def adopt(self, temp: Path) -> StoredFile:
        """Move a finished temp file into the store (blocking: call from a worker thread)."""
        digest, size = hash_file(temp)
        relative = self._new_relative_path()
        target = self.root / relative
        target.parent.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
        return StoredFile(relative, size, digest)

    def delete(self, relative_path: str) -> None:
        """Remove a stored file (gone already is fine; blocking: call from a worker thread)."""
        self.path(relative_path).unlink(missing_ok=True)

    def iter_stored(self) -> list[str]:
        """Relative paths of every stored file (temp files excluded)."""
        return sorted(
            str(path.relative_to(self.root))
            for path in self.root.rglob('*')
            if path.is_file() and path.relative_to(self.root).parts[0] != TEMP_DIR
        )

    async def _move_in(self, temp: Path, size: int, sha256: str) -> StoredFile:
        relative = self._new_relative_path()
        target = self.root / relative
        await aiofiles.os.makedirs(target.parent, mode=DIR_MODE, exist_ok=True)
        os.chmod(temp, FILE_MODE)
        await aiofiles.os.replace(temp, target)
        return StoredFile(relative, size, sha256)

    @staticmethod
    def _new_relative_path() -> str:
        name = uuid.uuid4().hex
        return f'{name[:2]}/{name}'


def _last_modified(entry: Path) -> float:
    """The newest modification time of a file, or of a folder and anything in it."""
    try:
        times = [entry.stat().st_mtime, *(child.stat().st_mtime for child in entry.rglob('*'))]
    except FileNotFoundError:  # removed meanwhile by its own process
        return time.time()
    return max(times)


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and size of a file."""
    digest, size = hashlib.sha256(), 0
    with path.open('rb') as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
