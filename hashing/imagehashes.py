"""64-bit pHash, dHash, aHash and wHash through the ``imagehash`` library (hash_size 8).

The hex form is imagehash's ``str(hash)``: the 8x8 boolean array flattened row-major, first
element as the most significant bit. These are computed on the RGB image from
``hashing.decode.open_image`` (imagehash then converts it to greyscale itself).
"""

from __future__ import annotations

import imagehash
from PIL import Image

from hashing.distance import PHASH_MATCH_THRESHOLD

__all__ = ["PHASH_MATCH_THRESHOLD", "ahash", "dhash", "phash", "whash"]


def phash(image: Image.Image) -> str:
    """DCT-based perceptual hash, 16 lower-case hex digits."""
    return str(imagehash.phash(image))


def dhash(image: Image.Image) -> str:
    """Horizontal difference hash, 16 lower-case hex digits."""
    return str(imagehash.dhash(image))


def ahash(image: Image.Image) -> str:
    """Average hash, 16 lower-case hex digits."""
    return str(imagehash.average_hash(image))


def whash(image: Image.Image) -> str:
    """Haar wavelet hash, 16 lower-case hex digits."""
    return str(imagehash.whash(image))
