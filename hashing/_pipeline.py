"""Assemble the hash record from one decode shared by every hash."""

from __future__ import annotations

from typing import Any

from PIL import Image

from hashing import imagehashes
from hashing.decode import open_image
from hashing.digests import file_digests
from hashing.pdq import pdq_hash


def record(digests: dict[str, str], image: Image.Image) -> dict[str, Any]:
    """The result dict for an already decoded RGB image and its file digests."""
    pdq = pdq_hash(image)
    return {
        "media": "image",
        "md5": digests["md5"],
        "sha256": digests["sha256"],
        "pdq": pdq.hash,
        "pdq_quality": pdq.quality,
        "phash": imagehashes.phash(image),
        "dhash": imagehashes.dhash(image),
    }


def hash_in_memory(data: bytes, *, max_pixels: int) -> dict[str, Any]:
    """Hash bytes without touching the file system."""
    digests = file_digests(data)
    image = open_image(data, max_pixels=max_pixels)
    return record(digests, image)
