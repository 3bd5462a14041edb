"""The file store keeps every path inside its directory and writes atomically."""

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.storage.files import TEMP_DIR, FileStore, FileTooLarge, UnsafePath


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path / 'storage')
    store.prepare()
    return store


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_streamed_file_gets_generated_name_size_and_sha256(store: FileStore) -> None:
    stored = await store.save_stream(chunks(b'hello ', b'world'))
    assert stored.size == 11
    assert stored.sha256 == hashlib.sha256(b'hello world').hexdigest()
    assert store.path(stored.relative_path).read_bytes() == b'hello world'
    assert 'hello' not in stored.relative_path
    assert store.iter_stored() == [stored.relative_path]


async def test_upload_over_limit_is_rejected_while_streaming_and_leaves_nothing(store: FileStore) -> None:
    consumed = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            consumed.append(1)
            yield b'x' * 1024

    with pytest.raises(FileTooLarge):
        await store.save_stream(endless(), limit=4096)
    assert len(consumed) == 5  # stopped at the first chunk past the limit, not after reading everything
    assert store.iter_stored() == []
    assert list((store.root / TEMP_DIR).iterdir()) == []


@pytest.mark.parametrize('bad', ['../outside.txt', '/etc/passwd', 'aa/../../outside.txt', '', '.'])
def test_paths_outside_the_store_are_refused(store: FileStore, bad: str) -> None:
    with pytest.raises(UnsafePath):
        store.path(bad)


def test_symlink_out_of_the_store_is_refused(store: FileStore, tmp_path: Path) -> None:
    secret = tmp_path / 'secret.txt'
    secret.write_text('top secret')
    (store.root / 'ab').mkdir()
    os.symlink(secret, store.root / 'ab' / 'link')
    with pytest.raises(UnsafePath):
        store.path('ab/link')


def test_prepare_removes_half_written_temp_files(store: FileStore) -> None:
    leftover = store.temp_path()
    leftover.write_bytes(b'half')
    store.prepare()
    assert not leftover.exists()


def test_adopt_moves_a_finished_temp_file_in(store: FileStore) -> None:
    temp = store.temp_path()
    temp.write_bytes(b'report')
    stored = store.adopt(temp)
    assert not temp.exists()
    assert store.path(stored.relative_path).read_bytes() == b'report'
    assert stored.size == 6


def test_a_node_starting_on_a_shared_directory_keeps_other_nodes_temp_files(tmp_path: Path) -> None:
    root = tmp_path / 'shared'
    busy, crashed = FileStore(root, node='node-a'), FileStore(root, node='node-b')
    busy.prepare()
    crashed.prepare()
    upload = busy.temp_path()  # node A is receiving an upload right now
    upload.write_bytes(b'half an upload')
    left_behind = crashed.temp_path()  # node B died a day ago mid-import
    left_behind.write_bytes(b'old')
    day_old = left_behind.stat().st_mtime - 2 * 24 * 3600
    os.utime(left_behind, (day_old, day_old))
    os.utime(left_behind.parent, (day_old, day_old))
    FileStore(root, node='node-c').prepare()  # a third node starts
    assert upload.read_bytes() == b'half an upload'
    assert not left_behind.parent.exists()
