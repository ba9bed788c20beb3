"""The hash algorithms Takeback knows: one registry that every list of algorithms derives from.

Each entry states the facts the rest of the project needs: the wire length, the default
match threshold, whether it is perceptual (compared by Hamming distance) or exact (a
digest, equal or not), whether it is stored and shared with platforms, which media kinds
it describes, and its name in the StopNCII-compatible exchange. The model choices, the
API serializers, matching, decoys, the StopNCII mapping and the platform toolkit all read
these facts instead of restating them. This module imports nothing, so anything may
import it.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE = "image"
VIDEO = "video"

# ThreatExchange's recommended PDQ match distance (python-threatexchange
# signal_type/pdq/pdq_utils.py PDQ_CONFIDENT_MATCH_THRESHOLD = 31; the PDQ paper and
# pdq/README.md say "31 or less").
PDQ_MATCH_THRESHOLD = 31

# Matching default for 64-bit pHash. 10 of 64 bits is the figure imagehash's own tests use
# as "the same picture" (a 1 degree rotation changes at most 10 bits). The false-match rate
# we measured on unrelated images is documented in hashing/README.md.
PHASH_MATCH_THRESHOLD = 10

# dHash, aHash and wHash are auxiliary signals only; same 64-bit budget as pHash.
DHASH_MATCH_THRESHOLD = 10
AHASH_MATCH_THRESHOLD = 10
WHASH_MATCH_THRESHOLD = 10


@dataclass(frozen=True, slots=True)
class Algorithm:
    """The facts about one hash algorithm."""

    name: str
    label: str
    bits: int
    # Largest Hamming distance that still counts as a match (0: exact only).
    threshold: int
    # Perceptual hashes are compared by distance; digests only match exactly.
    perceptual: bool
    # Stored with cases and sent to platforms (the others are computed locally only).
    shared: bool
    # Media kinds a shared hash of this algorithm may describe.
    media_kinds: tuple[str, ...] = ()
    # (media kind, StopNCII signal type) pairs this algorithm is exchanged as.
    stopncii_signals: tuple[tuple[str, str], ...] = ()

    @property
    def hex_length(self) -> int:
        return self.bits // 4

    @property
    def exact(self) -> bool:
        return not self.perceptual


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            "pdq",
            "PDQ (256-bit)",
            256,
            PDQ_MATCH_THRESHOLD,
            perceptual=True,
            shared=True,
            media_kinds=(IMAGE,),
            stopncii_signals=((IMAGE, "ImagePDQ"),),
        ),
        Algorithm(
            "phash", "pHash (64-bit)", 64, PHASH_MATCH_THRESHOLD, True, True, media_kinds=(IMAGE,)
        ),
        Algorithm(
            "dhash", "dHash (64-bit)", 64, DHASH_MATCH_THRESHOLD, True, True, media_kinds=(IMAGE,)
        ),
        Algorithm("ahash", "aHash (64-bit)", 64, AHASH_MATCH_THRESHOLD, True, shared=False),
        Algorithm("whash", "wHash (64-bit)", 64, WHASH_MATCH_THRESHOLD, True, shared=False),
        Algorithm(
            "md5",
            "MD5",
            128,
            0,
            perceptual=False,
            shared=True,
            media_kinds=(IMAGE, VIDEO),
            stopncii_signals=((VIDEO, "VideoMD5"),),
        ),
        Algorithm(
            "sha256", "SHA-256", 256, 0, perceptual=False, shared=True, media_kinds=(IMAGE, VIDEO)
        ),
    )
}

# Derived lists, in registry order.
SHARED_ALGORITHMS: tuple[str, ...] = tuple(a.name for a in ALGORITHMS.values() if a.shared)
SHARED_PERCEPTUAL: tuple[str, ...] = tuple(
    a.name for a in ALGORITHMS.values() if a.shared and a.perceptual
)
SHARED_EXACT: tuple[str, ...] = tuple(a.name for a in ALGORITHMS.values() if a.shared and a.exact)
# StopNCII signal type -> (algorithm, media kind).
STOPNCII_SIGNALS: dict[str, tuple[str, str]] = {
    signal: (a.name, media) for a in ALGORITHMS.values() for media, signal in a.stopncii_signals
}


def get_algorithm(name: str) -> Algorithm:
    """Look an algorithm up by name; raises ``KeyError`` with the known names."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"unknown hash algorithm {name!r}; known: {', '.join(ALGORITHMS)}") from None


def stopncii_signal(algorithm: str, media_kind: str) -> str | None:
    """The StopNCII signal type a stored hash is exchanged as, or None if it isn't."""
    return dict(ALGORITHMS[algorithm].stopncii_signals).get(media_kind)
