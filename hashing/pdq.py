"""PDQ (256-bit) perceptual hash and quality, exactly as Meta's reference computes it.

The reference is the ``pdqhash`` binding of ThreatExchange's C++ ``pdqhashing.cpp``, run on
the full-resolution pixels (no pre-shrink), which is what python-threatexchange and HMA
compute. ``hashing._fast`` is a faster re-implementation that must stay bit-identical to
it (tests/hashing/test_fast.py checks that on every conformance image); it is used when
available and ``pdqhash`` otherwise.

Bit order (see ../shared/conformance/pdq/README.md): bit k = 16*i + j is set when DCT
coefficient (i, j) is strictly greater than Torben's (lower) median; the hex form prints
bit 255 first, i.e. the hash is the integer sum(bit_k << k) as 64 hex digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from hashing.distance import PDQ_MATCH_THRESHOLD

__all__ = [
    "DIHEDRAL_NAMES",
    "PDQ_MATCH_THRESHOLD",
    "PDQ_QUALITY_FLOOR",
    "PdqHash",
    "pdq_dihedral",
    "pdq_hash",
    "pdq_hash_reference",
]

# ThreatExchange pdq/README.md: "discard hashes with quality 49 or less"; python-threatexchange
# refuses PDQ signals below this quality. Hashes under the floor are too weak to share.
PDQ_QUALITY_FLOOR = 50

# Names of the 8 dihedral variants in pdqhash.compute_dihedral() order. "flipv" mirrors
# top-bottom (upstream's "flipx" file), "fliph" mirrors left-right ("flipy"), and the last two
# are the transpose ("flip-plus-1") and anti-transpose ("flip-minus-1").
DIHEDRAL_NAMES = (
    "orig",
    "rot90",
    "rot180",
    "rot270",
    "flipv",
    "fliph",
    "rot90_flipv",
    "rot90_fliph",
)


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A PDQ hash in wire form (64 lower-case hex digits) with its quality (0-100)."""

    hash: str
    quality: int

    @property
    def is_shareable(self) -> bool:
        return self.quality >= PDQ_QUALITY_FLOOR


def bits_to_hex(bits: npt.ArrayLike) -> str:
    """Convert pdqhash's bit vector (element 0 = bit 255) to the 64-digit hex wire form."""
    array = np.asarray(bits, dtype=np.uint8).reshape(256)
    return np.packbits(array).tobytes().hex()


def _rgb_array_check(image: Image.Image) -> None:
    if image.mode != "RGB":
        raise ValueError("PDQ expects an RGB image; decode it with hashing.decode.open_image()")


def _rgb_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    _rgb_array_check(image)
    return np.asarray(image, dtype=np.uint8)


def pdq_hash_reference(image: Image.Image) -> PdqHash:
    """PDQ through ``pdqhash.compute`` (the reference binding), on full-resolution pixels."""
    bits, quality = pdqhash.compute(_rgb_array(image))
    return PdqHash(bits_to_hex(bits), int(quality))


def pdq_hash(image: Image.Image) -> PdqHash:
    """PDQ hash and quality of an RGB image (fast exact path when available)."""
    from hashing import _fast

    if _fast.AVAILABLE:
        _rgb_array_check(image)
        pdq, quality, _phash, _dhash = _fast.hash_pixels(_fast.pixel_view(image))
        return PdqHash(pdq, quality)
    return pdq_hash_reference(image)


def pdq_dihedral(image: Image.Image) -> tuple[dict[str, str], int]:
    """The 8 dihedral PDQ hashes (keys from ``DIHEDRAL_NAMES``) and the shared quality."""
    hashes, quality = pdqhash.compute_dihedral(_rgb_array(image))
    named = {name: bits_to_hex(bits) for name, bits in zip(DIHEDRAL_NAMES, hashes, strict=True)}
    return named, int(quality)
