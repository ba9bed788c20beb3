"""MD5 and SHA-256 of a file's exact bytes, streamed in fixed-size chunks (constant memory).

The digests are of the original file bytes, not of decoded pixels: they find exact copies.
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

# 1 MiB: large enough that hashlib (which releases the GIL on big updates) dominates the
# loop overhead, small enough to keep memory flat for files of any size.
CHUNK_SIZE = 1 << 20

DigestSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


def file_digests(source: DigestSource) -> dict[str, str]:
    """Return ``{"md5": ..., "sha256": ...}`` as lower-case hex for bytes, a path or a file.

    A file object is read from its current position to the end and left there.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK_SIZE):
            chunk = view[start : start + CHUNK_SIZE]
            md5.update(chunk)
            sha256.update(chunk)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            _update_from_file(handle, md5, sha256)
    else:
        _update_from_file(source, md5, sha256)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def _update_from_file(handle: BinaryIO, *digests: hashlib._Hash) -> None:
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    readinto = getattr(handle, "readinto", None)
    while True:
        if readinto is not None:
            count = readinto(buffer)
            if not count:
                break
            chunk: memoryview | bytes = view[:count]
        else:
            chunk = handle.read(CHUNK_SIZE)
            if not chunk:
                break
        for digest in digests:
            digest.update(chunk)


def md5_hex(source: DigestSource) -> str:
    """MD5 of ``source`` as 32 lower-case hex digits."""
    return file_digests(source)["md5"]


def sha256_hex(source: DigestSource) -> str:
    """SHA-256 of ``source`` as 64 lower-case hex digits."""
    return file_digests(source)["sha256"]
