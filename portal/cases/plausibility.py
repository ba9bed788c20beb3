"""Is a submitted hash one a real file could have? The rule every entry point applies.

Every path that stores hashes (victim JSON, add-to-case, server-side hashing,
StopNCII `SubmitHashes`, any operator import) goes through
`portal.cases.services.item_validate`, which calls `hash_plausibility_check`
here. The rule does not trust the client's PDQ quality: it reads the hash itself.

The bands, and why (bits set = popcount of the value):

- **PDQ: 112-128 of 256 bits.** PDQ sets a bit where a DCT coefficient is
  *above* the median of the 256 (Meta's pdqhashing, `pdq_hasher`), so at most
  128 bits can be set; more is impossible by construction. Fewer happen only
  when coefficients tie exactly at the median, which takes flat or symmetric
  pictures (a white page: 60, mid-grey: 80). Photos have 128: all 41
  conformance images, and the same images letterboxed, framed in white, shrunk
  to 1/16, re-saved at JPEG quality 5 or turned grey, stay at 120-128.
- **pHash: 4-32 of 64 bits.** The same median split over 64 low DCT
  frequencies (imagehash 4.3.2): at most 32 set. A solid colour sets only the
  DC bit (`8000000000000000`); photos set 32, and 8 at the least in the
  white-framed variants above.
- **dHash: 4-60 of 64 bits.** Neighbour differences have no median: photos
  vary widely (9-50 in the sets above), but all-zero (any solid colour, vertical
  gradients) and all-one (horizontal gradients) and their near neighbours are
  what pictures without detail give.
- **Digests: not of an empty or trivial file** (`TRIVIAL_DIGESTS`: the empty
  file, a lone newline, space or NUL, runs of NUL bytes of common block sizes)
  **and not one repeated hex digit** (`000…0`, `fff…f`: a placeholder, not a
  digest).

What the band cannot catch (a fabricated value with 128 bits set, a picture of
nothing much with a real hash) is left to the benign list (solid colours,
gradients, blank pages: portal/trust) and to platforms' feedback (quarantine).
tests/portal/test_cases_plausibility.py measures the false-refusal rate on the
conformance photos: 0 of 42.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hashing.algorithms import ALGORITHMS

# (fewest, most) bits set that a perceptual hash of a real picture has; see above.
BITS_SET_BANDS: dict[str, tuple[int, int]] = {
    "pdq": (112, 128),
    "phash": (4, 32),
    "dhash": (4, 60),
}

_TRIVIAL_PAYLOADS = [
    b"",
    b"\n",
    b"\r\n",
    b" ",
    b"\x00",
    b"0",
    *(b"\x00" * size for size in (512, 1024, 4096, 65536)),
]


def _digest_set() -> frozenset[tuple[str, str]]:
    found = set()
    for payload in _TRIVIAL_PAYLOADS:
        found.add(("md5", hashlib.md5(payload, usedforsecurity=False).hexdigest()))
        found.add(("sha256", hashlib.sha256(payload).hexdigest()))
    return frozenset(found)


# (algorithm, digest) of files that carry no picture.
TRIVIAL_DIGESTS = _digest_set()


@dataclass(frozen=True)
class Implausible:
    """Why a hash can't come from a real picture; `message` is safe to show a person."""

    code: str
    message: str


def bits_set(value: str) -> int:
    return int(value, 16).bit_count()


def hash_plausibility_check(*, algorithm: str, value: str) -> Implausible | None:
    """None if a real file could have this (well-formed, lower-case hex) hash; else why not."""
    facts = ALGORITHMS[algorithm]
    if facts.perceptual:
        band = BITS_SET_BANDS.get(algorithm)
        if band is None:
            return None
        low, high = band
        count = bits_set(value)
        if not low <= count <= high:
            return Implausible(
                code="implausible_hash",
                message=(
                    f"This {algorithm} hash has {count} of {facts.bits} bits set; hashes of "
                    f"real pictures have {low}-{high}. It was not accepted."
                ),
            )
        return None
    if len(set(value)) == 1 or (algorithm, value) in TRIVIAL_DIGESTS:
        return Implausible(
            code="trivial_file",
            message=(
                f"This {algorithm} digest is of an empty or trivial file, not of a picture. "
                "It was not accepted."
            ),
        )
    return None
