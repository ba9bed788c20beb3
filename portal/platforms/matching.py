"""Batch matching of platforms' hashes against the active hash list.

Perceptual hashes (PDQ, pHash, dHash) are matched with the exact Hamming index
of the hashing library (`hashing.index.HashIndex`). One
index per algorithm is kept in each process and brought up to date from the
feed before every batch: rows whose position is newer than the index's are
added (active) or dropped (removed).
This follows the feed's ordering rule (portal/cases/positions.py): read the
head first, then apply rows up to it, so an update never misses a change.
Cryptographic digests (MD5, SHA-256) only match exactly and are looked up in
the database index on (algorithm, value).

Decoys live in their own table and are never in these indexes; a platform's own
decoys are matched for it alone (decoy_view.py), so /match can't tell them apart.
See bench/bench_api_match.py for figures.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from hashing.algorithms import ALGORITHMS, SHARED_ALGORITHMS, SHARED_EXACT, SHARED_PERCEPTUAL
from hashing.distance import MATCH_THRESHOLDS
from hashing.index import HashIndex
from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_head
from portal.exceptions import ApplicationError
from portal.platforms.decoy_view import decoy_matches, decoys_active
from portal.platforms.models import Platform
from portal.platforms.pseudonyms import decoy_disguise, pseudonymous_case_id, pseudonymous_item_id
from portal.platforms.selectors import feedback_counts, no_feedback
from portal.trust.review import flood_record

MAX_MATCH_BATCH = 1_000
# Dihedral variants (rotations/mirrors) the caller may send with a PDQ hash.
MAX_VARIANTS = 7
# The nearest matches returned per query hash; a hash near more than this many
# stored ones is answered with the nearest (and `truncated`).
MAX_MATCHES_PER_HASH = 100

EXACT_ALGORITHMS = frozenset(SHARED_EXACT)
PERCEPTUAL_ALGORITHMS = frozenset(SHARED_PERCEPTUAL)
MATCHABLE_ALGORITHMS = frozenset(SHARED_ALGORITHMS)


@dataclass(frozen=True)
class MatchQuery:
    algorithm: str
    value: str
    # Extra forms of the same picture to try (PDQ dihedral variants), caller-computed.
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchHit:
    algorithm: str
    value: str
    distance: int
    # Which of the query's forms matched (the value itself or one of its variants).
    query_value: str
    seq: int
    media_kind: str
    case_id: str
    item_id: str
    feedback: dict[str, int]
    # A hit on a listed video's vPDQ frame (media_kind "video"): which frame, and when (s).
    frame: int | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class MatchResult:
    query: MatchQuery
    threshold: int
    matches: list[MatchHit] = field(default_factory=list)
    truncated: bool = False


class _LiveIndex:
    """A HashIndex of one algorithm's active hashes and the feed position it reflects."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.lock = threading.Lock()
        self.index = HashIndex(algorithm)
        self.position = 0
        self.database = ""

    def refresh(self, *, head: int) -> HashIndex:
        database = f"{connection.alias}:{connection.settings_dict['NAME']}"
        with self.lock:
            if database != self.database or head < self.position:
                # Another database, or a restored one whose feed went back: start over.
                self.index, self.position, self.database = HashIndex(self.algorithm), 0, database
            if head > self.position and self.position == 0:
                self.index = self._load(head=head)
            elif head > self.position:
                rows = SubmittedHash.objects.filter(
                    algorithm=self.algorithm, feed_seq__gt=self.position, feed_seq__lte=head
                )
                for pk, value, status in rows.values_list("pk", "value", "status").iterator(
                    chunk_size=10_000
                ):
                    if status == SubmittedHash.Status.ACTIVE:
                        self.index.add(pk, value)
                    elif pk in self.index:
                        self.index.remove(pk)
            self.position = max(self.position, head)
            return self.index

    def _load(self, *, head: int) -> HashIndex:
        """A new process's index: every active row up to `head`, built in one go from arrays
        (much faster than adding rows one by one to the multi-index)."""
        rows = SubmittedHash.objects.filter(
            algorithm=self.algorithm, status=SubmittedHash.Status.ACTIVE, feed_seq__lte=head
        ).values_list("pk", "value")
        ids: list[int] = []
        values: list[str] = []
        for pk, value in rows.iterator(chunk_size=10_000):
            ids.append(pk)
            values.append(value)
        width = ALGORITHMS[self.algorithm].bits // 8
        hashes = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8)
        return HashIndex.from_arrays(
            self.algorithm, np.array(ids, dtype=np.int64), hashes.reshape(len(ids), width)
        )


_INDEXES = {algorithm: _LiveIndex(algorithm) for algorithm in PERCEPTUAL_ALGORITHMS}


def match_index_current(*, algorithm: str, head: int | None = None) -> HashIndex:
    """This process's index of `algorithm`'s active hashes, brought up to `head` (default: now)."""
    return _INDEXES[algorithm].refresh(head=feed_head() if head is None else head)


def match_indexes_reset() -> None:
    """Forget the in-process indexes (tests roll the database back under them)."""
    for algorithm in list(_INDEXES):
        _INDEXES[algorithm] = _LiveIndex(algorithm)


def match_threshold(*, algorithm: str, requested: int | None) -> int:
    """The caller's threshold if it is stricter than the algorithm's, else the default."""
    default = MATCH_THRESHOLDS[algorithm]
    if requested is None:
        return default
    if not 0 <= requested <= default:
        raise ApplicationError(
            f"The {algorithm} threshold must be between 0 and {default}.",
            code="bad_threshold",
        )
    return requested


def hashes_match(
    *,
    platform: Platform,
    queries: list[MatchQuery],
    thresholds: dict[str, int] | None = None,
) -> list[MatchResult]:
    """For each query, the active hashes within its algorithm's threshold, nearest first."""
    if len(queries) > MAX_MATCH_BATCH:
        raise ApplicationError(
            f"Send at most {MAX_MATCH_BATCH} hashes per request.", code="batch_too_large"
        )
    thresholds = thresholds or {}
    limits = {
        algorithm: match_threshold(algorithm=algorithm, requested=thresholds.get(algorithm))
        for algorithm in {q.algorithm for q in queries}
    }
    head = feed_head()
    # (query number, stored pk, distance, matched form)
    found: list[list[tuple[int, int, str]]] = [[] for _ in queries]
    truncated = [False] * len(queries)
    exact = [(n, q) for n, q in enumerate(queries) if q.algorithm in EXACT_ALGORITHMS]
    if exact:
        wanted = {(q.algorithm, v) for _, q in exact for v in (q.value, *q.variants)}
        stored: dict[tuple[str, str], list[int]] = {}
        for pk, algorithm, value in SubmittedHash.objects.filter(
            algorithm__in={a for a, _ in wanted},
            value__in={v for _, v in wanted},
            status=SubmittedHash.Status.ACTIVE,
        ).values_list("pk", "algorithm", "value"):
            stored.setdefault((algorithm, value), []).append(pk)
        for n, q in exact:
            for form in (q.value, *q.variants):
                found[n] += [(pk, 0, form) for pk in stored.get((q.algorithm, form), [])]
    for n, q in enumerate(queries):
        if q.algorithm not in PERCEPTUAL_ALGORITHMS:
            continue
        index = match_index_current(algorithm=q.algorithm, head=head)
        best: dict[int, tuple[int, str]] = {}
        for form in (q.value, *q.variants):
            for pk, distance in index.query(form, limits[q.algorithm]):
                if pk not in best or distance < best[pk][0]:
                    best[pk] = (distance, form)
        found[n] = [(pk, d, form) for pk, (d, form) in best.items()]
    for n, hits in enumerate(found):
        hits.sort(key=lambda hit: (hit[1], hit[0]))
        if len(hits) > MAX_MATCHES_PER_HASH:
            found[n], truncated[n] = hits[:MAX_MATCHES_PER_HASH], True
    pks = {pk for hits in found for pk, _, _ in hits}
    # Reload the rows: one may have been removed since the index was refreshed.
    rows = {
        row.pk: row
        for row in SubmittedHash.objects.filter(pk__in=pks, status=SubmittedHash.Status.ACTIVE)
    }
    counts = feedback_counts(hash_ids=list(rows))
    # Flood detection: a hash matching an unusual number of distinct uploads goes
    # to review (portal/trust/review.py); counted in the cache, per day.
    uploads: dict[int, set[str]] = {}
    for n, hits in enumerate(found):
        for pk, _, _ in hits:
            if pk in rows:
                uploads.setdefault(pk, set()).add(queries[n].value)
    if uploads:
        flood_record(platform=platform, hits=uploads)
    decoys = decoys_active(platform=platform, algorithms=set(limits))
    results = []
    for n, query in enumerate(queries):
        match_hits = [
            MatchHit(
                algorithm=rows[pk].algorithm,
                value=rows[pk].value,
                distance=distance,
                query_value=form,
                seq=rows[pk].feed_seq,
                media_kind=rows[pk].media_kind,
                case_id=pseudonymous_case_id(platform=platform, case_id=rows[pk].case_id),
                item_id=pseudonymous_item_id(platform=platform, item_id=str(rows[pk].item_id)),
                feedback=counts.get(pk) or no_feedback(),
                frame=rows[pk].frame,
                timestamp=rows[pk].frame_timestamp,
            )
            for pk, distance, form in found[n]
            if pk in rows
        ]
        # The caller's own decoys match for it, as its real hashes do (decoy_view.py).
        for hit in decoy_matches(
            platform=platform,
            algorithm=query.algorithm,
            forms=(query.value, *query.variants),
            threshold=limits[query.algorithm],
            decoys=decoys[query.algorithm],
        ):
            disguise = decoy_disguise(platform=platform, decoy=hit.decoy)
            match_hits.append(
                MatchHit(
                    algorithm=hit.decoy.algorithm,
                    value=hit.decoy.value,
                    distance=hit.distance,
                    query_value=hit.query_value,
                    seq=hit.decoy.feed_seq,
                    media_kind=hit.decoy.media_kind,
                    case_id=disguise.case_id,
                    item_id=disguise.item_id,
                    feedback=hit.feedback,
                )
            )
        match_hits.sort(key=lambda hit: (hit.distance, hit.seq))
        results.append(
            MatchResult(
                query=query,
                threshold=limits[query.algorithm],
                matches=match_hits,
                truncated=truncated[n],
            )
        )
    return results
