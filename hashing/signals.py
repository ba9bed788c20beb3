"""One interface over every registered algorithm: validate, hash and compare.

Modelled on python-threatexchange's ``signal_type``: each signal validates/normalises its
wire form, hashes an image (perceptual) or the file bytes (exact), and compares two hashes
into a result carrying ``match`` and ``distance``. The facts (length, threshold, kind)
come from the registry in ``hashing.algorithms``; this module adds only the hashers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from hashing import distance as _distance
from hashing import imagehashes
from hashing.algorithms import ALGORITHMS, Algorithm, get_algorithm
from hashing.digests import file_digests
from hashing.pdq import pdq_hash


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing two hashes of one algorithm."""

    match: bool
    distance: int


@dataclass(frozen=True, slots=True)
class Signal:
    """A registered algorithm with its hasher."""

    algorithm: Algorithm
    # Hashes the decoded RGB image (perceptual) or the original bytes (exact).
    _hash_image: Callable[[Image.Image], str] | None = None
    _hash_bytes: Callable[[bytes], str] | None = None

    @property
    def name(self) -> str:
        return self.algorithm.name

    @property
    def threshold(self) -> int:
        return self.algorithm.threshold

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


def _digest(name: str) -> Callable[[bytes], str]:
    return lambda data: file_digests(data)[name]


_IMAGE_HASHERS: dict[str, Callable[[Image.Image], str]] = {
    "pdq": _pdq_hex,
    "phash": imagehashes.phash,
    "dhash": imagehashes.dhash,
    "ahash": imagehashes.ahash,
    "whash": imagehashes.whash,
}

SIGNALS: dict[str, Signal] = {
    name: Signal(algorithm, _hash_image=_IMAGE_HASHERS[name])
    if algorithm.perceptual
    else Signal(algorithm, _hash_bytes=_digest(name))
    for name, algorithm in ALGORITHMS.items()
}


def get_signal(name: str) -> Signal:
    """The signal of a registered algorithm; raises ``KeyError`` with the known names."""
    return SIGNALS[get_algorithm(name).name]
