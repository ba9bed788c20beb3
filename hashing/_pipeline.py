"""Assemble the hash record from one decode shared by every hash.

The fast exact path (``hashing._fast``) computes PDQ, pHash and dHash in one fused pass
over the decoded pixels, read in place; the digests of the bytes run on a helper thread
while the image decodes (hashlib and Pillow both release the GIL).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from hashing import _fast, imagehashes
from hashing.decode import open_image
from hashing.digests import file_digests
from hashing.pdq import pdq_hash_reference

_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _digest_pool() -> ThreadPoolExecutor:
    """A small per-process pool; a forked child (gunicorn, Celery) makes its own, since the
    parent's worker threads do not exist in the child."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(2, thread_name_prefix="hashing-digests"))
        return _pool[1]


def perceptual_hashes(image: Image.Image, *, threads: int | None = None) -> dict[str, Any]:
    """PDQ (+quality), pHash and dHash of a decoded RGB image."""
    if _fast.AVAILABLE:
        pdq, quality, phash, dhash = _fast.hash_pixels(_fast.pixel_view(image), threads=threads)
        return {"pdq": pdq, "pdq_quality": quality, "phash": phash, "dhash": dhash}
    reference = pdq_hash_reference(image)
    return {
        "pdq": reference.hash,
        "pdq_quality": reference.quality,
        "phash": imagehashes.phash(image),
        "dhash": imagehashes.dhash(image),
    }


def record(
    digests: dict[str, str], image: Image.Image, *, threads: int | None = None
) -> dict[str, Any]:
    """The result dict for an already decoded RGB image and its file digests."""
    return {
        "media": "image",
        "md5": digests["md5"],
        "sha256": digests["sha256"],
        **perceptual_hashes(image, threads=threads),
    }


def hash_in_memory(data: bytes, *, max_pixels: int, threads: int | None = None) -> dict[str, Any]:
    """Hash bytes without touching the file system (digests overlap the decode)."""
    digests = _digest_pool().submit(file_digests, data)
    try:
        image = open_image(data, max_pixels=max_pixels)
    finally:
        # Wait either way, so no worker thread outlives the call holding the bytes.
        digest_values = digests.result()
    return record(digest_values, image, threads=threads)
