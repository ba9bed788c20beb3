"""Takeback's framework-free hashing library.

Decodes images with one written policy (``hashing.decode``), computes PDQ (``hashing.pdq``),
pHash/dHash/aHash/wHash (``hashing.imagehashes``) and MD5/SHA-256 of the file bytes
(``hashing.digests``), and compares hashes (the registry ``hashing.algorithms``,
``hashing.distance``, ``hashing.signals``,
``hashing.index``). It never imports Django or any project code.

``hash_image`` and ``hash_bytes`` return the record the CLI prints and the portal stores::

    {"media": "image", "md5", "sha256", "pdq", "pdq_quality", "phash", "dhash"}
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from hashing.decode import DEFAULT_MAX_PIXELS, ImageSource, open_image, rgb_pixels
from hashing.digests import file_digests
from hashing.errors import (
    HashingError,
    ImageTooLarge,
    InvalidHash,
    UnreadableImage,
    UnsupportedFormat,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HashingError",
    "ImageTooLarge",
    "InvalidHash",
    "UnreadableImage",
    "UnsupportedFormat",
    "hash_bytes",
    "hash_image",
    "open_image",
    "rgb_pixels",
    "warm_up",
]

RESULT_KEYS = ("media", "md5", "sha256", "pdq", "pdq_quality", "phash", "dhash")


def hash_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Hash an image held in memory. Nothing is written to disk (server-side hashing path).

    Raises a ``HashingError`` subclass for bytes that are not a decodable image.
    """
    from hashing import _pipeline

    return _pipeline.hash_in_memory(bytes(data), max_pixels=max_pixels)


def hash_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Hash an image given as bytes, a path or a binary file object.

    Digests are of the original file bytes, streamed; perceptual hashes are of the decoded
    image (``hashing.decode.open_image``).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return hash_bytes(bytes(source), max_pixels=max_pixels)
    if isinstance(source, str | os.PathLike):
        digests = file_digests(source)
        image = open_image(source, max_pixels=max_pixels)
        return _record(digests, image)
    return _hash_file_object(source, max_pixels=max_pixels)


def _hash_file_object(handle: BinaryIO, *, max_pixels: int) -> dict[str, Any]:
    if not handle.seekable():
        return hash_bytes(handle.read(), max_pixels=max_pixels)
    start = handle.tell()
    digests = file_digests(handle)
    handle.seek(start)
    image = open_image(handle, max_pixels=max_pixels)
    return _record(digests, image)


def _record(digests: dict[str, str], image: Any) -> dict[str, Any]:
    from hashing import _pipeline

    return _pipeline.record(digests, image)


def warm_up() -> None:
    """Load (or, on a fresh install, compile: ~20 s) the fast kernels now.

    Call it when a worker process starts so the first person's photo is not the one that
    waits. The compiled code is cached on disk next to the package when it is writable.
    """
    import numpy as np

    from hashing import _fast

    if not _fast.AVAILABLE:
        return
    small = np.zeros((64, 80, 4), dtype=np.uint8)
    _fast.hash_pixels(small, threads=1)
    large = np.zeros((1500, 1400, 4), dtype=np.uint8)  # above the parallel threshold
    _fast.hash_pixels(large)
    _fast.hash_pixels(np.zeros((1400, 1500, 4), dtype=np.uint8))  # portrait path
