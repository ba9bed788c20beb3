"""Leak tracing: a few fake hashes in each platform's feed, unique to that platform.

Each platform's feed and snapshot carry its own decoys, shaped like real
entries. They come from no image, so they match nothing a user uploads, and
match never returns them (they live in their own table, outside the match
index). A hash list found in the wild that contains some of a platform's
decoys was copied from that platform's feed: `decoys_trace` tells operators
which (admin: Platforms → "Trace a leaked hash list").

Values are derived from the platform's secret pseudonym salt, so they are
deterministic per platform yet unpredictable to anyone else, and look like
real hashes: a perceptual decoy has exactly half its bits set (128 of 256 for
PDQ, 32 of 64 for pHash/dHash), as median-thresholded perceptual hashes do.
They come as whole files (`DECOY_FILES`: every shared hash of a photo, the digests
of a video) of one fake case, as a real submission does (pseudonyms.decoy_disguise);
how else a platform sees them is in decoy_view.py.

Decoys take feed positions like every other feed writer, so the feed's
listeners (webhooks) hear of them the same way (portal/cases/positions.py).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from dataclasses import dataclass

from django.db import transaction

from hashing.algorithms import ALGORITHMS, IMAGE, SHARED_ALGORITHMS, VIDEO
from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_positions_allocate
from portal.platforms.matching import match_index_current
from portal.platforms.models import Decoy, Platform

# The fake files every platform's feed carries, shaped as real ones (issue 9: a decoy
# alone in its file, when real files carry every hash of the browser, gave it away):
# two photos with every shared image hash and a video with its digests, in the
# registry's order, at consecutive positions like a real submission.
DECOY_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    *[(IMAGE, tuple(a for a in SHARED_ALGORITHMS if IMAGE in ALGORITHMS[a].media_kinds))] * 2,
    (VIDEO, tuple(a for a in SHARED_ALGORITHMS if VIDEO in ALGORITHMS[a].media_kinds)),
)
# How many decoys of each shared algorithm that makes.
DECOYS_PER_ALGORITHM = {
    name: sum(name in algorithms for _, algorithms in DECOY_FILES) for name in SHARED_ALGORITHMS
}
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{16,64}")


def _seed(*, platform: Platform, algorithm: str, counter: int) -> bytes:
    message = f"decoy:{algorithm}:{counter}".encode()
    return hmac.new(platform.pseudonym_salt.encode(), message, hashlib.sha256).digest()


def decoy_value(*, platform: Platform, algorithm: str, counter: int) -> str:
    """The `counter`-th candidate decoy of `algorithm` for `platform` (deterministic)."""
    if algorithm not in DECOYS_PER_ALGORITHM:
        raise ValueError(f"no decoys for {algorithm!r}")
    seed = _seed(platform=platform, algorithm=algorithm, counter=counter)
    facts = ALGORITHMS[algorithm]
    if facts.perceptual:
        rng = random.Random(seed)
        number = sum(1 << bit for bit in rng.sample(range(facts.bits), facts.bits // 2))
        return f"{number:0{facts.hex_length}x}"
    # A digest: hash the seed once more, so the value is not the seed itself.
    return hashlib.sha256(seed).hexdigest()[: facts.hex_length]


def _matches_real(*, algorithm: str, value: str) -> bool:
    """Would this value match a stored hash (any status)? Then it can't be a decoy."""
    facts = ALGORITHMS[algorithm]
    if facts.exact:
        return SubmittedHash.objects.filter(algorithm=algorithm, value=value).exists()
    return bool(match_index_current(algorithm=algorithm).query(value, facts.threshold))


@transaction.atomic
def decoys_create(*, platform: Platform) -> list[Decoy]:
    """Give `platform` its decoys (the missing ones), each at a new feed position."""
    # Decoys it already has (e.g. of an older layout) count against the files.
    have: dict[str, int] = {}
    for algorithm in Decoy.objects.filter(platform=platform).values_list("algorithm", flat=True):
        have[algorithm] = have.get(algorithm, 0) + 1
    rows: list[Decoy] = []
    taken = set(Decoy.objects.values_list("value", flat=True))
    counters: dict[str, int] = {}
    for media_kind, algorithms in DECOY_FILES:
        for algorithm in algorithms:
            if have.get(algorithm, 0) > 0:
                have[algorithm] -= 1
                continue
            while True:
                counter = counters.get(algorithm, 0)
                counters[algorithm] = counter + 1
                value = decoy_value(platform=platform, algorithm=algorithm, counter=counter)
                if value not in taken and not _matches_real(algorithm=algorithm, value=value):
                    break
            taken.add(value)
            quality = None
            if algorithm == SubmittedHash.Algorithm.PDQ:
                quality = 70 + _seed(platform=platform, algorithm="q", counter=counter + 1)[0] % 31
            rows.append(
                Decoy(
                    platform=platform,
                    algorithm=algorithm,
                    value=value,
                    quality=quality,
                    media_kind=media_kind,
                )
            )
    if not rows:
        return []
    # Positions from the shared counter: decoys sit among real entries in the feed.
    for row, seq in zip(rows, feed_positions_allocate(count=len(rows)), strict=True):
        row.feed_seq = seq
    return Decoy.objects.bulk_create(rows)


@dataclass(frozen=True)
class DecoyTrace:
    """One platform whose decoys appear in a found hash list."""

    platform: Platform
    found: int
    total: int
    values: list[str]


def decoys_trace(*, text: str) -> tuple[int, list[DecoyTrace]]:
    """Which platforms' decoys a pasted hash list contains, most found first.

    Accepts any text (CSV, JSON, one hash a line): every run of 16-64 hex digits
    is read as a hash. Returns the number of hashes read and the traces.
    """
    values = {token.lower() for token in _HEX_TOKEN.findall(text)}
    found: dict[int, list[str]] = {}
    for platform_id, value in Decoy.objects.filter(value__in=values).values_list(
        "platform_id", "value"
    ):
        found.setdefault(platform_id, []).append(value)
    platforms = Platform.objects.in_bulk(list(found))
    traces = [
        DecoyTrace(
            platform=platforms[pk],
            found=len(hits),
            total=Decoy.objects.filter(platform_id=pk).count(),
            values=sorted(hits),
        )
        for pk, hits in found.items()
    ]
    traces.sort(key=lambda trace: (-trace.found, trace.platform.name))
    return len(values), traces
