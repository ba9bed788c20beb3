"""Streaming MD5/SHA-256 of the original file bytes."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

from hashing.digests import CHUNK_SIZE, file_digests, md5_hex, sha256_hex


def _expected(data: bytes) -> dict[str, str]:
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return {"md5": md5, "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]
)
def test_bytes_path_and_file_object_give_the_same_digests(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    expected = _expected(data)
    assert file_digests(data) == expected
    assert file_digests(bytearray(data)) == expected
    assert file_digests(path) == expected
    assert file_digests(str(path)) == expected
    with path.open("rb") as handle:
        assert file_digests(handle) == expected
    assert md5_hex(data) == expected["md5"]
    assert sha256_hex(data) == expected["sha256"]


def test_file_object_without_readinto_is_supported() -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._stream = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._stream.read(size)

    data = b"x" * (2 * CHUNK_SIZE + 3)
    assert file_digests(ReadOnly(data)) == _expected(data)  # type: ignore[arg-type]


def test_streaming_a_large_file_uses_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.bin"
    with path.open("wb") as handle:
        for block in range(64):
            handle.write(bytes([block]) * CHUNK_SIZE)  # 64 MiB
    tracemalloc.start()
    try:
        file_digests(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK_SIZE
