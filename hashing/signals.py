"""A small registry of hash algorithms sharing one interface.

Modelled on python-threatexchange's ``signal_type``: each algorithm validates/normalises its
wire form, hashes an image (or the file bytes), and compares two hashes into a result
carrying ``match`` and ``distance``. Callers look algorithms up by name in ``ALGORITHMS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from hashing import distance as _distance
from hashing import imagehashes
from hashing.digests import file_digests
from hashing.pdq import pdq_hash


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing two hashes of one algorithm."""

    match: bool
    distance: int


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One hash algorithm: its name, wire form, default threshold and hasher."""

    name: str
    bits: int
    threshold: int
    # Hashes the decoded RGB image (perceptual) or the original bytes (cryptographic).
    _hash_image: Callable[[Image.Image], str] | None = None
    _hash_bytes: Callable[[bytes], str] | None = None

    @property
    def hex_length(self) -> int:
        return _distance.HEX_LENGTHS[self.name]

    @property
    def perceptual(self) -> bool:
        return self._hash_image is not None

    def validate(self, value: object) -> str:
        """Return the value if it is in strict wire form, else raise ``InvalidHash``."""
        return _distance.validate_hex(self.name, value)

    def normalise(self, value: object) -> str:
        """Trim and lower-case a typed hash, then validate it."""
        return _distance.normalise_hex(self.name, value)

    def hash_image(self, image: Image.Image) -> str:
        if self._hash_image is None:
            raise TypeError(f"{self.name} hashes file bytes, not decoded images")
        return self._hash_image(image)

    def hash_bytes(self, data: bytes) -> str:
        if self._hash_bytes is None:
            raise TypeError(f"{self.name} hashes decoded images; decode the bytes first")
        return self._hash_bytes(data)

    def compare(self, first: str, second: str, *, threshold: int | None = None) -> Comparison:
        """Distance between two wire-form hashes and whether it is within the threshold."""
        bits = _distance.distance(self.name, first, second)
        limit = self.threshold if threshold is None else threshold
        return Comparison(match=bits <= limit, distance=bits)


def _pdq_hex(image: Image.Image) -> str:
    return pdq_hash(image).hash


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm("pdq", 256, _distance.PDQ_MATCH_THRESHOLD, _hash_image=_pdq_hex),
        Algorithm("phash", 64, _distance.PHASH_MATCH_THRESHOLD, _hash_image=imagehashes.phash),
        Algorithm("dhash", 64, _distance.DHASH_MATCH_THRESHOLD, _hash_image=imagehashes.dhash),
        Algorithm("ahash", 64, _distance.AHASH_MATCH_THRESHOLD, _hash_image=imagehashes.ahash),
        Algorithm("whash", 64, _distance.WHASH_MATCH_THRESHOLD, _hash_image=imagehashes.whash),
        Algorithm("md5", 128, 0, _hash_bytes=lambda data: file_digests(data)["md5"]),
        Algorithm("sha256", 256, 0, _hash_bytes=lambda data: file_digests(data)["sha256"]),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """Look an algorithm up by name; raises ``KeyError`` with the known names."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"unknown hash algorithm {name!r}; known: {', '.join(ALGORITHMS)}") from None
