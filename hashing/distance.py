"""Wire-form validation, Hamming distance and match thresholds for every algorithm.

The wire form of every hash is lower-case hexadecimal with a fixed length per algorithm,
checked with a strict pattern at every boundary (python-threatexchange's
``validate_signal_str`` habit). ``normalise_hex`` accepts surrounding whitespace and
upper-case digits from people typing or pasting hashes and returns the wire form.
"""

from __future__ import annotations

import re

from hashing.algorithms import (
    AHASH_MATCH_THRESHOLD,
    ALGORITHMS,
    DHASH_MATCH_THRESHOLD,
    PDQ_MATCH_THRESHOLD,
    PHASH_MATCH_THRESHOLD,
    WHASH_MATCH_THRESHOLD,
)
from hashing.errors import InvalidHash

# Number of hex digits per algorithm, and default match thresholds (from the registry).
HEX_LENGTHS: dict[str, int] = {name: a.hex_length for name, a in ALGORITHMS.items()}

HEX_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"\A[0-9a-f]{{{length}}}\Z") for name, length in HEX_LENGTHS.items()
}

MATCH_THRESHOLDS: dict[str, int] = {name: a.threshold for name, a in ALGORITHMS.items()}

__all__ = [
    "AHASH_MATCH_THRESHOLD",
    "DHASH_MATCH_THRESHOLD",
    "HEX_LENGTHS",
    "MATCH_THRESHOLDS",
    "PDQ_MATCH_THRESHOLD",
    "PHASH_MATCH_THRESHOLD",
    "WHASH_MATCH_THRESHOLD",
    "InvalidHash",
    "bit_count",
    "distance",
    "hamming_distance",
    "is_match",
    "is_valid_hex",
    "normalise_hex",
    "validate_hex",
]


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in HEX_PATTERNS:
        raise ValueError(f"unknown hash algorithm {algorithm!r}")


def is_valid_hex(algorithm: str, value: object) -> bool:
    """True if ``value`` is already in the strict wire form of ``algorithm``."""
    _check_algorithm(algorithm)
    return isinstance(value, str) and HEX_PATTERNS[algorithm].match(value) is not None


def validate_hex(algorithm: str, value: object) -> str:
    """Return ``value`` unchanged if it is in the strict wire form, else raise ``InvalidHash``."""
    if not is_valid_hex(algorithm, value):
        raise InvalidHash(
            f"A {algorithm} hash must be exactly {HEX_LENGTHS[algorithm]} "
            "lower-case hexadecimal digits (0-9, a-f)."
        )
    assert isinstance(value, str)
    return value


def normalise_hex(algorithm: str, value: object) -> str:
    """Trim and lower-case a hash typed by a person, then validate it strictly."""
    _check_algorithm(algorithm)
    if not isinstance(value, str):
        raise InvalidHash(f"A {algorithm} hash must be text.")
    return validate_hex(algorithm, value.strip().lower())


def hamming_distance(first: str, second: str) -> int:
    """Number of differing bits between two hex strings of the same length."""
    if len(first) != len(second):
        raise InvalidHash("Cannot compare hashes of different lengths.")
    try:
        return (int(first, 16) ^ int(second, 16)).bit_count()
    except ValueError as exc:
        raise InvalidHash("A hash must be hexadecimal.") from exc


def distance(algorithm: str, first: str, second: str) -> int:
    """Validated Hamming distance between two wire-form hashes of ``algorithm``."""
    return hamming_distance(validate_hex(algorithm, first), validate_hex(algorithm, second))


def is_match(algorithm: str, first: str, second: str, *, threshold: int | None = None) -> bool:
    """True if the two hashes are within ``threshold`` bits (default: the algorithm's)."""
    limit = MATCH_THRESHOLDS[algorithm] if threshold is None else threshold
    return distance(algorithm, first, second) <= limit


def bit_count(value: str) -> int:
    """Number of set bits of a hex hash (a normal PDQ hash has exactly 128)."""
    return int(value, 16).bit_count()
