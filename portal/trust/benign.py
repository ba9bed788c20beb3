"""The benign list: hashes that must never be shared, and the screen that holds new
submissions near one of them (issue 9).

A file is **held** (stored quarantined, never in any feed, and put in the review
queue) when, against the benign list:

- its PDQ is within the PDQ match threshold (31) of a benign PDQ, or
- its pHash *and* dHash both match benign ones (or the only perceptual hash it
  carries does): the 64-bit hashes alone are weaker, and a white-framed photo can
  have a dHash near 0, so one of them alone does not hold a file that has both, or
- one of its digests is on the list exactly (operators may add digests).

Matching uses the same exact Hamming index as platform matching
(`hashing.index.HashIndex`), one per algorithm, rebuilt in this process whenever the
list changes (its size and newest row tell). No conformance photo is near the seed
list: the nearest is 99 bits away in PDQ (tests/portal/test_trust.py).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max

from hashing.algorithms import ALGORITHMS, SHARED_PERCEPTUAL
from hashing.index import HashIndex
from portal.cases.services import SubmissionScreen
from portal.trust.models import BenignHash, ReviewItem
from portal.trust.queue import reviews_open


@dataclass
class _Indexes:
    version: tuple[object, ...]
    by_algorithm: dict[str, HashIndex]


_lock = threading.Lock()
_current: _Indexes | None = None


def _version() -> tuple[object, ...]:
    found = BenignHash.objects.aggregate(n=Count("pk"), m=Max("pk"), t=Max("created_at"))
    return (found["n"], found["m"] or 0, found["t"], id(connection.settings_dict))


def benign_indexes() -> dict[str, HashIndex]:
    """This process's index of the benign list's perceptual hashes, up to date."""
    global _current
    version = _version()
    with _lock:
        if _current is None or _current.version != version:
            indexes = {algorithm: HashIndex(algorithm) for algorithm in SHARED_PERCEPTUAL}
            for pk, algorithm, value in BenignHash.objects.filter(
                algorithm__in=SHARED_PERCEPTUAL
            ).values_list("pk", "algorithm", "value"):
                indexes[algorithm].add(pk, value)
            _current = _Indexes(version=version, by_algorithm=indexes)
        return _current.by_algorithm


def benign_near(*, algorithm: str, value: str) -> bool:
    """Is this hash within its algorithm's threshold of (or, a digest, equal to) a benign one?"""
    facts = ALGORITHMS[algorithm]
    if facts.exact:
        return BenignHash.objects.filter(algorithm=algorithm, value=value).exists()
    return bool(benign_indexes()[algorithm].query(value, facts.threshold))


def file_is_benign(hashes: dict[str, str]) -> bool:
    """The rule of the module docstring, for the hashes of one file."""
    near = {algorithm: benign_near(algorithm=algorithm, value=v) for algorithm, v in hashes.items()}
    if near.get("pdq"):
        return True
    if any(near[a] for a in hashes if ALGORITHMS[a].exact):
        return True
    if "pdq" in hashes:
        return False
    small = [a for a in ("phash", "dhash") if a in hashes]
    return bool(small) and all(near[a] for a in small)


def _check(rows) -> dict[uuid.UUID, str]:
    files: dict[uuid.UUID, dict[str, str]] = {}
    for row in rows:
        files.setdefault(row.item_id, {})[row.algorithm] = row.value
    return {
        item_id: ReviewItem.Reason.BENIGN
        for item_id, hashes in files.items()
        if file_is_benign(hashes)
    }


def _held(rows, reasons: dict[uuid.UUID, str]) -> None:
    reviews_open(hashes=rows, reason=ReviewItem.Reason.BENIGN, evidence={"benign_list": True})


benign_screen = SubmissionScreen(check=_check, held=_held)
